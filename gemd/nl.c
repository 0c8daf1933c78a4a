// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gemd/nl.h"

#define NLBUF 32768

static int nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Append an attribute to the request in buf (cap bytes). */
static int add_attr(void *buf, size_t cap, int type, const void *data, int len)
{
	struct nlmsghdr *n = buf;
	size_t off = NLMSG_ALIGN(n->nlmsg_len);
	struct rtattr rta = { .rta_len = RTA_LENGTH(len), .rta_type = type };

	if (off + RTA_ALIGN(rta.rta_len) > cap)
		return -EMSGSIZE;
	memcpy((uint8_t *)buf + off, &rta, sizeof(rta));
	memcpy((uint8_t *)buf + off + RTA_LENGTH(0), data, len);
	n->nlmsg_len = off + RTA_ALIGN(rta.rta_len);
	return 0;
}

/* Send one request and wait for its ack: 0 or the kernel's -errno. */
static int nl_talk(int fd, struct nlmsghdr *n)
{
	char buf[8192];
	ssize_t len;

	n->nlmsg_flags |= NLM_F_ACK;
	n->nlmsg_seq = 1;
	if (send(fd, n, n->nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		len = recv(fd, buf, sizeof(buf), 0);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error;
			}
		}
	}
}

/* Dump request; cb for every message (return <0 to abort). */
static int nl_dump(int fd, int type, int family,
		   int (*cb)(struct nlmsghdr *h, void *arg), void *arg)
{
	struct {
		struct nlmsghdr n;
		struct rtgenmsg g;
	} req = {
		.n = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct rtgenmsg)), .nlmsg_type = type,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 2 },
		.g = { .rtgen_family = family },
	};
	char *buf;
	int err = 0;

	buf = malloc(NLBUF);
	if (!buf)
		return -ENOMEM;
	if (send(fd, &req, req.n.nlmsg_len, 0) < 0) {
		err = -errno;
		goto out;
	}
	for (;;) {
		ssize_t len = recv(fd, buf, NLBUF, 0);

		if (len < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				goto out;
			if (h->nlmsg_type == NLMSG_ERROR) {
				err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
				goto out;
			}
			if (!err && cb(h, arg) < 0)
				err = -ECANCELED;	/* keep reading to DONE */
		}
	}
out:
	free(buf);
	return err;
}

int gemd_nl_addr(bool add, unsigned int ifindex, const struct gemd_prefix *p)
{
	struct {
		struct nlmsghdr n;
		struct ifaddrmsg a;
		char attrs[128];
	} req;
	uint32_t flags = IFA_F_NODAD;
	int fd, err;

	memset(&req, 0, sizeof(req));
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	req.n.nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	req.n.nlmsg_flags = NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	req.a.ifa_family = p->family;
	req.a.ifa_prefixlen = p->plen;
	req.a.ifa_index = ifindex;
	req.a.ifa_scope = RT_SCOPE_UNIVERSE;
	add_attr(&req, sizeof(req), IFA_LOCAL, p->addr, p->family == AF_INET6 ? 16 : 4);
	add_attr(&req, sizeof(req), IFA_ADDRESS, p->addr, p->family == AF_INET6 ? 16 : 4);
	if (add)
		add_attr(&req, sizeof(req), IFA_FLAGS, &flags, sizeof(flags));
	fd = nl_open();
	if (fd < 0)
		return fd;
	err = nl_talk(fd, &req.n);
	close(fd);
	return err;
}

struct addr_q {
	const struct gemd_prefix *p;	/* has_addr */
	unsigned int ifindex;		/* ll_addr */
	struct in6_addr best;
	int found;
};

static int has_cb(struct nlmsghdr *h, void *arg)
{
	struct addr_q *q = arg;
	struct ifaddrmsg *a = NLMSG_DATA(h);
	int len = IFA_PAYLOAD(h);

	if (h->nlmsg_type != RTM_NEWADDR || a->ifa_family != q->p->family)
		return 0;
	for (struct rtattr *rta = IFA_RTA(a); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == IFA_LOCAL || (rta->rta_type == IFA_ADDRESS &&
						   a->ifa_family == AF_INET6)) {
			if (!memcmp(RTA_DATA(rta), q->p->addr, a->ifa_family == AF_INET6 ? 16 : 4))
				q->found = 1;
		}
	}
	return 0;
}

int gemd_nl_has_addr(const struct gemd_prefix *p)
{
	struct addr_q q = { .p = p };
	int fd = nl_open(), err;

	if (fd < 0)
		return fd;
	err = nl_dump(fd, RTM_GETADDR, p->family, has_cb, &q);
	close(fd);
	return err ? err : q.found;
}

static int ll_cb(struct nlmsghdr *h, void *arg)
{
	struct addr_q *q = arg;
	struct ifaddrmsg *a = NLMSG_DATA(h);
	int len = IFA_PAYLOAD(h);
	uint32_t flags = a->ifa_flags;
	struct in6_addr *addr = NULL;

	if (h->nlmsg_type != RTM_NEWADDR || a->ifa_family != AF_INET6 ||
	    a->ifa_index != q->ifindex)
		return 0;
	for (struct rtattr *rta = IFA_RTA(a); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == IFA_ADDRESS)
			addr = RTA_DATA(rta);
		else if (rta->rta_type == IFA_FLAGS)
			flags = *(uint32_t *)RTA_DATA(rta);
	}
	if (!addr || addr->s6_addr[0] != 0xfe || (addr->s6_addr[1] & 0xc0) != 0x80)
		return 0;
	if (flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED))
		return 0;
	if (!q->found || memcmp(addr, &q->best, 16) < 0)
		q->best = *addr;
	q->found = 1;
	return 0;
}

int gemd_nl_ll_addr(unsigned int ifindex, struct in6_addr *out)
{
	struct addr_q q = { .ifindex = ifindex };
	int fd = nl_open(), err;

	if (fd < 0)
		return fd;
	err = nl_dump(fd, RTM_GETADDR, AF_INET6, ll_cb, &q);
	close(fd);
	if (err)
		return err;
	if (!q.found)
		return -EADDRNOTAVAIL;
	*out = q.best;
	return 0;
}

struct flush_q {
	unsigned char proto;	/* routes of this protocol, or */
	bool by_table;		/* routes and rules of tables lo..hi */
	uint32_t lo, hi;
	int n;
	struct nlmsghdr *msgs[256];	/* collected, deleted after the dump */
};

/* The table of a route or rule message: the attribute wins over the 8-bit field. */
static uint32_t msg_table(struct nlmsghdr *h)
{
	struct rtmsg *r = NLMSG_DATA(h);	/* struct fib_rule_hdr has table at the same place */
	int len = RTM_PAYLOAD(h);
	uint32_t table = r->rtm_table;

	for (struct rtattr *rta = RTM_RTA(r); RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
		if (rta->rta_type == RTA_TABLE && RTA_PAYLOAD(rta) >= 4)	/* == FRA_TABLE */
			table = *(uint32_t *)RTA_DATA(rta);
	return table;
}

static int flush_cb(struct nlmsghdr *h, void *arg)
{
	struct flush_q *q = arg;
	struct rtmsg *r = NLMSG_DATA(h);

	if (h->nlmsg_type != RTM_NEWROUTE && h->nlmsg_type != RTM_NEWRULE)
		return 0;
	if (q->by_table) {
		uint32_t t = msg_table(h);

		if (t < q->lo || t > q->hi)
			return 0;
	} else if (h->nlmsg_type != RTM_NEWROUTE || r->rtm_protocol != q->proto) {
		return 0;
	}
	if (q->n >= (int)(sizeof(q->msgs) / sizeof(q->msgs[0])))
		return 0;	/* the caller loops */
	q->msgs[q->n] = malloc(h->nlmsg_len);
	if (!q->msgs[q->n])
		return -1;
	memcpy(q->msgs[q->n++], h, h->nlmsg_len);
	return 0;
}

static int flush(struct flush_q *tmpl, int dump_type, int family)
{
	int fd, err = 0, total = 0;

	fd = nl_open();
	if (fd < 0)
		return fd;
	for (int round = 0; round < 16; round++) {
		struct flush_q q = *tmpl;

		q.n = 0;
		err = nl_dump(fd, dump_type, family, flush_cb, &q);
		for (int i = 0; i < q.n; i++) {
			struct nlmsghdr *h = q.msgs[i];

			h->nlmsg_type = h->nlmsg_type == RTM_NEWRULE ? RTM_DELRULE : RTM_DELROUTE;
			h->nlmsg_flags = NLM_F_REQUEST;
			if (nl_talk(fd, h) == 0)
				total++;
			free(h);
		}
		if (err || q.n == 0)
			break;
	}
	close(fd);
	return err ? err : total;
}

int gemd_nl_flush_proto(unsigned char proto)
{
	struct flush_q q = { .proto = proto };

	return flush(&q, RTM_GETROUTE, AF_UNSPEC);
}

int gemd_nl_flush_tables(uint32_t lo, uint32_t hi)
{
	struct flush_q q = { .by_table = true, .lo = lo, .hi = hi };
	int total = 0, n;

	/* rule dumps need a family */
	n = flush(&q, RTM_GETRULE, AF_INET);
	if (n < 0)
		return n;
	total += n;
	n = flush(&q, RTM_GETRULE, AF_INET6);
	if (n < 0)
		return n;
	total += n;
	n = flush(&q, RTM_GETROUTE, AF_UNSPEC);
	if (n < 0)
		return n;
	return total + n;
}
