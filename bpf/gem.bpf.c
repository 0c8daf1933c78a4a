// SPDX-License-Identifier: GPL-2.0
/*
 * GEM data plane.
 *   gem_egress  (TC, clsact egress of the WAN device): seal protected streams.
 *   gem_ingress (XDP on the WAN device): verify, replay-check, decrypt, restore.
 *   gem_lan_egress (TC, clsact egress of a LAN device): never deliver a
 *               transit group's (sealed) packets to a LAN.
 *   gem_ctl     (SEC("syscall"), run by user space): load group keys and SEKs;
 *               SEKs only ever exist in the kernel behind kptrs: crypto
 *               contexts (suites 1-3), ChaCha20 key objects (suite 4).
 * Wire format: docs/PROTOCOL.md.  Shared layouts: gem_common.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "gem_crypto.bpf.h"
#include "gem_errno.h"

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define ETH_P_8021Q	0x8100
#define ETH_P_8021AD	0x88A8
#define GEM_L3_MAX	(14 + 2 * 4)	/* IP header offset: Ethernet + two VLAN tags */
#define IPPROTO_HOPOPTS	0
#define IPPROTO_IGMP	2
#define IPPROTO_UDP	17
#define IPPROTO_FRAG6	44
#define IPPROTO_ICMPV6	58
#define TC_ACT_OK	0
#define TC_ACT_SHOT	2
#define CHECKSUM_PARTIAL 3

/* ---- maps (layouts in gem_common.h) ------------------------------------------ */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct gem_addr);
	__type(value, struct gem_group);
} gem_groups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct gem_sg);
	__type(value, struct gem_tx_stream);
} gem_tx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct gem_sg);
	__type(value, struct gem_rx_stream);
} gem_rx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GEM_C_MAX);
	__type(key, __u32);
	__type(value, __u64);
} gem_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} gem_events SEC(".maps");

/* (S,G) already reported as "no key"; user space deletes an entry when it
 * installs that stream's key.  LRU: a flood of new streams cannot fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct gem_sg);
	__type(value, __u64);
} gem_notified SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct gem_iface);
} gem_ifaces SEC(".maps");

/* Group filter: groups per bucket of addresses (gem_common.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gem_gfilter);
} gem_gfilter SEC(".maps");

/* What pinned all this (gem_common.h); no program reads it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gem_stamp);
} gem_stamp SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&gem_counters, &idx);

	if (v)
		*v += 1;
}

/* ---- parsing --------------------------------------------------------------- */

/* May the group with these address words (as in memory) be in gem_groups?
 * 0 only when its gem_gfilter bucket is empty: then it certainly is not. */
static __always_inline int gem_gf_maybe(__u32 w0, __u32 w1, __u32 w2, __u32 w3)
{
	__u32 z = 0;
	struct gem_gfilter *f = bpf_map_lookup_elem(&gem_gfilter, &z);

	/* an array's entry 0 is never missing; if it were, look the group up */
	return !f || f->n[gem_gf_bucket(w0, w1, w2, w3)] != 0;
}

enum { P_PASS, P_PROTECTED, P_SHORT, P_DROP };

/* Fill p for a frame at [data, data_end).  Returns P_PASS for anything that is
 * not for a protected group (and IGMP/MLD to one), P_PROTECTED for UDP to a
 * protected group with the group in *gp, P_SHORT when the headers are not in
 * the linear area, P_DROP with *why set otherwise.  At ingress (XDP: the
 * frame's first buffer is linear) a frame too short for its IP header is
 * not ours to judge: it passes, and the stack drops it. */
static __always_inline int gem_parse(void *data, void *data_end, struct gem_pkt *p,
				     struct gem_group **gp, __u32 *why, int tx)
{
	struct ethhdr *eth = data;
	struct udphdr *uh;
	struct gem_group *g;
	__u32 l3 = sizeof(*eth);
	__be16 h_proto;
	__u8 proto;

	if ((void *)(eth + 1) > data_end)
		return P_PASS;
	h_proto = eth->h_proto;
	/* up to two VLAN tags (802.1Q, 802.1ad) in the frame: the packet
	 * inside is judged like an untagged one, so a tagged frame to a
	 * protected group is sealed/opened, never passed in clear; a third
	 * tag is not parsed: dropped as malformed (fail closed).  A tag the
	 * driver keeps out of band (skb->vlan_tci) is not in the frame at all. */
	if (h_proto == bpf_htons(ETH_P_8021Q) || h_proto == bpf_htons(ETH_P_8021AD)) {
		struct vlan_hdr *vh = data + l3;

		if ((void *)(vh + 1) > data_end)
			return tx ? P_SHORT : P_PASS;
		h_proto = vh->h_vlan_encapsulated_proto;
		l3 += sizeof(*vh);
		if (h_proto == bpf_htons(ETH_P_8021Q) || h_proto == bpf_htons(ETH_P_8021AD)) {
			vh = data + l3;
			if ((void *)(vh + 1) > data_end)
				return tx ? P_SHORT : P_PASS;
			h_proto = vh->h_vlan_encapsulated_proto;
			l3 += sizeof(*vh);
			if (h_proto == bpf_htons(ETH_P_8021Q) ||
			    h_proto == bpf_htons(ETH_P_8021AD)) {
				*why = tx ? GEM_C_TX_MALFORMED : GEM_C_RX_MALFORMED;
				return P_DROP;
			}
		}
	}
	p->l3 = l3;
	if (h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + l3;

		if ((void *)(ip + 1) > data_end)
			return tx ? P_SHORT : P_PASS;
		/* not multicast: not ours, cheapest exit */
		if ((ip->daddr & bpf_htonl(0xf0000000)) != bpf_htonl(0xe0000000))
			return P_PASS;
		/* no protected group in its filter bucket: not ours, without
		 * building the key or hashing it (gem_gfilter) */
		if (!gem_gf_maybe(0, 0, bpf_htonl(0xffff), ip->daddr))
			return P_PASS;
		/* ::ffff:a.b.c.d in whole words: byte stores followed by the
		 * hash's word loads stall on store forwarding (~10 ns) */
		*(__u64 *)&p->sg.src.a[0] = 0;
		*(__u32 *)&p->sg.src.a[8] = bpf_htonl(0xffff);
		*(__u32 *)&p->sg.src.a[12] = ip->saddr;
		*(__u64 *)&p->sg.grp.a[0] = 0;
		*(__u32 *)&p->sg.grp.a[8] = bpf_htonl(0xffff);
		*(__u32 *)&p->sg.grp.a[12] = ip->daddr;
		g = bpf_map_lookup_elem(&gem_groups, &p->sg.grp);
		if (!g)
			return P_PASS;
		*gp = g;
		p->ipv4 = 1;
		p->ihl = ip->ihl * 4;
		p->ip_len = bpf_ntohs(ip->tot_len);
		if (ip->version != 4 || p->ihl < 20) {
			*why = tx ? GEM_C_TX_MALFORMED : GEM_C_RX_MALFORMED;
			return P_DROP;
		}
		if (ip->frag_off & bpf_htons(0x3fff)) {
			*why = tx ? GEM_C_TX_FRAGMENT : GEM_C_RX_FRAGMENT;
			return P_DROP;
		}
		proto = ip->protocol;
		if (proto == IPPROTO_IGMP)
			return P_PASS;
	} else if (h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + l3;

		if ((void *)(ip6 + 1) > data_end)
			return tx ? P_SHORT : P_PASS;
		if (ip6->daddr.in6_u.u6_addr8[0] != 0xff)
			return P_PASS;
		if (!gem_gf_maybe(ip6->daddr.in6_u.u6_addr32[0], ip6->daddr.in6_u.u6_addr32[1],
				  ip6->daddr.in6_u.u6_addr32[2], ip6->daddr.in6_u.u6_addr32[3]))
			return P_PASS;
		__builtin_memcpy(&p->sg.src, &ip6->saddr, 16);
		__builtin_memcpy(&p->sg.grp, &ip6->daddr, 16);
		g = bpf_map_lookup_elem(&gem_groups, &p->sg.grp);
		if (!g)
			return P_PASS;
		*gp = g;
		p->ipv4 = 0;
		p->ihl = 40;
		p->ip_len = 40 + bpf_ntohs(ip6->payload_len);
		proto = ip6->nexthdr;
		if (proto == IPPROTO_ICMPV6)
			return P_PASS;
		if (proto == IPPROTO_HOPOPTS) {
			/* MLD: ICMPv6 behind one hop-by-hop header */
			__u8 *nh = (void *)(ip6 + 1);

			if ((void *)(nh + 1) > data_end)
				return P_SHORT;
			if (*nh == IPPROTO_ICMPV6)
				return P_PASS;
		}
		if (proto == IPPROTO_FRAG6) {
			*why = tx ? GEM_C_TX_FRAGMENT : GEM_C_RX_FRAGMENT;
			return P_DROP;
		}
	} else {
		return P_PASS;
	}
	if (proto != IPPROTO_UDP) {
		*why = tx ? GEM_C_TX_NOT_UDP : GEM_C_RX_NOT_UDP;
		return P_DROP;
	}
	p->l4 = p->l3 + p->ihl;
	if (p->l4 > GEM_L3_MAX + 60)
		return P_SHORT;
	uh = data + p->l4;
	if ((void *)(uh + 1) > data_end)
		return P_SHORT;
	p->udp_len = bpf_ntohs(uh->len);
	p->udp_csum = uh->check;
	p->sport = uh->source;
	p->dport = uh->dest;
	return P_PROTECTED;
}

/* Lengths must agree: UDP length = IP payload length, IP packet within the
 * frame.  Returns 0 if consistent. */
static __always_inline int gem_check_lengths(const struct gem_pkt *p, __u32 frame_len)
{
	if (p->ip_len < p->ihl + 8 || p->l3 + p->ip_len > frame_len)
		return -1;
	if (p->udp_len != p->ip_len - p->ihl)
		return -1;
	return 0;
}

/* AAD = src || grp || sport || dport; the GEM header follows at 36. */
static __always_inline void gem_put_aad(struct gem_scratch *s, const struct gem_pkt *p)
{
	__builtin_memcpy(&s->msg[0], &p->sg, 32);
	__builtin_memcpy(&s->msg[32], &p->sport, 2);
	__builtin_memcpy(&s->msg[34], &p->dport, 2);
}

/* Sums (RFC 1071, native order) of the UDP pseudo-header and of the UDP
 * header with a zero checksum field, for a UDP length of ulen. */
static __always_inline __u64 gem_udp_pseudo_sum(const struct gem_pkt *p, __u16 ulen)
{
	__u64 sum;

	if (p->ipv4)
		sum = (__u64)*(__u32 *)&p->sg.src.a[12] + *(__u32 *)&p->sg.grp.a[12];
	else
		sum = gem_sum16(&p->sg.src) + gem_sum16(&p->sg.grp);
	return sum + bpf_htons(IPPROTO_UDP) + bpf_htons(ulen);
}

static __always_inline __u64 udp_hdr_sum(const struct gem_pkt *p, __u16 ulen)
{
	return (__u64)p->sport + p->dport + bpf_htons(ulen);
}

/* RFC 1624 incremental update of a 16-bit-field checksum. */
static __always_inline __u16 gem_csum_replace16(__u16 csum, __u16 old, __u16 new)
{
	__u32 s = (__u16)~csum + (__u16)~old + new;

	return ~gem_fold(s);
}

/* ---- transit groups (GEM_GROUP_F_TRANSIT) and the LAN role ----------------- */

/* A node that holds no key for a protected group relays its sealed packets
 * as they are and never delivers them to a LAN (docs/PROTOCOL.md 2.1).  It
 * cannot verify them: it checks their shape (lengths, room for the GEM
 * overhead, version, the group's suite), as every member does first, and
 * passes them for routing; the members behind it verify. */

/* 0 if a transit packet is GEM-shaped, else the reason (rx counter). */
static __always_inline __u32 gem_transit_shape(const struct gem_pkt *p,
					       const struct gem_group *g,
					       __u32 frame, const __u8 h[2])
{
	if (gem_check_lengths(p, frame) || p->udp_len < 8 + GEM_OVERHEAD)
		return GEM_C_RX_MALFORMED;
	if (p->udp_len - 8 - GEM_OVERHEAD > GEM_MAX_PT)
		return GEM_C_RX_TOO_BIG;
	if (h[0] != GEM_VERSION)
		return GEM_C_RX_VERSION;
	if (g->suite && h[1] != g->suite)
		return GEM_C_RX_SUITE;
	return 0;
}

/* Ingress (XDP, WAN) of a transit group's packet: passed sealed, to be
 * routed on to other routers (rx_transit); a packet no member could open
 * is dropped as at a member. */
static __always_inline int gem_rx_transit(struct xdp_md *xdp, const struct gem_pkt *p,
					  const struct gem_group *g)
{
	__u8 h[2] = { 0, 0 };
	__u32 why;

	if (bpf_xdp_load_bytes(xdp, p->l4 + 8, h, 2))
		h[0] = 0;	/* too short: the length check says so */
	why = gem_transit_shape(p, g, bpf_xdp_get_buff_len(xdp), h);
	if (why) {
		count(why);
		return XDP_DROP;
	}
	count(GEM_C_RX_TRANSIT);
	return XDP_PASS;
}

/* WAN egress of a transit group's packet: relayed as it is when GEM-shaped
 * (tx_transit).  Anything else (the node's own LAN hosts sending in clear)
 * cannot be sealed here: dropped (tx_transit_clear), never sent in clear. */
static __always_inline int gem_tx_transit(struct __sk_buff *skb, const struct gem_pkt *p,
					  const struct gem_group *g)
{
	__u8 h[2] = { 0, 0 };

	if (bpf_skb_load_bytes(skb, p->l4 + 8, h, 2))
		h[0] = 0;
	if (gem_transit_shape(p, g, skb->len, h)) {
		count(GEM_C_TX_TRANSIT_CLEAR);
		return TC_ACT_SHOT;
	}
	count(GEM_C_TX_TRANSIT);
	return TC_ACT_OK;
}

/* gem_lan_egress (TC, clsact egress of a LAN-facing device, gem-load attach
 * DEV --role lan): what the node delivers to a LAN.  Packets of a transit
 * group are dropped whatever they carry (lan_sealed_drop): the node cannot
 * open them, so they are ciphertext or unverifiable.  A keyed group's
 * packets pass (lan_pass): ingress opened them or dropped them (a member
 * without the stream's SEK drops at ingress: rx_no_key, rx_key_id).
 * Everything else passes uncounted. */
SEC("tc")
int gem_lan_egress(struct __sk_buff *skb)
{
	struct gem_group *g = NULL;
	struct gem_scratch *s;
	__u32 why = 0;
	int r;

	s = gem_scratch_get();
	if (!s)
		return TC_ACT_SHOT;	/* cannot happen: a per-CPU array slot */
	r = gem_parse((void *)(long)skb->data, (void *)(long)skb->data_end, &s->pkt, &g, &why, 1);
	if (r == P_SHORT) {
		g = NULL;
		if (bpf_skb_pull_data(skb, skb->len < GEM_L3_MAX + 60 + 8 ? skb->len
							     : GEM_L3_MAX + 60 + 8))
			return TC_ACT_SHOT;
		r = gem_parse((void *)(long)skb->data, (void *)(long)skb->data_end,
			      &s->pkt, &g, &why, 1);
	}
	if (!g || r == P_PASS)
		return TC_ACT_OK;	/* not a protected group's data (IGMP/MLD included) */
	if (g->flags & GEM_GROUP_F_TRANSIT) {
		count(GEM_C_LAN_SEALED_DROP);
		return TC_ACT_SHOT;
	}
	count(GEM_C_LAN_PASS);
	return TC_ACT_OK;
}

/* ---- egress ---------------------------------------------------------------- */

static __always_inline void notify_no_key(struct __sk_buff *skb, const struct gem_sg *sg)
{
	__u64 now = bpf_ktime_get_ns();
	struct gem_event *ev;

	if (bpf_map_update_elem(&gem_notified, sg, &now, BPF_NOEXIST))
		return;
	ev = bpf_ringbuf_reserve(&gem_events, sizeof(*ev), 0);
	if (!ev)
		return;
	ev->type = GEM_EV_TX_NO_KEY;
	ev->ifindex = skb->ifindex;
	ev->sg = *sg;
	bpf_ringbuf_submit(ev, 0);
}

SEC("tc")
int gem_egress(struct __sk_buff *skb)
{
	struct gem_group *g = NULL;
	struct gem_tx_stream *st;
	struct bpf_crypto_ctx *ctx;
	struct gem_chacha_key *ck;
	struct gem_scratch *s;
	struct gem_pkt *p;
	__u32 why = GEM_C_TX_MALFORMED, L, mtu = 0, kid, c, aead, have, su;
	__u64 n;
	__u64 pn, sum;
	__u16 ulen, csum, tlen;
	int r;

	s = gem_scratch_get();
	if (!s)
		return TC_ACT_SHOT;	/* cannot happen: a per-CPU array slot */
	p = &s->pkt;
	r = gem_parse((void *)(long)skb->data, (void *)(long)skb->data_end, p, &g, &why, 1);
	if (r == P_SHORT) {
		/* headers not in the linear area: pull them and look again */
		if (bpf_skb_pull_data(skb, skb->len < GEM_L3_MAX + 60 + 8 ? skb->len
							     : GEM_L3_MAX + 60 + 8))
			goto drop;
		r = gem_parse((void *)(long)skb->data, (void *)(long)skb->data_end,
			      p, &g, &why, 1);
		if (r == P_SHORT) {
			why = GEM_C_TX_MALFORMED;
			goto drop;
		}
	}
	if (r == P_PASS) {
		count(GEM_C_TX_PASS);
		return TC_ACT_OK;
	}
	if (r != P_PROTECTED || !g)
		goto drop;
	if (g->flags & GEM_GROUP_F_TRANSIT)
		return gem_tx_transit(skb, p, g);
	why = GEM_C_TX_MALFORMED;
	if (gem_check_lengths(p, skb->len))
		goto drop;
	if (skb->gso_segs > 1 || skb->gso_size) {
		why = GEM_C_TX_GSO;
		goto drop;
	}
	L = p->udp_len - 8;
	barrier_var(L);
	if (L > GEM_MAX_PT) {
		why = GEM_C_TX_TOO_BIG;
		goto drop;
	}
	/* the rule is on the IP packet (docs/PROTOCOL.md 8): in-frame VLAN
	 * tags do not count, so the helper is given the L3 length */
	mtu = p->ip_len;
	if (bpf_check_mtu(skb, 0, &mtu, GEM_OVERHEAD, 0)) {
		why = GEM_C_TX_MTU;
		goto drop;
	}
	st = bpf_map_lookup_elem(&gem_tx, &p->sg);
	if (!st) {
		notify_no_key(skb, &p->sg);
		why = GEM_C_TX_NO_KEY;
		goto drop;
	}
	/* (key id, key, packet number) from one slot, atomically; suite 4's
	 * key words are copied under the lock, so a key load may wipe the
	 * object it replaces (ctl_put_key) */
	su = g->suite;	/* once: sealed and MACed as one suite, known to the verifier */
	aead = su == GEM_SUITE_CHACHA20_POLY1305;
	bpf_spin_lock(&st->lock);
	c = st->cur & 1;
	kid = st->key_id[c];
	pn = st->next_pn;
	if (kid <= 0xffff && pn < GEM_PN_LIMIT)
		st->next_pn = pn + 1;
	ctx = c ? st->ctx1 : st->ctx0;
	ck = c ? st->ck1 : st->ck0;
	have = 0;
	if (aead && ck) {
		gem_chacha_setup(s, ck, pn, kid);
		have = 1;
	} else if (!aead && ctx) {
		have = 1;
	}
	bpf_spin_unlock(&st->lock);
	if (kid > 0xffff || !have) {
		if (aead)
			gem_chacha_wipe(s);
		notify_no_key(skb, &p->sg);
		why = GEM_C_TX_NO_KEY;
		goto drop;
	}
	if (pn >= GEM_PN_LIMIT) {
		if (aead)
			gem_chacha_wipe(s);
		why = GEM_C_TX_PN_EXHAUSTED;
		goto drop;
	}

	why = GEM_C_TX_ERROR;
	gem_put_aad(s, p);
	s->msg[36] = GEM_VERSION;
	s->msg[37] = su;
	*(__u16 *)&s->msg[38] = bpf_htons(kid);
	*(__u64 *)&s->msg[40] = __builtin_bswap64(pn);
	n = gem_bounded(L, GEM_MAX_PT);
	if (aead) {
		/* RFC 8439 2.8: block 0's first 32 bytes key Poly1305, the
		 * payload is encrypted from block 1 */
		if (n && bpf_skb_load_bytes(skb, p->l4 + 8, &s->msg[GEM_AAD_LEN], n)) {
			gem_chacha_wipe(s);
			goto drop;
		}
		r = gem_chacha_ks(s, 0, 1);
		if (!r)
			r = gem_chacha_xor(s, (L + 63) / 64, L, &sum);
		gem_chacha_wipe(s);
		if (r)
			goto drop;
		__builtin_memcpy(s->otk, s->ks, 32);
	} else if (n && bpf_skb_load_bytes(skb, p->l4 + 8, &s->msg[GEM_AAD_LEN], n)) {
		goto drop;
	} else if (su == GEM_SUITE_POLY1305) {
		/* one kfunc call: blocks 0-1 (the one-time key) and the payload's */
		if (!ctx || gem_keystream(ctx, s, pn, kid, 0,
					  (L + 15) / 16 + GEM_CTR_FIRST_PAYLOAD_BLOCK))
			goto drop;
		__builtin_memcpy(s->otk, s->ks, 32);
		sum = gem_xor_sum_off(s, L, 32);
	} else {
		if (!ctx || gem_keystream(ctx, s, pn, kid, GEM_CTR_FIRST_PAYLOAD_BLOCK,
					  (L + 15) / 16))
			goto drop;
		sum = gem_xor_sum(s, L);
	}
	n = GEM_AAD_LEN + L;
	if (gem_mac_su(s, g, su, g->tx, n))	/* suites 1, 2: the tx slot's group key */
		goto drop;
	if (n > GEM_AAD_LEN + GEM_MAX_PT)
		goto drop;
	__builtin_memcpy(&s->msg[n], s->tag, GEM_TAG_LEN);

	/* grow by 28 and write header || ciphertext || tag after the UDP header;
	 * the IP and UDP headers stay where they are */
	if (bpf_skb_change_tail(skb, skb->len + GEM_OVERHEAD, 0))
		goto drop;
	n = gem_bounded(GEM_OVERHEAD + L, GEM_OVERHEAD + GEM_MAX_PT);
	if (!n || bpf_skb_store_bytes(skb, p->l4 + 8, &s->msg[36], n, 0))
		goto drop;

	ulen = p->udp_len + GEM_OVERHEAD;
	tlen = p->ip_len + GEM_OVERHEAD - (p->ipv4 ? 0 : 40);
	if (p->ipv4) {
		__u16 old = bpf_htons(p->ip_len), new = bpf_htons(tlen);

		if (bpf_l3_csum_replace(skb, p->l3 + 10, old, new, 2) ||
		    bpf_skb_store_bytes(skb, p->l3 + 2, &new, 2, 0))
			goto drop;
	} else {
		__u16 new = bpf_htons(tlen);

		if (bpf_skb_store_bytes(skb, p->l3 + 4, &new, 2, 0))
			goto drop;
	}
	{
		__u16 nl = bpf_htons(ulen);

		if (bpf_skb_store_bytes(skb, p->l4 + 4, &nl, 2, 0))
			goto drop;
	}
	{
		struct sk_buff *k = bpf_cast_to_kern_ctx(skb);

		if (k->ip_summed == CHECKSUM_PARTIAL) {
			/* the device (or skb_checksum_help) completes it from
			 * csum_start, which still points at the UDP header:
			 * leave the pseudo-header sum for the new length */
			csum = gem_fold(gem_udp_pseudo_sum(p, ulen));
		} else if (p->ipv4 && p->udp_csum == 0) {
			csum = 0;	/* IPv4 without UDP checksum stays so */
		} else {
			__u16 tf = gem_fold(gem_sum16(s->tag));

			/* the tag starts at an odd UDP offset when L is odd:
			 * its 16-bit words then straddle, i.e. its sum swaps */
			if (L & 1)
				tf = (__u16)((tf >> 8) | (tf << 8));
			sum += gem_udp_pseudo_sum(p, ulen) + udp_hdr_sum(p, ulen) +
			       *(__u32 *)&s->msg[36] + *(__u32 *)&s->msg[40] +
			       *(__u32 *)&s->msg[44] + tf;
			csum = ~gem_fold(sum);
			if (csum == 0)
				csum = 0xffff;
		}
		if (bpf_skb_store_bytes(skb, p->l4 + 6, &csum, 2, 0))
			goto drop;
	}
	__sync_fetch_and_add(&st->packets, 1);
	__sync_fetch_and_add(&st->bytes, L);
	count(GEM_C_TX_SEALED);
	return TC_ACT_OK;
drop:
	count(why);
	return TC_ACT_SHOT;
}

/* ---- ingress --------------------------------------------------------------- */

/* Replay window over 4 x 64-bit words used as a ring (RFC 6479 style):
 * word (pn / 64) % 4, bit pn % 64.  A pn is inside the window while its
 * word has not been recycled, i.e. pn/64 + 3 >= (top-1)/64: a packet 192 or
 * fewer below the highest accepted is always inside, 256 or more never. */
static __always_inline int gem_replay_check(struct gem_replay *r, __u64 pn)
{
	__u64 blk = pn >> 6, bit = 1ULL << (pn & 63), top_blk;
	__u32 k;

	if (r->top == 0 || pn >= r->top) {
		top_blk = r->top ? (r->top - 1) >> 6 : 0;
		if (r->top == 0 || blk - top_blk >= GEM_REPLAY_WORDS) {
			for (k = 0; k < GEM_REPLAY_WORDS; k++)
				r->bits[k] = 0;
		} else {
			for (k = 1; k < GEM_REPLAY_WORDS; k++)
				if (top_blk + k <= blk)
					r->bits[(top_blk + k) & 3] = 0;
		}
		r->top = pn + 1;
		r->bits[blk & 3] |= bit;
		return 0;
	}
	top_blk = (r->top - 1) >> 6;
	if (blk + GEM_REPLAY_WORDS - 1 < top_blk)
		return GEM_C_RX_TOO_OLD;
	if (r->bits[blk & 3] & bit)
		return GEM_C_RX_REPLAY;
	r->bits[blk & 3] |= bit;
	return 0;
}

SEC("xdp")
int gem_ingress(struct xdp_md *xdp)
{
	void *data = (void *)(long)xdp->data, *data_end = (void *)(long)xdp->data_end;
	struct gem_group *g = NULL;
	struct gem_rx_stream *st;
	struct bpf_crypto_ctx *ctx = NULL;
	struct gem_chacha_key *ck = NULL;
	struct gem_scratch *s;
	struct gem_pkt *p;
	__u32 why = GEM_C_RX_MALFORMED, L, frame, slot = 0, aead, have = 0, su;
	__u64 n;
	__u64 pn, sum;
	__u16 kid, ulen, tlen, csum;
	int r;

	s = gem_scratch_get();
	if (!s)
		return XDP_DROP;
	p = &s->pkt;
	r = gem_parse(data, data_end, p, &g, &why, 0);
	if (r == P_PASS) {
		count(GEM_C_RX_PASS);
		return XDP_PASS;
	}
	if (r == P_SHORT)
		why = GEM_C_RX_MALFORMED;
	if (r != P_PROTECTED || !g)
		goto drop;
	if (g->flags & GEM_GROUP_F_TRANSIT)
		return gem_rx_transit(xdp, p, g);
	frame = bpf_xdp_get_buff_len(xdp);
	if (gem_check_lengths(p, frame) || p->udp_len < 8 + GEM_OVERHEAD)
		goto drop;
	L = p->udp_len - 8 - GEM_OVERHEAD;
	barrier_var(L);
	if (L > GEM_MAX_PT) {
		why = GEM_C_RX_TOO_BIG;
		goto drop;
	}
	why = GEM_C_RX_ERROR;
	/* AAD || GEM header || ciphertext, and the received tag */
	gem_put_aad(s, p);
	n = gem_bounded(GEM_HDR_LEN + L, GEM_HDR_LEN + GEM_MAX_PT);
	if (!n || bpf_xdp_load_bytes(xdp, p->l4 + 8, &s->msg[36], n) ||
	    bpf_xdp_load_bytes(xdp, p->l4 + 8 + GEM_HDR_LEN + L, s->rtag, GEM_TAG_LEN))
		goto drop;
	if (s->msg[36] != GEM_VERSION) {
		why = GEM_C_RX_VERSION;
		goto drop;
	}
	su = g->suite;	/* once: the verifier then knows it on each path */
	if (s->msg[37] != su) {
		why = GEM_C_RX_SUITE;
		goto drop;
	}
	kid = bpf_ntohs(*(__u16 *)&s->msg[38]);
	pn = __builtin_bswap64(*(__u64 *)&s->msg[40]);

	st = bpf_map_lookup_elem(&gem_rx, &p->sg);
	if (!st) {
		why = GEM_C_RX_NO_KEY;
		goto drop;
	}
	aead = su == GEM_SUITE_CHACHA20_POLY1305;
	bpf_spin_lock(&st->lock);
	if (st->key_id[0] == kid) {
		slot = 0;
		ctx = st->ctx0;
		ck = st->ck0;
	} else if (st->key_id[1] == kid) {
		slot = 1;
		ctx = st->ctx1;
		ck = st->ck1;
	}
	if (aead && ck) {
		gem_chacha_setup(s, ck, pn, kid);	/* under the lock: see egress */
		have = 1;
	} else if (!aead && ctx) {
		have = 1;
	}
	bpf_spin_unlock(&st->lock);
	if (!have) {
		why = GEM_C_RX_KEY_ID;
		goto drop_stream;
	}
	/* no sender seals at or above the limit; above it `top = pn + 1`
	 * of the replay window could wrap to 0, the empty window */
	if (pn >= GEM_PN_LIMIT) {
		why = GEM_C_RX_PN_LIMIT;
		goto drop_stream;
	}

	/* 1. tag, constant time (suite 3: its key is keystream blocks 0-1,
	 * suite 4: ChaCha20 block 0, so a forgery costs one or two blocks,
	 * not the whole packet) */
	if (aead) {
		if (gem_chacha_ks(s, 0, 1)) {
			why = GEM_C_RX_ERROR;
			goto drop_stream;
		}
		__builtin_memcpy(s->otk, s->ks, 32);
	} else if (su == GEM_SUITE_POLY1305) {
		if (!ctx || gem_keystream(ctx, s, pn, kid, 0, 2)) {
			why = GEM_C_RX_ERROR;
			goto drop_stream;
		}
		__builtin_memcpy(s->otk, s->ks, 32);
	}
	n = GEM_AAD_LEN + L;
	r = gem_tag_check(s, g, su, n);
	if (r) {
		why = r < 0 ? GEM_C_RX_ERROR : GEM_C_RX_BAD_TAG;
		goto drop_stream;
	}
	/* 2. replay window of that key slot */
	bpf_spin_lock(&st->lock);
	if (st->key_id[slot & 1] == kid)
		r = gem_replay_check(&st->replay[slot & 1], pn);
	else
		r = GEM_C_RX_KEY_ID;	/* slot re-keyed meanwhile */
	bpf_spin_unlock(&st->lock);
	if (r) {
		why = r;
		goto drop_stream;
	}
	/* 3. decrypt */
	why = GEM_C_RX_ERROR;
	if (aead) {
		r = gem_chacha_xor(s, (L + 63) / 64, L, &sum);
		gem_chacha_wipe(s);
		if (r)
			goto drop_stream;
	} else {
		if (!ctx || gem_keystream(ctx, s, pn, kid, GEM_CTR_FIRST_PAYLOAD_BLOCK,
					  (L + 15) / 16))
			goto drop_stream;
		sum = gem_xor_sum(s, L);
	}

	/* 4. restore: plaintext right after the UDP header, cut 28 bytes */
	n = gem_bounded(L, GEM_MAX_PT);
	if (n && bpf_xdp_store_bytes(xdp, p->l4 + 8, &s->msg[GEM_AAD_LEN], n))
		goto drop_stream;
	if (bpf_xdp_adjust_tail(xdp, (int)(p->l3 + p->ip_len - GEM_OVERHEAD) - (int)frame))
		goto drop_stream;
	data = (void *)(long)xdp->data;
	data_end = (void *)(long)xdp->data_end;
	ulen = p->udp_len - GEM_OVERHEAD;
	tlen = p->ip_len - GEM_OVERHEAD - (p->ipv4 ? 0 : 40);
	if (p->ipv4) {
		struct iphdr *ip = data + (p->l3 & 0x1f);

		if ((void *)(ip + 1) > data_end)
			goto drop_stream;
		ip->check = gem_csum_replace16(ip->check, ip->tot_len, bpf_htons(tlen));
		ip->tot_len = bpf_htons(tlen);
	} else {
		struct ipv6hdr *ip6 = data + (p->l3 & 0x1f);

		if ((void *)(ip6 + 1) > data_end)
			goto drop_stream;
		ip6->payload_len = bpf_htons(tlen);
	}
	{
		struct udphdr *uh = data + (p->l4 & 0x7f);

		if ((void *)(uh + 1) > data_end)
			goto drop_stream;
		uh->len = bpf_htons(ulen);
		if (p->ipv4 && p->udp_csum == 0) {
			csum = 0;
		} else {
			csum = ~gem_fold(sum + gem_udp_pseudo_sum(p, ulen) +
					 udp_hdr_sum(p, ulen));
			if (csum == 0)
				csum = 0xffff;
		}
		uh->check = csum;
	}
	__sync_fetch_and_add(&st->packets, 1);
	__sync_fetch_and_add(&st->bytes, L);
	count(GEM_C_RX_OPENED);
	if (s->mac_prev)
		count(GEM_C_RX_MAC_PREV);
	return XDP_PASS;
drop_stream:
	gem_chacha_wipe(s);
	__sync_fetch_and_add(&st->drops, 1);
drop:
	count(why);
	return XDP_DROP;
}

/* ---- key loading ---------------------------------------------------------- */

/* Suites this object can load here (bit s: suite s): suite 4 always,
 * suites 1-3 only with the crypto kfuncs. */
static __always_inline __u32 gem_suites(void)
{
	if (gem_have_crypto())
		return ((1u << (GEM_SUITE_MAX + 1)) - 1) & ~1u;
	return GEM_SUITES_NO_KFUNCS;
}

static const struct gem_group zero_group;
static const struct gem_tx_stream empty_tx = { .key_id = { GEM_KEY_ID_NONE, GEM_KEY_ID_NONE } };
static const struct gem_rx_stream empty_rx = { .key_id = { GEM_KEY_ID_NONE, GEM_KEY_ID_NONE } };

/* The gem_gfilter count of group address a's bucket (NULL: cannot happen).
 * a must be 4-byte aligned (the verifier wants aligned stack loads). */
static __always_inline __u32 *gem_gf_count(const struct gem_addr *a)
{
	const __u32 *w = (const __u32 *)a;
	struct gem_gfilter *f;
	__u32 z = 0;

	f = bpf_map_lookup_elem(&gem_gfilter, &z);
	if (!f)
		return NULL;
	return &f->n[gem_gf_bucket(w[0], w[1], w[2], w[3])];
}

/* Swap slot `t`'s CMAC context of group g for ctx; release what it held. */
#define grp_put_cmac(g, t, ctx) do {						\
		struct bpf_crypto_ctx *__oc = NULL;				\
										\
		if (gem_have_crypto()) {					\
			/* without the kfuncs no context exists */		\
			if (t)							\
				__oc = bpf_kptr_xchg(&(g)->cmac1, ctx);		\
			else							\
				__oc = bpf_kptr_xchg(&(g)->cmac0, ctx);		\
			if (__oc)						\
				bpf_crypto_ctx_release(__oc);			\
		}								\
	} while (0)

/* Slot t's key material from req (zeros for a suite without a group key). */
static __always_inline void grp_put_mk(struct gem_group *g, __u32 t,
				       const struct gem_ctl_req *req)
{
	struct gem_mac_key *mk = &g->mk[t & 1];

	__builtin_memcpy(mk->hmac_istate, req->hmac_istate, 32);
	__builtin_memcpy(mk->hmac_ostate, req->hmac_ostate, 32);
	__builtin_memcpy(mk->cmac_k1, req->cmac_k1, 16);
	__builtin_memcpy(mk->cmac_k2, req->cmac_k2, 16);
}

static __always_inline void grp_wipe_mk(struct gem_group *g, __u32 t)
{
	__builtin_memset(&g->mk[t & 1], 0, sizeof(struct gem_mac_key));
}

/* End a group op (`loading` set by it) that changed nothing. */
#define grp_done(g) do {				\
		bpf_spin_lock(&(g)->lock);		\
		(g)->loading = 0;			\
		bpf_spin_unlock(&(g)->lock);		\
	} while (0)

/* The group of req, created (empty) if `create`; NULL if none.  Its own
 * frame: the key copy is not on the stack beside the crypto params. */
static __noinline struct gem_group *grp_lookup(const struct gem_ctl_req *req, int create)
{
	/* map keys must not point into ctx; aligned: gem_gf_count reads words */
	struct gem_addr grp __attribute__((aligned(8))) = req->sg.grp;
	struct gem_group *g;

	g = bpf_map_lookup_elem(&gem_groups, &grp);
	if (!g && create) {
		/* counted before it exists (the data plane skips groups of an
		 * empty bucket); uncounted if this insert did not add it */
		__u32 *n = gem_gf_count(&grp);

		if (n) {
			__sync_fetch_and_add(n, 1);
			if (bpf_map_update_elem(&gem_groups, &grp, &zero_group, BPF_NOEXIST))
				__sync_fetch_and_sub(n, 1);
			g = bpf_map_lookup_elem(&gem_groups, &grp);
		}
	}
	return g;
}

/* The cbc(aes) context of req's CMAC key (a suite-2 group key), or NULL
 * with *err.  Its own frame, for the crypto params (the callers' frames
 * hold more than the 512-byte stack has room for beside them). */
static __noinline struct bpf_crypto_ctx *grp_cmac_ctx(const struct gem_ctl_req *req, int *err)
{
	struct bpf_crypto_ctx *ctx;

	*err = 0;
	ctx = gem_aes_ctx(req->cmac_key, "cbc(aes)", err);
	if (!ctx && !*err)
		*err = -EINVAL;
	return ctx;
}

/* Install or replace group req->sg.grp: suite, flags and (suites 1, 2) the
 * MAC key of epoch req->epoch as the group's only key, in the tx slot.  An
 * existing group gets it in its non-tx slot, which then becomes tx, and the
 * old slots are dropped: egress never reads a half-written key. */
static __noinline int ctl_set_group(struct gem_ctl_req *req, struct bpf_crypto_ctx *ctx)
{
	struct gem_group *g;
	__u32 t, haskey;

	g = grp_lookup(req, 1);
	if (!g) {
		if (ctx && gem_have_crypto())
			bpf_crypto_ctx_release(ctx);
		return -ENOMEM;
	}
	bpf_spin_lock(&g->lock);
	if (g->loading) {
		bpf_spin_unlock(&g->lock);
		if (ctx && gem_have_crypto())
			bpf_crypto_ctx_release(ctx);
		return -EBUSY;
	}
	g->loading = 1;
	t = (g->tx & 1) ^ 1;
	g->loaded &= ~(1u << t);
	bpf_spin_unlock(&g->lock);

	grp_put_mk(g, t, req);
	grp_put_cmac(g, t, ctx);
	bpf_spin_lock(&g->lock);
	g->suite = req->suite;
	g->flags = req->flags;
	g->epoch[t & 1] = req->epoch;
	g->epoch[(t & 1) ^ 1] = 0;
	haskey = req->suite == GEM_SUITE_HMAC_SHA256 || req->suite == GEM_SUITE_CMAC;
	g->loaded = haskey ? 1u << t : 0;
	g->tx = t;
	bpf_spin_unlock(&g->lock);
	/* the old key(s): tx before, the overlap's other */
	grp_put_cmac(g, t ^ 1, NULL);
	grp_wipe_mk(g, t ^ 1);
	if (!haskey) {
		grp_put_cmac(g, t, NULL);
		grp_wipe_mk(g, t);
	}
	grp_done(g);
	return 0;
}

/* The group of req (suites 1, 2 only) and `loading` taken on it; or NULL
 * with *err: -ENOENT no such group, -EOPNOTSUPP its suite has no group key,
 * -EINVAL req->suite is not the group's, -EBUSY another op under way. */
static __always_inline struct gem_group *grp_begin(struct gem_ctl_req *req, int *err)
{
	struct gem_group *g;

	g = grp_lookup(req, 0);
	if (!g) {
		*err = -ENOENT;
		return NULL;
	}
	if (g->suite != GEM_SUITE_HMAC_SHA256 && g->suite != GEM_SUITE_CMAC) {
		*err = -EOPNOTSUPP;
		return NULL;
	}
	if (req->op == GEM_OP_GROUP_KEY && req->suite != g->suite) {
		*err = -EINVAL;
		return NULL;
	}
	bpf_spin_lock(&g->lock);
	if (g->loading) {
		bpf_spin_unlock(&g->lock);
		*err = -EBUSY;
		return NULL;
	}
	g->loading = 1;
	bpf_spin_unlock(&g->lock);
	*err = 0;
	return g;
}

/* Load the MAC key of epoch req->epoch into the group's non-tx slot (to
 * accept packets MACed under it; GEM_OP_GROUP_USE then sends under it).
 * The same epoch again replaces that slot's key.  -EEXIST: it is the tx
 * slot's epoch; -ENOSPC: the non-tx slot holds another epoch (retire it). */
static __noinline int ctl_group_key(struct gem_ctl_req *req, struct bpf_crypto_ctx *ctx)
{
	struct gem_group *g;
	__u32 t, e = req->epoch;
	int err = 0;

	g = grp_begin(req, &err);
	if (!g) {
		if (ctx && gem_have_crypto())
			bpf_crypto_ctx_release(ctx);
		return err;
	}
	bpf_spin_lock(&g->lock);
	t = (g->tx & 1) ^ 1;
	if ((g->loaded & (1u << (t ^ 1))) && g->epoch[(t & 1) ^ 1] == e)
		err = -EEXIST;
	else if ((g->loaded & (1u << t)) && g->epoch[t & 1] != e)
		err = -ENOSPC;
	else
		g->loaded &= ~(1u << t);	/* not verified under while written */
	bpf_spin_unlock(&g->lock);
	if (err) {
		if (ctx && gem_have_crypto())
			bpf_crypto_ctx_release(ctx);
		grp_done(g);
		return err;
	}
	grp_put_mk(g, t, req);
	grp_put_cmac(g, t, ctx);
	bpf_spin_lock(&g->lock);
	g->epoch[t & 1] = e;
	g->loaded |= 1u << t;
	g->loading = 0;
	bpf_spin_unlock(&g->lock);
	return 0;
}

/* The slot (0, 1) of group g that holds the key of epoch e, or -1.  Under
 * g->lock. */
static __always_inline int grp_slot_of(const struct gem_group *g, __u32 e)
{
	if ((g->loaded & 1) && g->epoch[0] == e)
		return 0;
	if ((g->loaded & 2) && g->epoch[1] == e)
		return 1;
	return -1;
}

/* Egress MACs under the slot of epoch req->epoch from now on (0 if it does
 * already).  -ENOENT: no slot holds that epoch. */
static __noinline int ctl_group_use(struct gem_ctl_req *req)
{
	struct gem_group *g;
	__u32 e = req->epoch;
	int err = 0, s;

	g = grp_begin(req, &err);
	if (!g)
		return err;
	bpf_spin_lock(&g->lock);
	s = grp_slot_of(g, e);
	if (s >= 0)
		g->tx = (__u32)s;
	else
		err = -ENOENT;
	g->loading = 0;
	bpf_spin_unlock(&g->lock);
	return err;
}

/* Drop the slot of epoch req->epoch: its key is wiped, its context released,
 * packets MACed under it fail (rx_bad_tag).  -ENOENT: no slot holds it;
 * -EPERM: it is the tx slot (use another epoch first). */
static __noinline int ctl_group_retire(struct gem_ctl_req *req)
{
	struct gem_group *g;
	__u32 e = req->epoch, t = 0;
	int err = 0, s;

	g = grp_begin(req, &err);
	if (!g)
		return err;
	bpf_spin_lock(&g->lock);
	s = grp_slot_of(g, e);
	if (s >= 0)
		t = (__u32)s;
	else
		err = -ENOENT;
	if (!err && t == (g->tx & 1))
		err = -EPERM;
	if (!err)
		g->loaded &= ~(1u << t);
	bpf_spin_unlock(&g->lock);
	if (err) {
		grp_done(g);
		return err;
	}
	grp_put_cmac(g, t, NULL);
	grp_wipe_mk(g, t);
	bpf_spin_lock(&g->lock);
	g->epoch[t & 1] = 0;
	g->loading = 0;
	bpf_spin_unlock(&g->lock);
	return 0;
}

/* The kernel objects of a SEK: an ecb(aes) context for a 16-byte SEK
 * (suites 1-3), a ChaCha20 key object for a 32-byte one (suite 4).  Exactly
 * one of *ctx, *ck is set on success.  A macro, not a function: the
 * verifier tracks the acquired references in the caller's registers. */
#define ctl_make_key(req, ctx, ck, err) do {					\
		(ctx) = NULL;							\
		(ck) = NULL;							\
		(err) = -EINVAL;							\
		if ((req)->sek_len == GEM_SEK_AES_LEN) {			\
			(err) = 0;						\
			(ctx) = gem_aes_ctx((req)->sek, "ecb(aes)", &(err));	\
			if (!(ctx) && !(err))					\
				(err) = -EINVAL;					\
			else if (ctx)						\
				(err) = 0;					\
		} else if ((req)->sek_len == GEM_SEK_CHACHA_LEN) {		\
			(ck) = bpf_obj_new(struct gem_chacha_key);		\
			(err) = (ck) ? 0 : -ENOMEM;					\
			if (ck)							\
				__builtin_memcpy((ck)->k, (req)->sek, 32);	\
		}								\
	} while (0)

/* Put (ctx, ck) into slot `slot` of stream st, releasing what it held.  The
 * ChaCha20 key replaced is wiped first: packets copy key words only under
 * the stream's lock, and the slot is not readable there now (egress: not
 * `cur`; ingress: key id NONE). */
#define ctl_put_key(st, slot, ctx, ck) do {					\
		struct bpf_crypto_ctx *__oc;					\
		struct gem_chacha_key *__ok;					\
										\
		if (!gem_have_crypto())						\
			__oc = NULL;	/* no context can exist */		\
		else if (slot)							\
			__oc = bpf_kptr_xchg(&(st)->ctx1, ctx);			\
		else								\
			__oc = bpf_kptr_xchg(&(st)->ctx0, ctx);			\
		if (slot)							\
			__ok = bpf_kptr_xchg(&(st)->ck1, ck);			\
		else								\
			__ok = bpf_kptr_xchg(&(st)->ck0, ck);			\
		if (__oc && gem_have_crypto())					\
			bpf_crypto_ctx_release(__oc);				\
		if (__ok) {							\
			__builtin_memset(__ok->k, 0, sizeof(__ok->k));		\
			bpf_obj_drop(__ok);					\
		}								\
	} while (0)

/* End a stream's key load that changed nothing (`loading` set by it). */
#define load_done(st) do {				\
		bpf_spin_lock(&(st)->lock);		\
		(st)->loading = 0;			\
		bpf_spin_unlock(&(st)->lock);		\
	} while (0)

static __noinline int ctl_set_tx(struct gem_ctl_req *req)
{
	struct bpf_crypto_ctx *ctx;
	struct gem_chacha_key *ck;
	struct gem_tx_stream *st;
	struct gem_sg sg;
	__u32 c, nslot, busy, same;
	int err = 0, created = 0;

	if (req->key_id > 0xffff ||
	    (req->sek_len != GEM_SEK_AES_LEN && req->sek_len != GEM_SEK_CHACHA_LEN))
		return -EINVAL;
	sg = req->sg;
	st = bpf_map_lookup_elem(&gem_tx, &sg);
	if (!st) {
		/* a new entry starts at the clock (gem_common.h GEM_PN_CLOCK_MIN):
		 * above every pn an earlier entry of this stream used */
		if (req->first_pn < GEM_PN_CLOCK_MIN || req->first_pn >= GEM_PN_LIMIT)
			return -ERANGE;	/* the clock is not set */
		created = !bpf_map_update_elem(&gem_tx, &sg, &empty_tx, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&gem_tx, &sg);
		if (!st)
			return -ENOMEM;
	}
	bpf_spin_lock(&st->lock);
	if (created)
		st->next_pn = req->first_pn;	/* no key yet: egress takes no pn */
	c = st->cur & 1;
	busy = st->loading;
	same = st->key_id[c] == req->key_id;
	if (!busy && !same)
		st->loading = 1;
	bpf_spin_unlock(&st->lock);
	if (busy)
		return -EBUSY;	/* another load of this stream is under way */
	if (same)
		return -EEXIST;	/* re-loading the current key id */
	nslot = c ^ 1;		/* egress reads only slot `cur`: fill the other */
	ctl_make_key(req, ctx, ck, err);
	if (err) {
		if (ctx && gem_have_crypto())
			bpf_crypto_ctx_release(ctx);
		if (ck)
			bpf_obj_drop(ck);
		load_done(st);
		return err;
	}
	ctl_put_key(st, nslot, ctx, ck);
	bpf_spin_lock(&st->lock);
	st->key_id[nslot] = req->key_id;
	st->cur = nslot;
	st->loading = 0;
	bpf_spin_unlock(&st->lock);
	bpf_map_delete_elem(&gem_notified, &sg);
	return 0;
}

/* Key-id order: a is newer than b when (a - b) mod 2^16 is in 1 .. 2^15 - 1
 * (RFC 1982 serial arithmetic on 16 bits); exactly 2^15 apart neither is. */
static __always_inline int gem_kid_newer(__u32 a, __u32 b)
{
	__u32 d = (a - b) & 0xffff;

	return d != 0 && d < 0x8000;
}

static __always_inline int fp_equal(const __u8 *a, const __u8 *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	return !((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]));
}

/* Ingress keeps the two newest key ids by key-id order, whatever order they
 * are loaded in (a restarted control plane loads them in hash-table order):
 *   - a key id already held with the same SEK (fingerprint): nothing changes,
 *     the slot keeps its replay window (a restarted gemd reloads every key);
 *   - held with another SEK: -EEXIST, nothing changes (GEM_CTL_F_REPLACE:
 *     the SEK is replaced, the window kept);
 *   - a new key id fills an empty slot, or replaces the older of the two
 *     when it is newer than that one, with an empty window;
 *   - a key id older than both held: -ESTALE, nothing changes.
 * The slot is disabled while its context changes, so no packet pairs one
 * key id with another key. */
static __noinline int ctl_set_rx(struct gem_ctl_req *req)
{
	struct bpf_crypto_ctx *ctx;
	struct gem_chacha_key *ck;
	struct gem_rx_stream *st;
	__u32 c, t, k = req->key_id, newcur;
	int err = 0, reset = 1;

	if (k > 0xffff ||
	    (req->sek_len != GEM_SEK_AES_LEN && req->sek_len != GEM_SEK_CHACHA_LEN))
		return -EINVAL;
	{
		/* scoped: its stack slot is reused for the crypto params */
		struct gem_sg sg = req->sg;

		st = bpf_map_lookup_elem(&gem_rx, &sg);
		if (!st) {
			bpf_map_update_elem(&gem_rx, &sg, &empty_rx, BPF_NOEXIST);
			st = bpf_map_lookup_elem(&gem_rx, &sg);
		}
	}
	if (!st)
		return -ENOMEM;
	bpf_spin_lock(&st->lock);
	if (st->loading) {
		bpf_spin_unlock(&st->lock);
		return -EBUSY;
	}
	c = st->cur & 1;
	if (st->key_id[0] == k || st->key_id[1] == k) {
		t = st->key_id[0] == k ? 0 : 1;
		if (fp_equal(st->sek_fp[t], req->sek_fp)) {
			bpf_spin_unlock(&st->lock);
			return 0;	/* the same key again: window kept */
		}
		if (!(req->sek_flags & GEM_CTL_F_REPLACE)) {
			bpf_spin_unlock(&st->lock);
			return -EEXIST;	/* another SEK under a held key id */
		}
		newcur = c;
		reset = 0;
	} else if (st->key_id[c] == GEM_KEY_ID_NONE) {
		t = c;
		newcur = c;
	} else if (st->key_id[c ^ 1] == GEM_KEY_ID_NONE) {
		t = c ^ 1;
		newcur = gem_kid_newer(k, st->key_id[c]) ? t : c;
	} else if (gem_kid_newer(k, st->key_id[c])) {
		t = c ^ 1;		/* the older goes, k is the newest */
		newcur = t;
	} else if (gem_kid_newer(k, st->key_id[c ^ 1])) {
		t = c ^ 1;		/* between the two: the older goes */
		newcur = c;
	} else {
		bpf_spin_unlock(&st->lock);
		return -ESTALE;	/* older than both key ids held */
	}
	st->loading = 1;
	bpf_spin_unlock(&st->lock);

	ctl_make_key(req, ctx, ck, err);
	if (err) {
		if (ctx && gem_have_crypto())
			bpf_crypto_ctx_release(ctx);
		if (ck)
			bpf_obj_drop(ck);
		load_done(st);
		return err;
	}
	bpf_spin_lock(&st->lock);
	st->key_id[t & 1] = GEM_KEY_ID_NONE;
	bpf_spin_unlock(&st->lock);
	ctl_put_key(st, t, ctx, ck);
	bpf_spin_lock(&st->lock);
	t &= 1;
	st->key_id[t] = k;
	__builtin_memcpy(st->sek_fp[t], req->sek_fp, GEM_SEK_FP_LEN);
	if (reset) {
		st->replay[t].top = 0;
		st->replay[t].bits[0] = 0;
		st->replay[t].bits[1] = 0;
		st->replay[t].bits[2] = 0;
		st->replay[t].bits[3] = 0;
	}
	st->cur = newcur;
	st->loading = 0;
	bpf_spin_unlock(&st->lock);
	return 0;
}

/* An idle egress stream goes (the control plane withdrew its records): the
 * entry and its key contexts (the kernel releases the kptrs of a deleted
 * element).  Its next packet finds no key, is dropped and reported
 * (gem_notified is cleared for it), and a new entry starts at the clock, so
 * no packet number is ever sealed twice under a re-loaded key. */
static __always_inline int ctl_del_tx(struct gem_ctl_req *req)
{
	struct gem_tx_stream *st;
	struct gem_sg sg = req->sg;
	long err;

	st = bpf_map_lookup_elem(&gem_tx, &sg);
	if (!st)
		return -ENOENT;
	bpf_spin_lock(&st->lock);
	if (st->loading) {
		bpf_spin_unlock(&st->lock);
		return -EBUSY;
	}
	st->loading = 1;	/* a load racing the delete waits (EBUSY), then recreates */
	st->key_id[0] = GEM_KEY_ID_NONE;
	st->key_id[1] = GEM_KEY_ID_NONE;
	bpf_spin_unlock(&st->lock);
	err = bpf_map_delete_elem(&gem_tx, &sg);
	bpf_map_delete_elem(&gem_notified, &sg);
	return err;
}

/* A withdrawn or expired SEK Announce (docs/PROTOCOL.md 10.5): unload that
 * key id only.  The other slot (the stream's other key id) keeps its key,
 * its replay window and becomes `cur`; with no key id left the entry goes.
 * The slot is disabled (key id NONE) under the lock before its context is
 * released, so no packet pairs the key id with a missing key. */
static __always_inline int ctl_del_rx(struct gem_ctl_req *req)
{
	struct gem_rx_stream *st;
	struct gem_sg sg = req->sg;
	__u32 k = req->key_id, t, other;

	if (k > 0xffff)
		return -EINVAL;
	st = bpf_map_lookup_elem(&gem_rx, &sg);
	if (!st)
		return -ENOENT;
	bpf_spin_lock(&st->lock);
	if (st->loading) {
		bpf_spin_unlock(&st->lock);
		return -EBUSY;
	}
	if (st->key_id[0] == k) {
		t = 0;
	} else if (st->key_id[1] == k) {
		t = 1;
	} else {
		bpf_spin_unlock(&st->lock);
		return -ENOENT;	/* that key id is not held */
	}
	other = st->key_id[t ^ 1];
	st->key_id[t] = GEM_KEY_ID_NONE;
	st->cur = t ^ 1;
	st->loading = 1;
	bpf_spin_unlock(&st->lock);
	if (other == GEM_KEY_ID_NONE) {
		bpf_map_delete_elem(&gem_rx, &sg);	/* releases both contexts */
		return 0;
	}
	/* the AES context or the ChaCha20 key (wiped), whichever the slot holds */
	ctl_put_key(st, t, NULL, NULL);
	bpf_spin_lock(&st->lock);
	t &= 1;
	__builtin_memset(st->sek_fp[t], 0, GEM_SEK_FP_LEN);
	st->replay[t].top = 0;
	st->replay[t].bits[0] = 0;
	st->replay[t].bits[1] = 0;
	st->replay[t].bits[2] = 0;
	st->replay[t].bits[3] = 0;
	st->loading = 0;
	bpf_spin_unlock(&st->lock);
	return 0;
}

/* A group goes before its filter count (gem_common.h); its CMAC context is
 * released with the entry. */
static __noinline int ctl_del_group(struct gem_ctl_req *req)
{
	struct gem_addr grp __attribute__((aligned(8))) = req->sg.grp;
	__u32 *n;
	long r;

	r = bpf_map_delete_elem(&gem_groups, &grp);
	if (r)
		return (int)r;
	n = gem_gf_count(&grp);
	if (n)
		__sync_fetch_and_sub(n, 1);
	return 0;
}

/* A transit group (GEM_GROUP_F_TRANSIT): no MAC key, no context, any
 * suite on any kernel (suite 0: any).  A keyed group becoming transit
 * loses its keys (both slots wiped, their contexts released); the flag is
 * set first, so from then on no packet reads them, and the entry is never
 * absent meanwhile (a missing group would pass in clear). */
static __noinline int ctl_set_transit(struct gem_ctl_req *req)
{
	struct gem_group *g;

	if (req->suite > GEM_SUITE_MAX ||
	    req->flags != (GEM_GROUP_F_ACTIVE | GEM_GROUP_F_TRANSIT))
		return -EINVAL;
	g = grp_lookup(req, 1);
	if (!g)
		return -ENOMEM;
	bpf_spin_lock(&g->lock);
	if (g->loading) {
		bpf_spin_unlock(&g->lock);
		return -EBUSY;
	}
	g->loading = 1;
	g->suite = req->suite;
	g->flags = req->flags;
	g->loaded = 0;
	g->epoch[0] = 0;
	g->epoch[1] = 0;
	bpf_spin_unlock(&g->lock);
	grp_put_cmac(g, 0, NULL);
	grp_put_cmac(g, 1, NULL);
	grp_wipe_mk(g, 0);
	grp_wipe_mk(g, 1);
	grp_done(g);
	return 0;
}

/* GEM_OP_SET_GROUP, GEM_OP_GROUP_KEY: a suite-2 key's context is made here,
 * in gem_ctl's frame, and handed over: beside the crypto params the ops'
 * frames would not fit the 512-byte stack. */
static __always_inline int ctl_group_load(struct gem_ctl_req *req)
{
	struct bpf_crypto_ctx *ctx = NULL;
	int err = 0;

	if (req->op == GEM_OP_SET_GROUP) {
		if (req->suite < 1 || req->suite > GEM_SUITE_MAX)
			return -EINVAL;
		if (!(gem_suites() & (1u << req->suite)))
			return -EOPNOTSUPP;	/* the suite needs the crypto kfuncs */
	}
	if (req->suite == GEM_SUITE_CMAC) {
		ctx = grp_cmac_ctx(req, &err);
		if (!ctx)
			return err;
	}
	if (req->op == GEM_OP_SET_GROUP)
		return ctl_set_group(req, ctx);
	return ctl_group_key(req, ctx);
}

SEC("syscall")
int gem_ctl(struct gem_ctl_req *req)
{
	switch (req->op) {
	case GEM_OP_SET_GROUP:
	case GEM_OP_GROUP_KEY:
		if (req->op == GEM_OP_SET_GROUP && (req->flags & GEM_GROUP_F_TRANSIT))
			return ctl_set_transit(req);
		return ctl_group_load(req);
	case GEM_OP_SET_TX_SEK:
		return ctl_set_tx(req);
	case GEM_OP_SET_RX_SEK:
		return ctl_set_rx(req);
	case GEM_OP_SUITES:
		return (int)gem_suites();
	case GEM_OP_DEL_TX:
		return ctl_del_tx(req);
	case GEM_OP_DEL_RX_SEK:
		return ctl_del_rx(req);
	case GEM_OP_DEL_GROUP:
		return ctl_del_group(req);
	case GEM_OP_GROUP_USE:
		return ctl_group_use(req);
	case GEM_OP_GROUP_RETIRE:
		return ctl_group_retire(req);
	}
	return -EOPNOTSUPP;
}
