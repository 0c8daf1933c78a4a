/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What bpf/gem_bench.bpf.c and bench/bench_prog.c agree on.  Included from BPF
 * (after vmlinux.h) and from user space (after <linux/types.h>). */
#ifndef GEM_BENCH_H
#define GEM_BENCH_H

/* Key sets of the floor programs: index = (suite - 1) + BENCH_SUITES * driver,
 * driver 0 = "aes" (the kernel's default AES, aes-fixed-time here),
 * 1 = "aes-generic". */
#define BENCH_SUITES	4	/* suite 4 has no AES: its "generic" slot is the same floor */
#define BENCH_SLOTS	(2 * BENCH_SUITES)

/* What the next floor run works on (the programs' .bss, written by user
 * space between runs).  off: offset of the UDP payload in the frame
 * (egress: the plaintext; ingress: the GEM header). */
struct bench_cfg {
	__u32 slot;
	__u32 off;
	__u32 len;		/* plaintext payload length L */
	__u32 parts;		/* bench_floor_tc: BENCH_P_* to run, 0 = all */
	__u8 aad[36];		/* src || grp || sport || dport of the stream */
};

/* Parts of the egress floor, run alone to see where its time goes. */
#define BENCH_P_LOAD	1	/* bpf_skb_load_bytes of the payload */
#define BENCH_P_KS	2	/* counter blocks + ecb(aes) kfunc; suite 4: ChaCha20 blocks in BPF */
#define BENCH_P_XOR	4	/* XOR + checksum sum, in BPF */
#define BENCH_P_MAC	8	/* HMAC-SHA-256 or Poly1305 in BPF, or CMAC via cbc(aes) */

/* Input of bench_setup (the global setup_req): keys of one slot. */
struct bench_setup_req {
	__u32 slot;
	__u32 suite;
	__u32 generic;		/* 1: aes-generic instead of aes */
	__u32 pad;
	__u8 sek[16];
	__u8 cmac_key[16];
	__u8 cmac_k1[16];
	__u8 cmac_k2[16];
	__u32 hmac_istate[8];
	__u32 hmac_ostate[8];
	__u8 sek256[32];	/* suite 4 */
};

#endif
