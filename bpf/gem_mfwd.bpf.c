// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Test and demo tool, not part of GEM: static multicast forwarding for
 * kernels built without multicast routing (CONFIG_IP_MROUTE /
 * CONFIG_IPV6_MROUTE unset: smcrouted has nothing to program there).
 * selftests/mfwd.c loads it with smcrouted's (S,G) routes; this program
 * runs at TC ingress (tcx) of each inbound interface and does what the
 * kernel's ipmr/ip6mr forwarding does for such a route: TTL / hop limit
 * above 1 (then decremented, IPv4 checksum updated), the frame's source
 * MAC set to the outbound interface's, and a copy sent out of every
 * outbound interface (bpf_clone_redirect to its egress, so GEM's TC egress
 * program there sees it as it sees a packet the kernel forwarded).  The
 * packet itself goes on into the stack, as with ipmr.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/gem_mfwd.h"

#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define ETH_HLEN	14
#define TC_ACT_OK	0

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MFWD_MAX_ROUTES);
	__type(key, struct mfwd_key);
	__type(value, struct mfwd_route);
} mfwd_routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MFWD_NCTR);
	__type(key, __u32);
	__type(value, __u64);
} mfwd_ctr SEC(".maps");

static __always_inline void count(__u32 i)
{
	__u64 *c = bpf_map_lookup_elem(&mfwd_ctr, &i);

	if (c)
		(*c)++;
}

SEC("tc")
int mfwd_ingress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct mfwd_key k = {};
	struct mfwd_route *r;
	__u32 i;

	if ((void *)(eth + 1) > end)
		return TC_ACT_OK;
	k.ifindex = skb->ifindex;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		__u16 old, new;

		if ((void *)(ip + 1) > end || (ip->daddr & bpf_htonl(0xf0000000)) !=
		    bpf_htonl(0xe0000000))
			return TC_ACT_OK;
		k.src[10] = k.src[11] = 0xff;
		__builtin_memcpy(k.src + 12, &ip->saddr, 4);
		k.grp[10] = k.grp[11] = 0xff;
		__builtin_memcpy(k.grp + 12, &ip->daddr, 4);
		r = bpf_map_lookup_elem(&mfwd_routes, &k);
		if (!r)
			return TC_ACT_OK;
		if (ip->ttl <= 1) {
			count(MFWD_C_TTL);
			return TC_ACT_OK;
		}
		/* ttl and protocol are one 16-bit word of the checksum */
		old = *(__u16 *)&ip->ttl;
		ip->ttl--;
		new = *(__u16 *)&ip->ttl;
		bpf_l3_csum_replace(skb, ETH_HLEN + offsetof(struct iphdr, check), old, new, 2);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end || ip6->daddr.in6_u.u6_addr8[0] != 0xff)
			return TC_ACT_OK;
		__builtin_memcpy(k.src, &ip6->saddr, 16);
		__builtin_memcpy(k.grp, &ip6->daddr, 16);
		r = bpf_map_lookup_elem(&mfwd_routes, &k);
		if (!r)
			return TC_ACT_OK;
		if (ip6->hop_limit <= 1) {
			count(MFWD_C_TTL);
			return TC_ACT_OK;
		}
		ip6->hop_limit--;
	} else {
		return TC_ACT_OK;
	}
	for (i = 0; i < MFWD_MAX_OIFS; i++) {
		if (i >= r->n)
			break;
		if (bpf_skb_store_bytes(skb, 6, r->oif[i].mac, 6, 0) ||
		    bpf_clone_redirect(skb, r->oif[i].ifindex, 0))
			count(MFWD_C_ERR);
		else
			count(MFWD_C_FWD);
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
