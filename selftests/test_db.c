// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * GEM control-plane propagation engine (gemd/db.c) in a simulated network.
 *
 * N nodes, each with its own store, joined by links that are queues with a
 * delay, jitter (so packets reorder), loss and duplication, all driven by a
 * fake clock and a seeded PRNG, so every run is the same.  Crypto is a toy:
 * a node's "signature" is a keyed hash under its public key, the HMAC one
 * under a hash of the group; verify checks them exactly like gemd will check
 * the real ones (Public Key: node id and self-signature; SEK Announce: the
 * origin's Public Key must be known, then signature, then HMAC and "unwrap"
 * on GAK holders only).  The toy node id is the first 8 bytes of the key,
 * so a key conflict can be built on purpose.
 *
 * Besides the scenario's own checks, every node keeps an application view
 * fed only by on_change; it must always agree with the store (each key NEW
 * once while live, UPDATED/WITHDRAWN/EXPIRED only when live), which catches
 * lost or doubled events.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "gemd/db.h"
#include "tlv_pad.h"

#define MAXN		12
#define EXT		100	/* handles >= EXT: scripted neighbours, captured */
#define L_S		60	/* default record lifetime, seconds */
#define L_LONG		3600	/* no refresh during the test */
#define LOSSY_MAX	120000	/* ms: convergence bound under heavy loss */
#define MAXVIEW		256
#define WALL0		1764720000000ull	/* wall clock at s->now == 0: 2025-12-03 */

struct view {
	struct gem_rec_key key;
	bool live;
	uint32_t seqno;
};

struct sim;

struct node {
	struct sim *s;
	int i;
	struct gem_db *db;
	uint8_t pk[32];
	bool gak;
	bool alive;
	bool sign_fail;
	int64_t skew_ms;	/* this node's wall clock minus the true time */
	unsigned int ev[5];
	unsigned int rej[GEM_DB_R__MAX];
	struct view view[MAXVIEW];
	int nview;
};

struct qpkt {
	struct qpkt *next;
	uint64_t at;
	int from, to;
	size_t len;
	uint8_t data[];
};

struct cap {
	uint32_t nh;
	size_t len;
	uint8_t data[1500];
};

struct sim {
	int n;
	struct node nd[MAXN];
	bool link[MAXN][MAXN];
	uint64_t now;
	uint64_t rng;
	unsigned int loss_pct, dup_pct, delay_ms, jitter_ms;
	struct qpkt *q;
	struct gem_db_params params;
	bool (*drop)(struct sim *s, int from, int to, const uint8_t *buf, size_t len);
	void (*hook)(struct sim *s, int from, int to, const uint8_t *buf, size_t len);
	unsigned long tx[MAXN][MAXN];
	struct cap cap[64];
	int ncap;
	void *arg;
};

/* ---- PRNG and toy crypto ------------------------------------------------------------ */

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd(struct sim *s)
{
	return mix(s->rng += 0x9e3779b97f4a7c15ull);
}

static void toy_mac(const uint8_t *key, size_t klen, const uint8_t *m, size_t n,
		    uint8_t *out, size_t olen)
{
	uint64_t h = 0x70795f6d6163ull;
	size_t i;

	for (i = 0; i < klen; i++)
		h = mix(h ^ key[i]);
	h = mix(h ^ 0xff);
	for (i = 0; i < n; i++)
		h = mix(h ^ m[i]);
	for (i = 0; i < olen; i++) {
		if (i % 8 == 0)
			h = mix(h + i);
		out[i] = (uint8_t)(h >> (8 * (i % 8)));
	}
}

static void toy_sign(const uint8_t pk[32], struct gem_rec *r)
{
	uint8_t in[GEM_TLV_AUTH_INPUT_MAX];
	int n = gem_tlv_sig_input(r, in, sizeof(in));

	cr_assert_gt(n, 0);
	toy_mac(pk, 32, in, (size_t)n, r->sig, 64);
}

static bool toy_sig_ok(const uint8_t pk[32], const struct gem_rec *r)
{
	struct gem_rec c = *r;

	toy_sign(pk, &c);
	return !memcmp(c.sig, r->sig, 64);
}

static void toy_gak_hmac(const struct gem_rec *r, uint8_t mac[32])
{
	uint8_t gk[32], in[GEM_TLV_AUTH_INPUT_MAX], g[20];
	int n;

	memcpy(g, r->sek.grp, 16);
	memcpy(g + 16, &r->sek.epoch, 4);
	toy_mac((const uint8_t *)"gak", 3, g, sizeof(g), gk, 32);
	n = gem_tlv_hmac_input(r, in, sizeof(in));
	cr_assert_gt(n, 0);
	toy_mac(gk, 32, in, (size_t)n, mac, 32);
}

/* ---- callbacks -------------------------------------------------------------------------- */

static void enqueue(struct sim *s, int from, int to, const void *buf, size_t len)
{
	struct qpkt *p = malloc(sizeof(*p) + len), **pp;

	cr_assert_not_null(p);
	p->at = s->now + s->delay_ms + (s->jitter_ms ? rnd(s) % (s->jitter_ms + 1) : 0);
	p->from = from;
	p->to = to;
	p->len = len;
	memcpy(p->data, buf, len);
	for (pp = &s->q; *pp && (*pp)->at <= p->at; pp = &(*pp)->next)
		;
	p->next = *pp;
	*pp = p;
}

static int sim_send(void *ctx, uint32_t nh, const void *buf, size_t len)
{
	struct node *nd = ctx;
	struct sim *s = nd->s;
	int to = (int)nh;

	cr_assert_leq(len, s->params.mtu ? s->params.mtu : 1200);
	if (nh >= EXT) {
		if (s->ncap < 64) {
			s->cap[s->ncap].nh = nh;
			s->cap[s->ncap].len = len;
			memcpy(s->cap[s->ncap].data, buf, len);
			s->ncap++;
		}
		return 0;
	}
	cr_assert_lt(to, s->n);
	cr_assert_neq(to, nd->i);
	s->tx[nd->i][to]++;
	if (s->hook)
		s->hook(s, nd->i, to, buf, len);
	if (!s->link[nd->i][to])
		return 0;
	if (s->drop && s->drop(s, nd->i, to, buf, len))
		return 0;
	if (rnd(s) % 100 < s->loss_pct)
		return 0;
	enqueue(s, nd->i, to, buf, len);
	if (rnd(s) % 100 < s->dup_pct)
		enqueue(s, nd->i, to, buf, len);
	return 0;
}

static int sim_verify(void *ctx, uint32_t nh, const struct gem_rec *r)
{
	struct node *nd = ctx;
	const struct gem_rec *pkr;
	uint8_t mac[32];

	(void)nh;
	if (r->type == GEM_TLV_PUBKEY) {
		if (memcmp(r->origin, r->pk.key, 8))	/* toy node id */
			return GEM_DB_REJECT(GEM_DB_R_BAD_NODE_ID);
		if (!toy_sig_ok(r->pk.key, r))
			return GEM_DB_REJECT(GEM_DB_R_BAD_SIG);
		return 0;
	}
	pkr = gem_db_pubkey(nd->db, r->origin);
	if (!pkr)
		return -EAGAIN;
	if (!toy_sig_ok(pkr->pk.key, r))
		return GEM_DB_REJECT(GEM_DB_R_BAD_SIG);
	if (r->sek.suite == 99)
		return GEM_DB_REJECT(GEM_DB_R__MAX + 7);	/* unknown reason: policy */
	if (r->sek.suite == 98)
		return -EIO;					/* "HSM trouble" */
	if (!nd->gak)
		return 0;	/* a relay without the GAK: signature only */
	toy_gak_hmac(r, mac);
	if (memcmp(mac, r->sek.hmac, 32))
		return GEM_DB_REJECT(GEM_DB_R_BAD_HMAC);
	if (!(r->flags & GEM_REC_F_WITHDRAWN) && r->sek.wrapped[0] == 0xba)
		return GEM_DB_REJECT(GEM_DB_R_UNWRAP);
	return GEM_DB_VERIFIED_GROUP;
}

/* Node i's wall clock: the simulated time, off by its skew. */
static uint64_t wall_of(const struct sim *s, int i)
{
	return (uint64_t)((int64_t)(WALL0 + s->now) + s->nd[i].skew_ms);
}

static uint64_t sim_clock(void *ctx)
{
	struct node *nd = ctx;

	return wall_of(nd->s, nd->i);
}

static int sim_sign(void *ctx, struct gem_rec *r)
{
	struct node *nd = ctx;

	if (nd->sign_fail)
		return -EIO;
	cr_assert_arr_eq(r->origin, nd->pk, 8, "engine signs own records only");
	if (r->type == GEM_TLV_SEK)
		toy_gak_hmac(r, r->sek.hmac);
	toy_sign(nd->pk, r);
	return 0;
}

static struct view *view_find(struct node *nd, const struct gem_rec_key *k, bool add)
{
	int i;

	for (i = 0; i < nd->nview; i++)
		if (gem_rec_key_eq(&nd->view[i].key, k))
			return &nd->view[i];
	if (!add)
		return NULL;
	cr_assert_lt(nd->nview, MAXVIEW);
	memset(&nd->view[nd->nview], 0, sizeof(nd->view[0]));
	nd->view[nd->nview].key = *k;
	return &nd->view[nd->nview++];
}

static void sim_change(void *ctx, enum gem_db_event ev, const struct gem_rec *r,
		       const struct gem_rec *old)
{
	struct node *nd = ctx;
	struct gem_rec_key k;
	struct view *v;

	cr_assert(memcmp(r->origin, nd->pk, 8), "no events for own records");
	cr_assert_str_neq(gem_db_event_name(ev), "unknown");
	gem_rec_key_of(r, &k);
	v = view_find(nd, &k, true);
	if (getenv("SIMDBG"))
		fprintf(stderr, "t=%llu node %d ev %s origin %02x type %u seq %u live %d\n",
			(unsigned long long)nd->s->now, nd->i, gem_db_event_name(ev), r->origin[0],
			r->type, r->seqno, v->live);
	nd->ev[ev]++;
	switch (ev) {
	case GEM_DB_EV_NEW:
		cr_assert_not(v->live, "node %d: NEW for a live key", nd->i);
		cr_assert_null(old);
		cr_assert_not(r->flags & GEM_REC_F_WITHDRAWN);
		v->live = true;
		break;
	case GEM_DB_EV_UPDATED:
		cr_assert(v->live, "node %d: UPDATED for a dead key", nd->i);
		cr_assert_not_null(old);
		/* newer: by origin time, then seqno (10.3) */
		cr_assert(r->time_ms > old->time_ms ||
			  (r->time_ms == old->time_ms && gem_seqno_cmp(r->seqno, old->seqno) >= 0));
		break;
	case GEM_DB_EV_WITHDRAWN:
		cr_assert(v->live);
		cr_assert_not_null(old);
		cr_assert(r->flags & GEM_REC_F_WITHDRAWN);
		v->live = false;
		break;
	case GEM_DB_EV_EXPIRED:
		cr_assert(v->live);
		cr_assert_null(old);
		v->live = false;
		break;
	}
	v->seqno = r->seqno;
}

static void sim_reject(void *ctx, uint32_t nh, const struct gem_rec *r, enum gem_db_reason why)
{
	struct node *nd = ctx;

	(void)nh;
	(void)r;
	cr_assert_lt(why, GEM_DB_R__MAX);
	cr_assert_str_neq(gem_db_reason_name(why), "unknown");
	nd->rej[why]++;
}

static const struct gem_db_ops sim_ops = {
	.send = sim_send,
	.verify = sim_verify,
	.sign = sim_sign,
	.on_change = sim_change,
	.on_reject = sim_reject,
	.clock = sim_clock,
};

/* ---- network -------------------------------------------------------------------------------- */

static void node_start(struct sim *s, int i)
{
	struct node *nd = &s->nd[i];

	nd->ev[1] = nd->ev[2] = nd->ev[3] = nd->ev[4] = 0;
	nd->nview = 0;
	memset(nd->rej, 0, sizeof(nd->rej));
	cr_assert_eq(gem_db_new(&nd->db, nd->pk, &sim_ops, nd, &s->params), 0);
	nd->alive = true;
}

static void sim_init(struct sim *s, int n, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
	s->rng = seed;
	s->delay_ms = 5;
	s->now = 1000000;	/* not zero: catch 0-based time assumptions */
	for (int i = 0; i < n; i++) {
		struct node *nd = &s->nd[i];
		uint64_t x = 0xa5a5 + (uint64_t)i * 7919;

		nd->s = s;
		nd->i = i;
		nd->gak = true;
		for (int j = 0; j < 32; j++)
			nd->pk[j] = (uint8_t)mix(x + (uint64_t)j);
	}
}

static void sim_start(struct sim *s)
{
	for (int i = 0; i < s->n; i++)
		node_start(s, i);
}

static void sim_fini(struct sim *s)
{
	while (s->q) {
		struct qpkt *p = s->q;

		s->q = p->next;
		free(p);
	}
	for (int i = 0; i < s->n; i++)
		gem_db_free(s->nd[i].db);
}

static void link_up(struct sim *s, int a, int b)
{
	s->link[a][b] = s->link[b][a] = true;
	if (s->nd[a].alive)
		cr_assert_eq(gem_db_neigh_up(s->nd[a].db, (uint32_t)b, s->now), 0);
	if (s->nd[b].alive)
		cr_assert_eq(gem_db_neigh_up(s->nd[b].db, (uint32_t)a, s->now), 0);
}

static void link_down(struct sim *s, int a, int b)
{
	s->link[a][b] = s->link[b][a] = false;
	if (s->nd[a].alive)
		gem_db_neigh_down(s->nd[a].db, (uint32_t)b);
	if (s->nd[b].alive)
		gem_db_neigh_down(s->nd[b].db, (uint32_t)a);
}

static void line(struct sim *s)
{
	for (int i = 0; i + 1 < s->n; i++)
		link_up(s, i, i + 1);
}

static void ring(struct sim *s)
{
	line(s);
	link_up(s, s->n - 1, 0);
}

/* Kill a node; its neighbours notice (babeld) only if told. */
static void node_kill(struct sim *s, int i, bool neighbours_notice)
{
	for (int j = 0; j < s->n; j++) {
		if (!s->link[i][j])
			continue;
		if (neighbours_notice) {
			link_down(s, i, j);
		}
	}
	gem_db_free(s->nd[i].db);
	s->nd[i].db = NULL;
	s->nd[i].alive = false;
}

/* Restart empty: the node learns its neighbours again from babeld. */
static void node_restart(struct sim *s, int i, bool neighbours_notice)
{
	if (s->nd[i].alive)
		node_kill(s, i, false);
	node_start(s, i);
	for (int j = 0; j < s->n; j++) {
		if (!s->link[i][j])
			continue;
		if (neighbours_notice)
			link_up(s, i, j);
		else
			cr_assert_eq(gem_db_neigh_up(s->nd[i].db, (uint32_t)j, s->now), 0);
	}
}

static void deliver(struct sim *s, struct qpkt *p)
{
	struct node *to = &s->nd[p->to];

	if (to->alive && s->link[p->from][p->to])
		gem_db_input(to->db, (uint32_t)p->from, p->data, p->len, s->now);
	free(p);
}

/* Advance the clock to s->now + ms, running every event on the way. */
static void run(struct sim *s, uint64_t ms)
{
	uint64_t end = s->now + ms;
	unsigned long guard = 0;

	for (;;) {
		uint64_t t = s->q ? s->q->at : GEM_DB_NEVER;
		int i;

		for (i = 0; i < s->n; i++)
			if (s->nd[i].alive) {
				uint64_t x = gem_db_next_timeout(s->nd[i].db, s->now);

				cr_assert_geq(x, s->now);
				if (x < t)
					t = x;
			}
		if (t > end)
			break;
		s->now = t;
		while (s->q && s->q->at <= s->now) {
			struct qpkt *p = s->q;

			s->q = p->next;
			deliver(s, p);
		}
		for (i = 0; i < s->n; i++)
			if (s->nd[i].alive && gem_db_next_timeout(s->nd[i].db, s->now) <= s->now)
				gem_db_tick(s->nd[i].db, s->now);
		cr_assert_lt(++guard, 5000000, "simulation does not settle");
	}
	s->now = end;
}

/* ---- records ----------------------------------------------------------------------------- */

static void addr4(uint8_t a[16], uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3)
{
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	a[12] = b0;
	a[13] = b1;
	a[14] = b2;
	a[15] = b3;
}

static struct gem_rec pk_rec(struct sim *s, int i, uint32_t lifetime)
{
	struct gem_rec r = { .type = GEM_TLV_PUBKEY, .lifetime = lifetime };

	addr4(r.pk.addr, 10, 0, 0, (uint8_t)(i + 1));
	memcpy(r.pk.key, s->nd[i].pk, 32);
	return r;
}

static struct gem_rec sek_rec(int i, int grp, uint16_t key_id, uint8_t fill, uint32_t lifetime)
{
	struct gem_rec r = { .type = GEM_TLV_SEK, .lifetime = lifetime };

	r.sek.suite = 1;
	addr4(r.sek.src, 192, 168, (uint8_t)i, 10);
	addr4(r.sek.grp, 239, 1, 1, (uint8_t)grp);
	r.sek.key_id = key_id;
	r.sek.epoch = 7;
	memset(r.sek.wrapped, fill, sizeof(r.sek.wrapped));
	return r;
}

static void originate(struct sim *s, int i, const struct gem_rec *r)
{
	cr_assert_eq(gem_db_originate(s->nd[i].db, r, s->now), 0, "node %d", i);
}

/* Public Key and SEK Announces (groups 1..nsek) of node i. */
static void announce(struct sim *s, int i, int nsek, uint32_t lifetime)
{
	struct gem_rec r = pk_rec(s, i, lifetime);

	originate(s, i, &r);
	for (int g = 1; g <= nsek; g++) {
		r = sek_rec(i, g, 1, (uint8_t)(0x10 * i + g), lifetime);
		originate(s, i, &r);
	}
}

/* ---- observing ------------------------------------------------------------------------------ */

struct snap_ent {
	struct gem_rec_key key;
	uint32_t seqno;
	uint8_t flags;
	bool own;
	uint8_t sig[8];		/* the version's content, in short */
};

struct snap {
	struct snap_ent e[512];
	int n;
};

static int snap_fn(void *arg, const struct gem_db_entry *e)
{
	struct snap *sn = arg;

	cr_assert_lt(sn->n, 512);
	gem_rec_key_of(e->rec, &sn->e[sn->n].key);
	sn->e[sn->n].seqno = e->rec->seqno;
	sn->e[sn->n].flags = e->rec->flags;
	sn->e[sn->n].own = e->own;
	memcpy(sn->e[sn->n].sig, e->rec->sig, 8);
	sn->n++;
	return 0;
}

static int snap_cmp(const void *a, const void *b)
{
	const struct snap_ent *x = a, *y = b;
	int c = memcmp(&x->key, &y->key, sizeof(x->key));

	if (c)
		return c;
	return x->seqno < y->seqno ? -1 : x->seqno > y->seqno;
}

static void snapshot(struct sim *s, int i, struct snap *sn)
{
	sn->n = 0;
	gem_db_walk(s->nd[i].db, s->now, snap_fn, sn);
	for (int k = 0; k < sn->n; k++) {
		struct gem_rec_key *key = &sn->e[k].key;
		/* normalise padding for memcmp */
		memset(key->subj + key->subj_len, 0, GEM_REC_SUBJ_MAX - key->subj_len);
	}
	qsort(sn->e, (size_t)sn->n, sizeof(sn->e[0]), snap_cmp);
	cr_assert_eq(gem_db_count(s->nd[i].db), (size_t)sn->n);
}

/* The application view (on_change) agrees with the store. */
static void check_view(struct sim *s, int i)
{
	struct node *nd = &s->nd[i];
	static struct snap sn;
	int live = 0, k;

	snapshot(s, i, &sn);
	for (k = 0; k < sn.n; k++) {
		struct view *v;

		if (!memcmp(sn.e[k].key.origin, nd->pk, 8))
			continue;
		v = view_find(nd, &sn.e[k].key, false);
		if (sn.e[k].flags & GEM_REC_F_WITHDRAWN) {
			cr_assert(!v || !v->live, "node %d: withdrawn but live in view", i);
			continue;
		}
		cr_assert_not_null(v, "node %d: record without NEW", i);
		cr_assert(v->live, "node %d: stored but not live in view", i);
		cr_assert_eq(v->seqno, sn.e[k].seqno, "node %d: view seqno", i);
		live++;
	}
	for (k = 0; k < nd->nview; k++)
		live -= nd->view[k].live;
	cr_assert_eq(live, 0, "node %d: view has records the store lacks", i);
}

/* Every alive node in mask holds the same records (keys and versions). */
static bool converged(struct sim *s, unsigned int mask)
{
	static struct snap a, b;
	int first = -1;

	for (int i = 0; i < s->n; i++) {
		if (!(mask & 1u << i) || !s->nd[i].alive)
			continue;
		check_view(s, i);
		if (first < 0) {
			first = i;
			snapshot(s, i, &a);
			continue;
		}
		snapshot(s, i, &b);
		if (a.n != b.n)
			return false;
		for (int k = 0; k < a.n; k++)
			if (snap_cmp(&a.e[k], &b.e[k]) || a.e[k].flags != b.e[k].flags ||
			    memcmp(a.e[k].sig, b.e[k].sig, 8))
				return false;
	}
	return true;
}

#define ALL	0xffffu

/* Run until converged (checked every 100 ms); returns the time it took. */
static uint64_t run_converge(struct sim *s, unsigned int mask, uint64_t max_ms)
{
	uint64_t t0 = s->now;

	while (!converged(s, mask)) {
		cr_assert_lt(s->now - t0, max_ms, "no convergence within %llu ms",
			     (unsigned long long)max_ms);
		run(s, 100);
	}
	return s->now - t0;
}

static size_t count_of(struct sim *s, int i)
{
	return gem_db_count(s->nd[i].db);
}

static uint32_t seqno_at(struct sim *s, int at, const struct gem_rec *r, int origin)
{
	struct gem_rec_key k;
	struct gem_rec c = *r;
	const struct gem_rec *x;

	memcpy(c.origin, s->nd[origin].pk, 8);
	gem_rec_key_of(&c, &k);
	x = gem_db_lookup(s->nd[at].db, &k);
	cr_assert_not_null(x, "node %d lacks a record of %d", at, origin);
	return x->seqno;
}

static struct gem_db_stats stats(struct sim *s, int i)
{
	struct gem_db_stats st;

	gem_db_get_stats(s->nd[i].db, &st);
	return st;
}

/* All pending sends acked, everywhere. */
static void check_quiet(struct sim *s)
{
	for (int i = 0; i < s->n; i++) {
		if (!s->nd[i].alive)
			continue;
		for (int j = 0; j < s->n; j++) {
			struct gem_db_neigh_info ni;

			if (!s->link[i][j] || !s->nd[j].alive)
				continue;
			cr_assert_eq(gem_db_neigh_info(s->nd[i].db, (uint32_t)j, &ni), 0);
			cr_assert_eq(ni.pending, 0, "node %d still waits for %d", i, j);
			cr_assert_not(ni.request_pending);
			cr_assert_eq(ni.acks, 0);
		}
	}
}

TestSuite(db, .timeout = 20);

/* ---- convergence ------------------------------------------------------------------------- */

Test(db, two_nodes)
{
	struct sim s;
	struct gem_db_stats st;

	sim_init(&s, 2, 1);
	sim_start(&s);
	link_up(&s, 0, 1);
	announce(&s, 0, 2, L_S);
	run_converge(&s, ALL, 1000);
	cr_assert_eq(count_of(&s, 1), 3);
	cr_assert_eq(s.nd[1].ev[GEM_DB_EV_NEW], 3);
	run(&s, 5000);
	check_quiet(&s);
	st = stats(&s, 0);
	cr_assert_eq(st.tx_retransmits, 0, "no loss, no retransmission");
	cr_assert_eq(st.own_originated, 3);
	cr_assert_eq(stats(&s, 1).rx_new, 3);
	/* nothing left to do until the refresh at half the lifetime */
	cr_assert_geq(gem_db_next_timeout(s.nd[0].db, s.now), s.now + 20000);
	sim_fini(&s);
}

Test(db, line)
{
	struct sim s;

	sim_init(&s, 7, 2);
	sim_start(&s);
	line(&s);
	for (int i = 0; i < s.n; i++)
		announce(&s, i, 2, L_S);
	run_converge(&s, ALL, 2000);
	for (int i = 0; i < s.n; i++) {
		cr_assert_eq(count_of(&s, i), 3 * 7);
		cr_assert_eq(s.nd[i].ev[GEM_DB_EV_NEW], 3 * 6);
	}
	run(&s, 3000);
	check_quiet(&s);
	sim_fini(&s);
}

Test(db, ring_lossy)
{
	struct sim s;
	unsigned long retrans = 0, dups = 0;

	sim_init(&s, 8, 3);
	s.loss_pct = 30;
	s.dup_pct = 10;
	s.jitter_ms = 40;	/* reordering */
	sim_start(&s);
	ring(&s);
	for (int i = 0; i < s.n; i++)
		announce(&s, i, 2, L_LONG);
	run_converge(&s, ALL, LOSSY_MAX);
	/* once the loss stops, every pending send is acked within the
	 * backoff cap */
	s.loss_pct = s.dup_pct = s.jitter_ms = 0;
	run(&s, 40050);
	check_quiet(&s);
	for (int i = 0; i < s.n; i++) {
		cr_assert_eq(count_of(&s, i), 3 * 8);
		cr_assert_eq(s.nd[i].ev[GEM_DB_EV_NEW], 3 * 7, "node %d: one NEW per key", i);
		cr_assert_eq(s.nd[i].ev[GEM_DB_EV_UPDATED], 0);
		retrans += stats(&s, i).tx_retransmits;
		dups += stats(&s, i).rx_duplicates;
	}
	cr_assert_gt(retrans, 0);
	cr_assert_gt(dups, 0);
	sim_fini(&s);
}

/* A grid with loss, updates of SEKs while flooding is under way. */
Test(db, grid_lossy_updates)
{
	struct sim s;

	sim_init(&s, 9, 4);
	s.loss_pct = 30;
	s.jitter_ms = 30;
	sim_start(&s);
	for (int r = 0; r < 3; r++)
		for (int c = 0; c < 3; c++) {
			if (c < 2)
				link_up(&s, 3 * r + c, 3 * r + c + 1);
			if (r < 2)
				link_up(&s, 3 * r + c, 3 * r + c + 3);
		}
	for (int i = 0; i < s.n; i++)
		announce(&s, i, 1, L_LONG);
	for (int k = 0; k < 5; k++) {
		run(&s, 150);
		for (int i = 0; i < s.n; i += 2) {
			struct gem_rec r = sek_rec(i, 1, 1, (uint8_t)(0x80 + k), L_LONG);

			originate(&s, i, &r);	/* new content: new seqno */
		}
	}
	run_converge(&s, ALL, LOSSY_MAX);
	for (int i = 0; i < s.n; i++) {
		struct gem_rec r = sek_rec(0, 1, 1, 0, L_LONG);

		cr_assert_eq(seqno_at(&s, i, &r, 0), 6, "node %d has the newest version", i);
		cr_assert_eq(count_of(&s, i), 18);
	}
	sim_fini(&s);
}

Test(db, partition_heals)
{
	struct sim s;
	struct gem_rec r;

	sim_init(&s, 6, 5);
	s.loss_pct = 10;
	sim_start(&s);
	line(&s);
	for (int i = 0; i < s.n; i++)
		announce(&s, i, 1, L_LONG);
	run_converge(&s, ALL, LOSSY_MAX);

	link_down(&s, 2, 3);
	/* each side changes things the other does not see */
	r = sek_rec(0, 1, 1, 0x55, L_LONG);
	originate(&s, 0, &r);
	r = sek_rec(5, 2, 1, 0x66, L_LONG);
	originate(&s, 5, &r);
	r = sek_rec(5, 1, 2, 0x67, L_LONG);	/* pre-announced next key */
	originate(&s, 5, &r);
	run_converge(&s, 0x07, LOSSY_MAX);
	run_converge(&s, 0x38, LOSSY_MAX);
	cr_assert_not(converged(&s, ALL));
	cr_assert_eq(count_of(&s, 0), 12);
	cr_assert_eq(count_of(&s, 5), 14);

	link_up(&s, 2, 3);
	run_converge(&s, ALL, LOSSY_MAX);
	for (int i = 0; i < s.n; i++) {
		cr_assert_eq(count_of(&s, i), 14);
		r = sek_rec(0, 1, 1, 0, L_LONG);
		cr_assert_eq(seqno_at(&s, i, &r, 0), 2);
		r = sek_rec(5, 1, 1, 0, L_LONG);
		cr_assert_eq(seqno_at(&s, i, &r, 5), 1, "key 2 did not replace key 1");
	}
	sim_fini(&s);
}

/* ---- restarts ----------------------------------------------------------------------------- */

static void restart_case(bool neighbours_notice, uint64_t seed)
{
	struct sim s;
	struct gem_rec pk, sek;
	uint32_t before;

	sim_init(&s, 5, seed);
	s.loss_pct = 20;
	sim_start(&s);
	line(&s);
	for (int i = 0; i < s.n; i++)
		announce(&s, i, 1, L_LONG);
	run_converge(&s, ALL, LOSSY_MAX);
	/* some history: node 2's SEK is at seqno 5 */
	for (int k = 0; k < 4; k++) {
		sek = sek_rec(2, 1, 1, (uint8_t)(0x40 + k), L_LONG);
		originate(&s, 2, &sek);
		run(&s, 200);
	}
	run_converge(&s, ALL, LOSSY_MAX);
	pk = pk_rec(&s, 2, L_LONG);
	sek = sek_rec(2, 1, 1, 0, L_LONG);
	before = seqno_at(&s, 0, &sek, 2);
	cr_assert_eq(before, 5);

	/* node 2 restarts empty and re-announces (its seqnos start at 1) */
	node_restart(&s, 2, neighbours_notice);
	sek = sek_rec(2, 1, 1, 0x99, L_LONG);
	originate(&s, 2, &pk);
	originate(&s, 2, &sek);
	run_converge(&s, ALL, LOSSY_MAX);

	cr_assert_eq(count_of(&s, 2), 10, "relearnt everything");
	/* the new version is newer by its origin time whatever its seqno
	 * (10.3); the origin jumps above its old seqno only if the old
	 * version reaches it (noticed: the neighbours push it first) */
	cr_assert_eq(seqno_at(&s, 4, &sek, 2), seqno_at(&s, 2, &sek, 2));
	if (neighbours_notice) {
		cr_assert_gt(seqno_at(&s, 2, &sek, 2), before, "own seqno recovered");
		cr_assert_geq(stats(&s, 2).own_seqno_jumps, 1);
	}
	for (int i = 0; i < s.n; i++) {
		const struct gem_rec *x;
		struct gem_rec_key k;

		sek.seqno = 0;
		memcpy(sek.origin, s.nd[2].pk, 8);
		gem_rec_key_of(&sek, &k);
		x = gem_db_lookup(s.nd[i].db, &k);
		cr_assert_eq(x->sek.wrapped[0], 0x99, "node %d has the new SEK", i);
	}
	sim_fini(&s);
}

Test(db, restart_unnoticed)
{
	restart_case(false, 6);
}

Test(db, restart_noticed)
{
	restart_case(true, 7);
}

/* A restarted origin makes a different version with a seqno the network
 * already has: the tie is broken the same way everywhere, and the origin
 * ends above it either way. */
Test(db, restart_same_seqno)
{
	for (int fill = 0; fill < 2; fill++) {
		struct sim s;
		struct gem_rec sek;

		sim_init(&s, 3, 8 + (uint64_t)fill);
		sim_start(&s);
		line(&s);
		announce(&s, 0, 0, L_S);
		sek = sek_rec(0, 1, 1, 0x80, L_S);
		originate(&s, 0, &sek);
		run_converge(&s, ALL, 2000);
		node_restart(&s, 0, false);
		announce(&s, 0, 0, L_S);
		sek = sek_rec(0, 1, 1, fill ? 0xff : 0x01, L_S);	/* seqno 1 again */
		originate(&s, 0, &sek);
		run_converge(&s, ALL, 10000);
		for (int i = 0; i < 3; i++) {
			struct gem_rec_key k;

			memcpy(sek.origin, s.nd[0].pk, 8);
			gem_rec_key_of(&sek, &k);
			cr_assert_eq(gem_db_lookup(s.nd[i].db, &k)->sek.wrapped[0],
				     fill ? 0xff : 0x01, "node %d, fill %d", i, fill);
		}
		sim_fini(&s);
	}
}

/* ---- lifetime ------------------------------------------------------------------------------ */

Test(db, expiry_when_origin_gone)
{
	struct sim s;
	uint64_t t_kill;

	sim_init(&s, 4, 9);
	sim_start(&s);
	line(&s);
	for (int i = 0; i < s.n; i++)
		announce(&s, i, 1, 20);
	run_converge(&s, ALL, 2000);
	run(&s, 7000);
	node_kill(&s, 3, true);
	t_kill = s.now;
	/* still there a little before the lifetime after its last refresh (at
	 * most 10 s ago), gone after it */
	run(&s, 9000);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(count_of(&s, i), 8, "node %d", i);
	run(&s, 12000);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(count_of(&s, i), 6, "node %d", i);
		cr_assert_eq(s.nd[i].ev[GEM_DB_EV_EXPIRED], 2);
		cr_assert_eq(stats(&s, i).expired, 2);
	}
	/* and it never comes back */
	run(&s, 60000);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(count_of(&s, i), 6);
		cr_assert_eq(s.nd[i].ev[GEM_DB_EV_NEW], 6);
	}
	cr_assert(converged(&s, 0x7));
	(void)t_kill;
	sim_fini(&s);
}

/* Copies age on the way, so a record relayed late expires with its origin's
 * clock, not later: a node that learns it at the end still drops it in time. */
Test(db, age_carried)
{
	struct sim s;

	sim_init(&s, 3, 10);
	sim_start(&s);
	link_up(&s, 0, 1);
	announce(&s, 0, 0, 30);
	run_converge(&s, 0x3, 1000);
	run(&s, 10000);
	node_kill(&s, 0, true);
	run(&s, 4000);		/* record of 0 is ~14 s old, 16 s left */
	link_up(&s, 1, 2);	/* 2 learns it now */
	run(&s, 1000);
	cr_assert_eq(count_of(&s, 2), 1);
	run(&s, 16500);
	cr_assert_eq(count_of(&s, 1), 0);
	cr_assert_eq(count_of(&s, 2), 0, "expired with the origin's age, not 30 s after");
	sim_fini(&s);
}

Test(db, refresh_keeps_alive)
{
	struct sim s;

	sim_init(&s, 3, 11);
	s.loss_pct = 10;
	sim_start(&s);
	line(&s);
	for (int i = 0; i < s.n; i++)
		announce(&s, i, 1, 20);
	run_converge(&s, ALL, LOSSY_MAX);
	run(&s, 200000);
	run_converge(&s, ALL, LOSSY_MAX);
	for (int i = 0; i < s.n; i++) {
		struct gem_rec r = sek_rec(1, 1, 1, 0, 20);

		cr_assert_eq(count_of(&s, i), 6);
		cr_assert_eq(s.nd[i].ev[GEM_DB_EV_EXPIRED], 0, "node %d", i);
		cr_assert_geq(stats(&s, i).own_refreshed, 2 * 19);
		cr_assert_geq(seqno_at(&s, i, &r, 1), 19);
		cr_assert_geq(s.nd[i].ev[GEM_DB_EV_UPDATED], 4 * 18);
	}
	sim_fini(&s);
}

Test(db, withdraw)
{
	struct sim s;
	struct gem_rec sek, pk;
	struct gem_rec_key k;
	uint8_t old_pkt[1500];
	size_t old_len = 0;

	sim_init(&s, 3, 12);
	sim_start(&s);
	line(&s);
	announce(&s, 0, 0, 20);
	announce(&s, 1, 0, 20);
	sek = sek_rec(0, 1, 1, 0x11, 20);
	originate(&s, 0, &sek);
	run_converge(&s, ALL, 2000);
	{
		/* keep a copy of the live version for a replay later */
		struct gem_tlv_pkt b;
		const struct gem_rec *x;

		memcpy(sek.origin, s.nd[0].pk, 8);
		gem_rec_key_of(&sek, &k);
		x = gem_db_lookup(s.nd[1].db, &k);
		gem_tlv_pkt_init(&b, old_pkt, sizeof(old_pkt));
		gem_tlv_pkt_add_rec(&b, x);
		old_len = gem_tlv_pkt_finish(&b);
	}
	cr_assert_eq(gem_db_withdraw(s.nd[0].db, &k, s.now), 0);
	cr_assert_eq(gem_db_withdraw(s.nd[0].db, &k, s.now), 0, "idempotent");
	run_converge(&s, ALL, 2000);
	for (int i = 1; i < 3; i++) {
		cr_assert_eq(s.nd[i].ev[GEM_DB_EV_WITHDRAWN], 1);
		cr_assert(gem_db_lookup(s.nd[i].db, &k)->flags & GEM_REC_F_WITHDRAWN);
		for (int j = 0; j < 24; j++)
			cr_assert_eq(gem_db_lookup(s.nd[i].db, &k)->sek.wrapped[j], 0,
				     "a withdrawal carries no key");
		cr_assert_not_null(gem_db_pubkey(s.nd[i].db, s.nd[0].pk));
		cr_assert_eq(stats(&s, i).withdrawn, 1);
	}
	/* the old version replayed is older than the tombstone */
	cr_assert_eq(gem_db_neigh_up(s.nd[2].db, EXT, s.now), 0);
	cr_assert_eq(gem_db_input(s.nd[2].db, EXT, old_pkt, old_len, s.now), 0);
	cr_assert_eq(stats(&s, 2).rx_older, 1);
	gem_db_neigh_down(s.nd[2].db, EXT);
	/* tombstones go after their lifetime, silently */
	run(&s, 21000);
	for (int i = 0; i < 3; i++) {
		cr_assert_null(gem_db_lookup(s.nd[i].db, &k), "node %d", i);
		if (i)
			cr_assert_eq(s.nd[i].ev[GEM_DB_EV_EXPIRED], 0);
	}
	/* announced again: NEW again */
	originate(&s, 0, &sek);
	run_converge(&s, ALL, 2000);
	cr_assert_eq(s.nd[2].ev[GEM_DB_EV_NEW], 4);
	/* withdrawing what is not ours, or nothing */
	pk = pk_rec(&s, 1, 20);
	memcpy(pk.origin, s.nd[1].pk, 8);
	gem_rec_key_of(&pk, &k);
	cr_assert_eq(gem_db_withdraw(s.nd[0].db, &k, s.now), -EPERM);
	k.origin[0] ^= 1;
	cr_assert_eq(gem_db_withdraw(s.nd[0].db, &k, s.now), -ENOENT);
	sim_fini(&s);
}

/* ---- forwarding and retransmission ---------------------------------------------------------- */

struct from_check {
	struct gem_rec_key key;
	bool found, has_from;
	uint32_t from;
};

static int find_from(void *arg, const struct gem_db_entry *e)
{
	struct from_check *fc = arg;
	struct gem_rec_key k;

	gem_rec_key_of(e->rec, &k);
	if (!gem_rec_key_eq(&k, &fc->key))
		return 0;
	fc->found = true;
	fc->has_from = e->has_from;
	fc->from = e->from;
	return 1;
}

static unsigned long fwd_checked;

static void no_back_hook(struct sim *s, int from, int to, const uint8_t *buf, size_t len)
{
	struct gem_tlv_iter it;
	struct gem_tlv t;

	cr_assert_eq(gem_tlv_pkt_parse(buf, len, &it), 0);
	while (gem_tlv_next(&it, &t) > 0) {
		struct from_check fc = { .found = false };
		struct gem_rec r;

		if (gem_tlv_rec_decode(&t, &r))
			continue;
		gem_rec_key_of(&r, &fc.key);
		gem_db_walk(s->nd[from].db, s->now, find_from, &fc);
		cr_assert(fc.found);
		cr_assert_not(fc.has_from && fc.from == (uint32_t)to,
			      "node %d sent a record back to %d, where it came from", from, to);
		fwd_checked++;
	}
}

Test(db, never_forward_back)
{
	struct sim s;

	sim_init(&s, 6, 13);
	s.jitter_ms = 20;
	sim_start(&s);
	ring(&s);
	link_up(&s, 0, 3);	/* a chord: more paths */
	run(&s, 1000);		/* Requests answered while tables are empty */
	s.hook = no_back_hook;
	fwd_checked = 0;
	for (int i = 0; i < s.n; i++)
		announce(&s, i, 2, L_S);
	run_converge(&s, ALL, 3000);
	cr_assert_gt(fwd_checked, 6 * 3 * 2);
	sim_fini(&s);
}

static uint64_t rec_tx_times[64];
static int n_rec_tx;

static void time_hook(struct sim *s, int from, int to, const uint8_t *buf, size_t len)
{
	struct gem_tlv_iter it;
	struct gem_tlv t;

	(void)to;
	if (from != 0)
		return;
	gem_tlv_pkt_parse(buf, len, &it);
	while (gem_tlv_next(&it, &t) > 0)
		if (t.type == GEM_TLV_SEK && n_rec_tx < 64)
			rec_tx_times[n_rec_tx++] = s->now;
}

static uint64_t drop_until;

static bool drop_acks_early(struct sim *s, int from, int to, const uint8_t *buf, size_t len)
{
	(void)to, (void)buf, (void)len;
	return from == 1 && s->now < drop_until;
}

Test(db, retransmit_backoff_until_ack)
{
	struct sim s;
	struct gem_rec r;
	struct gem_db_neigh_info ni;
	uint64_t t0;

	sim_init(&s, 2, 14);
	sim_start(&s);
	link_up(&s, 0, 1);
	announce(&s, 0, 0, L_S);
	run(&s, 1000);
	s.hook = time_hook;
	s.drop = drop_acks_early;
	n_rec_tx = 0;
	t0 = s.now;
	drop_until = t0 + 7000;		/* every ack from 1 lost for 7 s */
	r = sek_rec(0, 1, 1, 0x21, L_S);
	originate(&s, 0, &r);
	run(&s, 20000);		/* before the refresh at 30 s */
	/* sent at 0, then 0.5, 1, 2, 4 s later: acked once the loss stops */
	cr_assert_eq(n_rec_tx, 5);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(rec_tx_times[i] - t0, 500 * ((1ull << i) - 1), "tx %d", i);
	cr_assert_eq(gem_db_neigh_info(s.nd[0].db, 1, &ni), 0);
	cr_assert_eq(ni.pending, 0);
	cr_assert_eq(stats(&s, 0).tx_retransmits, 4);
	cr_assert_eq(stats(&s, 1).rx_duplicates, 4);
	cr_assert_eq(s.nd[1].ev[GEM_DB_EV_NEW], 2, "once, not five times");
	sim_fini(&s);
}

Test(db, give_up_and_neigh_down)
{
	struct sim s;
	struct gem_db_neigh_info ni;
	struct gem_rec r;

	sim_init(&s, 3, 15);
	s.params.max_tries = 5;
	s.params.rto_max_ms = 2000;
	sim_start(&s);
	node_kill(&s, 1, false);
	/* 0 believes 1 is up, but 1 is dead: nothing is ever acked */
	s.link[0][1] = s.link[1][0] = true;
	cr_assert_eq(gem_db_neigh_up(s.nd[0].db, 1, s.now), 0);
	announce(&s, 0, 1, L_S);
	run(&s, 20000);		/* before the refresh at 30 s */
	cr_assert_eq(s.tx[0][1], 5, "%lu: 5 tries, records and Request in one packet, then give up",
		     s.tx[0][1]);
	cr_assert_eq(stats(&s, 0).tx_gave_up, 3, "2 records and the Request");
	cr_assert_eq(gem_db_neigh_info(s.nd[0].db, 1, &ni), 0);
	cr_assert_eq(ni.pending, 0);
	cr_assert_not(ni.request_pending);

	/* pending sends go with the neighbour */
	r = sek_rec(0, 2, 1, 0x22, L_S);
	originate(&s, 0, &r);
	cr_assert_eq(gem_db_neigh_info(s.nd[0].db, 1, &ni), 0);
	cr_assert_eq(ni.pending, 1);
	cr_assert_eq(gem_db_neigh_down(s.nd[0].db, 1), 0);
	cr_assert_eq(gem_db_neigh_down(s.nd[0].db, 1), -ENOENT);
	cr_assert_eq(gem_db_neigh_info(s.nd[0].db, 1, &ni), -ENOENT);
	s.tx[0][1] = 0;
	run(&s, 30000);
	cr_assert_eq(s.tx[0][1], 0);
	sim_fini(&s);
}

/* A neighbour whose gemd does not know us yet (babeld not there yet) drops
 * our packets; the Request is retransmitted until it is taken. */
Test(db, request_until_acked)
{
	struct sim s;

	sim_init(&s, 2, 16);
	sim_start(&s);
	announce(&s, 1, 1, L_S);
	s.link[0][1] = s.link[1][0] = true;
	cr_assert_eq(gem_db_neigh_up(s.nd[0].db, 1, s.now), 0);
	run(&s, 1200);
	cr_assert_geq(stats(&s, 1).rx_not_neighbour, 2);
	cr_assert_eq(count_of(&s, 0), 0);
	/* 1 now sees 0 but (say) does not push: the Request pulls its table */
	cr_assert_eq(gem_db_neigh_up(s.nd[1].db, 0, s.now), 0);
	run_converge(&s, ALL, 3000);
	cr_assert_eq(count_of(&s, 0), 2);
	run(&s, 3000);
	check_quiet(&s);
	sim_fini(&s);
}

/* Many records to a neighbour coming up: packets no larger than the MTU,
 * several TLVs in each, Public Keys first. */
static unsigned int pk_after_sek;
static unsigned long pkts_seen, tlvs_seen;

static void batch_hook(struct sim *s, int from, int to, const uint8_t *buf, size_t len)
{
	struct gem_tlv_iter it;
	struct gem_tlv t;
	bool sek_seen = false;

	(void)s, (void)to;
	if (from != 0)
		return;
	cr_assert_eq(gem_tlv_pkt_parse(buf, len, &it), 0);
	pkts_seen++;
	while (gem_tlv_next(&it, &t) > 0) {
		if (t.type == GEM_TLV_SEK)
			sek_seen = true;
		if (t.type == GEM_TLV_PUBKEY && sek_seen)
			pk_after_sek++;
		if (gem_tlv_is_rec(t.type))
			tlvs_seen++;
	}
}

Test(db, batching)
{
	size_t mtus[] = { 261, 1200 };

	for (int m = 0; m < 2; m++) {
		struct sim s;

		sim_init(&s, 12, 17);
		s.params.mtu = mtus[m];
		sim_start(&s);
		/* node 0 learns 11 nodes' records through node 1 */
		for (int i = 2; i < 12; i++)
			link_up(&s, 1, i);
		for (int i = 1; i < 12; i++)
			announce(&s, i, 3, L_S);
		run_converge(&s, 0xffe, 3000);
		s.hook = batch_hook;
		pk_after_sek = 0;
		pkts_seen = tlvs_seen = 0;
		link_up(&s, 0, 1);
		run_converge(&s, ALL, 3000);
		cr_assert_eq(count_of(&s, 0), 44);
		cr_assert_eq(pk_after_sek, 0);
		cr_assert_eq(tlvs_seen, 0, "node 0 has nothing to send");
		sim_fini(&s);
	}
	/* the other direction: node 0 dumps to 1 */
	for (int m = 0; m < 2; m++) {
		struct sim s;

		sim_init(&s, 12, 18);
		s.params.mtu = mtus[m];
		sim_start(&s);
		for (int i = 2; i < 12; i++)
			link_up(&s, 0, i);
		for (int i = 2; i < 12; i++)
			announce(&s, i, 3, L_S);
		run_converge(&s, 0xffd, 3000);
		s.hook = batch_hook;
		pk_after_sek = 0;
		pkts_seen = tlvs_seen = 0;
		link_up(&s, 0, 1);
		run(&s, 1);
		cr_assert_eq(tlvs_seen, 40);
		cr_assert_eq(pk_after_sek, 0, "Public Keys first");
		if (mtus[m] == 1200)
			cr_assert_leq(pkts_seen, 8, "%lu packets", pkts_seen);
		else
			cr_assert_eq(pkts_seen, 40, "one record per 261-byte packet");
		run_converge(&s, ALL, 3000);
		cr_assert_eq(count_of(&s, 1), 40);
		sim_fini(&s);
	}
}

Test(db, duplication_and_reordering)
{
	unsigned long dups = 0;
	struct sim s;

	sim_init(&s, 5, 19);
	s.dup_pct = 50;
	s.jitter_ms = 200;
	sim_start(&s);
	ring(&s);
	for (int i = 0; i < s.n; i++)
		announce(&s, i, 2, L_S);
	for (int k = 0; k < 3; k++) {
		struct gem_rec r = sek_rec(2, 1, 1, (uint8_t)k, L_S);

		run(&s, 30);
		originate(&s, 2, &r);
	}
	run_converge(&s, ALL, 5000);
	for (int i = 0; i < s.n; i++) {
		cr_assert_eq(s.nd[i].ev[GEM_DB_EV_NEW], 12);
		dups += stats(&s, i).rx_duplicates;
	}
	cr_assert_gt(dups, 0);
	sim_fini(&s);
}

/* ---- rejects and scripted input --------------------------------------------------------------- */

static size_t mkpkt(uint8_t *buf, size_t cap, const struct gem_rec *recs, int n)
{
	struct gem_tlv_pkt b;

	cr_assert_eq(gem_tlv_pkt_init(&b, buf, cap), 0);
	for (int i = 0; i < n; i++)
		cr_assert_eq(gem_tlv_pkt_add_rec(&b, &recs[i]), 0);
	return gem_tlv_pkt_finish(&b);
}

/* Acks node nd sent to EXT in the captures, for key/seqno. */
static int acked(struct sim *s, const struct gem_rec *r)
{
	struct gem_rec_key k;
	int found = 0;

	gem_rec_key_of(r, &k);
	for (int c = 0; c < s->ncap; c++) {
		struct gem_tlv_ack a[GEM_TLV_ACK_MAX];
		struct gem_tlv_iter it;
		struct gem_tlv t;

		cr_assert_eq(gem_tlv_pkt_parse(s->cap[c].data, s->cap[c].len, &it), 0);
		while (gem_tlv_next(&it, &t) > 0) {
			int n;

			if (t.type != GEM_TLV_ACK)
				continue;
			n = gem_tlv_ack_decode(&t, a, GEM_TLV_ACK_MAX);
			for (int i = 0; i < n; i++)
				if (gem_rec_key_eq(&a[i].key, &k) && a[i].seqno == r->seqno)
					found++;
		}
	}
	return found;
}

/* A record "from" node j, signed with its toy key (or someone else's). */
static struct gem_rec signed_by(struct sim *s, struct gem_rec r, int origin, const uint8_t *key)
{
	memcpy(r.origin, s->nd[origin].pk, 8);
	if (!r.seqno)
		r.seqno = 1;
	if (!r.time_ms)
		r.time_ms = wall_of(s, origin);
	if (r.type == GEM_TLV_SEK)
		toy_gak_hmac(&r, r.sek.hmac);
	toy_sign(key ? key : s->nd[origin].pk, &r);
	return r;
}

static void inject(struct sim *s, int at, const struct gem_rec *recs, int n)
{
	uint8_t buf[1500];
	size_t len = mkpkt(buf, sizeof(buf), recs, n);

	cr_assert_eq(gem_db_input(s->nd[at].db, EXT, buf, len, s->now), 0);
}

Test(db, reject_counters)
{
	struct gem_db_stats st;
	struct sim s;
	struct gem_rec r[4], good_pk;
	uint8_t other[32];
	uint64_t sum = 0;

	sim_init(&s, 4, 20);
	sim_start(&s);
	cr_assert_eq(gem_db_neigh_up(s.nd[0].db, EXT, s.now), 0);
	s.ncap = 0;

	/* bad signature */
	r[0] = signed_by(&s, pk_rec(&s, 1, L_S), 1, NULL);
	r[0].sig[3] ^= 1;
	inject(&s, 0, r, 1);
	cr_assert_eq(s.nd[0].rej[GEM_DB_R_BAD_SIG], 1);
	cr_assert_eq(acked(&s, &r[0]), 1, "a refused record is acked");

	/* node id not of the key */
	r[0] = pk_rec(&s, 1, L_S);
	r[0].pk.key[0] ^= 1;
	r[0] = signed_by(&s, r[0], 1, r[0].pk.key);
	inject(&s, 0, r, 1);
	cr_assert_eq(s.nd[0].rej[GEM_DB_R_BAD_NODE_ID], 1);

	/* SEK before its origin's Public Key: deferred, not acked */
	r[0] = signed_by(&s, sek_rec(1, 1, 1, 0x31, L_S), 1, NULL);
	s.ncap = 0;
	inject(&s, 0, r, 1);
	cr_assert_eq(stats(&s, 0).rx_deferred, 1);
	cr_assert_eq(acked(&s, &r[0]), 0);
	/* both in one packet, Public Key first: accepted */
	good_pk = signed_by(&s, pk_rec(&s, 1, L_S), 1, NULL);
	r[1] = r[0];
	r[0] = good_pk;
	inject(&s, 0, r, 2);
	cr_assert_eq(count_of(&s, 0), 2);
	cr_assert_eq(acked(&s, &r[1]), 1);
	cr_assert_eq(s.nd[0].ev[GEM_DB_EV_NEW], 2);

	/* bad HMAC (a GAK holder sees it) */
	r[0] = signed_by(&s, sek_rec(1, 2, 1, 0x32, L_S), 1, NULL);
	r[0].sek.hmac[0] ^= 1;
	toy_sign(s.nd[1].pk, &r[0]);
	inject(&s, 0, r, 1);
	cr_assert_eq(s.nd[0].rej[GEM_DB_R_BAD_HMAC], 1);

	/* does not unwrap */
	r[0] = signed_by(&s, sek_rec(1, 3, 1, 0xba, L_S), 1, NULL);
	inject(&s, 0, r, 1);
	cr_assert_eq(s.nd[0].rej[GEM_DB_R_UNWRAP], 1);

	/* a reason verify made up counts as policy; an -errno is not a reject */
	r[0] = sek_rec(1, 4, 1, 0x34, L_S);
	r[0].sek.suite = 99;
	r[0] = signed_by(&s, r[0], 1, NULL);
	inject(&s, 0, r, 1);
	cr_assert_eq(s.nd[0].rej[GEM_DB_R_POLICY], 1);
	r[0] = sek_rec(1, 4, 1, 0x34, L_S);
	r[0].sek.suite = 98;
	r[0] = signed_by(&s, r[0], 1, NULL);
	s.ncap = 0;
	inject(&s, 0, r, 1);
	cr_assert_eq(stats(&s, 0).rx_verify_errors, 1);
	cr_assert_eq(acked(&s, &r[0]), 0);

	/* another key with the same node id: first seen wins */
	memcpy(other, s.nd[1].pk, 32);
	other[20] ^= 0xff;
	r[0] = pk_rec(&s, 1, L_S);
	memcpy(r[0].pk.key, other, 32);
	r[0].seqno = 9;
	r[0] = signed_by(&s, r[0], 1, other);
	inject(&s, 0, r, 1);
	cr_assert_eq(s.nd[0].rej[GEM_DB_R_KEY_CONFLICT], 1);
	cr_assert_arr_eq(gem_db_pubkey(s.nd[0].db, s.nd[1].pk)->pk.key, s.nd[1].pk, 32);

	/* node 2 claims node 1's address */
	r[0] = pk_rec(&s, 2, L_S);
	addr4(r[0].pk.addr, 10, 0, 0, 2);	/* node 1's */
	r[0] = signed_by(&s, r[0], 2, NULL);
	inject(&s, 0, r, 1);
	cr_assert_eq(s.nd[0].rej[GEM_DB_R_ADDR_CONFLICT], 1);
	cr_assert_null(gem_db_pubkey(s.nd[0].db, s.nd[2].pk));
	/* with its own address it is welcome; then it may not move onto 1's */
	r[0] = signed_by(&s, pk_rec(&s, 2, L_S), 2, NULL);
	inject(&s, 0, r, 1);
	cr_assert_not_null(gem_db_pubkey(s.nd[0].db, s.nd[2].pk));
	r[0] = pk_rec(&s, 2, L_S);
	addr4(r[0].pk.addr, 10, 0, 0, 2);
	r[0].seqno = 2;
	r[0] = signed_by(&s, r[0], 2, NULL);
	inject(&s, 0, r, 1);
	cr_assert_eq(s.nd[0].rej[GEM_DB_R_ADDR_CONFLICT], 2);
	cr_assert_eq(gem_db_pubkey(s.nd[0].db, s.nd[2].pk)->pk.addr[15], 3, "kept its old one");
	/* but it may move to a free address */
	r[0] = pk_rec(&s, 2, L_S);
	addr4(r[0].pk.addr, 10, 0, 0, 77);
	r[0].seqno = 3;
	r[0] = signed_by(&s, r[0], 2, NULL);
	inject(&s, 0, r, 1);
	cr_assert_eq(gem_db_pubkey(s.nd[0].db, s.nd[2].pk)->pk.addr[15], 77);
	cr_assert_eq(s.nd[0].ev[GEM_DB_EV_UPDATED], 1);

	/* node 2 announces a SEK for node 1's stream */
	r[0] = sek_rec(1, 1, 2, 0x35, L_S);	/* 1's source, group 1 */
	r[0] = signed_by(&s, r[0], 2, NULL);
	inject(&s, 0, r, 1);
	cr_assert_eq(s.nd[0].rej[GEM_DB_R_STREAM_CONFLICT], 1);

	/* a Public Key TLV with a wrong length */
	{
		uint8_t buf[400];
		size_t len = mkpkt(buf, sizeof(buf), &good_pk, 1);

		buf[5] = 100;		/* TLV length */
		buf[2] = 0;
		buf[3] = 102;		/* body length */
		cr_assert_eq(gem_db_input(s.nd[0].db, EXT, buf, 106, s.now), 0);
		cr_assert_eq(s.nd[0].rej[GEM_DB_R_MALFORMED], 1);
		(void)len;
	}

	st = stats(&s, 0);
	cr_assert_eq(st.rej.bad_signature, 1);
	cr_assert_eq(st.rej.bad_node_id, 1);
	cr_assert_eq(st.rej.bad_hmac, 1);
	cr_assert_eq(st.rej.unwrap_failed, 1);
	cr_assert_eq(st.rej.policy, 1);
	cr_assert_eq(st.rej.key_conflict, 1);
	cr_assert_eq(st.rej.address_conflict, 2);
	cr_assert_eq(st.rej.stream_conflict, 1);
	cr_assert_eq(st.rej.malformed, 1);
	cr_assert_eq(st.rx_rejected, 10);
	for (int i = 0; i < GEM_DB_R__MAX; i++)
		sum += s.nd[0].rej[i];
	cr_assert_eq(sum, st.rx_rejected, "on_reject called for each");
	sim_fini(&s);
}

/* Suite 4's SEK Announce (docs/PROTOCOL.md 10.5: 200 bytes, a 40-byte
 * wrapped field) floods like the others; a length that is not its suite's
 * is malformed and counted; two versions that differ only in the suite
 * are ordered the same way at every node, whatever the arrival order. */
Test(db, suite4_sek_announce)
{
	struct gem_rec pk, r[2], v[2];
	uint8_t buf[400];
	struct sim s;
	size_t len;

	sim_init(&s, 4, 41);
	s.loss_pct = 10;
	sim_start(&s);
	line(&s);
	pk = pk_rec(&s, 0, L_LONG);
	originate(&s, 0, &pk);
	r[0] = sek_rec(0, 1, 1, 0x44, L_LONG);
	r[0].sek.suite = 4;
	r[0].sek.wrapped[39] = 0x77;
	originate(&s, 0, &r[0]);
	run_converge(&s, ALL, LOSSY_MAX);
	for (int i = 0; i < s.n; i++) {
		const struct gem_rec *x;
		struct gem_rec_key k;

		memcpy(r[0].origin, s.nd[0].pk, 8);
		gem_rec_key_of(&r[0], &k);
		x = gem_db_lookup(s.nd[i].db, &k);
		cr_assert_not_null(x, "node %d has the suite-4 announce", i);
		cr_assert_eq(x->sek.suite, 4);
		cr_assert_eq(x->sek.wrapped[0], 0x44);
		cr_assert_eq(x->sek.wrapped[39], 0x77, "node %d: all 40 wrapped bytes", i);
	}

	/* node 1 hears, from outside, node 2's announce in two versions that
	 * differ only in the suite (same origin time and seqno); node 3 hears
	 * them the other way round; both keep the same one */
	cr_assert_eq(gem_db_neigh_up(s.nd[1].db, EXT, s.now), 0);
	cr_assert_eq(gem_db_neigh_up(s.nd[3].db, EXT, s.now), 0);
	pk = signed_by(&s, pk_rec(&s, 2, L_LONG), 2, NULL);
	inject(&s, 1, &pk, 1);
	inject(&s, 3, &pk, 1);
	v[0] = sek_rec(2, 3, 9, 0x21, L_LONG);
	v[0].seqno = 5;
	v[0].time_ms = wall_of(&s, 2);
	v[1] = v[0];
	v[1].sek.suite = 4;
	v[0] = signed_by(&s, v[0], 2, NULL);
	v[1] = signed_by(&s, v[1], 2, NULL);
	inject(&s, 1, &v[0], 1);
	inject(&s, 1, &v[1], 1);
	inject(&s, 3, &v[1], 1);
	inject(&s, 3, &v[0], 1);
	{
		struct gem_rec_key k;

		gem_rec_key_of(&v[0], &k);
		cr_assert_not_null(gem_db_lookup(s.nd[1].db, &k));
		cr_assert_not_null(gem_db_lookup(s.nd[3].db, &k));
		/* the bodies differ first at the suite byte: 4 > 1 */
		cr_assert_eq(gem_db_lookup(s.nd[1].db, &k)->sek.suite, 4);
		cr_assert_eq(gem_db_lookup(s.nd[3].db, &k)->sek.suite, 4);
	}

	/* wrong lengths: suite 4 in 184 bytes, suite 1 in 200 */
	len = mkpkt(buf, sizeof(buf), &r[0], 1);
	cr_assert_eq(len, 4 + 2 + 200);
	cr_assert_eq(buf[5], 200);
	buf[5] = 184;
	buf[2] = 0;
	buf[3] = 186;
	cr_assert_eq(gem_db_input(s.nd[1].db, EXT, buf, 190, s.now), 0);
	cr_assert_eq(s.nd[1].rej[GEM_DB_R_MALFORMED], 1);
	v[0].seqno = 6;
	len = mkpkt(buf, sizeof(buf), &v[0], 1);
	cr_assert_eq(len, 4 + 2 + 184);
	memset(buf + len, 0, 16);
	buf[5] = 200;
	buf[2] = 0;
	buf[3] = 202;
	cr_assert_eq(gem_db_input(s.nd[1].db, EXT, buf, 206, s.now), 0);
	cr_assert_eq(s.nd[1].rej[GEM_DB_R_MALFORMED], 2);
	cr_assert_eq(stats(&s, 1).rej.malformed, 2);
	sim_fini(&s);
}

Test(db, table_full)
{
	struct sim s;
	struct gem_rec r[1];

	sim_init(&s, 4, 21);
	s.params.max_records = 3;
	sim_start(&s);
	announce(&s, 0, 1, L_S);
	cr_assert_eq(gem_db_neigh_up(s.nd[0].db, EXT, s.now), 0);
	r[0] = signed_by(&s, pk_rec(&s, 1, L_S), 1, NULL);
	inject(&s, 0, r, 1);
	cr_assert_eq(count_of(&s, 0), 3);
	r[0] = signed_by(&s, pk_rec(&s, 2, L_S), 2, NULL);
	inject(&s, 0, r, 1);
	cr_assert_eq(s.nd[0].rej[GEM_DB_R_TABLE_FULL], 1);
	cr_assert_eq(count_of(&s, 0), 3);
	/* a newer version of a stored key still fits */
	r[0] = signed_by(&s, pk_rec(&s, 1, L_S), 1, NULL);
	r[0].seqno = 2;
	r[0] = signed_by(&s, r[0], 1, NULL);
	inject(&s, 0, r, 1);
	cr_assert_eq(stats(&s, 0).rx_updated, 1);
	r[0] = sek_rec(0, 2, 1, 1, L_S);
	cr_assert_eq(gem_db_originate(s.nd[0].db, &r[0], s.now), -ENOSPC);
	sim_fini(&s);
}

/* A node without the GAK relays SEK Announces it cannot check; the GAK
 * holders behind it do the checking. */
Test(db, relay_without_gak)
{
	struct sim s;
	struct gem_rec r[1];

	sim_init(&s, 3, 22);
	s.nd[1].gak = false;
	sim_start(&s);
	line(&s);
	for (int i = 0; i < 3; i++)
		announce(&s, i, 1, L_S);
	run_converge(&s, ALL, 2000);
	cr_assert_eq(count_of(&s, 2), 6);

	/* a forged HMAC, validly signed (a member without the GAK made it) */
	cr_assert_eq(gem_db_neigh_up(s.nd[1].db, EXT, s.now), 0);
	r[0] = signed_by(&s, sek_rec(0, 5, 1, 0x44, L_S), 0, NULL);
	r[0].sek.hmac[31] ^= 0x80;
	toy_sign(s.nd[0].pk, &r[0]);
	inject(&s, 1, r, 1);
	run(&s, 2000);
	cr_assert_eq(count_of(&s, 1), 7, "the relay took it");
	cr_assert_eq(s.nd[1].rej[GEM_DB_R_BAD_HMAC], 0);
	cr_assert_eq(s.nd[2].rej[GEM_DB_R_BAD_HMAC], 1, "the member refused it");
	cr_assert_eq(s.nd[0].rej[GEM_DB_R_BAD_HMAC], 1);
	cr_assert_eq(count_of(&s, 2), 6);
	sim_fini(&s);
}

/* The nonce of the Request in a captured packet. */
static uint32_t request_in(const struct cap *c)
{
	struct gem_tlv_iter it;
	struct gem_tlv t;
	uint32_t nonce;

	cr_assert_eq(gem_tlv_pkt_parse(c->data, c->len, &it), 0);
	while (gem_tlv_next(&it, &t) > 0)
		if (gem_tlv_request_decode(&t, &nonce) == 0)
			return nonce;
	cr_assert_fail("no Request");
	return 0;
}

Test(db, scripted_input)
{
	uint32_t req_nonce;
	struct sim s;
	struct gem_rec r[2], pk;
	struct gem_db_neigh_info ni;
	uint8_t buf[1500];
	size_t len;

	sim_init(&s, 3, 23);
	sim_start(&s);
	cr_assert_eq(gem_db_input(s.nd[0].db, EXT, "x", 1, s.now), -ENOTCONN);
	cr_assert_eq(stats(&s, 0).rx_not_neighbour, 1);
	cr_assert_eq(gem_db_neigh_up(s.nd[0].db, EXT, s.now), 0);
	cr_assert_eq(gem_db_input(s.nd[0].db, EXT, "x", 1, s.now), -EBADMSG);
	cr_assert_eq(gem_db_input(s.nd[0].db, EXT, "\x2a\x01\x00\x00", 4, s.now),
		     -EPROTONOSUPPORT);
	cr_assert_eq(stats(&s, 0).rx_bad_packets, 2);

	/* dead on arrival: acked, not stored */
	pk = pk_rec(&s, 1, 10);
	pk.time_ms = wall_of(&s, 0) - 10000;	/* lifetime 10 s: dead now */
	r[0] = signed_by(&s, pk, 1, NULL);
	s.ncap = 0;
	inject(&s, 0, r, 1);
	cr_assert_eq(stats(&s, 0).rx_expired, 1);
	cr_assert_eq(count_of(&s, 0), 0);
	cr_assert_eq(acked(&s, &r[0]), 1);

	/* unknown TLVs and padding around a record are skipped */
	{
		struct gem_tlv_pkt b;

		r[0] = signed_by(&s, pk_rec(&s, 1, 10), 1, NULL);
		gem_tlv_pkt_init(&b, buf, sizeof(buf));
		b.buf[b.len++] = 4;	/* a Babel Hello */
		b.buf[b.len++] = 6;
		memset(b.buf + b.len, 0, 6);
		b.len += 6;
		gem_tlv_pkt_add_pad(&b, 1);
		b.buf[b.len++] = 240;	/* someone's experiment */
		b.buf[b.len++] = 0;
		gem_tlv_pkt_add_rec(&b, &r[0]);
		gem_tlv_pkt_add_pad(&b, 9);
		len = gem_tlv_pkt_finish(&b);
		cr_assert_eq(gem_db_input(s.nd[0].db, EXT, buf, len, s.now), 0);
		cr_assert_eq(stats(&s, 0).rx_unknown_tlvs, 2);
		cr_assert_eq(count_of(&s, 0), 1);
		/* cut in the middle of a second copy: the first TLVs stand */
		gem_tlv_pkt_add_rec(&b, &r[0]);
		len = b.len - 10;
		buf[2] = (uint8_t)((len - 4) >> 8);
		buf[3] = (uint8_t)(len - 4);
		cr_assert_eq(gem_db_input(s.nd[0].db, EXT, buf, len, s.now), 0);
		cr_assert_eq(stats(&s, 0).rx_truncated, 1);
		cr_assert_eq(stats(&s, 0).rx_duplicates, 1);
	}

	/* an ack of an older version does not stop sending the current one */
	cr_assert_eq(gem_db_neigh_up(s.nd[1].db, EXT, s.now), 0);
	announce(&s, 1, 0, L_S);
	s.ncap = 0;
	gem_db_tick(s.nd[1].db, s.now);
	cr_assert_eq(s.ncap, 1);
	req_nonce = request_in(&s.cap[0]);
	pk = pk_rec(&s, 1, L_S);
	pk.lifetime = 50;
	originate(&s, 1, &pk);		/* seqno 2 */
	cr_assert_eq(gem_db_neigh_info(s.nd[1].db, EXT, &ni), 0);
	cr_assert_eq(ni.pending, 1);
	{
		struct gem_tlv_ack a = { .seqno = 1 };
		struct gem_tlv_pkt b;

		memcpy(pk.origin, s.nd[1].pk, 8);
		gem_rec_key_of(&pk, &a.key);
		gem_tlv_pkt_init(&b, buf, sizeof(buf));
		gem_tlv_pkt_add_ack(&b, &a);
		len = gem_tlv_pkt_finish(&b);
		cr_assert_eq(gem_db_input(s.nd[1].db, EXT, buf, len, s.now), 0);
		cr_assert_eq(gem_db_neigh_info(s.nd[1].db, EXT, &ni), 0);
		cr_assert_eq(ni.pending, 1);
		a.seqno = 2;
		gem_tlv_pkt_init(&b, buf, sizeof(buf));
		gem_tlv_pkt_add_ack(&b, &a);
		len = gem_tlv_pkt_finish(&b);
		cr_assert_eq(gem_db_input(s.nd[1].db, EXT, buf, len, s.now), 0);
		cr_assert_eq(gem_db_neigh_info(s.nd[1].db, EXT, &ni), 0);
		cr_assert_eq(ni.pending, 0);
		cr_assert(ni.request_pending);
		/* and the Request's ack, by nonce */
		a.key.type = GEM_TLV_REQUEST;
		a.seqno = 12345;
		gem_tlv_pkt_init(&b, buf, sizeof(buf));
		gem_tlv_pkt_add_ack(&b, &a);
		gem_db_input(s.nd[1].db, EXT, buf, gem_tlv_pkt_finish(&b), s.now);
		cr_assert_eq(gem_db_neigh_info(s.nd[1].db, EXT, &ni), 0);
		cr_assert(ni.request_pending, "wrong nonce");
		a.seqno = req_nonce;
		gem_tlv_pkt_init(&b, buf, sizeof(buf));
		gem_tlv_pkt_add_ack(&b, &a);
		gem_db_input(s.nd[1].db, EXT, buf, gem_tlv_pkt_finish(&b), s.now);
		cr_assert_eq(gem_db_neigh_info(s.nd[1].db, EXT, &ni), 0);
		cr_assert_not(ni.request_pending);
	}

	/* a Request gets an ack and the whole table */
	{
		struct gem_tlv_pkt b;

		s.ncap = 0;
		gem_tlv_pkt_init(&b, buf, sizeof(buf));
		gem_tlv_pkt_add_request(&b, 77);
		gem_db_input(s.nd[1].db, EXT, buf, gem_tlv_pkt_finish(&b), s.now);
		cr_assert_eq(stats(&s, 1).rx_requests, 1);
		cr_assert_eq(s.ncap, 1);
		cr_assert_eq(gem_db_neigh_info(s.nd[1].db, EXT, &ni), 0);
		cr_assert_eq(ni.pending, 1);
		/* acked; the same Request again (our ack was lost) is acked
		 * but dumps nothing; a new one (the neighbour restarted) does */
		pk = pk_rec(&s, 1, 50);
		memcpy(pk.origin, s.nd[1].pk, 8);
		pk.seqno = 2;
		{
			struct gem_tlv_ack a = { .seqno = 2 };
			struct gem_tlv_pkt b2;

			gem_rec_key_of(&pk, &a.key);
			gem_tlv_pkt_init(&b2, buf, sizeof(buf));
			gem_tlv_pkt_add_ack(&b2, &a);
			gem_db_input(s.nd[1].db, EXT, buf, gem_tlv_pkt_finish(&b2), s.now);
		}
		cr_assert_eq(gem_db_neigh_info(s.nd[1].db, EXT, &ni), 0);
		cr_assert_eq(ni.pending, 0);
		s.now += 2000;
		gem_tlv_pkt_init(&b, buf, sizeof(buf));
		gem_tlv_pkt_add_request(&b, 77);
		gem_db_input(s.nd[1].db, EXT, buf, gem_tlv_pkt_finish(&b), s.now);
		cr_assert_eq(gem_db_neigh_info(s.nd[1].db, EXT, &ni), 0);
		cr_assert_eq(ni.pending, 0);
		cr_assert_eq(stats(&s, 1).rx_requests, 2);
		gem_tlv_pkt_init(&b, buf, sizeof(buf));
		gem_tlv_pkt_add_request(&b, 78);
		gem_db_input(s.nd[1].db, EXT, buf, gem_tlv_pkt_finish(&b), s.now);
		cr_assert_eq(gem_db_neigh_info(s.nd[1].db, EXT, &ni), 0);
		cr_assert_eq(ni.pending, 1);
	}
	sim_fini(&s);
}

Test(db, originate_api)
{
	struct sim s;
	struct gem_rec r, q;
	struct gem_rec_key k;
	struct gem_db *db;
	struct gem_db_ops bad = sim_ops;
	struct gem_db_params p = { .mtu = 260 };

	sim_init(&s, 3, 24);
	sim_start(&s);
	link_up(&s, 0, 1);
	r = pk_rec(&s, 0, L_S);
	originate(&s, 0, &r);
	originate(&s, 0, &r);
	memcpy(r.origin, s.nd[0].pk, 8);
	gem_rec_key_of(&r, &k);
	cr_assert_eq(gem_db_lookup(s.nd[0].db, &k)->seqno, 1, "same content: no-op");
	r.lifetime = 90;
	originate(&s, 0, &r);
	cr_assert_eq(gem_db_lookup(s.nd[0].db, &k)->seqno, 2);
	cr_assert_eq(stats(&s, 0).own_originated, 2);

	q = r;
	q.type = GEM_TLV_ACK;
	cr_assert_eq(gem_db_originate(s.nd[0].db, &q, s.now), -EINVAL);
	q = r;
	q.lifetime = 0;
	cr_assert_eq(gem_db_originate(s.nd[0].db, &q, s.now), -EINVAL);
	q.lifetime = GEM_REC_LIFETIME_MAX + 1;
	cr_assert_eq(gem_db_originate(s.nd[0].db, &q, s.now), -EINVAL);

	/* bindings hold for own records too */
	run_converge(&s, 0x3, 1000);
	q = pk_rec(&s, 1, L_S);
	addr4(q.pk.addr, 10, 0, 0, 1);		/* node 0's */
	cr_assert_eq(gem_db_originate(s.nd[1].db, &q, s.now), -EADDRINUSE);
	q = sek_rec(0, 1, 1, 1, L_S);
	originate(&s, 0, &q);
	run_converge(&s, 0x3, 1000);
	cr_assert_eq(gem_db_originate(s.nd[1].db, &q, s.now), -EBUSY);
	/* a failing signer leaves nothing behind */
	s.nd[2].sign_fail = true;
	q = pk_rec(&s, 2, L_S);
	cr_assert_eq(gem_db_originate(s.nd[2].db, &q, s.now), -EIO);
	cr_assert_eq(count_of(&s, 2), 0);
	cr_assert_eq(stats(&s, 2).sign_errors, 1);

	/* constructor checks */
	cr_assert_eq(gem_db_new(&db, s.nd[0].pk, &sim_ops, NULL, &p), -EINVAL);
	cr_assert_null(db);
	bad.sign = NULL;
	cr_assert_eq(gem_db_new(&db, s.nd[0].pk, &bad, NULL, NULL), -EINVAL);
	p.mtu = 0;
	p.rto_ms = 5000;
	p.rto_max_ms = 100;
	cr_assert_eq(gem_db_new(&db, s.nd[0].pk, &sim_ops, NULL, &p), -EINVAL);
	gem_db_free(NULL);
	sim_fini(&s);
}

Test(db, stat_names)
{
	for (size_t i = 0; i < gem_db_n_stat_fields; i++) {
		cr_assert_lt(gem_db_stat_fields[i].off, sizeof(struct gem_db_stats));
		cr_assert_eq(gem_db_stat_fields[i].off % sizeof(uint64_t), 0);
		for (size_t j = 0; j < i; j++) {
			cr_assert_str_neq(gem_db_stat_fields[i].name, gem_db_stat_fields[j].name);
			cr_assert_neq(gem_db_stat_fields[i].off, gem_db_stat_fields[j].off);
		}
	}
	cr_assert_eq(gem_db_n_stat_fields, sizeof(struct gem_db_stats) / sizeof(uint64_t),
		     "every counter has a name");
	for (int r = 0; r < GEM_DB_R__MAX; r++)
		cr_assert_str_neq(gem_db_reason_name(r), "unknown");
	cr_assert_str_eq(gem_db_reason_name(GEM_DB_R__MAX), "unknown");
}

/* Garbage and mutated real traffic into a live store: no crash, and the
 * store stays consistent with its events. */
static uint8_t captured[64][1500];
static size_t captured_len[64];
static int ncaptured;

static void capture_hook(struct sim *s, int from, int to, const uint8_t *buf, size_t len)
{
	(void)s, (void)from, (void)to;
	if (ncaptured < 64) {
		memcpy(captured[ncaptured], buf, len);
		captured_len[ncaptured++] = len;
	}
}

Test(db, fuzz_input)
{
	struct sim s;

	sim_init(&s, 3, 25);
	sim_start(&s);
	line(&s);
	ncaptured = 0;
	s.hook = capture_hook;
	for (int i = 0; i < 2; i++)
		announce(&s, i, 2, L_S);
	run_converge(&s, ALL, 2000);
	s.hook = NULL;
	cr_assert_gt(ncaptured, 4);
	cr_assert_eq(gem_db_neigh_up(s.nd[2].db, EXT, s.now), 0);
	for (int k = 0; k < 40000; k++) {
		int c = (int)(rnd(&s) % (uint64_t)ncaptured);
		uint8_t buf[1500];
		size_t len = captured_len[c];
		int flips = 1 + (int)(rnd(&s) % 3);

		memcpy(buf, captured[c], len);
		for (int f = 0; f < flips; f++) {
			size_t bit = rnd(&s) % (8 * len);

			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		if (rnd(&s) % 4 == 0)
			len = rnd(&s) % (len + 1);
		gem_db_input(s.nd[2].db, EXT, buf, len, s.now);
		if (k % 5000 == 0) {
			run(&s, 10);
			check_view(&s, 2);
		}
	}
	for (int k = 0; k < 20000; k++) {
		uint8_t buf[600];
		size_t len = rnd(&s) % sizeof(buf);

		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)rnd(&s);
		if (len >= 4) {
			buf[0] = 42;
			buf[1] = 2;
			buf[2] = (uint8_t)((len - 4) >> 8);
			buf[3] = (uint8_t)(len - 4);
		}
		gem_db_input(s.nd[2].db, EXT, buf, len, s.now);
	}
	check_view(&s, 2);
	gem_db_neigh_down(s.nd[2].db, EXT);
	run_converge(&s, ALL, 5000);
	sim_fini(&s);
}

/* ---- issue 14: records cannot be brought back, streams cannot be hijacked ------------------ */

/* The member behind an attacker (EXT: any BK holder) that captured a genuine
 * SEK Announce: once it expired, the copy sent again is dead. */
Test(db, expired_copy_cannot_come_back)
{
	struct sim s;
	struct gem_rec r[2];

	sim_init(&s, 2, 30);
	sim_start(&s);
	cr_assert_eq(gem_db_neigh_up(s.nd[0].db, EXT, s.now), 0);
	r[0] = signed_by(&s, pk_rec(&s, 1, L_LONG), 1, NULL);
	r[1] = signed_by(&s, sek_rec(1, 1, 1, 0x51, 20), 1, NULL);
	inject(&s, 0, r, 2);
	cr_assert_eq(s.nd[0].ev[GEM_DB_EV_NEW], 2);
	run(&s, 21000);
	cr_assert_eq(s.nd[0].ev[GEM_DB_EV_EXPIRED], 1);
	inject(&s, 0, r + 1, 1);
	cr_assert_eq(s.nd[0].ev[GEM_DB_EV_NEW], 2, "an expired SEK Announce came back");
	cr_assert_eq(count_of(&s, 0), 1);
	sim_fini(&s);
}

/* new (seqno 7, long lifetime) -> withdrawn (seqno 8, short lifetime) ->
 * the withdrawn version expires -> seqno 7 again: refused. */
Test(db, withdrawn_cannot_come_back)
{
	struct sim s;
	struct gem_rec r[2], wd;

	sim_init(&s, 2, 31);
	sim_start(&s);
	cr_assert_eq(gem_db_neigh_up(s.nd[0].db, EXT, s.now), 0);
	r[0] = signed_by(&s, pk_rec(&s, 1, L_LONG), 1, NULL);
	r[1] = sek_rec(1, 1, 1, 0x52, L_LONG);
	r[1].seqno = 7;
	r[1] = signed_by(&s, r[1], 1, NULL);
	inject(&s, 0, r, 2);
	cr_assert_eq(s.nd[0].ev[GEM_DB_EV_NEW], 2);
	wd = sek_rec(1, 1, 1, 0, 20);
	wd.seqno = 8;
	wd.flags = GEM_REC_F_WITHDRAWN;
	wd = signed_by(&s, wd, 1, NULL);
	inject(&s, 0, &wd, 1);
	cr_assert_eq(s.nd[0].ev[GEM_DB_EV_WITHDRAWN], 1);
	run(&s, 25000);
	inject(&s, 0, r + 1, 1);
	cr_assert_eq(s.nd[0].ev[GEM_DB_EV_NEW], 2, "a withdrawn SEK Announce came back");
	sim_fini(&s);
}

/* A fresh identity (node 4, BK holder, no GAK) announces node 0's stream
 * with a made-up HMAC before node 0 does, at a relay without the GAK.
 * Members behind the relays still get node 0's SEK, never the forged one. */
Test(db, forged_stream_first)
{
	struct sim s;
	struct gem_rec r[2], real;
	struct gem_rec_key k;
	const struct gem_rec *x;

	sim_init(&s, 5, 32);
	s.nd[1].gak = s.nd[2].gak = false;
	sim_start(&s);
	line(&s);
	link_down(&s, 3, 4);
	run(&s, 1000);
	cr_assert_eq(gem_db_neigh_up(s.nd[1].db, EXT, s.now), 0);
	r[0] = signed_by(&s, pk_rec(&s, 4, L_LONG), 4, NULL);
	r[1] = signed_by(&s, sek_rec(0, 1, 1, 0x66, L_LONG), 4, NULL);
	r[1].sek.hmac[0] ^= 0x01;	/* no GAK: made up */
	toy_sign(s.nd[4].pk, &r[1]);
	inject(&s, 1, r, 2);
	run(&s, 3000);
	cr_assert_eq(s.nd[3].rej[GEM_DB_R_BAD_HMAC], 1, "the member refused the forgery");
	announce(&s, 0, 0, L_S);
	real = sek_rec(0, 1, 1, 0x01, L_S);
	originate(&s, 0, &real);
	run(&s, 5000);
	memcpy(real.origin, s.nd[0].pk, 8);
	gem_rec_key_of(&real, &k);
	for (int i = 1; i < 4; i++) {
		x = gem_db_lookup(s.nd[i].db, &k);
		cr_assert_not_null(x, "node %d lacks the real announce", i);
		cr_assert_eq(x->sek.wrapped[0], 0x01);
	}
	gem_rec_key_of(&r[1], &k);
	cr_assert_null(gem_db_lookup(s.nd[3].db, &k), "the member stored the forgery");
	for (int i = 1; i < 3; i++)
		cr_assert_not_null(gem_db_lookup(s.nd[i].db, &k), "relay %d carries both", i);
	cr_assert_eq(s.nd[1].rej[GEM_DB_R_STREAM_CONFLICT] + s.nd[2].rej[GEM_DB_R_STREAM_CONFLICT], 0);
	cr_assert_eq(s.nd[3].ev[GEM_DB_EV_NEW], 3, "member: Public Keys of 4 and 0, real SEK");
	sim_fini(&s);
}

/* Clocks (10.3): an origin time up to max_skew_ms ahead of the receiver's
 * clock is taken, one further ahead refused (clock_skew, acked); a receiver
 * whose clock is ahead of the origin's sees the record die earlier, never
 * later: beyond its lifetime it arrives dead. */
Test(db, clock_skew)
{
	struct sim s;
	struct gem_rec r[1];

	sim_init(&s, 4, 33);
	s.params.max_skew_ms = 5000;
	sim_start(&s);
	cr_assert_eq(gem_db_neigh_up(s.nd[0].db, EXT, s.now), 0);
	s.nd[1].skew_ms = 4000;		/* within */
	s.nd[2].skew_ms = 6000;		/* beyond */
	s.nd[3].skew_ms = -30000;	/* behind by more than the lifetime */
	r[0] = signed_by(&s, pk_rec(&s, 1, L_S), 1, NULL);
	inject(&s, 0, r, 1);
	cr_assert_not_null(gem_db_pubkey(s.nd[0].db, s.nd[1].pk));
	r[0] = signed_by(&s, pk_rec(&s, 2, L_S), 2, NULL);
	s.ncap = 0;
	inject(&s, 0, r, 1);
	cr_assert_null(gem_db_pubkey(s.nd[0].db, s.nd[2].pk));
	cr_assert_eq(s.nd[0].rej[GEM_DB_R_CLOCK], 1);
	cr_assert_eq(stats(&s, 0).rej.clock_skew, 1);
	cr_assert_eq(acked(&s, &r[0]), 1);
	r[0] = signed_by(&s, pk_rec(&s, 3, 20), 3, NULL);
	inject(&s, 0, r, 1);
	cr_assert_null(gem_db_pubkey(s.nd[0].db, s.nd[3].pk));
	cr_assert_eq(stats(&s, 0).rx_expired, 1);
	/* node 1's record lives its lifetime plus the 4 s its clock is ahead:
	 * the receiver's clock decides, the relay has no say */
	run(&s, 1000 * L_S + 3500);
	cr_assert_not_null(gem_db_pubkey(s.nd[0].db, s.nd[1].pk));
	run(&s, 1000);
	cr_assert_null(gem_db_pubkey(s.nd[0].db, s.nd[1].pk));
	sim_fini(&s);
}

/* Two nodes whose clocks differ (within the skew) keep each other's records
 * through refreshes, in both directions. */
Test(db, skewed_clocks_converge)
{
	struct sim s;

	sim_init(&s, 3, 34);
	s.nd[0].skew_ms = 14000;	/* 28 s apart: within the default 30 */
	s.nd[2].skew_ms = -14000;
	sim_start(&s);
	line(&s);
	for (int i = 0; i < 3; i++)
		announce(&s, i, 1, L_S);
	run_converge(&s, ALL, 2000);
	run(&s, 5 * 1000 * L_S);
	run_converge(&s, ALL, 2000);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(count_of(&s, i), 6, "node %d", i);
		cr_assert_eq(s.nd[i].ev[GEM_DB_EV_EXPIRED], 0, "node %d", i);
		cr_assert_eq(stats(&s, i).rej.clock_skew, 0);
	}
	sim_fini(&s);
}

/* Tombstones are bounded: they count in max_records, and they go at the
 * newest version's origin time + max_lifetime; a record with a longer
 * lifetime is refused (it could outlive its tombstone). */
Test(db, tombstones_bounded)
{
	struct sim s;
	struct gem_rec r[2], q;

	sim_init(&s, 2, 35);
	s.params.max_lifetime = 100;
	s.params.max_records = 3;
	sim_start(&s);
	cr_assert_eq(gem_db_neigh_up(s.nd[0].db, EXT, s.now), 0);
	r[0] = signed_by(&s, pk_rec(&s, 1, 100), 1, NULL);
	r[1] = signed_by(&s, sek_rec(1, 1, 1, 0x53, 20), 1, NULL);
	inject(&s, 0, r, 2);
	cr_assert_eq(count_of(&s, 0), 2);
	q = signed_by(&s, sek_rec(1, 2, 1, 0x54, 101), 1, NULL);
	inject(&s, 0, &q, 1);
	cr_assert_eq(s.nd[0].rej[GEM_DB_R_POLICY], 1, "lifetime above max_lifetime");
	run(&s, 21000);
	cr_assert_eq(count_of(&s, 0), 1);
	cr_assert_eq(gem_db_tombstones(s.nd[0].db), 1);
	/* the tombstone takes its room in the table */
	q = signed_by(&s, sek_rec(1, 3, 1, 0x55, 20), 1, NULL);
	inject(&s, 0, &q, 1);
	q = signed_by(&s, sek_rec(1, 4, 1, 0x56, 20), 1, NULL);
	inject(&s, 0, &q, 1);
	cr_assert_eq(s.nd[0].rej[GEM_DB_R_TABLE_FULL], 1);
	/* still refusing the old copy near the end of max_lifetime ... */
	run(&s, 100000 - 21000 - 1000);
	cr_assert_eq(gem_db_tombstones(s.nd[0].db), 2);
	inject(&s, 0, r + 1, 1);
	cr_assert_eq(s.nd[0].ev[GEM_DB_EV_NEW], 3);
	/* ... and gone after it, when the copy is long dead by itself; the
	 * Public Key (lifetime 100 s = max_lifetime) expired at the same time
	 * and needs no tombstone at all: no older version outlives it */
	run(&s, 2000);
	cr_assert_eq(stats(&s, 0).tombstones_dropped, 2);
	cr_assert_eq(gem_db_tombstones(s.nd[0].db), 1, "group 3's, until its time + 100 s");
	cr_assert_eq(count_of(&s, 0), 0);
	inject(&s, 0, r + 1, 1);
	cr_assert_eq(s.nd[0].ev[GEM_DB_EV_NEW], 3);
	cr_assert_geq(stats(&s, 0).rx_expired, 1);
	sim_fini(&s);
}

/* An origin that restarts after its records expired (tombstones everywhere,
 * with higher seqnos than it starts from) is heard at once: its new
 * versions are newer by origin time. */
Test(db, restart_after_expiry)
{
	struct sim s;
	struct gem_rec sek;
	struct gem_rec_key k;

	sim_init(&s, 3, 36);
	sim_start(&s);
	line(&s);
	announce(&s, 0, 0, 20);
	for (int k2 = 0; k2 < 3; k2++) {
		sek = sek_rec(0, 1, 1, (uint8_t)(0x20 + k2), 20);
		originate(&s, 0, &sek);
		run(&s, 100);
	}
	run_converge(&s, ALL, 2000);
	node_kill(&s, 0, true);
	run(&s, 30000);
	memcpy(sek.origin, s.nd[0].pk, 8);
	gem_rec_key_of(&sek, &k);
	cr_assert_null(gem_db_lookup(s.nd[2].db, &k));
	cr_assert_eq(gem_db_tombstones(s.nd[2].db), 2);
	node_restart(&s, 0, true);
	link_up(&s, 0, 1);
	announce(&s, 0, 0, 20);
	sek = sek_rec(0, 1, 1, 0x77, 20);
	originate(&s, 0, &sek);
	run_converge(&s, ALL, 5000);
	cr_assert_eq(gem_db_lookup(s.nd[2].db, &k)->sek.wrapped[0], 0x77);
	cr_assert_eq(s.nd[2].ev[GEM_DB_EV_NEW], 4);
	sim_fini(&s);
}

/* A relay carries competing announces of one stream, but no more SEK
 * Announce keys per origin than max_per_origin. */
Test(db, relay_per_origin_bound)
{
	struct sim s;
	struct gem_rec r[4];

	sim_init(&s, 3, 37);
	s.nd[0].gak = false;
	s.params.max_per_origin = 2;
	sim_start(&s);
	cr_assert_eq(gem_db_neigh_up(s.nd[0].db, EXT, s.now), 0);
	r[0] = signed_by(&s, pk_rec(&s, 1, L_S), 1, NULL);
	r[1] = signed_by(&s, pk_rec(&s, 2, L_S), 2, NULL);
	r[2] = signed_by(&s, sek_rec(1, 1, 1, 0x61, L_S), 1, NULL);
	r[3] = signed_by(&s, sek_rec(1, 1, 1, 0x62, L_S), 2, NULL);	/* 1's stream */
	inject(&s, 0, r, 4);
	cr_assert_eq(count_of(&s, 0), 4, "both announces of the stream carried");
	cr_assert_eq(s.nd[0].rej[GEM_DB_R_STREAM_CONFLICT], 0);
	r[0] = signed_by(&s, sek_rec(1, 1, 2, 0x63, L_S), 2, NULL);
	inject(&s, 0, r, 1);
	cr_assert_eq(count_of(&s, 0), 5);
	r[0] = signed_by(&s, sek_rec(1, 1, 3, 0x64, L_S), 2, NULL);
	inject(&s, 0, r, 1);
	cr_assert_eq(s.nd[0].rej[GEM_DB_R_ORIGIN_FULL], 1);
	cr_assert_eq(count_of(&s, 0), 5);
	sim_fini(&s);
}
