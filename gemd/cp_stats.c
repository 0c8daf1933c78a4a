// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* gemd control plane, `gemctl control-stats` (docs/CONTROL.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <bpf/libbpf.h>

#include "gemd/cp_int.h"
#include "gem_json.h"

static int count_walk(void *arg, const struct gem_db_entry *e)
{
	size_t *c = arg;

	c[e->rec->type == GEM_TLV_SEK ? 1 : 0]++;
	c[2] += e->own;
	return 0;
}

/* kB of this process's memory locked (VmLck, /proc/self/status), -1 if unknown. */
static long locked_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f)) {
		char *end;

		if (strncmp(line, "VmLck:", 6) != 0)
			continue;
		errno = 0;
		kb = strtol(line + 6, &end, 10);
		if (errno || end == line + 6)
			kb = -1;
		break;
	}
	if (f)
		fclose(f);
	return kb;
}

static uint64_t stat_field(const struct gem_db_stats *st, size_t i)
{
	return *(const uint64_t *)((const char *)st + gem_db_stat_fields[i].off);
}

static void stats_json(struct gemd *g, FILE *f, const struct gem_db_stats *st,
		       const size_t cnt[3], unsigned int up, int dumpable,
		       const struct rlimit *core, long lck)
{
	json_object *o = json_object_new_object(), *x = json_object_new_object();

	gem_json_str(o, "node_id", g->id_hex);
	gem_json_u64(o, "port", GEMD_CP_PORT);
	gem_json_u64(o, "neighbours_up", up);
	gem_json_u64(o, "records", gem_db_count(g->cp.db));
	gem_json_u64(o, "pubkeys", cnt[0]);
	gem_json_u64(o, "seks", cnt[1]);
	gem_json_u64(o, "own", cnt[2]);
	gem_json_bool(o, "data_plane", g->cp.pins_open);
	gem_json_u64(o, "dp_events", g->cp.dp_events);
	gem_json_int(o, "own_streams", g->cp.nown);
	gem_json_u64(o, "rx_sek_loaded", g->cp.rx_loaded);
	gem_json_u64(o, "rx_foreign", g->cp.rx_foreign);
	gem_json_u64(o, "rotations", g->cp.rotations);
	gem_json_u64(o, "streams_refused_not_lan", g->cp.refused_not_lan);
	gem_json_u64(o, "streams_refused_rate", g->cp.refused_rate);
	gem_json_u64(o, "streams_refused_full", g->cp.refused_full);
	gem_json_u64(o, "source_route_errors", g->cp.route_errors);
	gem_json_u64(o, "streams_idle_withdrawn", g->cp.streams_idle);
	gem_json_u64(o, "rx_sek_unloaded", g->cp.rx_unloaded);
	gem_json_int(o, "rx_unload_pending", g->cp.nunload);
	gem_json_int(o, "monitor_clients", g->mon.n);
	gem_json_u64(o, "monitor_dropped", g->mon.dropped);
	for (size_t i = 0; i < gem_db_n_stat_fields; i++)
		gem_json_u64(x, gem_db_stat_fields[i].name, stat_field(st, i));
	gem_json_add(o, "counters", x);
	x = json_object_new_object();
	gem_json_int(x, "dumpable", dumpable);
	gem_json_int(x, "core_limit", core->rlim_cur == RLIM_INFINITY ? -1LL :
		     (long long)core->rlim_cur);
	gem_json_int(x, "locked_kb", lck);
	gem_json_add(o, "process", x);
	gem_json_fprint(f, o, false);
}

void gemd_show_cp_stats(struct gemd *g, FILE *f, bool json, uint64_t now)
{
	struct rlimit core = { 0, 0 };
	int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	long lck = locked_kb();
	struct gem_db_stats st;
	size_t cnt[3] = { 0 };
	unsigned int up = 0;

	if (!g->cp.db) {
		gemd_ctl_error(f, json, "control plane not running");
		return;
	}
	gem_db_get_stats(g->cp.db, &st);
	gem_db_walk(g->cp.db, now, count_walk, cnt);
	for (unsigned int i = 0; i < g->cfg.max_neighbours; i++)
		up += g->cp.nb[i].up;
	getrlimit(RLIMIT_CORE, &core);
	if (json) {
		stats_json(g, f, &st, cnt, up, dumpable, &core, lck);
		return;
	}
	fprintf(f, "node %s: control records on UDP %u, %u neighbour(s) up\n", g->id_hex,
		GEMD_CP_PORT, up);
	fprintf(f, "records %zu (public keys %zu, SEK announces %zu, own %zu)\n",
		gem_db_count(g->cp.db), cnt[0], cnt[1], cnt[2]);
	fprintf(f, "data plane %s, tx-no-key events %llu, own streams %d (rotations %llu), "
		"SEKs loaded for ingress %llu, packets not from a tunnel %llu\n",
		g->cp.pins_open ? "attached" : "not found", (unsigned long long)g->cp.dp_events,
		g->cp.nown, (unsigned long long)g->cp.rotations,
		(unsigned long long)g->cp.rx_loaded, (unsigned long long)g->cp.rx_foreign);
	fprintf(f, "new streams refused: not LAN-side %llu, rate %llu, no slot %llu (route "
		"errors %llu); idle streams withdrawn %llu; SEKs unloaded for ingress %llu "
		"(%d waiting)\n", (unsigned long long)g->cp.refused_not_lan,
		(unsigned long long)g->cp.refused_rate, (unsigned long long)g->cp.refused_full,
		(unsigned long long)g->cp.route_errors, (unsigned long long)g->cp.streams_idle,
		(unsigned long long)g->cp.rx_unloaded, g->cp.nunload);
	fprintf(f, "process: dumpable %d, core limit %lld, locked %ld kB\n", dumpable,
		core.rlim_cur == RLIM_INFINITY ? -1LL : (long long)core.rlim_cur, lck);
	for (size_t i = 0; i < gem_db_n_stat_fields; i++)
		fprintf(f, "  %-28s %llu\n", gem_db_stat_fields[i].name,
			(unsigned long long)stat_field(&st, i));
}
