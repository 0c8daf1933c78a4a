// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemd, control plane part 2 (docs/CONTROL.md section 8): GEM's control
 * records (docs/PROTOCOL.md section 10, gemd/db.h) between gemd instances
 * over the IPsec tunnels, Public Keys, SEK Announces, and the data plane.
 *
 *   transport   one UDP socket on [::]:GEMD_CP_PORT (6698); a packet to a
 *               neighbour goes to ff02::6d:7 on its tunnel's TUN (scope =
 *               that interface: the TUN is point-to-point, the packet leaves
 *               only inside that neighbour's ESP SA); a packet received is
 *               mapped to the neighbour by the interface it came in on
 *               (IPV6_PKTINFO), hop limit 255 required.  Anything not from
 *               an up tunnel is dropped.
 *   neighbours  handle = the peer's slot in g->peers; up while its tunnel
 *               is established and its TUN known; up again (full table push
 *               + Request) when the tunnel, its TUN or either end's instance
 *               generation changes.
 *   records     own Public Key at start (first [node] address, key and
 *               signature from the HSM); verify: Public Key id + signature;
 *               SEK Announce: origin's key known (else deferred),
 *               signature, then, for groups this node holds the GAK of,
 *               HMAC and unwrap.
 *   data plane  the pinned maps of [node] pin_dir (retried every 2 s until
 *               gem-load has attached there): the groups we hold the GAK
 *               of go into the group map, GEM_EV_TX_NO_KEY from the ring
 *               buffer makes a SEK (HSM), loads it for egress and announces
 *               it; an accepted announce loads the SEK for ingress, its
 *               withdrawal or expiry unloads it (after a grace period).
 *   own streams only sources on this router's LAN side ([groups] sources,
 *               or a route out of an interface that is not GEM's, not a
 *               discovery link and not a tunnel), at most stream_rate new
 *               ones per second; withdrawn and forgotten after stream_idle
 *               without a packet (docs/CONTROL.md 13.2).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/rtnetlink.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "gemd/gemd.h"
#include "gem_json.h"
#include "gemd/log.h"
#include "gemd/nl.h"
#include "keys/gem_keys.h"
#include "gem_addr.h"
#include "gem_dp.h"
#include "gem_pin.h"

#define PINS_RETRY_MS	2000
#define CP_HOPS		255

/* A suite by name (lib/gem_dp.c holds the one table); 0 for a name it does
 * not know, which the configuration parser has refused already. */
static unsigned int suite_of(const char *name)
{
	int s = gem_suite_parse(name);

	return s > 0 ? (unsigned int)s : 0;
}

static uint32_t handle_of(const struct gemd *g, const struct gemd_peer *p)
{
	return (uint32_t)(p - g->peers);
}

/* The data-plane suite of configured group i: its own (group = G suite=S),
 * else [groups] suite. */
static unsigned int suite_of_group(const struct gemd *g, int i)
{
	return suite_of(g->cfg.group_suites[i][0] ? g->cfg.group_suites[i] : g->cfg.group_suite);
}

/* Index of grp in the configuration if this node holds its GAK, else -1. */
static int member_of(const struct gemd *g, const uint8_t grp[16])
{
	for (int i = 0; i < g->cfg.ngroups; i++)
		if (!memcmp(g->cfg.groups[i], grp, 16))
			return g->cp.have_gak[i] ? i : -1;
	return -1;
}

static void rec_desc(const struct gem_rec *r, char *buf, size_t len)
{
	char id[GEMD_ID_HEX], s[GEM_ADDR_STRLEN], gr[GEM_ADDR_STRLEN];

	gemd_hex(r->origin, 8, id);
	if (r->type == GEM_TLV_SEK) {
		gem_addr_str((const struct gem_addr *)r->sek.src, s);
		gem_addr_str((const struct gem_addr *)r->sek.grp, gr);
		snprintf(buf, len, "SEK Announce (%s, %s) key id %u from origin %s seqno %u", s, gr,
			 r->sek.key_id, id, r->seqno);
	} else {
		snprintf(buf, len, "Public Key of %s seqno %u", id, r->seqno);
	}
}

/* ---- db callbacks ------------------------------------------------------------ */

static int cp_send(void *ctx, uint32_t nh, const void *buf, size_t len)
{
	struct gemd *g = ctx;
	struct gemd_cp_nb *nb;
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_port = htons(GEMD_CP_PORT) };

	if (nh >= g->cfg.max_neighbours || g->cp.fd < 0)
		return -ENOTCONN;
	nb = &g->cp.nb[nh];
	if (!nb->up)
		return -ENOTCONN;
	inet_pton(AF_INET6, GEMD_CP_GROUP, &to.sin6_addr);
	to.sin6_scope_id = nb->ifindex;
	if (sendto(g->cp.fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}

static int cp_verify(void *ctx, uint32_t nh, const struct gem_rec *r)
{
	struct gemd *g = ctx;
	const struct gem_rec *pk;
	uint8_t key[GEM_TLV_CTL_KEY_LEN], sek[GEM_KEYS_SEK_LEN];
	int gi, err;

	(void)nh;
	if (r->type == GEM_TLV_PUBKEY) {
		if (!gem_tlv_pubkey_id_ok(r))
			return GEM_DB_REJECT(GEM_DB_R_BAD_NODE_ID);
		if (gem_tlv_sig_verify(r, r->pk.key))
			return GEM_DB_REJECT(GEM_DB_R_BAD_SIG);
		return 0;
	}
	if (r->type != GEM_TLV_SEK)
		return GEM_DB_REJECT(GEM_DB_R_MALFORMED);
	pk = gem_db_pubkey(g->cp.db, r->origin);
	if (!pk)
		return -EAGAIN;
	if (gem_tlv_sig_verify(r, pk->pk.key))
		return GEM_DB_REJECT(GEM_DB_R_BAD_SIG);
	gi = member_of(g, r->sek.grp);
	if (gi < 0)
		return 0;		/* not ours to read: relay it */
	err = gem_keys_ctl_key(g->keys, r->sek.grp, r->sek.epoch, key);
	if (err) {
		sodium_memzero(key, sizeof(key));
		/* e.g. an epoch this token does not know */
		return err == -ENOENT ? GEM_DB_REJECT(GEM_DB_R_POLICY) : -EIO;
	}
	err = gem_tlv_hmac_verify(r, key);
	sodium_memzero(key, sizeof(key));
	if (err)
		return GEM_DB_REJECT(GEM_DB_R_BAD_HMAC);
	if (!(r->flags & GEM_REC_F_WITHDRAWN)) {
		err = gem_keys_sek_unwrap(g->keys, r->sek.grp, r->sek.epoch, r->sek.wrapped, sek);
		sodium_memzero(sek, sizeof(sek));
		if (err == -EBADMSG)
			return GEM_DB_REJECT(GEM_DB_R_UNWRAP);
		if (err)
			return -EIO;
	}
	if (r->sek.suite != suite_of_group(g, gi))
		return GEM_DB_REJECT(GEM_DB_R_POLICY);
	return GEM_DB_VERIFIED_GROUP;	/* checked with the group key: binds */
}

static int cp_sign(void *ctx, struct gem_rec *r)
{
	struct gemd *g = ctx;
	uint8_t buf[GEM_TLV_AUTH_INPUT_MAX], key[GEM_TLV_CTL_KEY_LEN];
	int n, err;

	if (r->type == GEM_TLV_SEK) {
		err = gem_keys_ctl_key(g->keys, r->sek.grp, r->sek.epoch, key);
		if (!err)
			err = gem_tlv_hmac_compute(r, key, r->sek.hmac);
		sodium_memzero(key, sizeof(key));
		if (err) {
			log_err("control: cannot compute a SEK Announce HMAC: %s", gem_keys_errmsg());
			return err < 0 ? err : -EIO;
		}
	}
	n = gem_tlv_sig_input(r, buf, sizeof(buf));
	if (n < 0)
		return n;
	err = gem_keys_node_sign(g->keys, buf, n, r->sig);
	if (err)
		log_err("control: cannot sign a record in the HSM: %s", gem_keys_errmsg());
	return err;
}

static bool same_sg_kid(const struct gemd_cp_unload *u, const uint8_t src[16],
		       const uint8_t grp[16], uint16_t key_id)
{
	return u->key_id == key_id && !memcmp(u->sg.src.a, src, 16) &&
	       !memcmp(u->sg.grp.a, grp, 16);
}

/* A load of (S,G, key id) cancels its pending unload. */
static void unload_cancel(struct gemd *g, const uint8_t src[16], const uint8_t grp[16],
			  uint16_t key_id)
{
	for (int i = 0; i < g->cp.nunload; i++)
		if (same_sg_kid(&g->cp.unload[i], src, grp, key_id))
			g->cp.unload[i--] = g->cp.unload[--g->cp.nunload];
}

struct live_find {
	const struct gemd_cp_unload *u;
	uint64_t now;
	bool found;
};

static int live_walk(void *arg, const struct gem_db_entry *e)
{
	struct live_find *f = arg;
	const struct gem_rec *r = e->rec;

	if (r->type != GEM_TLV_SEK || e->own || (r->flags & GEM_REC_F_WITHDRAWN) ||
	    e->expires <= f->now || !same_sg_kid(f->u, r->sek.src, r->sek.grp, r->sek.key_id))
		return 0;
	f->found = true;
	return 1;
}

static void unload_now(struct gemd *g, const struct gemd_cp_unload *u, uint64_t now)
{
	struct live_find f = { .u = u, .now = now };
	char s[GEM_ADDR_STRLEN], gr[GEM_ADDR_STRLEN];
	int err;

	if (!g->cp.pins_open)
		return;
	gem_addr_str(&u->sg.src, s);
	gem_addr_str(&u->sg.grp, gr);
	/* another live record still names this key id (another origin's
	 * announce of the stream): it stays */
	gem_db_walk(g->cp.db, now, live_walk, &f);
	if (f.found) {
		log_info("control: stream (%s, %s) key id %u: still announced by a live record; "
			 "kept for ingress", s, gr, u->key_id);
		return;
	}
	err = gem_dp_unload_rx_sek(g->cp.pins.ctl, &u->sg, u->key_id);
	if (err == -ENOENT) {
		log_debug("control: stream (%s, %s) key id %u: not held for ingress", s, gr,
			  u->key_id);
		return;
	}
	if (err) {
		log_err("control: stream (%s, %s) key id %u: cannot unload the SEK: %s", s, gr,
			u->key_id, strerror(-err));
		return;
	}
	g->cp.rx_unloaded++;
	log_info("control: stream (%s, %s) key id %u: SEK unloaded for ingress", s, gr,
		 u->key_id);
}

/* docs/PROTOCOL.md 10.5: a withdrawn or expired SEK is unloaded, after
 * GEMD_CP_UNLOAD_GRACE_MS: a rotation withdraws the old key id right after
 * the origin's egress switched, and its last packets may still be on the
 * way (the receiver keeps it as its previous key id until then). */
static void unload_schedule(struct gemd *g, const struct gem_rec *r, uint64_t now)
{
	struct gemd_cp_unload u = { .key_id = r->sek.key_id,
				    .due_ms = now + GEMD_CP_UNLOAD_GRACE_MS };

	if (member_of(g, r->sek.grp) < 0 || !memcmp(r->origin, g->id, sizeof(g->id)) ||
	    !g->cp.pins_open)
		return;		/* never loaded here */
	memcpy(u.sg.src.a, r->sek.src, 16);
	memcpy(u.sg.grp.a, r->sek.grp, 16);
	unload_cancel(g, r->sek.src, r->sek.grp, r->sek.key_id);
	if (g->cp.nunload >= GEMD_CP_MAX_UNLOAD) {
		unload_now(g, &u, now);		/* no room to wait: at once */
		return;
	}
	g->cp.unload[g->cp.nunload++] = u;
}

static void unload_tick(struct gemd *g, uint64_t now)
{
	for (int i = 0; i < g->cp.nunload; i++) {
		struct gemd_cp_unload u = g->cp.unload[i];

		if (u.due_ms > now)
			continue;
		g->cp.unload[i--] = g->cp.unload[--g->cp.nunload];
		unload_now(g, &u, now);
	}
}

static void load_rx_sek(struct gemd *g, const struct gem_rec *r)
{
	struct gem_sg sg;
	uint8_t sek[GEM_KEYS_SEK_LEN];
	char desc[200];
	bool replaced = false;
	json_object *ev;
	int err;

	if (member_of(g, r->sek.grp) < 0 || (r->flags & GEM_REC_F_WITHDRAWN))
		return;
	rec_desc(r, desc, sizeof(desc));
	if (!memcmp(r->origin, g->id, sizeof(g->id))) {
		/* our previous incarnation's announce, handed back by a
		 * neighbour after a restart: a stream we seal, not one we open */
		log_info("control: %s: announced before this gemd started; not loaded", desc);
		return;
	}
	if (!g->cp.pins_open) {
		log_info("control: %s accepted; loaded once the data plane is there", desc);
		return;
	}
	memcpy(sg.src.a, r->sek.src, 16);
	memcpy(sg.grp.a, r->sek.grp, 16);
	unload_cancel(g, r->sek.src, r->sek.grp, r->sek.key_id);
	err = gem_keys_sek_unwrap(g->keys, r->sek.grp, r->sek.epoch, r->sek.wrapped, sek);
	if (!err)
		err = gem_dp_set_sek(g->cp.pins.ctl, &sg, 0, r->sek.key_id, sek);
	if (err == -EEXIST) {
		/* the origin re-keyed this key id (it lost its data plane): the
		 * record is signed and HMACed, so take the new SEK; the slot keeps
		 * its replay window, the new packet numbers start above it */
		log_info("control: %s: key id held with another SEK; replaced", desc);
		replaced = true;
		err = gem_dp_replace_rx_sek(g->cp.pins.ctl, &sg, r->sek.key_id, sek);
	}
	sodium_memzero(sek, sizeof(sek));
	if (err == -ESTALE) {
		log_info("control: %s: older than both key ids held for ingress; not loaded", desc);
		return;
	}
	if (err) {
		log_err("control: %s: cannot load the SEK for ingress: %s", desc, strerror(-err));
		return;
	}
	g->cp.rx_loaded++;
	log_info("control: %s: SEK loaded for ingress", desc);
	ev = gemd_mon_event(&g->mon, "sek-loaded");
	gem_json_str(ev, "dir", "rx");
	gemd_mon_rec(ev, r);
	gem_json_bool(ev, "replaced", replaced);
	gemd_mon_send(&g->mon, ev);
}

static void cp_on_change(void *ctx, enum gem_db_event ev, const struct gem_rec *r,
			 const struct gem_rec *old)
{
	struct gemd *g = ctx;
	char desc[200];

	rec_desc(r, desc, sizeof(desc));
	if (!(ev == GEM_DB_EV_UPDATED && old && gem_rec_same_content(r, old))) {
		json_object *m = gemd_mon_event(&g->mon, "record");

		gem_json_str(m, "action", gem_db_event_name(ev));
		gemd_mon_rec(m, r);
		if (r->type == GEM_TLV_SEK)
			gem_json_bool(m, "member", member_of(g, r->sek.grp) >= 0);
		gemd_mon_send(&g->mon, m);
	}
	if (r->type == GEM_TLV_PUBKEY) {
		if (ev == GEM_DB_EV_NEW)
			log_info("control: learned the %s", desc);
		else if (ev != GEM_DB_EV_UPDATED)
			log_info("control: %s %s", desc, gem_db_event_name(ev));
		return;
	}
	switch (ev) {
	case GEM_DB_EV_NEW:
		log_info("control: %s new (%s)", desc,
			 member_of(g, r->sek.grp) >= 0 ? "member" : "relayed, not a member");
		load_rx_sek(g, r);
		break;
	case GEM_DB_EV_UPDATED:
		if (old && gem_rec_same_content(r, old))
			break;		/* a refresh */
		log_info("control: %s updated", desc);
		load_rx_sek(g, r);
		break;
	case GEM_DB_EV_WITHDRAWN:
	case GEM_DB_EV_EXPIRED:
		log_info("control: %s %s", desc, gem_db_event_name(ev));
		unload_schedule(g, r, gemd_now_ms());
		break;
	default:
		log_info("control: %s %s", desc, gem_db_event_name(ev));
		break;
	}
}

static void cp_on_reject(void *ctx, uint32_t nh, const struct gem_rec *r,
			 enum gem_db_reason why)
{
	struct gemd *g = ctx;
	char desc[200];
	const char *via = "?";
	json_object *ev;

	if (nh < g->cfg.max_neighbours && g->peers[nh].used)
		via = g->peers[nh].id_hex;
	if (r)
		rec_desc(r, desc, sizeof(desc));
	else
		snprintf(desc, sizeof(desc), "an unparsable record");
	log_warn("control: rejected %s (via neighbour %s): %s", desc, via,
		 gem_db_reason_name(why));
	ev = gemd_mon_event(&g->mon, "record-rejected");
	gem_json_str(ev, "reason", gem_db_reason_name(why));
	gem_json_str(ev, "via", via);
	if (r)
		gemd_mon_rec(ev, r);
	gemd_mon_send(&g->mon, ev);
}

static const struct gem_db_ops cp_ops = {
	.send = cp_send, .verify = cp_verify, .sign = cp_sign,
	.on_change = cp_on_change, .on_reject = cp_on_reject,
};

/* ---- data plane ------------------------------------------------------------ */

static int own_stream(struct gemd *g, const struct gem_sg *sg)
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
 * immediate egress load; the wrapped copy to wrapped. */
static int announce_sek(struct gemd *g, const struct gem_sg *sg, uint16_t key_id, uint64_t now,
			uint8_t *sek, uint8_t wrapped[GEM_TLV_WRAPPED_LEN])
{
	struct gem_rec r = { .type = GEM_TLV_SEK, .lifetime = GEMD_CP_SEK_LIFETIME };
	uint8_t k[GEM_KEYS_SEK_LEN];
	char s[GEM_ADDR_STRLEN], gr[GEM_ADDR_STRLEN];
	int err;

	gem_addr_str(&sg->src, s);
	gem_addr_str(&sg->grp, gr);
	r.sek.suite = suite_of(g->cfg.group_suite);
	for (int i = 0; i < g->cfg.ngroups; i++)
		if (!memcmp(g->cfg.groups[i], sg->grp.a, 16))
			r.sek.suite = suite_of_group(g, i);
	memcpy(r.sek.src, sg->src.a, 16);
	memcpy(r.sek.grp, sg->grp.a, 16);
	r.sek.key_id = key_id;
	r.sek.epoch = 0;
	err = gem_keys_sek_generate(g->keys, k);
	if (!err)
		err = gem_keys_sek_wrap(g->keys, sg->grp.a, 0, k, r.sek.wrapped);
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
	memcpy(wrapped, r.sek.wrapped, GEM_TLV_WRAPPED_LEN);
	if (sek)
		memcpy(sek, k, sizeof(k));
	sodium_memzero(k, sizeof(k));
	return 0;
}

static bool tx_state(struct gemd *g, const struct gem_sg *sg, struct gem_tx_stream *tv)
{
	struct gem_sg k = *sg;

	return bpf_map_lookup_elem_flags(g->cp.pins.tx, &k, tv, BPF_F_LOCK) == 0;
}

/* [groups] stream = SOURCE GROUP: trusted (configured), never idle. */
static bool declared(const struct gemd *g, const struct gem_sg *sg)
{
	for (int i = 0; i < g->cfg.nstreams; i++)
		if (!memcmp(g->cfg.streams[i][0], sg->src.a, 16) &&
		    !memcmp(g->cfg.streams[i][1], sg->grp.a, 16))
			return true;
	return false;
}

static struct gemd_cp_own *own_add(struct gemd *g, const struct gem_sg *sg, uint16_t key_id,
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
	o->since_ms = now;
	if (tx_state(g, sg, &tv))
		o->pkts0 = tv.packets;
	o->last_pkts = o->pkts0;
	o->active_ms = now;
	o->declared = declared(g, sg);
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

/* Rotation, first half: announce key id next_id; egress keeps the current
 * key until rotate_tick switches it (receivers load the new one as current
 * and keep the old one as previous, so no packet is lost). */
/* A monitor event about an own stream: phase/why/from may be absent (NULL, 0). */
static void mon_stream(struct gemd *g, const char *name, const char *s, const char *gr,
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

static void rotate_start(struct gemd *g, struct gemd_cp_own *o, uint64_t now, const char *why)
{
	char s[GEM_ADDR_STRLEN], gr[GEM_ADDR_STRLEN];
	uint16_t id = next_key_id(o->key_id);

	gem_addr_str(&o->sg.src, s);
	gem_addr_str(&o->sg.grp, gr);
	if (announce_sek(g, &o->sg, id, now, NULL, o->wrapped))
		return;		/* tried again at the next check */
	o->next_id = id;
	o->announced_ms = now;
	o->sent_ms = 0;
	o->seqno = 0;
	log_info("control: stream (%s, %s): rotation (%s): SEK key id %u announced, egress "
		 "stays on key id %u until the announce has propagated", s, gr, why, id,
		 o->key_id);
	mon_stream(g, "rotation", s, gr, "announced", why, o->key_id, id);
}

/* Rotation, second half: load the announced SEK for egress. */
static void rotate_switch(struct gemd *g, struct gemd_cp_own *o, uint64_t now)
{
	char s[GEM_ADDR_STRLEN], gr[GEM_ADDR_STRLEN];
	uint8_t sek[GEM_KEYS_SEK_LEN];
	struct gem_tx_stream tv;
	int err;

	gem_addr_str(&o->sg.src, s);
	gem_addr_str(&o->sg.grp, gr);
	err = gem_keys_sek_unwrap(g->keys, o->sg.grp.a, 0, o->wrapped, sek);
	if (!err)
		err = gem_dp_set_sek(g->cp.pins.ctl, &o->sg, 1, o->next_id, sek);
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
	mon_stream(g, "rotation", s, gr, "switched", NULL, o->key_id, o->next_id);
	/* each key id is its own record: withdraw the old one (receivers
	 * unload it after GEMD_CP_UNLOAD_GRACE_MS, its last packets opened) */
	withdraw_own(g, &o->sg, o->key_id, now);
	o->key_id = o->next_id;
	o->next_id = 0;
	o->since_ms = now;
	o->pkts0 = tx_state(g, &o->sg, &tv) ? tv.packets : 0;
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

static void rotate_tick(struct gemd *g, uint64_t now)
{
	if (!g->cp.pins_open || now < g->cp.rotate_check_ms)
		return;
	g->cp.rotate_check_ms = now + ROTATE_CHECK_MS;
	for (int i = 0; i < g->cp.nown; i++) {
		struct gemd_cp_own *o = &g->cp.own[i];
		struct gem_tx_stream tv;
		bool have = tx_state(g, &o->sg, &tv);

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
		if (now - o->since_ms >= g->cfg.sek_lifetime_ms)
			rotate_start(g, o, now, "lifetime");
		else if (have && tv.packets - o->pkts0 >= g->cfg.sek_packets)
			rotate_start(g, o, now, "packet budget");
	}
}

/* Is ifindex one of this router's WAN side: an interface GEM is attached
 * to, a discovery link, or a tunnel's TUN?  Its name into name. */
static bool wan_side(struct gemd *g, unsigned int ifindex, char name[IF_NAMESIZE])
{
	struct gem_iface gi;
	__u32 k = ifindex;

	if (!if_indextoname(ifindex, name))
		snprintf(name, IF_NAMESIZE, "ifindex %u", ifindex);
	if (g->cp.pins_open && bpf_map_lookup_elem(g->cp.pins.ifaces, &k, &gi) == 0)
		return true;
	for (int i = 0; i < g->cfg.nifaces; i++)
		if (!strcmp(g->cfg.ifaces[i], name))
			return true;
	for (unsigned int i = 0; i < g->cfg.max_neighbours; i++)
		if (g->peers[i].used && g->peers[i].tun && !strcmp(g->peers[i].tun->ifname, name))
			return true;
	return false;
}

/* May this router key a stream from sg's source (issue 14: spoofed sources
 * must not take the own-stream slots)?  With [groups] sources: the source
 * is in one of them.  Without: the kernel's route to the source leaves by a
 * LAN-side interface (not GEM's egress ifindex, not wan_side()), or the
 * source is an address of this router.  No route, or an error: refused
 * (fail closed).  1 yes, 0 no with the reason in why. */
static int source_ok(struct gemd *g, const struct gem_sg *sg, unsigned int ifindex, char *why,
		     size_t len)
{
	bool v4 = gem_addr_is_v4(&sg->src);
	char name[IF_NAMESIZE];
	unsigned int oif = 0;
	unsigned char type = 0;
	int err;

	if (g->cfg.nsources) {
		for (int i = 0; i < g->cfg.nsources; i++)
			if (gemd_prefix_contains(&g->cfg.sources[i], sg->src.a))
				return 1;
		snprintf(why, len, "not in [groups] sources");
		return 0;
	}
	err = gemd_nl_route_get(v4 ? AF_INET : AF_INET6, v4 ? sg->src.a + 12 : sg->src.a, &oif,
				&type);
	if (err) {
		if (err != -ENETUNREACH && err != -EHOSTUNREACH)
			g->cp.route_errors++;
		snprintf(why, len, "no route to the source (%s)", strerror(-err));
		return 0;
	}
	if (type == RTN_LOCAL)
		return 1;	/* this router's own address */
	if (type != RTN_UNICAST) {
		snprintf(why, len, "the route to the source is of type %u, not unicast", type);
		return 0;
	}
	if (oif == ifindex || wan_side(g, oif, name)) {
		if (oif == ifindex && !if_indextoname(oif, name))
			snprintf(name, sizeof(name), "ifindex %u", oif);
		snprintf(why, len, "the source routes out %s, a WAN-side interface", name);
		return 0;
	}
	return 1;
}

/* Report sg again later: clear its gem_notified note at now + RETRY_MS. */
static void retry_later(struct gemd *g, const struct gem_sg *sg, uint64_t now)
{
	struct gemd_cp_retry *r = &g->cp.retry[g->cp.retry_head++ % GEMD_CP_RETRY];

	r->sg = *sg;
	r->at_ms = now + GEMD_CP_RETRY_MS;
}

static void retry_tick(struct gemd *g, uint64_t now)
{
	for (int i = 0; i < GEMD_CP_RETRY; i++) {
		struct gemd_cp_retry *r = &g->cp.retry[i];

		if (!r->at_ms || r->at_ms > now)
			continue;
		r->at_ms = 0;
		if (g->cp.pins_open)
			bpf_map_delete_elem(g->cp.pins.notified, &r->sg);
	}
}

/* A refusal: counted always, logged at the 1st, 2nd, 4th, 8th, ... of its
 * kind (a flood of spoofed sources must not flood the journal too). */
static void refused(uint64_t *ctr, const struct gem_sg *sg, const char *why)
{
	char s[GEM_ADDR_STRLEN], gr[GEM_ADDR_STRLEN];

	gem_addr_str(&sg->src, s);
	gem_addr_str(&sg->grp, gr);
	++*ctr;
	if (!(*ctr & (*ctr - 1)))
		log_warn("control: stream (%s, %s) not keyed: %s (%llu refused so far for this "
			 "reason)", s, gr, why, (unsigned long long)*ctr);
	else
		log_debug("control: stream (%s, %s) not keyed: %s", s, gr, why);
}

/* At start: the data plane may seal streams with SEKs this gemd never saw
 * (it restarted; the pinned maps outlive it).  Announce a fresh SEK for
 * every egress stream of a group we hold the GAK of, switched to after
 * the usual rotation delay: receivers never miss a packet. */
static void adopt_streams(struct gemd *g, uint64_t now)
{
	struct gem_sg k, next, *prev = NULL;

	while (bpf_map_get_next_key(g->cp.pins.tx, prev, &next) == 0) {
		struct gem_tx_stream tv;
		char s[GEM_ADDR_STRLEN], gr[GEM_ADDR_STRLEN];
		struct gemd_cp_own *o;
		uint32_t id;

		k = next;
		prev = &k;
		if (!tx_state(g, &k, &tv) || member_of(g, k.grp.a) < 0 || own_stream(g, &k) >= 0)
			continue;
		id = tv.key_id[tv.cur & 1];
		if (id > 0xffff)
			continue;	/* no key: tx-no-key will come */
		gem_addr_str(&k.src, s);
		gem_addr_str(&k.grp, gr);
		if (!declared(g, &k)) {
			char why[120];

			if (!source_ok(g, &k, 0, why, sizeof(why))) {
				/* e.g. keyed by an older gemd for a spoofed source */
				log_warn("control: stream (%s, %s) sealed by the data plane: %s: "
					 "removed", s, gr, why);
				g->cp.refused_not_lan++;
				gem_dp_del_tx(g->cp.pins.ctl, &k);
				continue;
			}
		}
		o = own_add(g, &k, id, now);
		if (!o) {
			log_warn("control: stream (%s, %s): more than %d own streams", s, gr,
				 GEMD_CP_MAX_OWN);
			return;
		}
		log_info("control: stream (%s, %s) sealed by the data plane with key id %u, "
			 "unknown to this gemd (restart): re-keying", s, gr, id);
		rotate_start(g, o, now, "restart");
	}
}

/* A stream of a group we hold the GAK of has no egress SEK: make one, if
 * its source is on our LAN side, a slot is free and the new-stream bucket
 * has a token (declared streams: configured, only the slot counts).
 * ifindex: where the data plane saw it (0: not from the data plane). */
static void new_stream(struct gemd *g, const struct gem_sg *sg, unsigned int ifindex,
		       uint64_t now)
{
	uint8_t sek[GEM_KEYS_SEK_LEN], wrapped[GEM_TLV_WRAPPED_LEN];
	char s[GEM_ADDR_STRLEN], gr[GEM_ADDR_STRLEN];
	uint64_t t0 = gemd_now_ms();
	char desc_full[64];
	int err;

	gem_addr_str(&sg->src, s);
	gem_addr_str(&sg->grp, gr);
	if (member_of(g, sg->grp.a) < 0) {
		log_debug("control: stream (%s, %s) has no SEK, but we hold no GAK for %s", s, gr,
			  gr);
		return;
	}
	if (own_stream(g, sg) >= 0)
		return;		/* announced already; the event raced the load */
	if (!declared(g, sg)) {
		char why[120];

		if (!source_ok(g, sg, ifindex, why, sizeof(why))) {
			refused(&g->cp.refused_not_lan, sg, why);
			retry_later(g, sg, now);	/* routes change */
			return;
		}
	}
	if (g->cp.nown >= GEMD_CP_MAX_OWN) {
		snprintf(desc_full, sizeof(desc_full), "all %d own-stream slots in use",
			 GEMD_CP_MAX_OWN);
		refused(&g->cp.refused_full, sg, desc_full);
		retry_later(g, sg, now);
		return;
	}
	if (!declared(g, sg) && !gemd_bucket_take(&g->cp.new_streams, now)) {
		refused(&g->cp.refused_rate, sg, "new-stream rate limit ([groups] stream_rate)");
		retry_later(g, sg, now);
		return;
	}
	/* loaded right away: the stream's packets are being dropped */
	err = announce_sek(g, sg, 1, now, sek, wrapped);
	if (err)
		return;
	err = gem_dp_set_sek(g->cp.pins.ctl, sg, 1, 1, sek);
	sodium_memzero(sek, sizeof(sek));
	if (err) {
		log_err("control: stream (%s, %s): cannot load the SEK for egress: %s", s, gr,
			strerror(-err));
		return;
	}
	own_add(g, sg, 1, now);
	log_info("control: new stream (%s, %s): SEK key id 1 loaded for egress and announced "
		 "(%llu ms)", s, gr, (unsigned long long)(gemd_now_ms() - t0));
	mon_stream(g, "stream-new", s, gr, NULL, NULL, 0, 1);
}

/* [groups] stream = SOURCE GROUP: key and announce them now, so receivers
 * hold the SEK before the first packet (no packet dropped at the start). */
static void declared_streams(struct gemd *g, uint64_t now)
{
	for (int i = 0; i < g->cfg.nstreams; i++) {
		struct gem_tx_stream tv;
		struct gem_sg sg;

		memcpy(sg.src.a, g->cfg.streams[i][0], 16);
		memcpy(sg.grp.a, g->cfg.streams[i][1], 16);
		if (tx_state(g, &sg, &tv) && tv.key_id[tv.cur & 1] <= 0xffff)
			continue;	/* keyed already (adopt_streams took it over) */
		new_stream(g, &sg, 0, now);
	}
}

static int on_dp_event(void *ctx, void *data, size_t len)
{
	struct gemd *g = ctx;
	const struct gem_event *ev = data;

	if (len < sizeof(*ev) || ev->type != GEM_EV_TX_NO_KEY)
		return 0;
	g->cp.dp_events++;
	{
		char s[GEM_ADDR_STRLEN], gr[GEM_ADDR_STRLEN];
		json_object *m = gemd_mon_event(&g->mon, "tx-no-key");

		gem_json_str(m, "source", gem_addr_str(&ev->sg.src, s));
		gem_json_str(m, "group", gem_addr_str(&ev->sg.grp, gr));
		gem_json_u64(m, "ifindex", ev->ifindex);
		gemd_mon_send(&g->mon, m);
	}
	new_stream(g, &ev->sg, ev->ifindex, gemd_now_ms());
	return 0;
}

static void load_groups(struct gemd *g)
{
	for (int i = 0; i < g->cfg.ngroups; i++) {
		uint8_t key[GEM_MAC_KEY_LEN];
		unsigned int suite = suite_of_group(g, i);
		size_t klen = gem_suite_key_len(suite);
		char gr[GEM_KEYS_GROUP_STRLEN];
		struct gem_addr a;
		int err = 0;

		gem_keys_group_str(g->cfg.groups[i], gr);
		if (!g->cp.have_gak[i])
			continue;
		if (!suite) {
			log_err("control: group %s: unknown suite; not loaded", gr);
			continue;
		}
		memcpy(a.a, g->cfg.groups[i], 16);
		if (klen)
			err = gem_keys_dp_key(g->keys, a.a, 0, suite, key, klen);
		if (!err)
			err = gem_dp_set_group(g->cp.pins.ctl, &a, suite, key, klen);
		sodium_memzero(key, sizeof(key));
		if (err)
			log_err("control: cannot load group %s into the data plane: %s", gr,
				err == -EIO ? gem_keys_errmsg() : strerror(-err));
		else
			log_info("control: group %s loaded into the data plane (suite %s, key "
				 "derived in the HSM)", gr, gem_suite_name(suite));
	}
}

static int load_rx_walk(void *arg, const struct gem_db_entry *e)
{
	if (e->rec->type == GEM_TLV_SEK && !e->own)
		load_rx_sek(arg, e->rec);
	return 0;
}

static void pins_try(struct gemd *g, uint64_t now)
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
	g->cp.rb = ring_buffer__new(g->cp.pins.events, on_dp_event, g, NULL);
	if (!g->cp.rb) {
		log_err("control: cannot read the data plane's events: %s", strerror(errno));
		gem_pins_close(&g->cp.pins);
		return;
	}
	g->cp.pins_open = true;
	log_info("control: data plane at %s", g->cfg.pin_dir);
	load_groups(g);
	gem_db_walk(g->cp.db, now, load_rx_walk, g);
	adopt_streams(g, now);
	declared_streams(g, now);
}

/* ---- lifecycle ------------------------------------------------------------- */

static int open_socket(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(GEMD_CP_PORT),
				  .sin6_addr = IN6ADDR_ANY_INIT };
	int fd, one = 1, zero = 0, hops = CP_HOPS;

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof(zero)) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof(hops)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Which of cfg.groups we hold the GAK of; logged for each group not in
 * old (NULL: every group). */
static void find_gaks(struct gemd *g, const struct gemd_config *old)
{
	bool had[GEMD_MAX_GROUPS];

	memcpy(had, g->cp.have_gak, sizeof(had));	/* in old's order */
	for (int i = 0; i < g->cfg.ngroups; i++) {
		uint8_t key[GEM_TLV_CTL_KEY_LEN];
		char gr[GEM_KEYS_GROUP_STRLEN];
		int err, was = -1;	/* -1: a new group */

		for (int j = 0; old && j < old->ngroups; j++)
			if (!memcmp(old->groups[j], g->cfg.groups[i], 16))
				was = had[j];
		gem_keys_group_str(g->cfg.groups[i], gr);
		err = gem_keys_ctl_key(g->keys, g->cfg.groups[i], 0, key);
		sodium_memzero(key, sizeof(key));
		if (was != !err)
			log_info("control: group %s: %s", gr, err ? "no GAK in the token: relay only"
				 : "GAK held: member (announces and reads its SEKs)");
		g->cp.have_gak[i] = !err;
	}
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
	find_gaks(g, old);
	if (g->cfg.stream_rate != old->stream_rate || g->cfg.stream_burst != old->stream_burst)
		gemd_bucket_init(&g->cp.new_streams, g->cfg.stream_rate, g->cfg.stream_burst, now);
	if (!g->cp.pins_open)
		return;		/* pins_try does the rest when the data plane is there */
	load_groups(g);
	gem_db_walk(g->cp.db, now, load_rx_walk, g);
	declared_streams(g, now);
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
	find_gaks(g, NULL);
	err = gem_db_new(&g->cp.db, g->id, &cp_ops, g, NULL);
	if (err) {
		log_err("control: cannot create the record store: %s", strerror(-err));
		return err;
	}
	g->cp.fd = open_socket();
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

static void mcast_membership(struct gemd *g, unsigned int ifindex, bool join)
{
	struct ipv6_mreq m = { .ipv6mr_interface = ifindex };

	inet_pton(AF_INET6, GEMD_CP_GROUP, &m.ipv6mr_multiaddr);
	if (setsockopt(g->cp.fd, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &m,
		       sizeof(m)) < 0 && join && errno != EADDRINUSE)
		log_warn("control: join %s on ifindex %u: %s", GEMD_CP_GROUP, ifindex,
			 strerror(errno));
}

static void nb_down(struct gemd *g, uint32_t h)
{
	struct gemd_cp_nb *nb = &g->cp.nb[h];
	json_object *ev;

	if (!nb->up)
		return;
	gem_db_neigh_down(g->cp.db, h);
	mcast_membership(g, nb->ifindex, false);
	nb->up = false;
	log_info("control: neighbour %u down", h);
	ev = gemd_mon_event(&g->mon, "neighbour-down");
	gem_json_u64(ev, "slot", h);
	gemd_mon_send(&g->mon, ev);
}

void gemd_cp_tick(struct gemd *g, uint64_t now)
{
	if (!g->cp.db)
		return;
	for (unsigned int i = 0; i < g->cfg.max_neighbours; i++) {
		struct gemd_peer *p = &g->peers[i];
		struct gemd_cp_nb *nb = &g->cp.nb[i];
		unsigned int ifindex = 0;
		bool up = gemd_peer_trusted(p) && p->tun->ifname[0];

		if (up)
			ifindex = if_nametoindex(p->tun->ifname);
		if (!ifindex) {
			nb_down(g, i);
			continue;
		}
		if (nb->up && nb->ifindex == ifindex && nb->tun == p->tun &&
		    nb->gen == p->tun->gen && nb->peer_gen == p->tun->peer_gen)
			continue;
		if (nb->up && nb->ifindex != ifindex)
			nb_down(g, i);
		if (!nb->up)
			mcast_membership(g, ifindex, true);
		nb->up = true;
		nb->ifindex = ifindex;
		nb->tun = p->tun;
		nb->gen = p->tun->gen;
		nb->peer_gen = p->tun->peer_gen;
		gem_db_neigh_up(g->cp.db, handle_of(g, p), now);
		log_info("control: neighbour %u (%s) up on %s", i, p->id_hex, p->tun->ifname);
		{
			json_object *ev = gemd_mon_event(&g->mon, "neighbour-up");

			gem_json_u64(ev, "slot", i);
			gem_json_str(ev, "node", p->id_hex);
			gem_json_str(ev, "interface", p->tun->ifname);
			gemd_mon_send(&g->mon, ev);
		}
	}
	pins_try(g, now);
	if (g->cp.rb)
		ring_buffer__consume(g->cp.rb);
	rotate_tick(g, now);
	unload_tick(g, now);
	retry_tick(g, now);
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

int gemd_cp_dp_fd(const struct gemd *g)
{
	return g->cp.rb ? ring_buffer__epoll_fd(g->cp.rb) : -1;
}

void gemd_cp_dp_input(struct gemd *g)
{
	if (g->cp.rb)
		ring_buffer__consume(g->cp.rb);
}

void gemd_cp_input(struct gemd *g, uint64_t now)
{
	uint8_t buf[GEM_TLV_HDR_LEN + GEM_TLV_BODY_MAX];

	for (int k = 0; k < 64; k++) {
		char cbuf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
		struct sockaddr_in6 from;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof(from),
				    .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		unsigned int ifindex = 0;
		int hops = -1, err;
		ssize_t n = recvmsg(g->cp.fd, &m, 0);
		uint32_t h;

		if (n < 0)
			return;
		gemd_cmsg_in6(&m, &ifindex, &hops);
		for (h = 0; h < g->cfg.max_neighbours; h++)
			if (g->cp.nb[h].up && g->cp.nb[h].ifindex == ifindex)
				break;
		if (h == g->cfg.max_neighbours || hops != CP_HOPS ||
		    !IN6_IS_ADDR_LINKLOCAL(&from.sin6_addr)) {
			g->cp.rx_foreign++;
			log_debug("control: dropped %zd bytes on ifindex %u (hop limit %d): not from "
				  "a tunnel neighbour", n, ifindex, hops);
			continue;
		}
		err = gem_db_input(g->cp.db, h, buf, n, now);
		if (err)
			log_debug("control: packet from neighbour %u: %s", h, strerror(-err));
	}
}

/* ---- gemctl control-stats ----------------------------------------------------- */

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

void gemd_show_cp_stats(struct gemd *g, FILE *f, bool json, uint64_t now)
{
	struct rlimit core = { 0, 0 };
	int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	long lck = locked_kb();
	struct gem_db_stats st;
	size_t cnt[3] = { 0 };
	unsigned int up = 0;

	if (!g->cp.db) {
		fprintf(f, json ? "{\"error\": \"control plane not running\"}\n" :
			"error: control plane not running\n");
		return;
	}
	gem_db_get_stats(g->cp.db, &st);
	gem_db_walk(g->cp.db, now, count_walk, cnt);
	for (unsigned int i = 0; i < g->cfg.max_neighbours; i++)
		up += g->cp.nb[i].up;
	getrlimit(RLIMIT_CORE, &core);
	if (json) {
		fprintf(f, "{\"node_id\": \"%s\", \"port\": %u, \"neighbours_up\": %u, "
			"\"records\": %zu, \"pubkeys\": %zu, \"seks\": %zu, \"own\": %zu, "
			"\"data_plane\": %s, \"dp_events\": %llu, \"own_streams\": %d, "
			"\"rx_sek_loaded\": %llu, \"rx_foreign\": %llu, \"rotations\": %llu, ",
			g->id_hex, GEMD_CP_PORT, up, gem_db_count(g->cp.db), cnt[0], cnt[1], cnt[2],
			g->cp.pins_open ? "true" : "false", (unsigned long long)g->cp.dp_events,
			g->cp.nown, (unsigned long long)g->cp.rx_loaded,
			(unsigned long long)g->cp.rx_foreign, (unsigned long long)g->cp.rotations);
		fprintf(f, "\"streams_refused_not_lan\": %llu, \"streams_refused_rate\": %llu, "
			"\"streams_refused_full\": %llu, \"source_route_errors\": %llu, "
			"\"streams_idle_withdrawn\": %llu, \"rx_sek_unloaded\": %llu, "
			"\"rx_unload_pending\": %d, \"monitor_clients\": %d, \"monitor_dropped\": %llu, "
			"\"counters\": {",
			(unsigned long long)g->cp.refused_not_lan,
			(unsigned long long)g->cp.refused_rate,
			(unsigned long long)g->cp.refused_full,
			(unsigned long long)g->cp.route_errors,
			(unsigned long long)g->cp.streams_idle,
			(unsigned long long)g->cp.rx_unloaded, g->cp.nunload, g->mon.n,
			(unsigned long long)g->mon.dropped);
		for (size_t i = 0; i < gem_db_n_stat_fields; i++)
			fprintf(f, "%s\"%s\": %llu", i ? ", " : "", gem_db_stat_fields[i].name,
				(unsigned long long)*(const uint64_t *)((const char *)&st +
						     gem_db_stat_fields[i].off));
		fprintf(f, "}, \"process\": {\"dumpable\": %d, \"core_limit\": %lld, "
			"\"locked_kb\": %ld}}\n", dumpable,
			core.rlim_cur == RLIM_INFINITY ? -1LL : (long long)core.rlim_cur, lck);
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
			(unsigned long long)*(const uint64_t *)((const char *)&st +
								gem_db_stat_fields[i].off));
}
