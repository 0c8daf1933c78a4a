// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemd control plane, GAK epochs (docs/CONTROL.md 13.6, docs/KEYS.md 2.3):
 * which epoch of each group's GAK this node wraps and HMACs its SEK
 * Announces under (the active one), when it moves to a newer one, and when
 * the older ones are retired.
 *
 *   at start    the oldest epoch the token holds (after a completed rekey
 *               the older ones are gone: it is the domain's current one)
 *   switch      `gemctl group rekey GROUP [--epoch N]` (default: the newest
 *               held), or a verified SEK Announce of the group under a newer
 *               epoch this node holds: active = that epoch; every own stream
 *               of the group rotates to a fresh SEK wrapped under it only
 *               (streams.c), the data plane's group MAC key follows
 *   retire      GEMD_CP_EPOCH_GRACE_MS + rotate_delay after the switch, once
 *               no own stream of the group still uses an older epoch: the
 *               older epochs' GAKs are destroyed in the token, and ingress
 *               SEKs learned from records of those epochs are unloaded
 *   not held    a record under an epoch this node does not hold (an
 *               excluded member; a rekey it missed): relayed, not loaded,
 *               counted and logged ("cannot unwrap")
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gem_json.h"
#include "gemd/log.h"
#include "keys/gem_keys.h"
#include "gem_dp.h"
#include "gemd/cp_int.h"

static int held_index(const struct gemd_cp_epochs *ep, uint32_t e)
{
	for (int i = 0; i < ep->nheld; i++)
		if (ep->held[i] == e)
			return i;
	return -1;
}

bool cp_epoch_held(const struct gemd *g, int gi, uint32_t e)
{
	return gi >= 0 && held_index(&g->cp.ep[gi], e) >= 0;
}

uint32_t cp_epoch_active(const struct gemd *g, const uint8_t grp[16])
{
	int i = cp_group_index(g, grp);

	return i >= 0 ? g->cp.ep[i].active : 0;
}

/* The token's epochs of group i into ep (ascending). */
static int read_epochs(struct gemd *g, int i, struct gemd_cp_epochs *ep)
{
	int n = gem_keys_gak_epochs(g->keys, g->cfg.groups[i], ep->held, GEMD_CP_MAX_EPOCHS);

	if (n < 0) {
		ep->nheld = 0;
		return n;
	}
	ep->nheld = n < GEMD_CP_MAX_EPOCHS ? n : GEMD_CP_MAX_EPOCHS;
	return 0;
}

void cp_find_gaks(struct gemd *g, const struct gemd_config *old)
{
	struct gemd_cp_epochs had[GEMD_MAX_GROUPS];
	bool had_gak[GEMD_MAX_GROUPS];

	memcpy(had, g->cp.ep, sizeof(had));		/* in old's order */
	memcpy(had_gak, g->cp.have_gak, sizeof(had_gak));
	for (int i = 0; i < g->cfg.ngroups; i++) {
		struct gemd_cp_epochs ep = { 0 };
		char gr[GEM_KEYS_GROUP_STRLEN];
		int was = -1, err;	/* -1: a new group */

		for (int j = 0; old && j < old->ngroups; j++)
			if (!memcmp(old->groups[j], g->cfg.groups[i], 16)) {
				was = had_gak[j];
				ep = had[j];
			}
		gem_keys_group_str(g->cfg.groups[i], gr);
		err = read_epochs(g, i, &ep);
		if (err)
			log_err("control: group %s: cannot list its GAKs: %s", gr,
				gem_keys_errmsg());
		if (ep.nheld && (was != 1 || held_index(&ep, ep.active) < 0)) {
			ep.active = ep.held[0];		/* oldest held */
			ep.want = 0;
		}
		g->cp.ep[i] = ep;
		g->cp.have_gak[i] = ep.nheld > 0;
		if (was != g->cp.have_gak[i]) {
			if (ep.nheld)
				log_info("control: group %s: GAK held (epochs %u..%u, %d in all): "
					 "member, records under epoch %u", gr, ep.held[0],
					 ep.held[ep.nheld - 1], ep.nheld, ep.active);
			else
				log_info("control: group %s: no GAK in the token: relay only", gr);
		}
	}
}

void cp_epoch_verified(struct gemd *g, int gi, uint32_t e)
{
	struct gemd_cp_epochs *ep = &g->cp.ep[gi];

	if (e > ep->active && e > ep->want && held_index(ep, e) >= 0)
		ep->want = e;	/* cp_epoch_tick switches (not inside a db callback) */
}

void cp_epoch_unheld(struct gemd *g, const struct gem_rec *r, const char *desc)
{
	char gr[GEM_KEYS_GROUP_STRLEN], label[GEM_KEYS_LABEL_MAX + 1];

	g->cp.rx_unheld_epoch++;
	gem_keys_group_str(r->sek.grp, gr);
	gem_keys_gak_label(r->sek.grp, r->sek.epoch, label);
	if (!(g->cp.rx_unheld_epoch & (g->cp.rx_unheld_epoch - 1)))
		log_warn("control: %s: GAK epoch %u of group %s not held ('%s'): cannot unwrap; "
			 "relayed only (%llu such records so far)", desc, r->sek.epoch, gr, label,
			 (unsigned long long)g->cp.rx_unheld_epoch);
	else
		log_debug("control: %s: GAK epoch %u not held: cannot unwrap; relayed only", desc,
			  r->sek.epoch);
}

/* The data plane's group MAC key follows the active epoch (suites with one). */
static void dp_epoch(struct gemd *g, int gi)
{
	if (g->cp.pins_open)
		cp_load_group(g, gi);
}

static int switch_to(struct gemd *g, int gi, uint32_t e, uint64_t now, const char *why)
{
	struct gemd_cp_epochs *ep = &g->cp.ep[gi];
	char gr[GEM_KEYS_GROUP_STRLEN];
	json_object *ev;
	int nown = 0;

	gem_keys_group_str(g->cfg.groups[gi], gr);
	for (int i = 0; i < g->cp.nown; i++)
		nown += !memcmp(g->cp.own[i].sg.grp.a, g->cfg.groups[gi], 16);
	log_info("control: group %s: GAK epoch %u -> %u (%s): %d own stream(s) rotate to SEKs "
		 "wrapped under epoch %u only", gr, ep->active, e, why, nown, e);
	ev = gemd_mon_event(&g->mon, "epoch-switch");
	gem_json_str(ev, "group", gr);
	gem_json_u64(ev, "from", ep->active);
	gem_json_u64(ev, "to", e);
	gem_json_str(ev, "why", why);
	gemd_mon_send(&g->mon, ev);
	ep->active = e;
	ep->want = 0;
	ep->switched_ms = now;
	g->cp.epoch_switches++;
	dp_epoch(g, gi);
	g->cp.rotate_check_ms = 0;	/* streams.c starts the rotations now */
	return 0;
}

struct old_epoch_walk {
	struct gemd *g;
	const uint8_t *grp;
	uint32_t below;
	uint64_t now;
};

static int old_epoch_walk(void *arg, const struct gem_db_entry *e)
{
	struct old_epoch_walk *w = arg;
	const struct gem_rec *r = e->rec;

	if (r->type == GEM_TLV_SEK && !e->own && r->sek.epoch < w->below &&
	    !memcmp(r->sek.grp, w->grp, 16))
		cp_unload_schedule(w->g, r, w->now);
	return 0;
}

/* Retire group gi's epochs below the active one, if the switch is old
 * enough and no own stream of the group still uses one of them. */
static void retire_old(struct gemd *g, int gi, uint64_t now)
{
	struct gemd_cp_epochs *ep = &g->cp.ep[gi];
	struct old_epoch_walk w = { g, g->cfg.groups[gi], ep->active, now };
	char gr[GEM_KEYS_GROUP_STRLEN];
	int n = 0;

	if (!ep->nheld || ep->held[0] >= ep->active || !ep->switched_ms ||
	    now - ep->switched_ms < GEMD_CP_EPOCH_GRACE_MS + g->cfg.rotate_delay_ms)
		return;
	for (int i = 0; i < g->cp.nown; i++) {
		const struct gemd_cp_own *o = &g->cp.own[i];

		if (!memcmp(o->sg.grp.a, g->cfg.groups[gi], 16) &&
		    (o->epoch != ep->active || o->next_id))
			return;		/* still rotating */
	}
	gem_keys_group_str(g->cfg.groups[gi], gr);
	for (int i = 0; i < ep->nheld && ep->held[i] < ep->active; i++) {
		int err = gem_keys_gak_retire(g->keys, g->cfg.groups[gi], ep->held[i]);
		json_object *ev;

		if (err && err != -ENOENT) {
			log_err("control: group %s: cannot retire GAK epoch %u: %s", gr,
				ep->held[i], gem_keys_errmsg());
			continue;
		}
		n++;
		g->cp.epochs_retired++;
		log_info("control: group %s: GAK epoch %u retired (destroyed in the token, %llu "
			 "ms after the switch to epoch %u)", gr, ep->held[i],
			 (unsigned long long)(now - ep->switched_ms), ep->active);
		ev = gemd_mon_event(&g->mon, "epoch-retired");
		gem_json_str(ev, "group", gr);
		gem_json_u64(ev, "epoch", ep->held[i]);
		gem_json_u64(ev, "active", ep->active);
		gemd_mon_send(&g->mon, ev);
	}
	read_epochs(g, gi, ep);
	if (held_index(ep, ep->active) < 0 && ep->nheld)
		ep->active = ep->held[0];
	/* what was learned under the retired epochs goes too */
	gem_db_walk(g->cp.db, now, old_epoch_walk, &w);
	if (n)
		dp_epoch(g, gi);
}

void cp_epoch_tick(struct gemd *g, uint64_t now)
{
	for (int i = 0; i < g->cfg.ngroups; i++) {
		struct gemd_cp_epochs *ep = &g->cp.ep[i];

		if (!g->cp.have_gak[i])
			continue;
		if (ep->want > ep->active)
			switch_to(g, i, ep->want, now, "a member announces under it");
		retire_old(g, i, now);
	}
}

/* ---- control-socket requests -------------------------------------------------- */

static void reply(FILE *f, bool json, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void reply(FILE *f, bool json, bool ok, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (json) {
		json_object *o = json_object_new_object();

		gem_json_str(o, ok ? "result" : "error", msg);
		gem_json_fprint(f, o, false);
	} else {
		fprintf(f, "%s%s\n", ok ? "" : "error: ", msg);
	}
}

/* "GROUP [EPOCH]" of a request into gi / epoch (-1: none); 0, or replied. */
static int parse_group(struct gemd *g, const char *args, FILE *f, bool json, int *gi,
		       long long *epoch, char *rest, size_t rlen)
{
	char gtext[64] = "", etext[16] = "";
	uint8_t grp[16];
	int n = 0;

	*epoch = -1;
	if (rest)
		rest[0] = '\0';
	if (sscanf(args, "%63s %15s %n", gtext, etext, &n) < 1) {
		reply(f, json, false, "expected: GROUP [EPOCH]");
		return -EINVAL;
	}
	if (gem_keys_group_parse(gtext, grp)) {
		reply(f, json, false, "'%s' is not a multicast group address", gtext);
		return -EINVAL;
	}
	*gi = cp_group_index(g, grp);
	if (*gi < 0) {
		reply(f, json, false, "group %s is not in gemd's [groups]", gtext);
		return -ENOENT;
	}
	if (etext[0]) {
		char *end;

		errno = 0;
		*epoch = strtoll(etext, &end, 10);
		if (errno || *end || *epoch < 0 || *epoch > UINT32_MAX) {
			reply(f, json, false, "epoch '%s' is not a number 0..4294967295", etext);
			return -EINVAL;
		}
	}
	if (rest && n > 0) {
		snprintf(rest, rlen, "%s", args + n);
		rest[strcspn(rest, "\n")] = '\0';
	}
	return 0;
}

void gemd_cp_rekey_request(struct gemd *g, const char *args, FILE *f, bool json)
{
	long long e;
	int gi;
	struct gemd_cp_epochs *ep;

	if (parse_group(g, args, f, json, &gi, &e, NULL, 0))
		return;
	ep = &g->cp.ep[gi];
	read_epochs(g, gi, ep);
	if (!ep->nheld) {
		reply(f, json, false, "no GAK of this group in the token");
		return;
	}
	if (e < 0)
		e = ep->held[ep->nheld - 1];
	if (held_index(ep, (uint32_t)e) < 0) {
		reply(f, json, false, "GAK epoch %lld not held (import it first: gemctl keys "
		      "import gak GROUP FILE --epoch %lld --socket ...)", e, e);
		return;
	}
	if ((uint32_t)e == ep->active) {
		reply(f, json, false, "already at epoch %lld (import a newer one first)", e);
		return;
	}
	if ((uint32_t)e < ep->active) {
		reply(f, json, false, "epoch %lld is older than the active epoch %u", e,
		      ep->active);
		return;
	}
	switch_to(g, gi, (uint32_t)e, gemd_now_ms(), "gemctl group rekey");
	reply(f, json, true, "switched to epoch %lld", e);
}

void gemd_cp_gak_request(struct gemd *g, bool import, const char *args, FILE *f, bool json)
{
	char path[GEMD_PATH_MAX] = "", gr[GEM_KEYS_GROUP_STRLEN];
	long long e;
	int gi, err;
	struct gemd_cp_epochs *ep;

	if (parse_group(g, args, f, json, &gi, &e, path, sizeof(path)))
		return;
	ep = &g->cp.ep[gi];
	gem_keys_group_str(g->cfg.groups[gi], gr);
	if (e < 0 || (import && path[0] != '/')) {
		reply(f, json, false, import ? "expected: GROUP EPOCH /ABSOLUTE/PATH" :
		      "expected: GROUP EPOCH");
		return;
	}
	if (import) {
		err = gem_keys_import_file(g->keys, GEM_KEYS_GAK, g->cfg.groups[gi], (uint32_t)e,
					   path);
	} else {
		read_epochs(g, gi, ep);
		if ((uint32_t)e == ep->active && ep->nheld) {
			reply(f, json, false, "epoch %lld is the active one: rekey first", e);
			return;
		}
		err = gem_keys_gak_retire(g->keys, g->cfg.groups[gi], (uint32_t)e);
	}
	if (err) {
		reply(f, json, false, "%s", err == -ENOENT ? "no such GAK epoch in the token" :
		      err == -EEXIST ? "the token holds this epoch already" : gem_keys_errmsg());
		return;
	}
	log_info("control: group %s: GAK epoch %lld %s (control socket)", gr, e,
		 import ? "imported" : "retired");
	if (!g->cp.have_gak[gi]) {
		cp_find_gaks(g, &g->cfg);	/* a new member */
		if (g->cp.pins_open) {
			cp_load_group(g, gi);
			gem_db_walk(g->cp.db, gemd_now_ms(), cp_load_rx_walk, g);
		}
	} else {
		read_epochs(g, gi, ep);
		g->cp.have_gak[gi] = ep->nheld > 0;
		dp_epoch(g, gi);
	}
	reply(f, json, true, "GAK epoch %lld of group %s %s; the token holds %d epoch(s)", e, gr,
	      import ? "imported" : "retired", ep->nheld);
}

void gemd_cp_show_groups(struct gemd *g, FILE *f, bool json)
{
	json_object *arr = json ? json_object_new_array() : NULL;

	if (!json)
		fprintf(f, "%-28s %-7s %-6s %s\n", "GROUP", "MEMBER", "ACTIVE", "EPOCHS HELD");
	for (int i = 0; i < g->cfg.ngroups; i++) {
		const struct gemd_cp_epochs *ep = &g->cp.ep[i];
		char gr[GEM_KEYS_GROUP_STRLEN], held[128] = "";

		gem_keys_group_str(g->cfg.groups[i], gr);
		for (int k = 0; k < ep->nheld; k++)
			snprintf(held + strlen(held), sizeof(held) - strlen(held), "%s%u",
				 k ? "," : "", ep->held[k]);
		if (json) {
			json_object *o = json_object_new_object(), *h = json_object_new_array();

			gem_json_str(o, "group", gr);
			gem_json_bool(o, "member", g->cp.have_gak[i]);
			if (g->cp.have_gak[i])
				gem_json_u64(o, "active_epoch", ep->active);
			else
				gem_json_null(o, "active_epoch");
			for (int k = 0; k < ep->nheld; k++)
				gem_json_append(h, json_object_new_uint64(ep->held[k]));
			gem_json_add(o, "epochs", h);
			gem_json_str(o, "suite", gem_suite_name(cp_suite_of_group(g, i)));
			gem_json_append(arr, o);
		} else {
			char act[16] = "-";

			if (g->cp.have_gak[i])
				snprintf(act, sizeof(act), "%u", ep->active);
			fprintf(f, "%-28s %-7s %-6s %s\n", gr, g->cp.have_gak[i] ? "yes" : "no",
				act, held[0] ? held : "-");
		}
	}
	if (json) {
		json_object *o = json_object_new_object();

		gem_json_str(o, "node_id", g->id_hex);
		gem_json_add(o, "groups", arr);
		gem_json_u64(o, "epoch_switches", g->cp.epoch_switches);
		gem_json_u64(o, "epochs_retired", g->cp.epochs_retired);
		gem_json_u64(o, "rx_unheld_epoch", g->cp.rx_unheld_epoch);
		gem_json_fprint(f, o, false);
	}
}
