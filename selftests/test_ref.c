// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Reference implementation (lib/gem_ref.c) and packet helpers (lib/gem_pkt.c)
 * against docs/PROTOCOL.md.  The crypto is re-derived here with different
 * code paths than the library uses -- AES-ECB over hand-built counter blocks,
 * libsodium HMAC-SHA-256, AES-CMAC built from AES-ECB per RFC 4493 -- so a
 * misreading of the spec in gem_ref.c does not also hide in its own test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "gem_ref.h"
#include "gem_vectors.h"

#define BUF		(GEM_MAX_PT + 256)
#define MTU		1500

static struct gem_ref_keys K;

static void setup_keys(void)
{
	cr_assert(sodium_init() >= 0);
	/* arbitrary but fixed: deterministic failures are reproducible */
	for (int i = 0; i < 16; i++)
		K.sek[i] = (uint8_t)(0xa5 ^ (i * 29));
	for (int i = 0; i < 32; i++)
		K.mac_key[i] = (uint8_t)(0x3c + i * 7);
	for (int i = 0; i < 16; i++)
		K.cmac_key[i] = (uint8_t)(0xc3 ^ (i * 11));
	for (int i = 0; i < 32; i++)
		K.sek256[i] = (uint8_t)(0x5a ^ (i * 13));
}

TestSuite(ref, .init = setup_keys);
TestSuite(pkt, .init = setup_keys);

/* ---- helpers -------------------------------------------------------------- */

static size_t hlen_of(int family)
{
	return family == AF_INET ? GEM_IPV4_HLEN : GEM_IPV6_HLEN;
}

/* Largest payload whose sealed packet fits MTU (1444 IPv4, 1424 IPv6). */
static size_t max_payload(int family)
{
	return MTU - hlen_of(family) - GEM_UDP_HLEN - GEM_OVERHEAD;
}

static size_t mk(int family, size_t plen, uint8_t *buf, size_t cap)
{
	static uint8_t pl[BUF];
	struct in_addr s4, g4;
	struct in6_addr s6, g6;
	size_t len = 0;
	int err;

	inet_pton(AF_INET, "198.51.100.7", &s4);
	inet_pton(AF_INET, "239.255.0.1", &g4);
	inet_pton(AF_INET6, "2001:db8:1::7", &s6);
	inet_pton(AF_INET6, "ff3e::8000:1", &g6);
	for (size_t i = 0; i < plen; i++)
		pl[i] = (uint8_t)(i * 31 + plen);
	if (family == AF_INET)
		err = gem_pkt_build_udp(AF_INET, &s4, &g4, 40000, 5004, pl, plen,
					32, buf, cap, &len);
	else
		err = gem_pkt_build_udp(AF_INET6, &s6, &g6, 40000, 5004, pl,
					plen, 32, buf, cap, &len);
	cr_assert_eq(err, 0, "build family %d plen %zu: %d", family, plen, err);
	return len;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* IP header length straight from the bytes, without gem_pkt_parse(). */
static size_t hand_hlen(const uint8_t *p)
{
	return (p[0] >> 4) == 4 ? (size_t)(p[0] & 0x0f) * 4 : GEM_IPV6_HLEN;
}

/* Insert `n` (multiple of 4) bytes of IPv4 options (NOPs, one Router Alert
 * first) after the fixed header; fixes IHL, total length, header checksum.
 * The UDP checksum is unchanged: options are not in the pseudo-header. */
static size_t add_ipv4_opts(uint8_t *pkt, size_t len, size_t n)
{
	memmove(pkt + 20 + n, pkt + 20, len - 20);
	memset(pkt + 20, 0x01, n);
	if (n >= 4)
		memcpy(pkt + 20, "\x94\x04\x00\x00", 4);
	len += n;
	pkt[0] = 0x40 | (uint8_t)((20 + n) / 4);
	wr16(pkt + 2, (uint16_t)len);
	wr16(pkt + 10, gem_pkt_ipv4_hdr_csum(pkt, 20 + n));
	return len;
}

/* ---- independent crypto ------------------------------------------------------ */

struct ecb {
	EVP_CIPHER_CTX *c;
};

static void ecb_init(struct ecb *e, const uint8_t key[16])
{
	e->c = EVP_CIPHER_CTX_new();
	cr_assert(e->c);
	cr_assert_eq(EVP_EncryptInit_ex(e->c, EVP_aes_128_ecb(), NULL, key, NULL), 1);
	EVP_CIPHER_CTX_set_padding(e->c, 0);
}

static void ecb_block(struct ecb *e, const uint8_t in[16], uint8_t out[16])
{
	int n = 0;

	cr_assert_eq(EVP_EncryptUpdate(e->c, out, &n, in, 16), 1);
	cr_assert_eq(n, 16);
}

static void ecb_free(struct ecb *e)
{
	EVP_CIPHER_CTX_free(e->c);
}

/* XOR with AES(sek, CB(2)) || AES(sek, CB(3)) || ..., counter blocks built
 * byte by byte from the spec's layout. */
static void hand_ctr_from(const uint8_t sek[16], uint16_t kid, uint64_t pn, uint32_t first,
			  const uint8_t *in, uint8_t *out, size_t len)
{
	struct ecb e;
	uint8_t cb[16], ks[16];

	ecb_init(&e, sek);
	for (size_t off = 0, i = first; off < len; off += 16, i++) {
		for (int b = 0; b < 8; b++)
			cb[b] = (uint8_t)(pn >> (56 - 8 * b));
		cb[8] = kid >> 8;
		cb[9] = kid & 0xff;
		cb[10] = 0;
		cb[11] = 0;
		cb[12] = (uint8_t)(i >> 24);
		cb[13] = (uint8_t)(i >> 16);
		cb[14] = (uint8_t)(i >> 8);
		cb[15] = (uint8_t)i;
		ecb_block(&e, cb, ks);
		for (size_t j = 0; j < 16 && off + j < len; j++)
			out[off + j] = in[off + j] ^ ks[j];
	}
	ecb_free(&e);
}

static void hand_ctr(const uint8_t sek[16], uint16_t kid, uint64_t pn,
		     const uint8_t *in, uint8_t *out, size_t len)
{
	hand_ctr_from(sek, kid, pn, 2, in, out, len);
}

static void dbl(const uint8_t in[16], uint8_t out[16])
{
	uint8_t msb = in[0] & 0x80;

	for (int i = 0; i < 15; i++)
		out[i] = (uint8_t)(in[i] << 1 | in[i + 1] >> 7);
	out[15] = (uint8_t)(in[15] << 1);
	if (msb)
		out[15] ^= 0x87;	/* R_128 */
}

/* RFC 4493 section 2.3 / 2.4, literally. */
static void hand_cmac(const uint8_t key[16], const uint8_t *m, size_t len,
		      uint8_t tag[16], uint8_t k1_out[16], uint8_t k2_out[16])
{
	static const uint8_t zero[16];
	struct ecb e;
	uint8_t L[16], k1[16], k2[16], x[16] = { 0 }, y[16], last[16];
	size_t n = (len + 15) / 16;
	int complete;

	ecb_init(&e, key);
	ecb_block(&e, zero, L);
	dbl(L, k1);
	dbl(k1, k2);
	if (n == 0) {
		n = 1;
		complete = 0;
	} else {
		complete = len % 16 == 0;
	}
	if (complete) {
		for (int j = 0; j < 16; j++)
			last[j] = m[16 * (n - 1) + j] ^ k1[j];
	} else {
		size_t r = len - 16 * (n - 1);

		memset(last, 0, 16);
		memcpy(last, m + 16 * (n - 1), r);
		last[r] = 0x80;
		for (int j = 0; j < 16; j++)
			last[j] ^= k2[j];
	}
	for (size_t i = 0; i + 1 < n; i++) {
		for (int j = 0; j < 16; j++)
			y[j] = x[j] ^ m[16 * i + j];
		ecb_block(&e, y, x);
	}
	for (int j = 0; j < 16; j++)
		y[j] = x[j] ^ last[j];
	ecb_block(&e, y, tag);
	ecb_free(&e);
	if (k1_out)
		memcpy(k1_out, k1, 16);
	if (k2_out)
		memcpy(k2_out, k2, 16);
}

/*
 * Check a sealed packet against its plaintext with nothing from gem_ref.c
 * or gem_pkt.c: offsets from the header bytes, M assembled by hand, the
 * keystream from AES-ECB, the tag from libsodium or the by-hand CMAC.
 */
static void indep_check(const uint8_t *plain, size_t plen, const uint8_t *sealed,
			size_t slen, const struct gem_ref_keys *k)
{
	static uint8_t M[BUF + 64], pt[BUF];
	size_t h = hand_hlen(sealed), po = h + 8, ct_len, mlen;
	const uint8_t *hdr = sealed + po, *ct, *tag;
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	uint16_t kid;
	uint64_t pn = 0;

	cr_assert_eq(slen, plen + GEM_OVERHEAD);
	cr_assert_eq(hdr[0], 1, "version");
	ct = hdr + GEM_HDR_LEN;
	ct_len = slen - po - GEM_OVERHEAD;
	tag = ct + ct_len;
	kid = rd16(hdr + 2);
	for (int i = 0; i < 8; i++)
		pn = pn << 8 | hdr[4 + i];

	/* suite 4 is checked below with libsodium's AEAD, not CTR */
	if (hdr[1] != GEM_SUITE_CHACHA20_POLY1305) {
		/* CTR: the ciphertext decrypts to the plaintext's UDP payload */
		hand_ctr(k->sek, kid, pn, ct, pt, ct_len);
		cr_assert_eq(memcmp(pt, plain + po, ct_len), 0, "CTR mismatch");
	}

	/* M = src || grp || sport || dport || GEM header || ciphertext */
	memset(M, 0, 32);
	if ((sealed[0] >> 4) == 4) {
		M[10] = M[11] = 0xff;
		memcpy(M + 12, sealed + 12, 4);
		M[26] = M[27] = 0xff;
		memcpy(M + 28, sealed + 16, 4);
	} else {
		memcpy(M, sealed + 8, 32);
	}
	memcpy(M + 32, sealed + h, 4);
	memcpy(M + 36, hdr, 12);
	memcpy(M + 48, ct, ct_len);
	mlen = 48 + ct_len;

	if (hdr[1] == GEM_SUITE_CHACHA20_POLY1305) {
		/* libsodium's IETF ChaCha20-Poly1305 (the reference uses
		 * OpenSSL's): nonce pn || key id || 0x0000, AAD = M[0..48) */
		static uint8_t ctag[BUF];
		uint8_t nonce[12] = { 0 };
		unsigned long long ol = 0;

		for (int i = 0; i < 8; i++)
			nonce[i] = (uint8_t)(pn >> (56 - 8 * i));
		nonce[8] = (uint8_t)(kid >> 8);
		nonce[9] = (uint8_t)kid;
		memcpy(ctag, ct, ct_len + 16);
		cr_assert_eq(crypto_aead_chacha20poly1305_ietf_decrypt(pt, &ol, NULL, ctag,
								      ct_len + 16, M, 48, nonce,
								      k->sek256), 0,
			     "libsodium rejects the suite-4 packet");
		cr_assert_eq(ol, ct_len);
		cr_assert_eq(memcmp(pt, plain + po, ct_len), 0, "AEAD plaintext mismatch");
	} else if (hdr[1] == 1) {
		crypto_auth_hmacsha256(mac, M, mlen, k->mac_key);
		cr_assert_eq(memcmp(mac, tag, 16), 0, "HMAC tag mismatch");
	} else if (hdr[1] == 3) {
		/* one-time key: AES-ECB of CB(0), CB(1); Poly1305 by OpenSSL
		 * (the reference uses libsodium's) over M, pad, lengths */
		static uint8_t P[BUF + 96];
		uint8_t zero[32] = { 0 }, otk[32];
		size_t plen = mlen, outl = 0;
		EVP_MAC *pm = EVP_MAC_fetch(NULL, "POLY1305", NULL);
		EVP_MAC_CTX *pc = pm ? EVP_MAC_CTX_new(pm) : NULL;

		hand_ctr_from(k->sek, kid, pn, 0, zero, otk, 32);
		memcpy(P, M, mlen);
		while (plen % 16)
			P[plen++] = 0;
		for (int i = 0; i < 8; i++) {
			P[plen + i] = (uint8_t)((uint64_t)48 >> (8 * i));
			P[plen + 8 + i] = (uint8_t)((uint64_t)ct_len >> (8 * i));
		}
		plen += 16;
		cr_assert_not_null(pc);
		cr_assert_eq(EVP_MAC_init(pc, otk, 32, NULL), 1);
		cr_assert_eq(EVP_MAC_update(pc, P, plen), 1);
		cr_assert_eq(EVP_MAC_final(pc, mac, &outl, sizeof(mac)), 1);
		cr_assert_eq(outl, 16);
		EVP_MAC_CTX_free(pc);
		EVP_MAC_free(pm);
		cr_assert_eq(memcmp(mac, tag, 16), 0, "Poly1305 tag mismatch");
	} else {
		cr_assert_eq(hdr[1], 2, "suite");
		hand_cmac(k->cmac_key, M, mlen, mac, NULL, NULL);
		cr_assert_eq(memcmp(mac, tag, 16), 0, "CMAC tag mismatch");
	}
}

/* ---- round trips ---------------------------------------------------------------- */

static void roundtrip_one(const uint8_t *in, size_t len, unsigned suite,
			  uint16_t kid, uint64_t pn)
{
	static uint8_t sealed[BUF], out[BUF];
	size_t slen = 0, olen = 0, h = hand_hlen(in);
	unsigned s = 0;
	uint16_t k = 0;
	uint64_t n = 0;
	int err;

	err = gem_ref_seal(in, len, sealed, sizeof(sealed), &slen, suite, kid,
			   pn, &K);
	cr_assert_eq(err, 0, "seal len %zu: %d", len, err);
	cr_assert_eq(slen, len + GEM_OVERHEAD);
	cr_assert(gem_pkt_udp_csum_ok(sealed, slen), "sealed csum, len %zu", len);

	/* untouched: everything in the IP header but lengths and checksum,
	 * the ports; UDP checksum 0 over IPv4 stays 0 */
	for (size_t i = 0; i < h; i++) {
		int is_len = (in[0] >> 4) == 4 ? (i == 2 || i == 3) : (i == 4 || i == 5);
		int is_csum = (in[0] >> 4) == 4 && (i == 10 || i == 11);

		if (!is_len && !is_csum)
			cr_assert_eq(sealed[i], in[i], "IP byte %zu changed", i);
	}
	cr_assert_eq(memcmp(sealed + h, in + h, 4), 0, "ports");
	cr_assert_eq(rd16(sealed + h + 4), rd16(in + h + 4) + GEM_OVERHEAD);
	if ((in[0] >> 4) == 4 && rd16(in + h + 6) == 0)
		cr_assert_eq(rd16(sealed + h + 6), 0);
	else
		cr_assert_neq(rd16(sealed + h + 6), 0);

	indep_check(in, len, sealed, slen, &K);

	err = gem_ref_open(sealed, slen, out, sizeof(out), &olen, &K, &s, &k, &n);
	cr_assert_eq(err, 0, "open len %zu: %d", len, err);
	cr_assert_eq(olen, len);
	cr_assert_eq(memcmp(out, in, len), 0, "open != input, len %zu", len);
	cr_assert(gem_pkt_udp_csum_ok(out, olen));
	cr_assert_eq(s, suite);
	cr_assert_eq(k, kid);
	cr_assert_eq(n, pn);
}

static void roundtrip(int family, unsigned suite)
{
	static const size_t spread[] = {
		65, 95, 96, 97, 127, 128, 129, 255, 256, 257, 511, 512, 777,
		1000, 1023, 1024, 1279, 1280, 1400,
	};
	static uint8_t in[BUF];
	size_t len, max = max_payload(family);

	cr_assert_eq(max, family == AF_INET ? 1444u : 1424u);
	for (size_t p = 0; p <= 64; p++) {
		len = mk(family, p, in, sizeof(in));
		roundtrip_one(in, len, suite, (uint16_t)(0x100 + p),
			      p * 0x9e3779b97f4a7c15ULL);
	}
	for (size_t i = 0; i < sizeof(spread) / sizeof(spread[0]); i++) {
		len = mk(family, spread[i], in, sizeof(in));
		roundtrip_one(in, len, suite, 0xffff, spread[i]);
	}
	for (size_t p = max - 1; p <= max; p++) {
		len = mk(family, p, in, sizeof(in));
		cr_assert_eq(len + GEM_OVERHEAD, p == max ? MTU : MTU - 1);
		roundtrip_one(in, len, suite, 0, GEM_PN_LIMIT - 1);
	}
	/* the largest the data plane handles at all, beyond MTU 1500 */
	len = mk(family, GEM_MAX_PT, in, sizeof(in));
	roundtrip_one(in, len, suite, 7, 7);
}

Test(ref, roundtrip_v4_hmac) { roundtrip(AF_INET, GEM_SUITE_HMAC_SHA256); }
Test(ref, roundtrip_v4_cmac) { roundtrip(AF_INET, GEM_SUITE_CMAC); }
Test(ref, roundtrip_v6_hmac) { roundtrip(AF_INET6, GEM_SUITE_HMAC_SHA256); }
Test(ref, roundtrip_v6_cmac) { roundtrip(AF_INET6, GEM_SUITE_CMAC); }
Test(ref, roundtrip_v4_poly1305) { roundtrip(AF_INET, GEM_SUITE_POLY1305); }
Test(ref, roundtrip_v6_poly1305) { roundtrip(AF_INET6, GEM_SUITE_POLY1305); }
Test(ref, roundtrip_v4_chacha20_poly1305) { roundtrip(AF_INET, GEM_SUITE_CHACHA20_POLY1305); }
Test(ref, roundtrip_v6_chacha20_poly1305) { roundtrip(AF_INET6, GEM_SUITE_CHACHA20_POLY1305); }

/* RFC 8439 2.8.2: the OpenSSL AEAD the reference builds suite 4 on, called
 * the way gem_ref_aead() calls it, gives the RFC's ciphertext and tag; and
 * gem_ref_aead() itself agrees with libsodium for a GEM prefix. */
Test(ref, chacha20_poly1305_rfc8439_2_8_2)
{
	static const char pt[] = "Ladies and Gentlemen of the class of '99: If I could offer you "
				 "only one tip for the future, sunscreen would be it.";
	static const uint8_t aad[12] = { 0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3,
					 0xc4, 0xc5, 0xc6, 0xc7 };
	static const uint8_t nonce[12] = { 0x07, 0, 0, 0, 0x40, 0x41, 0x42, 0x43,
					   0x44, 0x45, 0x46, 0x47 };
	static const uint8_t ct_head[16] = { 0xd3, 0x1a, 0x8d, 0x34, 0x64, 0x8e, 0x60, 0xdb,
					     0x7b, 0x86, 0xaf, 0xbc, 0x53, 0xef, 0x7e, 0xc2 };
	static const uint8_t ct_tail[2] = { 0x61, 0x16 };
	static const uint8_t want_tag[16] = { 0x1a, 0xe1, 0x0b, 0x59, 0x4f, 0x09, 0xe2, 0x6a,
					      0x7e, 0x90, 0x2e, 0xcb, 0xd0, 0x60, 0x06, 0x91 };
	uint8_t key[32], ct[114], tag[16], prefix[GEM_AAD_LEN], c2[114], t2[16], sc[130];
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	unsigned long long sl = 0;
	uint8_t n12[12];
	int n = 0, f = 0;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(0x80 + i);
	cr_assert_not_null(c);
	cr_assert_eq(EVP_EncryptInit_ex(c, EVP_chacha20_poly1305(), NULL, NULL, NULL), 1);
	cr_assert_eq(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL), 1);
	cr_assert_eq(EVP_EncryptInit_ex(c, NULL, NULL, key, nonce), 1);
	cr_assert_eq(EVP_EncryptUpdate(c, NULL, &n, aad, sizeof(aad)), 1);
	cr_assert_eq(EVP_EncryptUpdate(c, ct, &n, (const uint8_t *)pt, 114), 1);
	cr_assert_eq(EVP_EncryptFinal_ex(c, ct + n, &f), 1);
	cr_assert_eq(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag), 1);
	EVP_CIPHER_CTX_free(c);
	cr_assert_eq(memcmp(ct, ct_head, 16), 0);
	cr_assert_eq(memcmp(ct + 112, ct_tail, 2), 0);
	cr_assert_eq(memcmp(tag, want_tag, 16), 0, "RFC 8439 2.8.2 tag");

	/* gem_ref_aead vs libsodium on a GEM prefix (nonce from its header) */
	for (int i = 0; i < GEM_AAD_LEN; i++)
		prefix[i] = (uint8_t)(i * 3 + 1);
	cr_assert_eq(gem_ref_aead(1, key, prefix, (const uint8_t *)pt, c2, 114, t2), 0);
	gem_ref_nonce(n12, rd64(prefix + 40), rd16(prefix + 38));
	cr_assert_eq(n12[10] | n12[11], 0);
	cr_assert_eq(crypto_aead_chacha20poly1305_ietf_encrypt(sc, &sl, (const uint8_t *)pt, 114,
							       prefix, GEM_AAD_LEN, NULL, n12,
							       key), 0);
	cr_assert_eq(sl, 130);
	cr_assert_eq(memcmp(sc, c2, 114), 0);
	cr_assert_eq(memcmp(sc + 114, t2, 16), 0);
	/* open: a wrong tag, AAD byte or ciphertext byte writes nothing */
	memset(ct, 0xee, sizeof(ct));
	t2[0] ^= 1;
	cr_assert_eq(gem_ref_aead(0, key, prefix, c2, ct, 114, t2), -EBADMSG);
	t2[0] ^= 1;
	prefix[5] ^= 1;
	cr_assert_eq(gem_ref_aead(0, key, prefix, c2, ct, 114, t2), -EBADMSG);
	prefix[5] ^= 1;
	c2[100] ^= 1;
	cr_assert_eq(gem_ref_aead(0, key, prefix, c2, ct, 114, t2), -EBADMSG);
	for (size_t i = 0; i < sizeof(ct); i++)
		cr_assert_eq(ct[i], 0xee, "plaintext written before the tag verified");
	c2[100] ^= 1;
	cr_assert_eq(gem_ref_aead(0, key, prefix, c2, ct, 114, t2), 0);
	cr_assert_eq(memcmp(ct, pt, 114), 0);
}

Test(ref, roundtrip_v4_options)
{
	static uint8_t in[BUF];
	size_t len;

	for (unsigned suite = 1; suite <= 2; suite++) {
		for (size_t o = 4; o <= 40; o += 36) {	/* IHL 6 and 15 */
			for (size_t p = 0; p <= 40; p += 20) {
				len = mk(AF_INET, p, in, sizeof(in));
				len = add_ipv4_opts(in, len, o);
				cr_assert(gem_pkt_udp_csum_ok(in, len));
				roundtrip_one(in, len, suite, 3, p);
			}
		}
	}
}

Test(ref, roundtrip_v4_zero_udp_csum)
{
	static uint8_t in[BUF];
	size_t len;

	for (unsigned suite = 1; suite <= 2; suite++) {
		for (size_t p = 0; p < 100; p += 33) {
			len = mk(AF_INET, p, in, sizeof(in));
			wr16(in + 26, 0);	/* "no checksum", RFC 768 */
			cr_assert(gem_pkt_udp_csum_ok(in, len));
			roundtrip_one(in, len, suite, 9, p);	/* asserts sealed 0 */
		}
	}
}

/* A plaintext whose UDP checksum computes to 0 travels as 0xffff
 * (RFC 768) and comes back as 0xffff. */
Test(ref, plain_csum_zero_is_ffff)
{
	static uint8_t in[BUF];

	for (int fam = AF_INET; fam; fam = fam == AF_INET ? AF_INET6 : 0) {
		size_t h = hlen_of(fam), len;
		uint16_t c;

		len = mk(fam, 20, in, sizeof(in));
		/* Zero the last payload word; the checksum c then sums the rest
		 * to ~c, and putting c in that word makes the total all ones. */
		wr16(in + len - 2, 0);
		wr16(in + h + 6, 0);
		{
			struct gem_pkt_info pi;

			cr_assert_eq(gem_pkt_parse(in, len, &pi), 0);
			c = gem_pkt_udp_csum(in, &pi);
			wr16(in + len - 2, c);
			cr_assert_eq(gem_pkt_udp_csum(in, &pi), 0xffff);
			gem_pkt_set_udp_csum(in, &pi, 0xffff);
		}
		cr_assert(gem_pkt_udp_csum_ok(in, len));
		roundtrip_one(in, len, GEM_SUITE_HMAC_SHA256, 1, 1);
		roundtrip_one(in, len, GEM_SUITE_CMAC, 1, 1);
	}
}

/* The same on the sealed side: search a pn whose sealed packet's UDP
 * checksum computes to 0 (about 1 in 65535) and check it is sent as
 * 0xffff, not as "no checksum". */
Test(ref, sealed_csum_zero_is_ffff)
{
	static uint8_t in[BUF], sealed[BUF];
	size_t len = mk(AF_INET6, 5, in, sizeof(in)), slen;
	uint64_t pn;
	int found = 0;

	for (pn = 0; pn < (1u << 21) && !found; pn++) {
		cr_assert_eq(gem_ref_seal(in, len, sealed, sizeof(sealed), &slen,
					  GEM_SUITE_CMAC, 1, pn, &K), 0);
		if (rd16(sealed + 46) == 0xffff)
			found = 1;
	}
	cr_assert(found, "no pn gave a zero checksum");
	cr_assert(gem_pkt_udp_csum_ok(sealed, slen));
	roundtrip_one(in, len, GEM_SUITE_CMAC, 1, pn - 1);
}

/* ---- independent crypto checks -------------------------------------------------- */

/* The by-hand CMAC used by indep_check() against RFC 4493 section 4. */
Test(ref, cmac_by_hand_rfc4493)
{
	static const uint8_t key[16] = {
		0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
		0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c,
	};
	static const uint8_t msg[64] = {
		0x6b, 0xc1, 0xbe, 0xe2, 0x2e, 0x40, 0x9f, 0x96,
		0xe9, 0x3d, 0x7e, 0x11, 0x73, 0x93, 0x17, 0x2a,
		0xae, 0x2d, 0x8a, 0x57, 0x1e, 0x03, 0xac, 0x9c,
		0x9e, 0xb7, 0x6f, 0xac, 0x45, 0xaf, 0x8e, 0x51,
		0x30, 0xc8, 0x1c, 0x46, 0xa3, 0x5c, 0xe4, 0x11,
		0xe5, 0xfb, 0xc1, 0x19, 0x1a, 0x0a, 0x52, 0xef,
		0xf6, 0x9f, 0x24, 0x45, 0xdf, 0x4f, 0x9b, 0x17,
		0xad, 0x2b, 0x41, 0x7b, 0xe6, 0x6c, 0x37, 0x10,
	};
	static const uint8_t k1_exp[16] = {
		0xfb, 0xee, 0xd6, 0x18, 0x35, 0x71, 0x33, 0x66,
		0x7c, 0x85, 0xe0, 0x8f, 0x72, 0x36, 0xa8, 0xde,
	};
	static const uint8_t k2_exp[16] = {
		0xf7, 0xdd, 0xac, 0x30, 0x6a, 0xe2, 0x66, 0xcc,
		0xf9, 0x0b, 0xc1, 0x1e, 0xe4, 0x6d, 0x51, 0x3b,
	};
	static const struct {
		size_t len;
		uint8_t tag[16];
	} ex[] = {
		{ 0, { 0xbb, 0x1d, 0x69, 0x29, 0xe9, 0x59, 0x37, 0x28,
		       0x7f, 0xa3, 0x7d, 0x12, 0x9b, 0x75, 0x67, 0x46 } },
		{ 16, { 0x07, 0x0a, 0x16, 0xb4, 0x6b, 0x4d, 0x41, 0x44,
			0xf7, 0x9b, 0xdd, 0x9d, 0xd0, 0x4a, 0x28, 0x7c } },
		{ 40, { 0xdf, 0xa6, 0x67, 0x47, 0xde, 0x9a, 0xe6, 0x30,
			0x30, 0xca, 0x32, 0x61, 0x14, 0x97, 0xc8, 0x27 } },
		{ 64, { 0x51, 0xf0, 0xbe, 0xbf, 0x7e, 0x3b, 0x9d, 0x92,
			0xfc, 0x49, 0x74, 0x17, 0x79, 0x36, 0x3c, 0xfe } },
	};
	uint8_t tag[16], k1[16], k2[16];

	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		hand_cmac(key, msg, ex[i].len, tag, k1, k2);
		cr_assert_eq(memcmp(tag, ex[i].tag, 16), 0, "RFC 4493 example %zu", i + 1);
		cr_assert_eq(memcmp(k1, k1_exp, 16), 0, "K1");
		cr_assert_eq(memcmp(k2, k2_exp, 16), 0, "K2");
	}
}

/* gem_ref_tag() suite 2 (OpenSSL CMAC) agrees with the by-hand CMAC on
 * every M length around the block boundaries. */
Test(ref, cmac_evp_vs_by_hand)
{
	uint8_t pre[GEM_AAD_LEN], ct[100], a[16], b[16], M[GEM_AAD_LEN + 100];

	for (size_t i = 0; i < sizeof(pre); i++)
		pre[i] = (uint8_t)(i * 3);
	for (size_t i = 0; i < sizeof(ct); i++)
		ct[i] = (uint8_t)(i * 5 + 1);
	memcpy(M, pre, sizeof(pre));
	memcpy(M + sizeof(pre), ct, sizeof(ct));
	for (size_t n = 0; n <= sizeof(ct); n++) {
		cr_assert_eq(gem_ref_tag(GEM_SUITE_CMAC, &K, pre, ct, n, a), 0);
		hand_cmac(K.cmac_key, M, sizeof(pre) + n, b, NULL, NULL);
		cr_assert_eq(memcmp(a, b, 16), 0, "ct len %zu", n);
	}
}

/* Counter blocks and the keystream: CB(i) layout, CTR from block 2,
 * blocks 0 and 1 never used. */
Test(ref, ctr_layout)
{
	static const uint8_t exp[16] = {
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0xbe, 0xef, 0x00, 0x00, 0x00, 0x00, 0x00, 0x62,
	};
	uint8_t cb[16], zero[64] = { 0 }, ks[64], hand[64], b01[32];
	struct ecb e;

	gem_ref_counter_block(cb, 0x0102030405060708ULL, 0xbeef, 98);
	cr_assert_eq(memcmp(cb, exp, 16), 0);

	/* keystream of gem_ref_ctr over zeros == AES-ECB of CB(2), CB(3)... */
	cr_assert_eq(gem_ref_ctr(K.sek, 0xbeef, 0x0102030405060708ULL, zero, ks,
				 sizeof(ks)), 0);
	hand_ctr(K.sek, 0xbeef, 0x0102030405060708ULL, zero, hand, sizeof(hand));
	cr_assert_eq(memcmp(ks, hand, sizeof(ks)), 0);

	/* ... and not of the reserved CB(0), CB(1) */
	ecb_init(&e, K.sek);
	gem_ref_counter_block(cb, 0x0102030405060708ULL, 0xbeef, 0);
	ecb_block(&e, cb, b01);
	gem_ref_counter_block(cb, 0x0102030405060708ULL, 0xbeef, 1);
	ecb_block(&e, cb, b01 + 16);
	ecb_free(&e);
	cr_assert_neq(memcmp(ks, b01, 16), 0);
	cr_assert_neq(memcmp(ks, b01 + 16, 16), 0);

	cr_assert_eq(gem_ref_ctr(K.sek, 1, 1, zero, ks, GEM_MAX_PT + 1), -EMSGSIZE);
}

/* HMAC: gem_ref_tag() suite 1 is libsodium's HMAC-SHA-256 truncated. */
Test(ref, hmac_evp_vs_libsodium)
{
	uint8_t pre[GEM_AAD_LEN], ct[70], a[16], full[32], M[GEM_AAD_LEN + 70];

	for (size_t i = 0; i < sizeof(pre); i++)
		pre[i] = (uint8_t)(i * 7);
	for (size_t i = 0; i < sizeof(ct); i++)
		ct[i] = (uint8_t)(i ^ 0x5a);
	memcpy(M, pre, sizeof(pre));
	memcpy(M + sizeof(pre), ct, sizeof(ct));
	for (size_t n = 0; n <= sizeof(ct); n++) {
		cr_assert_eq(gem_ref_tag(GEM_SUITE_HMAC_SHA256, &K, pre, ct, n, a), 0);
		crypto_auth_hmacsha256(full, M, sizeof(pre) + n, K.mac_key);
		cr_assert_eq(memcmp(a, full, 16), 0, "ct len %zu", n);
	}
	cr_assert_eq(gem_ref_tag(4, &K, pre, ct, 1, a), -EPROTONOSUPPORT);
}

/* ---- tampering and truncation ------------------------------------------------- */

/* What open must return once bit `bit` of byte `off` of a sealed packet
 * (IP header length h) is flipped.  1 means: opens (field not covered). */
static int tamper_expect(const uint8_t *sealed, size_t off, int bit)
{
	size_t h = hand_hlen(sealed);
	int v4 = (sealed[0] >> 4) == 4;

	if (off >= h) {
		off -= h;
		if (off < 4)
			return -EBADMSG;		/* ports */
		if (off < 6)
			return -EINVAL;			/* UDP length */
		if (off < 8)
			return 1;			/* UDP checksum */
		if (off == 8)
			return -EPROTONOSUPPORT;	/* version */
		if (off == 9) {			/* suite: another known one fails the tag */
			unsigned s = sealed[h + 9] ^ (1u << bit);

			return s >= 1 && s <= 3 ? -EBADMSG : -EPROTONOSUPPORT;
		}
		return -EBADMSG;	/* key id, pn, ciphertext, tag */
	}
	if (v4) {
		switch (off) {
		case 0:			/* version, IHL */
		case 2: case 3:		/* total length */
		case 7:			/* fragment offset */
		case 9:			/* protocol */
			return -EINVAL;
		case 6:			/* reserved, DF pass; MF, offset drop */
			return bit >= 6 ? 1 : -EINVAL;
		case 1: case 4: case 5: case 8: case 10: case 11:
			return 1;	/* TOS, id, TTL, header checksum */
		default:
			return off < 20 ? -EBADMSG : 1;	/* addresses; options */
		}
	}
	switch (off) {
	case 0:
		return bit >= 4 ? -EINVAL : 1;	/* version; traffic class */
	case 4: case 5: case 6:			/* payload length, next header */
		return -EINVAL;
	case 1: case 2: case 3: case 7:		/* class, flow label, hop limit */
		return 1;
	default:
		return -EBADMSG;		/* addresses */
	}
}

static void tamper(const uint8_t *in, size_t len, unsigned suite)
{
	static uint8_t sealed[BUF], bad[BUF], out[BUF], exp[BUF];
	size_t slen, olen, h = hand_hlen(in);
	int v4 = (in[0] >> 4) == 4;
	int err, want;

	cr_assert_eq(gem_ref_seal(in, len, sealed, sizeof(sealed), &slen, suite,
				  0x4242, 0x1122334455667788ULL, &K), 0);
	for (size_t off = 0; off < slen; off++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(bad, sealed, slen);
			bad[off] ^= (uint8_t)(1 << bit);
			want = tamper_expect(sealed, off, bit);
			err = gem_ref_open(bad, slen, out, sizeof(out), &olen, &K,
					   NULL, NULL, NULL);
			if (want != 1) {
				cr_assert_eq(err, want, "byte %zu bit %d: %d, want %d",
					     off, bit, err, want);
				continue;
			}
			cr_assert_eq(err, 0, "byte %zu bit %d: %d", off, bit, err);
			cr_assert_eq(olen, len);
			memcpy(exp, in, len);
			if (off >= h) {
				/* a sealed UDP checksum is not looked at: the
				 * plaintext one is recomputed (0 stays 0, IPv4) */
				if (v4 && rd16(bad + h + 6) == 0)
					wr16(exp + h + 6, 0);
				cr_assert_eq(memcmp(out, exp, len), 0,
					     "byte %zu bit %d", off, bit);
				continue;
			}
			/* an uncovered IP header bit comes through as it is */
			exp[off] ^= (uint8_t)(1 << bit);
			if (v4 && (off == 10 || off == 11)) {
				cr_assert_eq(memcmp(out, exp, 10), 0);
				cr_assert_eq(memcmp(out + 12, exp + 12, len - 12), 0);
			} else {
				cr_assert_eq(memcmp(out, exp, len), 0,
					     "byte %zu bit %d", off, bit);
			}
			/* IPv4: the header checksum is updated incrementally,
			 * so a header that arrived wrong does not leave fixed */
			cr_assert_eq(gem_pkt_udp_csum_ok(out, olen), !v4,
				     "byte %zu bit %d", off, bit);
		}
	}
}

Test(ref, tamper_every_bit)
{
	static uint8_t in[BUF];
	size_t len;

	for (unsigned suite = 1; suite <= GEM_SUITE_MAX; suite++) {
		len = mk(AF_INET, 33, in, sizeof(in));
		tamper(in, len, suite);
		len = mk(AF_INET6, 33, in, sizeof(in));
		tamper(in, len, suite);
		len = mk(AF_INET, 0, in, sizeof(in));
		tamper(in, len, suite);
		len = mk(AF_INET6, 16, in, sizeof(in));
		tamper(in, len, suite);
		len = mk(AF_INET, 7, in, sizeof(in));
		len = add_ipv4_opts(in, len, 8);
		tamper(in, len, suite);
	}
}

/* The suite byte is bound by the MAC as well: relabelling a suite-1 packet
 * as suite 2 (both valid) fails the tag, not the suite check. */
Test(ref, tamper_suite_swap)
{
	static uint8_t in[BUF], sealed[BUF], out[BUF];
	size_t len = mk(AF_INET6, 40, in, sizeof(in)), slen, olen;

	for (unsigned suite = 1; suite <= 2; suite++) {
		cr_assert_eq(gem_ref_seal(in, len, sealed, sizeof(sealed), &slen,
					  suite, 1, 1, &K), 0);
		sealed[GEM_IPV6_HLEN + 8 + 1] = (uint8_t)(3 - suite);
		cr_assert_eq(gem_ref_open(sealed, slen, out, sizeof(out), &olen, &K,
					  NULL, NULL, NULL), -EBADMSG);
	}
}

/* Cut the packet at every length: the bare cut breaks the IP length
 * (-EINVAL); with IP and UDP lengths rewritten to match the cut, a cut in
 * the GEM header is -EINVAL (too short) and one in ciphertext/tag -EBADMSG.
 * Padding beyond the IP length is refused too. */
static void truncate_all(int family, unsigned suite, size_t plen)
{
	static uint8_t in[BUF], sealed[BUF], cut[BUF], out[BUF];
	size_t len = mk(family, plen, in, sizeof(in)), slen, olen;
	size_t h = hlen_of(family);
	int err;

	cr_assert_eq(gem_ref_seal(in, len, sealed, sizeof(sealed), &slen, suite,
				  5, 5, &K), 0);
	for (size_t l = 0; l < slen; l++) {
		/* malloc'ed at the exact size, so an overread is an ASan hit */
		uint8_t *p = malloc(l ? l : 1);

		cr_assert(p);
		memcpy(p, sealed, l);
		err = gem_ref_open(p, l, out, sizeof(out), &olen, &K, NULL, NULL,
				   NULL);
		cr_assert_eq(err, -EINVAL, "cut %zu: %d", l, err);
		free(p);
		if (l < len) {
			p = malloc(l ? l : 1);
			cr_assert(p);
			memcpy(p, in, l);
			err = gem_ref_seal(p, l, out, sizeof(out), &olen, suite,
					   1, 1, &K);
			cr_assert_eq(err, -EINVAL, "seal cut %zu: %d", l, err);
			free(p);
		}

		if (l < h + GEM_UDP_HLEN)
			continue;
		memcpy(cut, sealed, l);
		if (family == AF_INET) {
			wr16(cut + 2, (uint16_t)l);
			wr16(cut + 10, gem_pkt_ipv4_hdr_csum(cut, h));
		} else {
			wr16(cut + 4, (uint16_t)(l - h));
		}
		wr16(cut + h + 4, (uint16_t)(l - h));
		err = gem_ref_open(cut, l, out, sizeof(out), &olen, &K, NULL, NULL,
				   NULL);
		if (l < h + GEM_UDP_HLEN + GEM_OVERHEAD)
			cr_assert_eq(err, -EINVAL, "consistent cut %zu: %d", l, err);
		else
			cr_assert_eq(err, -EBADMSG, "consistent cut %zu: %d", l, err);
	}
	for (size_t extra = 1; extra <= 16; extra++) {
		memcpy(cut, sealed, slen);
		memset(cut + slen, 0, extra);
		cr_assert_eq(gem_ref_open(cut, slen + extra, out, sizeof(out), &olen,
					  &K, NULL, NULL, NULL), -EINVAL);
	}
}

Test(ref, truncate_every_length)
{
	for (unsigned suite = 1; suite <= 2; suite++) {
		truncate_all(AF_INET, suite, 0);
		truncate_all(AF_INET, suite, 45);
		truncate_all(AF_INET6, suite, 0);
		truncate_all(AF_INET6, suite, 45);
	}
}

/* Random corruption of length fields and bytes: never a crash (the
 * exact-size heap copy makes any overread visible under ASan), and a
 * successful open only ever produces a well-formed packet that fits. */
Test(ref, random_garbage)
{
	static uint8_t in[BUF], sealed[BUF], out[BUF];
	size_t slen, olen;
	uint32_t r = 12345;

	for (int it = 0; it < 20000; it++) {
		int fam = it & 1 ? AF_INET6 : AF_INET;
		size_t len = mk(fam, (it * 7) % 200, in, sizeof(in)), l;
		uint8_t *p;
		int err;

		cr_assert_eq(gem_ref_seal(in, len, sealed, sizeof(sealed), &slen,
					  1 + (it & 2) / 2, 1, (uint64_t)it, &K), 0);
		for (int n = 0; n < 1 + it % 4; n++) {
			r = r * 1103515245 + 12345;
			sealed[(r >> 8) % slen] ^= (uint8_t)(r >> 24 | 1);
		}
		r = r * 1103515245 + 12345;
		l = (r >> 16) % 4 ? slen : (r >> 8) % (slen + 8);
		p = malloc(l ? l : 1);
		cr_assert(p);
		memcpy(p, sealed, l < slen ? l : slen);
		if (l > slen)
			memset(p + slen, 0xee, l - slen);
		err = gem_ref_open(p, l, out, sizeof(out), &olen, &K, NULL, NULL,
				   NULL);
		if (!err) {
			/* only uncovered fields were hit */
			cr_assert_eq(olen, l - GEM_OVERHEAD);
			cr_assert_eq(memcmp(out + hand_hlen(out) + 8,
					    in + hand_hlen(in) + 8,
					    len - hand_hlen(in) - 8), 0);
		} else {
			cr_assert(err == -EINVAL || err == -EBADMSG ||
				  err == -EPROTONOSUPPORT || err == -EMSGSIZE,
				  "unexpected %d", err);
		}
		free(p);
	}
}

/* ---- argument and size errors ----------------------------------------------- */

Test(ref, errors)
{
	static uint8_t in[BUF + 64], sealed[BUF + 64], out[BUF + 64];
	size_t len, slen, olen;
	struct gem_ref_keys wrong = K;

	len = mk(AF_INET, 10, in, sizeof(in));
	cr_assert_eq(gem_ref_seal(in, len, sealed, sizeof(sealed), &slen, 0, 1, 1, &K),
		     -EPROTONOSUPPORT);
	cr_assert_eq(gem_ref_seal(in, len, sealed, sizeof(sealed), &slen, 5, 1, 1, &K),
		     -EPROTONOSUPPORT);
	cr_assert_eq(gem_ref_seal(in, len, sealed, len + GEM_OVERHEAD - 1, &slen,
				  1, 1, 1, &K), -EMSGSIZE);
	cr_assert_eq(gem_ref_seal(NULL, len, sealed, sizeof(sealed), &slen, 1, 1, 1, &K),
		     -EINVAL);
	cr_assert_eq(gem_ref_seal(in, len, sealed, sizeof(sealed), &slen, 1, 1, 1, NULL),
		     -EINVAL);
	/* in and out overlapping */
	cr_assert_eq(gem_ref_seal(in, len, in + 4, sizeof(in) - 4, &slen, 1, 1, 1, &K),
		     -EINVAL);
	cr_assert_eq(gem_ref_seal(in, len, sealed, len + GEM_OVERHEAD, &slen, 1, 1,
				  1, &K), 0);
	cr_assert_eq(slen, len + GEM_OVERHEAD);

	cr_assert_eq(gem_ref_open(sealed, slen, out, len - 1, &olen, &K, NULL, NULL,
				  NULL), -EMSGSIZE);
	cr_assert_eq(gem_ref_open(sealed, slen, sealed + 1, len, &olen, &K, NULL,
				  NULL, NULL), -EINVAL);
	cr_assert_eq(gem_ref_open(sealed, slen, out, len, &olen, NULL, NULL, NULL,
				  NULL), -EINVAL);
	/* a wrong MAC key fails the tag; nothing is written to out */
	wrong.mac_key[31] ^= 1;
	memset(out, 0xaa, len);
	cr_assert_eq(gem_ref_open(sealed, slen, out, len, &olen, &wrong, NULL, NULL,
				  NULL), -EBADMSG);
	for (size_t i = 0; i < len; i++)
		cr_assert_eq(out[i], 0xaa);
	cr_assert_eq(gem_ref_open(sealed, slen, out, len, &olen, &K, NULL, NULL,
				  NULL), 0);
	cr_assert_eq(memcmp(out, in, len), 0);

	/* payload size limits, both directions */
	len = mk(AF_INET6, GEM_MAX_PT + 1, in, sizeof(in));
	cr_assert_eq(gem_ref_seal(in, len, sealed, sizeof(sealed), &slen, 2, 1, 1, &K),
		     -EMSGSIZE);
	/* a "sealed" packet whose ciphertext would exceed GEM_MAX_PT */
	len = mk(AF_INET6, GEM_MAX_PT + 1 + GEM_OVERHEAD, in, sizeof(in));
	gem_ref_hdr_write(in + GEM_IPV6_HLEN + 8, GEM_SUITE_CMAC, 1, 1);
	cr_assert_eq(gem_ref_open(in, len, out, sizeof(out), &olen, &K, NULL, NULL,
				  NULL), -EMSGSIZE);
	/* GEM version */
	len = mk(AF_INET6, 60, in, sizeof(in));
	gem_ref_hdr_write(in + GEM_IPV6_HLEN + 8, GEM_SUITE_CMAC, 1, 1);
	in[GEM_IPV6_HLEN + 8] = 2;
	cr_assert_eq(gem_ref_open(in, len, out, sizeof(out), &olen, &K, NULL, NULL,
				  NULL), -EPROTONOSUPPORT);
	/* a UDP payload shorter than the GEM overhead */
	len = mk(AF_INET, GEM_OVERHEAD - 1, in, sizeof(in));
	gem_ref_hdr_write(in + GEM_IPV4_HLEN + 8, GEM_SUITE_CMAC, 1, 1);
	cr_assert_eq(gem_ref_open(in, len, out, sizeof(out), &olen, &K, NULL, NULL,
				  NULL), -EINVAL);
	/* not UDP */
	len = mk(AF_INET, 60, in, sizeof(in));
	in[9] = 2;
	cr_assert_eq(gem_ref_seal(in, len, sealed, sizeof(sealed), &slen, 1, 1, 1, &K),
		     -EINVAL);
}

/* The tag binds addresses and ports, not the SEK: a wrong SEK opens to
 * garbage.  Documented here so nobody relies on open() to detect it. */
Test(ref, wrong_sek_is_not_detected)
{
	static uint8_t in[BUF], sealed[BUF], out[BUF];
	struct gem_ref_keys wrong = K;
	size_t len = mk(AF_INET, 32, in, sizeof(in)), slen, olen;

	cr_assert_eq(gem_ref_seal(in, len, sealed, sizeof(sealed), &slen, 1, 1, 1, &K), 0);
	wrong.sek[0] ^= 1;
	cr_assert_eq(gem_ref_open(sealed, slen, out, sizeof(out), &olen, &wrong,
				  NULL, NULL, NULL), 0);
	cr_assert_neq(memcmp(out + 28, in + 28, 32), 0);
}

/* ---- test vectors ------------------------------------------------------------ */

Test(ref, vectors_table)
{
	int n[GEM_SUITE_MAX + 1][2] = { { 0 } };	/* [suite][v6] */
	int zero_len = 0, big_pn = 0;

	for (size_t i = 0; i < gem_n_vectors; i++) {
		const struct gem_vector *v = &gem_vectors[i];

		cr_assert(v->suite >= 1 && v->suite <= GEM_SUITE_MAX);
		cr_assert(v->family == AF_INET || v->family == AF_INET6);
		cr_assert_eq(v->sealed_len, v->input_len + GEM_OVERHEAD);
		cr_assert_eq((v->input[0] >> 4) == 4, v->family == AF_INET);
		n[v->suite][v->family == AF_INET6]++;
		zero_len += v->input_len == hand_hlen(v->input) + 8;
		big_pn += v->pn > 0xffffffffULL;
	}
	for (int s = 1; s <= GEM_SUITE_MAX; s++)
		cr_assert(n[s][0] + n[s][1] >= 3 && n[s][0] && n[s][1],
			  "suite %d: %d IPv4, %d IPv6 vectors", s, n[s][0], n[s][1]);
	cr_assert(zero_len >= 2 && big_pn >= 2);
}

Test(ref, vectors_seal)
{
	static uint8_t out[BUF];
	size_t olen;

	for (size_t i = 0; i < gem_n_vectors; i++) {
		const struct gem_vector *v = &gem_vectors[i];

		cr_assert_eq(gem_ref_seal(v->input, v->input_len, out, sizeof(out),
					  &olen, v->suite, v->key_id, v->pn, &v->keys),
			     0, "%s", v->name);
		cr_assert_eq(olen, v->sealed_len, "%s", v->name);
		cr_assert_eq(memcmp(out, v->sealed, olen), 0, "%s: sealed bytes", v->name);
	}
}

Test(ref, vectors_open)
{
	static uint8_t out[BUF];
	size_t olen;
	unsigned s;
	uint16_t kid;
	uint64_t pn;

	for (size_t i = 0; i < gem_n_vectors; i++) {
		const struct gem_vector *v = &gem_vectors[i];

		cr_assert_eq(gem_ref_open(v->sealed, v->sealed_len, out, sizeof(out),
					  &olen, &v->keys, &s, &kid, &pn), 0, "%s", v->name);
		cr_assert_eq(olen, v->input_len, "%s", v->name);
		cr_assert_eq(memcmp(out, v->input, olen), 0, "%s: opened bytes", v->name);
		cr_assert_eq(s, v->suite);
		cr_assert_eq(kid, v->key_id);
		cr_assert_eq(pn, v->pn);
	}
}

Test(ref, vectors_independent)
{
	for (size_t i = 0; i < gem_n_vectors; i++) {
		const struct gem_vector *v = &gem_vectors[i];
		const uint8_t *hdr = v->sealed + hand_hlen(v->sealed) + 8;
		uint64_t pn = 0;

		cr_assert(gem_pkt_udp_csum_ok(v->input, v->input_len), "%s", v->name);
		cr_assert(gem_pkt_udp_csum_ok(v->sealed, v->sealed_len), "%s", v->name);
		cr_assert_eq(hdr[0], GEM_VERSION);
		cr_assert_eq(hdr[1], v->suite);
		cr_assert_eq(rd16(hdr + 2), v->key_id);
		for (int b = 0; b < 8; b++)
			pn = pn << 8 | hdr[4 + b];
		cr_assert_eq(pn, v->pn);
		indep_check(v->input, v->input_len, v->sealed, v->sealed_len, &v->keys);
	}
}

/* The GAK vectors' MAC keys are the docs/KEYS.md 3 derivation of their GAK
 * (OpenSSL HMAC here; gemctl uses keys/gem_keys.c), for the group of the
 * packet and the vector's epoch, and the values KEYS.md 6 prints. */
Test(ref, vectors_gak_derivation)
{
	static const char *const kdoc[] = {	/* KEYS.md 6 */
		"6e2978650a21c64f544ebff7834a6b3d",	/* dp-cmac 239.1.1.1 epoch 7 */
		"5ace5daeff82dcea93ba256411958bb371b2afa940f6b0867b217a8ad529bc25",
	};
	int n = 0;

	for (size_t i = 0; i < gem_n_vectors; i++) {
		const struct gem_vector *v = &gem_vectors[i];
		uint8_t msg[15 + 16 + 4], key[32], doc[32];
		struct gem_pkt_info pi;
		unsigned kl = 0;
		size_t len = v->suite == GEM_SUITE_CMAC ? 16 : 32;

		if (!v->gak)
			continue;
		cr_assert_eq(gem_pkt_parse(v->input, v->input_len, &pi), 0);
		memcpy(msg, v->suite == GEM_SUITE_CMAC ? "GEM v1 dp-cmac" : "GEM v1 dp-hmac", 15);
		memcpy(msg + 15, pi.grp.a, 16);
		msg[31] = (uint8_t)(v->epoch >> 24);
		msg[32] = (uint8_t)(v->epoch >> 16);
		msg[33] = (uint8_t)(v->epoch >> 8);
		msg[34] = (uint8_t)v->epoch;
		cr_assert_not_null(HMAC(EVP_sha256(), v->gak, 32, msg, sizeof(msg), key, &kl));
		cr_assert_eq(memcmp(key, v->suite == GEM_SUITE_CMAC ? v->keys.cmac_key
								: v->keys.mac_key, len), 0,
			     "%s: MAC key is not the GAK's derivation", v->name);
		for (size_t k = 0; k < len; k++)
			cr_assert_eq(sscanf(kdoc[n] + 2 * k, "%2hhx", &doc[k]), 1);
		cr_assert_eq(memcmp(key, doc, len), 0, "%s: differs from docs/KEYS.md 6", v->name);
		n++;
	}
	cr_assert_eq(n, 2, "two GAK vectors");
}

/* ---- packet helpers ------------------------------------------------------------ */

Test(pkt, build_ipv4)
{
	static const uint8_t pl[3] = { 1, 2, 3 };
	struct in_addr s, g;
	uint8_t b[64];
	size_t len;

	inet_pton(AF_INET, "10.0.0.1", &s);
	inet_pton(AF_INET, "224.1.1.1", &g);
	cr_assert_eq(gem_pkt_build_udp(AF_INET, &s, &g, 1, 2, pl, 3, 7, b,
				       sizeof(b), &len), 0);
	cr_assert_eq(len, 31);
	cr_assert_eq(b[0], 0x45);
	cr_assert_eq(rd16(b + 2), 31);
	cr_assert_eq(rd16(b + 4), 0x1234);
	cr_assert_eq(rd16(b + 6), 0, "DF and MF clear");
	cr_assert_eq(b[8], 7);
	cr_assert_eq(b[9], 17);
	cr_assert_eq(memcmp(b + 12, "\x0a\x00\x00\x01\xe0\x01\x01\x01", 8), 0);
	cr_assert_eq(rd16(b + 20), 1);
	cr_assert_eq(rd16(b + 22), 2);
	cr_assert_eq(rd16(b + 24), 11);
	cr_assert_neq(rd16(b + 26), 0);
	cr_assert_eq(memcmp(b + 28, pl, 3), 0);
	cr_assert(gem_pkt_udp_csum_ok(b, len));

	cr_assert_eq(gem_pkt_build_udp(AF_INET, &s, &g, 1, 2, pl, 3, 7, b, 30, &len),
		     -EMSGSIZE);
	cr_assert_eq(gem_pkt_build_udp(AF_UNIX, &s, &g, 1, 2, pl, 3, 7, b,
				       sizeof(b), &len), -EINVAL);
	cr_assert_eq(gem_pkt_build_udp(AF_INET, &s, &g, 1, 2, NULL, 3, 7, b,
				       sizeof(b), &len), -EINVAL);
}

Test(pkt, build_ipv6)
{
	struct in6_addr s, g;
	uint8_t b[64];
	size_t len;

	inet_pton(AF_INET6, "2001:db8::2", &s);
	inet_pton(AF_INET6, "ff05::2", &g);
	cr_assert_eq(gem_pkt_build_udp(AF_INET6, &s, &g, 9, 10, NULL, 0, 255, b,
				       sizeof(b), &len), 0);
	cr_assert_eq(len, 48);
	cr_assert_eq(rd16(b), 0x6000);
	cr_assert_eq(rd16(b + 2), 0);
	cr_assert_eq(rd16(b + 4), 8);
	cr_assert_eq(b[6], 17);
	cr_assert_eq(b[7], 255);
	cr_assert_eq(memcmp(b + 8, s.s6_addr, 16), 0);
	cr_assert_eq(memcmp(b + 24, g.s6_addr, 16), 0);
	cr_assert_eq(rd16(b + 44), 8);
	cr_assert_neq(rd16(b + 46), 0, "checksum mandatory over IPv6");
	cr_assert(gem_pkt_udp_csum_ok(b, len));
}

Test(pkt, build_length_limits)
{
	static uint8_t pl[65536], b[65536 + 64];
	struct in_addr s4 = { 0 }, g4 = { 0 };
	struct in6_addr s6 = { 0 }, g6 = { 0 };
	size_t len;

	cr_assert_eq(gem_pkt_build_udp(AF_INET, &s4, &g4, 1, 2, pl, 65535 - 28, 1,
				       b, sizeof(b), &len), 0);
	cr_assert_eq(len, 65535);
	cr_assert(gem_pkt_udp_csum_ok(b, len));
	cr_assert_eq(gem_pkt_build_udp(AF_INET, &s4, &g4, 1, 2, pl, 65535 - 27, 1,
				       b, sizeof(b), &len), -EMSGSIZE);
	cr_assert_eq(gem_pkt_build_udp(AF_INET6, &s6, &g6, 1, 2, pl, 65535 - 8, 1,
				       b, sizeof(b), &len), 0);
	cr_assert(gem_pkt_udp_csum_ok(b, len));
	cr_assert_eq(gem_pkt_build_udp(AF_INET6, &s6, &g6, 1, 2, pl, 65535 - 7, 1,
				       b, sizeof(b), &len), -EMSGSIZE);
}

Test(pkt, parse_fields)
{
	static uint8_t b[BUF];
	struct gem_pkt_info pi;
	size_t len;

	len = mk(AF_INET, 17, b, sizeof(b));
	cr_assert_eq(gem_pkt_parse(b, len, &pi), 0);
	cr_assert_eq(pi.family, AF_INET);
	cr_assert_eq(pi.ip_hlen, 20);
	cr_assert_eq(pi.udp_off, 20);
	cr_assert_eq(pi.udp_len, 25);
	cr_assert_eq(pi.payload_off, 28);
	cr_assert_eq(pi.payload_len, 17);
	cr_assert_eq(pi.sport, 40000);
	cr_assert_eq(pi.dport, 5004);
	cr_assert_eq(memcmp(pi.src.a, "\0\0\0\0\0\0\0\0\0\0\xff\xff\xc6\x33\x64\x07", 16), 0);
	cr_assert_eq(memcmp(pi.grp.a, "\0\0\0\0\0\0\0\0\0\0\xff\xff\xef\xff\x00\x01", 16), 0);
	cr_assert_eq(pi.udp_csum, rd16(b + 26));

	len = add_ipv4_opts(b, len, 12);
	cr_assert_eq(gem_pkt_parse(b, len, &pi), 0);
	cr_assert_eq(pi.ip_hlen, 32);
	cr_assert_eq(pi.payload_off, 40);
	cr_assert_eq(pi.payload_len, 17);

	len = mk(AF_INET6, 0, b, sizeof(b));
	cr_assert_eq(gem_pkt_parse(b, len, &pi), 0);
	cr_assert_eq(pi.family, AF_INET6);
	cr_assert_eq(pi.ip_hlen, 40);
	cr_assert_eq(pi.payload_off, 48);
	cr_assert_eq(pi.payload_len, 0);
	cr_assert_eq(memcmp(pi.src.a, b + 8, 16), 0);
	cr_assert_eq(memcmp(pi.grp.a, b + 24, 16), 0);
}

Test(pkt, parse_rejects)
{
	static uint8_t b[BUF], t[BUF];
	struct gem_pkt_info pi;
	size_t len;

#define REJECT(l) cr_assert_eq(gem_pkt_parse(t, (l), &pi), -EINVAL, "line %d", __LINE__)
	len = mk(AF_INET, 17, b, sizeof(b));
	memcpy(t, b, len); t[0] = 0x44; REJECT(len);		/* IHL 4 */
	memcpy(t, b, len); t[0] = 0x4f; REJECT(len);		/* IHL > packet */
	memcpy(t, b, len); t[0] = 0x55; REJECT(len);		/* version 5 */
	memcpy(t, b, len); t[6] = 0x20; REJECT(len);		/* MF */
	memcpy(t, b, len); t[7] = 0x01; REJECT(len);		/* offset */
	memcpy(t, b, len); t[9] = 6; REJECT(len);		/* TCP */
	memcpy(t, b, len); wr16(t + 2, len + 1); REJECT(len);	/* tot_len */
	memcpy(t, b, len); wr16(t + 24, 25 - 1); REJECT(len);	/* UDP len */
	memcpy(t, b, len); wr16(t + 24, 25 + 1); REJECT(len);
	memcpy(t, b, len); REJECT(len - 1);
	memcpy(t, b, len); REJECT(len + 1);
	memcpy(t, b, len); REJECT(19);
	memcpy(t, b, len); wr16(t + 2, 27); REJECT(27);		/* no room for UDP */
	REJECT(0);
	cr_assert_eq(gem_pkt_parse(NULL, 10, &pi), -EINVAL);
	cr_assert_eq(gem_pkt_parse(b, len, NULL), -EINVAL);
	memcpy(t, b, len); t[6] = 0x40;				/* DF is fine */
	cr_assert_eq(gem_pkt_parse(t, len, &pi), 0);

	len = mk(AF_INET6, 17, b, sizeof(b));
	memcpy(t, b, len); t[6] = 0; REJECT(len);		/* hop-by-hop first */
	memcpy(t, b, len); t[6] = 44; REJECT(len);		/* fragment header */
	memcpy(t, b, len); wr16(t + 4, 0); REJECT(len);		/* jumbo */
	memcpy(t, b, len); wr16(t + 4, 26); REJECT(len);
	memcpy(t, b, len); wr16(t + 44, 24); REJECT(len);
	memcpy(t, b, len); REJECT(39);
	memcpy(t, b, len); wr16(t + 4, 7); REJECT(47);		/* no room for UDP */
#undef REJECT
}

Test(pkt, csum_ok_detects_flips)
{
	static uint8_t b[BUF];
	size_t len;

	for (int fam = AF_INET; fam; fam = fam == AF_INET ? AF_INET6 : 0) {
		size_t h = hlen_of(fam);

		len = mk(fam, 21, b, sizeof(b));	/* odd: padded tail word */
		cr_assert(gem_pkt_udp_csum_ok(b, len));
		for (size_t off = 0; off < len; off++) {
			for (int bit = 0; bit < 8; bit++) {
				/* bits of the IPv6 header outside the pseudo-header */
				int uncovered = fam == AF_INET6 &&
					((off == 0 && bit < 4) || (off >= 1 && off <= 3) ||
					 off == 7);

				b[off] ^= (uint8_t)(1 << bit);
				cr_assert_eq(gem_pkt_udp_csum_ok(b, len), uncovered,
					     "family %d byte %zu bit %d", fam, off, bit);
				b[off] ^= (uint8_t)(1 << bit);
			}
		}
		/* zero UDP checksum: "none" over IPv4, invalid over IPv6 */
		wr16(b + h + 6, 0);
		cr_assert_eq(gem_pkt_udp_csum_ok(b, len), fam == AF_INET);
	}
}

Test(pkt, addr_helpers)
{
	struct in_addr a4;
	struct in6_addr a6;
	struct gem_addr g;

	inet_pton(AF_INET, "232.1.2.3", &a4);
	gem_addr_from_in(&g, &a4);
	cr_assert_eq(memcmp(g.a, "\0\0\0\0\0\0\0\0\0\0\xff\xff\xe8\x01\x02\x03", 16), 0);
	memset(&g, 0x77, sizeof(g));
	cr_assert_eq(gem_addr_from(&g, AF_INET, &a4), 0);
	cr_assert_eq(memcmp(g.a, "\0\0\0\0\0\0\0\0\0\0\xff\xff\xe8\x01\x02\x03", 16), 0);

	inet_pton(AF_INET6, "ff3e::1:2", &a6);
	gem_addr_from_in6(&g, &a6);
	cr_assert_eq(memcmp(g.a, a6.s6_addr, 16), 0);
	memset(&g, 0, sizeof(g));
	cr_assert_eq(gem_addr_from(&g, AF_INET6, &a6), 0);
	cr_assert_eq(memcmp(g.a, a6.s6_addr, 16), 0);
	cr_assert_eq(gem_addr_from(&g, AF_UNIX, &a6), -EINVAL);
}
