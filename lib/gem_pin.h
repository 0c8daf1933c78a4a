/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The node's pinned GEM objects under one bpffs directory (default
 * /sys/fs/bpf/gem), shared by every attached interface and by gemctl:
 *   gem_groups gem_tx gem_rx gem_counters gem_events gem_notified gem_ifaces
 *   gem_stamp gem_gfilter prog_egress prog_ingress prog_ctl prog_lan_egress
 * listed once, below (GEM_PIN_MAPS, GEM_PIN_PROGS; gem_gfilter only gem_ctl
 * writes). */
#ifndef GEM_PIN_H
#define GEM_PIN_H

#define GEM_PIN_DIR_DEFAULT "/sys/fs/bpf/gem"

#include <stddef.h>
#include "gem_common.h"

/* Every object gem-load pins, X(field, opened): the maps by their names in
 * bpf/gem.bpf.c ("gem_" field), then the programs ("prog_" field, the
 * skeleton's gem_<field>).  gem-load pins and removes them all; those with
 * opened 1 are what gem_pins_open() opens, into struct gem_pins' field. */
#define GEM_PIN_MAPS(X) X(groups, 1) X(tx, 1) X(rx, 1) X(counters, 1) X(events, 1) \
			X(notified, 1) X(ifaces, 1) X(stamp, 0) X(gfilter, 0)
#define GEM_PIN_PROGS(X) X(egress, 0) X(ingress, 0) X(ctl, 1) X(lan_egress, 0)

/* The pin names, NULL-terminated: "gem_groups", ...; "prog_egress", ... */
extern const char *const gem_pin_maps[];
extern const char *const gem_pin_progs[];

#define GEM_PIN_FD_0(f)
#define GEM_PIN_FD_1(f) int f;
#define GEM_PIN_FD(f, opened) GEM_PIN_FD_##opened(f)
#define GEM_PIN_NONE_0
#define GEM_PIN_NONE_1 -1,
#define GEM_PIN_NONE(f, opened) GEM_PIN_NONE_##opened
/* Nothing open: struct gem_pins p = GEM_PINS_NONE; */
#define GEM_PINS_NONE { GEM_PIN_MAPS(GEM_PIN_NONE) GEM_PIN_PROGS(GEM_PIN_NONE) "" }

struct gem_pins {
	GEM_PIN_MAPS(GEM_PIN_FD)	/* int groups, tx, rx, counters, events, notified, ifaces; */
	GEM_PIN_PROGS(GEM_PIN_FD)	/* int ctl; */
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
