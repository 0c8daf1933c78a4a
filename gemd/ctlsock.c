// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemd's control socket: a UNIX stream socket (default /run/gem/gemd.sock,
 * mode 0600).  A client sends one request line and reads the reply until
 * gemd closes the connection:
 *
 *   peers json | peers text | routes json | routes text
 *   control-stats json | control-stats text
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

static void jstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
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

void gemd_show_peers(struct gemd *g, FILE *f, bool json, uint64_t now)
{
	bool first = true;

	if (json) {
		fprintf(f, "{\"node_id\": \"%s\", \"name\": ", g->id_hex);
		jstr(f, g->cfg.name);
		fprintf(f, ", \"peers\": [");
	} else {
		fprintf(f, "node %s%s%s%s\n", g->id_hex, g->cfg.name[0] ? " (" : "", g->cfg.name,
			g->cfg.name[0] ? ")" : "");
		fprintf(f, "%-16s  %-10s %-10s %-26s %-9s %-16s %-9s %6s %6s  %s\n", "NEIGHBOUR",
			"NAME", "LINK", "ADDRESS", "TUNNEL", "STATE", "ROLE", "COST", "UP",
			"PROBLEM / LAST ERROR");
	}
	for (unsigned int i = 0; g->peers && i < g->cfg.max_neighbours; i++) {
		struct gemd_peer *p = &g->peers[i];
		const struct tunnel *t = p->tun;
		struct gem_db_neigh_info ni;
		const struct babel_neigh *bn;
		char ll[INET6_ADDRSTRLEN];
		const char *state = t ? tunnel_state_name(t->state) : "no-tunnel";
		unsigned long since = t ? (now - t->state_since_ms) / 1000 : 0;

		if (!p->used)
			continue;
		inet_ntop(AF_INET6, &p->ll, ll, sizeof(ll));
		bn = neigh_on(g, t ? t->ifname : NULL);
		if (!json) {
			char cost[16] = "-", err[sizeof(t->problem) + 32] = "-";

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
				t && t->ifname[0] ? t->ifname : "-", state,
				memcmp(g->id, p->id, 8) < 0 ? "initiator" : "responder", cost, since,
				err);
			continue;
		}
		fprintf(f, "%s{\"node_id\": \"%s\", \"name\": ", first ? "" : ", ", p->id_hex);
		jstr(f, p->name);
		fprintf(f, ", \"link\": ");
		jstr(f, g->disc[p->iface].name);
		fprintf(f, ", \"address\": \"%s\", \"tunnel\": ", ll);
		if (t && t->ifname[0])
			jstr(f, t->ifname);
		else
			fprintf(f, "null");
		fprintf(f, ", \"state\": \"%s\", \"state_for_s\": %lu, \"role\": \"%s\", "
			"\"ike_port\": %u, \"peer_ike_port\": %u, \"peer_ready\": %s, "
			"\"backend\": \"%s\", \"pid\": %d, \"restarts\": %u, \"auth_failures\": %u, "
			"\"seen_for_s\": %lu, \"problem\": ", state, since,
			memcmp(g->id, p->id, 8) < 0 ? "initiator" : "responder",
			(unsigned int)gemd_peer_port(g, p), t ? (unsigned int)t->peer_port : 0u,
			t && t->peer_ready ? "true" : "false", g->backend->name, t ? t->pid : 0,
			t ? t->restarts : 0, t ? t->auth_failures : 0,
			(unsigned long)((now - p->first_seen_ms) / 1000));
		if (t && t->problem[0])
			jstr(f, t->problem);
		else if (p->ident.problem[0])
			jstr(f, p->ident.problem);
		else
			fprintf(f, "null");
		fprintf(f, ", \"identity\": \"%s\", \"identity_failures\": %u, \"hold_ms\": %u",
			gemd_peer_trusted(p) ? "proven" :
			p->ident.state == GEMD_IDENT_PROVING ? "proving" : "none", p->ident.failures,
			p->hold_ms);
		fprintf(f, ", \"last_error\": ");
		if (t && t->last_error[0]) {
			jstr(f, t->last_error);
			fprintf(f, ", \"last_error_age_s\": %lu",
				(unsigned long)((now - t->last_error_ms) / 1000));
		} else {
			fprintf(f, "null, \"last_error_age_s\": null");
		}
		/* the record engine's view of it: what it still owes us acks for */
		if (g->cp.db && !gem_db_neigh_info(g->cp.db, i, &ni))
			fprintf(f, ", \"records\": {\"pending\": %zu, \"acks_due\": %zu, "
				"\"request_pending\": %s}", ni.pending, ni.acks,
				ni.request_pending ? "true" : "false");
		else
			fprintf(f, ", \"records\": null");
		fprintf(f, ", \"babel\": ");
		if (bn)
			fprintf(f, "{\"address\": \"%s\", \"reach\": \"%04x\", \"rxcost\": %u, "
				"\"txcost\": %u, \"cost\": %u}", bn->addr, bn->reach, bn->rxcost,
				bn->txcost, bn->cost);
		else
			fprintf(f, "null");
		fprintf(f, "}");
		first = false;
	}
	if (json) {
		const struct gemd_ident_stats *is = &g->ident;

		fprintf(f, "], \"babeld\": {\"pid\": %d, \"restarts\": %u, \"connected\": %s}",
			g->babel.pid, g->babel.restarts, g->babel.fd >= 0 ? "true" : "false");
		fprintf(f, ", \"identity\": {\"proven\": %llu, \"failed\": %llu, "
			"\"timeouts\": %llu, \"wrong_id\": %llu, \"pk_not_id\": %llu, "
			"\"bad_sig\": %llu, \"rx_stale\": %llu, \"rx_foreign\": %llu, \"tx\": %llu, "
			"\"signatures\": %llu}", 
			(unsigned long long)is->proven, (unsigned long long)is->failed,
			(unsigned long long)is->timeouts, (unsigned long long)is->wrong_id,
			(unsigned long long)is->pk_not_id, (unsigned long long)is->bad_sig,
			(unsigned long long)is->rx_stale, (unsigned long long)is->rx_foreign,
			(unsigned long long)is->tx, (unsigned long long)is->signatures);
		fprintf(f, ", \"neighbours\": {\"hold_capped\": %llu, \"refused_half_open\": %llu, "
			"\"refused_full\": %llu, \"evicted\": %llu}}\n",
			(unsigned long long)g->nbst.hold_capped,
			(unsigned long long)g->nbst.refused_half_open,
			(unsigned long long)g->nbst.refused_full, (unsigned long long)g->nbst.evicted);
	}
}

void gemd_show_routes(struct gemd *g, FILE *f, bool json)
{
	const struct babel_state *st = &g->babel.st;

	if (json) {
		fprintf(f, "{\"node_id\": \"%s\", \"routes\": [", g->id_hex);
	} else {
		fprintf(f, "%-28s %-16s %-28s %-9s %-16s %6s %s\n", "PREFIX", "ORIGIN", "VIA", "IF",
			"NEIGHBOUR", "METRIC", "INSTALLED");
	}
	for (int i = 0; i < st->nroute; i++) {
		const struct babel_route *r = &st->route[i];
		struct gemd_peer *p = gemd_peer_by_ifname(g, r->ifname);
		char origin[GEMD_ID_HEX];

		rid_hex(r->router_id, origin);
		if (!json) {
			char pfx[96];

			snprintf(pfx, sizeof(pfx), "%s%s%s", r->prefix,
				 strcmp(r->from, "::/0") != 0 && strcmp(r->from, "0.0.0.0/0") != 0 ? " from " : "",
				 strcmp(r->from, "::/0") != 0 && strcmp(r->from, "0.0.0.0/0") != 0 ? r->from : "");
			fprintf(f, "%-28s %-16s %-28s %-9s %-16s %6u %s\n", pfx, origin, r->via,
				r->ifname, p ? p->id_hex : "-", r->metric, r->installed ? "yes" : "no");
			continue;
		}
		fprintf(f, "%s{\"prefix\": \"%s\", \"from\": \"%s\", \"origin\": \"%s\", "
			"\"metric\": %u, \"refmetric\": %u, \"via\": \"%s\", \"interface\": ",
			i ? ", " : "", r->prefix, r->from, origin, r->metric, r->refmetric, r->via);
		jstr(f, r->ifname);
		fprintf(f, ", \"neighbour\": ");
		if (p)
			fprintf(f, "\"%s\"", p->id_hex);
		else
			fprintf(f, "null");
		fprintf(f, ", \"installed\": %s}", r->installed ? "true" : "false");
	}
	if (json)
		fprintf(f, "], \"exported\": [");
	for (int i = 0; i < st->nxroute; i++) {
		const struct babel_xroute *x = &st->xroute[i];

		if (json)
			fprintf(f, "%s{\"prefix\": \"%s\", \"from\": \"%s\", \"metric\": %u}",
				i ? ", " : "", x->prefix, x->from, x->metric);
		else
			fprintf(f, "%-28s %-16s %-28s %-9s %-16s %6u %s\n", x->prefix, g->id_hex,
				"(this node)", "-", "-", x->metric, "exported");
	}
	if (json)
		fprintf(f, "], \"babeld\": {\"pid\": %d, \"connected\": %s}}\n", g->babel.pid,
			g->babel.fd >= 0 ? "true" : "false");
	else if (g->babel.fd < 0)
		fprintf(f, "(babeld %s)\n", g->babel.pid ? "not connected yet" : "not running");
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
	char req[GEMD_PATH_MAX + 128], *reply = NULL, *nl;
	size_t rlen = 0, len = 0;
	bool json;
	FILE *f;
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof(rt));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wt, sizeof(wt));
	while (rlen < sizeof(req) - 1) {
		ssize_t n = recv(fd, req + rlen, sizeof(req) - 1 - rlen, 0);

		if (n <= 0)
			break;
		rlen += n;
		if (memchr(req, '\n', rlen))
			break;
	}
	req[rlen] = '\0';
	nl = strchr(req, '\n');
	if (!nl)
		goto out;
	*nl = '\0';
	json = strlen(req) > 5 && !strcmp(req + strlen(req) - 5, " json");
	if (!strcmp(req, "monitor json") || !strcmp(req, "monitor text")) {
		int err = gemd_mon_add(&g->mon, fd, json, g->id_hex);
		char e[128];
		int n;

		if (!err)
			return;		/* fd is the monitor's now */
		if (err == -EBUSY)
			n = snprintf(e, sizeof(e), json ? "{\"error\": \"%d monitor clients "
				     "already\"}\n" : "error: %d monitor clients already\n",
				     GEMD_MON_MAX);
		else
			n = snprintf(e, sizeof(e), json ? "{\"error\": \"monitor: %s\"}\n" :
				     "error: monitor: %s\n", strerror(-err));
		log_warn("monitor: client refused: %s", err == -EBUSY ? "too many" :
			 strerror(-err));
		write_all(fd, e, (size_t)n);
		goto out;
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
	else if (json)
		fprintf(f, "{\"error\": \"unknown request (try: peers json, routes json)\"}\n");
	else
		fprintf(f, "error: unknown request (try: peers text, routes text)\n");
	if (fclose(f) == 0)
		write_all(fd, reply, len);
	free(reply);
out:
	close(fd);
}
