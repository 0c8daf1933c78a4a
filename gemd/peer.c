// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The neighbour table.  A neighbour is (node id, interface): two links to
 * the same node are two tunnels.  It exists from its first valid beacon
 * until it has been silent for its advertised hold time; meanwhile it owns
 * one IKE port slot and one tunnel.
 *
 * Beacons are unauthenticated and only start IKE: a forged one can make us
 * run a charon that fails authentication (or, with the BK, fails the node
 * identity proof, ident.c), nothing more, and only within bounds: the hold
 * time is capped, at most GEMD_PEER_HALF_OPEN_MAX half-open neighbours per
 * link, and half-open ones make room for a neighbour that proved its id
 * here before (gemd.h, gemd_peer_victim).  To keep a forger from moving an
 * established tunnel, a beacon with a known id from another address is
 * ignored while the tunnel is up.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemd/gemd.h"
#include "gemd/files.h"
#include "gemd/log.h"
#include "gemd/nl.h"

#define LL_CHECK_MS 5000
#define GEMD_PEERS_IDENT UINT32_MAX	/* gemd_peers_pollfds: the identity socket */

static void known_load(struct gemd *g);

int gemd_peers_init(struct gemd *g)
{
	g->ident_fd = -1;
	g->peers = calloc(g->cfg.max_neighbours, sizeof(*g->peers));
	if (!g->peers)
		return -ENOMEM;
	known_load(g);
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

static bool half_open_evictable(const struct gemd_peer *p, uint64_t now)
{
	return p->ident.failures || now - p->first_seen_ms >= GEMD_PEER_GRACE_MS;
}

int gemd_peer_victim(const struct gemd_peer *peers, unsigned int n, int iface, bool known,
		     bool full, uint64_t now, const char **refuse_why)
{
	unsigned int half = 0;
	int best = -1, best_link = -1;

	*refuse_why = NULL;
	for (unsigned int i = 0; i < n; i++) {
		const struct gemd_peer *p = &peers[i];

		if (!p->used || p->proven)
			continue;
		half += p->iface == iface;
		if (!known && !half_open_evictable(p, now))
			continue;
		/* the oldest first: it had the longest time to complete */
		if (best < 0 || p->first_seen_ms < peers[best].first_seen_ms)
			best = i;
		if (p->iface == iface &&
		    (best_link < 0 || p->first_seen_ms < peers[best_link].first_seen_ms))
			best_link = i;
	}
	if (half >= GEMD_PEER_HALF_OPEN_MAX) {
		/* room on this link only by one of its own half-open ones */
		if (best_link < 0)
			*refuse_why = "half-open";
		return best_link;
	}
	if (!full)
		return -1;
	if (best < 0)
		*refuse_why = "full";
	return best;
}

static int known_find(const struct gemd *g, const uint8_t id[8], const char *ifname)
{
	for (unsigned int i = 0; i < GEMD_MAX_TUNNELS; i++)
		if (g->known[i].ms && !strcmp(g->known[i].ifname, ifname) &&
		    !memcmp(g->known[i].id, id, 8))
			return i;
	return -1;
}

static bool is_known(const struct gemd *g, const uint8_t id[8], int iface)
{
	return known_find(g, id, g->disc[iface].name) >= 0;
}

static void known_path(const struct gemd *g, char *buf, size_t len)
{
	snprintf(buf, len, "%s/neighbours", g->cfg.state_dir);
}

/* The neighbours that proved their ids, across restarts (a restarted node
 * under a beacon flood still lets them in first): "<id hex> <link>" lines,
 * the most recent last.  Not secret. */
static void known_load(struct gemd *g)
{
	char path[GEMD_PATH_MAX + 16], line[64], hex[GEMD_ID_HEX], ifname[IF_NAMESIZE];
	unsigned int n = 0;
	FILE *f;

	known_path(g, path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return;
	while (n < GEMD_MAX_TUNNELS && fgets(line, sizeof(line), f)) {
		struct gemd_known *k = &g->known[n];
		if (sscanf(line, "%16[0-9a-f] %15s", hex, ifname) != 2 ||
		    gemd_unhex(hex, k->id, 8))
			continue;
		snprintf(k->ifname, sizeof(k->ifname), "%s", ifname);
		k->ms = ++n;
	}
	fclose(f);
	if (n)
		log_debug("%u neighbour(s) that proved their ids before, from %s", n, path);
}

static void known_save(const struct gemd *g)
{
	char path[GEMD_PATH_MAX + 16], buf[GEMD_MAX_TUNNELS * 40], hex[GEMD_ID_HEX];
	bool done[GEMD_MAX_TUNNELS] = { false };
	size_t len = 0;
	int err;

	for (;;) {	/* oldest first */
		int k = -1;

		for (int i = 0; i < GEMD_MAX_TUNNELS; i++)
			if (g->known[i].ms && !done[i] && (k < 0 || g->known[i].ms < g->known[k].ms))
				k = i;
		if (k < 0)
			break;
		done[k] = true;
		gemd_hex(g->known[k].id, 8, hex);
		len += snprintf(buf + len, sizeof(buf) - len, "%s %s\n", hex, g->known[k].ifname);
	}
	known_path(g, path, sizeof(path));
	err = gemd_mkdir_p(g->cfg.state_dir, 0700);
	if (!err)
		err = gemd_write_file(path, buf, len, 0600);
	if (err)
		log_warn("cannot write %s: %s", path, strerror(-err));
}

/* p proved its id: remember (id, link), replacing the oldest entry. */
static void remember(struct gemd *g, const struct gemd_peer *p, uint64_t now)
{
	int k = known_find(g, p->id, g->disc[p->iface].name);

	if (k < 0) {
		k = 0;
		for (int i = 0; i < GEMD_MAX_TUNNELS; i++)
			if (g->known[i].ms < g->known[k].ms)
				k = i;
	}
	memcpy(g->known[k].id, p->id, 8);
	memcpy(g->known[k].ifname, g->disc[p->iface].name, IF_NAMESIZE);
	g->known[k].ms = now + GEMD_MAX_TUNNELS;	/* after the loaded ones */
	known_save(g);
}

static struct gemd_peer *add(struct gemd *g, const uint8_t id[8], int iface,
			     const struct in6_addr *src, uint64_t now)
{
	bool used_slot[64] = { false }, known = is_known(g, id, iface), full = true;
	struct gemd_peer *p = NULL;
	const char *why;
	char hex[GEMD_ID_HEX];
	int slot = -1, v;

	for (unsigned int i = 0; i < g->cfg.max_neighbours; i++)
		full &= g->peers[i].used;
	v = gemd_peer_victim(g->peers, g->cfg.max_neighbours, iface, known, full, now, &why);
	if (v < 0 && why) {
		gemd_hex(id, 8, hex);
		if (!strcmp(why, "full"))
			g->nbst.refused_full++;
		else
			g->nbst.refused_half_open++;
		if (!g->full_logged)
			log_warn("neighbour %s on %s refused: %s (max_neighbours %u, at most %u "
				 "half-open per link, none evictable yet); further refusals counted "
				 "only", hex, g->disc[iface].name, !strcmp(why, "full") ?
				 "neighbour table full" : "too many half-open neighbours on this link",
				 g->cfg.max_neighbours, GEMD_PEER_HALF_OPEN_MAX);
		g->full_logged = true;
		return NULL;
	}
	if (v >= 0) {
		struct gemd_peer *e = &g->peers[v];

		g->nbst.evicted++;
		log_warn("neighbour %s on %s evicted after %llu s half-open (identity %s) for %s "
			 "neighbour on %s", e->id_hex, g->disc[e->iface].name,
			 (unsigned long long)((now - e->first_seen_ms) / 1000),
			 e->ident.failures ? "proof failed" : "never proven",
			 known ? "a known" : "a new", g->disc[iface].name);
		forget(e);
	}

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
	if (!p || slot < 0)
		return NULL;	/* (gemd_peer_victim made room if it may) */
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
		p->ident.retry_ms = 0;	/* the back-off was for the other address */
		p->proven = false;	/* nothing proven from there yet */
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
	if (p->hold_ms > GEMD_PEER_HOLD_MAX_MS) {
		p->hold_ms = GEMD_PEER_HOLD_MAX_MS;
		g->nbst.hold_capped++;
	}
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
		if (!p->proven && gemd_peer_trusted(p)) {
			p->proven = true;
			remember(g, p, now);
		}
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

void gemd_peers_remap_ifaces(struct gemd *g, const int *map)
{
	for (unsigned int i = 0; i < g->cfg.max_neighbours; i++) {
		struct gemd_peer *p = &g->peers[i];

		if (!p->used)
			continue;
		if (map[p->iface] < 0) {
			log_info("neighbour %s on %s: the interface left the configuration: tunnel "
				 "torn down", p->id_hex, g->disc[p->iface].name);
			forget(p);
			g->full_logged = false;
			continue;
		}
		p->iface = map[p->iface];
	}
}
