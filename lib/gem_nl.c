// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "gem_nl.h"

#define NLBUF		32768	/* a dump datagram: one page is too small for big tables */
#define DUMP_TRIES	8	/* interrupted dumps are read again */

static int nl_socket(struct gem_nl *n)
{
	struct mnl_socket *s = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);

	if (!s || mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = errno ? -errno : -EIO;

		if (s)
			mnl_socket_close(s);
		return err;
	}
	if (n->s)
		mnl_socket_close(n->s);
	n->s = s;
	n->portid = mnl_socket_get_portid(s);
	return 0;
}

int gem_nl_open(struct gem_nl *n)
{
	int err;

	memset(n, 0, sizeof(*n));
	n->buf = malloc(NLBUF);
	if (!n->buf)
		return -ENOMEM;
	err = nl_socket(n);
	if (err) {
		free(n->buf);
		n->buf = NULL;
		return err;
	}
	n->seq = (unsigned int)time(NULL);
	return 0;
}

void gem_nl_close(struct gem_nl *n)
{
	if (n->s)
		mnl_socket_close(n->s);
	free(n->buf);
	memset(n, 0, sizeof(*n));
}

int gem_nl_run(struct gem_nl *n, struct nlmsghdr *h, mnl_cb_t cb, void *arg)
{
	unsigned int seq = ++n->seq;

	h->nlmsg_seq = seq;
	if (mnl_socket_sendto(n->s, h, h->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t len = mnl_socket_recvfrom(n->s, n->buf, NLBUF);
		int rc;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		errno = 0;
		rc = mnl_cb_run(n->buf, len, seq, n->portid, cb, arg);
		if (rc == MNL_CB_STOP)
			return 0;
		if (rc == MNL_CB_ERROR)
			return errno ? -errno : -EIO;
	}
}

int gem_nl_talk(struct gem_nl *n, struct nlmsghdr *h)
{
	h->nlmsg_flags |= NLM_F_ACK;
	return gem_nl_run(n, h, NULL, NULL);
}

int gem_nl_dump_msg(struct gem_nl *n, struct nlmsghdr *h, mnl_cb_t cb, void *arg,
		    void (*restart)(void *arg))
{
	int err = -EINTR;

	h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
	for (int i = 0; i < DUMP_TRIES && err == -EINTR; i++) {
		if (i) {
			/* what the interrupted dump left unread goes with the old socket */
			err = nl_socket(n);
			if (err)
				return err;
			if (restart)
				restart(arg);
		}
		err = gem_nl_run(n, h, cb, arg);
	}
	return err;
}

int gem_nl_dump(struct gem_nl *n, int type, int family, mnl_cb_t cb, void *arg,
		void (*restart)(void *arg))
{
	char req[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct rtgenmsg))];
	struct nlmsghdr *h = mnl_nlmsg_put_header(req);
	struct rtgenmsg *g = mnl_nlmsg_put_extra_header(h, sizeof(*g));

	h->nlmsg_type = type;
	g->rtgen_family = family;
	return gem_nl_dump_msg(n, h, cb, arg, restart);
}

/* ---- gem-load's questions ------------------------------------------------------- */

static int link_attr(const struct nlattr *a, void *data)
{
	struct gem_nl_link *l = data;

	if (mnl_attr_get_type(a) == IFLA_IFNAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0 &&
	    mnl_attr_get_payload_len(a) <= sizeof(l->name))
		memcpy(l->name, mnl_attr_get_payload(a), mnl_attr_get_payload_len(a));
	return MNL_CB_OK;
}

static int on_link(const struct nlmsghdr *h, void *arg)
{
	struct gem_nl_link *l = arg;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);

	if (h->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(h) < sizeof(*ifi))
		return MNL_CB_OK;
	l->ifindex = (unsigned)ifi->ifi_index;
	l->type = ifi->ifi_type;
	mnl_attr_parse(h, sizeof(*ifi), link_attr, l);
	return MNL_CB_OK;
}

int gem_nl_link_get(const char *name, unsigned ifindex, struct gem_nl_link *out)
{
	char buf[MNL_NLMSG_HDRLEN + 256];
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;
	struct gem_nl n;
	int r;

	memset(out, 0, sizeof(*out));
	if (name && strlen(name) >= IF_NAMESIZE)
		return -ENODEV;
	h->nlmsg_type = RTM_GETLINK;
	h->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = name ? 0 : (int)ifindex;
	if (name)
		mnl_attr_put_strz(h, IFLA_IFNAME, name);
	r = gem_nl_open(&n);
	if (r)
		return r;
	/* one reply and no DONE: the ack after it ends the answer */
	h->nlmsg_flags |= NLM_F_ACK;
	r = gem_nl_run(&n, h, on_link, out);
	gem_nl_close(&n);
	if (r)
		return r == -ENODEV || r == -EINVAL ? -ENODEV : r;
	out->name[IF_NAMESIZE - 1] = '\0';
	return out->ifindex ? 0 : -ENODEV;
}

static int on_filter(const struct nlmsghdr *h, void *arg)
{
	if (h->nlmsg_type == RTM_NEWTFILTER)
		++*(int *)arg;
	return MNL_CB_OK;
}

static void zero(void *arg)
{
	*(int *)arg = 0;
}

int gem_nl_tc_filters(unsigned ifindex, uint32_t parent)
{
	char buf[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct tcmsg))];
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	struct tcmsg *t;
	struct gem_nl n;
	int count = 0, r;

	h->nlmsg_type = RTM_GETTFILTER;
	t = mnl_nlmsg_put_extra_header(h, sizeof(*t));
	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = (int)ifindex;
	t->tcm_parent = parent;
	r = gem_nl_open(&n);
	if (r)
		return r;
	r = gem_nl_dump_msg(&n, h, on_filter, &count, zero);
	gem_nl_close(&n);
	return r ? r : count;
}
