/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * GEM's per-packet cryptography inside BPF: AES-128-CTR keystream through the
 * ecb(aes) kfunc, HMAC-SHA-256 in plain BPF (the kernel has no hash kfunc),
 * AES-CMAC through the cbc(aes) kfunc, Poly1305 and ChaCha20 (suite 4, no
 * kfunc) in plain BPF, and the RFC 1071 sums the checksum fix-ups need.  Included by gem.bpf.c (and the benchmark's floor program),
 * so the floor and the product run the very same code.
 *
 * Everything works on the per-CPU scratch buffer, never on packet memory:
 * the payload is copied in with bpf_{skb,xdp}_load_bytes and back out with
 * *_store_bytes, which keeps the verifier's job small (bounded offsets into
 * one map value) and works for non-linear packets alike.
 */
#ifndef GEM_CRYPTO_BPF_H
#define GEM_CRYPTO_BPF_H

#include "gem_common.h"
#include "gem_kfuncs.h"

/* barrier_var() (bpf_helpers.h) keeps bounds checks the compiler could prove
 * redundant: the verifier tracks bounds per register and may not have seen
 * the earlier check. */

/* v, re-checked against max right where a helper takes it as a size (0 if
 * above).  Written in asm because LLVM otherwise fuses "v && v <= max" into
 * one range test on a scratch register and hands the helper the unchecked
 * original, which the verifier rejects. */
#define gem_bounded(v, max) ({						\
	__u64 __b = (v);						\
	asm volatile("if %[b] <= %[m] goto +1; %[b] = 0"		\
		     : [b] "+r"(__b) : [m] "i"(max));			\
	__b; })

#define GEM_KS_CAP	2048	/* >= GEM_MAX_BLOCKS * 16 rounded up to 64 */
#define GEM_MSG_CAP	2048	/* >= AAD + GEM_MAX_PT + tag + SHA padding; a power of two for masks */

/* A parsed protected packet (offsets from the frame start). */
struct gem_pkt {
	__u32 l3, l4;		/* offsets of IP and UDP headers from the frame start */
	__u32 ip_len;		/* IPv4 total length / 40 + IPv6 payload length */
	__u16 ipv4;		/* 1: IPv4, 0: IPv6 */
	__u16 ihl;		/* IP header length in bytes */
	__u16 udp_len;
	__u16 udp_csum;		/* as on the wire */
	__u16 sport, dport;	/* network order */
	struct gem_sg sg;
};

/* Per-CPU scratch.  msg holds M = AAD || ciphertext, then the tag (egress)
 * or SHA-256 padding; cb/ks the counter blocks and their encryption. */
struct gem_scratch {
	__u8 msg[GEM_MSG_CAP];
	__u8 cb[GEM_KS_CAP];
	__u8 ks[GEM_KS_CAP];
	__u8 cbc[GEM_MSG_CAP];		/* CMAC: cbc(aes) output */
	__u8 lb[16];			/* CMAC: last block */
	__u8 iv[16];			/* CMAC: chaining value */
	__u8 tag[16];			/* computed tag */
	__u8 rtag[16];			/* received tag */
	__u8 otk[32];			/* suite 3: one-time Poly1305 key r || s */
	__u32 ph[5], pr[5], ps[4];	/* suite 3: accumulator, r, 5*r1..r4 */
	__u32 pnblk;			/* suite 3: 16-byte blocks of the MAC input */
	__u32 hs[8];			/* SHA-256 state for the bpf_loop callback */
	__u32 ob[16];			/* HMAC outer block */
	__u32 w[16];			/* SHA-256 message schedule (off the stack) */
	__u32 nblk;
	__u32 cst[16];			/* suite 4: ChaCha20 input state, block counter aside */
	__u32 mac_prev;			/* ingress: tag verified under the non-tx group key */
	struct gem_pkt pkt;		/* kept off the 512-byte stack */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gem_scratch);
} gem_scratch SEC(".maps");

static __always_inline struct gem_scratch *gem_scratch_get(void)
{
	__u32 z = 0;

	return bpf_map_lookup_elem(&gem_scratch, &z);
}

/* ---- crypto contexts (SEC("syscall") programs only) ---------------------------- */

/* An AES-128 skcipher context for algo (a string literal: "ecb(aes)",
 * "cbc(aes)", ...); the key copy on the stack is wiped before returning. */
#define gem_aes_ctx(key, algo, err) gem_aes_ctx_(key, algo, sizeof(algo), err)
static __always_inline struct bpf_crypto_ctx *gem_aes_ctx_(const __u8 *key, const char *algo,
							   __u32 algo_size, int *err)
{
	struct bpf_crypto_params params = {
		.type = "skcipher",
		.key_len = 16,
	};
	struct bpf_crypto_ctx *ctx;

	if (!gem_have_crypto()) {
		*err = -95;	/* EOPNOTSUPP: no crypto kfuncs in this kernel */
		return NULL;
	}
	__builtin_memcpy(params.algo, algo, algo_size);
	__builtin_memcpy(params.key, key, 16);
	ctx = bpf_crypto_ctx_create(&params, sizeof(params), err);
	__builtin_memset(params.key, 0, 16);
	asm volatile("" : : "r"(&params) : "memory");	/* keep the wipe */
	return ctx;
}

/* ---- AES-128-CTR ------------------------------------------------------------ */

/* The per-byte loops run through bpf_loop in 64-byte chunks: open-coded
 * loops with a data-dependent exit make the verifier walk every exit point
 * through the rest of the program; a callback is verified once. */
struct gem_loop_ctx {
	__u64 len;		/* xor: payload length; cb: blocks */
	__u64 sum;		/* xor: running 32-bit-folded sum */
	__u64 w0, lo;		/* cb: the two halves of CB(i) but i */
	__u32 first;		/* cb: index of the first block */
	__u32 ks_off;		/* xor: keystream offset (32 when blocks 0-1 lead it) */
};

/* Counter blocks 4*idx .. 4*idx+3. */
static long gem_cb_chunk(__u32 idx, void *data)
{
	struct gem_loop_ctx *lc = data;
	struct gem_scratch *s = gem_scratch_get();
	__u64 off = gem_bounded((__u64)idx * 64, sizeof(s->cb) - 64);
	__u32 i = lc->first + idx * 4, k;

	if (!s)
		return 1;
	for (k = 0; k < 4; k++) {
		*(__u64 *)&s->cb[off + k * 16] = lc->w0;
		*(__u64 *)&s->cb[off + k * 16 + 8] =
			lc->lo | ((__u64)__builtin_bswap32(i + k) << 32);
	}
	return 0;
}

/* Keystream for `nb` blocks starting at counter block `first` into s->ks.
 * CB(i) = pn (BE64) || key id (BE16) || 0x0000 || i (BE32). */
static __always_inline int gem_keystream(struct bpf_crypto_ctx *ctx,
					 struct gem_scratch *s, __u64 pn,
					 __u16 key_id, __u32 first, __u64 nb)
{
	struct gem_loop_ctx lc = {
		.w0 = __builtin_bswap64(pn),
		.lo = (__u64)__builtin_bswap32((__u32)key_id << 16),
		.first = first,
	};
	struct bpf_dynptr src, dst;

	nb = gem_bounded(nb, GEM_MAX_BLOCKS);
	if (nb == 0)
		return 0;
	if (bpf_loop((nb + 3) / 4, gem_cb_chunk, &lc, 0) < 0)
		return -1;
	/* the guard after the counter blocks, not before: without the crypto
	 * kfuncs gem_cb_chunk then stays live code, and the 6.18 verifier does
	 * not have to remove it together with the (then dead) XOR callback
	 * next to it, which fails with "verifier bug: No program to jit ...
	 * (subprog < 0)" */
	if (!gem_have_crypto())
		return -1;
	bpf_dynptr_from_mem(s->cb, sizeof(s->cb), 0, &src);
	if (bpf_dynptr_adjust(&src, 0, nb * 16))
		return -1;
	bpf_dynptr_from_mem(s->ks, sizeof(s->ks), 0, &dst);
	return bpf_crypto_encrypt(ctx, &src, &dst, NULL);
}

/* msg[AAD + 64*idx ..] ^= ks[64*idx ..], 8 words, summing the bytes below len. */
static long gem_xor_chunk(__u32 idx, void *data)
{
	struct gem_loop_ctx *lc = data;
	struct gem_scratch *s = gem_scratch_get();
	__u64 off = gem_bounded((__u64)idx * 64, GEM_MAX_PT - 64);
	__u64 w, m, o, k;

	if (!s)
		return 1;
	for (k = 0; k < 8; k++) {
		o = off + k * 8;
		w = *(__u64 *)&s->msg[GEM_AAD_LEN + o] ^
		    *(__u64 *)&s->ks[gem_bounded(o + lc->ks_off, GEM_KS_CAP - 8)];
		*(__u64 *)&s->msg[GEM_AAD_LEN + o] = w;
		if (o >= lc->len)
			m = 0;
		else if (lc->len - o >= 8)
			m = ~0ULL;
		else
			m = (1ULL << ((lc->len - o) * 8)) - 1;
		w &= m;
		lc->sum += (w & 0xffffffff) + (w >> 32);
	}
	return 0;
}

/* XOR s->msg[AAD .. AAD+len) with the keystream in place and return the
 * 32-bit-folded ones' complement sum of the result (for the UDP checksum).
 * Bytes of the last chunk past len get garbage; nothing reads them. */
static __always_inline __u64 gem_xor_sum_off(struct gem_scratch *s, __u64 len, __u32 ks_off)
{
	struct gem_loop_ctx lc = { .len = len, .ks_off = ks_off };

	(void)s;
	if (bpf_loop((len + 63) / 64, gem_xor_chunk, &lc, 0) < 0)
		return 0;
	return lc.sum;
}

static __always_inline __u64 gem_xor_sum(struct gem_scratch *s, __u64 len)
{
	return gem_xor_sum_off(s, len, 0);
}

/* ---- RFC 1071 sums ------------------------------------------------------- */

static __always_inline __u16 gem_fold(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

static __always_inline __u64 gem_sum16(const void *p)
{
	const __u32 *w = p;

	return (__u64)w[0] + w[1] + w[2] + w[3];
}

/* ---- HMAC-SHA-256 ---------------------------------------------------------- */

static const __u32 gem_sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

/* One SHA-256 compression of the 64 bytes at p into st[8]; w: 16 words of room. */
static __always_inline void gem_sha256_block(__u32 *st, __u32 *w, const __u8 *p)
{
	__u32 a, b, c, d, e, f, g, h, t1, t2, s0, s1;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = __builtin_bswap32(*(const __u32 *)(p + i * 4));
	a = st[0]; b = st[1]; c = st[2]; d = st[3];
	e = st[4]; f = st[5]; g = st[6]; h = st[7];
	for (i = 0; i < 64; i++) {
		if (i >= 16) {
			s0 = w[(i + 1) & 15];
			s0 = ROR(s0, 7) ^ ROR(s0, 18) ^ (s0 >> 3);
			s1 = w[(i + 14) & 15];
			s1 = ROR(s1, 17) ^ ROR(s1, 19) ^ (s1 >> 10);
			w[i & 15] += s0 + w[(i + 9) & 15] + s1;
		}
		t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) +
		     ((e & f) ^ (~e & g)) + gem_sha_k[i] + w[i & 15];
		t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) +
		     ((a & b) ^ (a & c) ^ (b & c));
		h = g; g = f; f = e; e = d + t1;
		d = c; c = b; b = a; a = t1 + t2;
	}
	st[0] += a; st[1] += b; st[2] += c; st[3] += d;
	st[4] += e; st[5] += f; st[6] += g; st[7] += h;
}

/* bpf_loop callback: compress block idx of s->msg.  The block loop runs
 * through bpf_loop so the verifier checks one block, not up to 26 of them. */
static long gem_sha_cb(__u32 idx, void *data)
{
	struct gem_scratch *s = gem_scratch_get();
	__u64 off = gem_bounded((__u64)idx * 64, GEM_MSG_CAP - 64);

	(void)data;
	if (!s)
		return 1;
	gem_sha256_block(s->hs, s->w, &s->msg[off]);
	return 0;
}

/* tag = HMAC-SHA-256(key, s->msg[0..n))[0..16], with the key given as the
 * inner/outer states after the key^ipad / key^opad blocks. */
static __always_inline int gem_hmac(struct gem_scratch *s, const struct gem_mac_key *mk,
				    __u64 n)
{
	__u64 bits = (64 + n) * 8, end, k, nblk, w, i;

	n = gem_bounded(n, GEM_AAD_LEN + GEM_MAX_PT);
	if (!n)
		return -1;
	/* SHA-256 padding after the message: 0x80, zeros, 64-bit bit length.
	 * Whole words, no byte loop: the word holding msg[n] keeps its bytes
	 * below n, then up to 9 zero words, then the length. */
	end = (n + 9 + 63) & ~63ull;
	nblk = end / 64;
	k = n & ~7ull;
	w = *(__u64 *)&s->msg[k] & ((1ULL << ((n & 7) * 8)) - 1);
	*(__u64 *)&s->msg[k] = w | (0x80ULL << ((n & 7) * 8));
	for (i = 1; i < 10; i++)
		if (k + i * 8 < end - 8)
			*(__u64 *)&s->msg[(k + i * 8) & (GEM_MSG_CAP - 8)] = 0;
	end = gem_bounded(end, GEM_MSG_CAP);
	if (end < 64)
		return -1;
	*(__u64 *)&s->msg[end - 8] = __builtin_bswap64(bits);

	__builtin_memcpy(s->hs, mk->hmac_istate, 32);
	if (bpf_loop(nblk, gem_sha_cb, NULL, 0) != (long)nblk)
		return -1;

	/* outer: ostate over inner digest || padding (96 bytes total) */
	for (k = 0; k < 8; k++)
		s->ob[k] = __builtin_bswap32(s->hs[k]);
	s->ob[8] = __builtin_bswap32(0x80000000);
	for (k = 9; k < 15; k++)
		s->ob[k] = 0;
	s->ob[15] = __builtin_bswap32((64 + 32) * 8);
	__builtin_memcpy(s->hs, mk->hmac_ostate, 32);
	gem_sha256_block(s->hs, s->w, (const __u8 *)s->ob);
	for (k = 0; k < 4; k++)
		*(__u32 *)&s->tag[k * 4] = __builtin_bswap32(s->hs[k]);
	return 0;
}

/* ---- AES-CMAC (RFC 4493) through cbc(aes) --------------------------------- */

/* tag = AES-CMAC(key in ctx, s->msg[0..n)), n >= 32.  CBC-MAC of all blocks
 * but the last (IV 0), then the last block, XORed with K1 (complete) or
 * padded and XORed with K2, encrypted with the running value as IV. */
static __noinline int gem_cmac(struct gem_scratch *s, const struct gem_mac_key *mk,
				    struct bpf_crypto_ctx *ctx, __u64 n)
{
	struct bpf_dynptr src, dst, iv;
	__u64 np, first, k;
	const __u8 *key;

	n = gem_bounded(n, GEM_AAD_LEN + GEM_MAX_PT);
	if (n < 32 || !gem_have_crypto())
		return -1;
	np = (n + 15) & ~15ull;
	first = np - 16;
	key = (np == n) ? mk->cmac_k1 : mk->cmac_k2;
	for (k = 0; k < 16; k++) {
		__u64 o = first + k;
		__u8 b = o < n ? s->msg[o & (GEM_MSG_CAP - 1)] : (o == n ? 0x80 : 0);

		s->lb[k] = b ^ key[k];
	}
	__builtin_memset(s->iv, 0, 16);
	bpf_dynptr_from_mem(s->msg, sizeof(s->msg), 0, &src);
	if (bpf_dynptr_adjust(&src, 0, first))
		return -1;
	bpf_dynptr_from_mem(s->cbc, sizeof(s->cbc), 0, &dst);
	bpf_dynptr_from_mem(s->iv, sizeof(s->iv), 0, &iv);
	if (bpf_crypto_encrypt(ctx, &src, &dst, &iv))
		return -1;
	if (first < 16 || first > sizeof(s->cbc))
		return -1;
	__builtin_memcpy(s->iv, &s->cbc[first - 16], 16);
	bpf_dynptr_from_mem(s->lb, sizeof(s->lb), 0, &src);
	bpf_dynptr_from_mem(s->tag, sizeof(s->tag), 0, &dst);
	bpf_dynptr_from_mem(s->iv, sizeof(s->iv), 0, &iv);
	return bpf_crypto_encrypt(ctx, &src, &dst, &iv);
}

/* ---- Poly1305 (suite 3) ------------------------------------------------------ */

/* 26-bit limbs, 64-bit products (poly1305-donna's 32-bit layout): no helper
 * per block, no data-dependent branch.  The MAC input is made of whole
 * 16-byte blocks (AAD || CT || zero pad || lengths, as RFC 8439's AEAD), so
 * every block carries the 2^128 bit. */
static __always_inline __u32 le32(const __u8 *p)
{
	return *(const __u32 *)p;	/* x86 and BPF: little-endian, unaligned ok */
}

/* bpf_loop callback: 8 blocks of s->msg from block 8*idx; state in scratch. */
static long gem_poly_chunk(__u32 idx, void *data)
{
	struct gem_scratch *s = gem_scratch_get();
	__u64 d0, d1, d2, d3, d4, c;
	__u32 h0, h1, h2, h3, h4, r0, r1, r2, r3, r4, s1, s2, s3, s4, k, b;
	const __u8 *m;

	(void)data;
	if (!s)
		return 1;
	h0 = s->ph[0]; h1 = s->ph[1]; h2 = s->ph[2]; h3 = s->ph[3]; h4 = s->ph[4];
	r0 = s->pr[0]; r1 = s->pr[1]; r2 = s->pr[2]; r3 = s->pr[3]; r4 = s->pr[4];
	s1 = s->ps[0]; s2 = s->ps[1]; s3 = s->ps[2]; s4 = s->ps[3];
	for (k = 0; k < 8; k++) {
		b = idx * 8 + k;
		if (b >= s->pnblk)
			break;
		m = &s->msg[gem_bounded((__u64)b * 16, GEM_MSG_CAP - 16)];
		h0 += le32(m) & 0x3ffffff;
		h1 += (le32(m + 3) >> 2) & 0x3ffffff;
		h2 += (le32(m + 6) >> 4) & 0x3ffffff;
		h3 += (le32(m + 9) >> 6) & 0x3ffffff;
		h4 += (le32(m + 12) >> 8) | (1 << 24);
		d0 = (__u64)h0 * r0 + (__u64)h1 * s4 + (__u64)h2 * s3 + (__u64)h3 * s2 + (__u64)h4 * s1;
		d1 = (__u64)h0 * r1 + (__u64)h1 * r0 + (__u64)h2 * s4 + (__u64)h3 * s3 + (__u64)h4 * s2;
		d2 = (__u64)h0 * r2 + (__u64)h1 * r1 + (__u64)h2 * r0 + (__u64)h3 * s4 + (__u64)h4 * s3;
		d3 = (__u64)h0 * r3 + (__u64)h1 * r2 + (__u64)h2 * r1 + (__u64)h3 * r0 + (__u64)h4 * s4;
		d4 = (__u64)h0 * r4 + (__u64)h1 * r3 + (__u64)h2 * r2 + (__u64)h3 * r1 + (__u64)h4 * r0;
		c = d0 >> 26; h0 = (__u32)d0 & 0x3ffffff;
		d1 += c; c = d1 >> 26; h1 = (__u32)d1 & 0x3ffffff;
		d2 += c; c = d2 >> 26; h2 = (__u32)d2 & 0x3ffffff;
		d3 += c; c = d3 >> 26; h3 = (__u32)d3 & 0x3ffffff;
		d4 += c; c = d4 >> 26; h4 = (__u32)d4 & 0x3ffffff;
		h0 += (__u32)c * 5; c = h0 >> 26; h0 &= 0x3ffffff;
		h1 += (__u32)c;
	}
	s->ph[0] = h0; s->ph[1] = h1; s->ph[2] = h2; s->ph[3] = h3; s->ph[4] = h4;
	return 0;
}

/* tag = Poly1305(otk, M') with M' = s->msg[0..n) || zeros to 16 || le64(48)
 * || le64(n - 48), the one-time key otk = s->otk (keystream blocks 0-1). */
static __always_inline int gem_poly1305(struct gem_scratch *s, __u64 n)
{
	__u32 h0, h1, h2, h3, h4, g0, g1, g2, g3, g4, c, mask;
	__u64 np, k, w, f;
	const __u8 *key = s->otk;

	n = gem_bounded(n, GEM_AAD_LEN + GEM_MAX_PT);
	if (n < GEM_AAD_LEN)
		return -1;
	/* zero pad to 16: the word holding msg[n] keeps its bytes below n */
	np = (n + 15) & ~15ull;
	k = n & ~7ull;
	w = *(__u64 *)&s->msg[k] & ((1ULL << ((n & 7) * 8)) - 1);
	if (k < np)
		*(__u64 *)&s->msg[k] = w;
	if (k + 8 < np)
		*(__u64 *)&s->msg[(k + 8) & (GEM_MSG_CAP - 8)] = 0;
	np = gem_bounded(np, GEM_MSG_CAP - 16);
	*(__u64 *)&s->msg[np] = GEM_AAD_LEN;		/* le64 lengths */
	*(__u64 *)&s->msg[np + 8] = n - GEM_AAD_LEN;

	s->pr[0] = le32(key) & 0x3ffffff;
	s->pr[1] = (le32(key + 3) >> 2) & 0x3ffff03;
	s->pr[2] = (le32(key + 6) >> 4) & 0x3ffc0ff;
	s->pr[3] = (le32(key + 9) >> 6) & 0x3f03fff;
	s->pr[4] = (le32(key + 12) >> 8) & 0x00fffff;
	s->ps[0] = s->pr[1] * 5; s->ps[1] = s->pr[2] * 5;
	s->ps[2] = s->pr[3] * 5; s->ps[3] = s->pr[4] * 5;
	s->ph[0] = s->ph[1] = s->ph[2] = s->ph[3] = s->ph[4] = 0;
	s->pnblk = np / 16 + 1;
	if (bpf_loop((s->pnblk + 7) / 8, gem_poly_chunk, NULL, 0) < 0)
		return -1;

	/* full carry, then h - p in constant time, then + s mod 2^128 */
	h0 = s->ph[0]; h1 = s->ph[1]; h2 = s->ph[2]; h3 = s->ph[3]; h4 = s->ph[4];
	c = h1 >> 26; h1 &= 0x3ffffff;
	h2 += c; c = h2 >> 26; h2 &= 0x3ffffff;
	h3 += c; c = h3 >> 26; h3 &= 0x3ffffff;
	h4 += c; c = h4 >> 26; h4 &= 0x3ffffff;
	h0 += c * 5; c = h0 >> 26; h0 &= 0x3ffffff;
	h1 += c;
	g0 = h0 + 5; c = g0 >> 26; g0 &= 0x3ffffff;
	g1 = h1 + c; c = g1 >> 26; g1 &= 0x3ffffff;
	g2 = h2 + c; c = g2 >> 26; g2 &= 0x3ffffff;
	g3 = h3 + c; c = g3 >> 26; g3 &= 0x3ffffff;
	g4 = h4 + c - (1 << 26);
	mask = (g4 >> 31) - 1;
	g0 &= mask; g1 &= mask; g2 &= mask; g3 &= mask; g4 &= mask;
	mask = ~mask;
	h0 = (h0 & mask) | g0; h1 = (h1 & mask) | g1; h2 = (h2 & mask) | g2;
	h3 = (h3 & mask) | g3; h4 = (h4 & mask) | g4;
	h0 = h0 | (h1 << 26);
	h1 = (h1 >> 6) | (h2 << 20);
	h2 = (h2 >> 12) | (h3 << 14);
	h3 = (h3 >> 18) | (h4 << 8);
	f = (__u64)h0 + le32(key + 16); *(__u32 *)&s->tag[0] = (__u32)f;
	f = (__u64)h1 + le32(key + 20) + (f >> 32); *(__u32 *)&s->tag[4] = (__u32)f;
	f = (__u64)h2 + le32(key + 24) + (f >> 32); *(__u32 *)&s->tag[8] = (__u32)f;
	f = (__u64)h3 + le32(key + 28) + (f >> 32); *(__u32 *)&s->tag[12] = (__u32)f;
	return 0;
}

/* ---- ChaCha20 (RFC 8439 2.3-2.4), suite 4 -------------------------------------- */

/* Largest block count of one packet: block 0 (the Poly1305 key) and the
 * payload's blocks 1 .. GEM_MAX_PT / 64. */
#define GEM_CHACHA_MAX_BLOCKS	(1 + GEM_MAX_PT / 64)
_Static_assert(GEM_CHACHA_MAX_BLOCKS * 64 <= GEM_KS_CAP, "keystream room");

#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
#define GEM_QR(a, b, c, d) do {					\
		a += b; d ^= a; d = ROL(d, 16);				\
		c += d; b ^= c; b = ROL(b, 12);				\
		a += b; d ^= a; d = ROL(d, 8);				\
		c += d; b ^= c; b = ROL(b, 7);				\
	} while (0)

/* The ChaCha20 block function's 20 rounds (RFC 8439 2.3) on x0..x15 from the
 * state words cst with block counter b (one copy for the keystream of both
 * directions); the caller adds cst back.  A loop over the double rounds, not
 * unrolled: smaller and faster here (docs/PERFORMANCE.md). */
#define GEM_CHACHA_BLOCK(cst, b) do {						\
		x0 = (cst)[0]; x1 = (cst)[1]; x2 = (cst)[2]; x3 = (cst)[3];	\
		x4 = (cst)[4]; x5 = (cst)[5]; x6 = (cst)[6]; x7 = (cst)[7];	\
		x8 = (cst)[8]; x9 = (cst)[9]; x10 = (cst)[10]; x11 = (cst)[11];	\
		x12 = (b); x13 = (cst)[13]; x14 = (cst)[14]; x15 = (cst)[15];	\
		_Pragma("clang loop unroll(disable)")				\
		for (r = 0; r < 10; r++) {					\
			GEM_QR(x0, x4, x8, x12);				\
			GEM_QR(x1, x5, x9, x13);				\
			GEM_QR(x2, x6, x10, x14);				\
			GEM_QR(x3, x7, x11, x15);				\
			GEM_QR(x0, x5, x10, x15);				\
			GEM_QR(x1, x6, x11, x12);				\
			GEM_QR(x2, x7, x8, x13);				\
			GEM_QR(x3, x4, x9, x14);				\
		}								\
	} while (0)

/* s->cst = "expand 32-byte k" || key || counter (set per block) || nonce.
 * Nonce (12 bytes, docs/PROTOCOL.md 3.4) = pn (BE64) || key id (BE16) || 0x0000,
 * the first 12 bytes of suites 1-3's counter block: unique per (SEK, packet)
 * because a pn is never sealed twice under one stream's key id. */
static __always_inline void gem_chacha_setup(struct gem_scratch *s,
					     const struct gem_chacha_key *key,
					     __u64 pn, __u16 key_id)
{
	__u64 npn = __builtin_bswap64(pn);

	s->cst[0] = 0x61707865; s->cst[1] = 0x3320646e;
	s->cst[2] = 0x79622d32; s->cst[3] = 0x6b206574;
	/* whole 64-bit words: the key is copied under the stream's lock */
	*(__u64 *)&s->cst[4] = *(const __u64 *)&key->k[0];
	*(__u64 *)&s->cst[6] = *(const __u64 *)&key->k[2];
	*(__u64 *)&s->cst[8] = *(const __u64 *)&key->k[4];
	*(__u64 *)&s->cst[10] = *(const __u64 *)&key->k[6];
	s->cst[12] = 0;
	s->cst[13] = (__u32)npn;
	s->cst[14] = (__u32)(npn >> 32);
	s->cst[15] = __builtin_bswap16(key_id);
}

/* The key words left in scratch after the last block of a packet. */
static __always_inline void gem_chacha_wipe(struct gem_scratch *s)
{
	*(__u64 *)&s->cst[4] = 0; *(__u64 *)&s->cst[6] = 0;
	*(__u64 *)&s->cst[8] = 0; *(__u64 *)&s->cst[10] = 0;
}

/* Keystream blocks first .. first+nb-1 (block counter = index) into
 * s->ks[64*i ..].  An open-coded bpf_iter_num loop over blocks, the ten
 * double rounds a loop too: the verifier checks one block body (~6k
 * instructions in all), and full unrolling measured ~15% slower (code
 * size).  The 16 words live in registers and the stack, not in scratch. */
static __always_inline int gem_chacha_ks(struct gem_scratch *s, __u32 first, __u32 nb)
{
	struct bpf_iter_num it;
	int *ip;

	if (nb > GEM_CHACHA_MAX_BLOCKS || first >= GEM_CHACHA_MAX_BLOCKS)
		return -1;
	bpf_iter_num_new(&it, (int)first, (int)(first + nb));
	while ((ip = bpf_iter_num_next(&it))) {
		__u32 x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15;
		__u32 b = *ip, r;
		__u64 off;
		__u32 *o;

		if (b >= GEM_CHACHA_MAX_BLOCKS)
			break;
		off = gem_bounded((__u64)b * 64, GEM_KS_CAP - 64);
		GEM_CHACHA_BLOCK(s->cst, b);
		o = (__u32 *)&s->ks[off];
		o[0] = x0 + s->cst[0]; o[1] = x1 + s->cst[1];
		o[2] = x2 + s->cst[2]; o[3] = x3 + s->cst[3];
		o[4] = x4 + s->cst[4]; o[5] = x5 + s->cst[5];
		o[6] = x6 + s->cst[6]; o[7] = x7 + s->cst[7];
		o[8] = x8 + s->cst[8]; o[9] = x9 + s->cst[9];
		o[10] = x10 + s->cst[10]; o[11] = x11 + s->cst[11];
		o[12] = x12 + b; o[13] = x13 + s->cst[13];
		o[14] = x14 + s->cst[14]; o[15] = x15 + s->cst[15];
	}
	bpf_iter_num_destroy(&it);
	return 0;
}

/* s->msg[AAD .. AAD+len) ^= ChaCha20 blocks 1 .. nb (the payload's), in the
 * block loop itself, and *sum = the 32-bit-word sum of the result below len
 * (for the UDP checksum, as gem_xor_sum): no keystream buffer and no second
 * pass.  Bytes of the last block past len get garbage; nothing reads them
 * (gem_poly1305 pads from len, the tag is written at len). */
static __always_inline int gem_chacha_xor(struct gem_scratch *s, __u32 nb, __u64 len,
					  __u64 *sum)
{
	struct bpf_iter_num it;
	__u64 acc = 0;
	int *ip;

	if (nb >= GEM_CHACHA_MAX_BLOCKS || len > GEM_MAX_PT)
		return -1;
	bpf_iter_num_new(&it, 1, (int)nb + 1);
	while ((ip = bpf_iter_num_next(&it))) {
		__u32 x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15;
		__u32 b = *ip, r;
		__u64 off;
		__u32 *m;

		if (b < 1 || b >= GEM_CHACHA_MAX_BLOCKS)
			break;
		off = gem_bounded((__u64)(b - 1) * 64, GEM_MAX_PT - 64);
		GEM_CHACHA_BLOCK(s->cst, b);
		m = (__u32 *)&s->msg[GEM_AAD_LEN + off];
		m[0] ^= x0 + s->cst[0]; m[1] ^= x1 + s->cst[1];
		m[2] ^= x2 + s->cst[2]; m[3] ^= x3 + s->cst[3];
		m[4] ^= x4 + s->cst[4]; m[5] ^= x5 + s->cst[5];
		m[6] ^= x6 + s->cst[6]; m[7] ^= x7 + s->cst[7];
		m[8] ^= x8 + s->cst[8]; m[9] ^= x9 + s->cst[9];
		m[10] ^= x10 + s->cst[10]; m[11] ^= x11 + s->cst[11];
		m[12] ^= x12 + b; m[13] ^= x13 + s->cst[13];
		m[14] ^= x14 + s->cst[14]; m[15] ^= x15 + s->cst[15];
		acc += (__u64)m[0] + m[1] + m[2] + m[3] + m[4] + m[5] + m[6] + m[7] +
		       m[8] + m[9] + m[10] + m[11] + m[12] + m[13] + m[14] + m[15];
	}
	bpf_iter_num_destroy(&it);
	/* the last block's bytes at and past len were summed too: take them
	 * out here, not in the loop (a data-dependent branch per word inside
	 * the iterator body makes the verifier's states diverge) */
	if (len & 63) {
		/* compare against rem, a new value, never against len: a branch
		 * on len narrows its range, and len (a helper size elsewhere)
		 * is tracked precisely, so every path would be a new state */
		__u32 rem = len & 63, k;
		__u64 off = gem_bounded((len & ~63ull), GEM_MAX_PT - 64);
		const __u32 *m = (const __u32 *)&s->msg[GEM_AAD_LEN + off];

		for (k = 0; k < 16; k++) {
			if (k * 4 >= rem)
				acc -= m[k];
			else if (rem - k * 4 < 4)
				acc -= m[k] & ~((1u << ((rem - k * 4) * 8)) - 1);
		}
	}
	*sum = acc;
	return 0;
}

/* Tag of s->msg[0..n) for suite su (the group's) into s->tag; suites 1 and
 * 2 under the group MAC key of slot `slot` (struct gem_group), which must be
 * loaded (else -1: no tag is made under a missing key). */
static __always_inline int gem_mac_su(struct gem_scratch *s, struct gem_group *g, __u32 su,
				      __u32 slot, __u64 n)
{
	struct bpf_crypto_ctx *cctx;

	slot &= 1;
	if (su == GEM_SUITE_HMAC_SHA256 || su == GEM_SUITE_CMAC) {
		if (!(g->loaded & (1u << slot)))
			return -1;
		if (su == GEM_SUITE_HMAC_SHA256)
			return gem_hmac(s, &g->mk[slot], n);
		cctx = slot ? g->cmac1 : g->cmac0;
		if (!cctx)
			return -1;
		return gem_cmac(s, &g->mk[slot], cctx, n);
	}
	if (su == GEM_SUITE_POLY1305 || su == GEM_SUITE_CHACHA20_POLY1305)
		return gem_poly1305(s, n);	/* s->otk from the keystream */
	return -1;
}

static __always_inline int gem_mac(struct gem_scratch *s, struct gem_group *g, __u32 slot,
				   __u64 n)
{
	return gem_mac_su(s, g, g->suite, slot, n);
}

/* 0 when the 16-byte tags s->tag and s->rtag are equal; constant time. */
static __always_inline __u64 gem_tag_diff(const struct gem_scratch *s)
{
	return (*(const __u64 *)&s->tag[0] ^ *(const __u64 *)&s->rtag[0]) |
	       (*(const __u64 *)&s->tag[8] ^ *(const __u64 *)&s->rtag[8]);
}

/* Ingress: verify s->rtag over s->msg[0..n): 0 verified, 1 bad tag, -1 a
 * kfunc failed.  Suites 1 and 2 try the group's tx key, then, only if that
 * fails and the group holds a second key (it moves to another GAK epoch),
 * that one; s->mac_prev says which verified.  A forgery costs two MACs while
 * both keys are loaded (docs/PROTOCOL.md 6.1).  The outcome is in memory, not
 * a register, so the verifier does not walk the rest of the program twice. */
static __always_inline int gem_tag_check(struct gem_scratch *s, struct gem_group *g, __u32 su,
					 __u64 n)
{
	__u32 t = g->tx & 1;

	s->mac_prev = 0;
	if (gem_mac_su(s, g, su, t, n))
		return -1;
	if (!gem_tag_diff(s))
		return 0;
	if ((su != GEM_SUITE_HMAC_SHA256 && su != GEM_SUITE_CMAC) ||
	    !(g->loaded & (1u << (t ^ 1))))
		return 1;	/* suites 3, 4 have no group key; no second key */
	if (gem_mac_su(s, g, su, t ^ 1, n))
		return -1;
	if (gem_tag_diff(s))
		return 1;
	s->mac_prev = 1;
	return 0;
}

#endif /* GEM_CRYPTO_BPF_H */
