// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemd control plane, records (docs/PROTOCOL.md section 10, gemd/db.h):
 * the record store's callbacks.  Verify: Public Key id + signature; SEK
 * Announce: origin's key known (else deferred), signature, then, for groups
 * this node holds the GAK of, HMAC and unwrap (in the HSM).  Sign: HMAC
 * (SEK Announce) and the node's signature (HSM).  An accepted announce
 * loads its SEK for ingress; its withdrawal or expiry unloads it after a
 * grace period.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "gem_json.h"
#include "gemd/log.h"
#include "keys/gem_keys.h"
#include "gem_addr.h"
#include "gem_dp.h"
#include "gemd/cp_int.h"

static void rec_desc(const struct gem_rec *r, char *buf, size_t len)
{
	char id[GEMD_ID_HEX], s[GEM_ADDR_STRLEN], gr[GEM_ADDR_STRLEN];

	gemd_hex(r->origin, 8, id);
	if (r->type == GEM_TLV_SEK) {
		gem_addr_str((const struct gem_addr *)r->sek.src, s);
		gem_addr_str((const struct gem_addr *)r->sek.grp, gr);
		snprintf(buf, len, "%s (%s, %s) key id %u from origin %s seqno %u",
			 gem_tlv_type_name(r->type), s, gr, r->sek.key_id, id, r->seqno);
	} else {
		snprintf(buf, len, "%s of %s seqno %u", gem_tlv_type_name(r->type), id, r->seqno);
	}
}

static int cp_verify(void *ctx, uint32_t nh, const struct gem_rec *r)
{
	struct gemd *g = ctx;
	const struct gem_rec *pk;
	uint8_t key[GEM_TLV_CTL_KEY_LEN], sek[GEM_KEYS_SEK_MAX];
	size_t sl = gem_suite_sek_len(r->sek.suite);	/* 0: unknown, refused below */
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
	gi = cp_member_of(g, r->sek.grp);
	if (gi < 0)
		return 0;		/* not ours to read: relay it */
	if (!cp_epoch_held(g, gi, r->sek.epoch)) {
		/* an epoch this node was not given (it is being excluded, or
		 * missed a rekey) or has retired: signed by its origin, so
		 * relayed to the members that can read it; never loaded here */
		char desc[200];

		rec_desc(r, desc, sizeof(desc));
		cp_epoch_unheld(g, r, desc);
		return 0;
	}
	err = gem_keys_ctl_key(g->keys, r->sek.grp, r->sek.epoch, key);
	if (err) {
		sodium_memzero(key, sizeof(key));
		return err == -ENOENT ? 0 : -EIO;	/* retired meanwhile: relay */
	}
	err = gem_tlv_hmac_verify(r, key);
	sodium_memzero(key, sizeof(key));
	if (err)
		return GEM_DB_REJECT(GEM_DB_R_BAD_HMAC);
	if (!(r->flags & GEM_REC_F_WITHDRAWN) && sl) {
		err = gem_keys_sek_unwrap(g->keys, r->sek.grp, r->sek.epoch, r->sek.wrapped, sek, sl);
		sodium_memzero(sek, sizeof(sek));
		if (err == -EBADMSG)
			return GEM_DB_REJECT(GEM_DB_R_UNWRAP);
		if (err)
			return -EIO;
	}
	if (r->sek.suite != cp_suite_of_group(g, gi))
		return GEM_DB_REJECT(GEM_DB_R_POLICY);
	cp_epoch_verified(g, gi, r->sek.epoch);
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
void cp_unload_schedule(struct gemd *g, const struct gem_rec *r, uint64_t now)
{
	struct gemd_cp_unload u = { .key_id = r->sek.key_id,
				    .due_ms = now + GEMD_CP_UNLOAD_GRACE_MS };

	if (cp_member_of(g, r->sek.grp) < 0 || !memcmp(r->origin, g->id, sizeof(g->id)) ||
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

void cp_unload_tick(struct gemd *g, uint64_t now)
{
	for (int i = 0; i < g->cp.nunload; i++) {
		struct gemd_cp_unload u = g->cp.unload[i];

		if (u.due_ms > now)
			continue;
		g->cp.unload[i--] = g->cp.unload[--g->cp.nunload];
		unload_now(g, &u, now);
	}
}

void cp_load_rx_sek(struct gemd *g, const struct gem_rec *r)
{
	struct gem_sg sg;
	uint8_t sek[GEM_KEYS_SEK_MAX];
	size_t sl = gem_suite_sek_len(r->sek.suite);	/* cp_verify: the group's suite */
	char desc[200];
	bool replaced = false;
	json_object *ev;
	int err, gi = cp_member_of(g, r->sek.grp);

	if (gi < 0 || (r->flags & GEM_REC_F_WITHDRAWN) || !cp_epoch_held(g, gi, r->sek.epoch))
		return;		/* not ours, or an epoch not held (relayed only) */
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
	err = sl ? gem_keys_sek_unwrap(g->keys, r->sek.grp, r->sek.epoch, r->sek.wrapped, sek, sl)
		 : -EINVAL;
	if (!err)
		err = gem_dp_set_sek_len(g->cp.pins.ctl, &sg, 0, r->sek.key_id, sek, sl);
	if (err == -EEXIST) {
		/* the origin re-keyed this key id (it lost its data plane): the
		 * record is signed and HMACed, so take the new SEK; the slot keeps
		 * its replay window, the new packet numbers start above it */
		log_info("control: %s: key id held with another SEK; replaced", desc);
		replaced = true;
		err = gem_dp_replace_rx_sek_len(g->cp.pins.ctl, &sg, r->sek.key_id, sek, sl);
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
			gem_json_bool(m, "member", cp_member_of(g, r->sek.grp) >= 0);
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
			 cp_member_of(g, r->sek.grp) >= 0 ? "member" : "relayed, not a member");
		cp_load_rx_sek(g, r);
		break;
	case GEM_DB_EV_UPDATED:
		if (old && gem_rec_same_content(r, old))
			break;		/* a refresh */
		log_info("control: %s updated", desc);
		cp_load_rx_sek(g, r);
		break;
	case GEM_DB_EV_WITHDRAWN:
	case GEM_DB_EV_EXPIRED:
		log_info("control: %s %s", desc, gem_db_event_name(ev));
		cp_unload_schedule(g, r, gemd_now_ms());
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

const struct gem_db_ops cp_ops = {
	.send = cp_send, .verify = cp_verify, .sign = cp_sign,
	.on_change = cp_on_change, .on_reject = cp_on_reject,
};
