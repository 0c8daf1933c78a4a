/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * GEM's key hierarchy, rooted in a PKCS#11 token (SoftHSMv2 by default).
 *
 * Roots live in the token, sensitive and non-extractable: the node's Ed25519
 * identity, the domain's Bootstrap Key (BK) and one Group Authorization Key
 * (GAK) per group.  Every other key is HMAC-SHA-256(root, label) computed by
 * C_Sign inside the token; docs/KEYS.md specifies each label byte for byte.
 *
 * Error reporting: functions return 0 or -errno.  On failure a one-line
 * message (no "gemctl:" prefix, never a secret) and the PKCS#11 return code
 * that caused it, if any, are kept per thread: gem_keys_errmsg(),
 * gem_keys_errckr().
 *
 * Ownership: a struct gem_keys holds one logged-in session and an exclusive
 * lock on the token (flock on <lock dir>/hsm-<token label>.lock), so one
 * process owns a token at a time; a second gem_keys_open() of the same token,
 * in any process, fails with -EBUSY after cfg->lock_wait_ms.  A handle is
 * used by one thread at a time.
 *
 * Key bytes that must leave the token (derived keys, SEKs) are written to
 * caller-provided memory, which the caller mlocks (e.g. sodium_malloc()) and
 * wipes (sodium_memzero / sodium_free) as soon as the bytes have been handed
 * on.  Temporaries inside this library are mlocked and wiped.
 */
#ifndef GEM_KEYS_H
#define GEM_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

#define GEM_KEYS_DEFAULT_MODULE	"/usr/lib/softhsm/libsofthsm2.so"
#define GEM_KEYS_DEFAULT_TOKEN	"gem"
#define GEM_KEYS_DEFAULT_LOCK_DIR "/run/gem"

/* Environment variables read when the matching cfg field is NULL. */
#define GEM_KEYS_ENV_MODULE	"GEM_PKCS11_MODULE"
#define GEM_KEYS_ENV_TOKEN	"GEM_TOKEN"
#define GEM_KEYS_ENV_PIN_FILE	"GEM_PIN_FILE"
#define GEM_KEYS_ENV_PIN	"GEM_PIN"
#define GEM_KEYS_ENV_LOCK_DIR	"GEM_LOCK_DIR"

/* Token object labels (docs/KEYS.md section 2). */
#define GEM_KEYS_LABEL_NODE	"gem-node"
#define GEM_KEYS_LABEL_BK	"gem-bk"
#define GEM_KEYS_LABEL_GAK_PFX	"gem-gak-"	/* + canonical group text */
#define GEM_KEYS_LABEL_MAX	64

#define GEM_KEYS_ROOT_LEN	32	/* BK and GAK: bytes */
#define GEM_KEYS_NODE_ID_LEN	8
#define GEM_KEYS_PUBKEY_LEN	32	/* Ed25519 */
#define GEM_KEYS_SIG_LEN	64
#define GEM_KEYS_GROUP_LEN	16	/* IPv6, or IPv4-mapped IPv6 */
#define GEM_KEYS_GROUP_STRLEN	46	/* INET6_ADDRSTRLEN */
#define GEM_KEYS_PSK_LEN	32
#define GEM_KEYS_CTL_KEY_LEN	32
#define GEM_KEYS_SEK_LEN	16	/* suites 1-3: AES-128 */
#define GEM_KEYS_SEK_LEN_CHACHA	32	/* suite 4: ChaCha20 */
#define GEM_KEYS_SEK_MAX	32
/* AES-KWP (RFC 5649) of an n-byte SEK, n a multiple of 8: n + 8 bytes */
#define GEM_KEYS_SEK_WRAPPED_OF(n) ((n) + 8)
#define GEM_KEYS_SEK_WRAPPED_LEN GEM_KEYS_SEK_WRAPPED_OF(GEM_KEYS_SEK_LEN)	/* 24 */
#define GEM_KEYS_SEK_WRAPPED_MAX GEM_KEYS_SEK_WRAPPED_OF(GEM_KEYS_SEK_MAX)	/* 40 */

struct gem_keys;

struct gem_keys_cfg {
	const char *module;	/* NULL: $GEM_PKCS11_MODULE, else the default */
	const char *token;	/* NULL: $GEM_TOKEN, else "gem" */
	const char *pin_file;	/* NULL: $GEM_PIN_FILE, else $GEM_PIN holds the PIN */
	const char *lock_dir;	/* NULL: $GEM_LOCK_DIR, else /run/gem */
	unsigned int lock_wait_ms; /* how long to wait for another owner */
};

/* ---- errors ---------------------------------------------------------------- */

const char *gem_keys_errmsg(void);	/* last failure of this thread */
CK_RV gem_keys_errckr(void);		/* its PKCS#11 code, CKR_OK if none */
const char *gem_keys_ckr_name(CK_RV rv);	/* "CKR_PIN_INCORRECT", "0x..." */

/* ---- module, token, session -------------------------------------------------- */

/* Load the module, find the token by label, take the owner lock, log in as
 * the user.  Errors: -ENOENT module not found, -ENOEXEC not a PKCS#11
 * module, -ENODEV no such token, -EINVAL no PIN configured, -EACCES wrong or
 * locked PIN, -EBUSY another owner, -EIO other PKCS#11 failures. */
int gem_keys_open(struct gem_keys **kp, const struct gem_keys_cfg *cfg);
void gem_keys_close(struct gem_keys *k);
const char *gem_keys_token_label(const struct gem_keys *k);

/* Raw access for tests and diagnostics. */
CK_FUNCTION_LIST *gem_keys_p11(const struct gem_keys *k);
CK_SESSION_HANDLE gem_keys_session(const struct gem_keys *k);
/* Exactly one object of this class and label, else -ENOENT / -ENOTUNIQ. */
int gem_keys_find(struct gem_keys *k, CK_OBJECT_CLASS cls, const char *label,
		  CK_OBJECT_HANDLE *h);

/* ---- groups -------------------------------------------------------------------- */

/* IPv4 or IPv6 multicast address text -> 16 bytes (IPv4 as ::ffff:a.b.c.d).
 * -EINVAL (with message) if not an address or not multicast. */
int gem_keys_group_parse(const char *text, uint8_t grp[GEM_KEYS_GROUP_LEN]);
/* Canonical text: dotted quad for IPv4-mapped, RFC 5952 for IPv6. */
void gem_keys_group_str(const uint8_t grp[GEM_KEYS_GROUP_LEN],
			char buf[GEM_KEYS_GROUP_STRLEN]);
/* The label of the group's GAK of epoch: "gem-gak-" + canonical text for
 * epoch 0 (as before epochs), "gem-gak-<group>#<epoch>" for the others. */
void gem_keys_gak_label(const uint8_t grp[GEM_KEYS_GROUP_LEN], uint32_t epoch,
			char buf[GEM_KEYS_LABEL_MAX + 1]);
/* The inverse: label is a GAK's (grp, epoch filled in): 0, else -EINVAL. */
int gem_keys_gak_label_parse(const char *label, uint8_t grp[GEM_KEYS_GROUP_LEN],
			     uint32_t *epoch);

/* ---- node identity (Ed25519) ------------------------------------------------- */

/* Generate the "gem-node" key pair in the token; -EEXIST if there is one. */
int gem_keys_node_init(struct gem_keys *k);
int gem_keys_node_pubkey(struct gem_keys *k, uint8_t pk[GEM_KEYS_PUBKEY_LEN]);
/* node id = SHA-256("GEM v1 node-id" 0x00 || pk)[0..8] */
void gem_keys_node_id_of(const uint8_t pk[GEM_KEYS_PUBKEY_LEN],
			 uint8_t id[GEM_KEYS_NODE_ID_LEN]);
int gem_keys_node_id(struct gem_keys *k, uint8_t id[GEM_KEYS_NODE_ID_LEN]);
/* Pure Ed25519 (CKM_EDDSA) signature of msg. */
int gem_keys_node_sign(struct gem_keys *k, const void *msg, size_t len,
		       uint8_t sig[GEM_KEYS_SIG_LEN]);

/* ---- root secrets ---------------------------------------------------------------- */

enum gem_keys_root {
	GEM_KEYS_BK = 1,	/* domain Bootstrap Key, label "gem-bk" */
	GEM_KEYS_GAK = 2,	/* Group Authorization Key of an epoch, label
				 * "gem-gak-<group>[#<epoch>]" (docs/KEYS.md 2.3) */
};

/* Create the root object (sensitive, non-extractable, sign-only, not
 * modifiable or copyable) from 32 bytes.  grp: NULL for the BK; epoch: the
 * GAK's (0 for the BK).  -EEXIST if the token already has it. */
int gem_keys_import(struct gem_keys *k, enum gem_keys_root kind,
		    const uint8_t grp[GEM_KEYS_GROUP_LEN], uint32_t epoch,
		    const uint8_t key[GEM_KEYS_ROOT_LEN]);
/* Same from a file holding exactly 32 raw bytes. */
int gem_keys_import_file(struct gem_keys *k, enum gem_keys_root kind,
			 const uint8_t grp[GEM_KEYS_GROUP_LEN], uint32_t epoch, const char *path);
/* The epochs of grp's GAKs in the token, ascending, at most max in epochs;
 * their number (which may exceed max), or -errno. */
int gem_keys_gak_epochs(struct gem_keys *k, const uint8_t grp[GEM_KEYS_GROUP_LEN],
			uint32_t *epochs, size_t max);
/* Destroy grp's GAK of epoch (retired: docs/KEYS.md 2.3): 0, -ENOENT. */
int gem_keys_gak_retire(struct gem_keys *k, const uint8_t grp[GEM_KEYS_GROUP_LEN],
			uint32_t epoch);
/* Read a 32-byte secret file into (caller-mlocked) key. */
/* Read a key file of exactly len raw bytes (regular file, not all zero). */
int gem_keys_read_key_file(const char *path, uint8_t *key, size_t len);
int gem_keys_read_secret_file(const char *path, uint8_t key[GEM_KEYS_ROOT_LEN]);
/* Operator helper: 32 random bytes into a new file, mode 0600.  Never
 * overwrites (-EEXIST) and never leaves a partial file. */
int gem_keys_gen_secret_file(const char *path);

/* ---- derivations: HMAC-SHA-256(root, label) inside the token ---------------- */

/* Per-neighbour-pair IPsec PSK from the BK; the same for (a, b) and (b, a).
 * -EINVAL if a == b. */
int gem_keys_ipsec_psk(struct gem_keys *k, const uint8_t a[GEM_KEYS_NODE_ID_LEN],
		       const uint8_t b[GEM_KEYS_NODE_ID_LEN], uint32_t epoch,
		       uint8_t psk[GEM_KEYS_PSK_LEN]);
/* Group control-TLV HMAC-SHA-256 key from the group's GAK. */
int gem_keys_ctl_key(struct gem_keys *k, const uint8_t grp[GEM_KEYS_GROUP_LEN],
		     uint32_t epoch, uint8_t key[GEM_KEYS_CTL_KEY_LEN]);
/* Data-plane MAC key of a group for a suite (docs/PROTOCOL.md): suite 1:
 * 32-byte HMAC-SHA-256 key, suite 2: 16-byte AES-128-CMAC key.  len must be
 * gem_keys_dp_key_len(suite); -EINVAL otherwise. */
size_t gem_keys_dp_key_len(unsigned int suite);
int gem_keys_dp_key(struct gem_keys *k, const uint8_t grp[GEM_KEYS_GROUP_LEN],
		    uint32_t epoch, unsigned int suite, uint8_t *key, size_t len);
/* gem_keys_dp_key computed in software from the GAK's bytes (static keying,
 * no token): HMAC-SHA-256(gak, label), same label and truncation. */
int gem_keys_dp_key_from_gak(const uint8_t gak[GEM_KEYS_ROOT_LEN],
			     const uint8_t grp[GEM_KEYS_GROUP_LEN], uint32_t epoch,
			     unsigned int suite, uint8_t *key, size_t len);

/* ---- SEKs ------------------------------------------------------------------------ */

/* SEK lengths: GEM_KEYS_SEK_LEN (16, suites 1-3) or GEM_KEYS_SEK_LEN_CHACHA
 * (32, suite 4); any other length is -EINVAL. */
/* len random bytes from the token (C_GenerateRandom). */
int gem_keys_sek_generate(struct gem_keys *k, uint8_t *sek, size_t len);
/* AES-256-KWP (RFC 5649) under the group's SEK-wrapping key of epoch:
 * writes GEM_KEYS_SEK_WRAPPED_OF(sek_len) bytes (24 or 40) to wrapped. */
int gem_keys_sek_wrap(struct gem_keys *k, const uint8_t grp[GEM_KEYS_GROUP_LEN],
		      uint32_t epoch, const uint8_t *sek, size_t sek_len, uint8_t *wrapped);
/* Inverse, for a SEK of sek_len bytes (wrapped: GEM_KEYS_SEK_WRAPPED_OF(sek_len)
 * bytes); -EBADMSG if the integrity check fails (tampered, other group or
 * epoch) or the key inside is not sek_len bytes; sek is untouched then. */
int gem_keys_sek_unwrap(struct gem_keys *k, const uint8_t grp[GEM_KEYS_GROUP_LEN],
			uint32_t epoch, const uint8_t *wrapped, uint8_t *sek, size_t sek_len);

/* ---- listing (labels, types, attributes; never values) ---------------------- */

struct gem_keys_flag {
	CK_ATTRIBUTE_TYPE type;
	const char *name;	/* "sensitive", "extractable", ... */
};
extern const struct gem_keys_flag gem_keys_flags[];
extern const size_t gem_keys_nflags;

struct gem_keys_obj {
	char label[GEM_KEYS_LABEL_MAX + 1];
	CK_OBJECT_CLASS cls;
	CK_KEY_TYPE key_type;	/* CK_UNAVAILABLE_INFORMATION if none */
	unsigned long value_len; /* secret keys: CKA_VALUE_LEN, else 0 */
	uint8_t id[32];
	size_t id_len;
	uint32_t known;		/* bit i: gem_keys_flags[i] applies */
	uint32_t set;		/* bit i: ... and is true */
};

/* All objects the user sees, in token order; free *objs with free(). */
int gem_keys_list(struct gem_keys *k, struct gem_keys_obj **objs, size_t *n);
const char *gem_keys_class_name(CK_OBJECT_CLASS cls);
const char *gem_keys_type_name(CK_KEY_TYPE type);

#endif /* GEM_KEYS_H */
