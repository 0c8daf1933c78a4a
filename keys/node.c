// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Node identity: an Ed25519 key pair generated in the token ("gem-node").
 * The private key is sensitive, non-extractable, sign-only and can be neither
 * modified nor copied; the public key goes into the Public Key TLV.  The
 * 8-byte node id is a hash of the public key, so it needs no configuration
 * and cannot be claimed without the key.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "keys_internal.h"

/* DER OBJECT IDENTIFIER 1.3.101.112 (id-Ed25519, RFC 8410) */
static const uint8_t ed25519_oid[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };

#define NODE_ID_LABEL "GEM v1 node-id"	/* + 0x00 + public key */

static const char init_hint[] = "gemctl keys init";

int gem_keys_node_init(struct gem_keys *k)
{
	CK_MECHANISM mech = { CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0 };
	CK_OBJECT_HANDLE pub, priv;
	CK_ATTRIBUTE pub_tmpl[] = {
		{ CKA_TOKEN, &gk_true, 1 },
		{ CKA_PRIVATE, &gk_false, 1 },
		{ CKA_MODIFIABLE, &gk_false, 1 },
		{ CKA_VERIFY, &gk_true, 1 },
		{ CKA_ENCRYPT, &gk_false, 1 },
		{ CKA_WRAP, &gk_false, 1 },
		{ CKA_DERIVE, &gk_false, 1 },
		{ CKA_EC_PARAMS, (void *)ed25519_oid, sizeof(ed25519_oid) },
		{ CKA_LABEL, GEM_KEYS_LABEL_NODE, strlen(GEM_KEYS_LABEL_NODE) },
	};
	CK_ATTRIBUTE priv_tmpl[] = {
		{ CKA_TOKEN, &gk_true, 1 },
		{ CKA_PRIVATE, &gk_true, 1 },
		{ CKA_SENSITIVE, &gk_true, 1 },
		{ CKA_EXTRACTABLE, &gk_false, 1 },
		{ CKA_MODIFIABLE, &gk_false, 1 },
		{ CKA_COPYABLE, &gk_false, 1 },
		{ CKA_SIGN, &gk_true, 1 },
		{ CKA_DECRYPT, &gk_false, 1 },
		{ CKA_UNWRAP, &gk_false, 1 },
		{ CKA_DERIVE, &gk_false, 1 },
		{ CKA_LABEL, GEM_KEYS_LABEL_NODE, strlen(GEM_KEYS_LABEL_NODE) },
	};
	CK_RV rv;
	int err;

	err = gem_keys_find(k, CKO_PRIVATE_KEY, GEM_KEYS_LABEL_NODE, &priv);
	if (err == 0 || err == -ENOTUNIQ) {
		err = gk_fail(-EEXIST, CKR_OK,
			      "token '%s' already has a node key '%s' (gemctl keys pubkey shows it)",
			      k->token, GEM_KEYS_LABEL_NODE);
		goto out;
	}
	if (err != -ENOENT)
		goto out;
	/* A public half without its private half cannot sign: drop it. */
	for (;;) {
		err = gem_keys_find(k, CKO_PUBLIC_KEY, GEM_KEYS_LABEL_NODE, &pub);
		if (err == -ENOENT)
			break;
		if (err == -ENOTUNIQ)
			err = gk_fail(-ENOTUNIQ, CKR_OK,
				      "token '%s': several public keys '%s' without a private "
				      "key: remove them", k->token, GEM_KEYS_LABEL_NODE);
		if (err)
			goto out;
		rv = k->f->C_DestroyObject(k->s, pub);
		if (rv != CKR_OK) {
			err = gk_fail(gk_errno(rv), rv,
				      "token '%s': cannot remove a stale public key '%s' (%s)",
				      k->token, GEM_KEYS_LABEL_NODE, gem_keys_ckr_name(rv));
			goto out;
		}
	}
	rv = k->f->C_GenerateKeyPair(k->s, &mech,
				     pub_tmpl, sizeof(pub_tmpl) / sizeof(pub_tmpl[0]),
				     priv_tmpl, sizeof(priv_tmpl) / sizeof(priv_tmpl[0]),
				     &pub, &priv);
	if (rv != CKR_OK) {
		err = gk_fail(gk_errno(rv), rv,
			      "token '%s': cannot generate the Ed25519 node key (%s)",
			      k->token, gem_keys_ckr_name(rv));
		goto out;
	}
	err = 0;
out:
	return err;
}

int gem_keys_node_pubkey(struct gem_keys *k, uint8_t pk[GEM_KEYS_PUBKEY_LEN])
{
	CK_ATTRIBUTE a = { CKA_EC_POINT, NULL, 0 };
	uint8_t point[64];
	CK_OBJECT_HANDLE h;
	CK_RV rv;
	int err;

	err = gem_keys_find(k, CKO_PUBLIC_KEY, GEM_KEYS_LABEL_NODE, &h);
	if (err == -ENOENT) {
		err = gk_fail(-ENOENT, CKR_OK, "no node key in token '%s' (run: %s)",
			      k->token, init_hint);
		goto out;
	}
	if (err)
		goto out;
	a.pValue = point;
	a.ulValueLen = sizeof(point);
	rv = k->f->C_GetAttributeValue(k->s, h, &a, 1);
	if (rv != CKR_OK) {
		err = gk_fail(gk_errno(rv), rv, "token '%s': cannot read '%s' public key (%s)",
			      k->token, GEM_KEYS_LABEL_NODE, gem_keys_ckr_name(rv));
		goto out;
	}
	/* CKA_EC_POINT is DER OCTET STRING (04 20 || key); accept raw too. */
	if (a.ulValueLen == 34 && point[0] == 0x04 && point[1] == 0x20) {
		memcpy(pk, point + 2, 32);
	} else if (a.ulValueLen == 32) {
		memcpy(pk, point, 32);
	} else {
		err = gk_fail(-EPROTO, CKR_OK,
			      "token '%s': '%s' public key has an unexpected form (%lu bytes)",
			      k->token, GEM_KEYS_LABEL_NODE, (unsigned long)a.ulValueLen);
		goto out;
	}
	err = 0;
out:
	return err;
}

void gem_keys_node_id_of(const uint8_t pk[GEM_KEYS_PUBKEY_LEN],
			 uint8_t id[GEM_KEYS_NODE_ID_LEN])
{
	crypto_hash_sha256_state st;
	uint8_t h[32];

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)NODE_ID_LABEL,
				  sizeof(NODE_ID_LABEL));	/* with its NUL */
	crypto_hash_sha256_update(&st, pk, GEM_KEYS_PUBKEY_LEN);
	crypto_hash_sha256_final(&st, h);
	memcpy(id, h, GEM_KEYS_NODE_ID_LEN);
}

int gem_keys_node_id(struct gem_keys *k, uint8_t id[GEM_KEYS_NODE_ID_LEN])
{
	uint8_t pk[GEM_KEYS_PUBKEY_LEN];
	int err;

	err = gem_keys_node_pubkey(k, pk);
	if (err)
		return err;
	gem_keys_node_id_of(pk, id);
	return 0;
}

int gem_keys_node_sign(struct gem_keys *k, const void *msg, size_t len,
		       uint8_t sig[GEM_KEYS_SIG_LEN])
{
	CK_MECHANISM mech = { CKM_EDDSA, NULL, 0 };	/* pure Ed25519 */
	CK_ULONG slen = GEM_KEYS_SIG_LEN;
	CK_OBJECT_HANDLE h;
	CK_RV rv;
	int err;

	err = gem_keys_find(k, CKO_PRIVATE_KEY, GEM_KEYS_LABEL_NODE, &h);
	if (err == -ENOENT) {
		err = gk_fail(-ENOENT, CKR_OK, "no node key in token '%s' (run: %s)",
			      k->token, init_hint);
		goto out;
	}
	if (err)
		goto out;
	rv = k->f->C_SignInit(k->s, &mech, h);
	if (rv == CKR_OK)
		rv = k->f->C_Sign(k->s, (CK_BYTE *)msg, len, sig, &slen);
	if (rv == CKR_OK && slen != GEM_KEYS_SIG_LEN)
		rv = CKR_GENERAL_ERROR;
	if (rv != CKR_OK) {
		err = gk_fail(gk_errno(rv), rv, "token '%s': Ed25519 signature failed (%s)",
			      k->token, gem_keys_ckr_name(rv));
		goto out;
	}
	err = 0;
out:
	return err;
}
