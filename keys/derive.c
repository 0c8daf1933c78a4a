// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Derived keys: K = HMAC-SHA-256(root, label), computed by C_Sign inside the
 * token, so the roots never leave it.  The label is
 *
 *     "GEM v1 " || purpose || 0x00 || context
 *
 * (ASCII, no terminating NUL after the context).  "v1" versions the whole
 * scheme; the epoch in every context lets each key rotate on its own.
 * docs/KEYS.md section 3 specifies each context byte for byte, with test
 * vectors that selftests/test_keys.c checks against OpenSSL.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "keys_internal.h"
#include "gem_be.h"

#define LABEL_PREFIX	"GEM v1 "
#define LABEL_MAX	64

/* "GEM v1 " purpose 0x00; returns the length written. */
static size_t label_start(uint8_t *buf, const char *purpose)
{
	size_t n = strlen(LABEL_PREFIX), p = strlen(purpose);

	memcpy(buf, LABEL_PREFIX, n);
	memcpy(buf + n, purpose, p);
	buf[n + p] = 0x00;
	return n + p + 1;
}

int gk_hmac(struct gem_keys *k, const char *label, const char *what,
	    const char *hint, const void *msg, size_t len, uint8_t out[32])
{
	CK_MECHANISM mech = { CKM_SHA256_HMAC, NULL, 0 };
	CK_ULONG outlen = 32;
	CK_OBJECT_HANDLE h;
	CK_RV rv;
	int err;

	err = gem_keys_find(k, CKO_SECRET_KEY, label, &h);
	if (err == -ENOENT) {
		err = gk_fail(-ENOENT, CKR_OK, "no %s in token '%s' (run: %s)", what,
			      k->token, hint);
		goto out;
	}
	if (err)
		goto out;
	rv = k->f->C_SignInit(k->s, &mech, h);
	if (rv == CKR_OK)
		rv = k->f->C_Sign(k->s, (CK_BYTE *)msg, len, out, &outlen);
	if (rv == CKR_OK && outlen != 32)
		rv = CKR_GENERAL_ERROR;
	if (rv != CKR_OK) {
		sodium_memzero(out, 32);
		err = gk_fail(gk_errno(rv), rv, "token '%s': HMAC with '%s' failed (%s)",
			      k->token, label, gem_keys_ckr_name(rv));
		goto out;
	}
	err = 0;
out:
	return err;
}

int gem_keys_ipsec_psk(struct gem_keys *k, const uint8_t a[GEM_KEYS_NODE_ID_LEN],
		       const uint8_t b[GEM_KEYS_NODE_ID_LEN], uint32_t epoch,
		       uint8_t psk[GEM_KEYS_PSK_LEN])
{
	const uint8_t *lo = a, *hi = b;
	uint8_t label[LABEL_MAX];
	size_t n;
	int c;

	/* Sorted ids: both neighbours derive the same PSK. */
	c = memcmp(a, b, GEM_KEYS_NODE_ID_LEN);
	if (c == 0)
		return gk_fail(-EINVAL, CKR_OK, "IPsec PSK: both node ids are the same");
	if (c > 0) {
		lo = b;
		hi = a;
	}
	n = label_start(label, GK_P_IPSEC_PSK);
	memcpy(label + n, lo, GEM_KEYS_NODE_ID_LEN);
	n += GEM_KEYS_NODE_ID_LEN;
	memcpy(label + n, hi, GEM_KEYS_NODE_ID_LEN);
	n += GEM_KEYS_NODE_ID_LEN;
	gem_put_be32(label + n, epoch);
	n += 4;
	return gk_hmac(k, GEM_KEYS_LABEL_BK, "Bootstrap Key ('" GEM_KEYS_LABEL_BK "')",
		       "gemctl keys import bk FILE", label, n, psk);
}

/* "GEM v1 " purpose 0x00 group epoch: the label of every GAK derivation. */
static size_t group_label(uint8_t *label, const char *purpose,
			  const uint8_t grp[GEM_KEYS_GROUP_LEN], uint32_t epoch)
{
	size_t n = label_start(label, purpose);

	memcpy(label + n, grp, GEM_KEYS_GROUP_LEN);
	n += GEM_KEYS_GROUP_LEN;
	gem_put_be32(label + n, epoch);
	n += 4;
	return n;
}

int gk_derive_group(struct gem_keys *k, const char *purpose,
		    const uint8_t grp[GEM_KEYS_GROUP_LEN], uint32_t epoch,
		    uint8_t out[32])
{
	char gak[GEM_KEYS_LABEL_MAX + 1], g[GEM_KEYS_GROUP_STRLEN];
	char what[GEM_KEYS_LABEL_MAX + GEM_KEYS_GROUP_STRLEN + 48];
	char hint[GEM_KEYS_GROUP_STRLEN + 64];
	uint8_t label[LABEL_MAX];
	size_t n;

	n = group_label(label, purpose, grp, epoch);
	gem_keys_gak_label(grp, epoch, gak);	/* the GAK of that epoch */
	gem_keys_group_str(grp, g);
	snprintf(what, sizeof(what), "GAK for group %s epoch %u ('%s')", g, epoch, gak);
	if (epoch)
		snprintf(hint, sizeof(hint), "gemctl keys import gak %s FILE --epoch %u", g, epoch);
	else
		snprintf(hint, sizeof(hint), "gemctl keys import gak %s FILE", g);
	return gk_hmac(k, gak, what, hint, label, n, out);
}

int gem_keys_ctl_key(struct gem_keys *k, const uint8_t grp[GEM_KEYS_GROUP_LEN],
		     uint32_t epoch, uint8_t key[GEM_KEYS_CTL_KEY_LEN])
{
	return gk_derive_group(k, GK_P_CTL_HMAC, grp, epoch, key);
}

size_t gem_keys_dp_key_len(unsigned int suite)
{
	switch (suite) {
	case 1: return 32;	/* HMAC-SHA-256 */
	case 2: return 16;	/* AES-128-CMAC */
	default: return 0;
	}
}

int gem_keys_dp_key(struct gem_keys *k, const uint8_t grp[GEM_KEYS_GROUP_LEN],
		    uint32_t epoch, unsigned int suite, uint8_t *key, size_t len)
{
	uint8_t *tmp = NULL;
	int err;

	if (!gem_keys_dp_key_len(suite) || len != gem_keys_dp_key_len(suite)) {
		err = gk_fail(-EINVAL, CKR_OK,
			      "data-plane key: suite %u needs %zu bytes, got %zu (suites: 1, 2)",
			      suite, gem_keys_dp_key_len(suite), len);
		goto out;
	}
	if (suite == 1) {
		err = gk_derive_group(k, GK_P_DP_HMAC, grp, epoch, key);
		goto out;
	}
	tmp = gk_secalloc(32);
	if (!tmp) {
		err = gk_fail(-ENOMEM, CKR_OK, "cannot allocate locked memory");
		goto out;
	}
	/* Suite 2: the first 16 bytes of the HMAC output. */
	err = gk_derive_group(k, GK_P_DP_CMAC, grp, epoch, tmp);
	if (err)
		goto out;
	memcpy(key, tmp, 16);
out:
	gk_secfree(tmp);
	return err;
}

/* The same derivation as gem_keys_dp_key, in software, for static keying
 * (`gemctl group add --key-file GAK`) where no token holds the GAK. */
int gem_keys_dp_key_from_gak(const uint8_t gak[GEM_KEYS_ROOT_LEN],
			     const uint8_t grp[GEM_KEYS_GROUP_LEN], uint32_t epoch,
			     unsigned int suite, uint8_t *key, size_t len)
{
	uint8_t label[LABEL_MAX], *tmp;
	size_t n;

	if (!gem_keys_dp_key_len(suite) || len != gem_keys_dp_key_len(suite))
		return gk_fail(-EINVAL, CKR_OK,
			       "data-plane key: suite %u needs %zu bytes, got %zu (suites: 1, 2)",
			       suite, gem_keys_dp_key_len(suite), len);
	tmp = gk_secalloc(32);
	if (!tmp)
		return gk_fail(-ENOMEM, CKR_OK, "cannot allocate locked memory");
	n = group_label(label, suite == 1 ? GK_P_DP_HMAC : GK_P_DP_CMAC, grp, epoch);
	crypto_auth_hmacsha256(tmp, label, n, gak);
	memcpy(key, tmp, len);
	gk_secfree(tmp);
	return 0;
}
