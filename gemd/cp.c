// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemd, control plane part 2 (docs/CONTROL.md section 8): GEM's control
 * records (docs/PROTOCOL.md section 10, gemd/db.h) between gemd instances
 * over the IPsec tunnels, Public Keys, SEK Announces, and the data plane.
 * This file: start, reload and the timer; gemd/cp_int.h lists the others
 * (transport, records, stream admission, own streams, data plane, stats).
 * At start the node originates its own Public Key (first [node] address,
 * key and signature from the HSM).
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "gemd/log.h"
#include "keys/gem_keys.h"
#include "gem_dp.h"
#include "gemd/cp_int.h"

/* A suite by name (lib/gem_dp.c holds the one table); 0 for a name it does
 * not know, which the configuration parser has refused already. */
unsigned int cp_suite_of(const char *name)
{
	int s = gem_suite_parse(name);

	return s > 0 ? (unsigned int)s : 0;
}

uint32_t cp_handle_of(const struct gemd *g, const struct gemd_peer *p)
{
	return (uint32_t)(p - g->peers);
}

/* The data-plane suite of configured group i: its own (group = G suite=S),
 * else [groups] suite. */
unsigned int cp_suite_of_group(const struct gemd *g, int i)
{
	return cp_suite_of(g->cfg.group_suites[i][0] ? g->cfg.group_suites[i] : g->cfg.group_suite);
}

unsigned int cp_suite_of_addr(const struct gemd *g, const uint8_t grp[16])
{
	int i = cp_group_index(g, grp);

	return i >= 0 ? cp_suite_of_group(g, i) : cp_suite_of(g->cfg.group_suite);
}

/* SEK length of the streams of grp: that of its suite (16 or 32 bytes). */
size_t cp_sek_len_of(const struct gemd *g, const uint8_t grp[16])
{
	return gem_suite_sek_len(cp_suite_of_addr(g, grp));
}

int cp_group_index(const struct gemd *g, const uint8_t grp[16])
{
	for (int i = 0; i < g->cfg.ngroups; i++)
		if (!memcmp(g->cfg.groups[i], grp, 16))
			return i;
	return -1;
}

int cp_member_of(const struct gemd *g, const uint8_t grp[16])
{
	int i = cp_group_index(g, grp);

	return i >= 0 && g->cp.have_gak[i] ? i : -1;
}

void gemd_cp_reload(struct gemd *g, const struct gemd_config *old, uint64_t now)
{
	for (int j = 0; j < old->ngroups; j++) {
		char gr[GEM_KEYS_GROUP_STRLEN];
		bool kept = false;

		for (int i = 0; i < g->cfg.ngroups; i++)
			kept |= !memcmp(g->cfg.groups[i], old->groups[j], 16);
		if (kept)
			continue;
		gem_keys_group_str(old->groups[j], gr);
		/* fail closed: the data plane keeps protecting it (its packets
		 * are not sent in clear); no new stream of it is keyed */
		log_info("control: group %s left the configuration: no new streams keyed; its "
			 "data-plane policy stays (gemctl group del %s to pass it in clear)", gr, gr);
	}
	/* have_gak[] follows cfg.groups' (new) order from here on */
	cp_find_gaks(g, old);
	if (g->cfg.stream_rate != old->stream_rate || g->cfg.stream_burst != old->stream_burst)
		gemd_bucket_init(&g->cp.new_streams, g->cfg.stream_rate, g->cfg.stream_burst, now);
	if (!g->cp.pins_open)
		return;		/* cp_pins_try does the rest when the data plane is there */
	cp_load_groups(g);
	gem_db_walk(g->cp.db, now, cp_load_rx_walk, g);
	cp_declared_streams(g, now);
}

int gemd_cp_init(struct gemd *g)
{
	struct gem_rec r = { .type = GEM_TLV_PUBKEY, .lifetime = GEMD_CP_PK_LIFETIME };
	int err;

	g->cp.fd = -1;
	gemd_bucket_init(&g->cp.new_streams, g->cfg.stream_rate, g->cfg.stream_burst,
			 gemd_now_ms());
	g->cp.nb = calloc(g->cfg.max_neighbours, sizeof(*g->cp.nb));
	if (!g->cp.nb)
		return -ENOMEM;
	cp_find_gaks(g, NULL);
	err = gem_db_new(&g->cp.db, g->id, &cp_ops, g, NULL);
	if (err) {
		log_err("control: cannot create the record store: %s", strerror(-err));
		return err;
	}
	g->cp.fd = cp_open_socket();
	if (g->cp.fd < 0) {
		err = g->cp.fd;
		log_err("control: cannot open UDP port %u: %s", GEMD_CP_PORT, strerror(-err));
		return err;
	}
	/* own Public Key: the first [node] address is the routable one */
	if (g->cfg.naddrs > 0) {
		const struct gemd_prefix *p = &g->cfg.addrs[0];

		if (p->family == AF_INET) {
			r.pk.addr[10] = r.pk.addr[11] = 0xff;
			memcpy(r.pk.addr + 12, p->addr, 4);
		} else {
			memcpy(r.pk.addr, p->addr, 16);
		}
	}
	err = gem_keys_node_pubkey(g->keys, r.pk.key);
	if (err) {
		log_err("control: node public key: %s", gem_keys_errmsg());
		return err;
	}
	err = gem_db_originate(g->cp.db, &r, gemd_now_ms());
	if (err) {
		log_err("control: cannot originate our Public Key: %s", strerror(-err));
		return err;
	}
	log_info("control: records on UDP port %u over the tunnels, Public Key originated",
		 GEMD_CP_PORT);
	return 0;
}

void gemd_cp_close(struct gemd *g)
{
	if (g->cp.rb)
		ring_buffer__free(g->cp.rb);
	g->cp.rb = NULL;
	if (g->cp.pins_open)
		gem_pins_close(&g->cp.pins);
	g->cp.pins_open = false;
	if (g->cp.fd >= 0)
		close(g->cp.fd);
	g->cp.fd = -1;
	gem_db_free(g->cp.db);
	g->cp.db = NULL;
	free(g->cp.nb);
	g->cp.nb = NULL;
}

void gemd_cp_tick(struct gemd *g, uint64_t now)
{
	if (!g->cp.db)
		return;
	cp_neigh_tick(g, now);
	cp_pins_try(g, now);
	if (g->cp.rb)
		ring_buffer__consume(g->cp.rb);
	cp_epoch_tick(g, now);
	cp_rotate_tick(g, now);
	cp_unload_tick(g, now);
	cp_retry_tick(g, now);
	if (gem_db_next_timeout(g->cp.db, now) <= now)
		gem_db_tick(g->cp.db, now);
}

int gemd_cp_timeout_ms(const struct gemd *g, uint64_t now, int max_ms)
{
	uint64_t t;

	if (!g->cp.db)
		return max_ms;
	t = gem_db_next_timeout(g->cp.db, now);
	if (t <= now)
		return 0;
	return t - now < (uint64_t)max_ms ? (int)(t - now) : max_ms;
}
