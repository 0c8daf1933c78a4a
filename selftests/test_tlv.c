// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * GEM control TLVs (gemd/tlv.c) against docs/PROTOCOL.md section 10.
 *
 * The vectors were computed with Python's hashlib/hmac/cryptography from the
 * specification, not from this code, and are checked here both through the
 * library and independently: the bytes a signature or HMAC covers are cut
 * out of the packet by hand and checked with OpenSSL (EVP Ed25519, HMAC),
 * and the signatures are re-made with libsodium from the RFC 8032 test key.
 * Then every truncation and every single-bit flip of the vector packets
 * goes through the parser, which must reject it or parse it consistently.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "gemd/tlv.h"
#include "tlv_pad.h"

/* ---- vectors (docs/PROTOCOL.md 10.12) ------------------------------------------ */

/* RFC 8032 section 7.1 test 1 */
static const char *SK_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char *PK = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
static const char *NODE_ID = "06b9d005c278f469";
/* docs/KEYS.md section 6: ctl-hmac key of 239.1.1.1, epoch 7; wrapped SEK */
static const char *CTL_KEY = "8a97451dea368ac4aed86a803df60f70ee9fd15f99de4c885b9a771b1c6dd2d7";
static const char *WRAPPED = "14381b4d7887cbbbf25e55a2670523799dafb685f60246d3";

/* Packet 1: Public Key, SEK Announce, Request. */
static const char *PKT1 =
	"2a02014be08906b9d005c278f4690000"
	"00010000019ae1823c0000000e100000"
	"000000000000000000ffffc0000201d7"
	"5a980182b10ab7d54bfed3c964073a0e"
	"e172f3daa62325af021a68f707511a89"
	"fea8b9eddac8dc3dd2bcbe378f24a354"
	"e0b49ac15ba0dea91868bcbc5c6339ff"
	"837bb50712ccaf14a9f8f8931eb3ff67"
	"4474e621e819597b6f6dfe1c0d6705e1"
	"b806b9d005c278f46900000007000001"
	"9ae18240e200000e1000010000000000"
	"0000000000ffffc633640a0000000000"
	"0000000000ffffef0101010001000000"
	"0714381b4d7887cbbbf25e55a2670523"
	"799dafb685f60246d30085fa7771a285"
	"9269568ac452253e1edb1dd7829933af"
	"10271b9a863078f297ba9df2f2b0b0b8"
	"5de45dfc660d565fc02f40a38bb2a6c0"
	"3dde1ac8fb637edb41247584b8ce8745"
	"7d8f03564348b5ad5a6b4424eff57d7a"
	"f980fa1af341ab1406e3040000002a";

/* Packet 2: Pad1, PadN (2 zero bytes), one Ack with three entries. */
static const char *PKT2 =
	"2a0200480001020000e241e006b9d005"
	"c278f46900000001e106b9d005c278f4"
	"690000000700000000000000000000ff"
	"ffc633640a00000000000000000000ff"
	"ffef0101010001e30000002a";

static const char *PK_SIG = "89fea8b9eddac8dc3dd2bcbe378f24a354e0b49ac15ba0dea91868bcbc5c6339"
			    "ff837bb50712ccaf14a9f8f8931eb3ff674474e621e819597b6f6dfe1c0d6705";
static const char *SEK_HMAC = "0085fa7771a2859269568ac452253e1edb1dd7829933af10271b9a863078f297";
static const char *SEK_SIG = "ba9df2f2b0b0b85de45dfc660d565fc02f40a38bb2a6c03dde1ac8fb637edb41"
			     "247584b8ce87457d8f03564348b5ad5a6b4424eff57d7af980fa1af341ab1406";

/* Packet 3: a SEK Announce of suite 4 (a 32-byte SEK, 40 wrapped bytes:
 * a 200-byte TLV, HMAC at 104, signature at 136). */
static const char *PKT3 =
	"2a0200cae1c806b9d005c278f4690000"
	"00080000019ae18245c400000e100004"
	"00000000000000000000ffffc633640a"
	"00000000000000000000ffffef010101"
	"0002000000073b2d05e9d7f566e61626"
	"eb8040fb9fd3210fa6c1d52670cc90ce"
	"e72f19e969b192c239479e9f2a0aaa73"
	"1bce5fc3e32696d1fa4dd147163c709f"
	"e47bcc45bd756c257604f56c712dfff1"
	"5d9d0689e3dea8354af489089d4bd26c"
	"f41319e1f1d0f9547fafe5950ac1d39f"
	"9bfe23cef00bf0a76f96e3ba40e2dc6d"
	"dcb333de7e87ca1f8e1b32b68e0a";
/* docs/KEYS.md 6: AES-256-KWP of SEK 40 41 .. 5f under sek-wrap of (239.1.1.1, 7) */
static const char *WRAPPED32 = "3b2d05e9d7f566e61626eb8040fb9fd3210fa6c1"
			       "d52670cc90cee72f19e969b192c239479e9f2a0a";
static const char *SEK4_HMAC = "aa731bce5fc3e32696d1fa4dd147163c709fe47bcc45bd756c257604f56c712d";
static const char *SEK4_SIG = "fff15d9d0689e3dea8354af489089d4bd26cf41319e1f1d0f9547fafe5950ac1"
			      "d39f9bfe23cef00bf0a76f96e3ba40e2dc6ddcb333de7e87ca1f8e1b32b68e0a";
#define S4_BODY		6			/* inside PKT3 */

/* Offsets of the TLV bodies inside PKT1. */
#define PK_BODY		6			/* 4 header + 2 */
#define SEK_BODY	(PK_BODY + 137 + 2)
#define REQ_BODY	(SEK_BODY + 184 + 2)

/* hex (spaces ignored) -> bytes; returns the length */
static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *h; h++) {
		int v;

		if (*h == ' ')
			continue;
		if (*h >= '0' && *h <= '9')
			v = *h - '0';
		else if (*h >= 'a' && *h <= 'f')
			v = *h - 'a' + 10;
		else
			cr_assert_fail("bad hex digit '%c'", *h);
		if (hi < 0) {
			hi = v;
			continue;
		}
		cr_assert_lt(n, cap);
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	cr_assert_eq(hi, -1, "odd number of hex digits");
	return n;
}

static uint8_t pkt1[512], pkt2[128], pkt3[256], pk[32], node_id[8], ctl_key[32], wrapped[24];
static uint8_t wrapped32[40];
static size_t pkt1_len, pkt2_len, pkt3_len;

static void setup(void)
{
	cr_assert(sodium_init() >= 0);
	pkt1_len = unhex(PKT1, pkt1, sizeof(pkt1));
	pkt2_len = unhex(PKT2, pkt2, sizeof(pkt2));
	cr_assert_eq(pkt1_len, 335);
	cr_assert_eq(pkt2_len, 76);
	pkt3_len = unhex(PKT3, pkt3, sizeof(pkt3));
	cr_assert_eq(pkt3_len, 206);
	unhex(WRAPPED32, wrapped32, sizeof(wrapped32));
	unhex(PK, pk, sizeof(pk));
	unhex(NODE_ID, node_id, sizeof(node_id));
	unhex(CTL_KEY, ctl_key, sizeof(ctl_key));
	unhex(WRAPPED, wrapped, sizeof(wrapped));
}

TestSuite(tlv, .init = setup);

static void v4(uint8_t a[16], uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3)
{
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	a[12] = b0;
	a[13] = b1;
	a[14] = b2;
	a[15] = b3;
}

/* Walk a whole packet; returns the TLVs seen (not padding) or the error. */
static int walk(const uint8_t *buf, size_t len, struct gem_tlv *out, size_t max)
{
	struct gem_tlv_iter it;
	struct gem_tlv t;
	size_t n = 0;
	int err;

	err = gem_tlv_pkt_parse(buf, len, &it);
	if (err)
		return err;
	while ((err = gem_tlv_next(&it, &t)) > 0) {
		cr_assert_lt(n, max);
		out[n++] = t;
	}
	return err < 0 ? err : (int)n;
}

static void decode_vector_records(struct gem_rec *rp, struct gem_rec *rs, uint32_t *nonce)
{
	struct gem_tlv t[8];

	cr_assert_eq(walk(pkt1, pkt1_len, t, 8), 3);
	cr_assert_eq(t[0].type, GEM_TLV_PUBKEY);
	cr_assert_eq(t[1].type, GEM_TLV_SEK);
	cr_assert_eq(t[2].type, GEM_TLV_REQUEST);
	cr_assert_eq(gem_tlv_rec_decode(&t[0], rp), 0);
	cr_assert_eq(gem_tlv_rec_decode(&t[1], rs), 0);
	cr_assert_eq(gem_tlv_request_decode(&t[2], nonce), 0);
}

/* ---- vectors ------------------------------------------------------------------------ */

Test(tlv, vector_fields)
{
	struct gem_rec p, s;
	uint8_t a[16], sig[64], mac[32];
	uint32_t nonce;

	decode_vector_records(&p, &s, &nonce);

	cr_assert_eq(p.type, GEM_TLV_PUBKEY);
	cr_assert_arr_eq(p.origin, node_id, 8);
	cr_assert_eq(p.seqno, 1);
	cr_assert_eq(p.time_ms, 1764720000000ull);
	cr_assert_eq(p.lifetime, 3600);
	cr_assert_eq(p.flags, 0);
	v4(a, 192, 0, 2, 1);
	cr_assert_arr_eq(p.pk.addr, a, 16);
	cr_assert_arr_eq(p.pk.key, pk, 32);
	unhex(PK_SIG, sig, sizeof(sig));
	cr_assert_arr_eq(p.sig, sig, 64);

	cr_assert_eq(s.type, GEM_TLV_SEK);
	cr_assert_arr_eq(s.origin, node_id, 8);
	cr_assert_eq(s.seqno, 7);
	cr_assert_eq(s.time_ms, 1764720001250ull);
	cr_assert_eq(s.lifetime, 3600);
	cr_assert_eq(s.flags, 0);
	cr_assert_eq(s.sek.suite, 1);
	v4(a, 198, 51, 100, 10);
	cr_assert_arr_eq(s.sek.src, a, 16);
	v4(a, 239, 1, 1, 1);
	cr_assert_arr_eq(s.sek.grp, a, 16);
	cr_assert_eq(s.sek.key_id, 1);
	cr_assert_eq(s.sek.epoch, 7);
	cr_assert_arr_eq(s.sek.wrapped, wrapped, 24);
	unhex(SEK_HMAC, mac, sizeof(mac));
	cr_assert_arr_eq(s.sek.hmac, mac, 32);
	unhex(SEK_SIG, sig, sizeof(sig));
	cr_assert_arr_eq(s.sig, sig, 64);

	cr_assert_eq(nonce, 0x2a);
}

Test(tlv, vector_reencode)
{
	struct gem_rec p, s;
	struct gem_tlv_pkt b;
	uint8_t buf[1200];
	uint32_t nonce;

	decode_vector_records(&p, &s, &nonce);
	cr_assert_eq(gem_tlv_pkt_init(&b, buf, sizeof(buf)), 0);
	cr_assert(gem_tlv_pkt_empty(&b));
	cr_assert_eq(gem_tlv_pkt_add_rec(&b, &p), 0);
	cr_assert_eq(gem_tlv_pkt_add_rec(&b, &s), 0);
	cr_assert_eq(gem_tlv_pkt_add_request(&b, nonce), 0);
	cr_assert_eq(gem_tlv_pkt_finish(&b), pkt1_len);
	cr_assert_arr_eq(buf, pkt1, pkt1_len);
}

Test(tlv, vector_ack_packet)
{
	struct gem_tlv t[4];
	struct gem_tlv_ack a[GEM_TLV_ACK_MAX];
	struct gem_rec p, s;
	struct gem_rec_key kp, ks;
	struct gem_tlv_pkt b;
	uint8_t buf[256];
	uint32_t nonce;
	int i;

	decode_vector_records(&p, &s, &nonce);
	gem_rec_key_of(&p, &kp);
	gem_rec_key_of(&s, &ks);

	cr_assert_eq(walk(pkt2, pkt2_len, t, 4), 1, "Pad1 and PadN are skipped");
	cr_assert_eq(t[0].type, GEM_TLV_ACK);
	cr_assert_eq(t[0].len, 65);
	cr_assert_eq(gem_tlv_ack_decode(&t[0], a, GEM_TLV_ACK_MAX), 3);
	cr_assert(gem_rec_key_eq(&a[0].key, &kp));
	cr_assert_eq(a[0].seqno, 1);
	cr_assert(gem_rec_key_eq(&a[1].key, &ks));
	cr_assert_eq(a[1].seqno, 7);
	cr_assert_eq(a[2].key.type, GEM_TLV_REQUEST);
	cr_assert_eq(a[2].seqno, 0x2a);

	gem_tlv_pkt_init(&b, buf, sizeof(buf));
	cr_assert_eq(gem_tlv_pkt_add_pad(&b, 1), 0);
	cr_assert_eq(gem_tlv_pkt_add_pad(&b, 4), 0);
	for (i = 0; i < 3; i++)
		cr_assert_eq(gem_tlv_pkt_add_ack(&b, &a[i]), 0);
	cr_assert_eq(gem_tlv_pkt_finish(&b), pkt2_len);
	cr_assert_arr_eq(buf, pkt2, pkt2_len);
}

/* Independent check: signature and HMAC inputs cut from the packet bytes by
 * the offsets of the specification, verified with OpenSSL. */
static bool ossl_ed25519_ok(const uint8_t *key, const uint8_t *sig, const uint8_t *m, size_t n)
{
	EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, key, 32);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	bool ok;

	cr_assert(k && c);
	cr_assert_eq(EVP_DigestVerifyInit(c, NULL, NULL, NULL, k), 1);
	ok = EVP_DigestVerify(c, sig, 64, m, n) == 1;
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(k);
	return ok;
}

static size_t cat(uint8_t *out, const char *pfx, const uint8_t *b, size_t n)
{
	size_t pl = strlen(pfx) + 1;

	memcpy(out, pfx, pl);
	memcpy(out + pl, b, n);
	return pl + n;
}

Test(tlv, vector_auth_independent)
{
	uint8_t m[256], mac[32], seed[32], sk[64], pk2[32], sig[64];
	unsigned int maclen = 0;
	size_t n;

	/* node id = SHA-256("GEM v1 node-id" 00 || pk)[0..8], docs/KEYS.md */
	n = cat(m, "GEM v1 node-id", pk, 32);
	cr_assert_not_null(SHA256(m, n, mac));
	cr_assert_arr_eq(mac, node_id, 8);

	/* Public Key: signature over prefix || body[0..73) */
	n = cat(m, "GEM v1 pubkey-sig", pkt1 + PK_BODY, 73);
	cr_assert(ossl_ed25519_ok(pk, pkt1 + PK_BODY + 73, m, n));
	unhex(SK_SEED, seed, sizeof(seed));
	cr_assert_eq(crypto_sign_seed_keypair(pk2, sk, seed), 0);
	cr_assert_arr_eq(pk2, pk, 32);
	crypto_sign_detached(sig, NULL, m, n, sk);
	cr_assert_arr_eq(sig, pkt1 + PK_BODY + 73, 64);

	/* SEK Announce: HMAC over prefix || body[0..88), signature over
	 * prefix || body[0..120) (the HMAC included) */
	n = cat(m, "GEM v1 sek-hmac", pkt1 + SEK_BODY, 88);
	cr_assert_not_null(HMAC(EVP_sha256(), ctl_key, 32, m, n, mac, &maclen));
	cr_assert_eq(maclen, 32);
	cr_assert_arr_eq(mac, pkt1 + SEK_BODY + 88, 32);
	n = cat(m, "GEM v1 sek-sig", pkt1 + SEK_BODY, 120);
	cr_assert(ossl_ed25519_ok(pk, pkt1 + SEK_BODY + 120, m, n));
	crypto_sign_detached(sig, NULL, m, n, sk);
	cr_assert_arr_eq(sig, pkt1 + SEK_BODY + 120, 64);
	sodium_memzero(sk, sizeof(sk));
}

Test(tlv, vector_auth_library)
{
	uint8_t in[GEM_TLV_AUTH_INPUT_MAX], m[256], mac[32];
	struct gem_rec p, s;
	uint32_t nonce;
	int n;

	decode_vector_records(&p, &s, &nonce);
	cr_assert(gem_tlv_pubkey_id_ok(&p));
	cr_assert_not(gem_tlv_pubkey_id_ok(&s), "not a Public Key");
	cr_assert_eq(gem_tlv_sig_verify(&p, p.pk.key), 0);
	cr_assert_eq(gem_tlv_sig_verify(&s, p.pk.key), 0);
	cr_assert_eq(gem_tlv_hmac_verify(&s, ctl_key), 0);
	cr_assert_eq(gem_tlv_hmac_compute(&s, ctl_key, mac), 0);
	cr_assert_arr_eq(mac, s.sek.hmac, 32);

	/* the library's inputs are exactly the spec's */
	n = gem_tlv_sig_input(&p, in, sizeof(in));
	cr_assert_eq((size_t)n, cat(m, "GEM v1 pubkey-sig", pkt1 + PK_BODY, 73));
	cr_assert_arr_eq(in, m, (size_t)n);
	n = gem_tlv_hmac_input(&s, in, sizeof(in));
	cr_assert_eq((size_t)n, cat(m, "GEM v1 sek-hmac", pkt1 + SEK_BODY, 88));
	cr_assert_arr_eq(in, m, (size_t)n);
	n = gem_tlv_sig_input(&s, in, sizeof(in));
	cr_assert_eq((size_t)n, cat(m, "GEM v1 sek-sig", pkt1 + SEK_BODY, 120));
	cr_assert_arr_eq(in, m, (size_t)n);
	cr_assert_eq(gem_tlv_sig_input(&s, in, 10), -ENOSPC);
	cr_assert_eq(gem_tlv_hmac_input(&p, in, sizeof(in)), -EINVAL);

	/* the other group key, or the other node's key, fail */
	mac[0] = ctl_key[0] ^ 1;
	memcpy(mac + 1, ctl_key + 1, 31);
	cr_assert_eq(gem_tlv_hmac_verify(&s, mac), -EBADMSG);
	p.pk.key[5] ^= 0x10;
	cr_assert_eq(gem_tlv_sig_verify(&s, p.pk.key), -EBADMSG);
	cr_assert_not(gem_tlv_pubkey_id_ok(&p));
}

/* Every bit of a record is covered (there is no age any more: no field a
 * relay may change): flipping it breaks the signature, and before the HMAC
 * field also the HMAC. */
static void flip_record_bits_in(const uint8_t *pkt, size_t pkt_len, int ntlv, size_t body,
				size_t blen, int idx)
{
	/* the HMAC field: [88, 120) for suites 1-3, [104, 136) for suite 4 */
	size_t hmac_end = blen - GEM_TLV_SIG_LEN;

	for (size_t bit = 0; bit < 8 * blen; bit++) {
		size_t off = bit / 8;
		struct gem_tlv t[4];
		struct gem_rec r;
		uint8_t buf[512];
		int hmac;

		memcpy(buf, pkt, pkt_len);
		buf[body + off] ^= (uint8_t)(1u << (bit % 8));
		cr_assert_eq(walk(buf, pkt_len, t, 4), ntlv);
		if (gem_tlv_rec_decode(&t[idx], &r))
			continue;	/* lifetime out of range: malformed */
		cr_assert_eq(gem_tlv_sig_verify(&r, pk), -EBADMSG,
			     "type %u bit %zu", r.type, bit);
		if (r.type != GEM_TLV_SEK)
			continue;
		/* the HMAC covers [0, 88) and is the field [88, 120) (suite 4:
		 * [0, 104) and [104, 136)) */
		hmac = gem_tlv_hmac_verify(&r, ctl_key);
		cr_assert_eq(hmac, off < hmac_end ? -EBADMSG : 0, "hmac bit %zu", bit);
	}
}

static void flip_record_bits(size_t body, size_t blen, int idx)
{
	flip_record_bits_in(pkt1, pkt1_len, 3, body, blen, idx);
}

Test(tlv, auth_covers_every_field)
{
	flip_record_bits(PK_BODY, GEM_TLV_PUBKEY_LEN, 0);
	flip_record_bits(SEK_BODY, GEM_TLV_SEK_LEN, 1);
	/* suite 4: a flip of the suite byte changes the length it needs:
	 * malformed, skipped by the helper like a bad lifetime */
	flip_record_bits_in(pkt3, pkt3_len, 1, S4_BODY, GEM_TLV_SEK_LEN_S4, 0);
}

/* ---- suite 4: SEK Announce with a 32-byte SEK (docs/PROTOCOL.md 10.5) ---------- */

static void decode_pkt3(struct gem_rec *r)
{
	struct gem_tlv t[2];

	cr_assert_eq(walk(pkt3, pkt3_len, t, 2), 1);
	cr_assert_eq(t[0].type, GEM_TLV_SEK);
	cr_assert_eq(t[0].len, 200);
	cr_assert_eq(gem_tlv_rec_decode(&t[0], r), 0);
}

Test(tlv, vector_suite4_fields_reencode)
{
	uint8_t a[16], sig[64], mac[32], buf[300];
	struct gem_tlv_pkt b;
	struct gem_rec s;

	decode_pkt3(&s);
	cr_assert_eq(s.type, GEM_TLV_SEK);
	cr_assert_arr_eq(s.origin, node_id, 8);
	cr_assert_eq(s.seqno, 8);
	cr_assert_eq(s.time_ms, 1764720002500ull);
	cr_assert_eq(s.lifetime, 3600);
	cr_assert_eq(s.flags, 0);
	cr_assert_eq(s.sek.suite, 4);
	v4(a, 198, 51, 100, 10);
	cr_assert_arr_eq(s.sek.src, a, 16);
	v4(a, 239, 1, 1, 1);
	cr_assert_arr_eq(s.sek.grp, a, 16);
	cr_assert_eq(s.sek.key_id, 2);
	cr_assert_eq(s.sek.epoch, 7);
	cr_assert_arr_eq(s.sek.wrapped, wrapped32, 40);
	unhex(SEK4_HMAC, mac, sizeof(mac));
	cr_assert_arr_eq(s.sek.hmac, mac, 32);
	unhex(SEK4_SIG, sig, sizeof(sig));
	cr_assert_arr_eq(s.sig, sig, 64);
	cr_assert_eq(gem_tlv_rec_len(&s), GEM_TLV_SEK_LEN_S4);

	cr_assert_eq(gem_tlv_pkt_init(&b, buf, sizeof(buf)), 0);
	cr_assert_eq(gem_tlv_pkt_add_rec(&b, &s), 0);
	cr_assert_eq(gem_tlv_pkt_finish(&b), pkt3_len);
	cr_assert_arr_eq(buf, pkt3, pkt3_len);
}

Test(tlv, vector_suite4_auth)
{
	uint8_t in[GEM_TLV_AUTH_INPUT_MAX], m[256], mac[32], seed[32], sk[64], pk2[32], sig[64];
	unsigned int maclen = 0;
	struct gem_rec s;
	size_t n;
	int ln;

	/* independent: HMAC over prefix || body[0..104), signature over
	 * prefix || body[0..136), cut from the packet bytes */
	n = cat(m, "GEM v1 sek-hmac", pkt3 + S4_BODY, 104);
	cr_assert_eq(n, 120);
	cr_assert_not_null(HMAC(EVP_sha256(), ctl_key, 32, m, n, mac, &maclen));
	cr_assert_arr_eq(mac, pkt3 + S4_BODY + 104, 32);
	n = cat(m, "GEM v1 sek-sig", pkt3 + S4_BODY, 136);
	cr_assert_eq(n, 151);
	cr_assert(ossl_ed25519_ok(pk, pkt3 + S4_BODY + 136, m, n));
	unhex(SK_SEED, seed, sizeof(seed));
	cr_assert_eq(crypto_sign_seed_keypair(pk2, sk, seed), 0);
	crypto_sign_detached(sig, NULL, m, n, sk);
	sodium_memzero(sk, sizeof(sk));
	cr_assert_arr_eq(sig, pkt3 + S4_BODY + 136, 64);

	/* the library: same inputs, verifies */
	decode_pkt3(&s);
	ln = gem_tlv_hmac_input(&s, in, sizeof(in));
	cr_assert_eq(ln, 120);
	n = cat(m, "GEM v1 sek-hmac", pkt3 + S4_BODY, 104);
	cr_assert_arr_eq(in, m, n);
	ln = gem_tlv_sig_input(&s, in, sizeof(in));
	cr_assert_eq(ln, 151);
	n = cat(m, "GEM v1 sek-sig", pkt3 + S4_BODY, 136);
	cr_assert_arr_eq(in, m, n);
	cr_assert_eq(gem_tlv_sig_verify(&s, pk), 0);
	cr_assert_eq(gem_tlv_hmac_verify(&s, ctl_key), 0);
	cr_assert_eq(gem_tlv_hmac_compute(&s, ctl_key, mac), 0);
	cr_assert_arr_eq(mac, s.sek.hmac, 32);
	/* the same record read as another suite is another record */
	s.sek.suite = 1;
	cr_assert_eq(gem_tlv_sig_verify(&s, pk), -EBADMSG);
	cr_assert_eq(gem_tlv_hmac_verify(&s, ctl_key), -EBADMSG);
}

/* The length follows from the suite byte: 200 for suite 4, 184 for every
 * other value; any other length is malformed. */
Test(tlv, suite4_lengths)
{
	uint8_t body[300] = { 0 };
	struct gem_tlv t = { .type = GEM_TLV_SEK, .body = body };
	struct gem_rec r;

	cr_assert_eq(gem_tlv_sek_wrapped_len(4), 40);
	cr_assert_eq(gem_tlv_sek_body_len(4), 200);
	for (unsigned int suite = 0; suite < 256; suite++) {
		size_t want = suite == 4 ? 200 : 184;

		cr_assert_eq(gem_tlv_sek_body_len(suite), want);
		body[23] = 60;		/* lifetime 60 s */
		body[25] = (uint8_t)suite;
		for (size_t len = 0; len < 256; len++) {
			t.len = (uint8_t)len;
			cr_assert_eq(gem_tlv_rec_decode(&t, &r), len == want ? 0 : -EBADMSG,
				     "suite %u length %zu", suite, len);
		}
	}
	/* the vector with its suite byte set to 1 (a 184-byte suite) */
	{
		struct gem_tlv tv[2];
		uint8_t buf[256];

		memcpy(buf, pkt3, pkt3_len);
		buf[S4_BODY + 25] = 1;
		cr_assert_eq(walk(buf, pkt3_len, tv, 2), 1);
		cr_assert_eq(gem_tlv_rec_decode(&tv[0], &r), -EBADMSG);
	}
}

/* A suite-4 record of our own making: encode, decode, same record; a
 * withdrawn version keeps the 200-byte layout with a zero field. */
Test(tlv, suite4_roundtrip)
{
	struct gem_rec s = { .type = GEM_TLV_SEK, .seqno = 99, .time_ms = 1764720009999ull,
			     .lifetime = 3600 }, d;
	struct gem_tlv t[2];
	struct gem_tlv_pkt b;
	uint8_t buf[300];

	s.sek.suite = 4;
	v4(s.sek.src, 10, 0, 0, 1);
	v4(s.sek.grp, 239, 9, 9, 9);
	s.sek.key_id = 0xfffe;
	s.sek.epoch = 0x01020304;
	for (int i = 0; i < 40; i++)
		s.sek.wrapped[i] = (uint8_t)(0xa0 + i);
	memset(s.sek.hmac, 0x5c, 32);
	memset(s.sig, 0x36, 64);
	memcpy(s.origin, node_id, 8);
	cr_assert_eq(gem_tlv_pkt_init(&b, buf, sizeof(buf)), 0);
	cr_assert_eq(gem_tlv_pkt_add_rec(&b, &s), 0);
	cr_assert_eq(gem_tlv_pkt_finish(&b), 4 + 2 + 200);
	cr_assert_eq(buf[4], GEM_TLV_SEK);
	cr_assert_eq(buf[5], 200);
	cr_assert_eq(buf[6 + 25], 4);
	cr_assert_arr_eq(buf + 6 + 64, s.sek.wrapped, 40);
	cr_assert_arr_eq(buf + 6 + 104, s.sek.hmac, 32);
	cr_assert_arr_eq(buf + 6 + 136, s.sig, 64);
	cr_assert_eq(walk(buf, 206, t, 2), 1);
	cr_assert_eq(gem_tlv_rec_decode(&t[0], &d), 0);
	cr_assert_eq(memcmp(&d, &s, sizeof(s)), 0, "decode(encode(r)) == r");
	cr_assert(gem_rec_same_content(&d, &s));
	d.sek.wrapped[39] ^= 1;		/* the last wrapped byte is content */
	cr_assert_not(gem_rec_same_content(&d, &s));
	/* encode needs the room of the suite's length */
	cr_assert_eq(gem_tlv_rec_encode(&s, buf, 201), -ENOSPC);
	cr_assert_eq(gem_tlv_rec_encode(&s, buf, 202), 202);
}

/* ---- structure ------------------------------------------------------------------------ */

Test(tlv, body_sizes)
{
	cr_assert_eq(gem_tlv_rec_body_len(GEM_TLV_PUBKEY), GEM_TLV_PUBKEY_LEN);
	cr_assert_eq(gem_tlv_rec_body_len(GEM_TLV_SEK), GEM_TLV_SEK_LEN);
	cr_assert_eq(gem_tlv_rec_body_len(GEM_TLV_ACK), 0);
	cr_assert_leq(GEM_TLV_PUBKEY_LEN, 255);
	cr_assert_leq(GEM_TLV_SEK_LEN, 255);
	cr_assert_eq(gem_tlv_ack_entry_len(GEM_TLV_PUBKEY), 13);
	cr_assert_eq(gem_tlv_ack_entry_len(GEM_TLV_SEK), 47);
	cr_assert_eq(gem_tlv_ack_entry_len(GEM_TLV_REQUEST), 5);
	cr_assert_eq(gem_tlv_ack_entry_len(GEM_TLV_ACK), 0);
	cr_assert(gem_tlv_is_rec(GEM_TLV_PUBKEY) && gem_tlv_is_rec(GEM_TLV_SEK));
	cr_assert_not(gem_tlv_is_rec(GEM_TLV_ACK) || gem_tlv_is_rec(GEM_TLV_REQUEST));
	for (unsigned int t = GEM_TLV_PUBKEY; t <= GEM_TLV_REQUEST; t++) {
		cr_assert_geq(t, 224);
		cr_assert_leq(t, 254);
		cr_assert_str_neq(gem_tlv_type_name(t), "unknown");
	}
}

/* Many acks: split into several Ack TLVs, none over 255 bytes, all back. */
Test(tlv, ack_batching)
{
	struct gem_tlv_ack in[100], out[GEM_TLV_ACK_MAX];
	struct gem_tlv t[16];
	struct gem_tlv_pkt b;
	uint8_t buf[8192];
	int i, n, k, got = 0;

	for (i = 0; i < 100; i++) {
		memset(&in[i], 0, sizeof(in[i]));
		in[i].key.type = i % 3 == 0 ? GEM_TLV_SEK : i % 3 == 1 ? GEM_TLV_PUBKEY
									  : GEM_TLV_REQUEST;
		if (in[i].key.type != GEM_TLV_REQUEST) {
			memset(in[i].key.origin, i, 8);
			in[i].key.subj_len = in[i].key.type == GEM_TLV_SEK ? 34 : 0;
			memset(in[i].key.subj, 0x80 | i, in[i].key.subj_len);
		}
		in[i].seqno = 0x01000000u * (uint32_t)i + 7;
	}
	gem_tlv_pkt_init(&b, buf, sizeof(buf));
	for (i = 0; i < 100; i++)
		cr_assert_eq(gem_tlv_pkt_add_ack(&b, &in[i]), 0);
	gem_tlv_pkt_finish(&b);
	n = walk(buf, b.len, t, 16);
	cr_assert_gt(n, 1);
	for (i = 0; i < n; i++) {
		cr_assert_eq(t[i].type, GEM_TLV_ACK);
		k = gem_tlv_ack_decode(&t[i], out, GEM_TLV_ACK_MAX);
		cr_assert_gt(k, 0);
		for (int j = 0; j < k; j++, got++) {
			cr_assert(gem_rec_key_eq(&out[j].key, &in[got].key), "entry %d", got);
			cr_assert_eq(out[j].seqno, in[got].seqno);
		}
	}
	cr_assert_eq(got, 100);

	/* a record between acks closes the open Ack TLV */
	gem_tlv_pkt_init(&b, buf, sizeof(buf));
	cr_assert_eq(gem_tlv_pkt_add_ack(&b, &in[2]), 0);
	cr_assert_eq(gem_tlv_pkt_add_request(&b, 9), 0);
	cr_assert_eq(gem_tlv_pkt_add_ack(&b, &in[2]), 0);
	gem_tlv_pkt_finish(&b);
	cr_assert_eq(walk(buf, b.len, t, 16), 3);
	cr_assert_eq(gem_tlv_ack_decode(&t[2], out, 1), 1);
	cr_assert_eq(gem_tlv_ack_decode(&t[2], out, 0), -ENOSPC);

	/* an entry whose subject length does not fit its type */
	in[0].key.subj_len = 3;
	cr_assert_eq(gem_tlv_pkt_add_ack(&b, &in[0]), -EINVAL);
	in[0].key.type = GEM_TLV_ACK;
	cr_assert_eq(gem_tlv_pkt_add_ack(&b, &in[0]), -EINVAL);
}

Test(tlv, builder_no_space)
{
	struct gem_rec p, s;
	struct gem_tlv_ack a = { .key = { .type = GEM_TLV_REQUEST }, .seqno = 1 };
	struct gem_tlv_pkt b;
	uint8_t buf[400];
	uint32_t nonce;
	size_t len;

	decode_vector_records(&p, &s, &nonce);
	cr_assert_eq(gem_tlv_pkt_init(&b, buf, 3), -EINVAL);
	cr_assert_eq(gem_tlv_pkt_init(&b, NULL, 100), -EINVAL);
	cr_assert_eq(gem_tlv_pkt_init(&b, buf, 4 + 139 + 5), 0);
	cr_assert_eq(gem_tlv_pkt_add_rec(&b, &s), -ENOSPC);
	cr_assert_eq(b.len, 4);
	cr_assert_eq(gem_tlv_pkt_add_rec(&b, &p), 0);
	len = b.len;
	cr_assert_eq(gem_tlv_pkt_add_request(&b, 1), -ENOSPC);
	cr_assert_eq(gem_tlv_pkt_add_ack(&b, &a), -ENOSPC);
	cr_assert_eq(gem_tlv_pkt_add_pad(&b, 6), -ENOSPC);
	cr_assert_eq(gem_tlv_pkt_add_pad(&b, 0), -EINVAL);
	cr_assert_eq(gem_tlv_pkt_add_pad(&b, 258), -EINVAL);
	cr_assert_eq(b.len, len, "a failed add leaves the packet as it was");
	cr_assert_eq(gem_tlv_pkt_add_pad(&b, 5), 0);
	cr_assert_eq(gem_tlv_pkt_finish(&b), 4 + 139 + 5);

	/* invalid records are not encoded */
	p.lifetime = 0;
	cr_assert_eq(gem_tlv_rec_encode(&p, buf, sizeof(buf)), -EINVAL);
	p.lifetime = GEM_REC_LIFETIME_MAX + 1;
	cr_assert_eq(gem_tlv_rec_encode(&p, buf, sizeof(buf)), -EINVAL);
	p.lifetime = GEM_REC_LIFETIME_MAX;
	cr_assert_eq(gem_tlv_rec_encode(&p, buf, sizeof(buf)), 139);
	p.type = GEM_TLV_ACK;
	cr_assert_eq(gem_tlv_rec_encode(&p, buf, sizeof(buf)), -EINVAL);
}

Test(tlv, header_checks)
{
	struct gem_tlv_iter it;
	uint8_t buf[512];

	memcpy(buf, pkt1, pkt1_len);
	cr_assert_eq(gem_tlv_pkt_parse(NULL, 10, &it), -EBADMSG);
	cr_assert_eq(gem_tlv_pkt_parse(buf, 3, &it), -EBADMSG);
	buf[0] = 41;
	cr_assert_eq(gem_tlv_pkt_parse(buf, pkt1_len, &it), -EBADMSG);
	buf[0] = 42;
	buf[1] = 1;
	cr_assert_eq(gem_tlv_pkt_parse(buf, pkt1_len, &it), -EPROTONOSUPPORT);
	buf[1] = 3;
	cr_assert_eq(gem_tlv_pkt_parse(buf, pkt1_len, &it), -EPROTONOSUPPORT);
	buf[1] = 2;
	cr_assert_eq(gem_tlv_pkt_parse(buf, pkt1_len - 1, &it), -EBADMSG);
	/* an empty body is a valid (useless) packet */
	buf[2] = buf[3] = 0;
	cr_assert_eq(gem_tlv_pkt_parse(buf, 4, &it), 0);
	cr_assert_eq(it.len, 0);
}

/* RFC 8966: bytes after the body are a trailer, ignored. */
Test(tlv, trailer_ignored)
{
	struct gem_tlv t[8];
	uint8_t buf[600];

	memcpy(buf, pkt1, pkt1_len);
	memset(buf + pkt1_len, 0xe0, 100);	/* would be a broken TLV in the body */
	cr_assert_eq(walk(buf, pkt1_len + 100, t, 8), 3);
}

/* Unknown TLVs (any type but 0, 1, 224-227) come out of the iterator with
 * their bounds checked, for the caller to skip; the records around them
 * still parse. */
Test(tlv, unknown_tlvs)
{
	static const uint8_t unknown[] = { 2, 3, 4, 8, 10, 17, 128, 200, 223, 228, 240, 254, 255 };
	struct gem_rec p, s, r;
	struct gem_tlv t[64];
	struct gem_tlv_pkt b;
	uint8_t buf[4096];
	uint32_t nonce;
	size_t i;
	int n;

	decode_vector_records(&p, &s, &nonce);
	gem_tlv_pkt_init(&b, buf, sizeof(buf));
	for (i = 0; i < sizeof(unknown); i++) {
		size_t len = (i * 37) % 256;

		buf[b.len] = unknown[i];
		buf[b.len + 1] = (uint8_t)len;
		memset(buf + b.len + 2, 0xe1, len);	/* looks like a record inside */
		b.len += 2 + len;
		gem_tlv_pkt_add_pad(&b, 1);
		gem_tlv_pkt_add_rec(&b, i % 2 ? &p : &s);
	}
	gem_tlv_pkt_finish(&b);
	n = walk(buf, b.len, t, 64);
	cr_assert_eq(n, 2 * (int)sizeof(unknown));
	for (i = 0; i < sizeof(unknown); i++) {
		cr_assert_eq(t[2 * i].type, unknown[i]);
		cr_assert_eq(t[2 * i].len, (i * 37) % 256);
		cr_assert_eq(gem_tlv_rec_decode(&t[2 * i], &r), -ENOENT);
		cr_assert_eq(gem_tlv_rec_decode(&t[2 * i + 1], &r), 0);
		cr_assert_eq(r.type, i % 2 ? GEM_TLV_PUBKEY : GEM_TLV_SEK);
	}
}

/* A known type with the wrong length, or a bad lifetime, is malformed. */
Test(tlv, malformed_known_tlvs)
{
	struct gem_tlv_ack a[GEM_TLV_ACK_MAX];
	uint8_t body[300] = { 0 };
	struct gem_tlv t = { .body = body };
	struct gem_rec r;
	uint32_t nonce;
	size_t len;

	/* records: every length but the right one */
	for (len = 0; len < 256; len++) {
		t.len = (uint8_t)len;
		body[23] = 60;	/* lifetime 60 s */
		t.type = GEM_TLV_PUBKEY;
		cr_assert_eq(gem_tlv_rec_decode(&t, &r), len == GEM_TLV_PUBKEY_LEN ? 0 : -EBADMSG);
		t.type = GEM_TLV_SEK;
		cr_assert_eq(gem_tlv_rec_decode(&t, &r), len == GEM_TLV_SEK_LEN ? 0 : -EBADMSG);
		t.type = GEM_TLV_REQUEST;
		cr_assert_eq(gem_tlv_request_decode(&t, &nonce), len == 4 ? 0 : -EBADMSG);
	}
	/* lifetime 0 and above 30 days */
	t.type = GEM_TLV_PUBKEY;
	t.len = GEM_TLV_PUBKEY_LEN;
	body[20] = body[21] = body[22] = body[23] = 0;
	cr_assert_eq(gem_tlv_rec_decode(&t, &r), -EBADMSG);
	body[23] = 1;
	cr_assert_eq(gem_tlv_rec_decode(&t, &r), 0);
	cr_assert_eq(r.lifetime, 1);
	body[20] = 0x00;
	body[21] = 0x27;
	body[22] = 0x8d;
	body[23] = 0x00;	/* 2592000 */
	cr_assert_eq(gem_tlv_rec_decode(&t, &r), 0);
	body[23] = 0x01;
	cr_assert_eq(gem_tlv_rec_decode(&t, &r), -EBADMSG);
	t.type = GEM_TLV_ACK;
	cr_assert_eq(gem_tlv_rec_decode(&t, &r), -ENOENT);
	cr_assert_eq(gem_tlv_request_decode(&t, &nonce), -EBADMSG);

	/* acks: empty, unknown entry type, truncated entry */
	t.type = GEM_TLV_ACK;
	t.len = 0;
	cr_assert_eq(gem_tlv_ack_decode(&t, a, GEM_TLV_ACK_MAX), -EBADMSG);
	memset(body, 0, sizeof(body));
	body[0] = GEM_TLV_REQUEST;
	t.len = 5;
	cr_assert_eq(gem_tlv_ack_decode(&t, a, GEM_TLV_ACK_MAX), 1);
	t.len = 4;
	cr_assert_eq(gem_tlv_ack_decode(&t, a, GEM_TLV_ACK_MAX), -EBADMSG);
	t.len = 6;
	cr_assert_eq(gem_tlv_ack_decode(&t, a, GEM_TLV_ACK_MAX), -EBADMSG);
	body[5] = GEM_TLV_PUBKEY;
	t.len = 5 + 13;
	cr_assert_eq(gem_tlv_ack_decode(&t, a, GEM_TLV_ACK_MAX), 2);
	t.len = 5 + 12;
	cr_assert_eq(gem_tlv_ack_decode(&t, a, GEM_TLV_ACK_MAX), -EBADMSG);
	body[5] = GEM_TLV_ACK;
	t.len = 5 + 13;
	cr_assert_eq(gem_tlv_ack_decode(&t, a, GEM_TLV_ACK_MAX), -EBADMSG);
	body[5] = GEM_TLV_SEK;
	t.len = 5 + 47;
	cr_assert_eq(gem_tlv_ack_decode(&t, a, GEM_TLV_ACK_MAX), 2);
	cr_assert_eq(a[1].key.subj_len, 34);
	t.len = 5 + 46;
	cr_assert_eq(gem_tlv_ack_decode(&t, a, GEM_TLV_ACK_MAX), -EBADMSG);
	t.type = GEM_TLV_REQUEST;
	cr_assert_eq(gem_tlv_ack_decode(&t, a, GEM_TLV_ACK_MAX), -EBADMSG);
}

Test(tlv, seqno_order)
{
	cr_assert_eq(gem_seqno_cmp(5, 5), 0);
	cr_assert_eq(gem_seqno_cmp(5, 6), -1);
	cr_assert_eq(gem_seqno_cmp(6, 5), 1);
	cr_assert_eq(gem_seqno_cmp(0xffffffff, 0), -1, "wraps");
	cr_assert_eq(gem_seqno_cmp(0, 0xffffffff), 1);
	cr_assert_eq(gem_seqno_cmp(0, 0x7fffffff), -1);
	cr_assert_eq(gem_seqno_cmp(0, 0x80000001), 1);
	cr_assert_eq(gem_seqno_cmp(0, 0x80000000), 2, "exactly half way: unordered");
	cr_assert_eq(gem_seqno_cmp(0x80000000, 0), 2);
}

Test(tlv, record_keys)
{
	struct gem_rec p, s, s2;
	struct gem_rec_key kp, ks, ks2;
	uint32_t nonce;

	decode_vector_records(&p, &s, &nonce);
	gem_rec_key_of(&p, &kp);
	gem_rec_key_of(&s, &ks);
	cr_assert_eq(kp.subj_len, 0);
	cr_assert_eq(ks.subj_len, 34);
	cr_assert_not(gem_rec_key_eq(&kp, &ks));
	s2 = s;
	s2.seqno++;
	s2.sek.epoch++;
	s2.lifetime = 10;
	gem_rec_key_of(&s2, &ks2);
	cr_assert(gem_rec_key_eq(&ks, &ks2), "seqno, epoch, lifetime are not the key");
	s2.sek.key_id = 2;	/* a pre-announced next key is another record */
	gem_rec_key_of(&s2, &ks2);
	cr_assert_not(gem_rec_key_eq(&ks, &ks2));
	s2 = s;
	s2.sek.grp[15] ^= 1;
	gem_rec_key_of(&s2, &ks2);
	cr_assert_not(gem_rec_key_eq(&ks, &ks2));
	s2 = s;
	s2.origin[0] ^= 1;
	gem_rec_key_of(&s2, &ks2);
	cr_assert_not(gem_rec_key_eq(&ks, &ks2));
}

Test(tlv, same_content)
{
	struct gem_rec p, s, x;
	uint32_t nonce;

	decode_vector_records(&p, &s, &nonce);
	cr_assert(gem_rec_same_content(&p, &p));
	cr_assert_not(gem_rec_same_content(&p, &s));
	x = s;
	x.seqno += 5;
	x.time_ms += 1800000;
	memset(x.sig, 0, sizeof(x.sig));
	memset(x.sek.hmac, 0, sizeof(x.sek.hmac));
	cr_assert(gem_rec_same_content(&s, &x), "a refresh changes no content");
	x.sek.wrapped[23] ^= 1;
	cr_assert_not(gem_rec_same_content(&s, &x));
	x = s;
	x.sek.epoch++;
	cr_assert_not(gem_rec_same_content(&s, &x));
	x = s;
	x.flags |= GEM_REC_F_WITHDRAWN;
	cr_assert_not(gem_rec_same_content(&s, &x));
	x = p;
	x.pk.addr[15]++;
	cr_assert_not(gem_rec_same_content(&p, &x));
	x = p;
	x.lifetime++;
	cr_assert_not(gem_rec_same_content(&p, &x));
}

/* ---- robustness ------------------------------------------------------------------------- */

/*
 * Parse everything in buf like the engine does.  Consistency: a record or
 * Ack that decodes re-encodes to exactly the bytes it came from, so a
 * mutation is either rejected or parsed as exactly what the bytes say.
 * Returns the number of TLVs that decoded, or the packet error.
 */
static int parse_all(const uint8_t *buf, size_t len)
{
	struct gem_tlv_ack a[GEM_TLV_ACK_MAX];
	struct gem_tlv_iter it;
	struct gem_tlv t;
	int err, ok = 0;

	err = gem_tlv_pkt_parse(buf, len, &it);
	if (err)
		return err;
	cr_assert_leq(it.len + GEM_TLV_HDR_LEN, len);
	while ((err = gem_tlv_next(&it, &t)) > 0) {
		uint8_t out[300];
		struct gem_tlv_pkt b;
		struct gem_rec r;
		uint32_t nonce;
		int k, i;

		cr_assert(t.body >= buf + GEM_TLV_HDR_LEN);
		cr_assert_leq((size_t)(t.body - buf) + t.len, len);
		if (gem_tlv_rec_decode(&t, &r) == 0) {
			cr_assert_eq(gem_tlv_rec_encode(&r, out, sizeof(out)), 2 + t.len);
			cr_assert_arr_eq(out + 2, t.body, t.len);
			ok++;
		} else if (t.type == GEM_TLV_ACK &&
			   (k = gem_tlv_ack_decode(&t, a, GEM_TLV_ACK_MAX)) > 0) {
			gem_tlv_pkt_init(&b, out, sizeof(out));
			for (i = 0; i < k; i++)
				cr_assert_eq(gem_tlv_pkt_add_ack(&b, &a[i]), 0);
			cr_assert_eq(b.len, 4 + 2 + t.len);
			cr_assert_arr_eq(out + 6, t.body, t.len);
			ok++;
		} else if (gem_tlv_request_decode(&t, &nonce) == 0) {
			ok++;
		}
	}
	return err < 0 ? err : ok;
}

Test(tlv, every_truncation)
{
	const uint8_t *pkts[] = { pkt1, pkt2, pkt3 };
	size_t lens[] = { pkt1_len, pkt2_len, pkt3_len };

	for (int p = 0; p < 3; p++) {
		for (size_t len = 0; len < lens[p]; len++) {
			uint8_t buf[512];
			int n;

			/* the datagram is cut: the header promises more */
			memcpy(buf, pkts[p], len);
			cr_assert_eq(parse_all(buf, len), -EBADMSG, "pkt%d len %zu", p + 1, len);

			/* the body is cut and the header says so: the TLVs
			 * wholly inside still parse, a cut one stops it */
			if (len < 4)
				continue;
			buf[2] = (uint8_t)((len - 4) >> 8);
			buf[3] = (uint8_t)(len - 4);
			n = parse_all(buf, len);
			cr_assert(n == -EBADMSG || n >= 0, "pkt%d len %zu: %d", p + 1, len, n);
			if (p == 0) {
				int whole = (len >= REQ_BODY + 4) + (len >= SEK_BODY + GEM_TLV_SEK_LEN) +
					    (len >= PK_BODY + GEM_TLV_PUBKEY_LEN);
				bool at_end = len == 4 || len == PK_BODY + GEM_TLV_PUBKEY_LEN ||
					      len == SEK_BODY + GEM_TLV_SEK_LEN;

				if (at_end)
					cr_assert_eq(n, whole, "len %zu", len);
				else
					cr_assert_eq(n, -EBADMSG, "len %zu", len);
			}
			if (p == 2)	/* the 200-byte SEK Announce cut anywhere */
				cr_assert_eq(n, len == 4 ? 0 : -EBADMSG, "pkt3 len %zu", len);
		}
		cr_assert_geq(parse_all(pkts[p], lens[p]), 1);
	}
}

Test(tlv, every_bit_flip)
{
	const uint8_t *pkts[] = { pkt1, pkt2, pkt3 };
	size_t lens[] = { pkt1_len, pkt2_len, pkt3_len };
	unsigned int rejected = 0, parsed = 0;

	for (int p = 0; p < 3; p++) {
		for (size_t bit = 0; bit < 8 * lens[p]; bit++) {
			uint8_t buf[512];
			int n;

			memcpy(buf, pkts[p], lens[p]);
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			n = parse_all(buf, lens[p]);
			if (bit < 16)	/* magic or version */
				cr_assert_lt(n, 0, "pkt%d bit %zu", p + 1, bit);
			if (n < 0)
				rejected++;
			else
				parsed++;
		}
	}
	cr_assert_gt(rejected, 0);
	cr_assert_gt(parsed, 0);
}

/* splitmix64: deterministic, good enough to drive a fuzzer */
static uint64_t rng_state = 0x6765d0c7a1f00d5ull;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Random packets built from plausible pieces plus random mutations. */
Test(tlv, random_packets)
{
	for (int i = 0; i < 20000; i++) {
		uint8_t buf[700];
		size_t len = 0, target = rnd() % sizeof(buf);

		buf[len++] = rnd() % 16 ? 42 : (uint8_t)rnd();
		buf[len++] = rnd() % 16 ? 2 : (uint8_t)rnd();
		len += 2;
		while (len < target) {
			size_t room = sizeof(buf) - len, tl;
			uint8_t ty;

			switch (rnd() % 8) {
			case 0:
				ty = 0;
				break;
			case 1:
			case 2:
				ty = GEM_TLV_PUBKEY + rnd() % 4;
				break;
			default:
				ty = (uint8_t)rnd();
				break;
			}
			buf[len++] = ty;
			if (ty == 0 || len == sizeof(buf))
				continue;
			tl = ty == GEM_TLV_PUBKEY ? GEM_TLV_PUBKEY_LEN :
			     ty == GEM_TLV_SEK ? (rnd() % 2 ? GEM_TLV_SEK_LEN : GEM_TLV_SEK_LEN_S4) :
			     rnd() % 256;
			if (rnd() % 4 == 0)
				tl = rnd() % 256;
			buf[len++] = (uint8_t)tl;
			room = sizeof(buf) - len;
			if (tl > room)
				tl = room;
			for (size_t j = 0; j < tl; j++)
				buf[len + j] = (uint8_t)rnd();
			/* mostly the suite byte that fits the length (10.5) */
			if (ty == GEM_TLV_SEK && tl > 25 && rnd() % 4)
				buf[len + 25] = tl == GEM_TLV_SEK_LEN_S4 ? 4 : 1;
			len += tl;
		}
		if (len > sizeof(buf))
			len = sizeof(buf);
		buf[2] = (uint8_t)((len - 4) >> 8);
		buf[3] = (uint8_t)(len - 4);
		if (rnd() % 8 == 0)
			buf[2 + rnd() % 2] ^= (uint8_t)(1u << (rnd() % 8));
		parse_all(buf, len);
		parse_all(buf, rnd() % (len + 1));
	}
}
