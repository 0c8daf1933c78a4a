// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemd control plane, transport (docs/CONTROL.md section 8): one UDP
 * socket on [::]:GEMD_CP_PORT (6698).  A packet to a neighbour goes to
 * ff02::6d:7 on its tunnel's TUN (scope = that interface: the TUN is
 * point-to-point, the packet leaves only inside that neighbour's ESP SA);
 * a packet received is mapped to the neighbour by the interface it came
 * in on (IPV6_PKTINFO), hop limit 255 required.  Anything not from an up
 * tunnel is dropped.  Neighbour handle = the peer's slot in g->peers; up
 * while its tunnel is established and its TUN known; up again (full table
 * push + Request) when the tunnel, its TUN or either end's instance
 * generation changes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <bpf/libbpf.h>

#include "gem_json.h"
#include "gemd/cmsg.h"
#include "gemd/log.h"
#include "gemd/cp_int.h"

#define CP_HOPS		255

int cp_open_socket(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(GEMD_CP_PORT),
				  .sin6_addr = IN6ADDR_ANY_INIT };
	int fd, one = 1, zero = 0, hops = CP_HOPS;

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof(zero)) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof(hops)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int cp_send(void *ctx, uint32_t nh, const void *buf, size_t len)
{
	struct gemd *g = ctx;
	struct gemd_cp_nb *nb;
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_port = htons(GEMD_CP_PORT) };

	if (nh >= g->cfg.max_neighbours || g->cp.fd < 0)
		return -ENOTCONN;
	nb = &g->cp.nb[nh];
	if (!nb->up)
		return -ENOTCONN;
	inet_pton(AF_INET6, GEMD_CP_GROUP, &to.sin6_addr);
	to.sin6_scope_id = nb->ifindex;
	if (sendto(g->cp.fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}

static void mcast_membership(struct gemd *g, unsigned int ifindex, bool join)
{
	struct ipv6_mreq m = { .ipv6mr_interface = ifindex };

	inet_pton(AF_INET6, GEMD_CP_GROUP, &m.ipv6mr_multiaddr);
	if (setsockopt(g->cp.fd, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &m,
		       sizeof(m)) < 0 && join && errno != EADDRINUSE)
		log_warn("control: join %s on ifindex %u: %s", GEMD_CP_GROUP, ifindex,
			 strerror(errno));
}

static void nb_down(struct gemd *g, uint32_t h)
{
	struct gemd_cp_nb *nb = &g->cp.nb[h];
	json_object *ev;

	if (!nb->up)
		return;
	gem_db_neigh_down(g->cp.db, h);
	mcast_membership(g, nb->ifindex, false);
	nb->up = false;
	log_info("control: neighbour %u down", h);
	ev = gemd_mon_event(&g->mon, "neighbour-down");
	gem_json_u64(ev, "slot", h);
	gemd_mon_send(&g->mon, ev);
}

void cp_neigh_tick(struct gemd *g, uint64_t now)
{
	for (unsigned int i = 0; i < g->cfg.max_neighbours; i++) {
		struct gemd_peer *p = &g->peers[i];
		struct gemd_cp_nb *nb = &g->cp.nb[i];
		unsigned int ifindex = 0;
		bool up = gemd_peer_trusted(p) && p->tun->ifname[0];

		if (up)
			ifindex = if_nametoindex(p->tun->ifname);
		if (!ifindex) {
			nb_down(g, i);
			continue;
		}
		if (nb->up && nb->ifindex == ifindex && nb->tun == p->tun &&
		    nb->gen == p->tun->gen && nb->peer_gen == p->tun->peer_gen)
			continue;
		if (nb->up && nb->ifindex != ifindex)
			nb_down(g, i);
		if (!nb->up)
			mcast_membership(g, ifindex, true);
		nb->up = true;
		nb->ifindex = ifindex;
		nb->tun = p->tun;
		nb->gen = p->tun->gen;
		nb->peer_gen = p->tun->peer_gen;
		gem_db_neigh_up(g->cp.db, cp_handle_of(g, p), now);
		log_info("control: neighbour %u (%s) up on %s", i, p->id_hex, p->tun->ifname);
		{
			json_object *ev = gemd_mon_event(&g->mon, "neighbour-up");

			gem_json_u64(ev, "slot", i);
			gem_json_str(ev, "node", p->id_hex);
			gem_json_str(ev, "interface", p->tun->ifname);
			gemd_mon_send(&g->mon, ev);
		}
	}
}

void gemd_cp_input(struct gemd *g, uint64_t now)
{
	uint8_t buf[GEM_TLV_HDR_LEN + GEM_TLV_BODY_MAX];

	for (int k = 0; k < 64; k++) {
		char cbuf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
		struct sockaddr_in6 from;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof(from),
				    .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		unsigned int ifindex = 0;
		int hops = -1, err;
		ssize_t n = recvmsg(g->cp.fd, &m, 0);
		uint32_t h;

		if (n < 0)
			return;
		gemd_cmsg_in6(&m, &ifindex, &hops);
		for (h = 0; h < g->cfg.max_neighbours; h++)
			if (g->cp.nb[h].up && g->cp.nb[h].ifindex == ifindex)
				break;
		if (h == g->cfg.max_neighbours || hops != CP_HOPS ||
		    !IN6_IS_ADDR_LINKLOCAL(&from.sin6_addr)) {
			g->cp.rx_foreign++;
			log_debug("control: dropped %zd bytes on ifindex %u (hop limit %d): not from "
				  "a tunnel neighbour", n, ifindex, hops);
			continue;
		}
		err = gem_db_input(g->cp.db, h, buf, n, now);
		if (err)
			log_debug("control: packet from neighbour %u: %s", h, strerror(-err));
	}
}
