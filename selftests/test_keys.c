// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * keys/: GEM's HSM key hierarchy against a private SoftHSMv2 token.
 *
 * Every test gets a fresh token in its own directory (SOFTHSM2_CONF), under
 * one root directory made before the first test and removed after the last,
 * so even a crashing test leaves nothing behind.  Derivations are checked
 * against OpenSSL over labels built here from docs/KEYS.md (not by the code
 * under test) and against the document's test vectors; signatures against
 * libsodium; key wrap against OpenSSL's AES-KWP.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "keys/gem_keys.h"

#define MODULE	GEM_KEYS_DEFAULT_MODULE
#define TOKEN	"gem-test"
#define PIN	"123456"
#define SO_PIN	"87654321"
#define ROOT_ENV "GEM_KEYS_TEST_ROOT"

static char dir[256];

/* ---- fixture --------------------------------------------------------------- */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	remove(p);
	return 0;
}

static void rm_rf(const char *p)
{
	nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	char root[] = "/tmp/gem-keys-test.XXXXXX";

	(void)set;
	if (mkdtemp(root))
		setenv(ROOT_ENV, root, 1);	/* inherited by the test workers */
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	const char *root = getenv(ROOT_ENV);

	(void)stats;
	if (root && !strncmp(root, "/tmp/gem-keys-test.", 19))
		rm_rf(root);
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void setup(void)
{
	const char *root = getenv(ROOT_ENV);
	char conf[300], tokens[300], cmd[600], text[400];

	if (access(MODULE, R_OK))
		cr_skip_test("SoftHSMv2 not installed (%s)", MODULE);
	snprintf(dir, sizeof(dir), "%s/t.XXXXXX", root ? root : "/tmp");
	cr_assert(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	snprintf(tokens, sizeof(tokens), "%s/tokens", dir);
	cr_assert_eq(mkdir(tokens, 0700), 0);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
	snprintf(text, sizeof(text),
		 "directories.tokendir = %s\nobjectstore.backend = file\n"
		 "log.level = ERROR\nslots.removable = false\n", tokens);
	write_file(conf, text, strlen(text), 0600);
	setenv("SOFTHSM2_CONF", conf, 1);
	setenv(GEM_KEYS_ENV_LOCK_DIR, dir, 1);
	setenv(GEM_KEYS_ENV_PIN, PIN, 1);
	unsetenv(GEM_KEYS_ENV_PIN_FILE);
	unsetenv(GEM_KEYS_ENV_TOKEN);
	unsetenv(GEM_KEYS_ENV_MODULE);
	snprintf(cmd, sizeof(cmd), "softhsm2-util --init-token --free --label " TOKEN
		 " --so-pin " SO_PIN " --pin " PIN " >/dev/null");
	cr_assert_eq(system(cmd), 0, "softhsm2-util --init-token failed");
	cr_assert_eq(sodium_init() < 0, 0);
}

static void teardown(void)
{
	if (dir[0])
		rm_rf(dir);
}

TestSuite(kat, .init = setup, .fini = teardown);
TestSuite(attrs, .init = setup, .fini = teardown);
TestSuite(errors, .init = setup, .fini = teardown);
TestSuite(files, .init = setup, .fini = teardown);

/* ---- helpers --------------------------------------------------------------- */

static struct gem_keys *open_ok(void)
{
	struct gem_keys_cfg cfg = { .token = TOKEN };
	struct gem_keys *k = NULL;
	int err = gem_keys_open(&k, &cfg);

	cr_assert_eq(err, 0, "gem_keys_open: %d %s", err, gem_keys_errmsg());
	return k;
}

static void unhex(const char *h, uint8_t *out, size_t n)
{
	cr_assert_eq(strlen(h), 2 * n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(sscanf(h + 2 * i, "%2hhx", &out[i]), 1);
}

static void seq(uint8_t *p, size_t n, uint8_t first)
{
	for (size_t i = 0; i < n; i++)
		p[i] = first + i;
}

#define assert_bytes(got, want, n, what) \
	cr_assert(!memcmp((got), (want), (n)), "%s differs", (what))

/* docs/KEYS.md section 3: "GEM v1 " purpose 0x00 context */
static size_t label(uint8_t *buf, const char *purpose, const uint8_t *ctx, size_t n)
{
	size_t p = strlen(purpose);

	memcpy(buf, "GEM v1 ", 7);
	memcpy(buf + 7, purpose, p);
	buf[7 + p] = 0;
	memcpy(buf + 8 + p, ctx, n);
	return 8 + p + n;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static size_t group_label(uint8_t *buf, const char *purpose, const uint8_t grp[16],
			  uint32_t epoch)
{
	uint8_t ctx[20];

	memcpy(ctx, grp, 16);
	put_be32(ctx + 16, epoch);
	return label(buf, purpose, ctx, sizeof(ctx));
}

static void ossl_hmac(const uint8_t key[32], const uint8_t *msg, size_t n, uint8_t out[32])
{
	unsigned int len = 32;

	cr_assert(HMAC(EVP_sha256(), key, 32, msg, n, out, &len));
	cr_assert_eq(len, 32);
}

/* OpenSSL AES-256-KWP (RFC 5649). */
static int ossl_kwp(int enc, const uint8_t key[32], const uint8_t *in, int n,
		    uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int len = 0, fin = 0, ok;

	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	ok = EVP_CipherInit_ex(c, EVP_aes_256_wrap_pad(), NULL, key, NULL, enc) &&
	     EVP_CipherUpdate(c, out, &len, in, n) &&
	     EVP_CipherFinal_ex(c, out + len, &fin);
	EVP_CIPHER_CTX_free(c);
	return ok ? len + fin : -1;
}

/* Test material of docs/KEYS.md section 6. */
static uint8_t bk[32], gak[32], sek_v[16];
static const uint8_t id_a[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t id_b[8] = { 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18 };
static uint8_t grp4[16], grp6[16];

static struct gem_keys *open_with_roots(void)
{
	struct gem_keys *k = open_ok();

	seq(bk, 32, 0x00);
	seq(gak, 32, 0x20);
	seq(sek_v, 16, 0x40);
	cr_assert_eq(gem_keys_group_parse("239.1.1.1", grp4), 0);
	cr_assert_eq(gem_keys_group_parse("ff3e::1:1", grp6), 0);
	cr_assert_eq(gem_keys_import(k, GEM_KEYS_BK, NULL, 0, bk), 0, "%s", gem_keys_errmsg());
	cr_assert_eq(gem_keys_import(k, GEM_KEYS_GAK, grp4, 0, gak), 0, "%s", gem_keys_errmsg());
	cr_assert_eq(gem_keys_import(k, GEM_KEYS_GAK, grp6, 0, gak), 0, "%s", gem_keys_errmsg());
	return k;
}

/* The GAK of another epoch of grp (a GAK per epoch; the vectors of
 * docs/KEYS.md 6 use epoch 7 with the same bytes). */
static void import_epoch(struct gem_keys *k, const uint8_t grp[16], uint32_t epoch)
{
	cr_assert_eq(gem_keys_import(k, GEM_KEYS_GAK, grp, epoch, gak), 0, "%s",
		     gem_keys_errmsg());
}

/* Secret outputs live in sodium_malloc'd (locked) memory, as callers must. */
static uint8_t *sec(size_t n)
{
	uint8_t *p = sodium_malloc(n);

	cr_assert(p);
	return p;
}

/* ---- known answers ------------------------------------------------------- */

Test(kat, ipsec_psk)
{
	struct gem_keys *k = open_with_roots();
	uint8_t *ab = sec(32), *ba = sec(32), want[32], lab[64], ctx[20], doc[32];
	size_t n;

	cr_assert_eq(gem_keys_ipsec_psk(k, id_a, id_b, 1, ab), 0, "%s", gem_keys_errmsg());
	cr_assert_eq(gem_keys_ipsec_psk(k, id_b, id_a, 1, ba), 0);
	assert_bytes(ab, ba, 32, "PSK(a,b) vs PSK(b,a)");
	memcpy(ctx, id_a, 8);		/* id_a < id_b */
	memcpy(ctx + 8, id_b, 8);
	put_be32(ctx + 16, 1);
	n = label(lab, "ipsec-psk", ctx, sizeof(ctx));
	cr_assert_eq(n, 37);
	ossl_hmac(bk, lab, n, want);
	assert_bytes(ab, want, 32, "PSK vs OpenSSL");
	unhex("5f5174c2b026131a8093745b29ab264112448c27983dda922e3b8eac0d93ab27", doc, 32);
	assert_bytes(ab, doc, 32, "PSK vs docs/KEYS.md");

	/* another epoch, another key */
	cr_assert_eq(gem_keys_ipsec_psk(k, id_a, id_b, 2, ba), 0);
	cr_assert(memcmp(ab, ba, 32));
	/* a node has no PSK with itself */
	cr_assert_eq(gem_keys_ipsec_psk(k, id_a, id_a, 1, ba), -EINVAL);
	sodium_free(ab);
	sodium_free(ba);
	gem_keys_close(k);
}

Test(kat, group_keys_ipv4)
{
	static const struct {
		const char *purpose;
		const char *doc;
	} v[] = {
		{ "ctl-hmac", "8a97451dea368ac4aed86a803df60f70ee9fd15f99de4c885b9a771b1c6dd2d7" },
		{ "dp-hmac", "db7ce8774d016492e8d48b86d487e8b64f26a4294d5b1319bee02ee6eaa7855c" },
		{ "dp-cmac", "6e2978650a21c64f544ebff7834a6b3dbb751cf82aae6e5f7a67a463318cf68a" },
	};
	struct gem_keys *k = open_with_roots();
	uint8_t *got = sec(32), want[32], doc[32], lab[64];
	size_t n, len;

	import_epoch(k, grp4, 7);
	for (size_t i = 0; i < 3; i++) {
		n = group_label(lab, v[i].purpose, grp4, 7);
		ossl_hmac(gak, lab, n, want);
		unhex(v[i].doc, doc, 32);
		assert_bytes(want, doc, 32, v[i].purpose);	/* the document is right */
		memset(got, 0xaa, 32);
		if (i == 0) {
			len = 32;
			cr_assert_eq(gem_keys_ctl_key(k, grp4, 7, got), 0, "%s", gem_keys_errmsg());
		} else {
			len = gem_keys_dp_key_len(i);
			cr_assert_eq(len, i == 1 ? 32 : 16);
			cr_assert_eq(gem_keys_dp_key(k, grp4, 7, i, got, len), 0, "%s",
				     gem_keys_errmsg());
			assert_bytes(got, want, len, v[i].purpose);
			/* static keying (gemctl group add --key-file) derives the same */
			memset(got, 0xaa, 32);
			cr_assert_eq(gem_keys_dp_key_from_gak(gak, grp4, 7, i, got, len), 0);
		}
		assert_bytes(got, want, len, v[i].purpose);
	}
	cr_assert_eq(got[16], 0xaa, "suite 2 wrote past 16 bytes");

	/* wrong length or suite */
	cr_assert_eq(gem_keys_dp_key(k, grp4, 7, 1, got, 16), -EINVAL);
	cr_assert_eq(gem_keys_dp_key(k, grp4, 7, 2, got, 32), -EINVAL);
	cr_assert_eq(gem_keys_dp_key(k, grp4, 7, 3, got, 32), -EINVAL);
	sodium_free(got);
	gem_keys_close(k);
}

Test(kat, group_keys_ipv6)
{
	struct gem_keys *k = open_with_roots();
	uint8_t *got = sec(32), want[32], doc[32], lab[64], g[16];
	size_t n;

	unhex("ff3e0000000000000000000000010001", g, 16);
	assert_bytes(grp6, g, 16, "parsed ff3e::1:1");
	n = group_label(lab, "dp-hmac", grp6, 0);
	ossl_hmac(gak, lab, n, want);
	unhex("5ace5daeff82dcea93ba256411958bb371b2afa940f6b0867b217a8ad529bc25", doc, 32);
	assert_bytes(want, doc, 32, "docs/KEYS.md IPv6 vector");
	cr_assert_eq(gem_keys_dp_key(k, grp6, 0, 1, got, 32), 0, "%s", gem_keys_errmsg());
	assert_bytes(got, want, 32, "dp-hmac ff3e::1:1");
	/* the same GAK under another group gives another key */
	cr_assert_eq(gem_keys_dp_key(k, grp4, 0, 1, want, 32), 0);
	cr_assert(memcmp(got, want, 32));
	sodium_free(got);
	gem_keys_close(k);
}

Test(kat, sek_wrap_is_openssl_kwp)
{
	struct gem_keys *k = open_with_roots();
	uint8_t wk[32], lab[64], want[32], wrapped[24], doc[24], *back = sec(16);
	size_t n;

	import_epoch(k, grp4, 7);
	n = group_label(lab, "sek-wrap", grp4, 7);
	ossl_hmac(gak, lab, n, wk);
	cr_assert_eq(ossl_kwp(1, wk, sek_v, 16, want), 24);
	unhex("14381b4d7887cbbbf25e55a2670523799dafb685f60246d3", doc, 24);
	assert_bytes(want, doc, 24, "docs/KEYS.md wrapped SEK");

	cr_assert_eq(gem_keys_sek_wrap(k, grp4, 7, sek_v, 16, wrapped), 0, "%s", gem_keys_errmsg());
	assert_bytes(wrapped, want, 24, "token KWP vs OpenSSL");

	/* and the token unwraps what OpenSSL wrapped */
	cr_assert_eq(gem_keys_sek_unwrap(k, grp4, 7, want, back, 16), 0, "%s", gem_keys_errmsg());
	assert_bytes(back, sek_v, 16, "unwrapped SEK");
	cr_assert_eq(ossl_kwp(0, wk, wrapped, 24, want), 16);
	assert_bytes(want, sek_v, 16, "OpenSSL unwrap of token KWP");
	sodium_free(back);
	gem_keys_close(k);
}

/* Suite 4: a 32-byte SEK (40 41 .. 5f) wraps to 40 bytes, byte-identical to
 * OpenSSL's KWP and to docs/KEYS.md 6; each side unwraps the other's. */
Test(kat, sek32_wrap_is_openssl_kwp)
{
	struct gem_keys *k = open_with_roots();
	uint8_t wk[32], lab[64], want[48], wrapped[40], doc[40], *sek = sec(32), *back = sec(32);
	size_t n;

	seq(sek, 32, 0x40);
	import_epoch(k, grp4, 7);
	n = group_label(lab, "sek-wrap", grp4, 7);
	ossl_hmac(gak, lab, n, wk);
	cr_assert_eq(ossl_kwp(1, wk, sek, 32, want), 40);
	unhex("3b2d05e9d7f566e61626eb8040fb9fd3210fa6c1d52670cc90cee72f19e969b192c239479e9f2a0a",
	      doc, 40);
	assert_bytes(want, doc, 40, "docs/KEYS.md wrapped 32-byte SEK");

	memset(wrapped, 0, sizeof(wrapped));
	cr_assert_eq(gem_keys_sek_wrap(k, grp4, 7, sek, 32, wrapped), 0, "%s", gem_keys_errmsg());
	assert_bytes(wrapped, want, 40, "token KWP of 32 bytes vs OpenSSL");

	cr_assert_eq(gem_keys_sek_unwrap(k, grp4, 7, want, back, 32), 0, "%s", gem_keys_errmsg());
	assert_bytes(back, sek, 32, "token unwrap of OpenSSL KWP (32 bytes)");
	cr_assert_eq(ossl_kwp(0, wk, wrapped, 40, want), 32);
	assert_bytes(want, sek, 32, "OpenSSL unwrap of token KWP (32 bytes)");

	/* the lengths do not cross: a 16-byte SEK's blob is not a 32-byte SEK
	 * (its first 40 bytes are not a blob either), nor the other way */
	cr_assert_eq(gem_keys_sek_wrap(k, grp4, 7, sek, 16, wrapped), 0);
	memset(back, 0xaa, 32);
	cr_assert_eq(ossl_kwp(1, wk, sek, 24, want), 32);	/* a 24-byte key: 32 */
	cr_assert_eq(gem_keys_sek_unwrap(k, grp4, 7, want, back, 16), -EBADMSG);
	cr_assert_eq(ossl_kwp(1, wk, sek, 31, want), 40);	/* 31 bytes pad to 40 */
	cr_assert_eq(gem_keys_sek_unwrap(k, grp4, 7, want, back, 32), -EBADMSG, "%s",
		     gem_keys_errmsg());
	cr_assert(strstr(gem_keys_errmsg(), "failed the integrity check"), "%s", gem_keys_errmsg());
	for (size_t j = 0; j < 32; j++)
		cr_assert_eq(back[j], 0xaa, "output written on failure");
	/* any other SEK length is refused before the token */
	cr_assert_eq(gem_keys_sek_wrap(k, grp4, 7, sek, 24, wrapped), -EINVAL);
	cr_assert_eq(gem_keys_sek_unwrap(k, grp4, 7, want, back, 24), -EINVAL);
	cr_assert_eq(gem_keys_sek_generate(k, back, 31), -EINVAL);
	sodium_free(sek);
	sodium_free(back);
	gem_keys_close(k);
}

Test(kat, sek32_generate_roundtrip_tampered)
{
	struct gem_keys *k = open_with_roots();
	uint8_t *s1 = sec(32), *s2 = sec(32), *back = sec(32), w[40], bad[40];
	struct gem_keys_obj *v = NULL;
	size_t n0, n1;

	import_epoch(k, grp6, 3);
	cr_assert_eq(gem_keys_list(k, &v, &n0), 0);
	free(v);
	cr_assert_eq(gem_keys_sek_generate(k, s1, 32), 0, "%s", gem_keys_errmsg());
	cr_assert_eq(gem_keys_sek_generate(k, s2, 32), 0);
	cr_assert(memcmp(s1, s2, 32), "two SEKs are equal");
	cr_assert(!sodium_is_zero(s1 + 16, 16), "second half of a 32-byte SEK is zero");
	cr_assert_eq(gem_keys_sek_wrap(k, grp6, 3, s1, 32, w), 0, "%s", gem_keys_errmsg());
	cr_assert_eq(gem_keys_sek_unwrap(k, grp6, 3, w, back, 32), 0, "%s", gem_keys_errmsg());
	assert_bytes(back, s1, 32, "round trip, 32 bytes");
	for (size_t i = 0; i < 40; i++) {
		memcpy(bad, w, 40);
		bad[i] ^= 1 << (i % 8);
		memset(back, 0xaa, 32);
		cr_assert_eq(gem_keys_sek_unwrap(k, grp6, 3, bad, back, 32), -EBADMSG, "byte %zu", i);
		for (size_t j = 0; j < 32; j++)
			cr_assert_eq(back[j], 0xaa, "output written on failure");
	}
	cr_assert_eq(gem_keys_sek_unwrap(k, grp4, 3, w, back, 32), -ENOENT);
	cr_assert_eq(gem_keys_list(k, &v, &n1), 0);
	free(v);
	cr_assert_eq(n1, n0, "session objects left in the token");
	sodium_free(s1);
	sodium_free(s2);
	sodium_free(back);
	gem_keys_close(k);
}

Test(kat, sek_generate_roundtrip)
{
	struct gem_keys *k = open_with_roots();
	uint8_t *s1 = sec(16), *s2 = sec(16), *back = sec(16), w[24];

	cr_assert_eq(gem_keys_sek_generate(k, s1, 16), 0, "%s", gem_keys_errmsg());
	cr_assert_eq(gem_keys_sek_generate(k, s2, 16), 0);
	cr_assert(memcmp(s1, s2, 16), "two SEKs are equal");
	cr_assert(!sodium_is_zero(s1, 16));
	import_epoch(k, grp6, 3);
	cr_assert_eq(gem_keys_sek_wrap(k, grp6, 3, s1, 16, w), 0, "%s", gem_keys_errmsg());
	cr_assert_eq(gem_keys_sek_unwrap(k, grp6, 3, w, back, 16), 0, "%s", gem_keys_errmsg());
	assert_bytes(back, s1, 16, "round trip");
	sodium_free(s1);
	sodium_free(s2);
	sodium_free(back);
	gem_keys_close(k);
}

Test(kat, ed25519_verifies_with_libsodium)
{
	static const char msg[] = "GEM Public Key TLV test message";
	uint8_t pk[32], pk2[32], sig[64], id[8], id2[8], h[32], buf[15 + 32];
	struct gem_keys *k = open_ok();
	unsigned int hl = 32;

	cr_assert_eq(gem_keys_node_init(k), 0, "%s", gem_keys_errmsg());
	cr_assert_eq(gem_keys_node_pubkey(k, pk), 0, "%s", gem_keys_errmsg());
	cr_assert_eq(gem_keys_node_sign(k, msg, sizeof(msg), sig), 0, "%s", gem_keys_errmsg());
	cr_assert_eq(crypto_sign_verify_detached(sig, (const uint8_t *)msg, sizeof(msg), pk), 0,
		     "libsodium rejects the token's signature");
	sig[10] ^= 1;
	cr_assert_neq(crypto_sign_verify_detached(sig, (const uint8_t *)msg, sizeof(msg), pk), 0);

	/* node id = SHA-256("GEM v1 node-id" 0x00 || pk)[0..8], via OpenSSL */
	memcpy(buf, "GEM v1 node-id", 15);	/* with the NUL */
	memcpy(buf + 15, pk, 32);
	cr_assert(EVP_Digest(buf, sizeof(buf), h, &hl, EVP_sha256(), NULL));
	cr_assert_eq(gem_keys_node_id(k, id), 0);
	assert_bytes(id, h, 8, "node id");

	/* docs/KEYS.md vector: RFC 8032 test 1 public key */
	unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", pk2, 32);
	gem_keys_node_id_of(pk2, id);
	unhex("06b9d005c278f469", id2, 8);
	assert_bytes(id, id2, 8, "docs/KEYS.md node id");

	/* init once: a second init keeps the identity */
	cr_assert_eq(gem_keys_node_init(k), -EEXIST);
	cr_assert_eq(gem_keys_node_pubkey(k, pk2), 0);
	assert_bytes(pk2, pk, 32, "public key after a second init");
	gem_keys_close(k);
}

/* ---- attributes: roots stay in the token ---------------------------------- */

struct root { const char *label; CK_OBJECT_CLASS cls; };
static const struct root roots[] = {
	{ GEM_KEYS_LABEL_BK, CKO_SECRET_KEY },
	{ "gem-gak-239.1.1.1", CKO_SECRET_KEY },
	{ "gem-gak-ff3e::1:1", CKO_SECRET_KEY },
	{ GEM_KEYS_LABEL_NODE, CKO_PRIVATE_KEY },
};
#define NROOTS (sizeof(roots) / sizeof(roots[0]))

static struct gem_keys *open_all(CK_OBJECT_HANDLE h[NROOTS])
{
	struct gem_keys *k = open_with_roots();

	cr_assert_eq(gem_keys_node_init(k), 0, "%s", gem_keys_errmsg());
	for (size_t i = 0; i < NROOTS; i++)
		cr_assert_eq(gem_keys_find(k, roots[i].cls, roots[i].label, &h[i]), 0,
			     "%s", gem_keys_errmsg());
	return k;
}

Test(attrs, values_cannot_be_read)
{
	CK_OBJECT_HANDLE h[NROOTS];
	struct gem_keys *k = open_all(h);
	CK_FUNCTION_LIST *f = gem_keys_p11(k);
	CK_SESSION_HANDLE s = gem_keys_session(k);
	uint8_t buf[256];

	for (size_t i = 0; i < NROOTS; i++) {
		CK_ATTRIBUTE a = { CKA_VALUE, buf, sizeof(buf) };

		memset(buf, 0, sizeof(buf));
		cr_assert_eq(f->C_GetAttributeValue(s, h[i], &a, 1), CKR_ATTRIBUTE_SENSITIVE,
			     "%s: CKA_VALUE readable", roots[i].label);
		cr_assert_eq(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
		cr_assert(sodium_is_zero(buf, sizeof(buf)));
	}
	gem_keys_close(k);
}

Test(attrs, cannot_be_wrapped_out)
{
	CK_OBJECT_HANDLE h[NROOTS], wk;
	struct gem_keys *k = open_all(h);
	CK_FUNCTION_LIST *f = gem_keys_p11(k);
	CK_SESSION_HANDLE s = gem_keys_session(k);
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_BBOOL t = CK_TRUE, no = CK_FALSE;
	uint8_t kv[32] = { 1 }, out[512];
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &no, 1 }, { CKA_WRAP, &t, 1 }, { CKA_VALUE, kv, 32 },
	};
	static const CK_MECHANISM_TYPE mechs[] = { CKM_AES_KEY_WRAP_PAD, CKM_AES_KEY_WRAP };

	/* An attacker's own wrapping key, allowed to wrap anything wrappable. */
	cr_assert_eq(f->C_CreateObject(s, tmpl, 5, &wk), CKR_OK);
	for (size_t i = 0; i < NROOTS; i++) {
		for (size_t m = 0; m < 2; m++) {
			CK_MECHANISM mech = { mechs[m], NULL, 0 };
			CK_ULONG len = sizeof(out);

			cr_assert_eq(f->C_WrapKey(s, &mech, wk, h[i], out, &len),
				     CKR_KEY_UNEXTRACTABLE, "%s: wrapped out", roots[i].label);
		}
	}
	gem_keys_close(k);
}

Test(attrs, cannot_become_extractable)
{
	CK_OBJECT_HANDLE h[NROOTS], copy;
	struct gem_keys *k = open_all(h);
	CK_FUNCTION_LIST *f = gem_keys_p11(k);
	CK_SESSION_HANDLE s = gem_keys_session(k);
	CK_BBOOL t = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE ext = { CKA_EXTRACTABLE, &t, 1 }, sens = { CKA_SENSITIVE, &no, 1 };
	CK_ATTRIBUTE enc = { CKA_ENCRYPT, &t, 1 }, der = { CKA_DERIVE, &t, 1 };
	CK_ATTRIBUTE cp[] = { { CKA_TOKEN, &no, 1 }, { CKA_EXTRACTABLE, &t, 1 } };

	/* CKA_MODIFIABLE and CKA_COPYABLE are false: SoftHSM refuses every
	 * change with CKR_ACTION_PROHIBITED (without them, EXTRACTABLE and
	 * SENSITIVE would still be one-way, but DERIVE/ENCRYPT could be set). */
	for (size_t i = 0; i < NROOTS; i++) {
		const char *l = roots[i].label;

		cr_assert_eq(f->C_SetAttributeValue(s, h[i], &ext, 1), CKR_ACTION_PROHIBITED,
			     "%s: made extractable", l);
		cr_assert_eq(f->C_SetAttributeValue(s, h[i], &sens, 1), CKR_ACTION_PROHIBITED,
			     "%s: made non-sensitive", l);
		cr_assert_eq(f->C_SetAttributeValue(s, h[i], &der, 1), CKR_ACTION_PROHIBITED,
			     "%s: derive enabled", l);
		if (roots[i].cls == CKO_SECRET_KEY)
			cr_assert_eq(f->C_SetAttributeValue(s, h[i], &enc, 1),
				     CKR_ACTION_PROHIBITED, "%s: encrypt enabled", l);
		cr_assert_eq(f->C_CopyObject(s, h[i], cp, 2, &copy), CKR_ACTION_PROHIBITED,
			     "%s: copied as extractable", l);
	}
	gem_keys_close(k);
}

Test(attrs, listed_without_values)
{
	CK_OBJECT_HANDLE h[NROOTS];
	struct gem_keys *k = open_all(h);
	struct gem_keys_obj *v = NULL;
	size_t n = 0, seen = 0;

	cr_assert_eq(gem_keys_list(k, &v, &n), 0, "%s", gem_keys_errmsg());
	cr_assert_eq(n, NROOTS + 1, "objects: %zu", n);	/* + the public key */
	for (size_t i = 0; i < n; i++) {
		uint32_t want_set = 0, want_clear = 0;

		for (size_t j = 0; j < gem_keys_nflags; j++) {
			const char *a = gem_keys_flags[j].name;

			if (!strcmp(a, "sensitive") || !strcmp(a, "sign") ||
			    !strcmp(a, "token") || !strcmp(a, "private"))
				want_set |= 1u << j;
			if (!strcmp(a, "extractable") || !strcmp(a, "modifiable") ||
			    !strcmp(a, "copyable") || !strcmp(a, "derive") ||
			    !strcmp(a, "decrypt") || !strcmp(a, "unwrap"))
				want_clear |= 1u << j;
		}
		if (v[i].cls == CKO_PUBLIC_KEY)
			continue;
		seen++;
		cr_assert_eq(v[i].known & (want_set | want_clear), want_set | want_clear,
			     "%s: attributes missing", v[i].label);
		cr_assert_eq(v[i].set & want_set, want_set, "%s", v[i].label);
		cr_assert_eq(v[i].set & want_clear, 0, "%s", v[i].label);
		if (v[i].cls == CKO_SECRET_KEY) {
			cr_assert_eq(v[i].key_type, CKK_GENERIC_SECRET);
			cr_assert_eq(v[i].value_len, 32);
		} else {
			cr_assert_eq(v[i].key_type, CKK_EC_EDWARDS);
		}
	}
	cr_assert_eq(seen, NROOTS);
	free(v);
	gem_keys_close(k);
}

/* ---- errors ------------------------------------------------------------------ */

static int open_cfg(const struct gem_keys_cfg *cfg)
{
	struct gem_keys *k = NULL;
	int err = gem_keys_open(&k, cfg);

	cr_assert_eq(err != 0, k == NULL);
	gem_keys_close(k);
	return err;
}

#define assert_msg(sub) \
	cr_assert(strstr(gem_keys_errmsg(), (sub)), "message '%s' lacks '%s'", \
		  gem_keys_errmsg(), (sub))

Test(errors, wrong_pin)
{
	struct gem_keys_cfg cfg = { .token = TOKEN };

	setenv(GEM_KEYS_ENV_PIN, "000000", 1);
	cr_assert_eq(open_cfg(&cfg), -EACCES);
	cr_assert_eq(gem_keys_errckr(), CKR_PIN_INCORRECT);
	assert_msg("token '" TOKEN "': wrong PIN (CKR_PIN_INCORRECT)");
	/* the lock went with the failed handle: the right PIN works */
	setenv(GEM_KEYS_ENV_PIN, PIN, 1);
	cr_assert_eq(open_cfg(&cfg), 0, "%s", gem_keys_errmsg());
}

Test(errors, missing_token)
{
	struct gem_keys_cfg cfg = { .token = "no-such-token" };

	cr_assert_eq(open_cfg(&cfg), -ENODEV);
	assert_msg("no token labelled 'no-such-token'");
	assert_msg("'" TOKEN "'");	/* names the tokens there are */
	cfg.token = "this-label-is-far-too-long-for-pkcs11";
	cr_assert_eq(open_cfg(&cfg), -EINVAL);
	assert_msg("1 to 32 bytes");
}

Test(errors, missing_module)
{
	struct gem_keys_cfg cfg = { .token = TOKEN, .module = "/nonexistent/libp11.so" };
	Dl_info di;

	cr_assert_eq(open_cfg(&cfg), -ENOENT);
	assert_msg("PKCS#11 module '/nonexistent/libp11.so' not found");
	/* from the environment too */
	cfg.module = NULL;
	setenv(GEM_KEYS_ENV_MODULE, "/nonexistent/env.so", 1);
	cr_assert_eq(open_cfg(&cfg), -ENOENT);
	assert_msg("'/nonexistent/env.so'");
	/* a shared object that is not a PKCS#11 module: libsodium's */
	cr_assert(dladdr((void *)sodium_init, &di) && di.dli_fname);
	cfg.module = di.dli_fname;
	cr_assert_eq(open_cfg(&cfg), -ENOEXEC, "%s", gem_keys_errmsg());
	assert_msg("not a PKCS#11 module");
	/* a file that is no shared object at all */
	cfg.module = "/etc/hostname";
	cr_assert_eq(open_cfg(&cfg), -ENOENT);
	assert_msg("cannot load PKCS#11 module");
}

Test(errors, missing_config)
{
	struct gem_keys_cfg cfg = { .token = TOKEN };
	char pf[300];

	unsetenv(GEM_KEYS_ENV_PIN);
	cr_assert_eq(open_cfg(&cfg), -EINVAL);
	assert_msg("no PIN configured");

	snprintf(pf, sizeof(pf), "%s/missing.pin", dir);
	cfg.pin_file = pf;
	cr_assert_eq(open_cfg(&cfg), -ENOENT);
	assert_msg("cannot read PIN file");

	write_file(pf, "\n", 1, 0600);
	cr_assert_eq(open_cfg(&cfg), -EINVAL);
	assert_msg("holds no PIN");

	write_file(pf, PIN "\n", strlen(PIN) + 1, 0600);	/* first line only */
	cr_assert_eq(open_cfg(&cfg), 0, "%s", gem_keys_errmsg());
	write_file(pf, PIN "\r\nsecond line\n", strlen(PIN) + 14, 0600);
	cr_assert_eq(open_cfg(&cfg), 0, "%s", gem_keys_errmsg());

	/* the file wins over the environment; the environment names it too */
	setenv(GEM_KEYS_ENV_PIN, "000000", 1);
	cr_assert_eq(open_cfg(&cfg), 0, "%s", gem_keys_errmsg());
	cfg.pin_file = NULL;
	setenv(GEM_KEYS_ENV_PIN_FILE, pf, 1);
	cr_assert_eq(open_cfg(&cfg), 0, "%s", gem_keys_errmsg());
}

Test(errors, missing_module_config)
{
	static const char gone[] = "directories.tokendir = /nonexistent/tokens\n";
	struct gem_keys_cfg cfg = { .token = TOKEN };
	char conf[300];

	setenv("SOFTHSM2_CONF", "/nonexistent/softhsm2.conf", 1);
	cr_assert_eq(open_cfg(&cfg), -EIO);
	assert_msg("C_Initialize failed (CKR_GENERAL_ERROR)");
	assert_msg("check SOFTHSM2_CONF");
	/* a configuration whose token directory is gone */
	snprintf(conf, sizeof(conf), "%s/gone.conf", dir);
	write_file(conf, gone, strlen(gone), 0600);
	setenv("SOFTHSM2_CONF", conf, 1);
	cr_assert_eq(open_cfg(&cfg), -EIO);
	assert_msg("check SOFTHSM2_CONF");
}

Test(errors, one_owner_at_a_time)
{
	struct gem_keys_cfg cfg = { .token = TOKEN, .lock_wait_ms = 100 };
	struct gem_keys *k = open_ok();
	pid_t pid;
	int st;

	cr_assert_eq(open_cfg(&cfg), -EBUSY);
	assert_msg("already open in this process");
	/* another process is refused as well */
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct gem_keys *k2 = NULL;
		int err = gem_keys_open(&k2, &cfg);

		_exit(err == -EBUSY && strstr(gem_keys_errmsg(), "another process") ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child got the token");
	gem_keys_close(k);
	cr_assert_eq(open_cfg(&cfg), 0, "%s", gem_keys_errmsg());
}

Test(errors, tampered_wrapped_sek)
{
	struct gem_keys *k = open_with_roots();
	uint8_t w[24], bad[24], *out = sec(16), lab[64], wk[32];
	struct gem_keys_obj *v = NULL;
	size_t n0, n1, n;

	import_epoch(k, grp4, 7);
	import_epoch(k, grp4, 8);
	import_epoch(k, grp6, 7);
	cr_assert_eq(gem_keys_list(k, &v, &n0), 0);
	free(v);
	cr_assert_eq(gem_keys_sek_wrap(k, grp4, 7, sek_v, 16, w), 0, "%s", gem_keys_errmsg());
	for (size_t i = 0; i < 24; i++) {
		memcpy(bad, w, 24);
		bad[i] ^= 1 << (i % 8);
		memset(out, 0xaa, 16);
		cr_assert_eq(gem_keys_sek_unwrap(k, grp4, 7, bad, out, 16), -EBADMSG,
			     "byte %zu: %s", i, gem_keys_errmsg());
		assert_msg("failed the integrity check");
		for (size_t j = 0; j < 16; j++)
			cr_assert_eq(out[j], 0xaa, "output written on failure");
	}
	/* right blob, wrong group or epoch (the same GAK bytes: only the
	 * derivation label differs) */
	cr_assert_eq(gem_keys_sek_unwrap(k, grp6, 7, w, out, 16), -EBADMSG);
	cr_assert_eq(gem_keys_sek_unwrap(k, grp4, 8, w, out, 16), -EBADMSG);
	/* an epoch whose GAK the token lacks: nothing to unwrap with */
	cr_assert_eq(gem_keys_sek_unwrap(k, grp4, 9, w, out, 16), -ENOENT);
	/* a well-formed KWP blob of a 15-byte key: integrity fine, length not */
	n = group_label(lab, "sek-wrap", grp4, 7);
	ossl_hmac(gak, lab, n, wk);
	cr_assert_eq(ossl_kwp(1, wk, sek_v, 15, bad), 24);
	cr_assert_eq(gem_keys_sek_unwrap(k, grp4, 7, bad, out, 16), -EBADMSG, "%s",
		     gem_keys_errmsg());
	/* nothing left behind in the token (session objects destroyed) */
	cr_assert_eq(gem_keys_list(k, &v, &n1), 0);
	free(v);
	cr_assert_eq(n1, n0);
	cr_assert_eq(gem_keys_sek_unwrap(k, grp4, 7, w, out, 16), 0);
	assert_bytes(out, sek_v, 16, "untampered SEK");
	sodium_free(out);
	gem_keys_close(k);
}

Test(errors, missing_roots)
{
	struct gem_keys *k = open_ok();
	uint8_t *key = sec(32), g[16], w[24], pk[32], sig[64];

	cr_assert_eq(gem_keys_group_parse("239.1.1.1", g), 0);
	cr_assert_eq(gem_keys_ipsec_psk(k, id_a, id_b, 0, key), -ENOENT);
	assert_msg("no Bootstrap Key");
	assert_msg("gemctl keys import bk FILE");
	cr_assert_eq(gem_keys_dp_key(k, g, 0, 1, key, 32), -ENOENT);
	assert_msg("no GAK for group 239.1.1.1");
	assert_msg("gemctl keys import gak 239.1.1.1 FILE");
	cr_assert_eq(gem_keys_sek_wrap(k, g, 0, key, 16, w), -ENOENT);
	cr_assert_eq(gem_keys_node_pubkey(k, pk), -ENOENT);
	assert_msg("gemctl keys init");
	cr_assert_eq(gem_keys_node_sign(k, "x", 1, sig), -ENOENT);
	sodium_free(key);
	gem_keys_close(k);
}

Test(errors, import_once_and_whole)
{
	struct gem_keys *k = open_ok();
	uint8_t key[32], g[16];
	struct gem_keys_obj *v = NULL;
	char f[300];
	size_t n;

	seq(key, 32, 1);
	cr_assert_eq(gem_keys_group_parse("239.2.2.2", g), 0);
	/* bad files create nothing */
	snprintf(f, sizeof(f), "%s/short", dir);
	write_file(f, key, 31, 0600);
	cr_assert_eq(gem_keys_import_file(k, GEM_KEYS_BK, NULL, 0, f), -EINVAL);
	assert_msg("31 bytes, expected exactly 32");
	snprintf(f, sizeof(f), "%s/long", dir);
	write_file(f, "0123456789abcdef0123456789abcdef\n", 33, 0600);
	cr_assert_eq(gem_keys_import_file(k, GEM_KEYS_GAK, g, 0, f), -EINVAL);
	assert_msg("more than 32 bytes");
	snprintf(f, sizeof(f), "%s/zero", dir);
	write_file(f, (uint8_t[32]){ 0 }, 32, 0600);
	cr_assert_eq(gem_keys_import_file(k, GEM_KEYS_GAK, g, 0, f), -EINVAL);
	snprintf(f, sizeof(f), "%s/none", dir);
	cr_assert_eq(gem_keys_import_file(k, GEM_KEYS_BK, NULL, 0, f), -ENOENT);
	cr_assert_eq(gem_keys_import_file(k, GEM_KEYS_BK, NULL, 0, dir), -EINVAL);
	cr_assert_eq(gem_keys_list(k, &v, &n), 0);
	free(v);
	cr_assert_eq(n, 0, "a failed import left %zu objects", n);

	/* good file once; twice is refused and leaves one object */
	snprintf(f, sizeof(f), "%s/good", dir);
	write_file(f, key, 32, 0600);
	cr_assert_eq(gem_keys_import_file(k, GEM_KEYS_GAK, g, 0, f), 0, "%s", gem_keys_errmsg());
	cr_assert_eq(gem_keys_import_file(k, GEM_KEYS_GAK, g, 0, f), -EEXIST);
	assert_msg("'gem-gak-239.2.2.2' already exists");
	cr_assert_eq(gem_keys_list(k, &v, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(v[0].label, "gem-gak-239.2.2.2");
	cr_assert_eq(v[0].id_len, 16);
	assert_bytes(v[0].id, g, 16, "GAK CKA_ID");
	free(v);
	gem_keys_close(k);
}

/* ---- files and names ----------------------------------------------------- */

Test(files, gen_secret)
{
	uint8_t a[33], b[33];
	char f[300], sub[260];
	struct stat st;
	ssize_t n;
	int fd;
	DIR *d;
	struct dirent *e;
	int entries = 0;

	umask(0);	/* the file must be 0600 whatever the umask */
	snprintf(sub, sizeof(sub), "%s/out", dir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	snprintf(f, sizeof(f), "%s/bk", sub);
	cr_assert_eq(gem_keys_gen_secret_file(f), 0, "%s", gem_keys_errmsg());
	cr_assert_eq(stat(f, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
	cr_assert_eq(st.st_size, 32);
	fd = open(f, O_RDONLY);
	n = read(fd, a, sizeof(a));
	close(fd);
	cr_assert_eq(n, 32);
	cr_assert(!sodium_is_zero(a, 32));

	/* refuses to overwrite; the file is unchanged */
	cr_assert_eq(gem_keys_gen_secret_file(f), -EEXIST);
	assert_msg("not overwriting");
	fd = open(f, O_RDONLY);
	n = read(fd, b, sizeof(b));
	close(fd);
	cr_assert_eq(n, 32);
	assert_bytes(a, b, 32, "file after refused overwrite");
	/* also through a dangling symlink */
	snprintf(f, sizeof(f), "%s/link", sub);
	cr_assert_eq(symlink("/nonexistent/target", f), 0);
	cr_assert_eq(gem_keys_gen_secret_file(f), -EEXIST);

	/* no temporary files left over */
	d = opendir(sub);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' || strncmp(e->d_name, ".gem-secret-", 12) == 0)
			entries++;
	closedir(d);
	cr_assert_eq(entries, 2, "directory holds %d entries", entries);

	/* a missing directory: an error, no file */
	snprintf(f, sizeof(f), "%s/nodir/bk", dir);
	cr_assert_lt(gem_keys_gen_secret_file(f), 0);
	cr_assert_neq(access(f, F_OK), 0);

	/* the secret imports */
	snprintf(f, sizeof(f), "%s/bk", sub);
	cr_assert_eq(gem_keys_read_secret_file(f, b), 0, "%s", gem_keys_errmsg());
	assert_bytes(a, b, 32, "read back");
}

/* docs/KEYS.md 2.3: each epoch of a group has its own GAK; a key of epoch e
 * is derived from GAK e alone (checked with OpenSSL's HMAC), epochs are
 * listed in order, and a retired epoch derives nothing any more. */
Test(kat, gak_epochs)
{
	struct gem_keys *k = open_ok();
	uint8_t g[16], g2[16], gak0[32], gak5[32], lab[64], want[32], *got = sec(32);
	uint32_t ep[4], e;
	size_t n;

	seq(gak0, 32, 0x60);
	seq(gak5, 32, 0x80);
	cr_assert_eq(gem_keys_group_parse("239.9.9.9", g), 0);
	cr_assert_eq(gem_keys_import(k, GEM_KEYS_GAK, g, 5, gak5), 0, "%s", gem_keys_errmsg());
	cr_assert_eq(gem_keys_import(k, GEM_KEYS_GAK, g, 0, gak0), 0, "%s", gem_keys_errmsg());
	cr_assert_eq(gem_keys_import(k, GEM_KEYS_GAK, g, 5, gak0), -EEXIST);
	cr_assert_eq(gem_keys_import(k, GEM_KEYS_BK, NULL, 5, gak0), -EINVAL);
	cr_assert_eq(gem_keys_gak_epochs(k, g, ep, 4), 2);
	cr_assert(ep[0] == 0 && ep[1] == 5, "epochs %u %u", ep[0], ep[1]);
	for (uint32_t i = 0; i < 2; i++) {
		uint32_t epoch = i ? 5 : 0;

		n = group_label(lab, "ctl-hmac", g, epoch);
		ossl_hmac(i ? gak5 : gak0, lab, n, want);
		cr_assert_eq(gem_keys_ctl_key(k, g, epoch, got), 0, "%s", gem_keys_errmsg());
		assert_bytes(got, want, 32, "ctl-hmac of the epoch's own GAK");
	}
	/* no GAK of epoch 4: nothing derived, and the hint names the epoch */
	cr_assert_eq(gem_keys_ctl_key(k, g, 4, got), -ENOENT);
	assert_msg("gemctl keys import gak 239.9.9.9 FILE --epoch 4");
	cr_assert_eq(gem_keys_gak_retire(k, g, 0), 0, "%s", gem_keys_errmsg());
	cr_assert_eq(gem_keys_gak_epochs(k, g, ep, 4), 1);
	cr_assert_eq(ep[0], 5);
	cr_assert_eq(gem_keys_ctl_key(k, g, 0, got), -ENOENT);
	cr_assert_eq(gem_keys_gak_retire(k, g, 0), -ENOENT);
	/* labels: the one spelling gem_keys_gak_label makes, and back */
	cr_assert_eq(gem_keys_gak_label_parse("gem-gak-239.9.9.9#5", g2, &e), 0);
	cr_assert(!memcmp(g, g2, 16) && e == 5);
	cr_assert_eq(gem_keys_gak_label_parse("gem-gak-239.9.9.9", g2, &e), 0);
	cr_assert_eq(e, 0);
	static const char *const bad[] = {
		"gem-gak-239.9.9.9#0", "gem-gak-239.9.9.9#05", "gem-gak-239.9.9.9#", "gem-gak-239.9.9.9#x",
		"gem-gak-239.9.9.9#4294967296", "gem-gak-::ffff:239.9.9.9", "gem-gak-FF3E::1",
		"gem-gak-10.0.0.1x", "gem-bk", "gem-gak-",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(gem_keys_gak_label_parse(bad[i], g2, &e), -EINVAL, "'%s'", bad[i]);
	sodium_free(got);
	gem_keys_close(k);
}

Test(files, group_names)
{
	static const struct {
		const char *in, *label;
	} ok[] = {
		{ "239.1.1.1", "gem-gak-239.1.1.1" },
		{ "224.0.0.251", "gem-gak-224.0.0.251" },
		{ "::ffff:239.1.1.1", "gem-gak-239.1.1.1" },
		{ "FF3E:0:0::1:1", "gem-gak-ff3e::1:1" },
		{ "ff02::fb", "gem-gak-ff02::fb" },
	};
	static const char *const bad[] = {
		"10.0.0.1", "240.0.0.1", "fe80::1", "2001:db8::1", "239.1.1", "", "group",
	};
	char label[GEM_KEYS_LABEL_MAX + 1];
	uint8_t g[16], want[16];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_eq(gem_keys_group_parse(ok[i].in, g), 0, "%s", ok[i].in);
		gem_keys_gak_label(g, 0, label);
		cr_assert_str_eq(label, ok[i].label);
	}
	cr_assert_eq(gem_keys_group_parse("239.1.1.1", g), 0);
	unhex("00000000000000000000ffffef010101", want, 16);
	assert_bytes(g, want, 16, "IPv4-mapped form");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(gem_keys_group_parse(bad[i], g), -EINVAL, "'%s' accepted", bad[i]);
}
