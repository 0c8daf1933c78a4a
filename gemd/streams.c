// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemd control plane, own streams (docs/CONTROL.md 13): the streams this
 * router seals.  A SEK is made in the HSM, wrapped under the group's
 * sek-wrap key, announced, and loaded for egress; rotation (lifetime,
 * packet budget, restart) announces the next key id and switches egress
 * once the announce has reached the neighbours; a stream idle for
 * stream_idle is withdrawn and forgotten.  Which streams may be keyed at
 * all: gemd/admit.c.
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include <bpf/bpf.h>

#include "gem_json.h"
#include "gemd/log.h"
#include "keys/gem_keys.h"
#include "gem_addr.h"
#include "gem_dp.h"
#include "gemd/cp_int.h"

int cp_own_stream(struct gemd *g, const struct gem_sg *sg)
{
	for (int i = 0; i < g->cp.nown; i++)
		if (!memcmp(&g->cp.own[i].sg, sg, sizeof(*sg)))
			return i;
	return -1;
}

static uint16_t next_key_id(uint16_t id)
{
	return id >= 0xffff ? 1 : id + 1;	/* 16-bit key ids, 0 unused */
}

/* Make a SEK for sg in the HSM, wrap it under the group's sek-wrap key and
 * announce it with key_id.  The plaintext goes to sek (if not NULL) for an
 * immediate egress load; the wrapped copy to wrapped.  Both have the
 * group's suite's length (cp_sek_len_of: 16 or 32 bytes; wrapped 24 or 40). */
int cp_announce_sek(struct gemd *g, const struct gem_sg *sg, uint16_t key_id, uint64_t now,
			uint8_t *sek, uint8_t wrapped[GEM_TLV_WRAPPED_MAX])
{
	struct gem_rec r = { .type = GEM_TLV_SEK, .lifetime = GEMD_CP_SEK_LIFETIME };
	uint8_t k[GEM_KEYS_SEK_MAX];
	size_t sl;
	char s[GEM_ADDR_STRLEN], gr[GEM_ADDR_STRLEN];
	int err;

	gem_addr_str(&sg->src, s);
	gem_addr_str(&sg->grp, gr);
	r.sek.suite = cp_suite_of_addr(g, sg->grp.a);
	memcpy(r.sek.src, sg->src.a, 16);
	memcpy(r.sek.grp, sg->grp.a, 16);
	r.sek.key_id = key_id;
	r.sek.epoch = cp_epoch_active(g, sg->grp.a);	/* wrapped and HMACed under it only */
	sl = gem_suite_sek_len(r.sek.suite);
	err = gem_keys_sek_generate(g->keys, k, sl);
	if (!err)
		err = gem_keys_sek_wrap(g->keys, sg->grp.a, r.sek.epoch, k, sl, r.sek.wrapped);
	if (err) {
		log_err("control: stream (%s, %s): cannot make a SEK in the HSM: %s", s, gr,
			gem_keys_errmsg());
		sodium_memzero(k, sizeof(k));
		return err < 0 ? err : -EIO;
	}
	err = gem_db_originate(g->cp.db, &r, now);
	if (err) {
		log_err("control: stream (%s, %s): cannot announce its SEK: %s", s, gr,
			strerror(-err));
		sodium_memzero(k, sizeof(k));
		return err;
	}
	memcpy(wrapped, r.sek.wrapped, GEM_TLV_WRAPPED_MAX);
	if (sek)
		memcpy(sek, k, sl);
	sodium_memzero(k, sizeof(k));
	return 0;
}

bool cp_tx_state(struct gemd *g, const struct gem_sg *sg, struct gem_tx_stream *tv)
{
	struct gem_sg k = *sg;

	return bpf_map_lookup_elem_flags(g->cp.pins.tx, &k, tv, BPF_F_LOCK) == 0;
}

/* [groups] stream = SOURCE GROUP: trusted (configured), never idle. */
bool cp_declared(const struct gemd *g, const struct gem_sg *sg)
{
	for (int i = 0; i < g->cfg.nstreams; i++)
		if (!memcmp(g->cfg.streams[i][0], sg->src.a, 16) &&
		    !memcmp(g->cfg.streams[i][1], sg->grp.a, 16))
			return true;
	return false;
}

struct gemd_cp_own *cp_own_add(struct gemd *g, const struct gem_sg *sg, uint16_t key_id,
				   uint64_t now)
{
	struct gemd_cp_own *o;
	struct gem_tx_stream tv;

	if (g->cp.nown >= GEMD_CP_MAX_OWN)
		return NULL;
	o = &g->cp.own[g->cp.nown++];
	memset(o, 0, sizeof(*o));
	o->sg = *sg;
	o->key_id = key_id;
	o->epoch = cp_epoch_active(g, sg->grp.a);
	o->since_ms = now;
	if (cp_tx_state(g, sg, &tv))
		o->pkts0 = tv.packets;
	o->last_pkts = o->pkts0;
	o->active_ms = now;
	o->declared = cp_declared(g, sg);
	return o;
}

/* Withdraw our record of key id of sg.  -ENOENT after a restart: the
 * record is our previous incarnation's and expires at the others. */
static void withdraw_own(struct gemd *g, const struct gem_sg *sg, uint16_t key_id, uint64_t now)
{
	char s[GEM_ADDR_STRLEN], gr[GEM_ADDR_STRLEN];
	struct gem_rec old = { .type = GEM_TLV_SEK };
	struct gem_rec_key k;
	int err;

	memcpy(old.origin, g->id, sizeof(old.origin));
	memcpy(old.sek.src, sg->src.a, 16);
	memcpy(old.sek.grp, sg->grp.a, 16);
	old.sek.key_id = key_id;
	gem_rec_key_of(&old, &k);
	err = gem_db_withdraw(g->cp.db, &k, now);
	if (err && err != -ENOENT && err != -EPERM) {
		gem_addr_str(&sg->src, s);
		gem_addr_str(&sg->grp, gr);
		log_warn("control: stream (%s, %s): cannot withdraw key id %u: %s", s, gr, key_id,
			 strerror(-err));
	}
}

/* Own stream i has sent nothing for stream_idle: withdraw its records
 * (receivers unload the SEKs), forget it in the data plane (its SEKs go;
 * a packet after this starts a new stream) and free its slot. */
static void own_retire(struct gemd *g, int i, uint64_t now)
{
	struct gemd_cp_own *o = &g->cp.own[i];
	char s[GEM_ADDR_STRLEN], gr[GEM_ADDR_STRLEN];
	int err;

	gem_addr_str(&o->sg.src, s);
	gem_addr_str(&o->sg.grp, gr);
	withdraw_own(g, &o->sg, o->key_id, now);
	if (o->next_id)
		withdraw_own(g, &o->sg, o->next_id, now);
	err = gem_dp_del_tx(g->cp.pins.ctl, &o->sg);
	if (err && err != -ENOENT)
		log_err("control: stream (%s, %s): cannot remove it from the data plane: %s", s,
			gr, strerror(-err));
	log_info("control: stream (%s, %s): idle for %llu s: key id %u withdrawn, egress SEK "
		 "unloaded, slot freed", s, gr, (unsigned long long)(now - o->active_ms) / 1000,
		 o->key_id);
	sodium_memzero(o->wrapped, sizeof(o->wrapped));
	*o = g->cp.own[--g->cp.nown];
	g->cp.streams_idle++;
}

/* A monitor event about an own stream: phase/why/from may be absent (NULL, 0). */
void cp_mon_stream(struct gemd *g, const char *name, const char *s, const char *gr,
		       const char *phase, const char *why, uint16_t from, uint16_t to)
{
	json_object *ev = gemd_mon_event(&g->mon, name);

	gem_json_str(ev, "source", s);
	gem_json_str(ev, "group", gr);
	if (phase)
		gem_json_str(ev, "phase", phase);
	if (why)
		gem_json_str(ev, "why", why);
	if (from)
		gem_json_u64(ev, "from_key_id", from);
	gem_json_u64(ev, "key_id", to);
	gemd_mon_send(&g->mon, ev);
}

/* Rotation, first half: announce key id next_id; egress keeps the current
 * key until cp_rotate_tick switches it (receivers load the new one as current
 * and keep the old one as previous, so no packet is lost). */
void cp_rotate_start(struct gemd *g, struct gemd_cp_own *o, uint64_t now, const char *why)
{
	char s[GEM_ADDR_STRLEN], gr[GEM_ADDR_STRLEN];
	uint16_t id = next_key_id(o->key_id);

	gem_addr_str(&o->sg.src, s);
	gem_addr_str(&o->sg.grp, gr);
	if (cp_announce_sek(g, &o->sg, id, now, NULL, o->wrapped))
		return;		/* tried again at the next check */
	o->next_id = id;
	o->next_epoch = cp_epoch_active(g, o->sg.grp.a);	/* cp_announce_sek's */
	o->announced_ms = now;
	o->sent_ms = 0;
	o->seqno = 0;
	log_info("control: stream (%s, %s): rotation (%s): SEK key id %u announced (GAK epoch "
		 "%u), egress stays on key id %u until the announce has propagated", s, gr, why,
		 id, o->next_epoch, o->key_id);
	cp_mon_stream(g, "rotation", s, gr, "announced", why, o->key_id, id);
}

/* Rotation, second half: load the announced SEK for egress. */
static void rotate_switch(struct gemd *g, struct gemd_cp_own *o, uint64_t now)
{
	char s[GEM_ADDR_STRLEN], gr[GEM_ADDR_STRLEN];
	uint8_t sek[GEM_KEYS_SEK_MAX];
	size_t sl = cp_sek_len_of(g, o->sg.grp.a);
	struct gem_tx_stream tv;
	int err;

	gem_addr_str(&o->sg.src, s);
	gem_addr_str(&o->sg.grp, gr);
	err = gem_keys_sek_unwrap(g->keys, o->sg.grp.a, o->next_epoch, o->wrapped, sek, sl);
	if (!err)
		err = gem_dp_set_sek_len(g->cp.pins.ctl, &o->sg, 1, o->next_id, sek, sl);
	sodium_memzero(sek, sizeof(sek));
	if (err && err != -EEXIST) {
		log_err("control: stream (%s, %s): cannot load SEK key id %u for egress: %s", s,
			gr, o->next_id, err == -EIO ? gem_keys_errmsg() : strerror(-err));
		o->sent_ms = now;	/* try again after another delay */
		return;
	}
	log_info("control: stream (%s, %s): egress switched from key id %u to key id %u "
		 "(%llu ms after the announce)", s, gr, o->key_id, o->next_id,
		 (unsigned long long)(now - o->announced_ms));
	cp_mon_stream(g, "rotation", s, gr, "switched", NULL, o->key_id, o->next_id);
	/* each key id is its own record: withdraw the old one (receivers
	 * unload it after GEMD_CP_UNLOAD_GRACE_MS, its last packets opened) */
	withdraw_own(g, &o->sg, o->key_id, now);
	o->key_id = o->next_id;
	o->epoch = o->next_epoch;
	o->next_id = 0;
	o->since_ms = now;
	o->pkts0 = cp_tx_state(g, &o->sg, &tv) ? tv.packets : 0;
	sodium_memzero(o->wrapped, sizeof(o->wrapped));
	g->cp.rotations++;
}

struct own_find {
	const struct gem_sg *sg;
	uint32_t seqno;
	unsigned int pending;
	bool found;
};

static int own_find_walk(void *arg, const struct gem_db_entry *e)
{
	struct own_find *f = arg;

	if (!e->own || e->rec->type != GEM_TLV_SEK || memcmp(e->rec->sek.src, f->sg->src.a, 16) != 0 ||
	    memcmp(e->rec->sek.grp, f->sg->grp.a, 16) != 0)
		return 0;
	f->found = true;
	f->seqno = e->rec->seqno;
	f->pending = e->pending;
	return 1;
}

/* The announce of a rotation has reached every neighbour: all the peers
 * discovery knows are up, none still owes an ack, and the record's seqno
 * did not move (a re-origination, e.g. a seqno jump, starts over). */
static bool rotate_sent(struct gemd *g, struct gemd_cp_own *o, uint64_t now)
{
	struct own_find f = { .sg = &o->sg };
	unsigned int used = 0, up = 0;

	for (unsigned int i = 0; i < g->cfg.max_neighbours; i++) {
		used += g->peers[i].used;
		up += g->peers[i].used && g->cp.nb[i].up;
	}
	gem_db_walk(g->cp.db, now, own_find_walk, &f);
	if (!f.found)
		return false;
	if (f.seqno != o->seqno) {
		o->seqno = f.seqno;
		return false;
	}
	return up > 0 && up == used && f.pending == 0;
}

#define ROTATE_CHECK_MS		100
#define ROTATE_WAIT_MAX_MS	30000	/* switch anyway if neighbours never come */

void cp_rotate_tick(struct gemd *g, uint64_t now)
{
	if (!g->cp.pins_open || now < g->cp.rotate_check_ms)
		return;
	g->cp.rotate_check_ms = now + ROTATE_CHECK_MS;
	for (int i = 0; i < g->cp.nown; i++) {
		struct gemd_cp_own *o = &g->cp.own[i];
		struct gem_tx_stream tv;
		bool have = cp_tx_state(g, &o->sg, &tv);

		/* idleness from the data plane's packet count (no entry: the
		 * data plane was replaced, nothing is sent under our key) */
		if (have && tv.packets != o->last_pkts) {
			o->last_pkts = tv.packets;
			o->active_ms = now;
		}
		if (!o->declared && now - o->active_ms >= g->cfg.stream_idle_ms) {
			own_retire(g, i--, now);
			continue;
		}
		if (o->next_id) {
			if (!o->sent_ms && (rotate_sent(g, o, now) ||
					    now - o->announced_ms >= ROTATE_WAIT_MAX_MS))
				o->sent_ms = now;
			if (o->sent_ms && now - o->sent_ms >= g->cfg.rotate_delay_ms)
				rotate_switch(g, o, now);
			continue;
		}
		if (o->epoch != cp_epoch_active(g, o->sg.grp.a))
			cp_rotate_start(g, o, now, "rekey");	/* gemd/epochs.c */
		else if (now - o->since_ms >= g->cfg.sek_lifetime_ms)
			cp_rotate_start(g, o, now, "lifetime");
		else if (have && tv.packets - o->pkts0 >= g->cfg.sek_packets)
			cp_rotate_start(g, o, now, "packet budget");
	}
}
