// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The BPF data plane (gem_egress, gem_ingress, gem_ctl) driven through
 * BPF_PROG_TEST_RUN and checked byte for byte against the OpenSSL reference
 * (lib/gem_ref.c) and the vectors of docs/PROTOCOL.md.  Every test runs in
 * its own process and network namespace (lo at MTU 1500: the egress MTU
 * rule is tested against a real device).  Needs root.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <openssl/evp.h>

#include "gem.skel.h"
#include "gem_test_nokf.skel.h"
#include "gem_dp.h"
#include "gem_pkt.h"
#include "gem_ref.h"
#include "gem_vectors.h"
#include "keys/gem_keys.h"

#define FRAME_MAX 4096

static struct gem_bpf *skel;
static int ctl_fd, eg_fd, in_fd;

static const struct gem_ref_keys K = {
	.sek = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
		 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff },
	.mac_key = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
		     17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 },
	.cmac_key = { 0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
		      0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c },
	.sek256 = { 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a,
		    0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95,
		    0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f },
};

struct stream {
	int family;
	union { struct in_addr v4; struct in6_addr v6; } src, grp;
	struct gem_sg sg;
};

static void mkstream(struct stream *s, int family, const char *src, const char *grp)
{
	memset(s, 0, sizeof(*s));
	s->family = family;
	cr_assert_eq(inet_pton(family, src, &s->src), 1);
	cr_assert_eq(inet_pton(family, grp, &s->grp), 1);
	gem_addr_from(&s->sg.src, family, &s->src);
	gem_addr_from(&s->sg.grp, family, &s->grp);
}

/* The tests' usual stream of a family. */
static void mkstream_default(struct stream *s, int family)
{
	if (family == AF_INET)
		mkstream(s, AF_INET, "10.0.0.1", "239.1.1.1");
	else
		mkstream(s, AF_INET6, "fd00::1", "ff3e::1:1");
}

static void setup(void)
{
	cr_assert_eq(geteuid(), 0, "the data-plane tests need root (BPF)");
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	cr_assert_eq(system("ip link set lo mtu 1500 up"), 0);
	skel = gem_bpf__open_and_load();
	cr_assert_not_null(skel, "loading gem.bpf.o failed (run as root on a kernel with BPF crypto kfuncs)");
	ctl_fd = bpf_program__fd(skel->progs.gem_ctl);
	eg_fd = bpf_program__fd(skel->progs.gem_egress);
	in_fd = bpf_program__fd(skel->progs.gem_ingress);
}

static void teardown(void)
{
	gem_bpf__destroy(skel);
}

/* A fresh data plane (maps and programs), as after gem-load unload + attach. */
static void reload_skel(void)
{
	teardown();
	skel = gem_bpf__open_and_load();
	cr_assert_not_null(skel);
	ctl_fd = bpf_program__fd(skel->progs.gem_ctl);
	eg_fd = bpf_program__fd(skel->progs.gem_egress);
	in_fd = bpf_program__fd(skel->progs.gem_ingress);
}

TestSuite(dataplane, .init = setup, .fini = teardown, .timeout = 120);

/* ---- helpers ---------------------------------------------------------------- */

static int set_group_key(int fd, const struct gem_addr *grp, unsigned suite,
			 const struct gem_ref_keys *k)
{
	switch (suite) {
	case GEM_SUITE_HMAC_SHA256: return gem_dp_set_group(fd, grp, suite, k->mac_key, 32);
	case GEM_SUITE_CMAC: return gem_dp_set_group(fd, grp, suite, k->cmac_key, 16);
	}
	return gem_dp_set_group(fd, grp, suite, NULL, 0);
}

static void set_group(const struct stream *s, unsigned suite)
{
	int r = set_group_key(ctl_fd, &s->sg.grp, suite, &K);
	cr_assert_eq(r, 0, "set group: %d", r);
}

/* The SEK of K for a suite: 32 bytes for suite 4, else 16. */
static const uint8_t *sek_of(const struct gem_ref_keys *k, unsigned suite)
{
	return suite == GEM_SUITE_CHACHA20_POLY1305 ? k->sek256 : k->sek;
}

static void set_keys(const struct stream *s, unsigned suite, uint16_t kid)
{
	size_t l = gem_suite_sek_len(suite);

	set_group(s, suite);
	cr_assert_eq(gem_dp_set_sek_len(ctl_fd, &s->sg, 1, kid, sek_of(&K, suite), l), 0);
	cr_assert_eq(gem_dp_set_sek_len(ctl_fd, &s->sg, 0, kid, sek_of(&K, suite), l), 0);
}

/* Ethernet frame around an L3 packet. */
static size_t frame(uint8_t *f, const uint8_t *l3, size_t len)
{
	static const uint8_t mac[12] = { 0x01, 0x00, 0x5e, 0x01, 0x01, 0x01,
					 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	uint16_t proto = htons((l3[0] >> 4) == 4 ? ETH_P_IP : ETH_P_IPV6);

	memcpy(f, mac, 12);
	memcpy(f + 12, &proto, 2);
	memcpy(f + 14, l3, len);
	return len + 14;
}

static size_t udp_frame(uint8_t *f, const struct stream *s, const uint8_t *pl, size_t len)
{
	uint8_t l3[FRAME_MAX];
	size_t n;

	cr_assert_eq(gem_pkt_build_udp(s->family, &s->src, &s->grp, 5001, 5002,
				       pl, len, 8, l3, sizeof(l3), &n), 0);
	return frame(f, l3, n);
}

static int run(int fd, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = len,
		    .data_out = out, .data_size_out = FRAME_MAX, .repeat = 1);

	cr_assert_eq(bpf_prog_test_run_opts(fd, &o), 0, "test_run: %s", strerror(errno));
	*out_len = o.data_size_out;
	return (int)o.retval;
}

static __u64 counter(enum gem_counter c)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 v[ncpu], sum = 0;
	__u32 k = c;

	cr_assert_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.gem_counters), &k, v), 0);
	for (int i = 0; i < ncpu; i++)
		sum += v[i];
	return sum;
}

/* Make the egress stream's next packet number pn (test only: a real stream
 * never goes back). */
static void set_next_pn(const struct stream *s, __u64 pn)
{
	struct gem_tx_stream v;
	int fd = bpf_map__fd(skel->maps.gem_tx);

	cr_assert_eq(bpf_map_lookup_elem_flags(fd, &s->sg, &v, BPF_F_LOCK), 0);
	v.next_pn = pn;
	cr_assert_eq(bpf_map_update_elem(fd, &s->sg, &v, BPF_F_LOCK | BPF_EXIST), 0);
}

/* The egress stream's next packet number (a new stream starts at the clock). */
static __u64 tx_next_pn(const struct stream *s)
{
	struct gem_tx_stream v;

	cr_assert_eq(bpf_map_lookup_elem_flags(bpf_map__fd(skel->maps.gem_tx), &s->sg, &v,
					       BPF_F_LOCK), 0);
	return v.next_pn;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seed);
}

/* Seal one packet with egress and check it against the reference, then
 * open it with ingress and check the original comes back. */
static void roundtrip(const struct stream *s, unsigned suite, uint16_t kid, uint64_t pn,
		      size_t L, int ingress)
{
	uint8_t pl[2048], in[FRAME_MAX], out[FRAME_MAX], ref[FRAME_MAX], back[FRAME_MAX];
	size_t n, on, rn, bn;
	int r;

	fill(pl, L, (unsigned)L);
	n = udp_frame(in, s, pl, L);
	r = run(eg_fd, in, n, out, &on);
	cr_assert_eq(r, TC_ACT_OK, "egress verdict %d, L=%zu suite=%u", r, L, suite);
	cr_assert_eq(gem_ref_seal(in + 14, n - 14, ref, sizeof(ref), &rn, suite, kid, pn, &K), 0);
	cr_assert_eq(on, rn + 14, "sealed length %zu, reference %zu (L=%zu)", on - 14, rn, L);
	cr_assert_eq(memcmp(out, in, 14), 0);
	cr_assert_eq(memcmp(out + 14, ref, rn), 0, "egress differs from reference, L=%zu suite=%u fam=%d",
		     L, suite, s->family);
	cr_assert_eq(gem_pkt_udp_csum_ok(out + 14, on - 14), 1, "sealed checksum, L=%zu", L);
	if (!ingress)
		return;
	r = run(in_fd, out, on, back, &bn);
	cr_assert_eq(r, XDP_PASS, "ingress verdict %d, L=%zu suite=%u", r, L, suite);
	cr_assert_eq(bn, n, "restored length %zu, original %zu", bn, n);
	cr_assert_eq(memcmp(back, in, n), 0, "restored packet differs, L=%zu suite=%u", L, suite);
	cr_assert_eq(gem_pkt_udp_csum_ok(back + 14, bn - 14), 1);
}

/* ---- tests ---------------------------------------------------------------------- */

Test(dataplane, vectors_egress_and_ingress)
{
	uint8_t in[FRAME_MAX], out[FRAME_MAX], back[FRAME_MAX];
	size_t n, on, bn;

	for (size_t i = 0; i < gem_n_vectors; i++) {
		const struct gem_vector *v = &gem_vectors[i];
		struct gem_pkt_info pi;
		struct stream s = { .family = v->family };

		reload_skel();	/* fresh maps per vector: vectors share streams */

		cr_assert_eq(gem_pkt_parse(v->input, v->input_len, &pi), 0);
		s.sg.src = pi.src;
		s.sg.grp = pi.grp;
		if (v->gak) {
			/* from the GAK, as gemctl group add --key-file does */
			struct gem_ref_keys k = v->keys;
			uint8_t *mk = v->suite == GEM_SUITE_CMAC ? k.cmac_key : k.mac_key;

			memset(mk, 0, gem_suite_key_len(v->suite));
			cr_assert_eq(gem_keys_dp_key_from_gak(v->gak, s.sg.grp.a, v->epoch, v->suite,
							      mk, gem_suite_key_len(v->suite)), 0);
			cr_assert_eq(set_group_key(ctl_fd, &s.sg.grp, v->suite, &k), 0);
		} else {
			cr_assert_eq(set_group_key(ctl_fd, &s.sg.grp, v->suite, &v->keys), 0);
		}
		cr_assert_eq(gem_dp_set_sek_len(ctl_fd, &s.sg, 1, v->key_id, sek_of(&v->keys, v->suite),
						gem_suite_sek_len(v->suite)), 0);
		cr_assert_eq(gem_dp_set_sek_len(ctl_fd, &s.sg, 0, v->key_id, sek_of(&v->keys, v->suite),
						gem_suite_sek_len(v->suite)), 0);
		set_next_pn(&s, v->pn);

		n = frame(in, v->input, v->input_len);
		cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_OK, "vector %s", v->name);
		cr_assert_eq(on - 14, v->sealed_len, "vector %s: length", v->name);
		cr_assert_eq(memcmp(out + 14, v->sealed, v->sealed_len), 0,
			     "vector %s: egress output differs from docs/PROTOCOL.md", v->name);
		n = frame(in, v->sealed, v->sealed_len);
		cr_assert_eq(run(in_fd, in, n, back, &bn), XDP_PASS, "vector %s: ingress", v->name);
		cr_assert_eq(bn - 14, v->input_len);
		cr_assert_eq(memcmp(back + 14, v->input, v->input_len), 0, "vector %s: restore", v->name);
	}
}

static void sizes(int family, const char *src, const char *grp, unsigned suite)
{
	size_t maxl = family == AF_INET ? 1500 - 20 - 8 - GEM_OVERHEAD
					: 1500 - 40 - 8 - GEM_OVERHEAD;
	struct stream s;
	uint64_t pn, pn0;

	mkstream(&s, family, src, grp);
	set_keys(&s, suite, 7);
	pn = pn0 = tx_next_pn(&s);
	for (size_t L = 0; L <= maxl; L += (L < 80 ? 1 : 37))
		roundtrip(&s, suite, 7, pn++, L, 1);
	roundtrip(&s, suite, 7, pn++, maxl, 1);
	cr_assert_eq(counter(GEM_C_TX_SEALED), pn - pn0);
	cr_assert_eq(counter(GEM_C_RX_OPENED), pn - pn0);
}

Test(dataplane, roundtrip_ipv4_hmac) { sizes(AF_INET, "10.0.0.1", "239.1.1.1", 1); }
Test(dataplane, roundtrip_ipv4_cmac) { sizes(AF_INET, "10.0.0.1", "239.1.1.1", 2); }
Test(dataplane, roundtrip_ipv6_hmac) { sizes(AF_INET6, "fd00::1", "ff3e::1:1", 1); }
Test(dataplane, roundtrip_ipv6_cmac) { sizes(AF_INET6, "fd00::1", "ff3e::1:1", 2); }
Test(dataplane, roundtrip_ipv4_poly1305) { sizes(AF_INET, "10.0.0.1", "239.1.1.1", 3); }
Test(dataplane, roundtrip_ipv6_poly1305) { sizes(AF_INET6, "fd00::1", "ff3e::1:1", 3); }
Test(dataplane, roundtrip_ipv4_chacha20_poly1305) { sizes(AF_INET, "10.0.0.1", "239.1.1.1", 4); }
Test(dataplane, roundtrip_ipv6_chacha20_poly1305) { sizes(AF_INET6, "fd00::1", "ff3e::1:1", 4); }

/* Suite 4's ciphertext is RFC 8439 ChaCha20 from block counter 1, the nonce
 * pn || key id || 0x0000: with pn 0x4a and key id 0 that is the nonce of
 * RFC 8439 2.4.2, so the sealed payload must be that section's ciphertext. */
Test(dataplane, chacha20_rfc8439_2_4_2_ciphertext)
{
	static const char pt[] = "Ladies and Gentlemen of the class of '99: If I could offer you "
				 "only one tip for the future, sunscreen would be it.";
	static const uint8_t ct[114] = {
		0x6e, 0x2e, 0x35, 0x9a, 0x25, 0x68, 0xf9, 0x80, 0x41, 0xba, 0x07, 0x28, 0xdd, 0x0d,
		0x69, 0x81, 0xe9, 0x7e, 0x7a, 0xec, 0x1d, 0x43, 0x60, 0xc2, 0x0a, 0x27, 0xaf, 0xcc,
		0xfd, 0x9f, 0xae, 0x0b, 0xf9, 0x1b, 0x65, 0xc5, 0x52, 0x47, 0x33, 0xab, 0x8f, 0x59,
		0x3d, 0xab, 0xcd, 0x62, 0xb3, 0x57, 0x16, 0x39, 0xd6, 0x24, 0xe6, 0x51, 0x52, 0xab,
		0x8f, 0x53, 0x0c, 0x35, 0x9f, 0x08, 0x61, 0xd8, 0x07, 0xca, 0x0d, 0xbf, 0x50, 0x0d,
		0x6a, 0x61, 0x56, 0xa3, 0x8e, 0x08, 0x8a, 0x22, 0xb6, 0x5e, 0x52, 0xbc, 0x51, 0x4d,
		0x16, 0xcc, 0xf8, 0x06, 0x81, 0x8c, 0xe9, 0x1a, 0xb7, 0x79, 0x37, 0x36, 0x5a, 0xf9,
		0x0b, 0xbf, 0x74, 0xa3, 0x5b, 0xe6, 0xb4, 0x0b, 0x8e, 0xed, 0xf2, 0x78, 0x5e, 0x42,
		0x87, 0x4d,
	};
	struct gem_ref_keys k = { 0 };
	uint8_t in[FRAME_MAX], out[FRAME_MAX], back[FRAME_MAX];
	struct stream s;
	size_t n, on, bn, off = 14 + 20 + 8 + GEM_HDR_LEN;

	cr_assert_eq(sizeof(pt) - 1, sizeof(ct));
	for (int i = 0; i < 32; i++)
		k.sek256[i] = (uint8_t)i;
	mkstream_default(&s, AF_INET);
	set_group(&s, GEM_SUITE_CHACHA20_POLY1305);
	cr_assert_eq(gem_dp_set_sek_len(ctl_fd, &s.sg, 1, 0, k.sek256, 32), 0);
	cr_assert_eq(gem_dp_set_sek_len(ctl_fd, &s.sg, 0, 0, k.sek256, 32), 0);
	set_next_pn(&s, 0x4a);
	n = udp_frame(in, &s, (const uint8_t *)pt, sizeof(ct));
	cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_OK);
	cr_assert_eq(on, n + GEM_OVERHEAD);
	cr_assert_eq(memcmp(out + off, ct, sizeof(ct)), 0, "not RFC 8439 2.4.2's ciphertext");
	cr_assert_eq(run(in_fd, out, on, back, &bn), XDP_PASS);
	cr_assert_eq(bn, n);
	cr_assert_eq(memcmp(back, in, n), 0);
}

/* This kernel has the crypto kfuncs: every suite is offered. */
Test(dataplane, suites_with_kfuncs)
{
	cr_assert_eq(gem_dp_suites(ctl_fd), 0x1e);
}

/* The object built with kfunc names no kernel has (bpf/gem_test_nokf.bpf.c):
 * it loads, offers suite 4 only, refuses suites 1-3 and 16-byte SEKs, and
 * suite 4 seals and opens as the reference does. */
Test(dataplane, no_kfuncs_offers_suite4_only)
{
	struct gem_test_nokf_bpf *nk = gem_test_nokf_bpf__open_and_load();
	int c, e, i;
	struct stream s;
	uint64_t pn;

	cr_assert_not_null(nk, "the object with missing kfuncs does not load");
	c = bpf_program__fd(nk->progs.gem_ctl);
	cr_assert_eq(gem_dp_suites(c), 1 << GEM_SUITE_CHACHA20_POLY1305);
	mkstream_default(&s, AF_INET);
	for (unsigned su = 1; su <= 3; su++)
		cr_assert_eq(set_group_key(c, &s.sg.grp, su, &K), -EOPNOTSUPP, "suite %u", su);
	cr_assert_eq(set_group_key(c, &s.sg.grp, 4, &K), 0);
	cr_assert_eq(gem_dp_set_sek(c, &s.sg, 1, 1, K.sek), -EOPNOTSUPP);
	cr_assert_eq(gem_dp_set_sek(c, &s.sg, 0, 1, K.sek), -EOPNOTSUPP);
	cr_assert_eq(gem_dp_set_sek_len(c, &s.sg, 1, 1, K.sek256, 32), 0);
	cr_assert_eq(gem_dp_set_sek_len(c, &s.sg, 0, 1, K.sek256, 32), 0);
	/* the round trip against the reference, through this object's programs */
	e = eg_fd;
	i = in_fd;
	eg_fd = bpf_program__fd(nk->progs.gem_egress);
	in_fd = bpf_program__fd(nk->progs.gem_ingress);
	{
		struct gem_tx_stream v;
		int fd = bpf_map__fd(nk->maps.gem_tx);

		cr_assert_eq(bpf_map_lookup_elem_flags(fd, &s.sg, &v, BPF_F_LOCK), 0);
		pn = v.next_pn;
	}
	for (size_t L = 0; L <= 1400; L += 175)
		roundtrip(&s, 4, 1, pn++, L, 1);
	eg_fd = e;
	in_fd = i;
	gem_test_nokf_bpf__destroy(nk);
}

/* A suite-4 group needs a 32-byte SEK: a stream loaded with a 16-byte one
 * (an AES context) seals nothing, and other lengths are refused. */
Test(dataplane, chacha20_poly1305_needs_its_own_sek)
{
	uint8_t pl[64] = { 0 }, in[FRAME_MAX], out[FRAME_MAX];
	struct stream s;
	size_t n, on;

	mkstream_default(&s, AF_INET6);
	set_group(&s, GEM_SUITE_CHACHA20_POLY1305);
	cr_assert_eq(gem_dp_set_sek_len(ctl_fd, &s.sg, 1, 1, K.sek256, 24), -EINVAL);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 1, 1, K.sek), 0);
	n = udp_frame(in, &s, pl, sizeof(pl));
	cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_SHOT);
	cr_assert_eq(counter(GEM_C_TX_NO_KEY), 1);
	/* the next key id with a 32-byte SEK: sealed, and slot 1 lost its AES key */
	cr_assert_eq(gem_dp_set_sek_len(ctl_fd, &s.sg, 1, 2, K.sek256, 32), 0);
	cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_OK);
	/* and the other way round: a 32-byte SEK does not serve suite 3 */
	set_group(&s, GEM_SUITE_POLY1305);
	cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_SHOT);
	cr_assert_eq(counter(GEM_C_TX_NO_KEY), 2);
}

Test(dataplane, mtu_and_size_limits)
{
	struct stream s;
	uint8_t pl[2048] = { 0 }, in[FRAME_MAX], out[FRAME_MAX];
	size_t n, on;

	mkstream(&s, AF_INET, "10.0.0.1", "239.1.1.1");
	set_keys(&s, 1, 1);
	/* 1444 fits MTU 1500 once sealed, 1445 does not */
	n = udp_frame(in, &s, pl, 1444);
	cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_OK);
	n = udp_frame(in, &s, pl, 1445);
	cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_SHOT);
	cr_assert_eq(counter(GEM_C_TX_MTU), 1);
	cr_assert_eq(system("ip link set lo mtu 9000"), 0);
	n = udp_frame(in, &s, pl, 1537);
	cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_SHOT);
	cr_assert_eq(counter(GEM_C_TX_TOO_BIG), 1);
	n = udp_frame(in, &s, pl, 1536);
	cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_OK);
	cr_assert_eq(counter(GEM_C_TX_SEALED), 2);
}

static const struct gem_sg *ev_sg;
static int *ev_count;

static int on_event(void *ctx, void *data, size_t sz)
{
	const struct gem_event *ev = data;

	(void)ctx;
	cr_assert_eq(sz, sizeof(*ev));
	cr_assert_eq(ev->type, GEM_EV_TX_NO_KEY);
	cr_assert_eq(memcmp(&ev->sg, ev_sg, sizeof(*ev_sg)), 0);
	(*ev_count)++;
	return 0;
}

Test(dataplane, egress_no_key_fails_closed_and_notifies_once)
{
	struct stream s;
	uint8_t pl[64] = { 0 }, in[FRAME_MAX], out[FRAME_MAX];
	struct ring_buffer *rb;
	size_t n, on;
	int events = 0;

	mkstream(&s, AF_INET, "10.0.0.1", "239.1.1.1");
	set_group(&s, 1);
	n = udp_frame(in, &s, pl, sizeof(pl));
	for (int i = 0; i < 3; i++)
		cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_SHOT);
	cr_assert_eq(counter(GEM_C_TX_NO_KEY), 3);

	ev_sg = &s.sg;
	ev_count = &events;
	rb = ring_buffer__new(bpf_map__fd(skel->maps.gem_events), on_event, NULL, NULL);
	cr_assert_not_null(rb);
	ring_buffer__consume(rb);
	cr_assert_eq(events, 1, "one event per stream, got %d", events);
	/* installing the key clears the note, and the stream flows */
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 1, 1, K.sek), 0);
	cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_OK);
	ring_buffer__free(rb);
}

Test(dataplane, egress_key_id_rules)
{
	struct stream s;

	mkstream(&s, AF_INET, "10.0.0.1", "239.1.1.1");
	set_group(&s, 1);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 1, 1, K.sek), 0);
	/* the current key id again would restart nothing, but is refused */
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 1, 1, K.sek), -EEXIST);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 1, 2, K.sek), 0);
	cr_assert_eq(gem_dp_set_group(ctl_fd, &s.sg.grp, 5, K.mac_key, 32), -EPROTONOSUPPORT);
	cr_assert_eq(gem_dp_set_group(ctl_fd, &s.sg.grp, 3, K.mac_key, 32), -EINVAL);
	cr_assert_eq(gem_dp_set_group(ctl_fd, &s.sg.grp, 4, K.mac_key, 32), -EINVAL);
	cr_assert_eq(gem_dp_set_group(ctl_fd, &s.sg.grp, 1, K.mac_key, 16), -EINVAL);
}

/* Packet numbers continue across a tx rotation; ingress accepts current and
 * previous key ids, drops an older one. */
Test(dataplane, rotation)
{
	struct stream s;
	uint8_t pl[100], in[FRAME_MAX], k1[FRAME_MAX], k2[FRAME_MAX], k3[FRAME_MAX], o[FRAME_MAX];
	size_t n, n1, n2, n3, on;

	mkstream(&s, AF_INET6, "fd00::1", "ff3e::1:1");
	set_keys(&s, 2, 1);
	fill(pl, sizeof(pl), 3);
	n = udp_frame(in, &s, pl, sizeof(pl));
	cr_assert_eq(run(eg_fd, in, n, k1, &n1), TC_ACT_OK);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 1, 2, K.sek), 0);
	roundtrip(&s, 2, 2, tx_next_pn(&s), 100, 0);	/* pn continues, key id 2 */
	cr_assert_eq(run(eg_fd, in, n, k2, &n2), TC_ACT_OK);
	/* receiver learns key 2: both 1 (previous) and 2 (current) open */
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 0, 2, K.sek), 0);
	cr_assert_eq(run(in_fd, k2, n2, o, &on), XDP_PASS);
	cr_assert_eq(run(in_fd, k1, n1, o, &on), XDP_PASS);
	cr_assert_eq(memcmp(o, in, n), 0);
	/* key 3: key 1 is gone */
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 1, 3, K.sek), 0);
	cr_assert_eq(run(eg_fd, in, n, k3, &n3), TC_ACT_OK);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 0, 3, K.sek), 0);
	cr_assert_eq(run(in_fd, k3, n3, o, &on), XDP_PASS);
	cr_assert_eq(run(in_fd, k1, n1, o, &on), XDP_DROP);
	cr_assert_eq(counter(GEM_C_RX_KEY_ID), 1);
}

Test(dataplane, replay_window)
{
	struct stream s;
	uint8_t pl[32] = { 0 }, in[FRAME_MAX], out[FRAME_MAX];
	static uint8_t sealed[1100][128];
	size_t n, on, sn[1100];

	mkstream(&s, AF_INET, "10.0.0.1", "239.1.1.1");
	set_keys(&s, 1, 9);
	n = udp_frame(in, &s, pl, sizeof(pl));
	for (int i = 0; i < 1100; i++) {
		cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_OK);
		cr_assert_leq(on, sizeof(sealed[0]));
		memcpy(sealed[i], out, on);
		sn[i] = on;
	}
	/* in order 0..999, then a replay of 999, then 1000 */
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(run(in_fd, sealed[i], sn[i], out, &on), XDP_PASS, "pn %d", i);
	cr_assert_eq(run(in_fd, sealed[999], sn[999], out, &on), XDP_DROP);
	cr_assert_eq(counter(GEM_C_RX_REPLAY), 1);
	/* reordered within the window: 1099 first, then 1000..1098 all pass */
	cr_assert_eq(run(in_fd, sealed[1099], sn[1099], out, &on), XDP_PASS);
	for (int i = 1000; i < 1099; i++)
		cr_assert_eq(run(in_fd, sealed[i], sn[i], out, &on), XDP_PASS, "reordered pn %d", i);
	for (int i = 1000; i < 1100; i++)
		cr_assert_eq(run(in_fd, sealed[i], sn[i], out, &on), XDP_DROP, "replayed pn %d", i);
	cr_assert_eq(counter(GEM_C_RX_REPLAY), 101);
	/* 1099 - 700 = 399 below the top: too old, never accepted */
	cr_assert_eq(run(in_fd, sealed[700], sn[700], out, &on), XDP_DROP);
	cr_assert_eq(counter(GEM_C_RX_TOO_OLD), 1);
	cr_assert_eq(counter(GEM_C_RX_OPENED), 1100);
}

static void bitflips(unsigned suite, int family)
{
	struct stream s;
	uint8_t pl[40], in[FRAME_MAX], sealed[FRAME_MAX], t[FRAME_MAX], out[FRAME_MAX];
	size_t n, sn, on;
	__u64 drops = 0, before;

	mkstream_default(&s, family);
	set_keys(&s, suite, 4);
	fill(pl, sizeof(pl), 9);
	n = udp_frame(in, &s, pl, sizeof(pl));
	cr_assert_eq(run(eg_fd, in, n, sealed, &sn), TC_ACT_OK);
	/* the header fields each hit their own counter (before the original
	 * opens, so that the tag, not the replay window, decides) */
	size_t gh = 14 + (family == AF_INET ? 28 : 48);	/* GEM header */
	size_t ga = 14 + (family == AF_INET ? 16 : 24);	/* group address */
	size_t gl = family == AF_INET ? 4 : 16;

	memcpy(t, sealed, sn); t[gh + 0] ^= 0x80;
	cr_assert_eq(run(in_fd, t, sn, out, &on), XDP_DROP);
	cr_assert_eq(counter(GEM_C_RX_VERSION), 1);
	memcpy(t, sealed, sn); t[gh + 1] = suite == 2 ? 1 : 2;
	cr_assert_eq(run(in_fd, t, sn, out, &on), XDP_DROP);
	cr_assert_eq(counter(GEM_C_RX_SUITE), 1);
	memcpy(t, sealed, sn); t[gh + 3] ^= 1;
	cr_assert_eq(run(in_fd, t, sn, out, &on), XDP_DROP);
	cr_assert_eq(counter(GEM_C_RX_KEY_ID), 1);
	memcpy(t, sealed, sn); t[gh + 11] ^= 1;	/* pn */
	cr_assert_eq(run(in_fd, t, sn, out, &on), XDP_DROP);
	cr_assert_eq(counter(GEM_C_RX_BAD_TAG), 1);
	/* the original still opens: nothing above consumed its number */
	cr_assert_eq(run(in_fd, sealed, sn, out, &on), XDP_PASS);
	cr_assert_eq(memcmp(out, in, n), 0);
	before = counter(GEM_C_RX_VERSION) + counter(GEM_C_RX_SUITE) +
		 counter(GEM_C_RX_KEY_ID) + counter(GEM_C_RX_BAD_TAG);

	/* Now every single-bit change of the sealed packet from the IP header
	 * on.  Fields outside the MAC (TOS, ID, DF, TTL, checksums) open to
	 * an already-used packet number: replay.  A changed group address
	 * makes it traffic to another (unprotected or unicast) address: it
	 * passes untouched, still ciphertext.  Everything else is dropped. */
	for (size_t byte = 14; byte < sn; byte++) {
		for (int bit = 0; bit < 8; bit++) {
			size_t off = byte - 14;
			int r;

			(void)off;

			memcpy(t, sealed, sn);
			t[byte] ^= (uint8_t)(1 << bit);
			r = run(in_fd, t, sn, out, &on);
			if (byte >= ga && byte < ga + gl && r == XDP_PASS) {
				cr_assert_eq(on, sn);
				cr_assert_eq(memcmp(out, t, sn), 0, "flip at %zu.%d changed", off, bit);
				continue;
			}
			cr_assert_eq(r, XDP_DROP, "flip at byte %zu bit %d passed", off, bit);
			drops++;
		}
	}
	cr_assert_eq(counter(GEM_C_RX_BAD_TAG) + counter(GEM_C_RX_MALFORMED) +
		     counter(GEM_C_RX_NO_KEY) + counter(GEM_C_RX_VERSION) +
		     counter(GEM_C_RX_SUITE) + counter(GEM_C_RX_KEY_ID) +
		     counter(GEM_C_RX_FRAGMENT) + counter(GEM_C_RX_NOT_UDP) +
		     counter(GEM_C_RX_TOO_BIG) + counter(GEM_C_RX_REPLAY) +
		     counter(GEM_C_RX_PN_LIMIT), before + drops,
		     "every drop is counted once");
	cr_assert_gt(counter(GEM_C_RX_REPLAY), 0);
	cr_assert_eq(counter(GEM_C_RX_OPENED), 1);
}

Test(dataplane, bit_flips_hmac_ipv4) { bitflips(1, AF_INET); }
Test(dataplane, bit_flips_cmac_ipv6) { bitflips(2, AF_INET6); }
Test(dataplane, bit_flips_poly1305_ipv4) { bitflips(3, AF_INET); }
Test(dataplane, bit_flips_poly1305_ipv6) { bitflips(3, AF_INET6); }
Test(dataplane, bit_flips_chacha20_poly1305_ipv4) { bitflips(4, AF_INET); }
Test(dataplane, bit_flips_chacha20_poly1305_ipv6) { bitflips(4, AF_INET6); }

static void truncation(unsigned suite)
{
	struct stream s;
	uint8_t pl[100] = { 0 }, in[FRAME_MAX], sealed[FRAME_MAX], out[FRAME_MAX];
	size_t n, sn, on;

	mkstream(&s, AF_INET6, "fd00::1", "ff3e::1:1");
	set_keys(&s, suite, 4);
	n = udp_frame(in, &s, pl, sizeof(pl));
	cr_assert_eq(run(eg_fd, in, n, sealed, &sn), TC_ACT_OK);
	for (size_t len = 14 + 40; len < sn; len++) {
		int r = run(in_fd, sealed, len, out, &on);

		cr_assert_eq(r, XDP_DROP, "truncated to %zu: verdict %d", len, r);
	}
	/* shorter than the IPv6 header: not parseable as ours, passes as is */
	cr_assert_eq(counter(GEM_C_RX_MALFORMED), sn - 54);
	/* the GEM packet itself truncated consistently (lengths fixed) */
	cr_assert_eq(run(in_fd, sealed, sn, out, &on), XDP_PASS);
}

Test(dataplane, truncation_hmac) { truncation(1); }
Test(dataplane, truncation_cmac) { truncation(2); }
Test(dataplane, truncation_poly1305) { truncation(3); }
Test(dataplane, truncation_chacha20_poly1305) { truncation(4); }

Test(dataplane, splice_and_foreign_group_key)
{
	struct stream a, b, c;
	uint8_t pl[64] = { 0 }, in[FRAME_MAX], sealed[FRAME_MAX], t[FRAME_MAX], out[FRAME_MAX];
	size_t n, sn, on;

	mkstream(&a, AF_INET, "10.0.0.1", "239.1.1.1");
	mkstream(&b, AF_INET, "10.0.0.2", "239.1.1.1");	/* same group, other source */
	mkstream(&c, AF_INET, "10.0.0.1", "239.1.1.2");	/* other group */
	set_keys(&a, 1, 1);
	set_keys(&b, 1, 1);	/* same SEK and key id: only the MAC tells them apart */
	{
		uint8_t other[32];

		memset(other, 0x5a, sizeof(other));
		cr_assert_eq(gem_dp_set_group(ctl_fd, &c.sg.grp, 1, other, 32), 0);
		cr_assert_eq(gem_dp_set_sek(ctl_fd, &c.sg, 0, 1, K.sek), 0);
	}
	n = udp_frame(in, &a, pl, sizeof(pl));
	cr_assert_eq(run(eg_fd, in, n, sealed, &sn), TC_ACT_OK);
	/* splice into stream b: rewrite the source (and fix the IP checksum) */
	memcpy(t, sealed, sn);
	t[14 + 15] = 2;
	t[14 + 10] = 0; t[14 + 11] = 0;
	{
		uint16_t c16 = gem_pkt_ipv4_hdr_csum(t + 14, 20);

		memcpy(t + 14 + 10, &c16, 2);
	}
	cr_assert_eq(run(in_fd, t, sn, out, &on), XDP_DROP);
	cr_assert_eq(counter(GEM_C_RX_BAD_TAG), 1);
	/* to group c, whose MAC key differs */
	memcpy(t, sealed, sn);
	t[14 + 19] = 2;
	t[14 + 10] = 0; t[14 + 11] = 0;
	{
		uint16_t c16 = gem_pkt_ipv4_hdr_csum(t + 14, 20);

		memcpy(t + 14 + 10, &c16, 2);
	}
	cr_assert_eq(run(in_fd, t, sn, out, &on), XDP_DROP);
	cr_assert_eq(counter(GEM_C_RX_BAD_TAG), 2);
}

Test(dataplane, unknown_stream_and_unprotected_traffic)
{
	struct stream s, u;
	uint8_t pl[64], in[FRAME_MAX], sealed[FRAME_MAX], out[FRAME_MAX];
	size_t n, sn, on;

	fill(pl, sizeof(pl), 1);
	mkstream(&s, AF_INET, "10.0.0.1", "239.1.1.1");
	set_group(&s, 1);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 1, 1, K.sek), 0);
	n = udp_frame(in, &s, pl, sizeof(pl));
	cr_assert_eq(run(eg_fd, in, n, sealed, &sn), TC_ACT_OK);
	cr_assert_eq(run(in_fd, sealed, sn, out, &on), XDP_DROP);	/* no rx SEK */
	cr_assert_eq(counter(GEM_C_RX_NO_KEY), 1);

	/* unprotected group and unicast: bit-identical both ways */
	const char *dsts[] = { "239.9.9.9", "10.0.0.2" };
	for (int i = 0; i < 2; i++) {
		mkstream(&u, AF_INET, "10.0.0.1", dsts[i]);
		n = udp_frame(in, &u, pl, sizeof(pl));
		cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_OK);
		cr_assert_eq(on, n);
		cr_assert_eq(memcmp(in, out, n), 0);
		cr_assert_eq(run(in_fd, in, n, out, &on), XDP_PASS);
		cr_assert_eq(on, n);
		cr_assert_eq(memcmp(in, out, n), 0);
	}
	mkstream(&u, AF_INET6, "fd00::1", "ff3e::9");
	n = udp_frame(in, &u, pl, sizeof(pl));
	cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_OK);
	cr_assert_eq(memcmp(in, out, n), 0);
	cr_assert_eq(counter(GEM_C_TX_PASS), 3);
}

/* Non-UDP to a protected group is dropped, except IGMP; fragments dropped. */
Test(dataplane, protected_group_non_udp_and_fragments)
{
	struct stream s;
	uint8_t pl[64] = { 0 }, in[FRAME_MAX], t[FRAME_MAX], out[FRAME_MAX];
	size_t n, on;
	uint16_t c16;

	mkstream(&s, AF_INET, "10.0.0.1", "239.1.1.1");
	set_keys(&s, 1, 1);
	n = udp_frame(in, &s, pl, sizeof(pl));
	/* protocol 6 */
	memcpy(t, in, n); t[14 + 9] = 6; t[24] = t[25] = 0;
	c16 = gem_pkt_ipv4_hdr_csum(t + 14, 20); memcpy(t + 24, &c16, 2);
	cr_assert_eq(run(eg_fd, t, n, out, &on), TC_ACT_SHOT);
	cr_assert_eq(run(in_fd, t, n, out, &on), XDP_DROP);
	cr_assert_eq(counter(GEM_C_TX_NOT_UDP), 1);
	cr_assert_eq(counter(GEM_C_RX_NOT_UDP), 1);
	/* IGMP passes */
	memcpy(t, in, n); t[14 + 9] = 2; t[24] = t[25] = 0;
	c16 = gem_pkt_ipv4_hdr_csum(t + 14, 20); memcpy(t + 24, &c16, 2);
	cr_assert_eq(run(eg_fd, t, n, out, &on), TC_ACT_OK);
	cr_assert_eq(memcmp(t, out, n), 0);
	/* more fragments */
	memcpy(t, in, n); t[14 + 6] |= 0x20; t[24] = t[25] = 0;
	c16 = gem_pkt_ipv4_hdr_csum(t + 14, 20); memcpy(t + 24, &c16, 2);
	cr_assert_eq(run(eg_fd, t, n, out, &on), TC_ACT_SHOT);
	cr_assert_eq(counter(GEM_C_TX_FRAGMENT), 1);
}

Test(dataplane, ipv4_zero_udp_checksum_is_kept)
{
	struct stream s;
	uint8_t pl[33], in[FRAME_MAX], out[FRAME_MAX], back[FRAME_MAX];
	size_t n, on, bn;

	fill(pl, sizeof(pl), 5);
	mkstream(&s, AF_INET, "10.0.0.1", "239.1.1.1");
	set_keys(&s, 1, 1);
	n = udp_frame(in, &s, pl, sizeof(pl));
	in[14 + 26] = in[14 + 27] = 0;
	cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_OK);
	cr_assert_eq(out[14 + 26] | out[14 + 27], 0);
	cr_assert_eq(run(in_fd, out, on, back, &bn), XDP_PASS);
	cr_assert_eq(bn, n);
	cr_assert_eq(memcmp(back, in, n), 0);
}

/* ---- key reloads, static keying, key-id order (issue 13) ---------------------- */

static const uint8_t SEK2[16] = { 0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87,
				  0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f };

static void rx_state(const struct stream *s, struct gem_rx_stream *v)
{
	cr_assert_eq(bpf_map_lookup_elem_flags(bpf_map__fd(skel->maps.gem_rx), &s->sg, v,
					       BPF_F_LOCK), 0);
}

/* SHA-256("GEM v1 sek-fp" 0x00 || sek)[0..16] with OpenSSL, independent of
 * lib/gem_dp.c's libsodium code. */
static void ref_fp(const uint8_t sek[16], uint8_t fp[16])
{
	uint8_t in[14 + 16], h[32];
	unsigned hl = 0;

	memcpy(in, "GEM v1 sek-fp", 14);	/* with its NUL */
	memcpy(in + 14, sek, 16);
	cr_assert_eq(EVP_Digest(in, sizeof(in), h, &hl, EVP_sha256(), NULL), 1);
	memcpy(fp, h, 16);
}

/* A receiver's gemd restarts and loads the SEK it holds again: the replay
 * window must survive (it was emptied: every captured packet opened again).
 * Another SEK under the held key id is refused and changes nothing. */
static void reload_keeps_window(unsigned suite, int family)
{
	struct stream s;
	uint8_t pl[50], in[FRAME_MAX], sealed[3][FRAME_MAX], out[FRAME_MAX], fp[16];
	struct gem_rx_stream before, after;
	size_t n, sn[3], on;

	mkstream_default(&s, family);
	set_keys(&s, suite, 1);
	fill(pl, sizeof(pl), 2);
	n = udp_frame(in, &s, pl, sizeof(pl));
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(run(eg_fd, in, n, sealed[i], &sn[i]), TC_ACT_OK);
		cr_assert_eq(run(in_fd, sealed[i], sn[i], out, &on), XDP_PASS);
	}
	rx_state(&s, &before);
	ref_fp(K.sek, fp);
	cr_assert_eq(memcmp(before.sek_fp[before.cur & 1], fp, 16), 0,
		     "the rx entry's fingerprint is not SHA-256(label || SEK)");
	/* the same key again (a restarted gemd): accepted, nothing changes */
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 0, 1, K.sek), 0);
	/* another SEK under key id 1: refused */
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 0, 1, SEK2), -EEXIST);
	rx_state(&s, &after);
	cr_assert_eq(memcmp(&after.cur, &before.cur,
			    sizeof(after) - offsetof(struct gem_rx_stream, cur) - 16), 0,
		     "a reload changed the rx entry (window, key ids, counters)");
	for (int i = 0; i < 3; i++)
		cr_assert_eq(run(in_fd, sealed[i], sn[i], out, &on), XDP_DROP,
			     "packet %d opened again after the key was reloaded", i);
	cr_assert_eq(counter(GEM_C_RX_REPLAY), 3);
	cr_assert_eq(counter(GEM_C_RX_OPENED), 3);
	/* the stream still opens with the key it had */
	cr_assert_eq(run(eg_fd, in, n, sealed[0], &sn[0]), TC_ACT_OK);
	cr_assert_eq(run(in_fd, sealed[0], sn[0], out, &on), XDP_PASS);
	cr_assert_eq(memcmp(out, in, n), 0);
}

Test(dataplane, rx_reload_same_key_keeps_replay_window_hmac) { reload_keeps_window(1, AF_INET); }
Test(dataplane, rx_reload_same_key_keeps_replay_window_cmac) { reload_keeps_window(2, AF_INET6); }
Test(dataplane, rx_reload_same_key_keeps_replay_window_poly1305) { reload_keeps_window(3, AF_INET); }

/* The control plane's replacement of a held key id keeps the window too: the
 * old packets stay replays, the new SEK's packets (pn above) open. */
Test(dataplane, rx_replace_keeps_replay_window)
{
	struct stream s;
	uint8_t pl[40], in[FRAME_MAX], old[FRAME_MAX], nw[FRAME_MAX], out[FRAME_MAX];
	struct gem_rx_stream v;
	size_t n, ol, nl, on;
	__u64 top;

	mkstream(&s, AF_INET, "10.0.0.1", "239.1.1.3");
	set_keys(&s, 3, 1);
	fill(pl, sizeof(pl), 4);
	n = udp_frame(in, &s, pl, sizeof(pl));
	cr_assert_eq(run(eg_fd, in, n, old, &ol), TC_ACT_OK);
	cr_assert_eq(run(in_fd, old, ol, out, &on), XDP_PASS);
	rx_state(&s, &v);
	top = v.replay[v.cur & 1].top;
	/* the origin re-keyed key id 1 (deleted and re-created its tx entry) */
	cr_assert_eq(bpf_map_delete_elem(bpf_map__fd(skel->maps.gem_tx), &s.sg), 0);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 1, 1, SEK2), 0);
	cr_assert_eq(gem_dp_replace_rx_sek(ctl_fd, &s.sg, 1, SEK2), 0);
	rx_state(&s, &v);
	cr_assert_eq(v.replay[v.cur & 1].top, top, "the replacement emptied the window");
	cr_assert_eq(run(in_fd, old, ol, out, &on), XDP_DROP);
	cr_assert_eq(counter(GEM_C_RX_REPLAY) + counter(GEM_C_RX_BAD_TAG), 1);
	cr_assert_eq(run(eg_fd, in, n, nw, &nl), TC_ACT_OK);
	cr_assert_eq(run(in_fd, nw, nl, out, &on), XDP_PASS);
	cr_assert_eq(memcmp(out, in, n), 0);
}

static uint64_t be64_at(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint64_t realtime_ns(void)
{
	struct timespec t;

	cr_assert_eq(clock_gettime(CLOCK_REALTIME, &t), 0);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* Static keying, the README's commands with one key file: 3 packets, sek del
 * + sek set, 3 packets, unload + load + the same commands, 3 packets.  No
 * two of the 9 may share a counter block: their (key id, pn) must differ
 * (CB(i) = pn || key id || 0 || i, docs/PROTOCOL.md 4), and each must be the
 * reference's sealing under its header's pn.  The first pn of each new entry
 * is the realtime clock at its creation. */
static void no_keystream_reuse(unsigned suite, int family)
{
	struct stream s;
	uint8_t pl[64], in[FRAME_MAX], out[FRAME_MAX], ref[FRAME_MAX];
	uint64_t nonces[9], t0, t1;
	size_t n, on, rn, gh = 14 + (family == AF_INET ? 28 : 48);
	int k = 0;

	mkstream_default(&s, family);
	fill(pl, sizeof(pl), 6);
	n = udp_frame(in, &s, pl, sizeof(pl));
	for (int round = 0; round < 3; round++) {
		if (round == 1)		/* gemctl sek del: the entry goes */
			cr_assert_eq(bpf_map_delete_elem(bpf_map__fd(skel->maps.gem_tx), &s.sg), 0);
		if (round == 2)		/* gem-load unload + attach: new maps */
			reload_skel();
		if (round != 1)
			set_group(&s, suite);
		t0 = realtime_ns();
		cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 1, 1, K.sek), 0);
		t1 = realtime_ns();
		for (int i = 0; i < 3; i++, k++) {
			cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_OK);
			cr_assert_eq(out[gh + 2] << 8 | out[gh + 3], 1);
			nonces[k] = be64_at(out + gh + 4);
			if (i == 0)
				cr_assert(nonces[k] >= t0 && nonces[k] <= t1,
					  "round %d: first pn %llu not the clock (%llu .. %llu)", round,
					  (unsigned long long)nonces[k], (unsigned long long)t0,
					  (unsigned long long)t1);
			cr_assert_eq(gem_ref_seal(in + 14, n - 14, ref, sizeof(ref), &rn, suite, 1,
						  nonces[k], &K), 0);
			cr_assert_eq(on - 14, rn);
			cr_assert_eq(memcmp(out + 14, ref, rn), 0, "round %d packet %d", round, i);
		}
	}
	for (int i = 0; i < 9; i++)
		for (int j = i + 1; j < 9; j++)
			cr_assert_neq(nonces[i], nonces[j], "packets %d and %d share pn %llu under "
				      "key id 1: a two-time pad", i, j, (unsigned long long)nonces[i]);
}

Test(dataplane, static_keying_no_keystream_reuse_hmac) { no_keystream_reuse(1, AF_INET); }
Test(dataplane, static_keying_no_keystream_reuse_cmac) { no_keystream_reuse(2, AF_INET6); }
Test(dataplane, static_keying_no_keystream_reuse_poly1305) { no_keystream_reuse(3, AF_INET); }

/* A new egress stream is refused while the clock is unset (a first pn near
 * 0 would repeat an earlier life's); rotations of an existing one are not. */
Test(dataplane, tx_first_pn_needs_a_set_clock)
{
	struct gem_ctl_req req = { .op = GEM_OP_SET_TX_SEK, .key_id = 1 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &req, .ctx_size_in = sizeof(req));
	struct stream s;

	mkstream(&s, AF_INET, "10.0.0.1", "239.1.1.1");
	set_group(&s, 1);
	req.sg = s.sg;
	memcpy(req.sek, K.sek, 16);
	req.sek_len = 16;
	req.first_pn = 1000;	/* 1970 */
	cr_assert_eq(bpf_prog_test_run_opts(ctl_fd, &o), 0);
	cr_assert_eq((int)o.retval, -ERANGE);
	cr_assert_neq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.gem_tx), &s.sg,
					  &(struct gem_tx_stream){ 0 }), 0);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 1, 1, K.sek), 0);
	req.key_id = 2;
	cr_assert_eq(bpf_prog_test_run_opts(ctl_fd, &o), 0);
	cr_assert_eq((int)o.retval, 0, "a rotation does not depend on the clock");
}

static void rx_kids(const struct stream *s, __u32 *cur, __u32 *prev)
{
	struct gem_rx_stream v;

	rx_state(s, &v);
	*cur = v.key_id[v.cur & 1];
	*prev = v.key_id[(v.cur & 1) ^ 1];
}

/* The two newest key ids by key-id order stay, whatever the load order. */
Test(dataplane, rx_slots_follow_key_id_order)
{
	struct stream s;
	uint8_t pl[20] = { 0 }, in[FRAME_MAX], p2[FRAME_MAX], p3[FRAME_MAX], p4[FRAME_MAX];
	uint8_t out[FRAME_MAX];
	size_t n, l2, l3, l4, on;
	__u32 cur, prev;

	mkstream(&s, AF_INET, "10.0.0.1", "239.1.1.1");
	set_group(&s, 1);
	n = udp_frame(in, &s, pl, sizeof(pl));
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 1, 2, K.sek), 0);
	cr_assert_eq(run(eg_fd, in, n, p2, &l2), TC_ACT_OK);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 1, 3, K.sek), 0);
	cr_assert_eq(run(eg_fd, in, n, p3, &l3), TC_ACT_OK);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 1, 4, K.sek), 0);
	cr_assert_eq(run(eg_fd, in, n, p4, &l4), TC_ACT_OK);

	/* a receiver learns 3, then 2 (hash-table order), then 4 */
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 0, 3, K.sek), 0);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 0, 2, K.sek), 0);
	rx_kids(&s, &cur, &prev);
	cr_assert_eq(cur, 3, "3 then 2: the newest is 3, got %u", cur);
	cr_assert_eq(prev, 2);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 0, 4, K.sek), 0);
	rx_kids(&s, &cur, &prev);
	cr_assert(cur == 4 && prev == 3, "3, 2, 4 loaded: slots hold %u and %u, want 4 and 3",
		  cur, prev);
	cr_assert_eq(run(in_fd, p3, l3, out, &on), XDP_PASS);
	cr_assert_eq(run(in_fd, p4, l4, out, &on), XDP_PASS);
	cr_assert_eq(run(in_fd, p2, l2, out, &on), XDP_DROP);
	cr_assert_eq(counter(GEM_C_RX_KEY_ID), 1);
	/* older than both: refused, nothing changes */
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 0, 2, K.sek), -ESTALE);
	rx_kids(&s, &cur, &prev);
	cr_assert(cur == 4 && prev == 3);
}

/* Key ids wrap: 0 follows 0xffff; 0x8000 apart, neither is newer. */
Test(dataplane, rx_slots_key_id_wrap_around)
{
	struct stream s;
	__u32 cur, prev;

	mkstream(&s, AF_INET6, "fd00::1", "ff3e::1:1");
	set_group(&s, 2);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 0, 0, K.sek), 0);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 0, 0xffff, K.sek), 0);
	rx_kids(&s, &cur, &prev);
	cr_assert(cur == 0 && prev == 0xffff, "0 after 0xffff: got cur %u prev %u", cur, prev);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 0, 0xfffe, K.sek), -ESTALE);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 0, 1, K.sek), 0);
	rx_kids(&s, &cur, &prev);
	cr_assert(cur == 1 && prev == 0, "got cur %u prev %u", cur, prev);
	/* 0x8001 is exactly 0x8000 from 1: not newer; and more than 0x8000
	 * past 0 it counts as older than 0 */
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 0, 0x8001, K.sek), -ESTALE);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 0, 0x7fff, K.sek), 0);
	rx_kids(&s, &cur, &prev);
	cr_assert(cur == 0x7fff && prev == 1, "got cur %u prev %u", cur, prev);
}

/* pn at or above the limit egress enforces never opens: with pn = 2^64 - 1,
 * `top = pn + 1` wrapped to 0, the empty window, and replays opened again. */
Test(dataplane, ingress_refuses_pn_at_or_above_limit)
{
	static const uint64_t bad[] = { UINT64_MAX, GEM_PN_LIMIT, UINT64_MAX - 1 };
	struct stream s;
	uint8_t pl[30], in[FRAME_MAX], l3[FRAME_MAX], f[FRAME_MAX], out[FRAME_MAX];
	uint8_t first[FRAME_MAX];
	size_t n, ln, fn, firstn, on;

	fill(pl, sizeof(pl), 8);
	mkstream(&s, AF_INET, "10.0.0.1", "239.1.1.1");
	set_keys(&s, 1, 5);
	n = udp_frame(in, &s, pl, sizeof(pl));
	cr_assert_eq(run(eg_fd, in, n, first, &firstn), TC_ACT_OK);
	cr_assert_eq(run(in_fd, first, firstn, out, &on), XDP_PASS);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(gem_ref_seal(in + 14, n - 14, l3, sizeof(l3), &ln, 1, 5, bad[i], &K), 0);
		fn = frame(f, l3, ln);
		cr_assert_eq(run(in_fd, f, fn, out, &on), XDP_DROP, "pn %llx opened",
			     (unsigned long long)bad[i]);
	}
	cr_assert_eq(counter(GEM_C_RX_PN_LIMIT), 3);
	/* the window is intact: the first packet is still a replay */
	cr_assert_eq(run(in_fd, first, firstn, out, &on), XDP_DROP);
	cr_assert_eq(counter(GEM_C_RX_REPLAY), 1);
	/* the last pn a stream seals still opens */
	cr_assert_eq(gem_ref_seal(in + 14, n - 14, l3, sizeof(l3), &ln, 1, 5, GEM_PN_LIMIT - 1,
				  &K), 0);
	fn = frame(f, l3, ln);
	cr_assert_eq(run(in_fd, f, fn, out, &on), XDP_PASS);
	cr_assert_eq(memcmp(out, in, n), 0);
}

/* ---- VLAN-tagged frames ---------------------------------------------------- */

/* Ethernet frame with ntags VLAN tags (outer 802.1ad when two) around l3. */
static size_t tagged_frame(uint8_t *f, const uint8_t *l3, size_t len, int ntags)
{
	static const uint8_t mac[12] = { 0x01, 0x00, 0x5e, 0x01, 0x01, 0x01,
					 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	size_t o = 12;

	memcpy(f, mac, 12);
	for (int i = 0; i < ntags; i++) {
		uint16_t tpid = htons(i == 0 && ntags > 1 ? ETH_P_8021AD : ETH_P_8021Q);
		uint16_t tci = htons((uint16_t)(100 + i));

		memcpy(f + o, &tpid, 2);
		memcpy(f + o + 2, &tci, 2);
		o += 4;
	}
	{
		uint16_t proto = htons((l3[0] >> 4) == 4 ? ETH_P_IP : ETH_P_IPV6);

		memcpy(f + o, &proto, 2);
	}
	memcpy(f + o + 2, l3, len);
	return o + 2 + len;
}

static void vlan(int family, unsigned suite)
{
	struct stream s, u;
	uint8_t pl[100], l3[FRAME_MAX], ref[FRAME_MAX], in[FRAME_MAX], out[FRAME_MAX];
	uint8_t back[FRAME_MAX], t[FRAME_MAX];
	size_t ln, rn, n, on, bn;
	uint64_t pn;

	fill(pl, sizeof(pl), 11);
	if (family == AF_INET) {
		mkstream(&s, AF_INET, "10.0.0.1", "239.1.1.1");
		mkstream(&u, AF_INET, "10.0.0.1", "239.9.9.9");
	} else {
		mkstream(&s, AF_INET6, "fd00::1", "ff3e::1:1");
		mkstream(&u, AF_INET6, "fd00::1", "ff3e::9");
	}
	set_group(&s, suite);
	cr_assert_eq(gem_pkt_build_udp(family, &s.src, &s.grp, 5001, 5002, pl, sizeof(pl), 8,
				       l3, sizeof(l3), &ln), 0);
	for (int tags = 1; tags <= 2; tags++) {
		/* no tx key yet: a tagged frame to the group is dropped, not sent */
		n = tagged_frame(in, l3, ln, tags);
		cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_SHOT, "%d tag(s) left in clear", tags);
	}
	cr_assert_eq(counter(GEM_C_TX_NO_KEY), 2);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 1, 9, K.sek), 0);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 0, 9, K.sek), 0);
	for (int tags = 1; tags <= 2; tags++) {
		size_t h = 14 + 4 * (size_t)tags;

		n = tagged_frame(in, l3, ln, tags);
		pn = tx_next_pn(&s);
		cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_OK);
		cr_assert_eq(gem_ref_seal(l3, ln, ref, sizeof(ref), &rn, suite, 9, pn, &K), 0);
		cr_assert_eq(on, h + rn, "%d tag(s): sealed frame length", tags);
		cr_assert_eq(memcmp(out, in, h), 0, "%d tag(s): link header changed", tags);
		cr_assert_eq(memcmp(out + h, ref, rn), 0, "%d tag(s): not the reference's sealing",
			     tags);
		/* ingress opens the tagged sealed frame back to the tagged original */
		cr_assert_eq(run(in_fd, out, on, back, &bn), XDP_PASS);
		cr_assert_eq(bn, n);
		cr_assert_eq(memcmp(back, in, n), 0, "%d tag(s): restored frame differs", tags);
		/* a tagged forgery (the tag's last byte changed) is checked */
		memcpy(t, out, on);
		t[on - 1] ^= 1;
		cr_assert_eq(run(in_fd, t, on, back, &bn), XDP_DROP);
		/* and the tagged replay is one */
		cr_assert_eq(run(in_fd, out, on, back, &bn), XDP_DROP);
		/* a tagged clear packet to an unprotected group passes untouched */
		cr_assert_eq(gem_pkt_build_udp(family, &u.src, &u.grp, 5001, 5002, pl, sizeof(pl),
					       8, t, sizeof(t), &rn), 0);
		n = tagged_frame(in, t, rn, tags);
		cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_OK);
		cr_assert(on == n && !memcmp(out, in, n));
		cr_assert_eq(run(in_fd, in, n, out, &on), XDP_PASS);
		cr_assert(on == n && !memcmp(out, in, n));
	}
	cr_assert_eq(counter(GEM_C_TX_SEALED), 2);
	cr_assert_eq(counter(GEM_C_RX_OPENED), 2);
	cr_assert_eq(counter(GEM_C_RX_BAD_TAG), 2);
	cr_assert_eq(counter(GEM_C_RX_REPLAY), 2);
	/* a sealed packet received untagged-on-the-wire inside three tags is not
	 * parsed: dropped both ways */
	n = tagged_frame(in, l3, ln, 3);
	cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_SHOT);
	cr_assert_eq(run(in_fd, in, n, out, &on), XDP_DROP);
	cr_assert_eq(counter(GEM_C_TX_MALFORMED), 1);
	cr_assert_eq(counter(GEM_C_RX_MALFORMED), 1);
}

Test(dataplane, vlan_tagged_ipv4_hmac) { vlan(AF_INET, 1); }
Test(dataplane, vlan_tagged_ipv6_poly1305) { vlan(AF_INET6, 3); }

/* The MTU rule counts the IP packet: a VLAN tag in the frame does not. */
Test(dataplane, vlan_tagged_mtu_rule)
{
	struct stream s;
	uint8_t pl[2048] = { 0 }, l3[FRAME_MAX], in[FRAME_MAX], out[FRAME_MAX];
	size_t ln, n, on;

	mkstream(&s, AF_INET, "10.0.0.1", "239.1.1.1");
	set_keys(&s, 2, 1);
	cr_assert_eq(gem_pkt_build_udp(AF_INET, &s.src, &s.grp, 1, 2, pl, 1444, 8, l3,
				       sizeof(l3), &ln), 0);
	n = tagged_frame(in, l3, ln, 1);
	cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_OK);
	cr_assert_eq(gem_pkt_build_udp(AF_INET, &s.src, &s.grp, 1, 2, pl, 1445, 8, l3,
				       sizeof(l3), &ln), 0);
	n = tagged_frame(in, l3, ln, 2);
	cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_SHOT);
	cr_assert_eq(counter(GEM_C_TX_MTU), 1);
}

/* ---- what a replay costs the receiver (docs/SECURITY.md 3.5) ---------------- */

static __u32 run_time(int fd, const uint8_t *in, size_t len, int repeat, int want)
{
	uint8_t out[FRAME_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = repeat);

	cr_assert_eq(bpf_prog_test_run_opts(fd, &o), 0);
	cr_assert_eq((int)o.retval, want);
	return o.duration;
}

/* Prints the ingress cost per packet (ns, BPF_PROG_TEST_RUN's average) of a
 * fresh packet, a replay, a forgery and an unknown key id, 1400-byte payload,
 * every suite.  Asserts the verdicts and counters only: speed is not
 * asserted. */
Test(dataplane, replay_cost_table)
{
	enum { NF = 64, REP = 2000 };
	static uint8_t sealed[NF][FRAME_MAX];
	uint8_t pl[1400], in[FRAME_MAX], t[FRAME_MAX];
	size_t n, sn[NF];

	fill(pl, sizeof(pl), 12);
	printf("ingress cost per packet, 1400-byte payload (ns, BPF_PROG_TEST_RUN average)\n");
	printf("%-12s %10s %10s %10s %10s\n", "suite", "open", "replay", "bad tag", "key id");
	for (unsigned suite = 1; suite <= 3; suite++) {
		__u64 open = 0, before = counter(GEM_C_RX_REPLAY);
		__u32 rep, bad, kid;
		struct stream s;

		mkstream_default(&s, AF_INET);
		set_keys(&s, suite, (uint16_t)suite);
		n = udp_frame(in, &s, pl, sizeof(pl));
		for (int i = 0; i < NF; i++)
			cr_assert_eq(run(eg_fd, in, n, sealed[i], &sn[i]), TC_ACT_OK);
		for (int i = 0; i < NF; i++)
			open += run_time(in_fd, sealed[i], sn[i], 1, XDP_PASS);
		rep = run_time(in_fd, sealed[NF - 1], sn[NF - 1], REP, XDP_DROP);
		cr_assert_eq(counter(GEM_C_RX_REPLAY) - before, REP);
		memcpy(t, sealed[0], sn[0]);
		t[sn[0] - 1] ^= 1;
		bad = run_time(in_fd, t, sn[0], REP, XDP_DROP);
		t[sn[0] - 1] ^= 1;
		t[14 + 28 + 3] ^= 0x40;	/* key id */
		kid = run_time(in_fd, t, sn[0], REP, XDP_DROP);
		printf("%-12s %10llu %10u %10u %10u\n", suite == 1 ? "hmac-sha256" :
		       suite == 2 ? "cmac" : "poly1305", (unsigned long long)(open / NF), rep, bad, kid);
	}
	fflush(stdout);
}

/* Unloading a withdrawn key id (docs/PROTOCOL.md 10.5): only that slot goes,
 * the other key id keeps opening with its replay window; the last one takes
 * the entry with it. */
Test(dataplane, rx_unload_one_key_id_then_the_entry)
{
	struct stream s;
	uint8_t pl[20] = { 0 }, in[FRAME_MAX], p1[FRAME_MAX], p2[FRAME_MAX], out[FRAME_MAX];
	struct gem_rx_stream v;
	size_t n, l1, l2, on;
	__u32 cur, prev;

	mkstream(&s, AF_INET, "10.0.0.1", "239.1.1.1");
	set_group(&s, 1);
	n = udp_frame(in, &s, pl, sizeof(pl));
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 1, 1, K.sek), 0);
	cr_assert_eq(run(eg_fd, in, n, p1, &l1), TC_ACT_OK);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 1, 2, K.sek), 0);
	cr_assert_eq(run(eg_fd, in, n, p2, &l2), TC_ACT_OK);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 0, 1, K.sek), 0);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 0, 2, K.sek), 0);
	cr_assert_eq(run(in_fd, p2, l2, out, &on), XDP_PASS);

	/* not held: nothing changes */
	cr_assert_eq(gem_dp_unload_rx_sek(ctl_fd, &s.sg, 3), -ENOENT);
	/* key id 2 (the current one) goes; 1 stays and becomes current */
	cr_assert_eq(gem_dp_unload_rx_sek(ctl_fd, &s.sg, 2), 0);
	rx_kids(&s, &cur, &prev);
	cr_assert(cur == 1 && prev == GEM_KEY_ID_NONE, "after unloading 2: cur %u prev %u", cur,
		  prev);
	cr_assert_eq(run(in_fd, p1, l1, out, &on), XDP_PASS);
	cr_assert_eq(run(in_fd, p1, l1, out, &on), XDP_DROP, "key id 1's window was lost");
	cr_assert_eq(counter(GEM_C_RX_REPLAY), 1);
	cr_assert_eq(run(in_fd, p2, l2, out, &on), XDP_DROP);
	cr_assert_eq(counter(GEM_C_RX_KEY_ID), 1);
	cr_assert_eq(gem_dp_unload_rx_sek(ctl_fd, &s.sg, 2), -ENOENT);
	/* the last key id: the entry is gone, packets have no key */
	cr_assert_eq(gem_dp_unload_rx_sek(ctl_fd, &s.sg, 1), 0);
	cr_assert_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.gem_rx), &s.sg, &v), -ENOENT);
	cr_assert_eq(run(in_fd, p1, l1, out, &on), XDP_DROP);
	cr_assert_eq(counter(GEM_C_RX_NO_KEY), 1);
	cr_assert_eq(gem_dp_unload_rx_sek(ctl_fd, &s.sg, 1), -ENOENT);
	/* and the stream can be keyed again */
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 0, 2, K.sek), 0);
	cr_assert_eq(run(in_fd, p2, l2, out, &on), XDP_PASS);
}

/* An idle egress stream is forgotten: no key, its next packet dropped and
 * reported again; a new key starts the packet numbers at the clock again,
 * above the old ones. */
Test(dataplane, tx_delete_forgets_the_stream)
{
	struct stream s;
	uint8_t pl[20] = { 0 }, in[FRAME_MAX], out[FRAME_MAX];
	struct gem_tx_stream v;
	struct ring_buffer *rb;
	size_t n, on;
	uint64_t pn0;
	int events = 0;

	mkstream(&s, AF_INET6, "fd00::1", "ff3e::1:1");
	set_group(&s, 1);
	n = udp_frame(in, &s, pl, sizeof(pl));
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 1, 1, K.sek), 0);
	cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_OK);
	pn0 = tx_next_pn(&s);
	cr_assert_eq(gem_dp_del_tx(ctl_fd, &s.sg), 0);
	cr_assert_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.gem_tx), &s.sg, &v), -ENOENT);
	cr_assert_eq(gem_dp_del_tx(ctl_fd, &s.sg), -ENOENT);
	ev_sg = &s.sg;
	ev_count = &events;
	rb = ring_buffer__new(bpf_map__fd(skel->maps.gem_events), on_event, NULL, NULL);
	cr_assert_not_null(rb);
	cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_SHOT);
	cr_assert_eq(counter(GEM_C_TX_NO_KEY), 1);
	ring_buffer__consume(rb);
	cr_assert_eq(events, 1, "the forgotten stream is reported again, got %d events", events);
	ring_buffer__free(rb);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 1, 1, K.sek), 0);
	cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_OK);
	cr_assert_gt(tx_next_pn(&s), pn0, "pn restarted below the old entry's");
}

/* ---- group filter (gem_gfilter, issue 16) ---------------------------------------- */

/* The filter bucket of a 16-byte group address, as gem_common.h specifies it
 * (not the data plane's code): the XOR of its four 32-bit words in memory
 * order, times 0x9e3779b1 modulo 2^32, the top 12 bits. */
static unsigned ref_bucket16(const uint8_t a[16])
{
	uint32_t w, x = 0;

	for (int i = 0; i < 4; i++) {
		memcpy(&w, a + 4 * i, 4);
		x ^= w;
	}
	return (uint32_t)(x * 0x9e3779b1u) >> 20;
}

/* The bucket of a stream's group, from its address (IPv4: ::ffff:a.b.c.d). */
static unsigned ref_bucket(const struct stream *s)
{
	uint8_t a[16] = { 0 };

	if (s->family == AF_INET) {
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &s->grp.v4, 4);
	} else {
		memcpy(a, &s->grp.v6, 16);
	}
	return ref_bucket16(a);
}

/* One packet of s sealed (checked against the reference) and opened. */
static void sealed_and_opened(const struct stream *s, unsigned suite, size_t L)
{
	roundtrip(s, suite, 1, tx_next_pn(s), L, 1);
}

static struct gem_gfilter gf;

static void read_filter(void)
{
	__u32 z = 0;

	cr_assert_eq(GEM_GF_BUCKETS, 4096);
	cr_assert_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.gem_gfilter), &z, &gf), 0);
}

/* Every bucket counts exactly the groups gem_groups holds in it; returns how
 * many groups there are. */
static unsigned check_filter_exact(void)
{
	static unsigned want[4096];
	int fd = bpf_map__fd(skel->maps.gem_groups);
	struct gem_addr k, *prev = NULL;
	unsigned n = 0;

	memset(want, 0, sizeof(want));
	while (bpf_map_get_next_key(fd, prev, &k) == 0) {
		want[ref_bucket16(k.a)]++;
		n++;
		prev = &k;
	}
	read_filter();
	for (unsigned b = 0; b < 4096; b++)
		cr_assert_eq(gf.n[b], want[b], "bucket %u counts %u, gem_groups holds %u", b,
			     gf.n[b], want[b]);
	return n;
}

/* Egress and ingress leave a packet of s untouched (unprotected). */
static void passes_in_clear(const struct stream *s)
{
	uint8_t pl[64], in[FRAME_MAX], out[FRAME_MAX];
	size_t n, on;

	fill(pl, sizeof(pl), 9);
	n = udp_frame(in, s, pl, sizeof(pl));
	cr_assert_eq(run(eg_fd, in, n, out, &on), TC_ACT_OK);
	cr_assert(on == n && !memcmp(in, out, n), "egress changed an unprotected packet");
	cr_assert_eq(run(in_fd, in, n, out, &on), XDP_PASS);
	cr_assert(on == n && !memcmp(in, out, n), "ingress changed an unprotected packet");
}

/* A group of the given family (239.x.y.z or ff3e::x:y) other than `not`
 * in bucket b; the search starts at candidate *from (NULL: 1) and *from is
 * left after the one found, so calls in a row find distinct groups. */
static void find_in_bucket(struct stream *out, int family, unsigned b, const struct stream *not,
			   unsigned *from)
{
	char a[64];

	for (unsigned i = from ? *from : 1; i < 1u << 20; i++) {
		if (family == AF_INET)
			snprintf(a, sizeof(a), "239.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255,
				 i & 255);
		else
			snprintf(a, sizeof(a), "ff3e::%x:%x", i >> 16, i & 0xffff);
		mkstream(out, family, family == AF_INET ? "10.0.0.1" : "fd00::1", a);
		if (ref_bucket(out) == b && memcmp(&out->sg.grp, &not->sg.grp, 16)) {
			if (from)
				*from = i + 1;
			return;
		}
	}
	cr_assert_fail("no group found in bucket %u", b);
}

/* gem_ctl counts groups in (set) and out (del): a fresh data plane has
 * none, an update of a group does not count it twice, a deleted group's
 * traffic passes in clear again. */
Test(dataplane, group_filter_counts_follow_groups)
{
	struct stream s4, s6;

	read_filter();
	for (unsigned b = 0; b < 4096; b++)
		cr_assert_eq(gf.n[b], 0);
	mkstream_default(&s4, AF_INET);
	mkstream_default(&s6, AF_INET6);
	cr_assert_neq(ref_bucket(&s4), ref_bucket(&s6), "the test wants two buckets");
	set_keys(&s4, 1, 1);
	set_keys(&s6, 3, 1);
	cr_assert_eq(check_filter_exact(), 2);
	read_filter();
	cr_assert_eq(gf.n[ref_bucket(&s4)], 1);
	cr_assert_eq(gf.n[ref_bucket(&s6)], 1);
	set_group(&s4, 2);	/* an update: still one group */
	set_group(&s4, 1);
	cr_assert_eq(check_filter_exact(), 2);
	sealed_and_opened(&s4, 1, 100);
	sealed_and_opened(&s6, 3, 100);

	cr_assert_eq(gem_dp_del_group(ctl_fd, &s4.sg.grp), 0);
	cr_assert_eq(gem_dp_del_group(ctl_fd, &s4.sg.grp), -ENOENT);
	cr_assert_eq(check_filter_exact(), 1);
	read_filter();
	cr_assert_eq(gf.n[ref_bucket(&s4)], 0);
	passes_in_clear(&s4);
	sealed_and_opened(&s6, 3, 100);
	cr_assert_eq(gem_dp_del_group(ctl_fd, &s6.sg.grp), 0);
	cr_assert_eq(check_filter_exact(), 0);
	passes_in_clear(&s6);
}

/* Groups sharing a bucket: the filter only says "maybe", the hash lookup
 * decides; a bucket stays counted while one of its groups is left. */
Test(dataplane, group_filter_shared_bucket)
{
	struct stream a, b, c;
	unsigned bk;

	mkstream_default(&a, AF_INET);
	bk = ref_bucket(&a);
	find_in_bucket(&b, AF_INET, bk, &a, NULL);
	find_in_bucket(&c, AF_INET6, bk, &a, NULL);
	set_keys(&a, 1, 1);
	passes_in_clear(&b);	/* its bucket is counted, it is not protected */
	passes_in_clear(&c);
	sealed_and_opened(&a, 1, 64);
	set_keys(&b, 3, 1);
	set_keys(&c, 4, 1);
	read_filter();
	cr_assert_eq(gf.n[bk], 3);
	cr_assert_eq(gem_dp_del_group(ctl_fd, &a.sg.grp), 0);
	read_filter();
	cr_assert_eq(gf.n[bk], 2);
	passes_in_clear(&a);
	sealed_and_opened(&b, 3, 64);
	sealed_and_opened(&c, 4, 64);
	cr_assert_eq(gem_dp_del_group(ctl_fd, &b.sg.grp), 0);
	sealed_and_opened(&c, 4, 64);
	cr_assert_eq(gem_dp_del_group(ctl_fd, &c.sg.grp), 0);
	cr_assert_eq(check_filter_exact(), 0);
}

/* A group the full map cannot take is not counted; random adds and deletes
 * (many in shared buckets) keep every count exact. */
Test(dataplane, group_filter_full_map_and_random_changes)
{
	struct stream s, pool[48];
	unsigned seed = 16, from4 = 1, from6 = 1;
	char a[64];
	int r;

	for (unsigned i = 0; i < 1024; i++) {
		snprintf(a, sizeof(a), "239.200.%u.%u", i >> 8, i & 255);
		mkstream(&s, AF_INET, "10.0.0.1", a);
		r = gem_dp_set_group(ctl_fd, &s.sg.grp, 3, NULL, 0);
		cr_assert_eq(r, 0, "group %u: %d", i, r);
	}
	mkstream(&s, AF_INET, "10.0.0.1", "239.201.0.1");
	cr_assert_eq(gem_dp_set_group(ctl_fd, &s.sg.grp, 3, NULL, 0), -ENOMEM);
	cr_assert_eq(check_filter_exact(), 1024);
	for (unsigned i = 0; i < 1024; i++) {
		snprintf(a, sizeof(a), "239.200.%u.%u", i >> 8, i & 255);
		mkstream(&s, AF_INET, "10.0.0.1", a);
		cr_assert_eq(gem_dp_del_group(ctl_fd, &s.sg.grp), 0);
	}
	cr_assert_eq(check_filter_exact(), 0);

	/* 16 groups in one bucket, 16 in another, 16 anywhere */
	mkstream_default(&pool[0], AF_INET);
	mkstream_default(&pool[16], AF_INET6);
	for (int i = 1; i < 16; i++)
		find_in_bucket(&pool[i], i & 1 ? AF_INET6 : AF_INET, ref_bucket(&pool[0]),
			       &pool[0], i & 1 ? &from6 : &from4);
	from6 = 1;
	for (int i = 17; i < 32; i++)
		find_in_bucket(&pool[i], AF_INET6, ref_bucket(&pool[16]), &pool[16], &from6);
	for (int i = 32; i < 48; i++) {
		snprintf(a, sizeof(a), "ff3e::77:%x", i);
		mkstream(&pool[i], AF_INET6, "fd00::1", a);
	}
	for (int i = 0; i < 48; i++)
		for (int j = 0; j < i; j++)
			cr_assert_neq(memcmp(&pool[i].sg.grp, &pool[j].sg.grp, 16), 0);
	for (int op = 0; op < 400; op++) {
		int i;

		seed = seed * 1103515245u + 12345u;
		i = (int)((seed >> 16) % 48);
		if ((seed >> 8) & 1)
			r = gem_dp_set_group(ctl_fd, &pool[i].sg.grp, 3, NULL, 0);
		else
			r = gem_dp_del_group(ctl_fd, &pool[i].sg.grp);
		cr_assert(r == 0 || r == -ENOENT, "op %d: %d", op, r);
		check_filter_exact();
	}
}

/* ---- group MAC keys of two GAK epochs (issue 15: exclusion) --------------------- */

static const uint8_t GAK_EPOCHS[32] = {
	0x47, 0x41, 0x4b, 0x2d, 0x65, 0x70, 0x6f, 0x63, 0x68, 0x73, 0x01, 0x02, 0x03, 0x04,
	0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12,
	0x13, 0x14, 0x15, 0x16,
};

/* K with the group MAC key of `epoch`, derived from GAK_EPOCHS as gemctl
 * group add/key --key-file does (docs/KEYS.md 3). */
static void epoch_keys(struct gem_ref_keys *k, const struct stream *s, unsigned suite,
		       uint32_t epoch)
{
	*k = K;
	memset(k->mac_key, 0, sizeof(k->mac_key));
	memset(k->cmac_key, 0, sizeof(k->cmac_key));
	cr_assert_eq(gem_keys_dp_key_from_gak(GAK_EPOCHS, s->sg.grp.a, epoch, suite,
					      suite == GEM_SUITE_CMAC ? k->cmac_key : k->mac_key,
					      gem_suite_key_len(suite)), 0);
}

static const uint8_t *mac_key_of(const struct gem_ref_keys *k, unsigned suite)
{
	return suite == GEM_SUITE_CMAC ? k->cmac_key : k->mac_key;
}

/* A frame sealed by the reference (another sender) under keys k. */
static size_t ref_sealed(uint8_t *f, const struct stream *s, unsigned suite,
			 const struct gem_ref_keys *k, uint16_t kid, uint64_t pn, size_t L)
{
	uint8_t pl[512], in[FRAME_MAX], sealed[FRAME_MAX];
	size_t n, sn;

	fill(pl, L, (unsigned)pn);
	n = udp_frame(in, s, pl, L);
	cr_assert_eq(gem_ref_seal(in + 14, n - 14, sealed, sizeof(sealed), &sn, suite, kid, pn,
				  k), 0);
	return frame(f, sealed, sn);
}

static __u64 counter_of(struct gem_bpf *sk, enum gem_counter c)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 v[ncpu], sum = 0;
	__u32 key = c;

	cr_assert_eq(bpf_map_lookup_elem(bpf_map__fd(sk->maps.gem_counters), &key, v), 0);
	for (int i = 0; i < ncpu; i++)
		sum += v[i];
	return sum;
}

/* ingress verdict on f, and whether it was accepted under the non-tx key */
static int open_under(int fd, struct gem_bpf *sk, const uint8_t *f, size_t fn, int *prev)
{
	uint8_t out[FRAME_MAX];
	__u64 p0 = counter_of(sk, GEM_C_RX_MAC_PREV);
	size_t on;
	int r = run(fd, f, fn, out, &on);

	*prev = (int)(counter_of(sk, GEM_C_RX_MAC_PREV) - p0);
	return r;
}

static void group_value(const struct stream *s, struct gem_group *v)
{
	cr_assert_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.gem_groups), &s->sg.grp, v), 0);
}

/* Egress seals one packet; its tag must be the reference's under keys k. */
static void egress_under(const struct stream *s, unsigned suite, const struct gem_ref_keys *k,
			 uint16_t kid, uint8_t *sealed, size_t *sn)
{
	uint8_t pl[100], in[FRAME_MAX], ref[FRAME_MAX];
	uint64_t pn = tx_next_pn(s);
	size_t n, rn;

	fill(pl, sizeof(pl), 3);
	n = udp_frame(in, s, pl, sizeof(pl));
	cr_assert_eq(run(eg_fd, in, n, sealed, sn), TC_ACT_OK);
	cr_assert_eq(gem_ref_seal(in + 14, n - 14, ref, sizeof(ref), &rn, suite, kid, pn, k), 0);
	cr_assert_eq(*sn, rn + 14);
	cr_assert_eq(memcmp(sealed + 14, ref, rn), 0, "egress tag is not the reference's under "
		     "the expected epoch's key (suite %u)", suite);
}

/* A group moves from epoch 7 to 8: accept 8, use 8, retire 7.  No packet of
 * either epoch is lost during the overlap; egress switches exactly at `use`;
 * after `retire` epoch 7 fails; a node holding only epoch 7 cannot verify
 * what is sealed after the switch. */
static void mac_epochs(unsigned suite, int family)
{
	struct gem_ref_keys k7, k8;
	uint8_t f[FRAME_MAX], sealed8[FRAME_MAX], sealed7[FRAME_MAX];
	size_t fn, sn8, sn7;
	size_t klen = gem_suite_key_len(suite);
	struct gem_group v;
	struct stream s, b;	/* s: this node's stream; b: another sender's */
	uint64_t pn = 5000;
	int prev, r;
	__u64 bad;

	mkstream_default(&s, family);
	if (family == AF_INET)
		mkstream(&b, AF_INET, "10.0.0.2", "239.1.1.1");
	else
		mkstream(&b, AF_INET6, "fd00::2", "ff3e::1:1");
	epoch_keys(&k7, &s, suite, 7);
	epoch_keys(&k8, &s, suite, 8);
	cr_assert_neq(memcmp(mac_key_of(&k7, suite), mac_key_of(&k8, suite), klen), 0);
	cr_assert_eq(gem_dp_set_group_epoch(ctl_fd, &s.sg.grp, suite, 7, mac_key_of(&k7, suite),
					    klen), 0);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 1, 1, K.sek), 0);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &s.sg, 0, 1, K.sek), 0);
	cr_assert_eq(gem_dp_set_sek(ctl_fd, &b.sg, 0, 1, K.sek), 0);
	group_value(&s, &v);
	cr_assert_eq(v.loaded, 1u << v.tx);
	cr_assert_eq(v.epoch[v.tx], 7);

	/* epoch 7 only: 7 opens, 8 is a bad tag */
	egress_under(&s, suite, &k7, 1, sealed7, &sn7);
	cr_assert_eq(open_under(in_fd, skel, sealed7, sn7, &prev), XDP_PASS);
	cr_assert_eq(prev, 0);
	fn = ref_sealed(f, &b, suite, &k8, 1, pn++, 33);
	bad = counter(GEM_C_RX_BAD_TAG);
	cr_assert_eq(open_under(in_fd, skel, f, fn, &prev), XDP_DROP);
	cr_assert_eq(counter(GEM_C_RX_BAD_TAG), bad + 1);

	/* accept 8: both open, 8 under the other slot; egress still under 7 */
	cr_assert_eq(gem_dp_group_key(ctl_fd, &s.sg.grp, 8, suite, mac_key_of(&k8, suite), klen), 0);
	group_value(&s, &v);
	cr_assert_eq(v.loaded, 3u);
	cr_assert_eq(v.epoch[v.tx], 7);
	cr_assert_eq(v.epoch[v.tx ^ 1], 8);
	fn = ref_sealed(f, &b, suite, &k8, 1, pn++, 33);
	cr_assert_eq(open_under(in_fd, skel, f, fn, &prev), XDP_PASS);
	cr_assert_eq(prev, 1, "epoch 8 accepted under the non-tx slot");
	fn = ref_sealed(f, &b, suite, &k7, 1, pn++, 0);
	cr_assert_eq(open_under(in_fd, skel, f, fn, &prev), XDP_PASS);
	cr_assert_eq(prev, 0);
	egress_under(&s, suite, &k7, 1, sealed7, &sn7);
	/* a forgery under neither key: one rx_bad_tag, nothing accepted */
	fn = ref_sealed(f, &b, suite, &k8, 1, pn++, 20);
	f[fn - 1] ^= 1;
	bad = counter(GEM_C_RX_BAD_TAG);
	cr_assert_eq(open_under(in_fd, skel, f, fn, &prev), XDP_DROP);
	cr_assert_eq(counter(GEM_C_RX_BAD_TAG), bad + 1);
	cr_assert_eq(prev, 0);

	/* what the slots refuse */
	cr_assert_eq(gem_dp_group_key(ctl_fd, &s.sg.grp, 7, suite, mac_key_of(&k7, suite), klen),
		     -EEXIST, "the tx epoch is not loaded again as the other");
	cr_assert_eq(gem_dp_group_key(ctl_fd, &s.sg.grp, 9, suite, mac_key_of(&k8, suite), klen),
		     -ENOSPC, "a third epoch needs a retire first");
	cr_assert_eq(gem_dp_group_key(ctl_fd, &s.sg.grp, 8, suite == 1 ? 2 : 1, K.cmac_key,
				      suite == 1 ? 16 : 32), -EINVAL, "another suite's key");
	cr_assert_eq(gem_dp_group_retire(ctl_fd, &s.sg.grp, 7), -EPERM, "the tx key stays");
	cr_assert_eq(gem_dp_group_retire(ctl_fd, &s.sg.grp, 9), -ENOENT);
	cr_assert_eq(gem_dp_group_use(ctl_fd, &s.sg.grp, 9), -ENOENT);
	/* the same epoch again replaces the other slot's key: still opens */
	cr_assert_eq(gem_dp_group_key(ctl_fd, &s.sg.grp, 8, suite, mac_key_of(&k8, suite), klen), 0);

	/* use 8: egress MACs under 8; ingress still opens 7 (the other slot now) */
	cr_assert_eq(gem_dp_group_use(ctl_fd, &s.sg.grp, 8), 0);
	cr_assert_eq(gem_dp_group_use(ctl_fd, &s.sg.grp, 8), 0, "use is idempotent");
	group_value(&s, &v);
	cr_assert_eq(v.epoch[v.tx], 8);
	cr_assert_eq(v.loaded, 3u);
	egress_under(&s, suite, &k8, 1, sealed8, &sn8);
	cr_assert_eq(open_under(in_fd, skel, sealed8, sn8, &prev), XDP_PASS);
	cr_assert_eq(prev, 0);
	fn = ref_sealed(f, &b, suite, &k7, 1, pn++, 47);
	cr_assert_eq(open_under(in_fd, skel, f, fn, &prev), XDP_PASS);
	cr_assert_eq(prev, 1, "epoch 7 still accepted until retired");

	/* a node holding only epoch 7 (a member excluded: it never got epoch 8's
	 * GAK) opens 7 and fails every packet sealed after the switch */
	{
		struct gem_bpf *x = gem_bpf__open_and_load();
		int xctl, xin;

		cr_assert_not_null(x);
		xctl = bpf_program__fd(x->progs.gem_ctl);
		xin = bpf_program__fd(x->progs.gem_ingress);
		cr_assert_eq(gem_dp_set_group_epoch(xctl, &s.sg.grp, suite, 7,
						    mac_key_of(&k7, suite), klen), 0);
		cr_assert_eq(gem_dp_set_sek(xctl, &s.sg, 0, 1, K.sek), 0);
		cr_assert_eq(open_under(xin, x, sealed7, sn7, &prev), XDP_PASS);
		cr_assert_eq(open_under(xin, x, sealed8, sn8, &prev), XDP_DROP);
		cr_assert_eq(counter_of(x, GEM_C_RX_BAD_TAG), 1);
		cr_assert_eq(counter_of(x, GEM_C_RX_OPENED), 1);
		gem_bpf__destroy(x);
	}

	/* retire 7: its packets fail, its key is wiped; 8 opens */
	r = gem_dp_group_retire(ctl_fd, &s.sg.grp, 7);
	cr_assert_eq(r, 0, "retire: %d", r);
	group_value(&s, &v);
	cr_assert_eq(v.loaded, 1u << v.tx);
	cr_assert_eq(v.epoch[v.tx], 8);
	{
		static const struct gem_mac_key zero;

		cr_assert_eq(memcmp(&v.mk[v.tx ^ 1], &zero, sizeof(zero)), 0, "retired key wiped");
		cr_assert_neq(memcmp(&v.mk[v.tx], &zero, sizeof(zero)), 0);
	}
	fn = ref_sealed(f, &b, suite, &k7, 1, pn++, 47);
	bad = counter(GEM_C_RX_BAD_TAG);
	cr_assert_eq(open_under(in_fd, skel, f, fn, &prev), XDP_DROP);
	cr_assert_eq(counter(GEM_C_RX_BAD_TAG), bad + 1);
	fn = ref_sealed(f, &b, suite, &k8, 1, pn++, 47);
	cr_assert_eq(open_under(in_fd, skel, f, fn, &prev), XDP_PASS);
	cr_assert_eq(prev, 0);
	cr_assert_eq(gem_dp_group_retire(ctl_fd, &s.sg.grp, 7), -ENOENT);
	cr_assert_eq(gem_dp_group_use(ctl_fd, &s.sg.grp, 7), -ENOENT);

	/* group add again (set_group, epoch 9): the only key, in the tx slot */
	{
		struct gem_ref_keys k9;

		epoch_keys(&k9, &s, suite, 9);
		cr_assert_eq(gem_dp_group_key(ctl_fd, &s.sg.grp, 7, suite, mac_key_of(&k7, suite),
					      klen), 0);
		cr_assert_eq(gem_dp_set_group_epoch(ctl_fd, &s.sg.grp, suite, 9,
						    mac_key_of(&k9, suite), klen), 0);
		group_value(&s, &v);
		cr_assert_eq(v.loaded, 1u << v.tx, "set_group drops every other key");
		cr_assert_eq(v.epoch[v.tx], 9);
		egress_under(&s, suite, &k9, 1, sealed8, &sn8);
	}
}

Test(dataplane, mac_epochs_hmac_ipv4) { mac_epochs(GEM_SUITE_HMAC_SHA256, AF_INET); }
Test(dataplane, mac_epochs_hmac_ipv6) { mac_epochs(GEM_SUITE_HMAC_SHA256, AF_INET6); }
Test(dataplane, mac_epochs_cmac_ipv4) { mac_epochs(GEM_SUITE_CMAC, AF_INET); }
Test(dataplane, mac_epochs_cmac_ipv6) { mac_epochs(GEM_SUITE_CMAC, AF_INET6); }

/* Suites 3 and 4 have no group MAC key: no slot is loaded, the key ops
 * refuse, and nothing but the per-packet key verifies. */
Test(dataplane, mac_epochs_none_for_suites_3_4)
{
	struct gem_group v;
	struct stream s;

	mkstream_default(&s, AF_INET);
	for (unsigned su = GEM_SUITE_POLY1305; su <= GEM_SUITE_CHACHA20_POLY1305; su++) {
		cr_assert_eq(gem_dp_set_group_epoch(ctl_fd, &s.sg.grp, su, 3, NULL, 0), 0);
		group_value(&s, &v);
		cr_assert_eq(v.loaded, 0u, "suite %u", su);
		cr_assert_eq(gem_dp_group_key(ctl_fd, &s.sg.grp, 4, su, K.mac_key, 32), -EOPNOTSUPP);
		cr_assert_eq(gem_dp_group_use(ctl_fd, &s.sg.grp, 3), -EOPNOTSUPP);
		cr_assert_eq(gem_dp_group_retire(ctl_fd, &s.sg.grp, 3), -EOPNOTSUPP);
		set_keys(&s, su, (uint16_t)su);
		roundtrip(&s, su, (uint16_t)su, tx_next_pn(&s), 40, 1);
	}
	/* a suite-1 group's key op with a suite-1 key of the wrong length, and
	 * an unknown group */
	cr_assert_eq(gem_dp_set_group(ctl_fd, &s.sg.grp, 1, K.mac_key, 32), 0);
	cr_assert_eq(gem_dp_group_key(ctl_fd, &s.sg.grp, 4, 1, K.mac_key, 16), -EINVAL);
	mkstream(&s, AF_INET, "10.0.0.1", "239.9.9.9");
	cr_assert_eq(gem_dp_group_key(ctl_fd, &s.sg.grp, 4, 1, K.mac_key, 32), -ENOENT);
	cr_assert_eq(gem_dp_group_use(ctl_fd, &s.sg.grp, 4), -ENOENT);
}

/* A transit group (GEM_GROUP_F_TRANSIT: protected, no key here): ingress and
 * WAN egress relay its sealed packets unchanged and drop what is not
 * GEM-shaped; the LAN egress program (gem-load attach --role lan) drops
 * every packet of it, passes a keyed group's plaintext and unprotected
 * traffic unchanged (docs/PROTOCOL.md 2.1). */
static void transit(int family)
{
	int lan_fd = bpf_program__fd(skel->progs.gem_lan_egress);
	struct stream t, k, u;
	struct gem_group gv;
	uint8_t pl[64], in[FRAME_MAX], sealed[FRAME_MAX], out[FRAME_MAX], bad[FRAME_MAX];
	size_t n, sn, on, pn;

	fill(pl, sizeof(pl), 3);
	pl[0] = 0x55;	/* not GEM version 1 */
	if (family == AF_INET) {
		mkstream(&t, AF_INET, "10.0.0.1", "239.1.1.1");
		mkstream(&k, AF_INET, "10.0.0.1", "239.1.1.2");
		mkstream(&u, AF_INET, "10.0.0.1", "239.9.9.9");
	} else {
		mkstream(&t, AF_INET6, "fd00::1", "ff3e::1:1");
		mkstream(&k, AF_INET6, "fd00::1", "ff3e::1:2");
		mkstream(&u, AF_INET6, "fd00::1", "ff3e::9");
	}
	/* a packet sealed while the group was keyed here (suite 2: a CMAC
	 * context the transit entry must release) */
	set_keys(&t, 2, 1);
	pn = udp_frame(in, &t, pl, sizeof(pl));
	cr_assert_eq(run(eg_fd, in, pn, sealed, &sn), TC_ACT_OK);
	cr_assert_eq(sn, pn + GEM_OVERHEAD);
	cr_assert_eq(gem_dp_set_group_transit(ctl_fd, &t.sg.grp, GEM_SUITE_MAX + 1), -EPROTONOSUPPORT);
	cr_assert_eq(gem_dp_set_group_transit(ctl_fd, &t.sg.grp, 2), 0);
	cr_assert_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.gem_groups), &t.sg.grp, &gv), 0);
	cr_assert_eq(gv.flags, GEM_GROUP_F_ACTIVE | GEM_GROUP_F_TRANSIT);
	cr_assert_eq(gv.suite, 2);
	cr_assert_eq(gv.loaded, 0, "transit entry kept a key slot");
	for (size_t i = 0; i < sizeof(gv.mk); i++)
		cr_assert_eq(((const uint8_t *)gv.mk)[i], 0, "transit entry kept MAC key bytes");

	/* WAN: ingress passes the sealed packet as it is, egress relays it */
	cr_assert_eq(run(in_fd, sealed, sn, out, &on), XDP_PASS);
	cr_assert_eq(on, sn);
	cr_assert_eq(memcmp(out, sealed, sn), 0, "ingress changed a transit packet");
	cr_assert_eq(counter(GEM_C_RX_TRANSIT), 1);
	cr_assert_eq(counter(GEM_C_RX_OPENED) + counter(GEM_C_RX_PASS), 0);
	cr_assert_eq(run(eg_fd, sealed, sn, out, &on), TC_ACT_OK);
	cr_assert_eq(on, sn);
	cr_assert_eq(memcmp(out, sealed, sn), 0, "egress changed a transit packet");
	cr_assert_eq(counter(GEM_C_TX_TRANSIT), 1);
	cr_assert_eq(counter(GEM_C_TX_SEALED), 1);	/* the one sealed while keyed */
	/* not GEM-shaped: dropped both ways (no key to seal with here) */
	cr_assert_eq(run(eg_fd, in, pn, out, &on), TC_ACT_SHOT);
	cr_assert_eq(counter(GEM_C_TX_TRANSIT_CLEAR), 1);
	cr_assert_eq(counter(GEM_C_TX_NO_KEY), 0);
	cr_assert_eq(run(in_fd, in, pn, out, &on), XDP_DROP);
	cr_assert_eq(counter(GEM_C_RX_VERSION), 1);
	memcpy(bad, sealed, sn);
	bad[14 + (family == AF_INET ? 20 : 40) + 8 + 1] = 1;	/* suite 1, the group's is 2 */
	cr_assert_eq(run(in_fd, bad, sn, out, &on), XDP_DROP);
	cr_assert_eq(counter(GEM_C_RX_SUITE), 1);
	cr_assert_eq(run(eg_fd, bad, sn, out, &on), TC_ACT_SHOT);
	cr_assert_eq(counter(GEM_C_TX_TRANSIT_CLEAR), 2);
	n = udp_frame(bad, &t, pl, 10);	/* shorter than the GEM overhead */
	cr_assert_eq(run(in_fd, bad, n, out, &on), XDP_DROP);
	cr_assert_eq(counter(GEM_C_RX_MALFORMED), 1);

	/* LAN: nothing of the transit group, sealed or not */
	cr_assert_eq(run(lan_fd, sealed, sn, out, &on), TC_ACT_SHOT);
	cr_assert_eq(counter(GEM_C_LAN_SEALED_DROP), 1);
	cr_assert_eq(run(lan_fd, in, pn, out, &on), TC_ACT_SHOT);
	cr_assert_eq(counter(GEM_C_LAN_SEALED_DROP), 2);
	/* a keyed group's plaintext passes unchanged, counted */
	set_keys(&k, 1, 1);
	n = udp_frame(in, &k, pl, sizeof(pl));
	cr_assert_eq(run(lan_fd, in, n, out, &on), TC_ACT_OK);
	cr_assert_eq(on, n);
	cr_assert_eq(memcmp(in, out, n), 0);
	cr_assert_eq(counter(GEM_C_LAN_PASS), 1);
	/* an unprotected group: unchanged, uncounted */
	n = udp_frame(in, &u, pl, sizeof(pl));
	cr_assert_eq(run(lan_fd, in, n, out, &on), TC_ACT_OK);
	cr_assert_eq(on, n);
	cr_assert_eq(memcmp(in, out, n), 0);
	cr_assert_eq(counter(GEM_C_LAN_PASS), 1);
	cr_assert_eq(counter(GEM_C_LAN_SEALED_DROP), 2);
	/* a LAN device's traffic never reaches the WAN counters */
	cr_assert_eq(counter(GEM_C_TX_PASS), 0);
}

Test(dataplane, transit_group_relayed_sealed_never_to_lan_ipv4) { transit(AF_INET); }
Test(dataplane, transit_group_relayed_sealed_never_to_lan_ipv6) { transit(AF_INET6); }

/* IGMP to a transit group passes the LAN program (membership, not data);
 * a transit group of suite 0 relays any suite. */
Test(dataplane, transit_group_igmp_and_any_suite)
{
	int lan_fd = bpf_program__fd(skel->progs.gem_lan_egress);
	struct stream t;
	uint8_t pl[64], in[FRAME_MAX], sealed[FRAME_MAX], out[FRAME_MAX];
	size_t n, sn, on;
	uint16_t c16;

	fill(pl, sizeof(pl), 1);
	mkstream(&t, AF_INET, "10.0.0.1", "239.1.1.1");
	set_keys(&t, 4, 1);
	n = udp_frame(in, &t, pl, sizeof(pl));
	cr_assert_eq(run(eg_fd, in, n, sealed, &sn), TC_ACT_OK);
	cr_assert_eq(gem_dp_set_group_transit(ctl_fd, &t.sg.grp, 0), 0);
	cr_assert_eq(run(in_fd, sealed, sn, out, &on), XDP_PASS);
	cr_assert_eq(counter(GEM_C_RX_TRANSIT), 1);
	cr_assert_eq(run(lan_fd, sealed, sn, out, &on), TC_ACT_SHOT);
	in[14 + 9] = 2; in[24] = in[25] = 0;
	c16 = gem_pkt_ipv4_hdr_csum(in + 14, 20); memcpy(in + 24, &c16, 2);
	cr_assert_eq(run(lan_fd, in, n, out, &on), TC_ACT_OK);
	cr_assert_eq(memcmp(in, out, n), 0);
	cr_assert_eq(counter(GEM_C_LAN_SEALED_DROP), 1);
	/* back to keyed: opened again */
	set_group(&t, 4);
	cr_assert_eq(run(in_fd, sealed, sn, out, &on), XDP_PASS);
	cr_assert_eq(counter(GEM_C_RX_OPENED), 1);
	cr_assert_eq(on, n);
}
