/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* rtnetlink helpers (libmnl): the node's own addresses and Babel's kernel routes. */
#ifndef GEMD_NL_H
#define GEMD_NL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "gemd/config.h"

/* Add (nodad) or delete p on ifindex.  -EEXIST / -EADDRNOTAVAIL as the kernel says. */
int gemd_nl_addr(bool add, unsigned int ifindex, const struct gemd_prefix *p);
/* 1 if p's address is configured on some interface, 0 if not, or -errno. */
int gemd_nl_has_addr(const struct gemd_prefix *p);
/* A usable (not tentative, not DAD-failed) fe80::/10 address on ifindex,
 * preferring the lowest; -EADDRNOTAVAIL if none. */
int gemd_nl_ll_addr(unsigned int ifindex, struct in6_addr *out);
/* Delete every IPv4 and IPv6 route of this protocol (e.g. 42, babel) in any
 * table; the number deleted or -errno. */
int gemd_nl_flush_proto(unsigned char proto);

/* Delete every IP rule (IPv4 and IPv6) that looks up a table in [lo, hi],
 * and every route in those tables; the number deleted or -errno. */
int gemd_nl_flush_tables(uint32_t lo, uint32_t hi);

/* The kernel's route to addr (4 or 16 bytes by family), as `ip route get`:
 * its output interface and type (RTN_UNICAST, RTN_LOCAL, ...).  0, or the
 * kernel's -errno (-ENETUNREACH: no route). */
int gemd_nl_route_get(int family, const uint8_t *addr, unsigned int *oif, unsigned char *type);

#define GEMD_RTPROT_BABEL 42

#endif
