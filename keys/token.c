// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Opening the token: configuration, owner lock, module, slot, PIN, login.
 *
 * One process owns a token at a time.  SoftHSMv2 fails at random with
 * CKR_GENERAL_ERROR when several processes log in to one token (measured
 * with SoftHSMv2 2.6.1; docs/KEYS.md 7), and a daemon holding derived state should not
 * race an operator's gemctl anyway, so gem_keys_open() takes an exclusive
 * flock(2) on <lock dir>/hsm-<token label>.lock for the handle's lifetime.
 * The kernel drops the lock when the process exits, however it exits.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "keys_internal.h"

#define PIN_MAX 255

static const char *cfg_or_env(const char *v, const char *env, const char *def)
{
	const char *e;

	if (v)
		return v;
	e = getenv(env);
	if (e && *e)
		return e;
	return def;
}

/* PIN from a file (first line) or $GEM_PIN, into mlocked memory. */
static int read_pin(const char *pin_file, char **pinp, size_t *lenp)
{
	const char *env;
	char *pin = NULL;
	ssize_t n = 0, r;
	int fd = -1, err;
	char *nl;

	pin = gk_secalloc(PIN_MAX + 2);
	if (!pin) {
		err = gk_fail(-ENOMEM, CKR_OK, "cannot allocate locked memory for the PIN");
		goto out;
	}
	if (pin_file) {
		fd = open(pin_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			err = gk_fail(-errno, CKR_OK, "cannot read PIN file '%s': %s",
				      pin_file, strerror(errno));
			goto out;
		}
		while (n < PIN_MAX + 1) {
			r = read(fd, pin + n, PIN_MAX + 1 - n);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				err = gk_fail(-errno, CKR_OK, "cannot read PIN file '%s': %s",
					      pin_file, strerror(errno));
				goto out;
			}
			if (r == 0)
				break;
			n += r;
		}
		pin[n] = '\0';
		nl = memchr(pin, '\n', n);
		if (nl)
			n = nl - pin;
		if (n > 0 && pin[n - 1] == '\r')
			n--;
		if (n > PIN_MAX) {
			err = gk_fail(-EINVAL, CKR_OK, "PIN file '%s': PIN longer than %d bytes",
				      pin_file, PIN_MAX);
			goto out;
		}
		if (n == 0 || memchr(pin, '\0', n)) {
			err = gk_fail(-EINVAL, CKR_OK, "PIN file '%s' holds no PIN", pin_file);
			goto out;
		}
	} else {
		env = getenv(GEM_KEYS_ENV_PIN);
		if (!env || !*env) {
			err = gk_fail(-EINVAL, CKR_OK,
				      "no PIN configured: give --pin-file FILE, or set "
				      GEM_KEYS_ENV_PIN_FILE " or " GEM_KEYS_ENV_PIN);
			goto out;
		}
		n = strlen(env);
		if (n > PIN_MAX) {
			err = gk_fail(-EINVAL, CKR_OK, GEM_KEYS_ENV_PIN " longer than %d bytes",
				      PIN_MAX);
			goto out;
		}
		memcpy(pin, env, n);
	}
	pin[n] = '\0';
	*pinp = pin;
	*lenp = n;
	pin = NULL;
	err = 0;
out:
	if (fd >= 0)
		close(fd);
	gk_secfree(pin);
	return err;
}

static int take_lock(struct gem_keys *k, const char *dir, unsigned int wait_ms)
{
	char path[512], name[40], pid[24];
	struct timespec ts = { 0, 50L * 1000 * 1000 };
	unsigned int waited = 0;
	ssize_t r;
	int fd = -1, err;
	size_t i;

	/* The label may hold any printable byte: keep a file name. */
	_Static_assert(sizeof(name) > sizeof(k->token), "lock name holds any label");
	for (i = 0; i < sizeof(k->token) && k->token[i]; i++) {
		char c = k->token[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
		name[i] = ok ? c : '_';
	}
	name[i] = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		err = gk_fail(-errno, CKR_OK, "cannot create lock directory '%s': %s (set "
			      GEM_KEYS_ENV_LOCK_DIR ")", dir, strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/hsm-%s.lock", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err = gk_fail(-errno, CKR_OK, "cannot open lock file '%s': %s", path,
			      strerror(errno));
		goto out;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			err = gk_fail(-errno, CKR_OK, "cannot lock '%s': %s", path,
				      strerror(errno));
			goto out;
		}
		if (waited >= wait_ms) {
			r = pread(fd, pid, sizeof(pid) - 1, 0);
			pid[r > 0 ? r : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			if (strtol(pid, NULL, 10) == (long)getpid())
				err = gk_fail(-EBUSY, CKR_OK,
					      "token '%s' is already open in this process (lock %s)",
					      k->token, path);
			else
				err = gk_fail(-EBUSY, CKR_OK,
					      "token '%s' is in use by another process (pid %s, "
					      "lock %s): one process owns the HSM at a time",
					      k->token, pid[0] ? pid : "?", path);
			goto out;
		}
		nanosleep(&ts, NULL);
		waited += 50;
	}
	if (ftruncate(fd, 0) == 0)
		dprintf(fd, "%ld\n", (long)getpid());
	k->lock_fd = fd;
	fd = -1;
	err = 0;
out:
	if (fd >= 0)
		close(fd);
	return err;
}

static int load_module(struct gem_keys *k)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	CK_C_GetFunctionList getfl;
	struct stat st;
	CK_RV rv;
	int err;

	if (strchr(k->module, '/') && stat(k->module, &st) < 0) {
		err = gk_fail(errno == ENOENT ? -ENOENT : -errno, CKR_OK,
			      "PKCS#11 module '%s' not found (set --module or "
			      GEM_KEYS_ENV_MODULE ")", k->module);
		goto out;
	}
	k->dl = dlopen(k->module, RTLD_NOW | RTLD_LOCAL);
	if (!k->dl) {
		err = gk_fail(-ENOENT, CKR_OK, "cannot load PKCS#11 module '%s': %s",
			      k->module, dlerror());
		goto out;
	}
	getfl = (CK_C_GetFunctionList)dlsym(k->dl, "C_GetFunctionList");
	if (!getfl) {
		err = gk_fail(-ENOEXEC, CKR_OK,
			      "'%s' is not a PKCS#11 module (no C_GetFunctionList)", k->module);
		goto out;
	}
	rv = getfl(&k->f);
	if (rv != CKR_OK || !k->f) {
		err = gk_fail(-ENOEXEC, rv, "PKCS#11 module '%s': C_GetFunctionList failed (%s)",
			      k->module, gem_keys_ckr_name(rv));
		goto out;
	}
	/* OS locking: SoftHSM crashes with NULL args once threads exist. */
	rv = k->f->C_Initialize(&args);
	if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		k->finalize = false;	/* someone else in this process owns init */
	} else if (rv != CKR_OK) {
		/* SoftHSM fails here when its configuration or token
		 * directory is missing, and says why only in syslog. */
		err = gk_fail(-EIO, rv, "PKCS#11 module '%s': C_Initialize failed (%s)%s",
			      k->module, gem_keys_ckr_name(rv),
			      strstr(k->module, "softhsm") ?
			      ": check SOFTHSM2_CONF (default /etc/softhsm/softhsm2.conf) "
			      "and its directories.tokendir" : "");
		goto out;
	} else {
		k->finalize = true;
	}
	err = 0;
out:
	return err;
}

static void trim_label(char out[33], const CK_UTF8CHAR in[32])
{
	int n = 32;

	memcpy(out, in, 32);
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\0'))
		n--;
	out[n] = '\0';
}

static int find_slot(struct gem_keys *k)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0, i;
	CK_TOKEN_INFO ti;
	char label[33], seen[160] = "";
	int found = 0, err;
	CK_RV rv;

	rv = k->f->C_GetSlotList(CK_TRUE, NULL, &n);
	if (rv == CKR_OK && n) {
		slots = calloc(n, sizeof(*slots));
		if (!slots) {
			err = gk_fail(-ENOMEM, CKR_OK, "out of memory");
			goto out;
		}
		rv = k->f->C_GetSlotList(CK_TRUE, slots, &n);
	}
	if (rv != CKR_OK) {
		err = gk_fail(-EIO, rv, "PKCS#11 module '%s': cannot list slots (%s)",
			      k->module, gem_keys_ckr_name(rv));
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (k->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
		    !(ti.flags & CKF_TOKEN_INITIALIZED))
			continue;
		trim_label(label, ti.label);
		if (strlen(seen) + strlen(label) + 4 < sizeof(seen))
			snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), "%s'%s'",
				 seen[0] ? ", " : "", label);
		if (strcmp(label, k->token) != 0)
			continue;
		if (found++) {
			err = gk_fail(-ENOTUNIQ, CKR_OK,
				      "several tokens labelled '%s' in module '%s'",
				      k->token, k->module);
			goto out;
		}
		k->slot = slots[i];
		if (!(ti.flags & CKF_USER_PIN_INITIALIZED)) {
			err = gk_fail(-EACCES, CKR_USER_PIN_NOT_INITIALIZED,
				      "token '%s': user PIN not initialised", k->token);
			goto out;
		}
	}
	if (!found) {
		err = gk_fail(-ENODEV, CKR_OK,
			      "no token labelled '%s' in module '%s' (tokens: %s; create one, "
			      "e.g. softhsm2-util --init-token --free --label %s)",
			      k->token, k->module, seen[0] ? seen : "none", k->token);
		goto out;
	}
	err = 0;
out:
	free(slots);
	return err;
}

static int login(struct gem_keys *k, const char *pin, size_t len)
{
	CK_RV rv;

	rv = k->f->C_OpenSession(k->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
				 NULL, &k->s);
	if (rv != CKR_OK)
		return gk_fail(gk_errno(rv), rv, "token '%s': cannot open a session (%s)",
			       k->token, gem_keys_ckr_name(rv));
	k->session = true;
	rv = k->f->C_Login(k->s, CKU_USER, (CK_UTF8CHAR *)pin, len);
	switch (rv) {
	case CKR_OK:
		k->logged_in = true;
		return 0;
	case CKR_USER_ALREADY_LOGGED_IN:
		return 0;	/* someone else's login: theirs to end */
	case CKR_PIN_INCORRECT:
		return gk_fail(-EACCES, rv, "token '%s': wrong PIN (%s)", k->token,
			       gem_keys_ckr_name(rv));
	case CKR_PIN_LOCKED:
		return gk_fail(-EACCES, rv,
			       "token '%s': PIN locked (%s): the SO must reset it",
			       k->token, gem_keys_ckr_name(rv));
	default:
		return gk_fail(gk_errno(rv), rv, "token '%s': login failed (%s)",
			       k->token, gem_keys_ckr_name(rv));
	}
}

int gem_keys_open(struct gem_keys **kp, const struct gem_keys_cfg *cfg)
{
	static const struct gem_keys_cfg none;
	const char *module, *token, *pin_file, *lock_dir;
	struct gem_keys *k = NULL;
	char *pin = NULL;
	size_t pin_len = 0;
	int err;

	*kp = NULL;
	if (!cfg)
		cfg = &none;
	if (sodium_init() < 0) {
		err = gk_fail(-EIO, CKR_OK, "libsodium failed to initialise");
		goto out;
	}
	module = cfg_or_env(cfg->module, GEM_KEYS_ENV_MODULE, GEM_KEYS_DEFAULT_MODULE);
	token = cfg_or_env(cfg->token, GEM_KEYS_ENV_TOKEN, GEM_KEYS_DEFAULT_TOKEN);
	pin_file = cfg_or_env(cfg->pin_file, GEM_KEYS_ENV_PIN_FILE, NULL);
	lock_dir = cfg_or_env(cfg->lock_dir, GEM_KEYS_ENV_LOCK_DIR,
			      GEM_KEYS_DEFAULT_LOCK_DIR);
	if (!*token || strlen(token) > 32) {
		err = gk_fail(-EINVAL, CKR_OK, "token label '%s': must be 1 to 32 bytes", token);
		goto out;
	}
	if (strlen(module) >= sizeof(k->module)) {
		err = gk_fail(-ENAMETOOLONG, CKR_OK, "module path too long");
		goto out;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		err = gk_fail(-ENOMEM, CKR_OK, "out of memory");
		goto out;
	}
	k->lock_fd = -1;
	/* lengths checked above */
	snprintf(k->module, sizeof(k->module), "%s", module);
	snprintf(k->token, sizeof(k->token), "%s", token);

	/* Configuration first, then the lock, then the module: a broken
	 * setup is reported without touching the token. */
	err = read_pin(pin_file, &pin, &pin_len);
	if (err)
		goto out;
	err = take_lock(k, lock_dir, cfg->lock_wait_ms);
	if (err)
		goto out;
	err = load_module(k);
	if (err)
		goto out;
	err = find_slot(k);
	if (err)
		goto out;
	err = login(k, pin, pin_len);
	if (err)
		goto out;
	*kp = k;
	k = NULL;
out:
	gk_secfree(pin);
	gem_keys_close(k);
	return err;
}

void gem_keys_close(struct gem_keys *k)
{
	if (!k)
		return;
	if (k->logged_in)
		k->f->C_Logout(k->s);
	if (k->session)
		k->f->C_CloseSession(k->s);
	if (k->finalize)
		k->f->C_Finalize(NULL);
	if (k->dl)
		dlclose(k->dl);
	if (k->lock_fd >= 0) {
		/* The file stays (removing it would race the next owner);
		 * its pid goes, so nobody is blamed for a lock not held. */
		if (ftruncate(k->lock_fd, 0) < 0) {
			/* only the message of a later -EBUSY suffers */
		}
		close(k->lock_fd);	/* releases the flock */
	}
	free(k);
}

const char *gem_keys_token_label(const struct gem_keys *k)
{
	return k->token;
}

CK_FUNCTION_LIST *gem_keys_p11(const struct gem_keys *k)
{
	return k->f;
}

CK_SESSION_HANDLE gem_keys_session(const struct gem_keys *k)
{
	return k->s;
}
