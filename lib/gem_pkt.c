// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Craft and inspect UDP-over-IP packets for the reference implementation
 * and the tests.  Everything is byte-oriented (no struct iphdr casts), so
 * unaligned buffers and any host byte order work.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "gem_pkt.h"

#define IPPROTO_UDP_NR	17
#define IPV4_OFF_TOTLEN	2
#define IPV4_OFF_FRAG	6
#define IPV4_OFF_PROTO	9
#define IPV4_OFF_CSUM	10
#define IPV4_OFF_SRC	12
#define IPV4_OFF_DST	16
#define IPV6_OFF_PLEN	4
#define IPV6_OFF_NH	6
#define IPV6_OFF_SRC	8
#define IPV6_OFF_DST	24
#define IPV4_FRAG_MASK	0x3fff	/* MF flag and fragment offset */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* 4 address bytes as on the wire -> ::ffff:a.b.c.d */
static void map4(struct gem_addr *a, const uint8_t *p)
{
	memset(a->a, 0, 10);
	a->a[10] = 0xff;
	a->a[11] = 0xff;
	memcpy(&a->a[12], p, 4);
}

void gem_addr_from_in(struct gem_addr *a, const struct in_addr *in)
{
	/* s_addr is already in network byte order */
	map4(a, (const uint8_t *)&in->s_addr);
}

void gem_addr_from_in6(struct gem_addr *a, const struct in6_addr *in6)
{
	memcpy(a->a, in6->s6_addr, 16);
}

int gem_addr_from(struct gem_addr *a, int family, const void *addr)
{
	if (!a || !addr)
		return -EINVAL;
	if (family == AF_INET)
		gem_addr_from_in(a, addr);
	else if (family == AF_INET6)
		gem_addr_from_in6(a, addr);
	else
		return -EINVAL;
	return 0;
}

/* ---- checksum computation (what we write) ------------------------------- */

/* One's complement sum of big-endian 16-bit words; an odd tail byte is
 * padded with zero.  Callers only chain pieces of even length, so word
 * boundaries never shift.  32 bits cannot overflow for 64 KiB of data. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	while (n > 1) {
		sum += get16(p);
		p += 2;
		n -= 2;
	}
	if (n)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint16_t gem_pkt_ipv4_hdr_csum(const uint8_t *hdr, size_t hlen)
{
	uint32_t sum;

	/* skip the checksum field itself rather than zeroing a const buffer */
	sum = csum_add(0, hdr, IPV4_OFF_CSUM);
	sum = csum_add(sum, hdr + IPV4_OFF_CSUM + 2, hlen - IPV4_OFF_CSUM - 2);
	return (uint16_t)~csum_fold(sum);
}

static uint32_t pseudo_sum(const uint8_t *pkt, const struct gem_pkt_info *pi)
{
	uint32_t sum = 0;

	if (pi->family == AF_INET) {
		sum = csum_add(sum, pkt + IPV4_OFF_SRC, 8);	/* src, dst */
		sum += IPPROTO_UDP_NR;
		sum += (uint32_t)pi->udp_len;
	} else {
		sum = csum_add(sum, pkt + IPV6_OFF_SRC, 32);	/* src, dst */
		/* 32-bit upper-layer length: the high half is 0 for UDP */
		sum += (uint32_t)pi->udp_len;
		sum += IPPROTO_UDP_NR;
	}
	return sum;
}

uint16_t gem_pkt_udp_csum(const uint8_t *pkt, const struct gem_pkt_info *pi)
{
	const uint8_t *udp = pkt + pi->udp_off;
	uint32_t sum;
	uint16_t c;

	sum = pseudo_sum(pkt, pi);
	sum = csum_add(sum, udp, 6);		/* ports, length; not the checksum */
	sum = csum_add(sum, udp + GEM_UDP_HLEN, pi->payload_len);
	c = (uint16_t)~csum_fold(sum);
	/* RFC 768: a computed 0 is sent as all ones; 0 means "no checksum" */
	return c ? c : 0xffff;
}

void gem_pkt_set_udp_csum(uint8_t *pkt, const struct gem_pkt_info *pi,
			  uint16_t csum)
{
	put16(pkt + pi->udp_off + 6, csum);
}

/* ---- parsing ------------------------------------------------------------- */

int gem_pkt_parse(const uint8_t *pkt, size_t len, struct gem_pkt_info *pi)
{
	const uint8_t *udp;
	size_t hlen, ip_len;

	if (!pkt || !pi || len < 1)
		return -EINVAL;
	memset(pi, 0, sizeof(*pi));

	switch (pkt[0] >> 4) {
	case 4:
		if (len < GEM_IPV4_HLEN)
			return -EINVAL;
		hlen = (size_t)(pkt[0] & 0x0f) * 4;
		if (hlen < GEM_IPV4_HLEN || hlen > len)
			return -EINVAL;
		ip_len = get16(pkt + IPV4_OFF_TOTLEN);
		if (ip_len != len)
			return -EINVAL;
		/* a fragment is not a whole datagram: nothing to seal or open */
		if (get16(pkt + IPV4_OFF_FRAG) & IPV4_FRAG_MASK)
			return -EINVAL;
		if (pkt[IPV4_OFF_PROTO] != IPPROTO_UDP_NR)
			return -EINVAL;
		pi->family = AF_INET;
		map4(&pi->src, pkt + IPV4_OFF_SRC);
		map4(&pi->grp, pkt + IPV4_OFF_DST);
		break;
	case 6:
		if (len < GEM_IPV6_HLEN)
			return -EINVAL;
		hlen = GEM_IPV6_HLEN;
		/* payload length 0 would be a jumbogram: not handled */
		ip_len = GEM_IPV6_HLEN + (size_t)get16(pkt + IPV6_OFF_PLEN);
		if (ip_len != len)
			return -EINVAL;
		/* extension headers before UDP are not handled (fail closed) */
		if (pkt[IPV6_OFF_NH] != IPPROTO_UDP_NR)
			return -EINVAL;
		pi->family = AF_INET6;
		memcpy(pi->src.a, pkt + IPV6_OFF_SRC, 16);
		memcpy(pi->grp.a, pkt + IPV6_OFF_DST, 16);
		break;
	default:
		return -EINVAL;
	}

	if (len - hlen < GEM_UDP_HLEN)
		return -EINVAL;
	udp = pkt + hlen;
	/* the UDP length must account for exactly the rest of the datagram */
	if (get16(udp + 4) != len - hlen)
		return -EINVAL;

	pi->ip_hlen = hlen;
	pi->udp_off = hlen;
	pi->udp_len = len - hlen;
	pi->payload_off = hlen + GEM_UDP_HLEN;
	pi->payload_len = pi->udp_len - GEM_UDP_HLEN;
	pi->sport = get16(udp);
	pi->dport = get16(udp + 2);
	pi->udp_csum = get16(udp + 6);
	return 0;
}

/* ---- verification ---------------------------------------------------------- */

/*
 * Deliberately a separate piece of arithmetic from csum_add()/csum_fold():
 * the verifier sums *including* the checksum field (RFC 1071 section 1:
 * the result must be all ones), 64-bit accumulator, folded at the end, over
 * a pseudo-header built byte by byte.  A bug in the writer is then not
 * mirrored by the checker.
 */
static uint64_t verify_sum(uint64_t acc, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		acc += ((uint64_t)p[i] << 8) + p[i + 1];
	if (n & 1)
		acc += (uint64_t)p[n - 1] << 8;
	return acc;
}

static int verify_all_ones(uint64_t acc)
{
	while (acc > 0xffff)
		acc = (acc >> 16) + (acc & 0xffff);
	return acc == 0xffff;
}

int gem_pkt_udp_csum_ok(const uint8_t *pkt, size_t len)
{
	struct gem_pkt_info pi;
	uint8_t ph[40];
	size_t phlen;
	uint64_t acc;

	if (gem_pkt_parse(pkt, len, &pi))
		return 0;

	if (pi.family == AF_INET) {
		if (!verify_all_ones(verify_sum(0, pkt, pi.ip_hlen)))
			return 0;
		if (pi.udp_csum == 0)
			return 1;	/* RFC 768: sender computed none */
		memcpy(ph, pkt + IPV4_OFF_SRC, 8);
		ph[8] = 0;
		ph[9] = IPPROTO_UDP_NR;
		ph[10] = pi.udp_len >> 8;
		ph[11] = pi.udp_len & 0xff;
		phlen = 12;
	} else {
		if (pi.udp_csum == 0)
			return 0;	/* RFC 8200 8.1: mandatory over IPv6 */
		memcpy(ph, pkt + IPV6_OFF_SRC, 32);
		ph[32] = 0;
		ph[33] = 0;
		ph[34] = pi.udp_len >> 8;
		ph[35] = pi.udp_len & 0xff;
		ph[36] = 0;
		ph[37] = 0;
		ph[38] = 0;
		ph[39] = IPPROTO_UDP_NR;
		phlen = 40;
	}
	acc = verify_sum(0, ph, phlen);
	acc = verify_sum(acc, pkt + pi.udp_off, pi.udp_len);
	return verify_all_ones(acc);
}

/* ---- building ---------------------------------------------------------------- */

int gem_pkt_build_udp(int family, const void *src, const void *grp,
		      uint16_t sport, uint16_t dport,
		      const uint8_t *payload, size_t len, uint8_t hop_limit,
		      uint8_t *out, size_t cap, size_t *out_len)
{
	struct gem_pkt_info pi;
	size_t hlen, total;
	uint8_t *udp;
	int err;

	if (!src || !grp || !out || !out_len || (len && !payload))
		return -EINVAL;
	if (family == AF_INET)
		hlen = GEM_IPV4_HLEN;
	else if (family == AF_INET6)
		hlen = GEM_IPV6_HLEN;
	else
		return -EINVAL;
	/* IPv4 total length and IPv6 payload/UDP length are 16-bit fields */
	if (len > 0xffff - GEM_UDP_HLEN - (family == AF_INET ? hlen : 0))
		return -EMSGSIZE;
	total = hlen + GEM_UDP_HLEN + len;
	if (cap < total)
		return -EMSGSIZE;

	memset(out, 0, hlen + GEM_UDP_HLEN);
	if (family == AF_INET) {
		const struct in_addr *s = src, *g = grp;

		out[0] = 0x45;			/* version 4, IHL 5 */
		put16(out + IPV4_OFF_TOTLEN, (uint16_t)total);
		put16(out + 4, 0x1234);		/* id: any fixed value */
		/* frag_off 0: DF clear, so a router may still fragment */
		out[8] = hop_limit;
		out[IPV4_OFF_PROTO] = IPPROTO_UDP_NR;
		memcpy(out + IPV4_OFF_SRC, &s->s_addr, 4);
		memcpy(out + IPV4_OFF_DST, &g->s_addr, 4);
		put16(out + IPV4_OFF_CSUM, gem_pkt_ipv4_hdr_csum(out, hlen));
	} else {
		const struct in6_addr *s = src, *g = grp;

		out[0] = 0x60;			/* version 6, class 0, flow 0 */
		put16(out + IPV6_OFF_PLEN, (uint16_t)(GEM_UDP_HLEN + len));
		out[IPV6_OFF_NH] = IPPROTO_UDP_NR;
		out[7] = hop_limit;
		memcpy(out + IPV6_OFF_SRC, s->s6_addr, 16);
		memcpy(out + IPV6_OFF_DST, g->s6_addr, 16);
	}
	udp = out + hlen;
	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, (uint16_t)(GEM_UDP_HLEN + len));
	if (len)
		memcpy(udp + GEM_UDP_HLEN, payload, len);

	/* going through the parser also proves the result is well formed */
	err = gem_pkt_parse(out, total, &pi);
	if (err)
		return err;
	gem_pkt_set_udp_csum(out, &pi, gem_pkt_udp_csum(out, &pi));
	*out_len = total;
	return 0;
}
