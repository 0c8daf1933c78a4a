// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Error reporting, PKCS#11 code names, object lookup, secret memory. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "keys_internal.h"

CK_BBOOL gk_true = CK_TRUE, gk_false = CK_FALSE;

/* Per thread, like dlerror(): a handle is used by one thread at a time,
 * but the daemon and tests may run several. */
static __thread char gk_msg[384];
static __thread CK_RV gk_ckr;

const char *gem_keys_errmsg(void)
{
	return gk_msg[0] ? gk_msg : "no error";
}

CK_RV gem_keys_errckr(void)
{
	return gk_ckr;
}

int gk_fail(int err, CK_RV rv, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(gk_msg, sizeof(gk_msg), fmt, ap);
	va_end(ap);
	gk_ckr = rv;
	return err;
}

#define N(x) { x, #x }
static const struct {
	CK_RV rv;
	const char *name;
} ckr_names[] = {
	N(CKR_OK), N(CKR_CANCEL), N(CKR_HOST_MEMORY), N(CKR_SLOT_ID_INVALID),
	N(CKR_GENERAL_ERROR), N(CKR_FUNCTION_FAILED), N(CKR_ARGUMENTS_BAD),
	N(CKR_CANT_LOCK), N(CKR_ATTRIBUTE_READ_ONLY), N(CKR_ATTRIBUTE_SENSITIVE),
	N(CKR_ATTRIBUTE_TYPE_INVALID), N(CKR_ATTRIBUTE_VALUE_INVALID),
	N(CKR_ACTION_PROHIBITED), N(CKR_DATA_INVALID), N(CKR_DATA_LEN_RANGE),
	N(CKR_DEVICE_ERROR), N(CKR_DEVICE_MEMORY), N(CKR_DEVICE_REMOVED),
	N(CKR_ENCRYPTED_DATA_INVALID), N(CKR_ENCRYPTED_DATA_LEN_RANGE),
	N(CKR_FUNCTION_NOT_SUPPORTED), N(CKR_KEY_HANDLE_INVALID),
	N(CKR_KEY_SIZE_RANGE), N(CKR_KEY_TYPE_INCONSISTENT),
	N(CKR_KEY_FUNCTION_NOT_PERMITTED), N(CKR_KEY_NOT_WRAPPABLE),
	N(CKR_KEY_UNEXTRACTABLE), N(CKR_MECHANISM_INVALID),
	N(CKR_MECHANISM_PARAM_INVALID), N(CKR_OBJECT_HANDLE_INVALID),
	N(CKR_OPERATION_ACTIVE), N(CKR_OPERATION_NOT_INITIALIZED),
	N(CKR_PIN_INCORRECT), N(CKR_PIN_INVALID), N(CKR_PIN_LEN_RANGE),
	N(CKR_PIN_EXPIRED), N(CKR_PIN_LOCKED), N(CKR_SESSION_CLOSED),
	N(CKR_SESSION_COUNT), N(CKR_SESSION_HANDLE_INVALID),
	N(CKR_SESSION_READ_ONLY), N(CKR_SIGNATURE_INVALID),
	N(CKR_SIGNATURE_LEN_RANGE), N(CKR_TEMPLATE_INCOMPLETE),
	N(CKR_TEMPLATE_INCONSISTENT), N(CKR_TOKEN_NOT_PRESENT),
	N(CKR_TOKEN_NOT_RECOGNIZED), N(CKR_TOKEN_WRITE_PROTECTED),
	N(CKR_UNWRAPPING_KEY_HANDLE_INVALID), N(CKR_UNWRAPPING_KEY_SIZE_RANGE),
	N(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT), N(CKR_USER_ALREADY_LOGGED_IN),
	N(CKR_USER_NOT_LOGGED_IN), N(CKR_USER_PIN_NOT_INITIALIZED),
	N(CKR_USER_TYPE_INVALID), N(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
	N(CKR_WRAPPED_KEY_INVALID), N(CKR_WRAPPED_KEY_LEN_RANGE),
	N(CKR_WRAPPING_KEY_HANDLE_INVALID), N(CKR_WRAPPING_KEY_SIZE_RANGE),
	N(CKR_WRAPPING_KEY_TYPE_INCONSISTENT), N(CKR_RANDOM_NO_RNG),
	N(CKR_DOMAIN_PARAMS_INVALID), N(CKR_CURVE_NOT_SUPPORTED),
	N(CKR_BUFFER_TOO_SMALL), N(CKR_CRYPTOKI_NOT_INITIALIZED),
	N(CKR_CRYPTOKI_ALREADY_INITIALIZED), N(CKR_FUNCTION_REJECTED),
};
#undef N

const char *gem_keys_ckr_name(CK_RV rv)
{
	static __thread char buf[24];

	for (size_t i = 0; i < sizeof(ckr_names) / sizeof(ckr_names[0]); i++)
		if (ckr_names[i].rv == rv)
			return ckr_names[i].name;
	snprintf(buf, sizeof(buf), "CKR 0x%lx", (unsigned long)rv);
	return buf;
}

int gk_errno(CK_RV rv)
{
	switch (rv) {
	case CKR_OK:
		return 0;
	case CKR_HOST_MEMORY:
	case CKR_DEVICE_MEMORY:
		return -ENOMEM;
	case CKR_PIN_INCORRECT:
	case CKR_PIN_LOCKED:
	case CKR_PIN_EXPIRED:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_USER_PIN_NOT_INITIALIZED:
		return -EACCES;
	case CKR_ATTRIBUTE_SENSITIVE:
	case CKR_KEY_UNEXTRACTABLE:
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
	case CKR_ATTRIBUTE_READ_ONLY:
	case CKR_ACTION_PROHIBITED:
		return -EPERM;
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_DEVICE_REMOVED:
	case CKR_SLOT_ID_INVALID:
		return -ENODEV;
	case CKR_MECHANISM_INVALID:
	case CKR_FUNCTION_NOT_SUPPORTED:
	case CKR_CURVE_NOT_SUPPORTED:
		return -EOPNOTSUPP;
	case CKR_TOKEN_WRITE_PROTECTED:
		return -EROFS;
	default:
		return -EIO;
	}
}

int gem_keys_find(struct gem_keys *k, CK_OBJECT_CLASS cls, const char *label,
		  CK_OBJECT_HANDLE *h)
{
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0;
	CK_RV rv;
	int err;

	rv = k->f->C_FindObjectsInit(k->s, tmpl, 2);
	if (rv != CKR_OK)
		return gk_fail(gk_errno(rv), rv, "token '%s': cannot search objects (%s)",
			       k->token, gem_keys_ckr_name(rv));
	rv = k->f->C_FindObjects(k->s, found, 2, &n);
	k->f->C_FindObjectsFinal(k->s);
	if (rv != CKR_OK) {
		err = gk_fail(gk_errno(rv), rv, "token '%s': cannot search objects (%s)",
			      k->token, gem_keys_ckr_name(rv));
		goto out;
	}
	if (n == 0) {
		err = gk_fail(-ENOENT, CKR_OK, "token '%s': no object '%s'", k->token, label);
		goto out;
	}
	if (n > 1) {
		err = gk_fail(-ENOTUNIQ, CKR_OK,
			      "token '%s': several objects labelled '%s' (remove the extra ones)",
			      k->token, label);
		goto out;
	}
	*h = found[0];
	err = 0;
out:
	return err;
}

void *gk_secalloc(size_t n)
{
	if (sodium_init() < 0)
		return NULL;
	return sodium_malloc(n);
}

void gk_secfree(void *p)
{
	sodium_free(p);	/* wipes, unlocks; NULL is fine */
}

const char *gem_keys_class_name(CK_OBJECT_CLASS cls)
{
	switch (cls) {
	case CKO_DATA: return "data";
	case CKO_CERTIFICATE: return "certificate";
	case CKO_PUBLIC_KEY: return "public-key";
	case CKO_PRIVATE_KEY: return "private-key";
	case CKO_SECRET_KEY: return "secret-key";
	default: return "other";
	}
}

const char *gem_keys_type_name(CK_KEY_TYPE type)
{
	switch (type) {
	case CKK_RSA: return "rsa";
	case CKK_EC: return "ec";
	case CKK_EC_EDWARDS: return "ec-edwards";
	case CKK_GENERIC_SECRET: return "generic-secret";
	case CKK_AES: return "aes";
	case CK_UNAVAILABLE_INFORMATION: return "none";
	default: return "other";
	}
}
