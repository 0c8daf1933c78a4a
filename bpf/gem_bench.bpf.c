// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark-only programs for bench/bench_prog.c (docs/PERFORMANCE.md):
 *   bench_floor_tc   the crypto floor of egress: load the payload, AES-CTR
 *                    keystream (ecb(aes) kfunc) + XOR, then the suite's MAC
 *                    (or only some of these parts: cfg.parts);
 *   bench_floor_xdp  the crypto floor of ingress: load GEM header, ciphertext
 *                    and tag, MAC and compare, then keystream + XOR
 *                    (suite 3 as GEM: the one-time MAC key from keystream
 *                    blocks 0-1, in the same kfunc calls GEM makes)
 *   bench_empty_tc / bench_empty_xdp   the pass-through floor;
 *   bench_setup      SEC("syscall"): crypto contexts and MAC keys (from the
 *                    global setup_req) into slot setup_req.slot.
 * The floors call the very functions gem.bpf.c calls (gem_crypto.bpf.h) on
 * the same byte counts, and do nothing else GEM does: no parsing, no map
 * lookups, no locks, no writing back, no checksum or length fix-ups.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "gem_crypto.bpf.h"
#include "bench/gem_bench.h"

char LICENSE[] SEC("license") = "GPL";

#define TC_ACT_OK	0
#define TC_ACT_SHOT	2

struct bench_sek {
	struct bpf_crypto_ctx __kptr *ecb;
	struct gem_chacha_key ck;	/* suite 4: the benchmark's fixed test key */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BENCH_SLOTS);
	__type(key, __u32);
	__type(value, struct gem_group);
} bench_groups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BENCH_SLOTS);
	__type(key, __u32);
	__type(value, struct bench_sek);
} bench_seks SEC(".maps");

/* layouts of cfg and setup_req: bench/gem_bench.h */
struct bench_cfg cfg;

/* bench_setup's input: the benchmark's fixed test keys (not secrets), here
 * rather than in ctx_in because the verifier refuses ctx pointer arithmetic */
struct bench_setup_req setup_req;

__u64 floor_pn;		/* egress floor: a fresh packet number per run */
__u64 floor_errors;	/* a kfunc/helper failed or (ingress) the tag differed */

static __always_inline struct bpf_crypto_ctx *bench_ctx(const __u8 *key, int cbc,
							int generic, int *err)
{
	if (cbc && generic)
		return gem_aes_ctx(key, "cbc(aes-generic)", err);
	if (cbc)
		return gem_aes_ctx(key, "cbc(aes)", err);
	if (generic)
		return gem_aes_ctx(key, "ecb(aes-generic)", err);
	return gem_aes_ctx(key, "ecb(aes)", err);
}

SEC("syscall")
int bench_setup(void *ctx)
{
	struct bench_setup_req *req = &setup_req;
	struct bpf_crypto_ctx *ecb, *cbc = NULL, *old;
	struct bench_sek *sk;
	struct gem_group *g;
	__u32 slot = req->slot;
	int err = 0;

	(void)ctx;

	if (slot >= BENCH_SLOTS || req->suite < 1 || req->suite > GEM_SUITE_MAX)
		return -22;
	g = bpf_map_lookup_elem(&bench_groups, &slot);
	sk = bpf_map_lookup_elem(&bench_seks, &slot);
	if (!g || !sk)
		return -22;
	ecb = bench_ctx(req->sek, 0, req->generic, &err);
	if (!ecb)
		return err ? err : -22;
	old = bpf_kptr_xchg(&sk->ecb, ecb);
	if (old)
		bpf_crypto_ctx_release(old);
	__builtin_memcpy(sk->ck.k, req->sek256, 32);
	if (req->suite == GEM_SUITE_CMAC) {
		cbc = bench_ctx(req->cmac_key, 1, req->generic, &err);
		if (!cbc)
			return err ? err : -22;
	}
	g->suite = req->suite;
	g->flags = GEM_GROUP_F_ACTIVE;
	/* the group MAC key in slot 0, the tx slot, alone */
	g->tx = 0;
	g->loaded = req->suite <= GEM_SUITE_CMAC ? 1 : 0;
	__builtin_memcpy(g->mk[0].hmac_istate, req->hmac_istate, 32);
	__builtin_memcpy(g->mk[0].hmac_ostate, req->hmac_ostate, 32);
	__builtin_memcpy(g->mk[0].cmac_k1, req->cmac_k1, 16);
	__builtin_memcpy(g->mk[0].cmac_k2, req->cmac_k2, 16);
	old = bpf_kptr_xchg(&g->cmac0, cbc);
	if (old)
		bpf_crypto_ctx_release(old);
	return 0;
}

/* The slot's group, keystream context and suite-4 key, or NULL. */
static __always_inline struct gem_group *bench_keys(struct bpf_crypto_ctx **ctx,
						    struct gem_chacha_key **ck)
{
	__u32 slot = cfg.slot;
	struct bench_sek *sk;
	struct gem_group *g;

	g = bpf_map_lookup_elem(&bench_groups, &slot);
	sk = bpf_map_lookup_elem(&bench_seks, &slot);
	if (!g || !sk)
		return NULL;
	*ctx = sk->ecb;
	*ck = &sk->ck;
	return g;
}

SEC("tc")
int bench_floor_tc(struct __sk_buff *skb)
{
	struct bpf_crypto_ctx *ctx = NULL;
	struct gem_chacha_key *ck = NULL;
	struct gem_scratch *s;
	struct gem_group *g;
	__u64 L = cfg.len, n, pn = floor_pn++;
	__u32 parts = cfg.parts ? cfg.parts : ~0u;

	s = gem_scratch_get();
	g = bench_keys(&ctx, &ck);
	if (!s || !g || !ctx)
		goto err;
	__builtin_memcpy(s->msg, cfg.aad, 36);
	n = gem_bounded(L, GEM_MAX_PT);
	if (!n)
		goto err;
	if ((parts & BENCH_P_LOAD) &&
	    bpf_skb_load_bytes(skb, cfg.off, &s->msg[GEM_AAD_LEN], n))
		goto err;
	if (g->suite == GEM_SUITE_CHACHA20_POLY1305) {
		/* as gem_egress: ChaCha20 block 0 (Poly1305 key) and the
		 * payload's blocks in one loop, in BPF */
		if (parts & BENCH_P_KS) {
			if (!ck)
				goto err;
			__u64 sum;

			gem_chacha_setup(s, ck, pn, 1);
			/* keystream and XOR in one loop, as gem_egress: the
			 * parts table's XOR column is 0 for suite 4 */
			if (gem_chacha_ks(s, 0, 1) || gem_chacha_xor(s, (n + 63) / 64, n, &sum))
				goto err;
			__builtin_memcpy(s->otk, s->ks, 32);
			s->nblk = (__u32)sum;
		}
	} else if (g->suite == GEM_SUITE_POLY1305) {
		/* as gem_egress: blocks 0-1 (one-time key) and the payload's
		 * in one call */
		if (parts & BENCH_P_KS) {
			if (gem_keystream(ctx, s, pn, 1, 0, (n + 15) / 16 + 2))
				goto err;
			__builtin_memcpy(s->otk, s->ks, 32);
		}
		if (parts & BENCH_P_XOR)
			s->nblk = gem_xor_sum_off(s, n, 32);
	} else {
		if ((parts & BENCH_P_KS) &&
		    gem_keystream(ctx, s, pn, 1, GEM_CTR_FIRST_PAYLOAD_BLOCK, (n + 15) / 16))
			goto err;
		if (parts & BENCH_P_XOR)
			s->nblk = gem_xor_sum(s, n);	/* keep the sum: GEM uses it too */
	}
	if ((parts & BENCH_P_MAC) && gem_mac(s, g, 0, GEM_AAD_LEN + n))
		goto err;
	return TC_ACT_OK;
err:
	floor_errors++;
	return TC_ACT_SHOT;
}

SEC("xdp")
int bench_floor_xdp(struct xdp_md *xdp)
{
	struct bpf_crypto_ctx *ctx = NULL;
	struct gem_chacha_key *ck = NULL;
	struct gem_scratch *s;
	struct gem_group *g;
	__u64 L = cfg.len, n, pn, diff;
	__u16 kid;
	int aead;

	s = gem_scratch_get();
	g = bench_keys(&ctx, &ck);
	if (!s || !g || !ctx)
		goto err;
	__builtin_memcpy(s->msg, cfg.aad, 36);
	L = gem_bounded(L, GEM_MAX_PT);
	n = gem_bounded(GEM_HDR_LEN + L, GEM_HDR_LEN + GEM_MAX_PT);
	if (!L || !n || bpf_xdp_load_bytes(xdp, cfg.off, &s->msg[36], n) ||
	    bpf_xdp_load_bytes(xdp, cfg.off + GEM_HDR_LEN + L, s->rtag, GEM_TAG_LEN))
		goto err;
	kid = __builtin_bswap16(*(__u16 *)&s->msg[38]);
	pn = __builtin_bswap64(*(__u64 *)&s->msg[40]);
	aead = g->suite == GEM_SUITE_CHACHA20_POLY1305;
	if (aead) {
		/* as gem_ingress: ChaCha20 block 0 first */
		if (!ck)
			goto err;
		gem_chacha_setup(s, ck, pn, kid);
		if (gem_chacha_ks(s, 0, 1))
			goto err;
		__builtin_memcpy(s->otk, s->ks, 32);
	} else if (g->suite == GEM_SUITE_POLY1305) {
		/* as gem_ingress: the one-time key first, two blocks */
		if (gem_keystream(ctx, s, pn, kid, 0, 2))
			goto err;
		__builtin_memcpy(s->otk, s->ks, 32);
	}
	if (gem_mac(s, g, 0, GEM_AAD_LEN + L))
		goto err;
	diff = (*(__u64 *)&s->tag[0] ^ *(__u64 *)&s->rtag[0]) |
	       (*(__u64 *)&s->tag[8] ^ *(__u64 *)&s->rtag[8]);
	if (diff)	/* proves the floor MACed exactly what GEM sealed */
		goto err;
	if (aead) {
		__u64 sum;

		if (gem_chacha_xor(s, (L + 63) / 64, L, &sum))
			goto err;
		s->nblk = (__u32)sum;
		return XDP_PASS;
	}
	if (gem_keystream(ctx, s, pn, kid, GEM_CTR_FIRST_PAYLOAD_BLOCK, (L + 15) / 16))
		goto err;
	s->nblk = gem_xor_sum(s, L);
	return XDP_PASS;
err:
	floor_errors++;
	return XDP_DROP;
}

SEC("tc")
int bench_empty_tc(struct __sk_buff *skb)
{
	(void)skb;
	return TC_ACT_OK;
}

SEC("xdp")
int bench_empty_xdp(struct xdp_md *xdp)
{
	(void)xdp;
	return XDP_PASS;
}
