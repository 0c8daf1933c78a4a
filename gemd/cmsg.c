// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Control messages of received IPv6 datagrams: see cmsg.h. */
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "gemd/cmsg.h"

void gemd_cmsg_in6(struct msghdr *m, unsigned int *ifindex, int *hops)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level != IPPROTO_IPV6)
			continue;
		if (c->cmsg_type == IPV6_PKTINFO)
			*ifindex = ((struct in6_pktinfo *)CMSG_DATA(c))->ipi6_ifindex;
		else if (c->cmsg_type == IPV6_HOPLIMIT)
			memcpy(hops, CMSG_DATA(c), sizeof(*hops));
	}
}
