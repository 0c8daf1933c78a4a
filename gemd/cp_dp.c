// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemd control plane, the data plane's pinned maps ([node] pin_dir,
 * retried every 2 s until gem-load has attached there): the groups this
 * node holds the GAK of go into the group map (their MAC keys derived in
 * the HSM), the other listed groups as transit, then every accepted SEK for
 * ingress, then the own streams.
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "gemd/log.h"
#include "keys/gem_keys.h"
#include "gem_dp.h"
#include "gemd/cp_int.h"

#define PINS_RETRY_MS	2000

/* The data plane's keys of group g (suites 1, 2), or has_tx 0 if it does
 * not hold the group with this suite. */
static void dp_slots(struct gemd *g, const struct gem_addr *a, unsigned int suite,
		     struct gem_dp_group_slots *sl)
{
	struct gem_group v;
	struct gem_addr k = *a;

	memset(sl, 0, sizeof(*sl));
	if (bpf_map_lookup_elem(g->cp.pins.groups, &k, &v) == 0 && v.suite == suite)
		gem_dp_group_slots(&v, sl);
	sodium_memzero(&v, sizeof(v));
}

/* The key of (group i, epoch) derived in the HSM, then op: 0 set (the only
 * key, tx), 1 accept (the other slot). */
static int dp_key(struct gemd *g, const struct gem_addr *a, unsigned int suite,
		  uint32_t epoch, int op)
{
	uint8_t key[GEM_MAC_KEY_LEN];
	size_t klen = gem_suite_key_len(suite);
	int err = gem_keys_dp_key(g->keys, a->a, epoch, suite, key, klen);

	if (!err)
		err = op ? gem_dp_group_key(g->cp.pins.ctl, a, epoch, suite, key, klen) :
			   gem_dp_set_group_epoch(g->cp.pins.ctl, a, suite, epoch, key, klen);
	sodium_memzero(key, sizeof(key));
	return err;
}

/* A listed group whose GAK this node lacks: transit in the data plane
 * (docs/CONTROL.md): its sealed packets are relayed, never delivered to a
 * LAN (gem-load attach DEV --role lan).  Without it the data plane would
 * not know the group and pass its ciphertext on to the LANs as if it were
 * the application's data.  Already transit with this suite: nothing to do.
 * A keyed entry loaded by hand (gemctl group add --key-file) is left as it
 * is. */
static void load_transit(struct gemd *g, int i, unsigned int suite, const char *gr)
{
	struct gem_group v;
	struct gem_addr a;
	int err;

	memcpy(a.a, g->cfg.groups[i], 16);
	if (bpf_map_lookup_elem(g->cp.pins.groups, &a, &v) == 0) {
		bool transit = v.flags & GEM_GROUP_F_TRANSIT, same = v.suite == suite;

		sodium_memzero(&v, sizeof(v));
		if (transit && same)
			return;
		if (!transit) {
			log_warn("control: group %s: no GAK in the token, but the data plane holds "
				 "a key for it (loaded outside gemd): left as it is", gr);
			return;
		}
	}
	err = gem_dp_set_group_transit(g->cp.pins.ctl, &a, suite);
	if (err)
		log_err("control: cannot load group %s into the data plane as transit: %s", gr,
			strerror(-err));
	else
		log_info("control: group %s: transit in the data plane (no GAK: sealed packets "
			 "relayed, never delivered to a LAN)", gr);
}

/* Group i into the data plane (or brought up to date): its suite and, for
 * suites 1 and 2, the MAC keys of its GAK epochs (gemd/epochs.c), derived
 * in the HSM.  The data plane holds two (PROTOCOL.md 5.3): the tx key is the
 * active epoch's; the other is an older epoch still held (during the grace
 * after a switch: other senders may still use it), else the newest epoch
 * held if newer than the active one (imported for a rekey: accepted before
 * any sender uses it, so the switch loses no packet). */
void cp_load_group(struct gemd *g, int i)
{
	const struct gemd_cp_epochs *ep = &g->cp.ep[i];
	unsigned int suite = cp_suite_of_group(g, i);
	size_t klen = gem_suite_key_len(suite);
	uint32_t active = ep->active, other = active;
	struct gem_dp_group_slots sl;
	char gr[GEM_KEYS_GROUP_STRLEN];
	struct gem_addr a;
	const char *what = "";
	int err = 0;

	gem_keys_group_str(g->cfg.groups[i], gr);
	if (!g->cp.have_gak[i]) {
		load_transit(g, i, suite, gr);
		return;
	}
	if (!suite) {
		log_err("control: group %s: unknown suite; not loaded", gr);
		return;
	}
	memcpy(a.a, g->cfg.groups[i], 16);
	if (!klen) {
		err = gem_dp_set_group(g->cp.pins.ctl, &a, suite, NULL, 0);
		goto out;
	}
	if (ep->nheld && ep->held[0] < active)
		other = ep->held[0];			/* the previous epoch, in its grace */
	else if (ep->nheld && ep->held[ep->nheld - 1] > active)
		other = ep->held[ep->nheld - 1];	/* the next one, for a rekey */
	dp_slots(g, &a, suite, &sl);
	if (!sl.has_tx || sl.tx_epoch != active) {
		if (sl.has_tx && sl.has_other && sl.other_epoch == active) {
			err = gem_dp_group_use(g->cp.pins.ctl, &a, active);	/* the switch */
			what = ", egress MACs under the new epoch, the old one still accepted";
		} else {
			err = dp_key(g, &a, suite, active, 0);
			what = ", MAC key of the active GAK epoch derived in the HSM";
		}
		if (err)
			goto out;
		dp_slots(g, &a, suite, &sl);
	}
	if (sl.has_other && sl.other_epoch != other) {
		err = gem_dp_group_retire(g->cp.pins.ctl, &a, sl.other_epoch);
		if (err && err != -ENOENT)
			goto out;
		err = 0;
		log_info("control: group %s: data-plane MAC key of GAK epoch %u dropped", gr,
			 sl.other_epoch);
		sl.has_other = 0;
	}
	if (other != active && !sl.has_other) {
		err = dp_key(g, &a, suite, other, 1);
		if (!err)
			log_info("control: group %s: data-plane MAC key of GAK epoch %u accepted "
				 "next to epoch %u's", gr, other, active);
	}
out:
	if (err)
		log_err("control: cannot load group %s into the data plane: %s", gr,
			err == -EIO ? gem_keys_errmsg() : strerror(-err));
	else if (what[0] || !klen)
		log_info("control: group %s loaded into the data plane (suite %s, GAK epoch %u%s)",
			 gr, gem_suite_name(suite), active, what);
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
