// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Discovery beacons: codec (wire format in disc.h) and per-interface sockets. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gemd/disc.h"
#include "gem_be.h"

int gem_beacon_encode(const struct gem_beacon *b, uint8_t *buf, size_t len)
{
	size_t m = strnlen(b->name, sizeof(b->name)), need;
	uint32_t hold = (b->hold_ms + 99) / 100;

	if (b->n > GEM_BEACON_MAX_ENTRIES || m > GEM_BEACON_NAME_MAX || hold == 0 ||
	    hold > 0xffff)
		return -EINVAL;
	need = GEM_BEACON_HDR_LEN + (size_t)GEM_BEACON_ENTRY_LEN * b->n + m;
	if (len < need)
		return -EMSGSIZE;
	memset(buf, 0, need);
	for (int i = 0; i < 4; i++)
		buf[i] = GEM_BEACON_MAGIC[i];
	buf[4] = GEM_BEACON_VERSION;
	gem_put_be16(buf + 6, hold);
	memcpy(buf + 8, b->id, 8);
	buf[16] = b->n;
	buf[17] = m;
	for (unsigned int i = 0; i < b->n; i++) {
		uint8_t *e = buf + GEM_BEACON_HDR_LEN + (size_t)GEM_BEACON_ENTRY_LEN * i;

		memcpy(e, b->e[i].id, 8);
		gem_put_be16(e + 8, b->e[i].port);
		e[10] = b->e[i].flags;
		gem_put_be32(e + 12, b->e[i].gen);
	}
	memcpy(buf + GEM_BEACON_HDR_LEN + (size_t)GEM_BEACON_ENTRY_LEN * b->n, b->name, m);
	return need;
}

int gem_beacon_decode(const uint8_t *buf, size_t len, struct gem_beacon *b)
{
	static const uint8_t zero[8];
	unsigned int n, m;
	const uint8_t *name;

	if (len < GEM_BEACON_HDR_LEN || memcmp(buf, GEM_BEACON_MAGIC, 4) != 0)
		return -EBADMSG;
	if (buf[4] != GEM_BEACON_VERSION)
		return -EPROTONOSUPPORT;
	n = buf[16];
	m = buf[17];
	if (n > GEM_BEACON_MAX_ENTRIES || m > GEM_BEACON_NAME_MAX)
		return -EBADMSG;
	if (len < GEM_BEACON_HDR_LEN + (size_t)GEM_BEACON_ENTRY_LEN * n + m)
		return -EBADMSG;
	if (gem_get_be16(buf + 6) == 0 || !memcmp(buf + 8, zero, 8))
		return -EBADMSG;
	memset(b, 0, sizeof(*b));
	memcpy(b->id, buf + 8, 8);
	b->hold_ms = gem_get_be16(buf + 6) * 100u;
	b->n = n;
	for (unsigned int i = 0; i < n; i++) {
		const uint8_t *e = buf + GEM_BEACON_HDR_LEN + (size_t)GEM_BEACON_ENTRY_LEN * i;

		memcpy(b->e[i].id, e, 8);
		b->e[i].port = gem_get_be16(e + 8);
		b->e[i].flags = e[10];
		b->e[i].gen = gem_get_be32(e + 12);
	}
	name = buf + GEM_BEACON_HDR_LEN + (size_t)GEM_BEACON_ENTRY_LEN * n;
	for (unsigned int i = 0; i < m; i++)
		b->name[i] = name[i] >= 0x20 && name[i] < 0x7f ? (char)name[i] : '?';
	b->name[m] = '\0';
	return 0;
}

void disc_if_init(struct disc_if *d, const char *name)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->fd = -1;
}

int disc_if_open(struct disc_if *d, const struct gemd_config *c, char *why, size_t len)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(c->disc_port) };
	struct ipv6_mreq mr = { .ipv6mr_multiaddr = c->disc_group };
	int one = 1, zero = 0, hops = 255, fd, err;
	unsigned int ifindex;

	ifindex = if_nametoindex(d->name);
	if (!ifindex) {
		err = -errno;
		snprintf(why, len, "no such interface");
		return err;
	}
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		err = -errno;
		snprintf(why, len, "socket: %s", strerror(errno));
		return err;
	}
	mr.ipv6mr_interface = ifindex;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, d->name, strlen(d->name)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof(zero)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof(ifindex)) < 0) {
		err = -errno;
		snprintf(why, len, "setsockopt: %s", strerror(errno));
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		snprintf(why, len, "bind [::]:%u: %s", c->disc_port, strerror(errno));
		goto fail;
	}
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		err = -errno;
		snprintf(why, len, "join %s: %s", c->disc_group_text, strerror(errno));
		goto fail;
	}
	d->fd = fd;
	d->ifindex = ifindex;
	return 0;
fail:
	close(fd);
	return err;
}

void disc_if_close(struct disc_if *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	d->ifindex = 0;
}

int disc_if_send(struct disc_if *d, const struct gemd_config *c, const uint8_t *buf,
		 size_t len)
{
	struct sockaddr_in6 to = {
		.sin6_family = AF_INET6,
		.sin6_port = htons(c->disc_port),
		.sin6_addr = c->disc_group,
		.sin6_scope_id = d->ifindex,
	};

	if (d->fd < 0)
		return -EBADF;
	if (sendto(d->fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}

int disc_if_recv(struct disc_if *d, uint8_t *buf, size_t len, struct in6_addr *src)
{
	struct sockaddr_in6 from;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { buf, len };
	struct msghdr mh = {
		.msg_name = &from, .msg_namelen = sizeof(from),
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	int hops = -1;
	ssize_t n;

	n = recvmsg(d->fd, &mh, MSG_DONTWAIT);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_HOPLIMIT)
			memcpy(&hops, CMSG_DATA(cm), sizeof(hops));
	if (mh.msg_flags & MSG_TRUNC)
		return -EBADMSG;
	/* on-link only: a link-local source, never forwarded (GTSM, RFC 5082) */
	if (hops != 255 || from.sin6_addr.s6_addr[0] != 0xfe ||
	    (from.sin6_addr.s6_addr[1] & 0xc0) != 0x80)
		return -EBADMSG;
	*src = from.sin6_addr;
	return n;
}
