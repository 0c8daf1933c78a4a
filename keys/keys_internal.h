/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Shared by the keys/ files only; the API is gem_keys.h. */
#ifndef GEM_KEYS_INTERNAL_H
#define GEM_KEYS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gem_keys.h"

struct gem_keys {
	void *dl;			/* dlopen handle of the module */
	CK_FUNCTION_LIST *f;
	bool finalize;			/* we called C_Initialize */
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s;
	bool session;
	bool logged_in;
	int lock_fd;
	char module[256];
	char token[33];			/* label, trailing blanks removed */
};

/* Set this thread's error (message, PKCS#11 code) and return err (-errno). */
int gk_fail(int err, CK_RV rv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* -errno for a PKCS#11 code: the closest meaning, -EIO by default. */
int gk_errno(CK_RV rv);

/* CK_BBOOL constants to point templates at. */
extern CK_BBOOL gk_true, gk_false;

/* HMAC-SHA-256 inside the token with the root object `label` (a
 * generic-secret key) over msg, into out[32].  what names the root in
 * messages, hint says how to create it. */
int gk_hmac(struct gem_keys *k, const char *label, const char *what,
	    const char *hint, const void *msg, size_t len, uint8_t out[32]);

/* Derivation purposes (docs/KEYS.md section 3). */
#define GK_P_IPSEC_PSK	"ipsec-psk"
#define GK_P_CTL_HMAC	"ctl-hmac"
#define GK_P_DP_HMAC	"dp-hmac"
#define GK_P_DP_CMAC	"dp-cmac"
#define GK_P_SEK_WRAP	"sek-wrap"

/* out = HMAC-SHA-256(GAK of grp, "GEM v1 " purpose 0x00 grp epoch_be32). */
int gk_derive_group(struct gem_keys *k, const char *purpose,
		    const uint8_t grp[GEM_KEYS_GROUP_LEN], uint32_t epoch,
		    uint8_t out[32]);

/* Secret temporaries: sodium_malloc'd (mlocked, guarded), wiped on free. */
void *gk_secalloc(size_t n);
void gk_secfree(void *p);

#endif
