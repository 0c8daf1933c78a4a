// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemd control plane, the data plane's pinned maps ([node] pin_dir,
 * retried every 2 s until gem-load has attached there): the groups this
 * node holds the GAK of go into the group map (their MAC keys derived in
 * the HSM), then every accepted SEK for ingress, then the own streams.
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "gemd/log.h"
#include "keys/gem_keys.h"
#include "gem_dp.h"
#include "gemd/cp_int.h"

#define PINS_RETRY_MS	2000

/* Group i into the data plane: its suite and, for suites 1 and 2, its MAC
 * key of the active GAK epoch (gemd/epochs.c), derived in the HSM. */
void cp_load_group(struct gemd *g, int i)
{
	uint8_t key[GEM_MAC_KEY_LEN];
	unsigned int suite = cp_suite_of_group(g, i);
	size_t klen = gem_suite_key_len(suite);
	uint32_t epoch = g->cp.ep[i].active;
	char gr[GEM_KEYS_GROUP_STRLEN];
	struct gem_addr a;
	int err = 0;

	gem_keys_group_str(g->cfg.groups[i], gr);
	if (!g->cp.have_gak[i])
		return;
	if (!suite) {
		log_err("control: group %s: unknown suite; not loaded", gr);
		return;
	}
	memcpy(a.a, g->cfg.groups[i], 16);
	if (klen)
		err = gem_keys_dp_key(g->keys, a.a, epoch, suite, key, klen);
	if (!err)
		err = gem_dp_set_group_epoch(g->cp.pins.ctl, &a, suite, epoch, key, klen);
	sodium_memzero(key, sizeof(key));
	if (err)
		log_err("control: cannot load group %s into the data plane: %s", gr,
			err == -EIO ? gem_keys_errmsg() : strerror(-err));
	else
		log_info("control: group %s loaded into the data plane (suite %s%s)", gr,
			 gem_suite_name(suite), klen ? ", MAC key of the active GAK epoch derived in "
			 "the HSM" : "");
}

void cp_load_groups(struct gemd *g)
{
	for (int i = 0; i < g->cfg.ngroups; i++)
		cp_load_group(g, i);
}

int cp_load_rx_walk(void *arg, const struct gem_db_entry *e)
{
	if (e->rec->type == GEM_TLV_SEK && !e->own)
		cp_load_rx_sek(arg, e->rec);
	return 0;
}

void cp_pins_try(struct gemd *g, uint64_t now)
{
	int err;

	if (g->cp.pins_open || now < g->cp.pins_retry_ms)
		return;
	g->cp.pins_retry_ms = now + PINS_RETRY_MS;
	err = gem_pins_open(g->cfg.pin_dir, &g->cp.pins);
	if (err) {
		if (!g->cp.pins_logged && err == -ESTALE)	/* another GEM's maps: untouched */
			log_err("control: %s; retrying every %d s", g->cp.pins.stamp_msg,
				PINS_RETRY_MS / 1000);
		else if (!g->cp.pins_logged)
			log_warn("control: no GEM data plane at %s (%s): run gem-load; retrying "
				 "every %d s", g->cfg.pin_dir, strerror(-err), PINS_RETRY_MS / 1000);
		g->cp.pins_logged = true;
		return;
	}
	if (g->cp.pins.stamp_msg[0])
		log_warn("control: %s", g->cp.pins.stamp_msg);
	g->cp.rb = ring_buffer__new(g->cp.pins.events, cp_on_dp_event, g, NULL);
	if (!g->cp.rb) {
		log_err("control: cannot read the data plane's events: %s", strerror(errno));
		gem_pins_close(&g->cp.pins);
		return;
	}
	g->cp.pins_open = true;
	log_info("control: data plane at %s", g->cfg.pin_dir);
	cp_load_groups(g);
	gem_db_walk(g->cp.db, now, cp_load_rx_walk, g);
	cp_adopt_streams(g, now);
	cp_declared_streams(g, now);
}

int gemd_cp_dp_fd(const struct gemd *g)
{
	return g->cp.rb ? ring_buffer__epoll_fd(g->cp.rb) : -1;
}

void gemd_cp_dp_input(struct gemd *g)
{
	if (g->cp.rb)
		ring_buffer__consume(g->cp.rb);
}
