// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemd control plane, stream admission (docs/CONTROL.md 13.2, issue 14):
 * GEM_EV_TX_NO_KEY from the data plane's ring buffer asks for a SEK.  Only
 * sources on this router's LAN side ([groups] sources, or a route out of
 * an interface that is not GEM's, not a discovery link and not a tunnel),
 * at most stream_rate new ones per second, GEMD_CP_MAX_OWN in all;
 * [groups] stream entries are keyed at start; streams the data plane seals
 * with keys an earlier gemd made are adopted (re-keyed) at start.
 */
#include <errno.h>
#include <net/if.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <linux/rtnetlink.h>

#include <bpf/bpf.h>

#include "gem_json.h"
#include "gemd/log.h"
#include "gemd/nl.h"
#include "keys/gem_keys.h"
#include "gem_addr.h"
#include "gem_dp.h"
#include "gemd/cp_int.h"

/* Is ifindex one of this router's WAN side: an interface GEM is attached
 * to as wan (one attached with --role lan faces hosts: LAN side), a
 * discovery link, or a tunnel's TUN?  Its name into name. */
static bool wan_side(struct gemd *g, unsigned int ifindex, char name[IF_NAMESIZE])
{
	struct gem_iface gi;
	__u32 k = ifindex;

	if (!if_indextoname(ifindex, name))
		snprintf(name, IF_NAMESIZE, "ifindex %u", ifindex);
	if (g->cp.pins_open && bpf_map_lookup_elem(g->cp.pins.ifaces, &k, &gi) == 0 &&
	    !(gi.flags & GEM_IF_F_LAN))
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

void cp_retry_tick(struct gemd *g, uint64_t now)
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
void cp_adopt_streams(struct gemd *g, uint64_t now)
{
	struct gem_sg k, next, *prev = NULL;

	while (bpf_map_get_next_key(g->cp.pins.tx, prev, &next) == 0) {
		struct gem_tx_stream tv;
		char s[GEM_ADDR_STRLEN], gr[GEM_ADDR_STRLEN];
		struct gemd_cp_own *o;
		uint32_t id;

		k = next;
		prev = &k;
		if (!cp_tx_state(g, &k, &tv) || cp_member_of(g, k.grp.a) < 0 || cp_own_stream(g, &k) >= 0)
			continue;
		id = tv.key_id[tv.cur & 1];
		if (id > 0xffff)
			continue;	/* no key: tx-no-key will come */
		gem_addr_str(&k.src, s);
		gem_addr_str(&k.grp, gr);
		if (!cp_declared(g, &k)) {
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
		o = cp_own_add(g, &k, id, now);
		if (!o) {
			log_warn("control: stream (%s, %s): more than %d own streams", s, gr,
				 GEMD_CP_MAX_OWN);
			return;
		}
		log_info("control: stream (%s, %s) sealed by the data plane with key id %u, "
			 "unknown to this gemd (restart): re-keying", s, gr, id);
		cp_rotate_start(g, o, now, "restart");
	}
}

/* A stream of a group we hold the GAK of has no egress SEK: make one, if
 * its source is on our LAN side, a slot is free and the new-stream bucket
 * has a token (cp_declared streams: configured, only the slot counts).
 * ifindex: where the data plane saw it (0: not from the data plane). */
static void new_stream(struct gemd *g, const struct gem_sg *sg, unsigned int ifindex,
		       uint64_t now)
{
	uint8_t sek[GEM_KEYS_SEK_MAX], wrapped[GEM_TLV_WRAPPED_MAX];
	char s[GEM_ADDR_STRLEN], gr[GEM_ADDR_STRLEN];
	uint64_t t0 = gemd_now_ms();
	char desc_full[64];
	int err;

	gem_addr_str(&sg->src, s);
	gem_addr_str(&sg->grp, gr);
	if (cp_member_of(g, sg->grp.a) < 0) {
		log_debug("control: stream (%s, %s) has no SEK, but we hold no GAK for %s", s, gr,
			  gr);
		return;
	}
	if (cp_own_stream(g, sg) >= 0)
		return;		/* announced already; the event raced the load */
	if (!cp_declared(g, sg)) {
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
	if (!cp_declared(g, sg) && !gemd_bucket_take(&g->cp.new_streams, now)) {
		refused(&g->cp.refused_rate, sg, "new-stream rate limit ([groups] stream_rate)");
		retry_later(g, sg, now);
		return;
	}
	/* loaded right away: the stream's packets are being dropped */
	err = cp_announce_sek(g, sg, 1, now, sek, wrapped);
	if (err)
		return;
	err = gem_dp_set_sek_len(g->cp.pins.ctl, sg, 1, 1, sek, cp_sek_len_of(g, sg->grp.a));
	sodium_memzero(sek, sizeof(sek));
	if (err) {
		log_err("control: stream (%s, %s): cannot load the SEK for egress: %s", s, gr,
			strerror(-err));
		return;
	}
	cp_own_add(g, sg, 1, now);
	log_info("control: new stream (%s, %s): SEK key id 1 loaded for egress and announced "
		 "(%llu ms)", s, gr, (unsigned long long)(gemd_now_ms() - t0));
	cp_mon_stream(g, "stream-new", s, gr, NULL, NULL, 0, 1);
}

/* [groups] stream = SOURCE GROUP: key and announce them now, so receivers
 * hold the SEK before the first packet (no packet dropped at the start). */
void cp_declared_streams(struct gemd *g, uint64_t now)
{
	for (int i = 0; i < g->cfg.nstreams; i++) {
		struct gem_tx_stream tv;
		struct gem_sg sg;

		memcpy(sg.src.a, g->cfg.streams[i][0], 16);
		memcpy(sg.grp.a, g->cfg.streams[i][1], 16);
		if (cp_tx_state(g, &sg, &tv) && tv.key_id[tv.cur & 1] <= 0xffff)
			continue;	/* keyed already (cp_adopt_streams took it over) */
		new_stream(g, &sg, 0, now);
	}
}

int cp_on_dp_event(void *ctx, void *data, size_t len)
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
