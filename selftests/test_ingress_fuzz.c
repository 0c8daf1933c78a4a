// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A mutated-packet campaign against the XDP ingress program through
 * BPF_PROG_TEST_RUN: packets derived from valid sealed packets (bit flips,
 * byte overwrites, truncation, extension, header splices between streams,
 * replays) with three properties checked on every one:
 *   - a packet the program opens was authentic: the reference opens the same
 *     bytes to the same plaintext, and its (stream, key id, pn) is new;
 *   - a packet passed unchanged is not GEM's to judge (not IP, not to a
 *     protected group, or IGMP/ICMPv6 to one);
 *   - the counters add up to the packets sent.
 * GEM_INGRESS_FUZZ=N sets the number of packets (default 100000; the figure
 * in docs/SECURITY.md comes from a 1,000,000-packet run).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>

#include "gem.skel.h"
#include "gem_dp.h"
#include "gem_pin.h"
#include "gem_pkt.h"
#include "gem_ref.h"

#define POOL 64
#define FRAME 2048

static const struct gem_ref_keys K = {
	.sek = { 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
		 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf },
	.mac_key = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
		     17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 },
	.cmac_key = { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4 },
};

/* Three protected streams, one per suite; groups 239.1.1.{1,2} and ff3e::1:3. */
static const struct {
	int family;
	const char *src, *grp;
	unsigned suite;
} streams[] = {
	{ AF_INET, "10.0.0.1", "239.1.1.1", 1 },
	{ AF_INET, "10.0.0.2", "239.1.1.2", 2 },
	{ AF_INET6, "fd00::1", "ff3e::1:3", 3 },
};

static struct gem_bpf *skel;
static uint8_t pool[POOL][FRAME];
static size_t pool_len[POOL];
static struct gem_addr groups[3];

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Opened (stream, key id, pn) so far: pn are unique across the pool. */
static uint8_t seen[POOL * 4];

static int protected_group(const uint8_t *f, size_t len, int *control)
{
	struct gem_addr g = { { 0 } };
	uint16_t et;

	*control = 0;
	if (len < 14)
		return 0;
	et = (uint16_t)(f[12] << 8 | f[13]);
	if (et == ETH_P_IP) {
		if (len < 14 + 20)
			return 0;
		g.a[10] = g.a[11] = 0xff;
		memcpy(&g.a[12], f + 14 + 16, 4);
		*control = f[14 + 9] == 2;			/* IGMP */
	} else if (et == ETH_P_IPV6) {
		if (len < 14 + 40)
			return 0;
		memcpy(g.a, f + 14 + 24, 16);
		*control = f[14 + 6] == 58 ||			/* ICMPv6 */
			   (f[14 + 6] == 0 && len > 54 && f[54] == 58);	/* MLD */
	} else {
		return 0;
	}
	for (int i = 0; i < 3; i++)
		if (!memcmp(&g, &groups[i], sizeof(g)))
			return 1;
	return 0;
}

static __u64 rx_total(void)
{
	int fd = bpf_map__fd(skel->maps.gem_counters);
	unsigned long long v, sum = 0;

	for (unsigned i = GEM_C_RX_OPENED; i <= GEM_C_RX_ERROR; i++) {
		cr_assert_eq(gem_counter_read(fd, i, &v), 0);
		sum += v;
	}
	return sum;
}

Test(ingress_fuzz, mutated_packets_never_open_unless_authentic, .timeout = 600)
{
	uint8_t in[FRAME], out[FRAME], ref[FRAME], l3[FRAME], sealed[FRAME], pl[1500];
	long n = getenv("GEM_INGRESS_FUZZ") ? atol(getenv("GEM_INGRESS_FUZZ")) : 100000;
	long opened = 0, passed = 0, dropped = 0;
	int ctl, xfd;
	__u64 base;

	cr_assert_eq(geteuid(), 0, "needs root");
	cr_assert_eq(unshare(CLONE_NEWNET), 0);
	skel = gem_bpf__open_and_load();
	cr_assert_not_null(skel);
	ctl = bpf_program__fd(skel->progs.gem_ctl);
	xfd = bpf_program__fd(skel->progs.gem_ingress);

	for (int i = 0; i < 3; i++) {
		union { struct in_addr v4; struct in6_addr v6; } s, g;
		struct gem_sg sg;
		int r;

		inet_pton(streams[i].family, streams[i].src, &s);
		inet_pton(streams[i].family, streams[i].grp, &g);
		gem_addr_from(&sg.src, streams[i].family, &s);
		gem_addr_from(&sg.grp, streams[i].family, &g);
		groups[i] = sg.grp;
		r = streams[i].suite == 1 ? gem_dp_set_group(ctl, &sg.grp, 1, K.mac_key, 32) :
		    streams[i].suite == 2 ? gem_dp_set_group(ctl, &sg.grp, 2, K.cmac_key, 16) :
		    gem_dp_set_group(ctl, &sg.grp, 3, NULL, 0);
		cr_assert_eq(r, 0);
		cr_assert_eq(gem_dp_set_sek(ctl, &sg, 0, 7, K.sek), 0);
		/* pool: sealed by the reference, pn = pool index */
		for (int p = i; p < POOL; p += 3) {
			size_t len = rnd() % 200 + (p == i ? 0 : 1), ll, sl;

			for (size_t b = 0; b < len; b++)
				pl[b] = (uint8_t)rnd();
			cr_assert_eq(gem_pkt_build_udp(streams[i].family, &s, &g, 4000, 4001, pl, len,
						       64, l3, sizeof(l3), &ll), 0);
			cr_assert_eq(gem_ref_seal(l3, ll, sealed, sizeof(sealed), &sl,
						  streams[i].suite, 7, (uint64_t)p, &K), 0);
			memcpy(pool[p], "\x01\x00\x5e\x01\x01\x01\x02\x00\x00\x00\x00\x01", 12);
			pool[p][12] = streams[i].family == AF_INET ? 0x08 : 0x86;
			pool[p][13] = streams[i].family == AF_INET ? 0x00 : 0xdd;
			memcpy(pool[p] + 14, sealed, sl);
			pool_len[p] = sl + 14;
		}
	}
	base = rx_total();

	for (long it = 0; it < n; it++) {
		int p = (int)(rnd() % POOL), ctlproto, r;
		size_t len = pool_len[p], on = sizeof(out), rn;
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_out = out,
			    .data_size_out = sizeof(out), .repeat = 1);

		memcpy(in, pool[p], len);
		switch (rnd() % 8) {
		case 0: case 1: case 2: {	/* 1-3 bit flips anywhere */
			int k = (int)(rnd() % 3) + 1;

			while (k--)
				in[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
			break;
		}
		case 3:				/* random byte */
			in[rnd() % len] = (uint8_t)rnd();
			break;
		case 4:				/* truncate */
			len = 14 + rnd() % (len - 13);
			break;
		case 5: {			/* extend with junk */
			size_t e = rnd() % 64 + 1;

			for (size_t b = 0; b < e; b++)
				in[len + b] = (uint8_t)rnd();
			len += e;
			break;
		}
		case 6: {			/* splice: headers of one, body of another */
			int q = (int)(rnd() % POOL);
			size_t cut = 14 + rnd() % 60;

			if (pool_len[q] > cut) {
				memcpy(in + cut, pool[q] + cut, pool_len[q] - cut);
				len = pool_len[q];
			}
			break;
		}
		default:			/* as is: the first opens, the rest are replays */
			break;
		}
		o.data_size_in = (__u32)len;
		cr_assert_eq(bpf_prog_test_run_opts(xfd, &o), 0);
		r = (int)o.retval;
		on = o.data_size_out;
		if (r == XDP_DROP) {
			dropped++;
			continue;
		}
		cr_assert_eq(r, XDP_PASS, "verdict %d", r);
		if (on == len && !memcmp(out, in, len)) {
			/* passed untouched: must not be a protected group's data */
			int prot = protected_group(in, len, &ctlproto);

			cr_assert(!prot || ctlproto, "iteration %ld: protected packet passed unverified", it);
			passed++;
			continue;
		}
		/* opened: authentic and fresh */
		{
			unsigned su;
			uint16_t kid;
			uint64_t pn;
			/* the data plane goes by the IP length and cuts link-layer
			 * trailer bytes; the reference takes exactly the IP packet */
			size_t ipl = len - 14;
			int e;

			if (in[12] == 0x08 && ipl >= 4)
				ipl = (size_t)(in[16] << 8 | in[17]);
			else if (in[12] == 0x86 && ipl >= 6)
				ipl = 40 + (size_t)(in[18] << 8 | in[19]);
			cr_assert_leq(ipl, len - 14, "iteration %ld: opened a packet shorter than its IP length", it);
			e = gem_ref_open(in + 14, ipl, ref, sizeof(ref), &rn, &K, &su, &kid, &pn);

			cr_assert_eq(e, 0, "iteration %ld: ingress opened a packet the reference rejects (%d)",
				     it, e);
			cr_assert_eq(on, rn + 14);
			cr_assert_eq(memcmp(out + 14, ref, rn), 0, "iteration %ld: plaintext differs", it);
			cr_assert_lt(pn, (uint64_t)POOL);
			cr_assert_eq(seen[pn], 0, "iteration %ld: pn %llu opened twice", it,
				     (unsigned long long)pn);
			seen[pn] = 1;
			opened++;
		}
	}
	cr_assert_eq(rx_total() - base, (__u64)n, "counters: %llu for %ld packets",
		     (unsigned long long)(rx_total() - base), n);
	cr_assert_gt(opened, 0);
	cr_assert_gt(dropped, 0);
	printf("ingress fuzz: %ld packets: %ld opened (authentic, fresh), %ld passed untouched "
	       "(not protected), %ld dropped; counters add up\n", n, opened, passed, dropped);
	gem_bpf__destroy(skel);
}
