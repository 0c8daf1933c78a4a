/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Craft and inspect L3 packets (they start at the IP header, no Ethernet):
 * UDP over IPv4 or IPv6, the only thing GEM seals.  Used by the reference
 * implementation (gem_ref.c) and by the tests to make and check packets.
 *
 * A packet is taken to be exactly one IP datagram: the length given by the
 * caller must equal the IP header's own length, so no trailing bytes (link
 * padding) are silently carried along or dropped.
 */
#ifndef GEM_PKT_H
#define GEM_PKT_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <linux/types.h>
#include <linux/bpf.h>		/* struct bpf_spin_lock, used by gem_common.h */

#include "gem_common.h"

#define GEM_IPV4_HLEN	20	/* without options */
#define GEM_IPV6_HLEN	40
#define GEM_UDP_HLEN	8

/* What gem_pkt_parse() found; offsets are from the start of the packet. */
struct gem_pkt_info {
	int family;		/* AF_INET or AF_INET6 */
	size_t ip_hlen;		/* IPv4: IHL * 4 (options included); IPv6: 40 */
	size_t udp_off;		/* == ip_hlen: UDP directly after the IP header */
	size_t udp_len;		/* UDP length field == header + payload */
	size_t payload_off;	/* udp_off + 8 */
	size_t payload_len;	/* udp_len - 8 */
	struct gem_addr src;	/* IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d) */
	struct gem_addr grp;	/* destination (a group, for GEM) */
	uint16_t sport;		/* host byte order */
	uint16_t dport;
	uint16_t udp_csum;	/* as on the wire, host byte order; 0 = none (IPv4) */
};

/* struct in_addr / struct in6_addr -> struct gem_addr. */
void gem_addr_from_in(struct gem_addr *a, const struct in_addr *in);
void gem_addr_from_in6(struct gem_addr *a, const struct in6_addr *in6);
/* family AF_INET: addr is a struct in_addr, AF_INET6: a struct in6_addr.
 * Returns 0 or -EINVAL (unknown family). */
int gem_addr_from(struct gem_addr *a, int family, const void *addr);

/*
 * Build an IPv4 (20-byte header, id 0x1234, DF clear, ttl = hop_limit) or
 * IPv6 (40-byte header, next header UDP) packet from src to grp carrying a
 * UDP datagram with `payload` and a valid UDP checksum.  src and grp are
 * struct in_addr (AF_INET) or struct in6_addr (AF_INET6).
 * Returns 0, -EINVAL (family, NULL pointer) or -EMSGSIZE (too long for the
 * length fields, or does not fit cap).
 */
int gem_pkt_build_udp(int family, const void *src, const void *grp,
		      uint16_t sport, uint16_t dport,
		      const uint8_t *payload, size_t len, uint8_t hop_limit,
		      uint8_t *out, size_t cap, size_t *out_len);

/*
 * Parse a UDP-over-IP packet.  Rejects (-EINVAL) anything but IPv4 (with or
 * without options) or IPv6 with next header UDP, IP fragments, and any length
 * that disagrees with another or with `len`.  Does not check checksums.
 */
int gem_pkt_parse(const uint8_t *pkt, size_t len, struct gem_pkt_info *pi);

/*
 * Verify the packet's UDP checksum (and the IPv4 header checksum) by summing
 * everything including the checksum field, RFC 1071 style.  IPv4 UDP
 * checksum 0 (none) counts as good, IPv6 checksum 0 as bad.
 * Returns 1 good, 0 bad or unparsable.
 */
int gem_pkt_udp_csum_ok(const uint8_t *pkt, size_t len);

/*
 * The UDP checksum field value for the packet described by pi, computed over
 * pseudo-header, UDP header (checksum field taken as zero) and payload.
 * A computed 0 is returned as 0xffff (RFC 768).  Host byte order.
 */
uint16_t gem_pkt_udp_csum(const uint8_t *pkt, const struct gem_pkt_info *pi);

/* Store the value from gem_pkt_udp_csum() (or 0) into the packet. */
void gem_pkt_set_udp_csum(uint8_t *pkt, const struct gem_pkt_info *pi,
			  uint16_t csum);

/* The IPv4 header checksum field value for hdr[0..hlen). */
uint16_t gem_pkt_ipv4_hdr_csum(const uint8_t *hdr, size_t hlen);

#endif /* GEM_PKT_H */
