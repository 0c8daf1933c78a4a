/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The node's pinned GEM objects under one bpffs directory (default
 * /sys/fs/bpf/gem), shared by every attached interface and by gemctl:
 *   gem_groups gem_tx gem_rx gem_counters gem_events gem_notified gem_ifaces
 *   gem_stamp gem_gfilter prog_egress prog_ingress prog_ctl
 * (gem_pins_open opens those the tools use; gem_gfilter only gem_ctl writes) */
#ifndef GEM_PIN_H
#define GEM_PIN_H

#define GEM_PIN_DIR_DEFAULT "/sys/fs/bpf/gem"

#include <stddef.h>
#include "gem_common.h"

struct gem_pins {
	int groups, tx, rx, counters, events, notified, ifaces, ctl;
	/* gem_pins_open: why it refused (-ESTALE), or a warning for the caller
	 * to print when the pins are another GEM version of the same map
	 * layout; "" when the versions match */
	char stamp_msg[320];
};

/* Is dir on a bpffs?  With create, make dir (one level) if it is missing and
 * its parent is on bpffs.  0, -ENOENT (missing), -ENOTDIR / -EMEDIUMTYPE (not
 * bpffs), or -errno. */
int gem_pin_dir_check(const char *dir, int create);

/* Compare dir's gem_stamp with this build (lib/gem_version.h):
 *   0        same version
 *   1        another version with the same map layout (msg: a warning)
 *   -ESTALE  another map layout, or pins without a valid stamp (msg: what to do)
 *   -ENOENT  nothing pinned in dir
 * st (may be NULL) gets the stamp when there is one. */
int gem_stamp_check(const char *dir, struct gem_stamp *st, char *msg, size_t n);

/* Write this build's stamp into the gem_stamp map fd.  0 or -errno. */
int gem_stamp_write(int fd);

/* Open every pinned object; -ENOENT when GEM is not loaded there, -ESTALE
 * (p->stamp_msg says why) when another map layout pinned them: the stamp is
 * checked first.  On error nothing stays open. */
int gem_pins_open(const char *dir, struct gem_pins *p);
void gem_pins_close(struct gem_pins *p);

/* Sum a per-CPU u64 counter array entry. */
int gem_counter_read(int counters_fd, unsigned idx, unsigned long long *sum);

#endif
