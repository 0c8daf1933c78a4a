// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "gem_nl.h"

/* Send req and read the answer: for a dump every message until NLMSG_DONE,
 * otherwise the one reply; cb sees each data message.  0 or -errno. */
static int nl_ask(struct nlmsghdr *req, void (*cb)(const struct nlmsghdr *h, void *arg),
		  void *arg)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
	int fd, ret = 0, done = 0;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	req->nlmsg_seq = 1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || send(fd, req, req->nlmsg_len, 0) < 0) {
		ret = -errno;
		goto out;
	}
	while (!done) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);

		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0) {
			ret = len ? -errno : -EIO;
			goto out;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != 1)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				ret = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
				goto out;
			}
			if (h->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			cb(h, arg);
			if (!(req->nlmsg_flags & NLM_F_DUMP))
				done = 1;
		}
	}
out:
	close(fd);
	return ret;
}

static void on_link(const struct nlmsghdr *h, void *arg)
{
	struct gem_nl_link *l = arg;
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	int len = (int)IFLA_PAYLOAD(h);

	if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return;
	l->ifindex = (unsigned)ifi->ifi_index;
	l->type = ifi->ifi_type;
	for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFLA_IFNAME && RTA_PAYLOAD(a) <= sizeof(l->name))
			memcpy(l->name, RTA_DATA(a), RTA_PAYLOAD(a));
}

int gem_nl_link_get(const char *name, unsigned ifindex, struct gem_nl_link *out)
{
	struct {
		struct nlmsghdr n;
		struct ifinfomsg i;
		char attr[RTA_SPACE(IF_NAMESIZE)];
	} req = {
		.n = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
		       .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST },
		.i = { .ifi_family = AF_UNSPEC, .ifi_index = name ? 0 : (int)ifindex },
	};
	int r;

	memset(out, 0, sizeof(*out));
	if (name) {
		size_t n = strlen(name) + 1;
		struct rtattr *a = (struct rtattr *)req.attr;

		if (n > IF_NAMESIZE)
			return -ENODEV;
		a->rta_type = IFLA_IFNAME;
		a->rta_len = RTA_LENGTH(n);
		memcpy(RTA_DATA(a), name, n);
		req.n.nlmsg_len += RTA_SPACE(n);
	}
	r = nl_ask(&req.n, on_link, out);
	if (r)
		return r;
	out->name[IF_NAMESIZE - 1] = '\0';
	return out->ifindex ? 0 : -ENODEV;
}

static void on_filter(const struct nlmsghdr *h, void *arg)
{
	if (h->nlmsg_type == RTM_NEWTFILTER)
		++*(int *)arg;
}

int gem_nl_tc_filters(unsigned ifindex, uint32_t parent)
{
	struct {
		struct nlmsghdr n;
		struct tcmsg t;
	} req = {
		.n = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg)), .nlmsg_type = RTM_GETTFILTER,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.t = { .tcm_family = AF_UNSPEC, .tcm_ifindex = (int)ifindex, .tcm_parent = parent },
	};
	int n = 0, r = nl_ask(&req.n, on_filter, &n);

	return r ? r : n;
}
