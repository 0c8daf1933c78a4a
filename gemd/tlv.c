// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * GEM control TLVs: Babel (RFC 8966) packet framing, GEM's record, Ack and
 * Request TLVs, and the bytes their signatures and HMACs cover.  The layout
 * is specified byte for byte in docs/PROTOCOL.md section 10; the offsets
 * below are that table.  Parsers check every length before reading.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "gemd/tlv.h"
#include "gem_be.h"
#include "keys/gem_keys.h"

/* Record body offsets (docs/PROTOCOL.md 10.3-10.5). */
#define OFF_ORIGIN	0
#define OFF_SEQNO	8
#define OFF_TIME	12
#define OFF_LIFETIME	20
#define OFF_FLAGS	24
/* Public Key, from GEM_TLV_REC_HDR_LEN on */
#define PK_OFF_ADDR	25
#define PK_OFF_KEY	41
#define PK_OFF_SIG	73
/* SEK Announce */
#define SEK_OFF_SUITE	25
#define SEK_OFF_SRC	26
#define SEK_OFF_GRP	42
#define SEK_OFF_KEYID	58
#define SEK_OFF_EPOCH	60
#define SEK_OFF_WRAPPED	64
/* then the HMAC and the signature, after the suite's wrapped length wl:
 * at 88 and 120 for suites 1-3 (wl 24), at 104 and 136 for suite 4 (wl 40) */
#define SEK_OFF_HMAC(wl)	(SEK_OFF_WRAPPED + (wl))
#define SEK_OFF_SIG(wl)		(SEK_OFF_HMAC(wl) + GEM_TLV_HMAC_LEN)

/* Everything up to the authenticators is signed: there is no hop-by-hop
 * field a relay could change (no age), so no relay can stretch a validity. */
#define SIGNED_OFF	OFF_ORIGIN

/* Domain-separation prefixes, each followed by 0x00 (docs/PROTOCOL.md 10.4, 10.5). */
static const char pfx_pk_sig[] = "GEM v1 pubkey-sig";
static const char pfx_sek_hmac[] = "GEM v1 sek-hmac";
static const char pfx_sek_sig[] = "GEM v1 sek-sig";

_Static_assert(PK_OFF_SIG + GEM_TLV_SIG_LEN == GEM_TLV_PUBKEY_LEN, "pubkey layout");
_Static_assert(SEK_OFF_SIG(GEM_TLV_WRAPPED_LEN) + GEM_TLV_SIG_LEN == GEM_TLV_SEK_LEN,
	       "sek layout");
_Static_assert(SEK_OFF_SIG(GEM_TLV_WRAPPED_LEN_S4) + GEM_TLV_SIG_LEN == GEM_TLV_SEK_LEN_S4,
	       "sek layout, suite 4");
_Static_assert(GEM_TLV_WRAPPED_LEN_S4 == GEM_TLV_WRAPPED_MAX, "wrapped max");
_Static_assert(GEM_TLV_SEK_LEN_S4 <= 255 && GEM_TLV_PUBKEY_LEN <= 255, "TLV body > 255");
_Static_assert(sizeof(pfx_sek_sig) + SEK_OFF_SIG(GEM_TLV_WRAPPED_MAX) - SIGNED_OFF <=
	       GEM_TLV_AUTH_INPUT_MAX, "auth input");
_Static_assert(OFF_FLAGS + 1 == GEM_TLV_REC_HDR_LEN, "record header");

/* ---- records ------------------------------------------------------------------ */

bool gem_tlv_is_rec(unsigned int type)
{
	return type == GEM_TLV_PUBKEY || type == GEM_TLV_SEK;
}

size_t gem_tlv_rec_body_len(unsigned int type)
{
	switch (type) {
	case GEM_TLV_PUBKEY:
		return GEM_TLV_PUBKEY_LEN;
	case GEM_TLV_SEK:
		return GEM_TLV_SEK_LEN;
	default:
		return 0;
	}
}

size_t gem_tlv_sek_wrapped_len(unsigned int suite)
{
	return suite == GEM_TLV_SEK_SUITE4 ? GEM_TLV_WRAPPED_LEN_S4 : GEM_TLV_WRAPPED_LEN;
}

size_t gem_tlv_sek_body_len(unsigned int suite)
{
	return SEK_OFF_SIG(gem_tlv_sek_wrapped_len(suite)) + GEM_TLV_SIG_LEN;
}

size_t gem_tlv_rec_len(const struct gem_rec *r)
{
	return r->type == GEM_TLV_SEK ? gem_tlv_sek_body_len(r->sek.suite)
				      : gem_tlv_rec_body_len(r->type);
}

void gem_rec_key_of(const struct gem_rec *r, struct gem_rec_key *k)
{
	memset(k, 0, sizeof(*k));
	k->type = r->type;
	memcpy(k->origin, r->origin, GEM_TLV_ID_LEN);
	if (r->type == GEM_TLV_SEK) {
		memcpy(k->subj, r->sek.src, GEM_TLV_ADDR_LEN);
		memcpy(k->subj + 16, r->sek.grp, GEM_TLV_ADDR_LEN);
		gem_put_be16(k->subj + 32, r->sek.key_id);
		k->subj_len = GEM_REC_SUBJ_MAX;
	}
}

bool gem_rec_key_eq(const struct gem_rec_key *a, const struct gem_rec_key *b)
{
	return a->type == b->type && a->subj_len == b->subj_len &&
	       !memcmp(a->origin, b->origin, GEM_TLV_ID_LEN) &&
	       !memcmp(a->subj, b->subj, a->subj_len);
}

bool gem_rec_same_content(const struct gem_rec *a, const struct gem_rec *b)
{
	if (a->type != b->type || a->lifetime != b->lifetime || a->flags != b->flags ||
	    memcmp(a->origin, b->origin, GEM_TLV_ID_LEN) != 0)
		return false;
	if (a->type == GEM_TLV_PUBKEY)
		return !memcmp(a->pk.addr, b->pk.addr, GEM_TLV_ADDR_LEN) &&
		       !memcmp(a->pk.key, b->pk.key, GEM_TLV_PK_LEN);
	return a->sek.suite == b->sek.suite && a->sek.key_id == b->sek.key_id &&
	       a->sek.epoch == b->sek.epoch &&
	       !memcmp(a->sek.src, b->sek.src, GEM_TLV_ADDR_LEN) &&
	       !memcmp(a->sek.grp, b->sek.grp, GEM_TLV_ADDR_LEN) &&
	       !memcmp(a->sek.wrapped, b->sek.wrapped, gem_tlv_sek_wrapped_len(a->sek.suite));
}

int gem_seqno_cmp(uint32_t a, uint32_t b)
{
	uint32_t d = b - a;

	if (d == 0)
		return 0;
	if (d < 0x80000000u)
		return -1;
	if (d > 0x80000000u)
		return 1;
	return 2;
}

/* ---- packet parsing ------------------------------------------------------------- */

int gem_tlv_pkt_parse(const void *buf, size_t len, struct gem_tlv_iter *it)
{
	const uint8_t *p = buf;
	size_t blen;

	memset(it, 0, sizeof(*it));
	if (!buf || len < GEM_TLV_HDR_LEN || p[0] != GEM_TLV_MAGIC)
		return -EBADMSG;
	if (p[1] != GEM_TLV_VERSION)
		return -EPROTONOSUPPORT;
	blen = gem_get_be16(p + 2);
	if (blen > len - GEM_TLV_HDR_LEN)
		return -EBADMSG;
	it->body = p + GEM_TLV_HDR_LEN;
	it->len = blen;
	return 0;
}

int gem_tlv_next(struct gem_tlv_iter *it, struct gem_tlv *t)
{
	while (it->off < it->len) {
		uint8_t type = it->body[it->off];
		size_t tlen;

		if (type == GEM_TLV_PAD1) {
			it->off++;
			continue;
		}
		if (it->len - it->off < 2)
			goto bad;
		tlen = it->body[it->off + 1];
		if (it->len - it->off - 2 < tlen)
			goto bad;
		t->type = type;
		t->len = tlen;
		t->body = it->body + it->off + 2;
		it->off += 2 + tlen;
		if (type == GEM_TLV_PADN)
			continue;
		return 1;
	}
	return 0;
bad:
	it->off = it->len;	/* the rest of the packet is ignored */
	return -EBADMSG;
}

int gem_tlv_rec_decode(const struct gem_tlv *t, struct gem_rec *r)
{
	const uint8_t *b = t->body;
	size_t want = gem_tlv_rec_body_len(t->type);

	if (!want)
		return -ENOENT;
	/* a SEK Announce's length follows from its suite byte */
	if (t->type == GEM_TLV_SEK && t->len > SEK_OFF_SUITE)
		want = gem_tlv_sek_body_len(b[SEK_OFF_SUITE]);
	if (t->len != want)
		return -EBADMSG;
	memset(r, 0, sizeof(*r));
	r->type = t->type;
	memcpy(r->origin, b + OFF_ORIGIN, GEM_TLV_ID_LEN);
	r->seqno = gem_get_be32(b + OFF_SEQNO);
	r->time_ms = gem_get_be64(b + OFF_TIME);
	r->lifetime = gem_get_be32(b + OFF_LIFETIME);
	r->flags = b[OFF_FLAGS];
	if (r->lifetime == 0 || r->lifetime > GEM_REC_LIFETIME_MAX)
		return -EBADMSG;
	if (t->type == GEM_TLV_PUBKEY) {
		memcpy(r->pk.addr, b + PK_OFF_ADDR, GEM_TLV_ADDR_LEN);
		memcpy(r->pk.key, b + PK_OFF_KEY, GEM_TLV_PK_LEN);
		memcpy(r->sig, b + PK_OFF_SIG, GEM_TLV_SIG_LEN);
	} else {
		r->sek.suite = b[SEK_OFF_SUITE];
		memcpy(r->sek.src, b + SEK_OFF_SRC, GEM_TLV_ADDR_LEN);
		memcpy(r->sek.grp, b + SEK_OFF_GRP, GEM_TLV_ADDR_LEN);
		r->sek.key_id = gem_get_be16(b + SEK_OFF_KEYID);
		size_t wl = gem_tlv_sek_wrapped_len(r->sek.suite);

		r->sek.epoch = gem_get_be32(b + SEK_OFF_EPOCH);
		memcpy(r->sek.wrapped, b + SEK_OFF_WRAPPED, wl);
		memcpy(r->sek.hmac, b + SEK_OFF_HMAC(wl), GEM_TLV_HMAC_LEN);
		memcpy(r->sig, b + SEK_OFF_SIG(wl), GEM_TLV_SIG_LEN);
	}
	return 0;
}

/* Body of r into b (gem_tlv_rec_len(r) bytes). */
static void rec_body(const struct gem_rec *r, uint8_t *b)
{
	memcpy(b + OFF_ORIGIN, r->origin, GEM_TLV_ID_LEN);
	gem_put_be32(b + OFF_SEQNO, r->seqno);
	gem_put_be64(b + OFF_TIME, r->time_ms);
	gem_put_be32(b + OFF_LIFETIME, r->lifetime);
	b[OFF_FLAGS] = r->flags;
	if (r->type == GEM_TLV_PUBKEY) {
		memcpy(b + PK_OFF_ADDR, r->pk.addr, GEM_TLV_ADDR_LEN);
		memcpy(b + PK_OFF_KEY, r->pk.key, GEM_TLV_PK_LEN);
		memcpy(b + PK_OFF_SIG, r->sig, GEM_TLV_SIG_LEN);
	} else {
		b[SEK_OFF_SUITE] = r->sek.suite;
		memcpy(b + SEK_OFF_SRC, r->sek.src, GEM_TLV_ADDR_LEN);
		memcpy(b + SEK_OFF_GRP, r->sek.grp, GEM_TLV_ADDR_LEN);
		gem_put_be16(b + SEK_OFF_KEYID, r->sek.key_id);
		size_t wl = gem_tlv_sek_wrapped_len(r->sek.suite);

		gem_put_be32(b + SEK_OFF_EPOCH, r->sek.epoch);
		memcpy(b + SEK_OFF_WRAPPED, r->sek.wrapped, wl);
		memcpy(b + SEK_OFF_HMAC(wl), r->sek.hmac, GEM_TLV_HMAC_LEN);
		memcpy(b + SEK_OFF_SIG(wl), r->sig, GEM_TLV_SIG_LEN);
	}
}

int gem_tlv_rec_encode(const struct gem_rec *r, void *buf, size_t cap)
{
	size_t blen = gem_tlv_rec_len(r);
	uint8_t *p = buf;

	if (!blen || r->lifetime == 0 || r->lifetime > GEM_REC_LIFETIME_MAX)
		return -EINVAL;
	if (cap < 2 + blen)
		return -ENOSPC;
	p[0] = r->type;
	p[1] = (uint8_t)blen;
	rec_body(r, p + 2);
	return (int)(2 + blen);
}

/* ---- acks and requests ---------------------------------------------------------- */

size_t gem_tlv_ack_entry_len(unsigned int type)
{
	switch (type) {
	case GEM_TLV_PUBKEY:
		return 1 + GEM_TLV_ID_LEN + 4;				/* 13 */
	case GEM_TLV_SEK:
		return 1 + GEM_TLV_ID_LEN + 4 + GEM_REC_SUBJ_MAX;	/* 47 */
	case GEM_TLV_REQUEST:
		return 1 + 4;						/* 5 */
	default:
		return 0;
	}
}

int gem_tlv_ack_decode(const struct gem_tlv *t, struct gem_tlv_ack *a, size_t max)
{
	size_t off = 0, n = 0;

	if (t->type != GEM_TLV_ACK || t->len == 0)
		return -EBADMSG;
	while (off < t->len) {
		const uint8_t *e = t->body + off;
		size_t elen = gem_tlv_ack_entry_len(e[0]);
		struct gem_tlv_ack *x;

		if (!elen || t->len - off < elen)
			return -EBADMSG;
		if (n == max)
			return -ENOSPC;
		x = &a[n++];
		memset(x, 0, sizeof(*x));
		x->key.type = e[0];
		if (e[0] == GEM_TLV_REQUEST) {
			x->seqno = gem_get_be32(e + 1);
		} else {
			memcpy(x->key.origin, e + 1, GEM_TLV_ID_LEN);
			x->seqno = gem_get_be32(e + 1 + GEM_TLV_ID_LEN);
			x->key.subj_len = (uint8_t)(elen - 13);
			memcpy(x->key.subj, e + 13, x->key.subj_len);
		}
		off += elen;
	}
	return (int)n;
}

int gem_tlv_request_decode(const struct gem_tlv *t, uint32_t *nonce)
{
	if (t->type != GEM_TLV_REQUEST || t->len != GEM_TLV_REQUEST_LEN)
		return -EBADMSG;
	*nonce = gem_get_be32(t->body);
	return 0;
}

/* ---- packet building ------------------------------------------------------------- */

int gem_tlv_pkt_init(struct gem_tlv_pkt *p, void *buf, size_t cap)
{
	memset(p, 0, sizeof(*p));
	if (!buf || cap < GEM_TLV_HDR_LEN)
		return -EINVAL;
	if (cap > GEM_TLV_HDR_LEN + GEM_TLV_BODY_MAX)
		cap = GEM_TLV_HDR_LEN + GEM_TLV_BODY_MAX;
	p->buf = buf;
	p->cap = cap;
	p->buf[0] = GEM_TLV_MAGIC;
	p->buf[1] = GEM_TLV_VERSION;
	gem_put_be16(p->buf + 2, 0);
	p->len = GEM_TLV_HDR_LEN;
	return 0;
}

int gem_tlv_pkt_add_rec(struct gem_tlv_pkt *p, const struct gem_rec *r)
{
	int n = gem_tlv_rec_encode(r, p->buf + p->len, p->cap - p->len);

	if (n < 0)
		return n;
	p->len += n;
	p->ack_off = 0;
	return 0;
}

int gem_tlv_pkt_add_request(struct gem_tlv_pkt *p, uint32_t nonce)
{
	if (p->cap - p->len < 2 + GEM_TLV_REQUEST_LEN)
		return -ENOSPC;
	p->buf[p->len] = GEM_TLV_REQUEST;
	p->buf[p->len + 1] = GEM_TLV_REQUEST_LEN;
	gem_put_be32(p->buf + p->len + 2, nonce);
	p->len += 2 + GEM_TLV_REQUEST_LEN;
	p->ack_off = 0;
	return 0;
}

int gem_tlv_pkt_add_ack(struct gem_tlv_pkt *p, const struct gem_tlv_ack *a)
{
	size_t elen = gem_tlv_ack_entry_len(a->key.type);
	uint8_t *e;

	if (!elen)
		return -EINVAL;
	if (a->key.type != GEM_TLV_REQUEST && a->key.subj_len != elen - 13)
		return -EINVAL;
	/* A new Ack TLV if none is open or the open one is full. */
	if (!p->ack_off || p->buf[p->ack_off + 1] + elen > 255) {
		if (p->cap - p->len < 2 + elen)
			return -ENOSPC;
		p->ack_off = p->len;
		p->buf[p->len] = GEM_TLV_ACK;
		p->buf[p->len + 1] = 0;
		p->len += 2;
	} else if (p->cap - p->len < elen) {
		return -ENOSPC;
	}
	e = p->buf + p->len;
	e[0] = a->key.type;
	if (a->key.type == GEM_TLV_REQUEST) {
		gem_put_be32(e + 1, a->seqno);
	} else {
		memcpy(e + 1, a->key.origin, GEM_TLV_ID_LEN);
		gem_put_be32(e + 1 + GEM_TLV_ID_LEN, a->seqno);
		memcpy(e + 13, a->key.subj, a->key.subj_len);
	}
	p->len += elen;
	p->buf[p->ack_off + 1] += (uint8_t)elen;
	return 0;
}

bool gem_tlv_pkt_empty(const struct gem_tlv_pkt *p)
{
	return p->len <= GEM_TLV_HDR_LEN;
}

size_t gem_tlv_pkt_finish(struct gem_tlv_pkt *p)
{
	gem_put_be16(p->buf + 2, (uint16_t)(p->len - GEM_TLV_HDR_LEN));
	return p->len;
}

/* ---- authentication ------------------------------------------------------------ */

/* prefix || 0x00 || body[SIGNED_OFF .. end) */
static int auth_input(const struct gem_rec *r, const char *pfx, size_t end,
		      uint8_t *buf, size_t cap)
{
	uint8_t body[255];
	size_t plen = strlen(pfx) + 1;	/* with its 0x00 */
	size_t n = plen + end - SIGNED_OFF;

	if (cap < n)
		return -ENOSPC;
	rec_body(r, body);
	memcpy(buf, pfx, plen);
	memcpy(buf + plen, body + SIGNED_OFF, end - SIGNED_OFF);
	return (int)n;
}

int gem_tlv_sig_input(const struct gem_rec *r, uint8_t *buf, size_t cap)
{
	switch (r->type) {
	case GEM_TLV_PUBKEY:
		return auth_input(r, pfx_pk_sig, PK_OFF_SIG, buf, cap);
	case GEM_TLV_SEK:
		return auth_input(r, pfx_sek_sig, SEK_OFF_SIG(gem_tlv_sek_wrapped_len(r->sek.suite)),
				  buf, cap);
	default:
		return -EINVAL;
	}
}

int gem_tlv_hmac_input(const struct gem_rec *r, uint8_t *buf, size_t cap)
{
	if (r->type != GEM_TLV_SEK)
		return -EINVAL;
	return auth_input(r, pfx_sek_hmac, SEK_OFF_HMAC(gem_tlv_sek_wrapped_len(r->sek.suite)),
			  buf, cap);
}

bool gem_tlv_pubkey_id_ok(const struct gem_rec *r)
{
	uint8_t id[GEM_TLV_ID_LEN];

	if (r->type != GEM_TLV_PUBKEY)
		return false;
	gem_keys_node_id_of(r->pk.key, id);
	return !memcmp(id, r->origin, GEM_TLV_ID_LEN);
}

int gem_tlv_sig_verify(const struct gem_rec *r, const uint8_t pk[GEM_TLV_PK_LEN])
{
	uint8_t in[GEM_TLV_AUTH_INPUT_MAX];
	int n;

	if (sodium_init() < 0)
		return -EIO;
	n = gem_tlv_sig_input(r, in, sizeof(in));
	if (n < 0)
		return n;
	if (crypto_sign_verify_detached(r->sig, in, (unsigned long long)n, pk))
		return -EBADMSG;
	return 0;
}

int gem_tlv_hmac_compute(const struct gem_rec *r, const uint8_t key[GEM_TLV_CTL_KEY_LEN],
			 uint8_t mac[GEM_TLV_HMAC_LEN])
{
	uint8_t in[GEM_TLV_AUTH_INPUT_MAX];
	int n;

	if (sodium_init() < 0)
		return -EIO;
	n = gem_tlv_hmac_input(r, in, sizeof(in));
	if (n < 0)
		return n;
	crypto_auth_hmacsha256(mac, in, (unsigned long long)n, key);
	return 0;
}

int gem_tlv_hmac_verify(const struct gem_rec *r, const uint8_t key[GEM_TLV_CTL_KEY_LEN])
{
	uint8_t mac[GEM_TLV_HMAC_LEN];
	int err;

	err = gem_tlv_hmac_compute(r, key, mac);
	if (err)
		goto out;
	err = sodium_memcmp(mac, r->sek.hmac, GEM_TLV_HMAC_LEN) ? -EBADMSG : 0;
out:
	sodium_memzero(mac, sizeof(mac));
	return err;
}

const char *gem_tlv_type_name(unsigned int type)
{
	switch (type) {
	case GEM_TLV_PAD1:
		return "Pad1";
	case GEM_TLV_PADN:
		return "PadN";
	case GEM_TLV_PUBKEY:
		return "Public Key";
	case GEM_TLV_SEK:
		return "SEK Announce";
	case GEM_TLV_ACK:
		return "Ack";
	case GEM_TLV_REQUEST:
		return "Request";
	default:
		return "unknown";
	}
}
