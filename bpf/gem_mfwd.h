/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Test multicast forwarder (bpf/gem_mfwd.bpf.c, selftests/mfwd.c): maps. */
#ifndef GEM_MFWD_H
#define GEM_MFWD_H

#define MFWD_MAX_ROUTES	1024
#define MFWD_MAX_OIFS	8

/* (inbound interface, source, group); IPv4 as IPv4-mapped IPv6 */
struct mfwd_key {
	__u32 ifindex;
	__u8 src[16];
	__u8 grp[16];
};

struct mfwd_oif {
	__u32 ifindex;
	__u8 mac[6];
	__u8 pad[2];
};

struct mfwd_route {
	__u32 n;
	struct mfwd_oif oif[MFWD_MAX_OIFS];
};

enum { MFWD_C_FWD, MFWD_C_TTL, MFWD_C_ERR, MFWD_NCTR };

#endif
