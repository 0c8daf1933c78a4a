// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * GEM control-plane record store and propagation engine; the rules it
 * implements are docs/PROTOCOL.md section 10.3 and 10.9-10.10, quoted below
 * where a choice is made.
 *
 * Layout: records live in a chained hash table keyed by (type, origin,
 * subject).  What still has to reach a neighbour is a struct pend, linked
 * both into the neighbour's list (to build its packets) and into the record's
 * list (to cancel it when an ack comes or the record goes).  A pend always
 * sends the record's current version, so a newer version simply reschedules
 * it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gemd/db.h"
#include "gemd/clock.h"

#define DEF_MTU		1200
#define MIN_MTU		(GEM_TLV_HDR_LEN + 2 + 255)
#define DEF_RTO		500
#define DEF_RTO_MAX	16000
#define DEF_TRIES	12
#define DEF_RECORDS	16384
#define DEF_SKEW	30000
#define DEF_MAX_LIFE	7200
#define DEF_PER_ORIGIN	4096

struct neigh;
struct ent;

struct pend {
	struct ent *e;
	struct neigh *n;
	struct pend *rnext;		/* record's list */
	struct pend *nnext, *nprev;	/* neighbour's list */
	uint64_t due;
	uint32_t rto;
	unsigned int tries;		/* transmissions so far */
};

struct ent {
	struct ent *hnext;
	struct gem_rec_key key;
	struct gem_rec rec;		/* current version */
	uint64_t expires;		/* monotonic ms */
	uint64_t xwall;			/* the origin's expiry: time_ms + lifetime */
	uint64_t refresh;		/* own live records */
	uint64_t tomb_until;		/* tombstone: forgotten after this (mono) */
	uint64_t tomb_wall;		/* ... and this (wall clock) */
	bool tomb;			/* expired: only rec's version is kept */
	bool bound;			/* SEK Announce that binds its stream */
	bool own;
	bool has_from;
	uint32_t from;
	struct pend *pend;
};

struct neigh {
	struct neigh *next;
	uint32_t nh;
	struct pend *ph;		/* pending records */
	size_t npend;
	struct gem_tlv_ack *acks;	/* acks to send */
	size_t nacks, acks_cap;
	bool req;			/* our Request awaits its ack */
	bool served;			/* answered a Request of n ... */
	uint32_t served_nonce;		/* ... with this nonce */
	uint32_t req_nonce;
	uint64_t req_due;
	uint32_t req_rto;
	unsigned int req_tries;
};

struct gem_db {
	uint8_t self[GEM_TLV_ID_LEN];
	struct gem_db_ops ops;
	void *ctx;
	struct gem_db_params p;
	struct ent **tab;
	size_t nbuckets, count;		/* count: entries, tombstones included */
	size_t ntomb;
	struct neigh *neighs;
	uint32_t nonce;
	uint8_t *pkt;			/* p.mtu bytes */
	struct gem_db_stats st;
};

/* ---- names ------------------------------------------------------------------------ */

static const char *const reason_names[GEM_DB_R__MAX] = {
#define GEM_DB_X(e, name) [GEM_DB_R_##e] = #name,
	GEM_DB_REASONS(GEM_DB_X)
#undef GEM_DB_X
};

const char *gem_db_reason_name(enum gem_db_reason why)
{
	if ((unsigned int)why >= GEM_DB_R__MAX)
		return "unknown";
	return reason_names[why];
}

const char *gem_db_event_name(enum gem_db_event ev)
{
	switch (ev) {
	case GEM_DB_EV_NEW:
		return "new";
	case GEM_DB_EV_UPDATED:
		return "updated";
	case GEM_DB_EV_WITHDRAWN:
		return "withdrawn";
	case GEM_DB_EV_EXPIRED:
		return "expired";
	}
	return "unknown";
}

static uint64_t *rej_counter(struct gem_db_stats *st, enum gem_db_reason why)
{
	switch (why) {
#define GEM_DB_X(e, name) case GEM_DB_R_##e: return &st->rej.name;
	GEM_DB_REASONS(GEM_DB_X)
#undef GEM_DB_X
	case GEM_DB_R__MAX:
		break;
	}
	return &st->rej.table_full;
}

#define F(x)	{ #x, offsetof(struct gem_db_stats, x) }
#define R(x)	{ "rejected_" #x, offsetof(struct gem_db_stats, rej.x) }
const struct gem_db_stat_field gem_db_stat_fields[] = {
	F(rx_packets), F(rx_bad_packets), F(rx_truncated), F(rx_not_neighbour),
	F(rx_unknown_tlvs), F(rx_records), F(rx_new), F(rx_updated),
	F(rx_duplicates), F(rx_older), F(rx_unordered), F(rx_expired),
	F(rx_deferred), F(rx_verify_errors), F(rx_rejected), F(rx_acks),
	F(rx_requests), F(tx_packets), F(tx_bytes), F(tx_records),
	F(tx_retransmits), F(tx_acks), F(tx_requests), F(tx_gave_up),
	F(tx_errors), F(own_originated), F(own_refreshed), F(own_seqno_jumps),
	F(sign_errors), F(expired), F(withdrawn), F(tombstones_dropped),
#define GEM_DB_X(e, name) R(name),
	GEM_DB_REASONS(GEM_DB_X)
#undef GEM_DB_X
};
#undef F
#undef R
const size_t gem_db_n_stat_fields = sizeof(gem_db_stat_fields) / sizeof(gem_db_stat_fields[0]);

/* ---- small helpers ------------------------------------------------------------------ */

static uint64_t life_ms(const struct gem_rec *r)
{
	return (uint64_t)r->lifetime * 1000;
}

static bool withdrawn(const struct gem_rec *r)
{
	return r->flags & GEM_REC_F_WITHDRAWN;
}

static bool is_self(const struct gem_db *db, const uint8_t *id)
{
	return !memcmp(db->self, id, GEM_TLV_ID_LEN);
}

/* Wall-clock ms since 1970 UTC: origin times are compared with it. */
static uint64_t wall(const struct gem_db *db)
{
	struct timespec ts;

	if (db->ops.clock)
		return db->ops.clock(db->ctx);
	if (clock_gettime(CLOCK_REALTIME, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The origin's expiry of r (10.3), saturating. */
static uint64_t xwall_of(const struct gem_rec *r)
{
	uint64_t x = r->time_ms + life_ms(r);

	return x < r->time_ms ? UINT64_MAX : x;
}

enum { OLDER = -1, SAME = 0, NEWER = 1, UNORDERED = 2 };

/*
 * Version order (10.3): the later origin time is newer; at equal times the
 * higher seqno (RFC 8966 modular comparison); at equal seqnos the greater
 * signed bytes (memcmp of the body), so two different versions an origin
 * made with one time and seqno are ordered the same way everywhere and
 * cannot ping-pong.  An origin's times never go back for a key (own_install),
 * so this is the seqno order, except that a restarted origin, which forgot
 * its seqnos, is newer again at once.
 */
static int version_cmp(const struct gem_rec *a, const struct gem_rec *b)
{
	uint8_t ba[2 + 255], bb[2 + 255];
	int c, na, nb;

	if (a->time_ms != b->time_ms)
		return a->time_ms < b->time_ms ? OLDER : NEWER;
	c = gem_seqno_cmp(a->seqno, b->seqno);
	if (c == 2)
		return UNORDERED;
	if (c)
		return c;
	na = gem_tlv_rec_encode(a, ba, sizeof(ba));
	nb = gem_tlv_rec_encode(b, bb, sizeof(bb));
	if (na < 0 || nb < 0)
		return UNORDERED;	/* cannot happen: both were valid */
	/* SEK Announces of two suites differ in length (10.5); they differ at
	 * the suite byte already, so the common prefix decides */
	c = memcmp(ba + 2, bb + 2, (size_t)(na < nb ? na : nb) - 2);
	if (!c && na != nb)
		c = na - nb;
	return c < 0 ? OLDER : c > 0 ? NEWER : SAME;
}

/* ---- hash table -------------------------------------------------------------------- */

static size_t key_hash(const struct gem_rec_key *k)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	h = (h ^ k->type) * 0x100000001b3ull;
	for (i = 0; i < GEM_TLV_ID_LEN; i++)
		h = (h ^ k->origin[i]) * 0x100000001b3ull;
	for (i = 0; i < k->subj_len; i++)
		h = (h ^ k->subj[i]) * 0x100000001b3ull;
	return (size_t)(h ^ h >> 29);
}

static struct ent *ent_find(const struct gem_db *db, const struct gem_rec_key *k)
{
	struct ent *e;

	for (e = db->tab[key_hash(k) & (db->nbuckets - 1)]; e; e = e->hnext)
		if (gem_rec_key_eq(&e->key, k))
			return e;
	return NULL;
}

static void tab_grow(struct gem_db *db)
{
	size_t nb = db->nbuckets * 2, i;
	struct ent **t;

	if (!nb)
		return;
	t = calloc(nb, sizeof(struct ent *));	/* NOLINT(bugprone-sizeof-expression): an array of pointers */
	if (!t)
		return;		/* keep the longer chains */
	for (i = 0; i < db->nbuckets; i++) {
		struct ent *e = db->tab[i], *next;

		for (; e; e = next) {
			size_t b = key_hash(&e->key) & (nb - 1);

			next = e->hnext;
			e->hnext = t[b];
			t[b] = e;
		}
	}
	free(db->tab);
	db->tab = t;
	db->nbuckets = nb;
}

static struct ent *ent_add(struct gem_db *db, const struct gem_rec_key *k)
{
	struct ent *e = calloc(1, sizeof(*e));
	size_t b;

	if (!e)
		return NULL;
	e->key = *k;
	if (db->count + 1 > db->nbuckets * 2)
		tab_grow(db);
	b = key_hash(k) & (db->nbuckets - 1);
	e->hnext = db->tab[b];
	db->tab[b] = e;
	db->count++;
	return e;
}

/* ---- pending sends -------------------------------------------------------------------- */

static struct pend *pend_find(const struct ent *e, const struct neigh *n)
{
	struct pend *p;

	for (p = e->pend; p; p = p->rnext)
		if (p->n == n)
			return p;
	return NULL;
}

static void pend_del(struct pend *p)
{
	struct pend **pp;

	for (pp = &p->e->pend; *pp; pp = &(*pp)->rnext)
		if (*pp == p) {
			*pp = p->rnext;
			break;
		}
	if (p->nprev)
		p->nprev->nnext = p->nnext;
	else
		p->n->ph = p->nnext;
	if (p->nnext)
		p->nnext->nprev = p->nprev;
	p->n->npend--;
	free(p);
}

/* Schedule e's current version for n now, with a fresh backoff. */
static void pend_now(struct gem_db *db, struct ent *e, struct neigh *n, uint64_t now)
{
	struct pend *p = pend_find(e, n);

	if (e->tomb)
		return;		/* dead: never sent */
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return;	/* the origin's refresh will bring it */
		p->e = e;
		p->n = n;
		p->rnext = e->pend;
		e->pend = p;
		p->nnext = n->ph;
		if (n->ph)
			n->ph->nprev = p;
		n->ph = p;
		n->npend++;
	}
	p->due = now;
	p->rto = db->p.rto_ms;
	p->tries = 0;
}

static void pend_cancel(struct ent *e, struct neigh *n)
{
	struct pend *p = pend_find(e, n);

	if (p)
		pend_del(p);
}

/* To every neighbour but except (NULL: all). */
static void flood(struct gem_db *db, struct ent *e, const struct neigh *except, uint64_t now)
{
	struct neigh *n;

	for (n = db->neighs; n; n = n->next)
		if (n != except)
			pend_now(db, e, n, now);
}

static void ent_del(struct gem_db *db, struct ent *e)
{
	struct ent **pp = &db->tab[key_hash(&e->key) & (db->nbuckets - 1)];

	while (e->pend)
		pend_del(e->pend);
	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	db->count--;
	if (e->tomb)
		db->ntomb--;
	free(e);
}

/*
 * An expired record becomes a tombstone (10.9): its version is kept, never
 * sent, so that every older version stays refused until it is dead by its
 * own origin time: an older version's origin time is at most the newest's,
 * its lifetime at most max_lifetime, so it expires at the latest at the
 * newest's origin time + max_lifetime.  Kept until both clocks agree that
 * this has passed (a wall clock stepped back must not free it early).
 */
static void ent_tomb(struct gem_db *db, struct ent *e, uint64_t now, uint64_t w)
{
	uint64_t until = e->rec.time_ms + (uint64_t)db->p.max_lifetime * 1000;

	while (e->pend)
		pend_del(e->pend);
	if (!e->tomb)
		db->ntomb++;
	e->tomb = true;
	e->own = false;
	e->bound = false;
	e->tomb_wall = until;
	e->tomb_until = now + (until > w ? until - w : 0);
}

static void ent_untomb(struct gem_db *db, struct ent *e)
{
	if (e->tomb)
		db->ntomb--;
	e->tomb = false;
}

static struct neigh *neigh_find(const struct gem_db *db, uint32_t nh)
{
	struct neigh *n;

	for (n = db->neighs; n; n = n->next)
		if (n->nh == nh)
			return n;
	return NULL;
}

static void queue_ack(struct neigh *n, const struct gem_rec_key *k, uint32_t seqno)
{
	if (n->nacks == n->acks_cap) {
		size_t cap = n->acks_cap ? n->acks_cap * 2 : 16;
		struct gem_tlv_ack *a = realloc(n->acks, cap * sizeof(*a));

		if (!a)
			return;	/* the sender retransmits */
		n->acks = a;
		n->acks_cap = cap;
	}
	n->acks[n->nacks].key = *k;
	n->acks[n->nacks].seqno = seqno;
	n->nacks++;
}

/* ---- sending ---------------------------------------------------------------------------- */

static void pkt_send(struct gem_db *db, struct neigh *n, struct gem_tlv_pkt *pk)
{
	size_t len;

	if (gem_tlv_pkt_empty(pk))
		return;
	len = gem_tlv_pkt_finish(pk);
	if (db->ops.send(db->ctx, n->nh, pk->buf, len) < 0)
		db->st.tx_errors++;
	db->st.tx_packets++;
	db->st.tx_bytes += len;
	gem_tlv_pkt_init(pk, db->pkt, db->p.mtu);
}

static void add_rec(struct gem_db *db, struct neigh *n, struct gem_tlv_pkt *pk,
		    const struct gem_rec *r)
{
	if (gem_tlv_pkt_add_rec(pk, r) == -ENOSPC) {
		pkt_send(db, n, pk);
		gem_tlv_pkt_add_rec(pk, r);	/* fits: mtu >= MIN_MTU */
	}
}

/*
 * Everything due for n, in as few packets of at most mtu bytes as possible:
 * acks first, then our Request, then records, Public Keys before SEK
 * Announces so that a receiver can check the signatures of the latter.
 */
static void flush_neigh(struct gem_db *db, struct neigh *n, uint64_t now)
{
	struct gem_tlv_pkt pk;
	struct pend *p, *next;
	size_t i;
	int pass;

	gem_tlv_pkt_init(&pk, db->pkt, db->p.mtu);
	for (i = 0; i < n->nacks; i++) {
		if (gem_tlv_pkt_add_ack(&pk, &n->acks[i]) == -ENOSPC) {
			pkt_send(db, n, &pk);
			gem_tlv_pkt_add_ack(&pk, &n->acks[i]);
		}
		db->st.tx_acks++;
	}
	n->nacks = 0;

	if (n->req && n->req_due <= now) {
		if (n->req_tries >= db->p.max_tries) {
			n->req = false;
			db->st.tx_gave_up++;
		} else {
			if (gem_tlv_pkt_add_request(&pk, n->req_nonce) == -ENOSPC) {
				pkt_send(db, n, &pk);
				gem_tlv_pkt_add_request(&pk, n->req_nonce);
			}
			n->req_tries++;
			n->req_due = now + n->req_rto;
			n->req_rto = gemd_backoff_double(n->req_rto, db->p.rto_max_ms);
			db->st.tx_requests++;
		}
	}

	for (pass = 0; pass < 2; pass++) {
		for (p = n->ph; p; p = next) {
			struct ent *e = p->e;

			next = p->nnext;
			if ((e->rec.type == GEM_TLV_PUBKEY) != (pass == 0) || p->due > now)
				continue;
			if (p->tries >= db->p.max_tries || now >= e->expires) {
				if (p->tries >= db->p.max_tries)
					db->st.tx_gave_up++;
				pend_del(p);
				continue;
			}
			add_rec(db, n, &pk, &e->rec);
			db->st.tx_records++;
			if (p->tries)
				db->st.tx_retransmits++;
			p->tries++;
			p->due = now + p->rto;
			p->rto = gemd_backoff_double(p->rto, db->p.rto_max_ms);
		}
	}
	pkt_send(db, n, &pk);
}

static void flush_all(struct gem_db *db, uint64_t now)
{
	struct neigh *n;

	for (n = db->neighs; n; n = n->next)
		flush_neigh(db, n, now);
}

/* ---- bindings (10.10) ----------------------------------------------------------------------- */

/*
 * First seen wins, among what this node could verify:
 *  - node id -> public key, for as long as any version of the node's Public
 *    Key record is stored (withdrawn ones included);
 *  - routable address -> node id, for as long as a live (stored, not
 *    withdrawn) Public Key record holds it;
 *  - (source, group) -> origin, for as long as a live SEK Announce that
 *    *binds* holds it: one this node checked with the group's key (bound:
 *    a GAK holder's HMAC and unwrap) or originated.  A relay without the
 *    GAK cannot tell a forged announce from the real one, so what it
 *    accepts on the signature alone binds nothing and is refused for no
 *    stream: it carries competing announces and lets the members decide.
 *    What bounds that is max_per_origin (SEK Announce keys per origin,
 *    tombstones included) and max_records overall.
 * A withdrawn version claims nothing; a tombstone neither.  Returns the
 * reason a record r (replacing cur, may be NULL) breaks one, or
 * GEM_DB_R__MAX if it breaks none.
 */
static enum gem_db_reason binding_check(const struct gem_db *db, const struct gem_rec *r,
					const struct ent *cur, bool bound)
{
	bool count = r->type == GEM_TLV_SEK && !cur && !is_self(db, r->origin);
	size_t i, same_origin = 0;

	if (cur && cur->tomb)
		cur = NULL;
	if (r->type == GEM_TLV_PUBKEY && cur &&
	    memcmp(cur->rec.pk.key, r->pk.key, GEM_TLV_PK_LEN) != 0)
		return GEM_DB_R_KEY_CONFLICT;
	for (i = 0; i < db->nbuckets; i++) {
		const struct ent *e;

		for (e = db->tab[i]; e; e = e->hnext) {
			const struct gem_rec *o = &e->rec;

			if (o->type != r->type)
				continue;
			if (!memcmp(o->origin, r->origin, GEM_TLV_ID_LEN)) {
				same_origin++;
				continue;
			}
			if (e->tomb || withdrawn(o) || withdrawn(r))
				continue;
			if (r->type == GEM_TLV_PUBKEY &&
			    !memcmp(o->pk.addr, r->pk.addr, GEM_TLV_ADDR_LEN))
				return GEM_DB_R_ADDR_CONFLICT;
			if (r->type == GEM_TLV_SEK && bound && e->bound &&
			    !memcmp(o->sek.src, r->sek.src, GEM_TLV_ADDR_LEN) &&
			    !memcmp(o->sek.grp, r->sek.grp, GEM_TLV_ADDR_LEN))
				return GEM_DB_R_STREAM_CONFLICT;
		}
	}
	if (count && same_origin >= db->p.max_per_origin)
		return GEM_DB_R_ORIGIN_FULL;
	return GEM_DB_R__MAX;
}

/* ---- input ------------------------------------------------------------------------------------ */

static void reject(struct gem_db *db, struct neigh *n, const struct gem_rec *r,
		   enum gem_db_reason why)
{
	(*rej_counter(&db->st, why))++;
	db->st.rx_rejected++;
	if (db->ops.on_reject)
		db->ops.on_reject(db->ctx, n->nh, r, why);
}

static void notify(struct gem_db *db, enum gem_db_event ev, const struct gem_rec *r,
		   const struct gem_rec *old)
{
	if (ev == GEM_DB_EV_EXPIRED)
		db->st.expired++;
	if (ev == GEM_DB_EV_WITHDRAWN)
		db->st.withdrawn++;
	if (db->ops.on_change && !is_self(db, r->origin))
		db->ops.on_change(db->ctx, ev, r, old);
}

/*
 * Make e's version r (seqno set) an own version: origin time now, but above
 * floor (the time of the version it follows), so that an origin's times
 * never go back for a key even if its clock does; sign and flood it.
 */
static int own_install(struct gem_db *db, struct ent *e, struct gem_rec *r, uint64_t floor,
		       uint64_t now)
{
	uint64_t w = wall(db);
	int err;

	r->time_ms = w > floor ? w : floor + 1;
	err = db->ops.sign(db->ctx, r);
	if (err) {
		db->st.sign_errors++;
		return err < 0 ? err : -EIO;
	}
	ent_untomb(db, e);
	e->rec = *r;
	e->own = true;
	e->bound = true;
	e->has_from = false;
	e->xwall = xwall_of(r);
	e->expires = now + life_ms(r);
	e->refresh = withdrawn(r) ? GEM_DB_NEVER : now + life_ms(r) / 2;
	flood(db, e, NULL, now);
	return 0;
}

static void handle_rec(struct gem_db *db, struct neigh *n, const struct gem_tlv *t,
		       uint64_t now)
{
	uint64_t w = wall(db), x;
	struct gem_rec r, old;
	struct gem_rec_key k;
	enum gem_db_reason why;
	bool was_live;
	struct ent *e;
	int v;

	db->st.rx_records++;
	if (gem_tlv_rec_decode(t, &r)) {
		reject(db, n, NULL, GEM_DB_R_MALFORMED);	/* cannot even ack it */
		return;
	}
	gem_rec_key_of(&r, &k);
	x = xwall_of(&r);
	if (x <= w) {
		/* Dead on arrival: past the expiry its origin signed (origin
		 * time + lifetime), whoever relays it.  Acked so the sender
		 * stops; never stored, so it cannot come back. */
		db->st.rx_expired++;
		queue_ack(n, &k, r.seqno);
		return;
	}
	e = ent_find(db, &k);
	if (e) {
		int c = version_cmp(&r, &e->rec);

		/* An older (by time) version of an own record with a seqno at or
		 * above ours: we restarted, our new version is newer by time
		 * and wins anyway, but we jump above the seqno (below) so that
		 * seqnos keep growing with the versions. */
		if (c == OLDER && e->own && gem_seqno_cmp(r.seqno, e->rec.seqno) >= 0 &&
		    gem_seqno_cmp(r.seqno, e->rec.seqno) != 2)
			c = NEWER;
		if (c == SAME) {
			db->st.rx_duplicates++;
			queue_ack(n, &k, r.seqno);
			pend_cancel(e, n);	/* n has this version */
			return;
		}
		if (c == OLDER) {
			/* n is behind: ack, and send it ours (this is also how
			 * a restarted origin learns its old seqno).  Older
			 * than a tombstone: refused for good (10.9). */
			db->st.rx_older++;
			queue_ack(n, &k, r.seqno);
			pend_now(db, e, n, now);
			return;
		}
		if (c == UNORDERED) {
			db->st.rx_unordered++;
			queue_ack(n, &k, r.seqno);
			return;
		}
	} else if (db->count >= db->p.max_records) {
		reject(db, n, &r, GEM_DB_R_TABLE_FULL);
		queue_ack(n, &k, r.seqno);
		return;
	}

	if (r.lifetime > db->p.max_lifetime) {
		/* a tombstone could not outlive its older versions (10.9) */
		reject(db, n, &r, GEM_DB_R_POLICY);
		queue_ack(n, &k, r.seqno);
		return;
	}
	v = db->ops.verify(db->ctx, n->nh, &r);
	if (v <= GEM_DB_REJECT(0)) {
		why = (enum gem_db_reason)(-(v + 4096));
		reject(db, n, &r, why < GEM_DB_R__MAX ? why : GEM_DB_R_POLICY);
		queue_ack(n, &k, r.seqno);
		return;
	}
	if (v == -EAGAIN) {
		db->st.rx_deferred++;
		return;
	}
	if (v != 0 && v != GEM_DB_VERIFIED_GROUP) {
		db->st.rx_verify_errors++;
		return;
	}
	if (r.time_ms > w + db->p.max_skew_ms) {
		/* Made in our future: the origin's clock (or ours) is off by
		 * more than we tolerate.  Refused: taking it would let it
		 * live longer here than its origin meant (fail closed). */
		reject(db, n, &r, GEM_DB_R_CLOCK);
		queue_ack(n, &k, r.seqno);
		return;
	}
	why = binding_check(db, &r, e, r.type == GEM_TLV_SEK && v == GEM_DB_VERIFIED_GROUP);
	if (why != GEM_DB_R__MAX) {
		reject(db, n, &r, why);
		queue_ack(n, &k, r.seqno);
		return;
	}
	if (e && e->own) {
		/* A newer version of a record we originate, or one with a
		 * seqno at or above ours: we restarted and forgot our seqno
		 * (or our clock went back).  Jump above both and re-originate
		 * ours. */
		struct gem_rec mine = e->rec;

		queue_ack(n, &k, r.seqno);
		mine.seqno = r.seqno + 1;
		if (own_install(db, e, &mine, r.time_ms > e->rec.time_ms ? r.time_ms :
				e->rec.time_ms, now) == 0)
			db->st.own_seqno_jumps++;
		return;
	}

	was_live = e && !e->tomb && !withdrawn(&e->rec);
	if (e)
		old = e->rec;
	else if (!(e = ent_add(db, &k)))
		return;		/* not acked: the sender retransmits */
	queue_ack(n, &k, r.seqno);
	ent_untomb(db, e);
	e->rec = r;
	e->xwall = x;
	/* x - w <= lifetime + max_skew_ms: the check above */
	e->expires = now + (x - w);
	e->bound = r.type == GEM_TLV_SEK && v == GEM_DB_VERIFIED_GROUP;
	e->has_from = true;
	e->from = n->nh;
	flood(db, e, n, now);
	pend_cancel(e, n);
	if (was_live) {
		db->st.rx_updated++;
		notify(db, withdrawn(&r) ? GEM_DB_EV_WITHDRAWN : GEM_DB_EV_UPDATED, &r, &old);
	} else {
		db->st.rx_new++;
		if (!withdrawn(&r))
			notify(db, GEM_DB_EV_NEW, &r, NULL);
	}
}

static void handle_ack(struct gem_db *db, struct neigh *n, const struct gem_tlv *t)
{
	struct gem_tlv_ack a[GEM_TLV_ACK_MAX];
	int i, cnt = gem_tlv_ack_decode(t, a, GEM_TLV_ACK_MAX);

	if (cnt < 0) {
		reject(db, n, NULL, GEM_DB_R_MALFORMED);
		return;
	}
	for (i = 0; i < cnt; i++) {
		struct ent *e;
		struct pend *p;
		int c;

		db->st.rx_acks++;
		if (a[i].key.type == GEM_TLV_REQUEST) {
			if (n->req && a[i].seqno == n->req_nonce)
				n->req = false;
			continue;
		}
		e = ent_find(db, &a[i].key);
		if (!e || !(p = pend_find(e, n)))
			continue;
		/* An ack names the version it acknowledges: one for another
		 * seqno does not cover the current one (the receiver acks the
		 * seqno it got; seqnos of a restarted origin can go back). */
		c = gem_seqno_cmp(a[i].seqno, e->rec.seqno);
		if (c == 0)
			pend_del(p);
	}
}

/*
 * Queue every record for n.  Those already on their way keep their version
 * but are due within one initial timeout, so a neighbour that restarted
 * (and asks) is not left waiting for a long backoff, while the push of
 * gem_db_neigh_up and the answer to n's Request crossing it are not sent
 * twice.
 */
static void queue_table(struct gem_db *db, struct neigh *n, uint64_t now)
{
	size_t i;

	for (i = 0; i < db->nbuckets; i++) {
		struct ent *e;

		for (e = db->tab[i]; e; e = e->hnext) {
			struct pend *p = pend_find(e, n);

			if (!p || !p->tries) {
				pend_now(db, e, n, now);
				continue;
			}
			if (p->due > now + db->p.rto_ms)
				p->due = now + db->p.rto_ms;
			p->rto = db->p.rto_ms;
			p->tries = 1;
		}
	}
}

static void handle_request(struct gem_db *db, struct neigh *n, const struct gem_tlv *t,
			   uint64_t now)
{
	struct gem_rec_key k = { .type = GEM_TLV_REQUEST };
	uint32_t nonce;

	if (gem_tlv_request_decode(t, &nonce)) {
		reject(db, n, NULL, GEM_DB_R_MALFORMED);
		return;
	}
	db->st.rx_requests++;
	queue_ack(n, &k, nonce);
	/* A Request repeated because our ack was lost needs no second dump:
	 * the first is being delivered reliably.  A restarted neighbour
	 * uses another nonce. */
	if (n->served && n->served_nonce == nonce)
		return;
	n->served = true;
	n->served_nonce = nonce;
	queue_table(db, n, now);
}

int gem_db_input(struct gem_db *db, uint32_t nh, const void *buf, size_t len,
		 uint64_t now)
{
	struct neigh *n = neigh_find(db, nh);
	struct gem_tlv_iter it;
	struct gem_tlv t;
	int err;

	if (!n) {
		db->st.rx_not_neighbour++;
		err = -ENOTCONN;
		goto out;
	}
	db->st.rx_packets++;
	err = gem_tlv_pkt_parse(buf, len, &it);
	if (err) {
		db->st.rx_bad_packets++;
		goto out;
	}
	while ((err = gem_tlv_next(&it, &t)) > 0) {
		switch (t.type) {
		case GEM_TLV_PUBKEY:
		case GEM_TLV_SEK:
			handle_rec(db, n, &t, now);
			break;
		case GEM_TLV_ACK:
			handle_ack(db, n, &t);
			break;
		case GEM_TLV_REQUEST:
			handle_request(db, n, &t, now);
			break;
		default:
			db->st.rx_unknown_tlvs++;
			break;
		}
	}
	if (err < 0)
		db->st.rx_truncated++;
	flush_all(db, now);
	err = 0;
out:
	return err;
}

/* ---- own records -------------------------------------------------------------------------- */

int gem_db_originate(struct gem_db *db, const struct gem_rec *rec, uint64_t now)
{
	struct gem_rec r = *rec;
	enum gem_db_reason why;
	struct gem_rec_key k;
	struct ent *e;
	bool created = false;
	int err;

	if (!gem_tlv_is_rec(r.type) || r.lifetime == 0 || r.lifetime > GEM_REC_LIFETIME_MAX) {
		err = -EINVAL;
		goto out;
	}
	memcpy(r.origin, db->self, GEM_TLV_ID_LEN);
	r.flags = 0;
	gem_rec_key_of(&r, &k);
	e = ent_find(db, &k);
	if (e && e->own && gem_rec_same_content(&e->rec, &r)) {
		err = 0;
		goto out;
	}
	if (r.lifetime > db->p.max_lifetime) {
		err = -EINVAL;
		goto out;
	}
	why = binding_check(db, &r, e, true);
	if (why != GEM_DB_R__MAX) {
		err = why == GEM_DB_R_KEY_CONFLICT ? -EKEYREJECTED :
		      why == GEM_DB_R_ADDR_CONFLICT ? -EADDRINUSE : -EBUSY;
		goto out;
	}
	r.seqno = e ? e->rec.seqno + 1 : 1;
	if (!e) {
		if (db->count >= db->p.max_records) {
			err = -ENOSPC;
			goto out;
		}
		e = ent_add(db, &k);
		if (!e) {
			err = -ENOMEM;
			goto out;
		}
		created = true;
	}
	err = own_install(db, e, &r, created ? 0 : e->rec.time_ms, now);
	if (err) {
		if (created)
			ent_del(db, e);
		goto out;
	}
	db->st.own_originated++;
out:
	return err;
}

int gem_db_withdraw(struct gem_db *db, const struct gem_rec_key *key, uint64_t now)
{
	struct ent *e = ent_find(db, key);
	struct gem_rec r;
	int err;

	if (!e || e->tomb) {
		err = -ENOENT;
		goto out;
	}
	if (!is_self(db, e->rec.origin)) {
		err = -EPERM;
		goto out;
	}
	if (e->own && withdrawn(&e->rec)) {
		err = 0;
		goto out;
	}
	/* Kept for the lifetime of the withdrawn version: no copy of an older
	 * version anywhere outlives it. */
	r = e->rec;
	r.flags |= GEM_REC_F_WITHDRAWN;
	r.seqno++;
	if (r.type == GEM_TLV_SEK)	/* a retraction carries no key */
		memset(r.sek.wrapped, 0, sizeof(r.sek.wrapped));
	err = own_install(db, e, &r, e->rec.time_ms, now);
	if (err)
		goto out;
	db->st.own_originated++;
out:
	return err;
}

/* ---- time ---------------------------------------------------------------------------------- */

int gem_db_tick(struct gem_db *db, uint64_t now)
{
	uint64_t w = wall(db);
	size_t i;

	for (i = 0; i < db->nbuckets; i++) {
		struct ent *e, *next;

		for (e = db->tab[i]; e; e = next) {
			next = e->hnext;
			if (e->own && !withdrawn(&e->rec)) {
				struct gem_rec r = e->rec;

				if (now < e->refresh)
					continue;
				r.seqno++;
				if (own_install(db, e, &r, e->rec.time_ms, now) == 0)
					db->st.own_refreshed++;
				else
					e->refresh = now + db->p.rto_ms;	/* retry */
				continue;
			}
			if (e->tomb) {
				if (now < e->tomb_until)
					continue;
				if (w < e->tomb_wall) {		/* the wall clock went back */
					e->tomb_until = now + (e->tomb_wall - w);
					continue;
				}
				ent_del(db, e);
				db->st.tombstones_dropped++;
				continue;
			}
			/* whichever clock says so first: never live longer than
			 * the origin's expiry */
			if (now < e->expires && w < e->xwall)
				continue;
			ent_tomb(db, e, now, w);
			if (!withdrawn(&e->rec))
				notify(db, GEM_DB_EV_EXPIRED, &e->rec, NULL);
		}
	}
	flush_all(db, now);
	return 0;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t gem_db_next_timeout(const struct gem_db *db, uint64_t now)
{
	uint64_t t = GEM_DB_NEVER;
	struct neigh *n;
	size_t i;

	for (n = db->neighs; n; n = n->next) {
		struct pend *p;

		if (n->nacks)
			return now;
		if (n->req)
			t = min64(t, n->req_due);
		for (p = n->ph; p; p = p->nnext)
			t = min64(t, p->due);
	}
	for (i = 0; i < db->nbuckets; i++) {
		const struct ent *e;

		for (e = db->tab[i]; e; e = e->hnext)
			t = min64(t, e->tomb ? e->tomb_until :
				     e->own && !withdrawn(&e->rec) ? e->refresh : e->expires);
	}
	return t < now ? now : t;
}

/* ---- neighbours ------------------------------------------------------------------------------ */

int gem_db_neigh_up(struct gem_db *db, uint32_t nh, uint64_t now)
{
	struct neigh *n = neigh_find(db, nh);
	size_t i;

	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n)
			return -ENOMEM;
		n->nh = nh;
		n->next = db->neighs;
		db->neighs = n;
	}
	/* Nonces start from the clock, so a restarted store does not reuse
	 * the ones its previous life sent. */
	if (!db->nonce)
		db->nonce = (uint32_t)(now * 2654435761u) | 1;
	n->req = true;
	n->req_nonce = db->nonce++;
	n->req_due = now;
	n->req_rto = db->p.rto_ms;
	n->req_tries = 0;
	for (i = 0; i < db->nbuckets; i++) {
		struct ent *e;

		for (e = db->tab[i]; e; e = e->hnext)
			pend_now(db, e, n, now);
	}
	return 0;
}

int gem_db_neigh_down(struct gem_db *db, uint32_t nh)
{
	struct neigh **pp = &db->neighs, *n;

	while ((n = *pp) && n->nh != nh)
		pp = &n->next;
	if (!n)
		return -ENOENT;
	*pp = n->next;
	/* pend_del frees the pending send, never n: clang-analyzer cannot see that */
	while (n->ph)
		pend_del(n->ph);	/* NOLINT(clang-analyzer-unix.Malloc) */
	free(n->acks);
	free(n);
	return 0;
}

int gem_db_neigh_info(const struct gem_db *db, uint32_t nh, struct gem_db_neigh_info *ni)
{
	const struct neigh *n = neigh_find(db, nh);

	memset(ni, 0, sizeof(*ni));
	if (!n)
		return -ENOENT;
	ni->pending = n->npend;
	ni->acks = n->nacks;
	ni->request_pending = n->req;
	return 0;
}

/* ---- reading ------------------------------------------------------------------------------------ */

const struct gem_rec *gem_db_lookup(const struct gem_db *db, const struct gem_rec_key *key)
{
	const struct ent *e = ent_find(db, key);

	return e && !e->tomb ? &e->rec : NULL;
}

const struct gem_rec *gem_db_pubkey(const struct gem_db *db, const uint8_t node[GEM_TLV_ID_LEN])
{
	struct gem_rec_key k = { .type = GEM_TLV_PUBKEY };
	const struct gem_rec *r;

	memcpy(k.origin, node, GEM_TLV_ID_LEN);
	r = gem_db_lookup(db, &k);
	return r && !withdrawn(r) ? r : NULL;
}

int gem_db_walk(const struct gem_db *db, uint64_t now,
		int (*fn)(void *arg, const struct gem_db_entry *e), void *arg)
{
	uint64_t w = wall(db);
	size_t i;
	int ret;

	(void)now;	/* ages are from the origin time, on the wall clock */

	for (i = 0; i < db->nbuckets; i++) {
		const struct ent *e;

		for (e = db->tab[i]; e; e = e->hnext) {
			struct gem_db_entry x = {
				.rec = &e->rec,
				.age_ms = w > e->rec.time_ms ? w - e->rec.time_ms : 0,
				.expires = e->own && !withdrawn(&e->rec) ? e->refresh : e->expires,
				.own = e->own,
				.has_from = e->has_from,
				.from = e->from,
			};
			const struct pend *p;

			if (e->tomb)
				continue;
			for (p = e->pend; p; p = p->rnext)
				x.pending++;
			ret = fn(arg, &x);
			if (ret)
				return ret;
		}
	}
	return 0;
}

size_t gem_db_count(const struct gem_db *db)
{
	return db->count - db->ntomb;
}

size_t gem_db_tombstones(const struct gem_db *db)
{
	return db->ntomb;
}

void gem_db_get_stats(const struct gem_db *db, struct gem_db_stats *st)
{
	*st = db->st;
}

/* ---- lifecycle ---------------------------------------------------------------------------------- */

int gem_db_new(struct gem_db **dbp, const uint8_t self[GEM_TLV_ID_LEN],
	       const struct gem_db_ops *ops, void *ctx, const struct gem_db_params *params)
{
	struct gem_db *db = NULL;
	int err;

	*dbp = NULL;
	if (!ops || !ops->send || !ops->verify || !ops->sign) {
		err = -EINVAL;
		goto out;
	}
	db = calloc(1, sizeof(*db));
	if (!db) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(db->self, self, GEM_TLV_ID_LEN);
	db->ops = *ops;
	db->ctx = ctx;
	if (params)
		db->p = *params;
	if (!db->p.mtu)
		db->p.mtu = DEF_MTU;
	if (!db->p.rto_ms)
		db->p.rto_ms = DEF_RTO;
	if (!db->p.rto_max_ms)
		db->p.rto_max_ms = DEF_RTO_MAX;
	if (!db->p.max_tries)
		db->p.max_tries = DEF_TRIES;
	if (!db->p.max_records)
		db->p.max_records = DEF_RECORDS;
	if (!db->p.max_skew_ms)
		db->p.max_skew_ms = DEF_SKEW;
	if (!db->p.max_lifetime)
		db->p.max_lifetime = DEF_MAX_LIFE;
	if (!db->p.max_per_origin)
		db->p.max_per_origin = DEF_PER_ORIGIN;
	if (db->p.mtu < MIN_MTU || db->p.mtu > GEM_TLV_HDR_LEN + GEM_TLV_BODY_MAX ||
	    db->p.rto_max_ms < db->p.rto_ms || db->p.max_lifetime > GEM_REC_LIFETIME_MAX) {
		err = -EINVAL;
		goto out;
	}
	db->nbuckets = 64;
	db->tab = calloc(db->nbuckets, sizeof(struct ent *));	/* NOLINT(bugprone-sizeof-expression) */
	db->pkt = malloc(db->p.mtu);
	if (!db->tab || !db->pkt) {
		err = -ENOMEM;
		goto out;
	}
	*dbp = db;
	db = NULL;
	err = 0;
out:
	gem_db_free(db);
	return err;
}

void gem_db_free(struct gem_db *db)
{
	size_t i;

	if (!db)
		return;
	while (db->neighs)
		gem_db_neigh_down(db, db->neighs->nh);
	/* ent_del unlinks and frees the entry, never the table */
	for (i = 0; db->tab && i < db->nbuckets; i++)
		while (db->tab[i])
			ent_del(db, db->tab[i]);	/* NOLINT(clang-analyzer-unix.Malloc) */
	free(db->tab);
	free(db->pkt);
	free(db);
}
