// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Node identity proof (gemd/ident.c) against docs/PROTOCOL.md section 11.
 *
 * The messages are built here byte by byte from the specification's offsets
 * and signed with OpenSSL's Ed25519 (not libsodium, which gemd verifies
 * with); node ids are computed with OpenSSL's SHA-256.  Then: a valid proof
 * is accepted, and each way an intruder holding only the BK could answer (its
 * own key for another node's id, a signature over another SA or challenge,
 * other ids, any single-bit change of the message) is refused.  The
 * vector of PROTOCOL.md 11.3 was made with Python's cryptography package.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "gemd/ident.h"

/* RFC 8032 section 7.1 tests 1 and 2 */
static const char *SEED_X = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char *SEED_M = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";

static void unhex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(sscanf(h + 2 * i, "%2hhx", &out[i]), 1);
}

static EVP_PKEY *key_of(const char *seed_hex, uint8_t pk[32])
{
	uint8_t seed[32];
	size_t len = 32;
	EVP_PKEY *k;

	unhex(seed_hex, seed, 32);
	k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	cr_assert(k);
	cr_assert_eq(EVP_PKEY_get_raw_public_key(k, pk, &len), 1);
	return k;
}

/* KEYS.md: node id = SHA-256("GEM v1 node-id" 0x00 || pk)[0..8] */
static void node_id(const uint8_t pk[32], uint8_t id[8])
{
	uint8_t in[15 + 32], d[32];

	memcpy(in, "GEM v1 node-id", 15);	/* with its NUL */
	memcpy(in + 15, pk, 32);
	SHA256(in, sizeof(in), d);
	memcpy(id, d, 8);
}

static void sign(EVP_PKEY *k, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	size_t sl = 64;

	cr_assert_eq(EVP_DigestSignInit(c, NULL, NULL, NULL, k), 1);
	cr_assert_eq(EVP_DigestSign(c, sig, &sl, msg, len), 1);
	EVP_MD_CTX_free(c);
}

struct fx {
	EVP_PKEY *kx, *km;
	uint8_t pkx[32], pkm[32], idx[8], idv[8], spi[16], nonce_v[32], nonce_x[32];
};

static void fx_init(struct fx *f)
{
	f->kx = key_of(SEED_X, f->pkx);
	f->km = key_of(SEED_M, f->pkm);
	node_id(f->pkx, f->idx);
	memcpy(f->idv, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	for (int i = 0; i < 16; i++)
		f->spi[i] = 0xa0 + i;
	for (int i = 0; i < 32; i++) {
		f->nonce_v[i] = i;
		f->nonce_x[i] = 0x80 | i;
	}
}

static void fx_free(struct fx *f)
{
	EVP_PKEY_free(f->kx);
	EVP_PKEY_free(f->km);
}

/* The message x sends v by the specification, signed by key k with public
 * key pk, over spi and echo: exactly GEM_IDENT_LEN bytes. */
static void build(const struct fx *f, EVP_PKEY *k, const uint8_t pk[32], const uint8_t from[8],
		  const uint8_t spi[16], const uint8_t echo[32], uint8_t out[200])
{
	static const char ctx[] = "GEM v1 node-identity-proof";
	uint8_t in[sizeof(ctx) + 8 + 8 + 16 + 32];

	memset(out, 0, 200);
	memcpy(out, "GEMI", 4);
	out[4] = 1;
	out[5] = 0x01;			/* PROOF */
	memcpy(out + 8, from, 8);
	memcpy(out + 16, f->idv, 8);
	memcpy(out + 24, spi, 16);
	memcpy(out + 40, f->nonce_x, 32);
	memcpy(out + 72, echo, 32);
	memcpy(out + 104, pk, 32);
	memcpy(in, ctx, sizeof(ctx));
	memcpy(in + sizeof(ctx), from, 8);
	memcpy(in + sizeof(ctx) + 8, f->idv, 8);
	memcpy(in + sizeof(ctx) + 16, spi, 16);
	memcpy(in + sizeof(ctx) + 32, echo, 32);
	sign(k, in, sizeof(in), out + 136);
}

static enum gem_ident_verdict verdict(const struct fx *f, const uint8_t *buf, size_t len)
{
	struct gem_ident_msg m;
	int err = gem_ident_decode(buf, len, &m);

	if (err)
		return (enum gem_ident_verdict)-1;
	return gem_ident_check(&m, f->idx, f->idv, f->spi, f->nonce_v);
}

Test(ident, valid_proof_accepted_and_round_trips)
{
	struct fx f;
	struct gem_ident_msg m;
	uint8_t buf[200], again[200];

	fx_init(&f);
	build(&f, f.kx, f.pkx, f.idx, f.spi, f.nonce_v, buf);
	cr_assert_eq(verdict(&f, buf, 200), GEM_IDENT_OK);
	cr_assert_eq(gem_ident_decode(buf, 200, &m), 0);
	cr_assert_eq(gem_ident_encode(&m, again, sizeof(again)), GEM_IDENT_LEN);
	cr_assert_arr_eq(again, buf, 200, "encode(decode(x)) == x");
	cr_assert_eq(gem_ident_encode(&m, again, 199), -EMSGSIZE);
	fx_free(&f);
}

Test(ident, intruder_with_own_key_refused)
{
	struct fx f;
	uint8_t buf[200];

	fx_init(&f);
	/* claims x's id, signs correctly with its own key */
	build(&f, f.km, f.pkm, f.idx, f.spi, f.nonce_v, buf);
	cr_assert_eq(verdict(&f, buf, 200), GEM_IDENT_PK_NOT_ID);
	/* x's public key, its own signature */
	build(&f, f.km, f.pkx, f.idx, f.spi, f.nonce_v, buf);
	cr_assert_eq(verdict(&f, buf, 200), GEM_IDENT_BAD_SIG);
	fx_free(&f);
}

Test(ident, other_sa_or_challenge_or_ids)
{
	struct fx f;
	uint8_t buf[200], spi2[16], echo2[32], id2[8];

	fx_init(&f);
	memcpy(spi2, f.spi, 16);
	spi2[15] ^= 1;
	memcpy(echo2, f.nonce_v, 32);
	echo2[0] ^= 1;
	/* x's genuine proof for another IKE SA or an older challenge: stale */
	build(&f, f.kx, f.pkx, f.idx, spi2, f.nonce_v, buf);
	cr_assert_eq(verdict(&f, buf, 200), GEM_IDENT_STALE);
	build(&f, f.kx, f.pkx, f.idx, f.spi, echo2, buf);
	cr_assert_eq(verdict(&f, buf, 200), GEM_IDENT_STALE);
	/* a message naming another sender or receiver: wrong id */
	memcpy(id2, f.idx, 8);
	id2[0] ^= 1;
	build(&f, f.kx, f.pkx, id2, f.spi, f.nonce_v, buf);
	cr_assert_eq(verdict(&f, buf, 200), GEM_IDENT_WRONG_ID);
	build(&f, f.kx, f.pkx, f.idx, f.spi, f.nonce_v, buf);
	buf[16] ^= 1;
	cr_assert_eq(verdict(&f, buf, 200), GEM_IDENT_WRONG_ID);
	/* no proof yet */
	build(&f, f.kx, f.pkx, f.idx, f.spi, f.nonce_v, buf);
	buf[5] = 0;
	cr_assert_eq(verdict(&f, buf, 200), GEM_IDENT_NO_PROOF);
	fx_free(&f);
}

Test(ident, every_bit_flip_and_truncation_refused)
{
	struct fx f;
	uint8_t buf[200], bad[201];
	struct gem_ident_msg m;

	fx_init(&f);
	build(&f, f.kx, f.pkx, f.idx, f.spi, f.nonce_v, buf);
	for (int i = 0; i < 200 * 8; i++) {
		int off = i / 8;

		memcpy(bad, buf, 200);
		bad[off] ^= 1 << (i % 8);
		/* the sender's own challenge (40..71) is not signed: it is the
		 * challenge for the other direction, anything goes */
		if (off >= 40 && off < 72)
			continue;
		/* DONE (bit 1 of flags) is informational, not signed */
		if (off == 5 && i % 8 == 1)
			continue;
		cr_assert_neq(verdict(&f, bad, 200), GEM_IDENT_OK, "bit %d accepted", i);
	}
	for (size_t len = 0; len < 200; len++)
		cr_assert_neq(gem_ident_decode(buf, len, &m), 0, "length %zu", len);
	memcpy(bad, buf, 200);
	bad[200] = 0;
	cr_assert_eq(gem_ident_decode(bad, 201, &m), -EBADMSG);
	bad[4] = 2;
	cr_assert_eq(gem_ident_decode(bad, 200, &m), -EPROTONOSUPPORT);
	fx_free(&f);
}

Test(ident, signed_bytes_are_the_specification_s)
{
	struct fx f;
	struct gem_ident_msg m;
	uint8_t buf[200], in[GEM_IDENT_SIG_INPUT_LEN];

	fx_init(&f);
	build(&f, f.kx, f.pkx, f.idx, f.spi, f.nonce_v, buf);
	cr_assert_eq(gem_ident_decode(buf, 200, &m), 0);
	gem_ident_sig_input(&m, in);
	cr_assert_eq(sizeof(in), 27 + 8 + 8 + 16 + 32);
	cr_assert_arr_eq(in, "GEM v1 node-identity-proof", 27);
	cr_assert_arr_eq(in + 27, buf + 8, 16, "both ids");
	cr_assert_arr_eq(in + 43, buf + 24, 16, "both SPIs");
	cr_assert_arr_eq(in + 59, buf + 72, 32, "echo");
	fx_free(&f);
}

/* docs/PROTOCOL.md 11.3 */
static const char *VECTOR =
	"47454d490103000006b9d005c278f4691122334455667788a0a1a2a3a4a5a6a7"
	"a8a9aaabacadaeaf808182838485868788898a8b8c8d8e8f9091929394959697"
	"98999a9b9c9d9e9f000102030405060708090a0b0c0d0e0f1011121314151617"
	"18191a1b1c1d1e1fd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325"
	"af021a68f707511a654bfae21f50aae6fd580a4d7a0726685fb3793ee5ee9816"
	"cffdec89fdd58d05f732103d87d4d39231aaeb4e31519716a7276b767f066d0c"
	"dad9be310e43fa07";

Test(ident, protocol_vector)
{
	struct fx f;
	struct gem_ident_msg m;
	uint8_t buf[200], built[200], id[8];

	fx_init(&f);
	unhex(VECTOR, buf, 200);
	unhex("06b9d005c278f469", id, 8);
	cr_assert_arr_eq(f.idx, id, 8, "node id of the RFC 8032 key");
	cr_assert_eq(verdict(&f, buf, 200), GEM_IDENT_OK);
	cr_assert_eq(gem_ident_decode(buf, 200, &m), 0);
	cr_assert_eq(m.flags, GEM_IDENT_F_PROOF | GEM_IDENT_F_DONE);
	/* Ed25519 is deterministic: OpenSSL makes the same bytes */
	build(&f, f.kx, f.pkx, f.idx, f.spi, f.nonce_v, built);
	built[5] |= GEM_IDENT_F_DONE;
	cr_assert_arr_eq(built, buf, 200);
	fx_free(&f);
}
