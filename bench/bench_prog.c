// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Per-packet cost of GEM's BPF programs, through BPF_PROG_TEST_RUN, against
 * baselines measured in the same run (docs/PERFORMANCE.md explains the
 * method; bench/run.sh runs this and writes the tables there):
 *
 *   GEM egress / ingress on a protected packet, against the crypto floor
 *   (bpf/gem_bench.bpf.c: the same kfuncs and MAC code on the same bytes,
 *   nothing else); GEM on unprotected traffic, against an empty program.
 *
 * BPF_PROG_TEST_RUN's `repeat` runs the program again on the packet the
 * previous repetition left behind, so GEM's programs on protected packets
 * run with repeat = 1 on a fresh packet each call (egress seals N distinct
 * packets, ingress opens exactly those) and the kernel's per-call duration
 * is summed; the floors run the same way, interleaved packet by packet.
 * Programs that leave the packet alone (empty, GEM on unprotected traffic,
 * GEM on a replayed packet) run with repeat.  Every figure is per round;
 * the tables give the median over rounds with min-max.
 *
 * Usage: bench_prog [-r ROUNDS] [-n PACKETS] [-p REPEAT] [-U] [-A OBJ]   (root)
 * Markdown on stdout, progress on stderr.  -U measures only unprotected
 * traffic (the "Unprotected traffic" table, seconds instead of minutes).
 * -A OBJ also loads OBJ (another build's gem.bpf.o, e.g. the code before a
 * change) every round, with the same groups, and measures its egress and
 * ingress on unprotected traffic in the same interleaved loop: before/after
 * in one run, each against the same empty program.  With -P DIR:SUITE:FAM:PAYLOAD it
 * only runs GEM's program and the crypto floor on that cell, printing
 * nothing: something to profile (bench/profile.sh).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "bench/gem_bench.h"	/* before the skeleton, which uses its structs */
#include "gem.skel.h"
#include "gem_bench.skel.h"
#include "gem_dp.h"
#include "gem_pkt.h"

#define FRAME_MAX	2048
#define MAX_ROUNDS	64
#define NSIZES		3
#define NFAM		2
#define NSUITE		BENCH_SUITES	/* GEM suites 1..4 */

static const size_t sizes[NSIZES] = { 64, 512, 1400 };
static const char *const fam_name[NFAM] = { "IPv4", "IPv6" };
static const char *const suite_name[NSUITE] = { "1 HMAC", "2 CMAC", "3 Poly1305",
						 "4 ChaCha20-Poly1305" };
#define SU_AEAD		3	/* index of suite 4: no AES */

static const uint8_t SEK[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
				 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
static const uint8_t MAC_KEY[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				     17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
				     31, 32 };
static const uint8_t SEK256[32] = { 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
				    0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90, 0x91, 0x92, 0x93,
				    0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d,
				    0x9e, 0x9f };
static const uint8_t CMAC_KEY[16] = { 0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
				      0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c };

static struct gem_bpf *gem;
static struct gem_bench_bpf *bb;
static int ctl_fd, eg_fd, in_fd, ftc_fd, fxdp_fd, etc_fd, exdp_fd;

/* ---- per-round results ------------------------------------------------------ */

enum { EG, IN, NDIR };

struct prot {			/* one (suite, family, size), ns per packet */
	double gem[NDIR], floor[NDIR], empty1[NDIR];
	double floor_generic;	/* egress floor with aes-generic */
	double replay;		/* ingress on an already-accepted packet */
};
struct pass {			/* one (direction, family, size) */
	double empty, mcast, ucast;
	double a_mcast, a_ucast;	/* the -A object */
};
struct ossl {			/* user-space OpenSSL, one size */
	double suite[NSUITE], gcm;
};

static struct prot P[MAX_ROUNDS][NSUITE][NFAM][NSIZES];
static struct pass Q[MAX_ROUNDS][NDIR][NFAM][NSIZES];
static struct ossl O[MAX_ROUNDS][NSIZES];
/* egress floor in parts (IPv4, repeat), minus the empty program */
enum { PT_LOAD, PT_KS, PT_XOR, PT_MAC, PT_ALL, NPARTS };
static double B[MAX_ROUNDS][NSUITE][NSIZES][NPARTS];

static int rounds = 7, npkt = 10000, prepeat = 10000;
/* -A: another build of gem.bpf.o, measured on unprotected traffic only */
static const char *alt_path;
static struct bpf_object *alt;
static int a_eg_fd = -1, a_in_fd = -1;

static void die(const char *what)
{
	fprintf(stderr, "bench_prog: %s\n", what);
	exit(1);
}

/* ---- streams and packets ------------------------------------------------------ */

struct stream {
	int family;
	union { struct in_addr v4; struct in6_addr v6; } src, grp;
	struct gem_sg sg;
};

static void mkstream(struct stream *s, int family, const char *src, const char *grp)
{
	memset(s, 0, sizeof(*s));
	s->family = family;
	if (inet_pton(family, src, &s->src) != 1 || inet_pton(family, grp, &s->grp) != 1)
		die("bad address");
	gem_addr_from(&s->sg.src, family, &s->src);
	gem_addr_from(&s->sg.grp, family, &s->grp);
}

/* Ethernet + IP + UDP frame of s carrying L bytes of payload. */
static size_t udp_frame(uint8_t *f, const struct stream *s, size_t L)
{
	static const uint8_t mac[12] = { 0x01, 0x00, 0x5e, 0x01, 0x01, 0x01,
					 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	uint8_t pl[FRAME_MAX];
	uint16_t proto = htons(s->family == AF_INET ? ETH_P_IP : ETH_P_IPV6);
	size_t n;

	for (size_t i = 0; i < L; i++)
		pl[i] = (uint8_t)(i * 7 + 3);
	if (gem_pkt_build_udp(s->family, &s->src, &s->grp, 5001, 5002, pl, L, 8,
			      f + 14, FRAME_MAX - 14, &n))
		die("gem_pkt_build_udp failed");
	memcpy(f, mac, 12);
	memcpy(f + 12, &proto, 2);
	return n + 14;
}

/* One BPF_PROG_TEST_RUN; returns the kernel's duration (ns per repetition). */
static double run(int fd, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len,
		  int repeat, unsigned expect)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = out ? FRAME_MAX : 0, .repeat = repeat);

	if (bpf_prog_test_run_opts(fd, &o)) {
		fprintf(stderr, "bench_prog: BPF_PROG_TEST_RUN: %s\n", strerror(errno));
		exit(1);
	}
	if (o.retval != expect) {
		fprintf(stderr, "bench_prog: program fd %d returned %u, expected %u (len %zu)\n",
			fd, o.retval, expect, len);
		exit(1);
	}
	if (out_len)
		*out_len = o.data_size_out;
	return o.duration;
}

static __u64 counter(enum gem_counter c)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 v[ncpu], sum = 0;
	__u32 k = c;

	if (bpf_map_lookup_elem(bpf_map__fd(gem->maps.gem_counters), &k, v))
		die("reading gem_counters failed");
	for (int i = 0; i < ncpu; i++)
		sum += v[i];
	return sum;
}

/* ---- setup ---------------------------------------------------------------------- */

static struct stream prot_s[NSUITE][NFAM], mcast_s[NFAM], ucast_s[NFAM];

static void bench_keys(unsigned suite, int generic)
{
	struct bench_setup_req *req = &bb->bss->setup_req;
	LIBBPF_OPTS(bpf_test_run_opts, o);

	memset(req, 0, sizeof(*req));
	req->slot = suite - 1 + NSUITE * generic;
	req->suite = suite;
	req->generic = generic;
	memcpy(req->sek, SEK, 16);
	memcpy(req->cmac_key, CMAC_KEY, 16);
	memcpy(req->sek256, SEK256, 32);
	gem_hmac_states(MAC_KEY, req->hmac_istate, req->hmac_ostate);
	if (gem_cmac_subkeys(CMAC_KEY, req->cmac_k1, req->cmac_k2))
		die("CMAC subkeys failed");
	if (bpf_prog_test_run_opts(bpf_program__fd(bb->progs.bench_setup), &o) || o.retval) {
		fprintf(stderr, "bench_prog: bench_setup slot %u (%s): %d %s\n", req->slot,
			generic ? "aes-generic" : "aes", (int)o.retval, strerror(errno));
		exit(1);
	}
}

static void setup_once(void)
{
	static const char *const src[NFAM] = { "10.0.0.1", "fd00::1" };
	static const char *const grp[NSUITE][NFAM] = { { "239.1.1.1", "ff3e::1:1" },
						       { "239.1.1.2", "ff3e::1:2" },
						       { "239.1.1.3", "ff3e::1:3" },
						       { "239.1.1.4", "ff3e::1:4" } };
	static const char *const mgrp[NFAM] = { "239.9.9.9", "ff3e::9:9" };
	static const char *const ucast[NFAM] = { "10.0.0.2", "fd00::2" };
	int fam[NFAM] = { AF_INET, AF_INET6 };

	if (geteuid() != 0)
		die("needs root (BPF, network namespace)");
	if (unshare(CLONE_NEWNET))
		die("unshare(CLONE_NEWNET) failed");
	/* egress checks the device MTU: test_run's device is this netns's lo */
	if (system("ip link set lo mtu 1500 up"))
		die("ip link set lo mtu 1500 up failed");
	for (int f = 0; f < NFAM; f++) {
		mkstream(&mcast_s[f], fam[f], src[f], mgrp[f]);
		mkstream(&ucast_s[f], fam[f], src[f], ucast[f]);
		for (int su = 0; su < NSUITE; su++)
			mkstream(&prot_s[su][f], fam[f], src[f], grp[su][f]);
	}
}

/* The -A object: the same groups as GEM's (no SEKs: unprotected traffic
 * never reaches a stream lookup). */
static void load_alt(void)
{
	struct bpf_program *eg, *in, *ctl;

	alt = bpf_object__open_file(alt_path, NULL);
	if (!alt || bpf_object__load(alt))
		die("loading the -A object failed");
	eg = bpf_object__find_program_by_name(alt, "gem_egress");
	in = bpf_object__find_program_by_name(alt, "gem_ingress");
	ctl = bpf_object__find_program_by_name(alt, "gem_ctl");
	if (!eg || !in || !ctl)
		die("the -A object has no gem_egress/gem_ingress/gem_ctl");
	a_eg_fd = bpf_program__fd(eg);
	a_in_fd = bpf_program__fd(in);
	for (int f = 0; f < NFAM; f++)
		for (int su = 0; su < NSUITE; su++) {
			struct stream *s = &prot_s[su][f];
			int r = su == 0 ? gem_dp_set_group(bpf_program__fd(ctl), &s->sg.grp, 1,
							   MAC_KEY, 32)
			      : su == 1 ? gem_dp_set_group(bpf_program__fd(ctl), &s->sg.grp, 2,
							   CMAC_KEY, 16)
					: gem_dp_set_group(bpf_program__fd(ctl), &s->sg.grp,
							   (unsigned)su + 1, NULL, 0);

			if (r)
				die("loading the -A object's groups failed");
		}
}

/* Load both objects and their keys.  Done afresh every round: the kernel
 * places each JIT image at a random offset and each load gets new per-CPU
 * scratch memory, and that layout alone moves the cost of the same BPF code
 * by several percent (docs/PERFORMANCE.md); across rounds it averages out. */
static void load(void)
{
	gem = gem_bpf__open_and_load();
	if (!gem)
		die("loading build/gem.bpf.o failed (kernel without BPF crypto kfuncs?)");
	bb = gem_bench_bpf__open_and_load();
	if (!bb)
		die("loading build/gem_bench.bpf.o failed");
	ctl_fd = bpf_program__fd(gem->progs.gem_ctl);
	eg_fd = bpf_program__fd(gem->progs.gem_egress);
	in_fd = bpf_program__fd(gem->progs.gem_ingress);
	ftc_fd = bpf_program__fd(bb->progs.bench_floor_tc);
	fxdp_fd = bpf_program__fd(bb->progs.bench_floor_xdp);
	etc_fd = bpf_program__fd(bb->progs.bench_empty_tc);
	exdp_fd = bpf_program__fd(bb->progs.bench_empty_xdp);

	for (int f = 0; f < NFAM; f++) {
		for (int su = 0; su < NSUITE; su++) {
			struct stream *s = &prot_s[su][f];
			int r;

			const uint8_t *sek = su == SU_AEAD ? SEK256 : SEK;
			size_t sl = gem_suite_sek_len((unsigned)su + 1);

			r = su == 0 ? gem_dp_set_group(ctl_fd, &s->sg.grp, 1, MAC_KEY, 32)
			  : su == 1 ? gem_dp_set_group(ctl_fd, &s->sg.grp, 2, CMAC_KEY, 16)
				    : gem_dp_set_group(ctl_fd, &s->sg.grp, (unsigned)su + 1, NULL, 0);
			if (r || gem_dp_set_sek_len(ctl_fd, &s->sg, 1, 1, sek, sl) ||
			    gem_dp_set_sek_len(ctl_fd, &s->sg, 0, 1, sek, sl))
				die("loading GEM keys failed");
		}
	}
	for (unsigned su = 1; su <= NSUITE; su++) {
		bench_keys(su, 0);
		bench_keys(su, 1);
	}
	if (alt_path)
		load_alt();
}

static void unload(void)
{
	bpf_object__close(alt);
	alt = NULL;
	gem_bench_bpf__destroy(bb);
	gem_bpf__destroy(gem);
	bb = NULL;
	gem = NULL;
}

/* test_run does not restore the input between repetitions: show it, since
 * the method depends on it. */
static void method_check(void)
{
	uint8_t in[FRAME_MAX], out[FRAME_MAX];
	__u64 sealed = counter(GEM_C_TX_SEALED), mtu = counter(GEM_C_TX_MTU);
	__u64 opened, replay = counter(GEM_C_RX_REPLAY), ver = counter(GEM_C_RX_VERSION);
	size_t n = udp_frame(in, &prot_s[0][0], 1400), on;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)n,
		    .data_out = out, .data_size_out = FRAME_MAX, .repeat = 5);

	if (bpf_prog_test_run_opts(eg_fd, &o))
		die("test_run egress failed");
	printf("Method check: `gem_egress` with repeat=5 on one 1400-byte IPv4 packet: "
	       "sealed %llu times, dropped %llu times as too big for the MTU, output %u bytes "
	       "(input %zu): each repetition works on the previous one's output.",
	       (unsigned long long)(counter(GEM_C_TX_SEALED) - sealed),
	       (unsigned long long)(counter(GEM_C_TX_MTU) - mtu), o.data_size_out, n);
	/* one sealed packet, opened with repeat=5 */
	run(eg_fd, in, n, out, &on, 1, TC_ACT_OK);
	opened = counter(GEM_C_RX_OPENED);
	{
		LIBBPF_OPTS(bpf_test_run_opts, oi, .data_in = out, .data_size_in = (__u32)on,
			    .repeat = 5);

		if (bpf_prog_test_run_opts(in_fd, &oi))
			die("test_run ingress failed");
	}
	printf(" `gem_ingress` with repeat=5 on one sealed packet: opened %llu, then dropped "
	       "%llu as replay and %llu as bad version (the plaintext left by the first run).\n\n",
	       (unsigned long long)(counter(GEM_C_RX_OPENED) - opened),
	       (unsigned long long)(counter(GEM_C_RX_REPLAY) - replay),
	       (unsigned long long)(counter(GEM_C_RX_VERSION) - ver));
}

/* ---- measurements ---------------------------------------------------------------- */

static void set_cfg(int slot, const struct stream *s, size_t off, size_t L)
{
	struct bench_cfg *c = &bb->bss->cfg;
	uint16_t sp = htons(5001), dp = htons(5002);

	c->slot = (__u32)slot;
	c->off = (__u32)off;
	c->len = (__u32)L;
	c->parts = 0;
	memcpy(c->aad, &s->sg, 32);
	memcpy(c->aad + 32, &sp, 2);
	memcpy(c->aad + 34, &dp, 2);
}

/* Protected packets of one (suite, family, size): per packet, the empty
 * programs, the floors (aes, aes-generic at egress) and GEM, alternating
 * which runs first; then GEM ingress on a replayed packet (repeat). */
static void measure_prot(int r, int su, int f, int z)
{
	const struct stream *s = &prot_s[su][f];
	struct prot *p = &P[r][su][f][z];
	size_t L = sizes[z], off = 14 + (f ? 40 : 20) + 8, n, sn, on;
	uint8_t in[FRAME_MAX], sealed[FRAME_MAX], out[FRAME_MAX];
	double e[NDIR] = { 0 }, fl[NDIR] = { 0 }, g[NDIR] = { 0 }, fg = 0;
	__u64 opened = counter(GEM_C_RX_OPENED), replay;

	n = udp_frame(in, s, L);
	bb->bss->floor_errors = 0;
	for (int i = 0; i < npkt; i++) {
		if (i & 1) {
			g[EG] += run(eg_fd, in, n, sealed, &sn, 1, TC_ACT_OK);
			set_cfg(su + NSUITE, s, off, L);
			fg += run(ftc_fd, in, n, NULL, NULL, 1, TC_ACT_OK);
			set_cfg(su, s, off, L);
			fl[EG] += run(ftc_fd, in, n, NULL, NULL, 1, TC_ACT_OK);
			e[EG] += run(etc_fd, in, n, NULL, NULL, 1, TC_ACT_OK);
			g[IN] += run(in_fd, sealed, sn, out, &on, 1, XDP_PASS);
			fl[IN] += run(fxdp_fd, sealed, sn, NULL, NULL, 1, XDP_PASS);
			e[IN] += run(exdp_fd, sealed, sn, NULL, NULL, 1, XDP_PASS);
		} else {
			e[EG] += run(etc_fd, in, n, NULL, NULL, 1, TC_ACT_OK);
			set_cfg(su, s, off, L);
			fl[EG] += run(ftc_fd, in, n, NULL, NULL, 1, TC_ACT_OK);
			set_cfg(su + NSUITE, s, off, L);
			fg += run(ftc_fd, in, n, NULL, NULL, 1, TC_ACT_OK);
			g[EG] += run(eg_fd, in, n, sealed, &sn, 1, TC_ACT_OK);
			set_cfg(su, s, off, L);
			e[IN] += run(exdp_fd, sealed, sn, NULL, NULL, 1, XDP_PASS);
			fl[IN] += run(fxdp_fd, sealed, sn, NULL, NULL, 1, XDP_PASS);
			g[IN] += run(in_fd, sealed, sn, out, &on, 1, XDP_PASS);
		}
		if (sn != n + GEM_OVERHEAD || on != n)
			die("sealed or opened packet has the wrong length");
		if (i == 0 && memcmp(out, in, n))
			die("ingress did not restore the packet egress sealed");
	}
	if (counter(GEM_C_RX_OPENED) - opened != (__u64)npkt || bb->bss->floor_errors)
		die("not every packet was opened, or a floor program failed");
	for (int d = 0; d < NDIR; d++) {
		p->gem[d] = g[d] / npkt;
		p->floor[d] = fl[d] / npkt;
		p->empty1[d] = e[d] / npkt;
	}
	p->floor_generic = fg / npkt;
	/* the last sealed packet again: MAC verified, then a replay drop */
	replay = counter(GEM_C_RX_REPLAY);
	p->replay = run(in_fd, sealed, sn, NULL, NULL, prepeat, XDP_DROP);
	if (counter(GEM_C_RX_REPLAY) - replay != (__u64)prepeat)
		die("replayed packets were not all dropped as replays");
}

/* Unprotected traffic: GEM leaves it alone, so repeat works.  The order of
 * the programs alternates with the round. */
static void measure_pass(int r, int f, int z)
{
	uint8_t m[FRAME_MAX], u[FRAME_MAX];
	size_t mn = udp_frame(m, &mcast_s[f], sizes[z]), un = udp_frame(u, &ucast_s[f], sizes[z]);
	struct pass *q[NDIR] = { &Q[r][EG][f][z], &Q[r][IN][f][z] };

	for (int d = 0; d < NDIR; d++) {
		int fd = d == EG ? eg_fd : in_fd, afd = d == EG ? a_eg_fd : a_in_fd;
		int efd = d == EG ? etc_fd : exdp_fd;
		unsigned ok = d == EG ? TC_ACT_OK : XDP_PASS;
		struct pass *e = q[d];

		if (r & 1) {
			e->mcast = run(fd, m, mn, NULL, NULL, prepeat, ok);
			e->ucast = run(fd, u, un, NULL, NULL, prepeat, ok);
			if (alt) {
				e->a_mcast = run(afd, m, mn, NULL, NULL, prepeat, ok);
				e->a_ucast = run(afd, u, un, NULL, NULL, prepeat, ok);
			}
			e->empty = run(efd, m, mn, NULL, NULL, prepeat, ok);
		} else {
			e->empty = run(efd, m, mn, NULL, NULL, prepeat, ok);
			if (alt) {
				e->a_mcast = run(afd, m, mn, NULL, NULL, prepeat, ok);
				e->a_ucast = run(afd, u, un, NULL, NULL, prepeat, ok);
			}
			e->mcast = run(fd, m, mn, NULL, NULL, prepeat, ok);
			e->ucast = run(fd, u, un, NULL, NULL, prepeat, ok);
		}
	}
}

/* The egress floor's parts one at a time (it leaves the packet alone, so
 * repeat works), IPv4. */
static void measure_parts(int r, int su, int z)
{
	static const __u32 mask[NPARTS] = { BENCH_P_LOAD, BENCH_P_KS, BENCH_P_XOR, BENCH_P_MAC, 0 };
	uint8_t in[FRAME_MAX];
	size_t n = udp_frame(in, &prot_s[su][0], sizes[z]);
	int rep = prepeat / 5 ? prepeat / 5 : 1;
	double e;

	set_cfg(su, &prot_s[su][0], 14 + 20 + 8, sizes[z]);
	e = run(etc_fd, in, n, NULL, NULL, rep, TC_ACT_OK);
	for (int k = 0; k < NPARTS; k++) {
		bb->bss->cfg.parts = mask[k];
		B[r][su][z][k] = run(ftc_fd, in, n, NULL, NULL, rep, TC_ACT_OK) - e;
	}
	bb->bss->cfg.parts = 0;
}

/* -P: GEM's program and its crypto floor on one cell, interleaved, nothing
 * else timed or printed: for a profiler (bench/profile.sh), which tells the
 * two apart by the program in each sample's call chain. */
static void profile(const char *spec)
{
	char dir[8];
	unsigned su, fam;
	size_t L, n, sn = 0, on, off;
	const struct stream *s;
	uint8_t in[FRAME_MAX], out[FRAME_MAX], *sealed;
	int ingress;

	if (sscanf(spec, "%7[a-z]:%u:%u:%zu", dir, &su, &fam, &L) != 4 || su < 1 ||
	    su > NSUITE || (fam != 4 && fam != 6) || L < 1 || L > 1444 ||
	    (strcmp(dir, "egress") && strcmp(dir, "ingress")))
		die("-P wants egress|ingress:SUITE:4|6:PAYLOAD, e.g. -P egress:1:4:64");
	ingress = !strcmp(dir, "ingress");
	s = &prot_s[su - 1][fam == 6];
	n = udp_frame(in, s, L);
	off = 14 + (fam == 6 ? 40 : 20) + 8;
	set_cfg((int)su - 1, s, off, L);
	sealed = malloc((size_t)npkt * FRAME_MAX);
	if (!sealed)
		die("out of memory");
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < npkt; i++) {
			run(eg_fd, in, n, sealed + (size_t)i * FRAME_MAX, &sn, 1, TC_ACT_OK);
			if (!ingress)
				run(ftc_fd, in, n, NULL, NULL, 1, TC_ACT_OK);
		}
		for (int i = 0; ingress && i < npkt; i++) {
			run(in_fd, sealed + (size_t)i * FRAME_MAX, sn, out, &on, 1, XDP_PASS);
			run(fxdp_fd, sealed + (size_t)i * FRAME_MAX, sn, NULL, NULL, 1, XDP_PASS);
		}
	}
	free(sealed);
}

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

/* The same constructions in user space with OpenSSL (AES-NI, SHA-NI where
 * the CPU has them): what the cryptography costs when it runs on the
 * hardware.  Per packet: a new IV, CTR over the payload (suite 3: and the
 * two blocks of the one-time key), the MAC over AAD || ciphertext (suite 3:
 * keyed per packet); and ESP's AES-128-GCM for comparison. */
static void measure_openssl(int r, int z)
{
	static uint8_t buf[FRAME_MAX], ct[FRAME_MAX], tag[32];
	size_t L = sizes[z], tl;
	int iters = npkt < 10000 ? npkt : 10000, outl;
	uint8_t iv[16] = { 0 };
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new(), *gcm = EVP_CIPHER_CTX_new();
	EVP_CIPHER_CTX *cp4 = EVP_CIPHER_CTX_new();
	EVP_MAC *hm = EVP_MAC_fetch(NULL, "HMAC", NULL), *cm = EVP_MAC_fetch(NULL, "CMAC", NULL);
	EVP_MAC *pm = EVP_MAC_fetch(NULL, "POLY1305", NULL);
	EVP_MAC_CTX *h = hm ? EVP_MAC_CTX_new(hm) : NULL, *cc = cm ? EVP_MAC_CTX_new(cm) : NULL;
	EVP_MAC_CTX *pc = pm ? EVP_MAC_CTX_new(pm) : NULL;
	OSSL_PARAM hp[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
			    OSSL_PARAM_construct_end() };
	OSSL_PARAM cp[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER,
							     "AES-128-CBC", 0),
			    OSSL_PARAM_construct_end() };
	double t0;

	if (!c || !gcm || !cp4 || !h || !cc || !pc ||
	    EVP_EncryptInit_ex(cp4, EVP_chacha20_poly1305(), NULL, SEK256, iv + 4) != 1 ||
	    EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, SEK, iv) != 1 ||
	    EVP_EncryptInit_ex(gcm, EVP_aes_128_gcm(), NULL, SEK, iv) != 1 ||
	    !EVP_MAC_init(h, MAC_KEY, 32, hp) || !EVP_MAC_init(cc, CMAC_KEY, 16, cp))
		die("OpenSSL setup failed");
	memset(buf, 0x5a, sizeof(buf));
	/* suite 4: the RFC 8439 AEAD, 48 bytes of AAD */
	t0 = now_ns();
	for (int i = 0; i < iters; i++) {
		iv[15] = (uint8_t)i;
		if (EVP_EncryptInit_ex(cp4, NULL, NULL, NULL, iv + 4) != 1 ||
		    EVP_EncryptUpdate(cp4, NULL, &outl, buf, 48) != 1 ||
		    EVP_EncryptUpdate(cp4, ct, &outl, buf + 48, (int)L) != 1 ||
		    EVP_EncryptFinal_ex(cp4, ct + outl, &outl) != 1 ||
		    EVP_CIPHER_CTX_ctrl(cp4, EVP_CTRL_AEAD_GET_TAG, 16, tag) != 1)
			die("OpenSSL ChaCha20-Poly1305 failed");
	}
	O[r][z].suite[SU_AEAD] = (now_ns() - t0) / iters;
	for (int su = 0; su < SU_AEAD; su++) {
		EVP_MAC_CTX *m = su == 0 ? h : su == 1 ? cc : pc;
		int otk = su == 2 ? 32 : 0;

		t0 = now_ns();
		for (int i = 0; i < iters; i++) {
			iv[7] = (uint8_t)i;
			if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, iv) != 1 ||
			    EVP_EncryptUpdate(c, ct + 48 - otk, &outl, buf + 48 - otk,
					      (int)L + otk) != 1 ||
			    !EVP_MAC_init(m, otk ? ct + 16 : NULL, otk, NULL) ||
			    !EVP_MAC_update(m, ct, 48 + L + (otk ? 16 : 0)) ||
			    !EVP_MAC_final(m, tag, &tl, sizeof(tag)))
				die("OpenSSL failed");
		}
		O[r][z].suite[su] = (now_ns() - t0) / iters;
	}
	t0 = now_ns();
	for (int i = 0; i < iters; i++) {
		iv[7] = (uint8_t)i;
		if (EVP_EncryptInit_ex(gcm, NULL, NULL, NULL, iv) != 1 ||
		    EVP_EncryptUpdate(gcm, NULL, &outl, buf, 36) != 1 ||
		    EVP_EncryptUpdate(gcm, ct, &outl, buf + 48, (int)L) != 1 ||
		    EVP_EncryptFinal_ex(gcm, ct + outl, &outl) != 1 ||
		    EVP_CIPHER_CTX_ctrl(gcm, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
			die("OpenSSL GCM failed");
	}
	O[r][z].gcm = (now_ns() - t0) / iters;
	EVP_MAC_CTX_free(h);
	EVP_MAC_CTX_free(cc);
	EVP_MAC_CTX_free(pc);
	EVP_MAC_free(hm);
	EVP_MAC_free(cm);
	EVP_MAC_free(pm);
	EVP_CIPHER_CTX_free(c);
	EVP_CIPHER_CTX_free(gcm);
	EVP_CIPHER_CTX_free(cp4);
}

/* ---- statistics and tables --------------------------------------------------------- */

struct st { double med, min, max; };

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct st stats(const double *v, int n)
{
	double s[MAX_ROUNDS];
	struct st r;

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmpd);
	r.min = s[0];
	r.max = s[n - 1];
	r.med = n & 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	return r;
}

/* Collect expression `expr` (over round r) into v and return its stats. */
#define STATS(expr) ({							\
	double __v[MAX_ROUNDS];						\
	for (int r = 0; r < rounds; r++)				\
		__v[r] = (expr);					\
	stats(__v, rounds); })

static char *ns(char *b, struct st s)
{
	sprintf(b, "%.0f (%.0f–%.0f)", s.med, s.min, s.max);
	return b;
}

static char *ratio(char *b, struct st s)
{
	sprintf(b, "%.3f (%.3f–%.3f)", s.med, s.min, s.max);
	return b;
}

static const char *verdict(double v, double limit)
{
	return v <= limit ? "met" : "**missed**";
}

static void print_prot(int d)
{
	char b1[64], b2[64], b3[64], b4[64], b5[64];

	printf("\n#### %s: GEM on a protected packet vs the crypto floor\n\n",
	       d == EG ? "Egress (TC, `gem_egress`)" : "Ingress (XDP, `gem_ingress`)");
	printf("| suite | IP | payload B | GEM ns | floor ns | GEM − floor ns | "
	       "GEM/floor (net) | target | |\n");
	printf("|---|---|--:|--:|--:|--:|--:|--:|---|\n");
	for (int su = 0; su < NSUITE; su++)
		for (int f = 0; f < NFAM; f++)
			for (int z = 0; z < NSIZES; z++) {
				struct st g = STATS(P[r][su][f][z].gem[d]);
				struct st fl = STATS(P[r][su][f][z].floor[d]);
				struct st df = STATS(P[r][su][f][z].gem[d] - P[r][su][f][z].floor[d]);
				struct st q = STATS((P[r][su][f][z].gem[d] - P[r][su][f][z].empty1[d]) /
						    (P[r][su][f][z].floor[d] - P[r][su][f][z].empty1[d]));
				double lim = sizes[z] >= 1400 ? 1.10 : sizes[z] <= 64 ? 1.5 : 0;

				printf("| %s | %s | %zu | %s | %s | %s | %s | %s | %s |\n",
				       suite_name[su], fam_name[f], sizes[z], ns(b1, g), ns(b2, fl),
				       ns(b3, df), ratio(b4, q),
				       lim ? (sprintf(b5, "≤ %.2f", lim), b5) : "–",
				       lim ? verdict(q.med, lim) : "");
			}
}

/* The unprotected-traffic table; with -A, the other object's columns too. */
static void print_pass(void)
{
	char b1[64], b2[64], b3[64], b4[64], b5[64], b6[64], b7[64], b8[64], b9[64];

	printf("\n#### Unprotected traffic: GEM vs an empty program (repeat=%d)\n\n", prepeat);
	if (alt)
		printf("Also measured in the same loop: `%s` (-A), same groups.\n\n", alt_path);
	printf("| direction | IP | payload B | empty ns | GEM, unprotected group ns | "
	       "added ns | target ≤ 30 ns | GEM, unicast ns | added ns |%s\n",
	       alt ? " -A object, unprotected group ns | added ns | -A object, unicast ns | "
		     "added ns |" : "");
	printf("|---|---|--:|--:|--:|--:|---|--:|--:|%s\n", alt ? "--:|--:|--:|--:|" : "");
	for (int d = 0; d < NDIR; d++)
		for (int f = 0; f < NFAM; f++)
			for (int z = 0; z < NSIZES; z++) {
				struct st e = STATS(Q[r][d][f][z].empty);
				struct st m = STATS(Q[r][d][f][z].mcast);
				struct st dm = STATS(Q[r][d][f][z].mcast - Q[r][d][f][z].empty);
				struct st u = STATS(Q[r][d][f][z].ucast);
				struct st du = STATS(Q[r][d][f][z].ucast - Q[r][d][f][z].empty);

				printf("| %s | %s | %zu | %s | %s | %s | %s | %s | %s |",
				       d == EG ? "egress" : "ingress", fam_name[f], sizes[z],
				       ns(b1, e), ns(b2, m), ns(b3, dm), verdict(dm.med, 30),
				       ns(b4, u), ns(b5, du));
				if (alt) {
					struct st am = STATS(Q[r][d][f][z].a_mcast);
					struct st adm = STATS(Q[r][d][f][z].a_mcast -
							      Q[r][d][f][z].empty);
					struct st au = STATS(Q[r][d][f][z].a_ucast);
					struct st adu = STATS(Q[r][d][f][z].a_ucast -
							      Q[r][d][f][z].empty);

					printf(" %s | %s | %s | %s |", ns(b6, am), ns(b7, adm),
					       ns(b8, au), ns(b9, adu));
				}
				printf("\n");
			}
}

static void print_tables(void)
{
	char b1[64], b2[64], b3[64], b4[64], b5[64], b6[64];

	print_prot(EG);
	print_prot(IN);

	printf("\n#### Ingress: rejecting a replayed packet (MAC verified, no decryption)\n\n");
	printf("| suite | IP | payload B | replayed ns | full open ns | replayed/full |\n");
	printf("|---|---|--:|--:|--:|--:|\n");
	for (int su = 0; su < NSUITE; su++)
		for (int f = 0; f < NFAM; f++)
			for (int z = 0; z < NSIZES; z++) {
				struct st rp = STATS(P[r][su][f][z].replay);
				struct st g = STATS(P[r][su][f][z].gem[IN]);
				struct st q = STATS(P[r][su][f][z].replay / P[r][su][f][z].gem[IN]);

				printf("| %s | %s | %zu | %s | %s | %s |\n", suite_name[su],
				       fam_name[f], sizes[z], ns(b1, rp), ns(b2, g), ratio(b3, q));
			}

	print_pass();

	printf("\n#### Fixed per-call cost (empty program, repeat=1 vs repeat=%d)\n\n", prepeat);
	printf("| program | repeat=1 ns | repeat=%d ns |\n|---|--:|--:|\n", prepeat);
	for (int d = 0; d < NDIR; d++) {
		struct st e1 = STATS(P[r][0][0][0].empty1[d]);
		struct st en = STATS(Q[r][d][0][0].empty);

		printf("| empty %s | %s | %s |\n", d == EG ? "TC" : "XDP", ns(b1, e1), ns(b2, en));
	}

	printf("\n#### Where the crypto floor's time goes (egress floor, IPv4, one part at a "
	       "time, repeat=%d, empty program subtracted)\n\n", prepeat / 5 ? prepeat / 5 : 1);
	printf("| suite | payload B | load bytes ns | keystream: counter blocks + ecb(aes) "
	       "(suite 4: ChaCha20 in BPF) ns | "
	       "XOR + sum (BPF) ns | MAC ns | sum of parts ns | whole floor ns | "
	       "keystream ns/B | MAC ns/B |\n");
	printf("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
	for (int su = 0; su < NSUITE; su++)
		for (int z = 0; z < NSIZES; z++) {
			struct st x[NPARTS], sum;
			size_t L = sizes[z], nb = su == SU_AEAD ? ((L + 63) / 64 + 1) * 64
						 : su == 2 ? ((L + 15) / 16 + 2) * 16
							   : (L + 15) / 16 * 16;

			for (int k = 0; k < NPARTS; k++)
				x[k] = STATS(B[r][su][z][k]);
			sum = STATS(B[r][su][z][PT_LOAD] + B[r][su][z][PT_KS] +
				    B[r][su][z][PT_XOR] + B[r][su][z][PT_MAC]);
			printf("| %s | %zu | %s | %s | %s | %s | %s | %s | %.2f | %.2f |\n",
			       suite_name[su], L, ns(b1, x[PT_LOAD]), ns(b2, x[PT_KS]),
			       ns(b3, x[PT_XOR]), ns(b4, x[PT_MAC]), ns(b5, sum),
			       ns(b6, x[PT_ALL]), x[PT_KS].med / nb, x[PT_MAC].med / (48 + L));
		}

	printf("\n#### Kernel AES driver (egress crypto floor, IPv4): `aes` (= aes-fixed-time) "
	       "vs `aes-generic` (table-based, not constant-time)\n\n");
	printf("| suite | payload B | floor, aes ns | floor, aes-generic ns | generic/aes |\n");
	printf("|---|--:|--:|--:|--:|\n");
	for (int su = 0; su < SU_AEAD; su++)	/* suite 4 uses no AES */
		for (int z = 0; z < NSIZES; z++) {
			struct st a = STATS(P[r][su][0][z].floor[EG]);
			struct st g = STATS(P[r][su][0][z].floor_generic);
			struct st q = STATS(P[r][su][0][z].floor_generic / P[r][su][0][z].floor[EG]);

			printf("| %s | %zu | %s | %s | %s |\n", suite_name[su], sizes[z],
			       ns(b1, a), ns(b2, g), ratio(b3, q));
		}

	printf("\n#### The same cryptography in user space (OpenSSL %s on this CPU's AES/SHA "
	       "instructions, including OpenSSL's per-call overhead), informational\n\n",
	       OpenSSL_version(OPENSSL_VERSION_STRING));
	printf("| construction | payload B | OpenSSL ns | kernel crypto floor (egress, IPv4) ns | "
	       "kernel floor / OpenSSL |\n");
	printf("|---|--:|--:|--:|--:|\n");
	for (int su = 0; su < NSUITE; su++)
		for (int z = 0; z < NSIZES; z++) {
			struct st o = STATS(O[r][z].suite[su]);
			struct st f = STATS(P[r][su][0][z].floor[EG]);
			struct st q = STATS(P[r][su][0][z].floor[EG] / O[r][z].suite[su]);

			printf("| suite %s | %zu | %s | %s | %s |\n", suite_name[su], sizes[z],
			       ns(b1, o), ns(b2, f), ratio(b3, q));
		}
	for (int z = 0; z < NSIZES; z++) {
		struct st gc = STATS(O[r][z].gcm);

		printf("| AES-128-GCM (ESP's AEAD) | %zu | %s | | |\n", sizes[z], ns(b1, gc));
	}
}

int main(int argc, char **argv)
{
	double t0;
	int c;

	const char *prof = NULL;
	int only_pass = 0;

	while ((c = getopt(argc, argv, "r:n:p:P:UA:")) != -1) {
		switch (c) {
		case 'U': only_pass = 1; break;
		case 'A': alt_path = optarg; break;
		case 'P': prof = optarg; break;
		case 'r': rounds = atoi(optarg); break;
		case 'n': npkt = atoi(optarg); break;
		case 'p': prepeat = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-r ROUNDS] [-n PACKETS] [-p REPEAT] [-U] [-A OBJ]\n"
				"       %s -P egress|ingress:SUITE:4|6:PAYLOAD [-r ROUNDS] [-n PACKETS]"
				"   (for perf: bench/profile.sh)\n", argv[0], argv[0]);
			return 2;
		}
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || npkt < 1 || prepeat < 1)
		die("rounds must be 1..64, packets and repeat >= 1");
	setup_once();
	load();
	if (prof) {
		profile(prof);
		unload();
		return 0;
	}
	if (only_pass)
		printf("Rounds: %d, each with freshly loaded programs. Unprotected traffic only "
		       "(-U): repeat=%d per cell and round. Figures: median over rounds "
		       "(min–max).\n", rounds, prepeat);
	else
		printf("Rounds: %d, each with freshly loaded programs. Protected packets: %d "
		       "distinct packets per cell and round, one BPF_PROG_TEST_RUN each "
		       "(repeat=1). Unprotected, empty and replayed: repeat=%d per cell and "
		       "round. Figures: median over rounds (min–max).\n\n", rounds, npkt, prepeat);
	if (!only_pass)
		method_check();
	t0 = now_ns();
	for (int r = 0; r < rounds; r++) {
		fprintf(stderr, "bench_prog: round %d/%d\n", r + 1, rounds);
		if (r) {
			unload();
			load();
		}
		for (int su = 0; su < NSUITE && !only_pass; su++)
			for (int f = 0; f < NFAM; f++)
				for (int z = 0; z < NSIZES; z++)
					measure_prot(r, su, f, z);
		for (int f = 0; f < NFAM; f++)
			for (int z = 0; z < NSIZES; z++)
				measure_pass(r, f, z);
		if (only_pass)
			continue;
		for (int su = 0; su < NSUITE; su++)
			for (int z = 0; z < NSIZES; z++)
				measure_parts(r, su, z);
		for (int z = 0; z < NSIZES; z++)
			measure_openssl(r, z);
	}
	fprintf(stderr, "bench_prog: %.1f s\n", (now_ns() - t0) / 1e9);
	if (only_pass)
		print_pass();
	else
		print_tables();
	unload();
	return 0;
}
