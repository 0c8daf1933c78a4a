// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Stream Encryption Keys: 16 (suites 1-3) or 32 (suite 4) random bytes from
 * the token, distributed wrapped with AES-256 key wrap with padding (RFC 5649,
 * CKM_AES_KEY_WRAP_PAD) under the group's SEK-wrapping key: 24 or 40 bytes.
 *
 * The wrapping key is HMAC-SHA-256(GAK, "GEM v1 sek-wrap" ...) computed in the
 * token; its 32 bytes pass through locked memory only long enough to become a
 * session object (CKA_TOKEN false: it vanishes with the session, and is
 * destroyed right after use anyway) that can wrap and unwrap, nothing else.
 * The SEK itself goes in as a session AES object only for C_WrapKey and comes
 * out of C_UnwrapKey into the caller's buffer; both objects are destroyed
 * before returning.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "keys_internal.h"

static int wrap_key(struct gem_keys *k, const uint8_t grp[GEM_KEYS_GROUP_LEN],
		    uint32_t epoch, CK_OBJECT_HANDLE *h)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	uint8_t *bytes = NULL;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &gk_false, 1 },
		{ CKA_PRIVATE, &gk_true, 1 },
		{ CKA_SENSITIVE, &gk_true, 1 },
		{ CKA_EXTRACTABLE, &gk_false, 1 },
		{ CKA_WRAP, &gk_true, 1 },
		{ CKA_UNWRAP, &gk_true, 1 },
		{ CKA_ENCRYPT, &gk_false, 1 },
		{ CKA_DECRYPT, &gk_false, 1 },
		{ CKA_SIGN, &gk_false, 1 },
		{ CKA_VERIFY, &gk_false, 1 },
		{ CKA_DERIVE, &gk_false, 1 },
		{ CKA_VALUE, NULL, 32 },
	};
	CK_RV rv;
	int err;

	bytes = gk_secalloc(32);
	if (!bytes) {
		err = gk_fail(-ENOMEM, CKR_OK, "cannot allocate locked memory");
		goto out;
	}
	err = gk_derive_group(k, GK_P_SEK_WRAP, grp, epoch, bytes);
	if (err)
		goto out;
	tmpl[13].pValue = bytes;
	rv = k->f->C_CreateObject(k->s, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), h);
	if (rv != CKR_OK) {
		err = gk_fail(gk_errno(rv), rv,
			      "token '%s': cannot create the SEK-wrapping key (%s)",
			      k->token, gem_keys_ckr_name(rv));
		goto out;
	}
	err = 0;
out:
	gk_secfree(bytes);
	return err;
}

static bool sek_len_ok(size_t len)
{
	return len == GEM_KEYS_SEK_LEN || len == GEM_KEYS_SEK_LEN_CHACHA;
}

/* Token key type of a SEK's transient object: AES-128 for suites 1-3, a
 * generic secret for suite 4's ChaCha20 key. */
static CK_KEY_TYPE sek_key_type(size_t len)
{
	return len == GEM_KEYS_SEK_LEN ? CKK_AES : CKK_GENERIC_SECRET;
}

int gem_keys_sek_generate(struct gem_keys *k, uint8_t *sek, size_t len)
{
	CK_RV rv;

	if (!sek_len_ok(len))
		return gk_fail(-EINVAL, CKR_OK, "a SEK is %d or %d bytes, not %zu",
			       GEM_KEYS_SEK_LEN, GEM_KEYS_SEK_LEN_CHACHA, len);
	rv = k->f->C_GenerateRandom(k->s, sek, (CK_ULONG)len);
	if (rv != CKR_OK)
		return gk_fail(gk_errno(rv), rv, "token '%s': C_GenerateRandom failed (%s)",
			       k->token, gem_keys_ckr_name(rv));
	return 0;
}

int gem_keys_sek_wrap(struct gem_keys *k, const uint8_t grp[GEM_KEYS_GROUP_LEN],
		      uint32_t epoch, const uint8_t *sek, size_t sek_len, uint8_t *wrapped)
{
	CK_MECHANISM mech = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_OBJECT_HANDLE wk = CK_INVALID_HANDLE, sh = CK_INVALID_HANDLE;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = sek_key_type(sek_len);
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &gk_false, 1 },
		{ CKA_PRIVATE, &gk_true, 1 },
		{ CKA_SENSITIVE, &gk_true, 1 },
		{ CKA_EXTRACTABLE, &gk_true, 1 },	/* wrappable, not readable */
		{ CKA_ENCRYPT, &gk_false, 1 },
		{ CKA_DECRYPT, &gk_false, 1 },
		{ CKA_WRAP, &gk_false, 1 },
		{ CKA_UNWRAP, &gk_false, 1 },
		{ CKA_VALUE, (void *)sek, (CK_ULONG)sek_len },
	};
	CK_ULONG len = GEM_KEYS_SEK_WRAPPED_OF(sek_len);
	CK_RV rv;
	int err;

	if (!sek_len_ok(sek_len))
		return gk_fail(-EINVAL, CKR_OK, "a SEK is %d or %d bytes, not %zu",
			       GEM_KEYS_SEK_LEN, GEM_KEYS_SEK_LEN_CHACHA, sek_len);
	err = wrap_key(k, grp, epoch, &wk);
	if (err)
		goto out;
	rv = k->f->C_CreateObject(k->s, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &sh);
	if (rv != CKR_OK) {
		err = gk_fail(gk_errno(rv), rv, "token '%s': cannot load the SEK (%s)",
			      k->token, gem_keys_ckr_name(rv));
		goto out;
	}
	rv = k->f->C_WrapKey(k->s, &mech, wk, sh, wrapped, &len);
	if (rv == CKR_OK && len != GEM_KEYS_SEK_WRAPPED_OF(sek_len))
		rv = CKR_GENERAL_ERROR;
	if (rv != CKR_OK) {
		err = gk_fail(gk_errno(rv), rv, "token '%s': cannot wrap the SEK (%s)",
			      k->token, gem_keys_ckr_name(rv));
		goto out;
	}
	err = 0;
out:
	if (sh != CK_INVALID_HANDLE)
		k->f->C_DestroyObject(k->s, sh);
	if (wk != CK_INVALID_HANDLE)
		k->f->C_DestroyObject(k->s, wk);
	return err;
}

/* C_UnwrapKey's answers to a blob that fails RFC 5649's integrity check.
 * SoftHSM 2.6.1 says CKR_GENERAL_ERROR, the standard CKR_WRAPPED_KEY_INVALID;
 * a check that passes on a key of the wrong length gets the others. */
static bool bad_blob(CK_RV rv)
{
	switch (rv) {
	case CKR_GENERAL_ERROR:
	case CKR_FUNCTION_FAILED:
	case CKR_WRAPPED_KEY_INVALID:
	case CKR_WRAPPED_KEY_LEN_RANGE:
	case CKR_ENCRYPTED_DATA_INVALID:
	case CKR_ENCRYPTED_DATA_LEN_RANGE:
	case CKR_ATTRIBUTE_VALUE_INVALID:
	case CKR_KEY_SIZE_RANGE:
		return true;
	default:
		return false;
	}
}

int gem_keys_sek_unwrap(struct gem_keys *k, const uint8_t grp[GEM_KEYS_GROUP_LEN],
			uint32_t epoch, const uint8_t *wrapped, uint8_t *sek, size_t sek_len)
{
	CK_MECHANISM mech = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_OBJECT_HANDLE wk = CK_INVALID_HANDLE, sh = CK_INVALID_HANDLE;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = sek_key_type(sek_len);
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &gk_false, 1 },
		{ CKA_PRIVATE, &gk_true, 1 },
		{ CKA_SENSITIVE, &gk_false, 1 },	/* read once, then destroyed */
		{ CKA_EXTRACTABLE, &gk_true, 1 },
		{ CKA_ENCRYPT, &gk_false, 1 },
		{ CKA_DECRYPT, &gk_false, 1 },
		{ CKA_WRAP, &gk_false, 1 },
		{ CKA_UNWRAP, &gk_false, 1 },
	};
	CK_ATTRIBUTE val = { CKA_VALUE, NULL, 0 };
	char g[GEM_KEYS_GROUP_STRLEN];
	CK_RV rv;
	int err;

	if (!sek_len_ok(sek_len))
		return gk_fail(-EINVAL, CKR_OK, "a SEK is %d or %d bytes, not %zu",
			       GEM_KEYS_SEK_LEN, GEM_KEYS_SEK_LEN_CHACHA, sek_len);
	gem_keys_group_str(grp, g);
	err = wrap_key(k, grp, epoch, &wk);
	if (err)
		goto out;
	rv = k->f->C_UnwrapKey(k->s, &mech, wk, (CK_BYTE *)wrapped,
			       GEM_KEYS_SEK_WRAPPED_OF(sek_len), tmpl,
			       sizeof(tmpl) / sizeof(tmpl[0]), &sh);
	if (rv == CKR_OK) {
		rv = k->f->C_GetAttributeValue(k->s, sh, &val, 1);
		if (rv == CKR_OK && val.ulValueLen != sek_len)
			rv = CKR_WRAPPED_KEY_LEN_RANGE;
	}
	if (rv != CKR_OK) {
		if (bad_blob(rv))
			err = gk_fail(-EBADMSG, rv,
				      "wrapped SEK for group %s epoch %u failed the integrity "
				      "check (%s): tampered, or wrapped for another group or epoch",
				      g, epoch, gem_keys_ckr_name(rv));
		else
			err = gk_fail(gk_errno(rv), rv, "token '%s': cannot unwrap a SEK (%s)",
				      k->token, gem_keys_ckr_name(rv));
		goto out;
	}
	val.pValue = sek;
	rv = k->f->C_GetAttributeValue(k->s, sh, &val, 1);
	if (rv != CKR_OK) {
		sodium_memzero(sek, sek_len);
		err = gk_fail(gk_errno(rv), rv, "token '%s': cannot read the unwrapped SEK (%s)",
			      k->token, gem_keys_ckr_name(rv));
		goto out;
	}
	err = 0;
out:
	if (sh != CK_INVALID_HANDLE)
		k->f->C_DestroyObject(k->s, sh);
	if (wk != CK_INVALID_HANDLE)
		k->f->C_DestroyObject(k->s, wk);
	return err;
}
