// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Ingress cost of a group holding two MAC keys (suites 1, 2 during a move to
 * another GAK epoch, docs/PROTOCOL.md 5.3 and 6.1), through BPF_PROG_TEST_RUN
 * of gem_ingress with repeat (ns per packet, the kernel's own timing):
 *   - a forgery (tag flipped): one MAC with one key, two MACs with two;
 *   - a packet MACed under the tx key / under the accepted key, replayed (its
 *     tag verifies, then the replay window drops it: the MAC work of a valid
 *     packet without the decryption).
 * Median of the rounds.  Needs root.  Usage: mac_epochs [ROUNDS [REPEAT]]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "gem.skel.h"
#include "gem_dp.h"
#include "gem_pkt.h"
#include "gem_ref.h"

#define FRAME_MAX	2048
#define MAX_ROUNDS	64

static const uint8_t SEK[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
				 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
static const size_t sizes[] = { 64, 512, 1400 };
enum { F1, F2, V_TX, V_ACC, NM };	/* forged 1 key, forged 2 keys, valid tx, valid accepted */

static void die(const char *what)
{
	fprintf(stderr, "mac_epochs: %s\n", what);
	exit(1);
}

static double run(int fd, const uint8_t *in, size_t len, int repeat, unsigned expect)
{
	uint8_t out[FRAME_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = repeat);

	if (bpf_prog_test_run_opts(fd, &o))
		die(strerror(errno));
	if (o.retval != expect) {
		fprintf(stderr, "mac_epochs: verdict %u, expected %u\n", o.retval, expect);
		exit(1);
	}
	return o.duration;
}

/* Ethernet frame of a packet of (10.0.0.1, 239.1.1.1) sealed by the
 * reference under k, payload L. */
static size_t sealed(uint8_t *f, const struct gem_sg *sg, unsigned suite,
		     const struct gem_ref_keys *k, uint64_t pn, size_t L)
{
	static const uint8_t mac[12] = { 0x01, 0x00, 0x5e, 0x01, 0x01, 0x01,
					 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	uint8_t pl[FRAME_MAX], l3[FRAME_MAX];
	struct in_addr s, g;
	uint16_t proto = htons(ETH_P_IP);
	size_t n, sn;

	(void)sg;
	inet_pton(AF_INET, "10.0.0.1", &s);
	inet_pton(AF_INET, "239.1.1.1", &g);
	for (size_t i = 0; i < L; i++)
		pl[i] = (uint8_t)(i * 7 + 3);
	if (gem_pkt_build_udp(AF_INET, &s, &g, 5001, 5002, pl, L, 8, l3, sizeof(l3), &n) ||
	    gem_ref_seal(l3, n, f + 14, FRAME_MAX - 14, &sn, suite, 1, pn, k))
		die("building a packet failed");
	memcpy(f, mac, 12);
	memcpy(f + 12, &proto, 2);
	return sn + 14;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return n & 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 7, repeat = argc > 2 ? atoi(argv[2]) : 20000;
	static double R[2][3][NM][MAX_ROUNDS];
	struct gem_ref_keys k7 = { 0 }, k8 = { 0 };
	struct gem_addr grp;
	struct gem_sg sg;
	struct in_addr a;

	if (rounds < 1 || rounds > MAX_ROUNDS || repeat < 1)
		die("usage: mac_epochs [ROUNDS (1..64) [REPEAT]]");
	memcpy(k7.sek, SEK, 16);
	memcpy(k8.sek, SEK, 16);
	for (int i = 0; i < 32; i++) {
		k7.mac_key[i] = (uint8_t)(0x70 + i);
		k8.mac_key[i] = (uint8_t)(0x80 + i);
	}
	memcpy(k7.cmac_key, k7.mac_key, 16);
	memcpy(k8.cmac_key, k8.mac_key, 16);
	memset(&sg, 0, sizeof(sg));
	inet_pton(AF_INET, "10.0.0.1", &a);
	gem_addr_from(&sg.src, AF_INET, &a);
	inet_pton(AF_INET, "239.1.1.1", &a);
	gem_addr_from(&grp, AF_INET, &a);
	sg.grp = grp;

	for (int r = 0; r < rounds; r++)
		for (unsigned su = 1; su <= 2; su++)
			for (int z = 0; z < 3; z++) {
				struct gem_bpf *gem = gem_bpf__open_and_load();
				uint8_t p7[FRAME_MAX], p8[FRAME_MAX], fg[FRAME_MAX];
				size_t n7, n8, nf, kl = gem_suite_key_len(su);
				int ctl, in;

				if (!gem)
					die("loading gem.bpf.o failed (root, crypto kfuncs?)");
				ctl = bpf_program__fd(gem->progs.gem_ctl);
				in = bpf_program__fd(gem->progs.gem_ingress);
				if (gem_dp_set_group_epoch(ctl, &grp, su, 7, su == 1 ? k7.mac_key
							   : k7.cmac_key, kl) ||
				    gem_dp_set_sek(ctl, &sg, 0, 1, SEK))
					die("loading keys failed");
				n7 = sealed(p7, &sg, su, &k7, 1000, sizes[z]);
				n8 = sealed(p8, &sg, su, &k8, 1001, sizes[z]);
				nf = sealed(fg, &sg, su, &k7, 1002, sizes[z]);
				fg[nf - 1] ^= 1;
				run(in, p7, n7, 1, XDP_PASS);
				R[su - 1][z][F1][r] = run(in, fg, nf, repeat, XDP_DROP);
				if (gem_dp_group_key(ctl, &grp, 8, su, su == 1 ? k8.mac_key
						     : k8.cmac_key, kl))
					die("loading the accepted key failed");
				R[su - 1][z][F2][r] = run(in, fg, nf, repeat, XDP_DROP);
				R[su - 1][z][V_TX][r] = run(in, p7, n7, repeat, XDP_DROP);
				run(in, p8, n8, 1, XDP_PASS);
				R[su - 1][z][V_ACC][r] = run(in, p8, n8, repeat, XDP_DROP);
				gem_bpf__destroy(gem);
			}

	printf("| suite | payload B | forged, 1 key ns | forged, 2 keys ns | added ns | "
	       "valid, tx key ns | valid, accepted key ns |\n");
	printf("|---|--:|--:|--:|--:|--:|--:|\n");
	for (int su = 0; su < 2; su++)
		for (int z = 0; z < 3; z++) {
			double m[NM];

			for (int k = 0; k < NM; k++)
				m[k] = median(R[su][z][k], rounds);
			printf("| %s | %zu | %.0f | %.0f | %.0f | %.0f | %.0f |\n",
			       su ? "cmac" : "hmac-sha256", sizes[z], m[F1], m[F2], m[F2] - m[F1],
			       m[V_TX], m[V_ACC]);
		}
	printf("\n%d rounds, repeat %d, IPv4; 'valid' packets are replays: tag verified, then "
	       "dropped by the replay window (no decryption)\n", rounds, repeat);
	return 0;
}
