// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The neighbour table.  A neighbour is (node id, interface): two links to
 * the same node are two tunnels.  It exists from its first valid beacon
 * until it has been silent for its advertised hold time; meanwhile it owns
 * one IKE port slot and one tunnel.
 *
 * Beacons are unauthenticated and only start IKE: a forged one can make us
 * run a charon that fails authentication, nothing more.  To keep a forger
 * from moving an established tunnel, a beacon with a known id from another
 * address is ignored while the tunnel is up.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "gemd/gemd.h"
#include "gemd/log.h"
#include "gemd/nl.h"

#define LL_CHECK_MS 5000
#define GEMD_PEERS_IDENT UINT32_MAX	/* gemd_peers_pollfds: the identity socket */

int gemd_peers_init(struct gemd *g)
{
	g->ident_fd = -1;
	g->peers = calloc(g->cfg.max_neighbours, sizeof(*g->peers));
	if (!g->peers)
		return -ENOMEM;
	return gemd_ident_open(g);
}

uint16_t gemd_peer_port(const struct gemd *g, const struct gemd_peer *p)
{
	return g->cfg.port_base + 2 * p->slot;
}

static struct gemd_peer *find(struct gemd *g, const uint8_t id[8], int iface)
{
	for (unsigned int i = 0; i < g->cfg.max_neighbours; i++) {
		struct gemd_peer *p = &g->peers[i];

		if (p->used && p->iface == iface && !memcmp(p->id, id, 8))
			return p;
	}
	return NULL;
}

struct gemd_peer *gemd_peer_by_ifname(struct gemd *g, const char *ifname)
{
	for (unsigned int i = 0; i < g->cfg.max_neighbours; i++) {
		struct gemd_peer *p = &g->peers[i];

		if (p->used && p->tun && p->tun->ifname[0] && !strcmp(p->tun->ifname, ifname))
			return p;
	}
	return NULL;
}

static int open_tunnel(struct gemd *g, struct gemd_peer *p)
{
	struct tunnel_spec spec = { 0 };
	char ll[INET6_ADDRSTRLEN];
	int err;

	if (p->ident.retry_ms && gemd_now_ms() < p->ident.retry_ms)
		return -EAGAIN;	/* its identity proof failed: back off */
	memcpy(spec.my_id, g->id, 8);
	memcpy(spec.peer_id, p->id, 8);
	snprintf(spec.link, sizeof(spec.link), "%s", g->disc[p->iface].name);
	spec.ifindex = g->disc[p->iface].ifindex;
	spec.peer_ll = p->ll;
	spec.local_port = gemd_peer_port(g, p);
	spec.table = g->cfg.table_base + p->slot;
	spec.initiator = memcmp(g->id, p->id, 8) < 0;
	err = gemd_nl_ll_addr(spec.ifindex, &spec.my_ll);
	if (err) {
		log_warn("neighbour %s on %s: no usable link-local address of ours on %s (%s); "
			 "waiting", p->id_hex, spec.link, spec.link, strerror(-err));
		return err;
	}
	err = g->backend->open(&g->tenv, &spec, &p->tun);
	if (err) {
		inet_ntop(AF_INET6, &p->ll, ll, sizeof(ll));
		log_err("neighbour %s on %s (%s): cannot start a tunnel: %s", p->id_hex, spec.link,
			ll, strerror(-err));
		p->tun = NULL;
	}
	return err;
}

static void close_tunnel(struct gemd_peer *p)
{
	if (p->tun)
		p->tun->ops->close(p->tun);
	p->tun = NULL;
}

void gemd_peer_drop_tunnel(struct gemd *g, struct gemd_peer *p)
{
	(void)g;
	close_tunnel(p);
}

static void forget(struct gemd_peer *p)
{
	close_tunnel(p);
	memset(p, 0, sizeof(*p));
}

static struct gemd_peer *add(struct gemd *g, const uint8_t id[8], int iface,
			     const struct in6_addr *src, uint64_t now)
{
	bool used_slot[64] = { false };
	struct gemd_peer *p = NULL;
	int slot = -1;

	for (unsigned int i = 0; i < g->cfg.max_neighbours; i++) {
		if (g->peers[i].used)
			used_slot[g->peers[i].slot] = true;
		else if (!p)
			p = &g->peers[i];
	}
	for (unsigned int s = 0; s < g->cfg.max_neighbours; s++) {
		if (!used_slot[s]) {
			slot = s;
			break;
		}
	}
	if (!p || slot < 0) {
		if (!g->full_logged)
			log_warn("max_neighbours (%u) reached: ignoring further neighbours",
				 g->cfg.max_neighbours);
		g->full_logged = true;
		return NULL;
	}
	memset(p, 0, sizeof(*p));
	p->used = true;
	memcpy(p->id, id, 8);
	gemd_hex(id, 8, p->id_hex);
	p->iface = iface;
	p->ll = *src;
	p->slot = slot;
	p->first_seen_ms = now;
	return p;
}

void gemd_peer_beacon(struct gemd *g, int iface, const struct in6_addr *src,
		      const struct gem_beacon *b, uint64_t now)
{
	struct gemd_peer *p;
	char ll[INET6_ADDRSTRLEN];
	const struct gem_beacon_entry *mine = NULL;

	if (!memcmp(b->id, g->id, 8))
		return;		/* our own, e.g. two of our interfaces on one link */
	inet_ntop(AF_INET6, src, ll, sizeof(ll));
	p = find(g, b->id, iface);
	if (p && memcmp(&p->ll, src, sizeof(*src)) != 0) {
		if (p->tun && p->tun->state == TUNNEL_ESTABLISHED) {
			if (!p->conflict_logged_ms || now - p->conflict_logged_ms > 30000)
				log_warn("neighbour %s on %s: beacon from %s while its tunnel is up "
					 "with another address: ignored", p->id_hex,
					 g->disc[iface].name, ll);
			p->conflict_logged_ms = now;
			return;
		}
		log_info("neighbour %s on %s moved to %s: restarting its tunnel", p->id_hex,
			 g->disc[iface].name, ll);
		close_tunnel(p);
		p->ll = *src;
	}
	if (!p) {
		p = add(g, b->id, iface, src, now);
		if (!p)
			return;
		log_info("neighbour %s%s%s%s discovered on %s at %s (IKE port %u, %s)", p->id_hex,
			 b->name[0] ? " (" : "", b->name, b->name[0] ? ")" : "",
			 g->disc[iface].name, ll, gemd_peer_port(g, p),
			 memcmp(g->id, p->id, 8) < 0 ? "we initiate" : "it initiates");
	}
	p->last_seen_ms = now;
	p->hold_ms = b->hold_ms;
	snprintf(p->name, sizeof(p->name), "%s", b->name);
	if (!p->tun && open_tunnel(g, p))
		return;
	for (unsigned int i = 0; i < b->n; i++)
		if (!memcmp(b->e[i].id, g->id, 8))
			mine = &b->e[i];
	if (mine)
		p->tun->ops->set_peer(p->tun, mine->port, mine->gen,
				      mine->flags & GEM_BEACON_F_READY);
	else
		p->tun->ops->set_peer(p->tun, 0, 0, false);
}

int gemd_beacon_build(struct gemd *g, int iface, uint8_t *buf, size_t len)
{
	struct gem_beacon b = { 0 };

	memcpy(b.id, g->id, 8);
	b.hold_ms = g->cfg.hold_ms;
	snprintf(b.name, sizeof(b.name), "%s", g->cfg.name);
	for (unsigned int i = 0; i < g->cfg.max_neighbours && b.n < GEM_BEACON_MAX_ENTRIES; i++) {
		struct gemd_peer *p = &g->peers[i];
		struct gem_beacon_entry *e;

		if (!p->used || p->iface != iface)
			continue;
		e = &b.e[b.n++];
		memcpy(e->id, p->id, 8);
		e->port = gemd_peer_port(g, p);
		e->gen = p->tun ? p->tun->gen : 0;
		e->flags = p->tun && p->tun->ready ? GEM_BEACON_F_READY : 0;
	}
	return gem_beacon_encode(&b, buf, len);
}

static void check_my_ll(struct gemd *g, struct gemd_peer *p)
{
	struct in6_addr ll;

	if (!p->tun || gemd_nl_ll_addr(g->disc[p->iface].ifindex, &ll))
		return;
	if (!memcmp(&ll, &p->tun->spec.my_ll, sizeof(ll)))
		return;
	log_info("neighbour %s on %s: our link-local address changed: restarting its tunnel",
		 p->id_hex, g->disc[p->iface].name);
	close_tunnel(p);
	open_tunnel(g, p);
}

void gemd_peers_tick(struct gemd *g, uint64_t now)
{
	char names[BABEL_MAX_IFACES][IF_NAMESIZE];
	bool ll_check = now >= g->next_ll_check_ms;
	int n = 0;

	if (ll_check)
		g->next_ll_check_ms = now + LL_CHECK_MS;
	for (unsigned int i = 0; i < g->cfg.max_neighbours; i++) {
		struct gemd_peer *p = &g->peers[i];

		if (!p->used)
			continue;
		if (now - p->last_seen_ms > p->hold_ms) {
			log_warn("neighbour %s on %s lost (no beacon for %u.%u s): tunnel torn down",
				 p->id_hex, g->disc[p->iface].name, p->hold_ms / 1000,
				 p->hold_ms % 1000 / 100);
			forget(p);
			g->full_logged = false;
			continue;
		}
		if (!p->tun) {
			if (ll_check)
				open_tunnel(g, p);
			continue;
		}
		if (ll_check)
			check_my_ll(g, p);
		if (!p->tun)
			continue;
		p->tun->ops->tick(p->tun, now);
		gemd_ident_tick(g, p, now);
		/* Babel only over neighbours that proved their node id */
		if (gemd_peer_trusted(p) && p->tun->ifname[0] && n < BABEL_MAX_IFACES)
			snprintf(names[n++], IF_NAMESIZE, "%s", p->tun->ifname);
	}
	babel_set_ifaces(&g->babel, (const char (*)[IF_NAMESIZE])names, n);
}

int gemd_peers_pollfds(struct gemd *g, struct pollfd *pfd, unsigned int *who, int max)
{
	int n = 0;

	if (g->ident_fd >= 0 && n < max) {
		pfd[n] = (struct pollfd){ g->ident_fd, POLLIN, 0 };
		who[n++] = GEMD_PEERS_IDENT;
	}

	for (unsigned int i = 0; i < g->cfg.max_neighbours && n < max; i++) {
		struct gemd_peer *p = &g->peers[i];
		int fd;

		if (!p->used || !p->tun || !p->tun->ops->pollfd)
			continue;
		fd = p->tun->ops->pollfd(p->tun);
		if (fd < 0)
			continue;
		pfd[n] = (struct pollfd){ fd, POLLIN, 0 };
		who[n++] = i;
	}
	return n;
}

void gemd_peers_input(struct gemd *g, unsigned int who, uint64_t now)
{
	struct gemd_peer *p;

	if (who == GEMD_PEERS_IDENT) {
		gemd_ident_input(g, now);
		return;
	}
	p = &g->peers[who];
	if (p->used && p->tun && p->tun->ops->input)
		p->tun->ops->input(p->tun, now);
}

bool gemd_peers_child_exited(struct gemd *g, pid_t pid, int status, uint64_t now)
{
	for (unsigned int i = 0; i < g->cfg.max_neighbours; i++) {
		struct gemd_peer *p = &g->peers[i];

		if (p->used && p->tun && p->tun->ops->child_exited(p->tun, pid, status, now))
			return true;
	}
	return false;
}

void gemd_peers_close_all(struct gemd *g)
{
	if (!g->peers)
		return;
	gemd_ident_close(g);
	for (unsigned int i = 0; i < g->cfg.max_neighbours; i++)
		if (g->peers[i].used)
			forget(&g->peers[i]);
	free(g->peers);
	g->peers = NULL;
}
