/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * rtnetlink for every GEM tool, through libmnl: every request carries its
 * own sequence number and is answered only by messages with that number
 * from the kernel's port (mnl_cb_run checks both), a truncated datagram is
 * an error (-ENOSPC), and a dump the kernel marks interrupted
 * (NLM_F_DUMP_INTR: the table changed while it was read) is read again on a
 * fresh socket.  The kernel answers for the caller's network namespace
 * (/sys/class/net belongs to the namespace sysfs was mounted in: under
 * `nsenter --net` it still shows the host's).
 */
#ifndef GEM_NL_H
#define GEM_NL_H

#include <libmnl/libmnl.h>
#include <net/if.h>
#include <stdint.h>

struct gem_nl {
	struct mnl_socket *s;
	unsigned int portid, seq;
	char *buf;		/* receive buffer */
};

int gem_nl_open(struct gem_nl *n);
void gem_nl_close(struct gem_nl *n);
/* Send h (nlmsg_seq is set here) and read its answer until the ack or
 * NLMSG_DONE, cb for each data message (NULL: none expected).  0, the
 * kernel's -errno, -EINTR (interrupted dump), -ENOSPC (truncated). */
int gem_nl_run(struct gem_nl *n, struct nlmsghdr *h, mnl_cb_t cb, void *arg);
/* h with NLM_F_ACK: 0 or the kernel's -errno. */
int gem_nl_talk(struct gem_nl *n, struct nlmsghdr *h);
/* Dump type for family (an rtgenmsg request); cb for each message.  An
 * interrupted dump is read again from the start, restart(arg) first (so
 * the caller can forget what cb collected). */
int gem_nl_dump(struct gem_nl *n, int type, int family, mnl_cb_t cb, void *arg,
		void (*restart)(void *arg));
/* The same for a dump request built by the caller (flags set here). */
int gem_nl_dump_msg(struct gem_nl *n, struct nlmsghdr *h, mnl_cb_t cb, void *arg,
		    void (*restart)(void *arg));

/* ---- gem-load's questions ------------------------------------------------------- */

struct gem_nl_link {
	unsigned ifindex;
	unsigned short type;	/* ARPHRD_* */
	char name[IF_NAMESIZE];
};

/* The link named name (or, with name NULL, of ifindex).  0, -ENODEV, -errno. */
int gem_nl_link_get(const char *name, unsigned ifindex, struct gem_nl_link *out);

/* 0 if no TC filter sits on parent of ifindex (e.g. TC_H_MAKE(TC_H_CLSACT,
 * TC_H_MIN_EGRESS)), > 0 if some do (the filter messages of the dump), or
 * -errno. */
int gem_nl_tc_filters(unsigned ifindex, uint32_t parent);

#endif
