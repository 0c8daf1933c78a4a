/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Neighbour discovery: a beacon, UDP to a link-local multicast group
 * (default [ff02::6d:6]:6767), sent with hop limit 255 on every configured
 * interface.  Unauthenticated: it only tells a node that a GEM node with
 * some id is on the link and on which port it waits for IKE.  Everything it
 * grants comes from the IKE authentication that follows.
 *
 * Wire format (all integers big-endian), docs/CONTROL.md section 3:
 *
 *   off len
 *    0   4  magic "GEMB"
 *    4   1  version (1)
 *    5   1  flags (0; ignored by receivers)
 *    6   2  hold time in units of 100 ms: forget the sender after this long
 *           without a beacon (0 is invalid)
 *    8   8  sender node id
 *   16   1  n: number of entries (0..64)
 *   17   1  m: length of the sender's name (0..32)
 *   18   2  reserved (0)
 *   20  16n entries, one per neighbour the sender hears on this link:
 *            0  8  that neighbour's node id
 *            8  2  the sender's IKE port for the pair (0: none allocated)
 *           10  1  flags: bit 0 READY, the sender's end of the tunnel
 *                  (connection and key) is loaded and accepts IKE; other
 *                  bits 0, ignored by receivers
 *           11  1  reserved (0)
 *           12  4  generation: changes whenever the sender's tunnel
 *                  instance for that neighbour is restarted
 *   20+16n  m  name (printable ASCII, informational, not NUL-terminated)
 *
 * A receiver accepts a datagram only from a fe80::/10 source with hop limit
 * 255 (so it was not forwarded), ignores its own id, and ignores trailing
 * bytes after the name (room for later versions of this format).
 */
#ifndef GEMD_DISC_H
#define GEMD_DISC_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gemd/config.h"

#define GEM_BEACON_MAGIC	"GEMB"
#define GEM_BEACON_VERSION	1
#define GEM_BEACON_HDR_LEN	20
#define GEM_BEACON_ENTRY_LEN	16
#define GEM_BEACON_MAX_ENTRIES	64
#define GEM_BEACON_NAME_MAX	32
#define GEM_BEACON_MAX_LEN	(GEM_BEACON_HDR_LEN + GEM_BEACON_ENTRY_LEN * \
				 GEM_BEACON_MAX_ENTRIES + GEM_BEACON_NAME_MAX)

#define GEM_BEACON_F_READY	0x01

struct gem_beacon_entry {
	uint8_t id[8];
	uint16_t port;
	uint8_t flags;
	uint32_t gen;
};

struct gem_beacon {
	uint8_t id[8];
	uint32_t hold_ms;	/* multiple of 100 on the wire */
	unsigned int n;
	struct gem_beacon_entry e[GEM_BEACON_MAX_ENTRIES];
	char name[GEM_BEACON_NAME_MAX + 1];
};

/* Bytes written, or -EINVAL (bad field) / -EMSGSIZE (buffer too small). */
int gem_beacon_encode(const struct gem_beacon *b, uint8_t *buf, size_t len);
/* 0, -EBADMSG (malformed) or -EPROTONOSUPPORT (other version).  Never reads
 * past len; non-printable name bytes become '?'. */
int gem_beacon_decode(const uint8_t *buf, size_t len, struct gem_beacon *b);

/* One discovery socket per configured interface. */
struct disc_if {
	char name[IF_NAMESIZE];
	unsigned int ifindex;	/* 0 while the interface is missing */
	int fd;			/* -1 while closed */
	uint64_t next_send_ms;
	uint64_t retry_ms;	/* next open attempt while closed */
	int last_err;		/* last open error, logged once per change */
};

void disc_if_init(struct disc_if *d, const char *name);
/* Open (bind [::]:port on the device, join the group); -errno on failure
 * with a one-line reason in why. */
int disc_if_open(struct disc_if *d, const struct gemd_config *c, char *why, size_t len);
void disc_if_close(struct disc_if *d);
int disc_if_send(struct disc_if *d, const struct gemd_config *c, const uint8_t *buf,
		 size_t len);
/* One datagram: its length, -EAGAIN if none, -EBADMSG if it failed the
 * link-local/hop-limit checks, or -errno. */
int disc_if_recv(struct disc_if *d, uint8_t *buf, size_t len, struct in6_addr *src);

#endif
