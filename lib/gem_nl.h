/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The rtnetlink questions gem-load asks, answered by the kernel for the
 * caller's network namespace.  (/sys/class/net belongs to the namespace
 * sysfs was mounted in: under `nsenter --net` it still shows the host's.) */
#ifndef GEM_NL_H
#define GEM_NL_H

#include <net/if.h>
#include <stdint.h>

struct gem_nl_link {
	unsigned ifindex;
	unsigned short type;	/* ARPHRD_* */
	char name[IF_NAMESIZE];
};

/* The link named name (or, with name NULL, of ifindex).  0, -ENODEV, -errno. */
int gem_nl_link_get(const char *name, unsigned ifindex, struct gem_nl_link *out);

/* 0 if no TC filter sits on parent of ifindex (e.g. TC_H_MAKE(TC_H_CLSACT,
 * TC_H_MIN_EGRESS)), > 0 if some do (the filter messages of the dump), or
 * -errno. */
int gem_nl_tc_filters(unsigned ifindex, uint32_t parent);

#endif
