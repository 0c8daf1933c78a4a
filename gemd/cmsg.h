/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Control messages of received IPv6 datagrams (control records, identity
 * proofs). */
#ifndef GEMD_CMSG_H
#define GEMD_CMSG_H

struct msghdr;
/* From a received IPv6 datagram's control messages: the interface it came in
 * on (IPV6_PKTINFO) and its hop limit (IPV6_HOPLIMIT); each left as it was
 * when the message lacks it. */
void gemd_cmsg_in6(struct msghdr *m, unsigned int *ifindex, int *hops);

#endif
