/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * GEM control-plane packets and TLVs (docs/PROTOCOL.md section 10).
 *
 * The encoding is Babel's (RFC 8966 section 4): a 4-byte packet header
 * (magic 42, version 2, 16-bit body length), then TLVs of 8-bit type and
 * 8-bit length; Pad1 and PadN are accepted, unknown TLVs are skipped.  GEM's
 * own TLVs use experimental types 224-254, so the format could later live
 * inside a Babel implementation.  Multi-byte fields are big-endian.
 *
 * Every parser here validates each length before it reads: it takes bytes
 * from the network (and is fuzzed).  Nothing here keeps state or does I/O;
 * the propagation engine is gemd/db.h.
 */
#ifndef GEM_TLV_H
#define GEM_TLV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- packet --------------------------------------------------------------- */

#define GEM_TLV_MAGIC		42
#define GEM_TLV_VERSION		2
#define GEM_TLV_HDR_LEN		4	/* magic, version, body length */
#define GEM_TLV_BODY_MAX	65535

/* TLV types: RFC 8966 padding, GEM's in the experimental range 224-254. */
#define GEM_TLV_PAD1		0	/* a single zero byte, no length */
#define GEM_TLV_PADN		1
#define GEM_TLV_PUBKEY		224	/* Public Key (record) */
#define GEM_TLV_SEK		225	/* SEK Announce (record) */
#define GEM_TLV_ACK		226	/* acknowledges records and Requests */
#define GEM_TLV_REQUEST		227	/* "send me your full table" */

/* ---- fields --------------------------------------------------------------- */

#define GEM_TLV_ID_LEN		8	/* node id (docs/KEYS.md 2.1) */
#define GEM_TLV_ADDR_LEN	16	/* IPv6, or IPv4 as ::ffff:a.b.c.d */
#define GEM_TLV_PK_LEN		32	/* Ed25519 public key */
#define GEM_TLV_SIG_LEN		64	/* Ed25519 signature */
#define GEM_TLV_WRAPPED_LEN	24	/* AES-KWP (RFC 5649) of a 16-byte SEK (suites 1-3) */
#define GEM_TLV_WRAPPED_LEN_S4	40	/* AES-KWP of suite 4's 32-byte SEK */
#define GEM_TLV_WRAPPED_MAX	40
#define GEM_TLV_HMAC_LEN	32	/* HMAC-SHA-256 */
#define GEM_TLV_CTL_KEY_LEN	32	/* the group's ctl-hmac key */

/* Record flags (byte 24 of a record body). */
#define GEM_REC_F_WITHDRAWN	0x01	/* the origin retracts the subject */

/* Lifetime of a record in seconds: 1 .. 30 days (a receiver may accept
 * less: gem_db_params.max_lifetime). */
#define GEM_REC_LIFETIME_MAX	(30u * 24 * 3600)

/* Body lengths (docs/PROTOCOL.md 10.4, 10.5).  A SEK Announce's follows
 * from its suite byte (offset 25): 200 for suite 4 (40 wrapped bytes), 184
 * for every other suite value (24); the others are fixed. */
#define GEM_TLV_REC_HDR_LEN	25	/* origin .. flags, common to records */
#define GEM_TLV_PUBKEY_LEN	137
#define GEM_TLV_SEK_LEN		184	/* suites 1-3 */
#define GEM_TLV_SEK_LEN_S4	200	/* suite 4 (ChaCha20-Poly1305) */
#define GEM_TLV_SEK_SUITE4	4
#define GEM_TLV_REQUEST_LEN	4

/* Record subject: what a record is about, besides its origin.  Public Key:
 * empty (the origin is the subject); SEK Announce: source, group, key id. */
#define GEM_REC_SUBJ_MAX	34

/* ---- records: Public Key and SEK Announce ----------------------------------- */

struct gem_rec {
	uint8_t type;			/* GEM_TLV_PUBKEY or GEM_TLV_SEK */
	uint8_t flags;			/* GEM_REC_F_* */
	uint8_t origin[GEM_TLV_ID_LEN];
	uint32_t seqno;
	uint64_t time_ms;		/* origin time: when the origin made this
					 * version, ms since 1970 UTC (signed) */
	uint32_t lifetime;		/* seconds from time_ms (signed) */
	union {
		struct {
			uint8_t addr[GEM_TLV_ADDR_LEN];	/* routable address */
			uint8_t key[GEM_TLV_PK_LEN];	/* Ed25519 */
		} pk;
		struct {
			uint8_t suite;			/* data-plane suite */
			uint8_t src[GEM_TLV_ADDR_LEN];
			uint8_t grp[GEM_TLV_ADDR_LEN];
			uint16_t key_id;
			uint32_t epoch;			/* GAK epoch */
			/* gem_tlv_sek_wrapped_len(suite) bytes,
			 * the rest zero */
			uint8_t wrapped[GEM_TLV_WRAPPED_MAX];
			uint8_t hmac[GEM_TLV_HMAC_LEN];
		} sek;
	};
	uint8_t sig[GEM_TLV_SIG_LEN];	/* Ed25519 by the origin */
};

/* Identity of a record: (type, origin, subject).  Two records with the same
 * key are versions of one another; the newer replaces the older. */
struct gem_rec_key {
	uint8_t type;
	uint8_t origin[GEM_TLV_ID_LEN];
	uint8_t subj_len;
	uint8_t subj[GEM_REC_SUBJ_MAX];
};

bool gem_tlv_is_rec(unsigned int type);
/* Body length of a record TLV of this type; 0 if not a record type.  For a
 * SEK Announce: that of suites 1-3 (gem_tlv_sek_body_len for any suite). */
size_t gem_tlv_rec_body_len(unsigned int type);
/* Wrapped SEK field of a SEK Announce of this suite: 40 bytes for suite 4,
 * 24 for any other value; and the body length that follows (200, 184). */
size_t gem_tlv_sek_wrapped_len(unsigned int suite);
size_t gem_tlv_sek_body_len(unsigned int suite);
/* Body length of this record (its type and, for a SEK Announce, suite). */
size_t gem_tlv_rec_len(const struct gem_rec *r);
void gem_rec_key_of(const struct gem_rec *r, struct gem_rec_key *k);
bool gem_rec_key_eq(const struct gem_rec_key *a, const struct gem_rec_key *b);

/* Same content apart from seqno, origin time and authenticators: e.g. a refresh,
 * after which a SEK need not be reloaded. */
bool gem_rec_same_content(const struct gem_rec *a, const struct gem_rec *b);

/* RFC 8966 section 3.2.1 comparison, on 32 bits: -1 if a is older than b,
 * 1 if newer, 0 if equal, 2 if they are exactly 2^31 apart (neither). */
int gem_seqno_cmp(uint32_t a, uint32_t b);

/* ---- packet parsing ------------------------------------------------------------ */

struct gem_tlv {
	uint8_t type;
	uint8_t len;
	const uint8_t *body;
};

struct gem_tlv_iter {
	const uint8_t *body;
	size_t len;		/* body length from the header */
	size_t off;
};

/* Check the packet header: at least 4 bytes, magic 42, version 2, and the
 * announced body length present (bytes after it are the RFC 8966 trailer,
 * ignored).  -EBADMSG if malformed, -EPROTONOSUPPORT for another version. */
int gem_tlv_pkt_parse(const void *buf, size_t len, struct gem_tlv_iter *it);
/* Next TLV, Pad1 and PadN skipped: 1 and *t filled, 0 at the end of the
 * body, -EBADMSG if a TLV runs past the body (the rest of the packet is then
 * ignored, as babeld does; TLVs returned before it stand). */
int gem_tlv_next(struct gem_tlv_iter *it, struct gem_tlv *t);

/* Record TLV -> struct.  -ENOENT if t is not a record type, -EBADMSG if its
 * length is not the type's (a SEK Announce's: its suite's) or the lifetime is
 * out of range. */
int gem_tlv_rec_decode(const struct gem_tlv *t, struct gem_rec *r);
/* struct -> TLV (type, length, body) in buf.  Returns the bytes written,
 * -ENOSPC if cap is too small, -EINVAL if r is not a valid record. */
int gem_tlv_rec_encode(const struct gem_rec *r, void *buf, size_t cap);

/* Acknowledgment entries (an Ack TLV holds one or more, back to back).
 * key.type says what is acknowledged: a record (key and seqno) or a
 * Request (key.type GEM_TLV_REQUEST, seqno holds its nonce). */
struct gem_tlv_ack {
	struct gem_rec_key key;
	uint32_t seqno;
};

/* Entries fit at 5 bytes minimum in a 255-byte body. */
#define GEM_TLV_ACK_MAX		51

/* Length of an ack entry for type; 0 if type cannot be acknowledged. */
size_t gem_tlv_ack_entry_len(unsigned int type);
/* Decode every entry of an Ack TLV into a[0..max); returns the count or
 * -EBADMSG (empty, an unknown entry type, a truncated entry: the whole TLV
 * is then ignored), -ENOSPC if max is too small. */
int gem_tlv_ack_decode(const struct gem_tlv *t, struct gem_tlv_ack *a, size_t max);
/* Request TLV -> nonce; -EBADMSG if the length is not 4. */
int gem_tlv_request_decode(const struct gem_tlv *t, uint32_t *nonce);

/* ---- packet building --------------------------------------------------------- */

struct gem_tlv_pkt {
	uint8_t *buf;
	size_t cap;
	size_t len;		/* header included */
	size_t ack_off;		/* offset of an open Ack TLV, 0 if none */
};

/* cap: at least GEM_TLV_HDR_LEN, at most GEM_TLV_HDR_LEN + 65535. */
int gem_tlv_pkt_init(struct gem_tlv_pkt *p, void *buf, size_t cap);
/* Append; -ENOSPC (packet unchanged) if it does not fit. */
int gem_tlv_pkt_add_rec(struct gem_tlv_pkt *p, const struct gem_rec *r);
int gem_tlv_pkt_add_request(struct gem_tlv_pkt *p, uint32_t nonce);
/* Appends to the Ack TLV just before if it has room, else opens one. */
int gem_tlv_pkt_add_ack(struct gem_tlv_pkt *p, const struct gem_tlv_ack *a);
bool gem_tlv_pkt_empty(const struct gem_tlv_pkt *p);
/* Write the body length; returns the packet's total length. */
size_t gem_tlv_pkt_finish(struct gem_tlv_pkt *p);

/* ---- authentication (docs/PROTOCOL.md 10.4, 10.5) ----------------------------- */

/* Bytes a signature or HMAC covers: a domain-separation prefix, then the
 * record body from its start (every field is signed) up to the field itself. */
#define GEM_TLV_AUTH_INPUT_MAX	160

/* Input of the origin's Ed25519 signature (either record type).  Returns the
 * length, -EINVAL for a bad type, -ENOSPC if cap is too small. */
int gem_tlv_sig_input(const struct gem_rec *r, uint8_t *buf, size_t cap);
/* Input of the SEK Announce HMAC. */
int gem_tlv_hmac_input(const struct gem_rec *r, uint8_t *buf, size_t cap);

/* Public Key: does origin equal the node id of the key (docs/KEYS.md 2.1)? */
bool gem_tlv_pubkey_id_ok(const struct gem_rec *r);
/* r->sig under pk (for a Public Key, pass r->pk.key): 0 or -EBADMSG. */
int gem_tlv_sig_verify(const struct gem_rec *r, const uint8_t pk[GEM_TLV_PK_LEN]);
/* HMAC-SHA-256 of a SEK Announce under the group's ctl-hmac key. */
int gem_tlv_hmac_compute(const struct gem_rec *r, const uint8_t key[GEM_TLV_CTL_KEY_LEN],
			 uint8_t mac[GEM_TLV_HMAC_LEN]);
/* Constant-time check of r->sek.hmac: 0 or -EBADMSG. */
int gem_tlv_hmac_verify(const struct gem_rec *r, const uint8_t key[GEM_TLV_CTL_KEY_LEN]);

const char *gem_tlv_type_name(unsigned int type);

#endif /* GEM_TLV_H */
