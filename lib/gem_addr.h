/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Text <-> struct gem_addr (IPv6, or IPv4 as ::ffff:a.b.c.d). */
#ifndef GEM_ADDR_H
#define GEM_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include "gem_common.h"

#define GEM_ADDR_STRLEN 46

/* Parse an IPv4 or IPv6 address; *family gets AF_INET or AF_INET6.
 * 0 or -EINVAL. */
int gem_addr_parse(const char *text, struct gem_addr *a, int *family);
/* IPv4-mapped addresses print as a.b.c.d. */
const char *gem_addr_str(const struct gem_addr *a, char buf[GEM_ADDR_STRLEN]);
bool gem_addr_is_v4(const struct gem_addr *a);
bool gem_addr_is_multicast(const struct gem_addr *a);

#endif
