// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Root secrets: the domain's Bootstrap Key and the groups' Group
 * Authorization Keys.  An operator makes each one once (gen-secret), copies
 * the file to the nodes that may hold it, and imports it; from then on it is
 * a sensitive, non-extractable, sign-only (HMAC) token object that cannot be
 * modified or copied, so it never leaves the token again.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "keys_internal.h"

static int root_label(enum gem_keys_root kind, const uint8_t *grp, uint32_t epoch,
		      char label[GEM_KEYS_LABEL_MAX + 1])
{
	switch (kind) {
	case GEM_KEYS_BK:
		if (epoch)
			return gk_fail(-EINVAL, CKR_OK, "the Bootstrap Key has no epochs");
		snprintf(label, GEM_KEYS_LABEL_MAX + 1, "%s", GEM_KEYS_LABEL_BK);
		return 0;
	case GEM_KEYS_GAK:
		if (!grp)
			return gk_fail(-EINVAL, CKR_OK, "a GAK needs a group");
		gem_keys_gak_label(grp, epoch, label);
		return 0;
	}
	return gk_fail(-EINVAL, CKR_OK, "unknown root key kind %d", (int)kind);
}

int gem_keys_import(struct gem_keys *k, enum gem_keys_root kind,
		    const uint8_t grp[GEM_KEYS_GROUP_LEN], uint32_t epoch,
		    const uint8_t key[GEM_KEYS_ROOT_LEN])
{
	uint8_t id[GEM_KEYS_GROUP_LEN + 4];
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	char label[GEM_KEYS_LABEL_MAX + 1];
	CK_OBJECT_HANDLE h;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &gk_true, 1 },
		{ CKA_PRIVATE, &gk_true, 1 },
		{ CKA_SENSITIVE, &gk_true, 1 },
		{ CKA_EXTRACTABLE, &gk_false, 1 },
		{ CKA_MODIFIABLE, &gk_false, 1 },
		{ CKA_COPYABLE, &gk_false, 1 },
		{ CKA_SIGN, &gk_true, 1 },	/* CKM_SHA256_HMAC: the only use */
		{ CKA_VERIFY, &gk_false, 1 },
		{ CKA_ENCRYPT, &gk_false, 1 },
		{ CKA_DECRYPT, &gk_false, 1 },
		{ CKA_WRAP, &gk_false, 1 },
		{ CKA_UNWRAP, &gk_false, 1 },
		{ CKA_DERIVE, &gk_false, 1 },	/* no derive-to-extractable path */
		{ CKA_VALUE, (void *)key, GEM_KEYS_ROOT_LEN },
		{ CKA_LABEL, label, 0 },
		{ CKA_ID, id, GEM_KEYS_GROUP_LEN },	/* GAK only: group [|| be32 epoch] */
	};
	CK_ULONG nt = sizeof(tmpl) / sizeof(tmpl[0]);
	CK_RV rv;
	int err;

	err = root_label(kind, grp, epoch, label);
	if (err)
		goto out;
	if (grp) {
		memcpy(id, grp, GEM_KEYS_GROUP_LEN);
		if (epoch) {	/* epoch 0 keeps the id it had before epochs */
			id[16] = (uint8_t)(epoch >> 24);
			id[17] = (uint8_t)(epoch >> 16);
			id[18] = (uint8_t)(epoch >> 8);
			id[19] = (uint8_t)epoch;
			tmpl[nt - 1].ulValueLen = sizeof(id);
		}
	}
	tmpl[nt - 2].ulValueLen = strlen(label);
	if (kind == GEM_KEYS_BK)
		nt--;
	err = gem_keys_find(k, CKO_SECRET_KEY, label, &h);
	if (err == 0 || err == -ENOTUNIQ) {
		err = gk_fail(-EEXIST, CKR_OK,
			      "token '%s': '%s' already exists (a root key is imported once)",
			      k->token, label);
		goto out;
	}
	if (err != -ENOENT)
		goto out;
	rv = k->f->C_CreateObject(k->s, tmpl, nt, &h);
	if (rv != CKR_OK) {
		err = gk_fail(gk_errno(rv), rv, "token '%s': cannot create '%s' (%s)",
			      k->token, label, gem_keys_ckr_name(rv));
		goto out;
	}
	err = 0;
out:
	return err;
}

int gem_keys_read_key_file(const char *path, uint8_t *key, size_t len)
{
	uint8_t *buf = NULL;
	ssize_t n = 0, r;
	int fd = -1, err;
	struct stat st;

	buf = gk_secalloc(len + 1);
	if (!buf) {
		err = gk_fail(-ENOMEM, CKR_OK, "cannot allocate locked memory");
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = gk_fail(-errno, CKR_OK, "cannot read secret file '%s': %s", path,
			      strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err = gk_fail(-EINVAL, CKR_OK, "secret file '%s': not a regular file", path);
		goto out;
	}
	while (n < (ssize_t)len + 1) {
		r = read(fd, buf + n, len + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = gk_fail(-errno, CKR_OK, "cannot read secret file '%s': %s",
				      path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += r;
	}
	if (n != (ssize_t)len) {
		err = gk_fail(-EINVAL, CKR_OK,
			      "secret file '%s': %s%zd bytes, expected exactly %zu raw bytes%s", path,
			      n > (ssize_t)len ? "more than " : "",
			      n > (ssize_t)len ? (ssize_t)len : n,
			      len, len == GEM_KEYS_ROOT_LEN ?
			      " (make one with: gemctl keys gen-secret FILE)" : "");
		goto out;
	}
	if (sodium_is_zero(buf, len)) {
		err = gk_fail(-EINVAL, CKR_OK, "secret file '%s': all zero bytes", path);
		goto out;
	}
	memcpy(key, buf, len);
	err = 0;
out:
	if (fd >= 0)
		close(fd);
	gk_secfree(buf);
	return err;
}

int gem_keys_read_secret_file(const char *path, uint8_t key[GEM_KEYS_ROOT_LEN])
{
	return gem_keys_read_key_file(path, key, GEM_KEYS_ROOT_LEN);
}

int gem_keys_import_file(struct gem_keys *k, enum gem_keys_root kind,
			 const uint8_t grp[GEM_KEYS_GROUP_LEN], uint32_t epoch, const char *path)
{
	uint8_t *key;
	int err;

	key = gk_secalloc(GEM_KEYS_ROOT_LEN);
	if (!key) {
		err = gk_fail(-ENOMEM, CKR_OK, "cannot allocate locked memory");
		goto out;
	}
	err = gem_keys_read_secret_file(path, key);
	if (err)
		goto out;
	err = gem_keys_import(k, kind, grp, epoch, key);
out:
	gk_secfree(key);
	return err;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int gem_keys_gak_epochs(struct gem_keys *k, const uint8_t grp[GEM_KEYS_GROUP_LEN],
			uint32_t *epochs, size_t max)
{
	struct gem_keys_obj *v = NULL;
	uint8_t g[GEM_KEYS_GROUP_LEN];
	size_t n = 0, cnt = 0;
	uint32_t e;
	int err;

	err = gem_keys_list(k, &v, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		if (v[i].cls != CKO_SECRET_KEY || gem_keys_gak_label_parse(v[i].label, g, &e) ||
		    memcmp(g, grp, sizeof(g)) != 0)
			continue;
		if (cnt < max)
			epochs[cnt] = e;
		cnt++;
	}
	free(v);
	if (cnt > INT32_MAX)
		return -EOVERFLOW;
	qsort(epochs, cnt < max ? cnt : max, sizeof(*epochs), cmp_u32);
	return (int)cnt;
}

int gem_keys_gak_retire(struct gem_keys *k, const uint8_t grp[GEM_KEYS_GROUP_LEN],
			uint32_t epoch)
{
	char label[GEM_KEYS_LABEL_MAX + 1];
	CK_OBJECT_HANDLE h;
	CK_RV rv;
	int err;

	gem_keys_gak_label(grp, epoch, label);
	err = gem_keys_find(k, CKO_SECRET_KEY, label, &h);
	if (err)
		return err;
	rv = k->f->C_DestroyObject(k->s, h);
	if (rv != CKR_OK)
		return gk_fail(gk_errno(rv), rv, "token '%s': cannot destroy '%s' (%s)", k->token,
			       label, gem_keys_ckr_name(rv));
	return 0;
}

/* Write to a fresh temporary file next to path, then link(2) it into place:
 * link fails with EEXIST instead of replacing anything, and the name only
 * ever appears with all 32 bytes behind it. */
int gem_keys_gen_secret_file(const char *path)
{
	char *tmp = NULL, *dcopy = NULL;
	uint8_t *key = NULL;
	bool tmp_made = false;
	struct stat st;
	int fd = -1, err;
	ssize_t r;

	if (lstat(path, &st) == 0) {
		err = gk_fail(-EEXIST, CKR_OK, "'%s' already exists: not overwriting it", path);
		goto out;
	}
	key = gk_secalloc(GEM_KEYS_ROOT_LEN);
	dcopy = strdup(path);
	if (!key || !dcopy) {
		err = gk_fail(-ENOMEM, CKR_OK, "out of memory");
		goto out;
	}
	if (asprintf(&tmp, "%s/.gem-secret-XXXXXX", dirname(dcopy)) < 0) {
		tmp = NULL;
		err = gk_fail(-ENOMEM, CKR_OK, "out of memory");
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC);	/* mode 0600 whatever the umask */
	if (fd < 0) {
		err = gk_fail(-errno, CKR_OK, "cannot create a file next to '%s': %s", path,
			      strerror(errno));
		goto out;
	}
	tmp_made = true;
	randombytes_buf(key, GEM_KEYS_ROOT_LEN);
	r = write(fd, key, GEM_KEYS_ROOT_LEN);
	if (r != GEM_KEYS_ROOT_LEN || fchmod(fd, 0600) < 0 || fsync(fd) < 0) {
		err = gk_fail(r < 0 ? -errno : -EIO, CKR_OK, "cannot write '%s': %s", tmp,
			      r < 0 ? strerror(errno) : "short write");
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		err = gk_fail(-errno, CKR_OK, "cannot write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (link(tmp, path) < 0) {
		err = gk_fail(-errno, CKR_OK, "cannot create '%s': %s%s", path,
			      strerror(errno), errno == EEXIST ? " (not overwriting it)" : "");
		goto out;
	}
	err = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp_made)
		unlink(tmp);
	free(tmp);
	free(dcopy);
	gk_secfree(key);
	return err;
}
