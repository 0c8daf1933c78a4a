// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
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

static int get(const char *dir, const char *name, int *fd)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	*fd = bpf_obj_get(path);
	return *fd < 0 ? -errno : 0;
}

int gem_pins_open(const char *dir, struct gem_pins *p)
{
	struct { const char *name; int *fd; } o[] = {
		{ "gem_groups", &p->groups }, { "gem_tx", &p->tx }, { "gem_rx", &p->rx },
		{ "gem_counters", &p->counters }, { "gem_events", &p->events },
		{ "gem_notified", &p->notified }, { "gem_ifaces", &p->ifaces },
		{ "prog_ctl", &p->ctl },
	};
	int err = 0;

	for (size_t i = 0; i < sizeof(o) / sizeof(o[0]); i++)
		*o[i].fd = -1;
	err = gem_pin_dir_check(dir, 0);
	if (err)
		return err;
	for (size_t i = 0; i < sizeof(o) / sizeof(o[0]); i++) {
		err = get(dir, o[i].name, o[i].fd);
		if (err) {
			gem_pins_close(p);
			return err;
		}
	}
	return 0;
}

void gem_pins_close(struct gem_pins *p)
{
	int *fds[] = { &p->groups, &p->tx, &p->rx, &p->counters, &p->events,
		       &p->notified, &p->ifaces, &p->ctl };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
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
