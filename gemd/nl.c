// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* gemd's rtnetlink requests, through lib/gem_nl.c (libmnl). */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gem_nl.h"
#include "gemd/nl.h"

int gemd_nl_addr(bool add, unsigned int ifindex, const struct gemd_prefix *p)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *a;
	size_t alen = p->family == AF_INET6 ? 16 : 4;
	struct gem_nl n;
	int err;

	h->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	h->nlmsg_flags = NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	a = mnl_nlmsg_put_extra_header(h, sizeof(*a));
	a->ifa_family = p->family;
	a->ifa_prefixlen = p->plen;
	a->ifa_index = ifindex;
	a->ifa_scope = RT_SCOPE_UNIVERSE;
	mnl_attr_put(h, IFA_LOCAL, alen, p->addr);
	mnl_attr_put(h, IFA_ADDRESS, alen, p->addr);
	if (add)
		mnl_attr_put_u32(h, IFA_FLAGS, IFA_F_NODAD);
	err = gem_nl_open(&n);
	if (err)
		return err;
	err = gem_nl_talk(&n, h);
	gem_nl_close(&n);
	return err;
}

struct addr_q {
	const struct gemd_prefix *p;	/* has_addr */
	unsigned int ifindex;		/* ll_addr */
	struct in6_addr best;
	int found;
};

/* The attributes of an address message: IFA_LOCAL/IFA_ADDRESS/IFA_FLAGS. */
struct addr_attrs {
	const struct nlattr *local, *address;
	uint32_t flags;
};

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
	struct addr_attrs *aa = data;
	int type = mnl_attr_get_type(attr);

	if (type == IFA_LOCAL && mnl_attr_get_payload_len(attr) >= 4)
		aa->local = attr;
	else if (type == IFA_ADDRESS && mnl_attr_get_payload_len(attr) >= 4)
		aa->address = attr;
	else if (type == IFA_FLAGS && mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
		aa->flags = mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

static int addr_attrs(const struct nlmsghdr *h, struct addr_attrs *aa)
{
	const struct ifaddrmsg *a = mnl_nlmsg_get_payload(h);

	memset(aa, 0, sizeof(*aa));
	aa->flags = a->ifa_flags;
	return mnl_attr_parse(h, sizeof(*a), addr_attr_cb, aa);
}

static bool attr_is(const struct nlattr *attr, const void *addr, size_t len)
{
	return attr && mnl_attr_get_payload_len(attr) >= len &&
	       !memcmp(mnl_attr_get_payload(attr), addr, len);
}

static int has_cb(const struct nlmsghdr *h, void *arg)
{
	struct addr_q *q = arg;
	const struct ifaddrmsg *a = mnl_nlmsg_get_payload(h);
	size_t alen = q->p->family == AF_INET6 ? 16 : 4;
	struct addr_attrs aa;

	if (h->nlmsg_type != RTM_NEWADDR || a->ifa_family != q->p->family ||
	    addr_attrs(h, &aa) < 0)
		return MNL_CB_OK;
	if (attr_is(aa.local, q->p->addr, alen) ||
	    (a->ifa_family == AF_INET6 && attr_is(aa.address, q->p->addr, alen)))
		q->found = 1;
	return MNL_CB_OK;
}

int gemd_nl_has_addr(const struct gemd_prefix *p)
{
	struct addr_q q = { .p = p };
	struct gem_nl n;
	int err = gem_nl_open(&n);

	if (err)
		return err;
	err = gem_nl_dump(&n, RTM_GETADDR, p->family, has_cb, &q, NULL);
	gem_nl_close(&n);
	return err ? err : q.found;
}

static int ll_cb(const struct nlmsghdr *h, void *arg)
{
	struct addr_q *q = arg;
	const struct ifaddrmsg *a = mnl_nlmsg_get_payload(h);
	struct addr_attrs aa;
	struct in6_addr addr;

	if (h->nlmsg_type != RTM_NEWADDR || a->ifa_family != AF_INET6 ||
	    a->ifa_index != q->ifindex || addr_attrs(h, &aa) < 0 || !aa.address ||
	    mnl_attr_get_payload_len(aa.address) < 16)
		return MNL_CB_OK;
	memcpy(&addr, mnl_attr_get_payload(aa.address), 16);
	if (addr.s6_addr[0] != 0xfe || (addr.s6_addr[1] & 0xc0) != 0x80)
		return MNL_CB_OK;
	if (aa.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED))
		return MNL_CB_OK;
	if (!q->found || memcmp(&addr, &q->best, 16) < 0)
		q->best = addr;
	q->found = 1;
	return MNL_CB_OK;
}

int gemd_nl_ll_addr(unsigned int ifindex, struct in6_addr *out)
{
	struct addr_q q = { .ifindex = ifindex };
	struct gem_nl n;
	int err = gem_nl_open(&n);

	if (err)
		return err;
	err = gem_nl_dump(&n, RTM_GETADDR, AF_INET6, ll_cb, &q, NULL);
	gem_nl_close(&n);
	if (err)
		return err;
	if (!q.found)
		return -EADDRNOTAVAIL;
	*out = q.best;
	return 0;
}

#define FLUSH_BATCH 256

struct flush_q {
	unsigned char proto;	/* routes of this protocol, or */
	bool by_table;		/* routes and rules of tables lo..hi */
	uint32_t lo, hi;
	int n;
	struct nlmsghdr *msgs[FLUSH_BATCH];	/* collected, deleted after the dump */
};

static int table_cb(const struct nlattr *attr, void *data)
{
	/* RTA_TABLE == FRA_TABLE: routes and rules alike */
	if (mnl_attr_get_type(attr) == RTA_TABLE && mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
		*(uint32_t *)data = mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

/* The table of a route or rule message: the attribute wins over the 8-bit
 * field (struct fib_rule_hdr has its table where struct rtmsg has). */
static uint32_t msg_table(const struct nlmsghdr *h)
{
	const struct rtmsg *r = mnl_nlmsg_get_payload(h);
	uint32_t table = r->rtm_table;

	mnl_attr_parse(h, sizeof(*r), table_cb, &table);
	return table;
}

static void flush_restart(void *arg)
{
	struct flush_q *q = arg;

	for (int i = 0; i < q->n; i++)
		free(q->msgs[i]);
	q->n = 0;
}

static int flush_cb(const struct nlmsghdr *h, void *arg)
{
	struct flush_q *q = arg;
	const struct rtmsg *r = mnl_nlmsg_get_payload(h);

	if (h->nlmsg_type != RTM_NEWROUTE && h->nlmsg_type != RTM_NEWRULE)
		return MNL_CB_OK;
	if (mnl_nlmsg_get_payload_len(h) < sizeof(*r))
		return MNL_CB_OK;
	if (q->by_table) {
		uint32_t t = msg_table(h);

		if (t < q->lo || t > q->hi)
			return MNL_CB_OK;
	} else if (h->nlmsg_type != RTM_NEWROUTE || r->rtm_protocol != q->proto) {
		return MNL_CB_OK;
	}
	if (q->n >= FLUSH_BATCH)
		return MNL_CB_OK;	/* the caller dumps again */
	q->msgs[q->n] = malloc(h->nlmsg_len);
	if (!q->msgs[q->n]) {
		errno = ENOMEM;
		return MNL_CB_ERROR;
	}
	memcpy(q->msgs[q->n++], h, h->nlmsg_len);
	return MNL_CB_OK;
}

static int flush(const struct flush_q *tmpl, int dump_type, int family)
{
	struct flush_q *q;
	struct gem_nl n;
	int err, total = 0;

	q = malloc(sizeof(*q));
	if (!q)
		return -ENOMEM;
	err = gem_nl_open(&n);
	if (err) {
		free(q);
		return err;
	}
	for (int round = 0; round < 16; round++) {
		*q = *tmpl;
		q->n = 0;
		err = gem_nl_dump(&n, dump_type, family, flush_cb, q, flush_restart);
		for (int i = 0; i < q->n; i++) {
			struct nlmsghdr *h = q->msgs[i];

			h->nlmsg_type = h->nlmsg_type == RTM_NEWRULE ? RTM_DELRULE : RTM_DELROUTE;
			h->nlmsg_flags = NLM_F_REQUEST;
			if (!err && gem_nl_talk(&n, h) == 0)
				total++;
			free(h);
		}
		if (err || q->n < FLUSH_BATCH)
			break;
	}
	gem_nl_close(&n);
	free(q);
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

struct route_q {
	unsigned int oif;
	unsigned char type;
	int found;
};

static int route_attr_cb(const struct nlattr *attr, void *data)
{
	struct route_q *q = data;

	if (mnl_attr_get_type(attr) == RTA_OIF && mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
		q->oif = mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *h, void *data)
{
	struct route_q *q = data;
	const struct rtmsg *r = mnl_nlmsg_get_payload(h);

	if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(*r)))
		return MNL_CB_OK;
	q->type = r->rtm_type;
	q->found = 1;
	return mnl_attr_parse(h, sizeof(*r), route_attr_cb, q);
}

int gemd_nl_route_get(int family, const uint8_t *addr, unsigned int *oif, unsigned char *type)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	struct route_q q = { 0 };
	struct rtmsg *r;
	struct gem_nl n;
	int err;

	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	h->nlmsg_type = RTM_GETROUTE;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;	/* the answer, then the ack */
	r = mnl_nlmsg_put_extra_header(h, sizeof(*r));
	r->rtm_family = family;
	r->rtm_dst_len = family == AF_INET ? 32 : 128;
	mnl_attr_put(h, RTA_DST, family == AF_INET ? 4 : 16, addr);
	err = gem_nl_open(&n);
	if (err)
		return err;
	err = gem_nl_run(&n, h, route_cb, &q);
	gem_nl_close(&n);
	if (err)
		return err;
	if (!q.found)
		return -ENOENT;
	*oif = q.oif;
	*type = q.type;
	return 0;
}
