// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "gem_pin.h"
#include "gem_version.h"

int gem_pin_dir_check(const char *dir, int create)
{
	char parent[PATH_MAX], *slash;
	struct statfs fs;

	if (statfs(dir, &fs) == 0)
		return fs.f_type == BPF_FS_MAGIC ? 0 : -EMEDIUMTYPE;
	if (errno != ENOENT)
		return -errno;
	if (!create)
		return -ENOENT;
	if (snprintf(parent, sizeof(parent), "%s", dir) >= (int)sizeof(parent))
		return -ENAMETOOLONG;
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return -ENOENT;
	*slash = '\0';
	if (statfs(parent, &fs))
		return -errno;
	if (fs.f_type != BPF_FS_MAGIC)
		return -EMEDIUMTYPE;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

#define MAP_NAME(f, opened) "gem_" #f,
#define PROG_NAME(f, opened) "prog_" #f,
const char *const gem_pin_maps[] = { GEM_PIN_MAPS(MAP_NAME) NULL };
const char *const gem_pin_progs[] = { GEM_PIN_PROGS(PROG_NAME) NULL };

/* The objects gem_pins_open() opens: name, and where in struct gem_pins. */
#define OPENED_0(pre, f)
/* f: a member name, it cannot stand in parentheses */
#define OPENED_1(pre, f) { pre #f, offsetof(struct gem_pins, f) },	/* NOLINT(bugprone-macro-parentheses) */
#define MAP_OPENED(f, opened) OPENED_##opened("gem_", f)
#define PROG_OPENED(f, opened) OPENED_##opened("prog_", f)
static const struct {
	const char *name;
	size_t off;
} opened[] = { GEM_PIN_MAPS(MAP_OPENED) GEM_PIN_PROGS(PROG_OPENED) };
#define N_OPENED (sizeof(opened) / sizeof(opened[0]))

static int *opened_fd(struct gem_pins *p, size_t i)
{
	return (int *)((char *)p + opened[i].off);
}

static int get(const char *dir, const char *name, int *fd)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	*fd = bpf_obj_get(path);
	return *fd < 0 ? -errno : 0;
}

int gem_stamp_write(int fd)
{
	struct gem_stamp st = { .magic = GEM_STAMP_MAGIC, .layout = gem_build_layout };
	__u32 k = 0;

	snprintf(st.version, sizeof(st.version), "%s", gem_build_version);
	return bpf_map_update_elem(fd, &k, &st, BPF_ANY) ? -errno : 0;
}

static bool stamp_ok(const struct gem_stamp *st)
{
	if (st->magic != GEM_STAMP_MAGIC || !memchr(st->version, 0, sizeof(st->version)))
		return false;
	/* printed as is, JSON included: printable, no quote or backslash */
	for (const char *c = st->version; *c; c++)
		if (*c < 0x20 || *c > 0x7e || *c == '"' || *c == '\\')
			return false;
	return true;
}

/* The pinned stamp, its shape checked before the lookup (a map of another
 * value size would have the kernel write past st). */
static int stamp_read(const char *dir, struct gem_stamp *st)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info), k = 0;
	int fd = -1, err;

	err = get(dir, "gem_stamp", &fd);
	if (err)
		return err;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		goto out;
	}
	if (info.type != BPF_MAP_TYPE_ARRAY || info.key_size != sizeof(k) ||
	    info.value_size != sizeof(*st)) {
		err = -EPROTO;
		goto out;
	}
	if (bpf_map_lookup_elem(fd, &k, st)) {
		err = -errno;
		goto out;
	}
	if (!stamp_ok(st))
		err = -EPROTO;
out:
	close(fd);
	return err;
}

int gem_stamp_check(const char *dir, struct gem_stamp *out, char *msg, size_t n)
{
	static const char redo[] = "detach every interface (gem-load detach DEV), run gem-load "
				   "unload, and attach again with this version";
	struct gem_stamp st;
	int fd = -1, err;

	memset(&st, 0, sizeof(st));
	if (n)
		msg[0] = '\0';
	err = stamp_read(dir, &st);
	if (err == -ENOENT) {
		/* no stamp: nothing pinned, or a GEM from before the stamp */
		if (get(dir, "gem_ifaces", &fd) == -ENOENT)
			return -ENOENT;
		if (fd >= 0)
			close(fd);
		snprintf(msg, n, "%s was pinned by a GEM without a version stamp (older than "
			 "this GEM %s): its maps may not match; %s", dir, gem_build_version, redo);
		return -ESTALE;
	}
	if (err) {
		snprintf(msg, n, "%s: the version stamp gem_stamp is unreadable (%s); %s", dir,
			 err == -EPROTO ? "not a GEM stamp" : strerror(-err), redo);
		return -ESTALE;
	}
	if (out)
		*out = st;
	if (st.layout != gem_build_layout) {
		snprintf(msg, n, "%s was pinned by GEM %s (map layout %08x), this is GEM %s (map "
			 "layout %08x): the maps do not match; %s", dir, st.version, st.layout,
			 gem_build_version, gem_build_layout, redo);
		return -ESTALE;
	}
	if (strcmp(st.version, gem_build_version) != 0) {
		snprintf(msg, n, "%s was pinned by GEM %s, this is GEM %s (same map layout: "
			 "going on)", dir, st.version, gem_build_version);
		return 1;
	}
	return 0;
}

int gem_pins_open(const char *dir, struct gem_pins *p)
{
	int err = 0;

	for (size_t i = 0; i < N_OPENED; i++)
		*opened_fd(p, i) = -1;
	p->stamp_msg[0] = '\0';
	err = gem_pin_dir_check(dir, 0);
	if (err)
		return err;
	err = gem_stamp_check(dir, NULL, p->stamp_msg, sizeof(p->stamp_msg));
	if (err < 0)
		return err;
	for (size_t i = 0; i < N_OPENED; i++) {
		err = get(dir, opened[i].name, opened_fd(p, i));
		if (err) {
			gem_pins_close(p);
			return err;
		}
	}
	return 0;
}

void gem_pins_close(struct gem_pins *p)
{
	for (size_t i = 0; i < N_OPENED; i++) {
		int *fd = opened_fd(p, i);

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

int gem_counter_read(int counters_fd, unsigned idx, unsigned long long *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	unsigned long long *v;
	__u32 k = idx;

	if (ncpu <= 0)
		return -EINVAL;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(counters_fd, &k, v)) {
		free(v);
		return -errno;
	}
	*sum = 0;
	for (int i = 0; i < ncpu; i++)
		*sum += v[i];
	free(v);
	return 0;
}
