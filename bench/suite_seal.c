// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Seal and open cost per packet of GEM's own programs, suites 1-4 side by
 * side (docs/PERFORMANCE.md "Suite 4"): gem_egress seals N distinct IPv4
 * packets (repeat = 1 each, kernel durations summed, as bench_prog does),
 * gem_ingress opens exactly those.  Median over rounds, min-max.
 *
 * Usage: suite_seal [-r ROUNDS] [-n PACKETS]   (root; markdown on stdout)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "gem.skel.h"
#include "gem_dp.h"
#include "gem_pkt.h"

#define FRAME_MAX	2048
#define MAX_ROUNDS	64
#define MAX_PKTS	20000

static const size_t sizes[] = { 64, 512, 1400 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static uint8_t frames[MAX_PKTS][FRAME_MAX];
static uint32_t flen[MAX_PKTS];

static void die(const char *m)
{
	fprintf(stderr, "suite_seal: %s: %s\n", m, strerror(errno));
	exit(1);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ns per packet of running fd once on each of frames[0..n), in place. */
static double run_all(int fd, int n, int want)
{
	static uint8_t out[FRAME_MAX];
	double sum = 0;

	for (int i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frames[i], .data_size_in = flen[i],
			    .data_out = out, .data_size_out = FRAME_MAX, .repeat = 1);

		if (bpf_prog_test_run_opts(fd, &o) || (int)o.retval != want)
			die("test run failed or wrong verdict");
		memcpy(frames[i], out, o.data_size_out);
		flen[i] = o.data_size_out;
		sum += o.duration;
	}
	return sum / n;
}

int main(int argc, char **argv)
{
	static const uint8_t sek[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
					 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
					 31, 32 };
	static const uint8_t mac[32] = { 7 };
	static double t[2][GEM_SUITE_MAX + 1][NSIZES][MAX_ROUNDS];
	int rounds = 7, npk = 2000, c;
	struct in_addr src, grp;
	struct gem_bpf *skel;

	while ((c = getopt(argc, argv, "r:n:")) != -1) {
		if (c == 'r')
			rounds = atoi(optarg);
		else if (c == 'n')
			npk = atoi(optarg);
		else
			return 2;
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || npk < 1 || npk > MAX_PKTS)
		return 2;
	if (unshare(CLONE_NEWNET) || system("ip link set lo mtu 1500 up"))
		die("network namespace");
	skel = gem_bpf__open_and_load();
	if (!skel)
		die("loading gem.bpf.o");
	int ctl = bpf_program__fd(skel->progs.gem_ctl);
	int eg = bpf_program__fd(skel->progs.gem_egress);
	int in = bpf_program__fd(skel->progs.gem_ingress);

	inet_pton(AF_INET, "10.0.0.1", &src);
	for (int r = 0; r < rounds; r++)
		for (unsigned su = 1; su <= GEM_SUITE_MAX; su++)
			for (size_t z = 0; z < NSIZES; z++) {
				struct gem_sg sg;
				char g[32];
				uint8_t pl[1500] = { 0 }, l3[FRAME_MAX];
				size_t n;

				snprintf(g, sizeof(g), "239.9.%u.%zu", su, z + 1 + 10 * r);
				inet_pton(AF_INET, g, &grp);
				gem_addr_from(&sg.src, AF_INET, &src);
				gem_addr_from(&sg.grp, AF_INET, &grp);
				if (gem_dp_set_group(ctl, &sg.grp, su, mac, gem_suite_key_len(su)) ||
				    gem_dp_set_sek_len(ctl, &sg, 1, 1, sek, gem_suite_sek_len(su)) ||
				    gem_dp_set_sek_len(ctl, &sg, 0, 1, sek, gem_suite_sek_len(su)))
					die("loading keys");
				if (gem_pkt_build_udp(AF_INET, &src, &grp, 5001, 5002, pl, sizes[z],
						      8, l3, sizeof(l3), &n))
					die("building a packet");
				for (int i = 0; i < npk; i++) {
					memset(frames[i], 0, 12);
					frames[i][12] = 0x08;
					frames[i][13] = 0;
					memcpy(frames[i] + 14, l3, n);
					flen[i] = (uint32_t)n + 14;
				}
				t[0][su][z][r] = run_all(eg, npk, TC_ACT_OK);
				t[1][su][z][r] = run_all(in, npk, XDP_PASS);
			}
	printf("| suite | payload B | seal ns (min-max) | open ns (min-max) |\n");
	printf("|---|---|---|---|\n");
	for (unsigned su = 1; su <= GEM_SUITE_MAX; su++)
		for (size_t z = 0; z < NSIZES; z++) {
			double m[2], lo[2], hi[2];

			for (int d = 0; d < 2; d++) {
				qsort(t[d][su][z], rounds, sizeof(double), cmp);
				m[d] = t[d][su][z][rounds / 2];
				lo[d] = t[d][su][z][0];
				hi[d] = t[d][su][z][rounds - 1];
			}
			printf("| %u %s | %zu | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) |\n", su,
			       gem_suite_name(su), sizes[z], m[0], lo[0], hi[0], m[1], lo[1], hi[1]);
		}
	for (int d = 0; d < 2; d++) {
		double a = t[d][4][NSIZES - 1][rounds / 2], b = t[d][3][NSIZES - 1][rounds / 2];

		printf("\n%s suite 4 / suite 3 at 1400 B: %.2f", d ? "open" : "seal", a / b);
	}
	printf("\n");
	gem_bpf__destroy(skel);
	return 0;
}
