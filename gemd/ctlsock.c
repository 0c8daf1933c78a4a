// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemd's control socket: a UNIX stream socket (default /run/gem/gemd.sock,
 * mode 0600).  A client sends one request line and reads the reply until
 * gemd closes the connection:
 *
 *   peers json | peers text | routes json | routes text
 *   control-stats json | control-stats text
 *   groups json | groups text        GAK epochs per group (epochs.c)
 *   group-rekey GROUP [EPOCH] json|text
 *   gak-import GROUP EPOCH /PATH json|text    gemd reads the key file itself
 *   gak-retire GROUP EPOCH json|text
 *   monitor json | monitor text      the connection stays: one line per event
 *                                    (monitor.c) until the client closes it
 *
 * JSON replies are one object on one line; errors are {"error": "..."} (or
 * "error: ..." in text).  Each client is served to completion, bounded by
 * 1 s to read the request and 2 s to write the reply, so a stuck client
 * delays gemd's loop by at most that.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "gemd/gemd.h"
#include "gemd/log.h"
#include "gem_json.h"
#include "gem_lines.h"

int gemd_ctl_open(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);	/* stale: gemd holds the run dir lock */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 16) < 0) {
		err = -errno;
		close(fd);
		unlink(path);
		return err;
	}
	return fd;
}

void gemd_ctl_close(int fd, const char *path)
{
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
}

/* The Babel neighbour on a tunnel interface.  After the far end restarts,
 * the old one (another link-local address) lingers until babeld times it
 * out: take the cheapest. */
static const struct babel_neigh *neigh_on(const struct gemd *g, const char *ifname)
{
	const struct babel_neigh *best = NULL;

	if (!ifname || !ifname[0])
		return NULL;
	for (int i = 0; i < g->babel.st.nneigh; i++) {
		const struct babel_neigh *n = &g->babel.st.neigh[i];

		if (!strcmp(n->ifname, ifname) && (!best || n->cost < best->cost))
			best = n;
	}
	return best;
}

/* "01:23:45:67:89:ab:cd:ef" -> "0123456789abcdef" */
static void rid_hex(const char *rid, char out[GEMD_ID_HEX])
{
	int n = 0;

	for (; *rid && n < 16; rid++)
		if (*rid != ':')
			out[n++] = *rid;
	out[n] = '\0';
}

static const char *peer_role(const struct gemd *g, const struct gemd_peer *p)
{
	return memcmp(g->id, p->id, 8) < 0 ? "initiator" : "responder";
}

static void peers_text(struct gemd *g, FILE *f, uint64_t now)
{
	fprintf(f, "node %s%s%s%s\n", g->id_hex, g->cfg.name[0] ? " (" : "", g->cfg.name,
		g->cfg.name[0] ? ")" : "");
	fprintf(f, "%-16s  %-10s %-10s %-26s %-9s %-16s %-9s %6s %6s  %s\n", "NEIGHBOUR",
		"NAME", "LINK", "ADDRESS", "TUNNEL", "STATE", "ROLE", "COST", "UP",
		"PROBLEM / LAST ERROR");
	for (unsigned int i = 0; g->peers && i < g->cfg.max_neighbours; i++) {
		struct gemd_peer *p = &g->peers[i];
		const struct tunnel *t = p->tun;
		const struct babel_neigh *bn;
		char ll[INET6_ADDRSTRLEN], cost[16] = "-", err[sizeof(t->problem) + 32] = "-";
		const char *state = t ? tunnel_state_name(t->state) : "no-tunnel";
		unsigned long since = t ? (now - t->state_since_ms) / 1000 : 0;

		if (!p->used)
			continue;
		inet_ntop(AF_INET6, &p->ll, ll, sizeof(ll));
		bn = neigh_on(g, t ? t->ifname : NULL);
		if (bn)
			snprintf(cost, sizeof(cost), "%u", bn->cost);
		if (t && t->problem[0])
			snprintf(err, sizeof(err), "%s", t->problem);
		else if (p->ident.problem[0])
			snprintf(err, sizeof(err), "%s (%lus ago)", p->ident.problem,
				 (unsigned long)((now - p->ident.problem_ms) / 1000));
		else if (t && t->last_error[0])
			snprintf(err, sizeof(err), "%s (%lus ago)", t->last_error,
				 (unsigned long)((now - t->last_error_ms) / 1000));
		fprintf(f, "%-16s  %-10s %-10s %-26s %-9s %-16s %-9s %6s %5lus  %s\n",
			p->id_hex, p->name[0] ? p->name : "-", g->disc[p->iface].name, ll,
			t && t->ifname[0] ? t->ifname : "-", state, peer_role(g, p), cost, since,
			err);
	}
}

/* One neighbour of `peers json` (gemctl(8)). */
static json_object *peer_json(struct gemd *g, unsigned int i, uint64_t now)
{
	const struct gemd_peer *p = &g->peers[i];
	const struct tunnel *t = p->tun;
	const struct babel_neigh *bn = neigh_on(g, t ? t->ifname : NULL);
	json_object *o = json_object_new_object(), *x = NULL;
	struct gem_db_neigh_info ni;
	char ll[INET6_ADDRSTRLEN], reach[8];

	inet_ntop(AF_INET6, &p->ll, ll, sizeof(ll));
	gem_json_str(o, "node_id", p->id_hex);
	gem_json_str(o, "name", p->name);
	gem_json_str(o, "link", g->disc[p->iface].name);
	gem_json_str(o, "address", ll);
	gem_json_str(o, "tunnel", t && t->ifname[0] ? t->ifname : NULL);
	gem_json_str(o, "state", t ? tunnel_state_name(t->state) : "no-tunnel");
	gem_json_u64(o, "state_for_s", t ? (now - t->state_since_ms) / 1000 : 0);
	gem_json_str(o, "role", peer_role(g, p));
	gem_json_u64(o, "ike_port", gemd_peer_port(g, p));
	gem_json_u64(o, "peer_ike_port", t ? t->peer_port : 0);
	gem_json_bool(o, "peer_ready", t && t->peer_ready);
	gem_json_str(o, "backend", g->backend->name);
	gem_json_int(o, "pid", t ? t->pid : 0);
	gem_json_u64(o, "restarts", t ? t->restarts : 0);
	gem_json_u64(o, "auth_failures", t ? t->auth_failures : 0);
	gem_json_u64(o, "seen_for_s", (now - p->first_seen_ms) / 1000);
	gem_json_str(o, "problem", t && t->problem[0] ? t->problem :
		     p->ident.problem[0] ? p->ident.problem : NULL);
	gem_json_str(o, "identity", gemd_peer_trusted(p) ? "proven" :
		     p->ident.state == GEMD_IDENT_PROVING ? "proving" : "none");
	gem_json_u64(o, "identity_failures", p->ident.failures);
	gem_json_u64(o, "hold_ms", p->hold_ms);
	if (t && t->last_error[0]) {
		gem_json_str(o, "last_error", t->last_error);
		gem_json_u64(o, "last_error_age_s", (now - t->last_error_ms) / 1000);
	} else {
		gem_json_null(o, "last_error");
		gem_json_null(o, "last_error_age_s");
	}
	/* the record engine's view of it: what it still owes us acks for */
	if (g->cp.db && !gem_db_neigh_info(g->cp.db, i, &ni)) {
		x = json_object_new_object();
		gem_json_u64(x, "pending", ni.pending);
		gem_json_u64(x, "acks_due", ni.acks);
		gem_json_bool(x, "request_pending", ni.request_pending);
	}
	gem_json_add(o, "records", x);
	x = NULL;
	if (bn) {
		x = json_object_new_object();
		snprintf(reach, sizeof(reach), "%04x", bn->reach);
		gem_json_str(x, "address", bn->addr);
		gem_json_str(x, "reach", reach);
		gem_json_u64(x, "rxcost", bn->rxcost);
		gem_json_u64(x, "txcost", bn->txcost);
		gem_json_u64(x, "cost", bn->cost);
	}
	gem_json_add(o, "babel", x);
	return o;
}

static void peers_json(struct gemd *g, FILE *f, uint64_t now)
{
	const struct gemd_ident_stats *is = &g->ident;
	json_object *o = json_object_new_object(), *a = json_object_new_array(), *x;

	gem_json_str(o, "node_id", g->id_hex);
	gem_json_str(o, "name", g->cfg.name);
	for (unsigned int i = 0; g->peers && i < g->cfg.max_neighbours; i++)
		if (g->peers[i].used)
			gem_json_append(a, peer_json(g, i, now));
	gem_json_add(o, "peers", a);
	x = json_object_new_object();
	gem_json_int(x, "pid", g->babel.pid);
	gem_json_u64(x, "restarts", g->babel.restarts);
	gem_json_bool(x, "connected", g->babel.fd >= 0);
	gem_json_add(o, "babeld", x);
	x = json_object_new_object();
	gem_json_u64(x, "proven", is->proven);
	gem_json_u64(x, "failed", is->failed);
	gem_json_u64(x, "timeouts", is->timeouts);
	gem_json_u64(x, "wrong_id", is->wrong_id);
	gem_json_u64(x, "pk_not_id", is->pk_not_id);
	gem_json_u64(x, "bad_sig", is->bad_sig);
	gem_json_u64(x, "rx_stale", is->rx_stale);
	gem_json_u64(x, "rx_foreign", is->rx_foreign);
	gem_json_u64(x, "tx", is->tx);
	gem_json_u64(x, "signatures", is->signatures);
	gem_json_add(o, "identity", x);
	x = json_object_new_object();
	gem_json_u64(x, "hold_capped", g->nbst.hold_capped);
	gem_json_u64(x, "refused_half_open", g->nbst.refused_half_open);
	gem_json_u64(x, "refused_full", g->nbst.refused_full);
	gem_json_u64(x, "evicted", g->nbst.evicted);
	gem_json_add(o, "neighbours", x);
	gem_json_fprint(f, o, false);
}

void gemd_show_peers(struct gemd *g, FILE *f, bool json, uint64_t now)
{
	if (json)
		peers_json(g, f, now);
	else
		peers_text(g, f, now);
}

static bool from_any(const struct babel_route *r)
{
	return !strcmp(r->from, "::/0") || !strcmp(r->from, "0.0.0.0/0");
}

static void routes_text(struct gemd *g, FILE *f)
{
	const struct babel_state *st = &g->babel.st;

	fprintf(f, "%-28s %-16s %-28s %-9s %-16s %6s %s\n", "PREFIX", "ORIGIN", "VIA", "IF",
		"NEIGHBOUR", "METRIC", "INSTALLED");
	for (int i = 0; i < st->nroute; i++) {
		const struct babel_route *r = &st->route[i];
		struct gemd_peer *p = gemd_peer_by_ifname(g, r->ifname);
		char origin[GEMD_ID_HEX], pfx[96];

		rid_hex(r->router_id, origin);
		snprintf(pfx, sizeof(pfx), "%s%s%s", r->prefix, from_any(r) ? "" : " from ",
			 from_any(r) ? "" : r->from);
		fprintf(f, "%-28s %-16s %-28s %-9s %-16s %6u %s\n", pfx, origin, r->via,
			r->ifname, p ? p->id_hex : "-", r->metric, r->installed ? "yes" : "no");
	}
	for (int i = 0; i < st->nxroute; i++)
		fprintf(f, "%-28s %-16s %-28s %-9s %-16s %6u %s\n", st->xroute[i].prefix,
			g->id_hex, "(this node)", "-", "-", st->xroute[i].metric, "exported");
	if (g->babel.fd < 0)
		fprintf(f, "(babeld %s)\n", g->babel.pid ? "not connected yet" : "not running");
}

static void routes_json(struct gemd *g, FILE *f)
{
	const struct babel_state *st = &g->babel.st;
	json_object *o = json_object_new_object(), *a = json_object_new_array(), *x;

	gem_json_str(o, "node_id", g->id_hex);
	for (int i = 0; i < st->nroute; i++) {
		const struct babel_route *r = &st->route[i];
		struct gemd_peer *p = gemd_peer_by_ifname(g, r->ifname);
		char origin[GEMD_ID_HEX];

		rid_hex(r->router_id, origin);
		x = json_object_new_object();
		gem_json_str(x, "prefix", r->prefix);
		gem_json_str(x, "from", r->from);
		gem_json_str(x, "origin", origin);
		gem_json_u64(x, "metric", r->metric);
		gem_json_u64(x, "refmetric", r->refmetric);
		gem_json_str(x, "via", r->via);
		gem_json_str(x, "interface", r->ifname);
		gem_json_str(x, "neighbour", p ? p->id_hex : NULL);
		gem_json_bool(x, "installed", r->installed);
		gem_json_append(a, x);
	}
	gem_json_add(o, "routes", a);
	a = json_object_new_array();
	for (int i = 0; i < st->nxroute; i++) {
		x = json_object_new_object();
		gem_json_str(x, "prefix", st->xroute[i].prefix);
		gem_json_str(x, "from", st->xroute[i].from);
		gem_json_u64(x, "metric", st->xroute[i].metric);
		gem_json_append(a, x);
	}
	gem_json_add(o, "exported", a);
	x = json_object_new_object();
	gem_json_int(x, "pid", g->babel.pid);
	gem_json_bool(x, "connected", g->babel.fd >= 0);
	gem_json_add(o, "babeld", x);
	gem_json_fprint(f, o, false);
}

void gemd_show_routes(struct gemd *g, FILE *f, bool json)
{
	if (json)
		routes_json(g, f);
	else
		routes_text(g, f);
}

void gemd_ctl_error(FILE *f, bool json, const char *msg)
{
	if (json)
		gem_json_ferror(f, msg);
	else
		fprintf(f, "error: %s\n", msg);
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;		/* timeout or gone: drop the client */
		}
		buf += w;
		len -= w;
	}
}

/* "group-rekey ARGS", "gak-import ARGS", "gak-retire ARGS" (then " json" or
 * " text"): GAK epochs (gemd/epochs.c).  true if req was one. */
static bool epoch_request(struct gemd *g, char *req, FILE *f, bool json)
{
	static const char *const verbs[] = { "group-rekey ", "gak-import ", "gak-retire " };
	size_t n = strlen(req);

	if (n < 5 || (strcmp(req + n - 5, " json") != 0 && strcmp(req + n - 5, " text") != 0))
		return false;
	for (int i = 0; i < 3; i++) {
		const char *args = req + strlen(verbs[i]);

		if (strncmp(req, verbs[i], strlen(verbs[i])) != 0)
			continue;
		req[n - 5] = '\0';
		if (i == 0)
			gemd_cp_rekey_request(g, args, f, json);
		else
			gemd_cp_gak_request(g, i == 1, args, f, json);
		return true;
	}
	return false;
}

void gemd_ctl_serve(struct gemd *g, int lfd)
{
	struct timeval rt = { 1, 0 }, wt = { 2, 0 };
	char buf[GEMD_PATH_MAX + 128], *req, *reply = NULL;
	struct gem_lines in;
	size_t len = 0;
	bool json;
	FILE *f;
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof(rt));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wt, sizeof(wt));
	gem_lines_init(&in, buf, sizeof(buf));
	while (!(req = gem_lines_next(&in)) && gem_lines_recv(&in, fd, 0) > 0)
		;
	if (!req)
		goto out;
	json = strlen(req) > 5 && !strcmp(req + strlen(req) - 5, " json");
	if (!strcmp(req, "monitor json") || !strcmp(req, "monitor text")) {
		int err = gemd_mon_add(&g->mon, fd, json, g->id_hex);
		char e[128];

		if (!err)
			return;		/* fd is the monitor's now */
		if (err == -EBUSY)
			snprintf(e, sizeof(e), "%d monitor clients already", GEMD_MON_MAX);
		else
			snprintf(e, sizeof(e), "monitor: %s", strerror(-err));
		log_warn("monitor: client refused: %s", err == -EBUSY ? "too many" :
			 strerror(-err));
		f = open_memstream(&reply, &len);
		if (f)
			gemd_ctl_error(f, json, e);
		goto send;
	}
	f = open_memstream(&reply, &len);
	if (!f)
		goto out;
	if (!strcmp(req, "peers json") || !strcmp(req, "peers text"))
		gemd_show_peers(g, f, json, gemd_now_ms());
	else if (!strcmp(req, "routes json") || !strcmp(req, "routes text"))
		gemd_show_routes(g, f, json);
	else if (!strcmp(req, "control-stats json") || !strcmp(req, "control-stats text"))
		gemd_show_cp_stats(g, f, json, gemd_now_ms());
	else if (!strcmp(req, "groups json") || !strcmp(req, "groups text"))
		gemd_cp_show_groups(g, f, json);
	else if (epoch_request(g, req, f, json))
		;
	else
		gemd_ctl_error(f, json, json ? "unknown request (try: peers json, routes json)" :
			       "unknown request (try: peers text, routes text)");
send:
	if (f && fclose(f) == 0)
		write_all(fd, reply, len);
	free(reply);
out:
	close(fd);
}
