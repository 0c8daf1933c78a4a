/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The node's pinned GEM objects under one bpffs directory (default
 * /sys/fs/bpf/gem), shared by every attached interface and by gemctl:
 *   gem_groups gem_tx gem_rx gem_counters gem_events gem_notified gem_ifaces
 *   prog_egress prog_ingress prog_ctl */
#ifndef GEM_PIN_H
#define GEM_PIN_H

#define GEM_PIN_DIR_DEFAULT "/sys/fs/bpf/gem"

struct gem_pins {
	int groups, tx, rx, counters, events, notified, ifaces, ctl;
};

/* Is dir on a bpffs?  With create, make dir (one level) if it is missing and
 * its parent is on bpffs.  0, -ENOENT (missing), -ENOTDIR / -EMEDIUMTYPE (not
 * bpffs), or -errno. */
int gem_pin_dir_check(const char *dir, int create);

/* Open every pinned object; -ENOENT when GEM is not loaded there.  On error
 * nothing stays open. */
int gem_pins_open(const char *dir, struct gem_pins *p);
void gem_pins_close(struct gem_pins *p);

/* Sum a per-CPU u64 counter array entry. */
int gem_counter_read(int counters_fd, unsigned idx, unsigned long long *sum);

#endif
