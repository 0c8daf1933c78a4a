// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Listing token objects: labels, types and boolean attributes.  Values are
 * never asked for, so nothing secret can reach the output. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "keys_internal.h"

const struct gem_keys_flag gem_keys_flags[] = {
	{ CKA_TOKEN, "token" },
	{ CKA_PRIVATE, "private" },
	{ CKA_MODIFIABLE, "modifiable" },
	{ CKA_COPYABLE, "copyable" },
	{ CKA_SENSITIVE, "sensitive" },
	{ CKA_EXTRACTABLE, "extractable" },
	{ CKA_ALWAYS_SENSITIVE, "always_sensitive" },
	{ CKA_NEVER_EXTRACTABLE, "never_extractable" },
	{ CKA_LOCAL, "local" },
	{ CKA_SIGN, "sign" },
	{ CKA_VERIFY, "verify" },
	{ CKA_ENCRYPT, "encrypt" },
	{ CKA_DECRYPT, "decrypt" },
	{ CKA_WRAP, "wrap" },
	{ CKA_UNWRAP, "unwrap" },
	{ CKA_DERIVE, "derive" },
};
const size_t gem_keys_nflags = sizeof(gem_keys_flags) / sizeof(gem_keys_flags[0]);

/* One attribute at a time: a template mixing applicable and inapplicable
 * attributes makes some modules fail the whole call. */
static bool get_attr(struct gem_keys *k, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE t,
		     void *buf, CK_ULONG *len)
{
	CK_ATTRIBUTE a = { t, buf, *len };

	if (k->f->C_GetAttributeValue(k->s, h, &a, 1) != CKR_OK ||
	    a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
		return false;
	*len = a.ulValueLen;
	return true;
}

static void describe(struct gem_keys *k, CK_OBJECT_HANDLE h, struct gem_keys_obj *o)
{
	CK_ULONG len;
	CK_BBOOL b;

	memset(o, 0, sizeof(*o));
	o->cls = CK_UNAVAILABLE_INFORMATION;
	o->key_type = CK_UNAVAILABLE_INFORMATION;
	len = GEM_KEYS_LABEL_MAX;
	if (get_attr(k, h, CKA_LABEL, o->label, &len))
		o->label[len] = '\0';
	len = sizeof(o->cls);
	get_attr(k, h, CKA_CLASS, &o->cls, &len);
	len = sizeof(o->key_type);
	if (o->cls == CKO_PUBLIC_KEY || o->cls == CKO_PRIVATE_KEY || o->cls == CKO_SECRET_KEY)
		get_attr(k, h, CKA_KEY_TYPE, &o->key_type, &len);
	len = sizeof(o->value_len);
	if (o->cls == CKO_SECRET_KEY && !get_attr(k, h, CKA_VALUE_LEN, &o->value_len, &len))
		o->value_len = 0;
	len = sizeof(o->id);
	if (get_attr(k, h, CKA_ID, o->id, &len))
		o->id_len = len;
	for (size_t i = 0; i < gem_keys_nflags; i++) {
		len = sizeof(b);
		if (!get_attr(k, h, gem_keys_flags[i].type, &b, &len) || len != 1)
			continue;
		o->known |= 1u << i;
		if (b)
			o->set |= 1u << i;
	}
}

int gem_keys_list(struct gem_keys *k, struct gem_keys_obj **objs, size_t *n)
{
	CK_OBJECT_HANDLE *hs = NULL, *nh;
	struct gem_keys_obj *v = NULL;
	size_t cnt = 0, cap = 0, i;
	bool active = false;
	CK_ULONG got;
	CK_RV rv;
	int err;

	/* Handles first, attributes after the search: some modules allow no
	 * other call on a session while a search is active. */
	rv = k->f->C_FindObjectsInit(k->s, NULL, 0);
	if (rv != CKR_OK)
		goto p11_fail;
	active = true;
	for (;;) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 32;
			nh = realloc(hs, cap * sizeof(*hs));
			if (!nh) {
				err = gk_fail(-ENOMEM, CKR_OK, "out of memory");
				goto out;
			}
			hs = nh;
		}
		rv = k->f->C_FindObjects(k->s, hs + cnt, cap - cnt, &got);
		if (rv != CKR_OK)
			goto p11_fail;
		if (!got)
			break;
		cnt += got;
	}
	k->f->C_FindObjectsFinal(k->s);
	active = false;
	v = calloc(cnt ? cnt : 1, sizeof(*v));
	if (!v) {
		err = gk_fail(-ENOMEM, CKR_OK, "out of memory");
		goto out;
	}
	for (i = 0; i < cnt; i++)
		describe(k, hs[i], &v[i]);
	*objs = v;
	*n = cnt;
	v = NULL;
	err = 0;
	goto out;
p11_fail:
	err = gk_fail(gk_errno(rv), rv, "token '%s': cannot list objects (%s)",
		      k->token, gem_keys_ckr_name(rv));
out:
	if (active)
		k->f->C_FindObjectsFinal(k->s);
	free(hs);
	free(v);
	return err;
}
