// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * SIGHUP: read the configuration file again and apply it without a restart
 * (docs/CONTROL.md 2.1).
 *
 * What can change while running: [groups] (groups, streams, suite,
 * lifetimes, rotation) and [discovery] interfaces, interval and hold.  Tunnels
 * and neighbours on interfaces that stay are untouched.  A change to any
 * other key (the node's identity and addresses, directories, the HSM,
 * tunnel and Babel settings) needs a restart: the reload is then refused as a
 * whole, nothing applied, and the log names the keys.  A file that does not
 * parse or whose files are missing (as `gemd --check-config` says) is
 * refused likewise.  Either way gemd runs on with the configuration it has.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemd/gemd.h"
#include "gemd/log.h"
#include "gem_json.h"

/* section.name of the keys a running gemd takes on */
static const char *const live[] = {
	"groups.group", "groups.stream", "groups.suite", "groups.sek_lifetime",
	"groups.sek_packets", "groups.rotate_delay", "groups.sources", "groups.stream_idle",
	"groups.stream_rate", "groups.stream_burst",
	"discovery.interface", "discovery.interval", "discovery.hold",
};

struct changes {
	char applied[512], refused[512];
	size_t na, nr;
	bool groups, ifaces;
};

static void note(void *arg, const char *section, const char *name)
{
	struct changes *c = arg;
	char key[64];
	bool ok = false;

	snprintf(key, sizeof(key), "%s.%s", section, name);
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		ok |= !strcmp(key, live[i]);
	if (!strcmp(key, "discovery.interface"))
		snprintf(key, sizeof(key), "discovery.interfaces");
	if (ok && !strcmp(section, "groups"))
		c->groups = true;
	if (ok && !strcmp(key, "discovery.interfaces"))
		c->ifaces = true;
	if (ok)
		c->na += (size_t)snprintf(c->applied + c->na, sizeof(c->applied) - c->na, "%s%s",
					  c->na ? ", " : "", key);
	else
		c->nr += (size_t)snprintf(c->refused + c->nr, sizeof(c->refused) - c->nr, "%s%s",
					  c->nr ? ", " : "", key);
	if (c->na >= sizeof(c->applied))
		c->na = sizeof(c->applied) - 1;
	if (c->nr >= sizeof(c->refused))
		c->nr = sizeof(c->refused) - 1;
}

/* The discovery interfaces of g->cfg (new) from g->disc (old): interfaces
 * that stay keep their socket and state, new ones start closed (opened by
 * the loop), removed ones are closed with their neighbours. */
static void apply_ifaces(struct gemd *g)
{
	struct disc_if *now = calloc(GEMD_MAX_IFACES, sizeof(*now));
	int map[GEMD_MAX_IFACES];

	if (!now) {
		log_err("SIGHUP: out of memory: discovery interfaces unchanged");
		return;
	}
	for (int i = 0; i < g->ndisc; i++) {
		map[i] = -1;
		for (int j = 0; j < g->cfg.nifaces; j++)
			if (!strcmp(g->disc[i].name, g->cfg.ifaces[j]))
				map[i] = j;
	}
	gemd_peers_remap_ifaces(g, map);
	for (int j = 0; j < g->cfg.nifaces; j++)
		disc_if_init(&now[j], g->cfg.ifaces[j]);
	for (int i = 0; i < g->ndisc; i++) {
		if (map[i] >= 0) {
			now[map[i]] = g->disc[i];
		} else {
			log_info("discovery on %s: stopped (left the configuration)", g->disc[i].name);
			disc_if_close(&g->disc[i]);
		}
	}
	memcpy(g->disc, now, GEMD_MAX_IFACES * sizeof(*now));
	g->ndisc = g->cfg.nifaces;
	free(now);
}

bool gemd_reload(struct gemd *g, uint64_t now)
{
	struct gemd_config *nc = calloc(1, sizeof(*nc)), *old = NULL;
	struct changes c = { 0 };
	char err[512];
	json_object *ev;
	bool ok = false;

	if (!nc) {
		log_err("SIGHUP: out of memory: configuration unchanged");
		return false;
	}
	if (gemd_config_load(nc, g->cfg.path, err, sizeof(err))) {
		log_err("SIGHUP: %s; configuration unchanged", err);
		goto out;
	}
	if (g->check_files && g->check_files(nc)) {
		log_err("SIGHUP: %s: refused (see the line above); configuration unchanged",
			g->cfg.path);
		goto out;
	}
	if (!gemd_config_diff(&g->cfg, nc, note, &c)) {
		log_info("SIGHUP: %s: no change", g->cfg.path);
		goto out;
	}
	if (c.nr) {
		log_err("SIGHUP: %s: %s changed: needs a restart of gemd; nothing applied%s%s%s",
			g->cfg.path, c.refused, c.na ? " (not even " : "", c.applied,
			c.na ? ")" : "");
		goto out;
	}
	old = malloc(sizeof(*old));
	if (!old) {
		log_err("SIGHUP: out of memory: configuration unchanged");
		goto out;
	}
	*old = g->cfg;
	g->cfg = *nc;	/* in place: whoever holds &g->cfg sees the new one */
	if (c.ifaces)
		apply_ifaces(g);
	if (c.groups)
		gemd_cp_reload(g, old, now);
	log_info("SIGHUP: %s: applied %s", g->cfg.path, c.applied);
	ok = true;
out:
	ev = gemd_mon_event(&g->mon, "config-reload");
	gem_json_bool(ev, "applied", ok);
	gem_json_str(ev, "changed", c.na ? c.applied : NULL);
	gem_json_str(ev, "needs_restart", c.nr ? c.refused : NULL);
	gemd_mon_send(&g->mon, ev);
	free(old);
	free(nc);
	return ok;
}
