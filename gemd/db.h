/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * GEM control-plane record store and propagation engine
 * (docs/PROTOCOL.md section 10).
 *
 * Holds the Public Key and SEK Announce records of the domain and floods them
 * between neighbours with Babel-like guarantees: each record is keyed by
 * (type, origin, subject) and carries a sequence number, the newer version
 * wins; a newly accepted version is forwarded to every neighbour but the one
 * it came from, acknowledged, and retransmitted with exponential backoff until
 * acknowledged; a neighbour coming up gets our whole table and is asked for
 * its own; records expire unless their origin refreshes them.
 *
 * The engine owns no socket and no key: the caller passes packets in
 * (gem_db_input), the time in milliseconds of a monotonic clock ("now") for
 * its timers, and callbacks that send packets, verify and sign records, learn
 * about changes and (optionally) read the wall clock, which records' origin
 * times are compared with.  So the same code runs in gemd and in a simulated
 * network.
 *
 * Neighbours are the caller's handles (uint32_t, e.g. the index of the
 * IPsec tunnel); the engine only compares them.
 *
 * gem_db_input sends what it causes (acks, forwards) before it returns;
 * gem_db_neigh_up, gem_db_originate and gem_db_withdraw only schedule, and
 * gem_db_next_timeout() is then "now": the caller's next gem_db_tick sends
 * it all, batched.
 *
 * Callbacks run synchronously inside the call that triggers them; they may
 * read the store (gem_db_lookup, gem_db_pubkey, gem_db_walk) but must not
 * call any other gem_db_* function on the same store.
 */
#ifndef GEM_DB_H
#define GEM_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gemd/tlv.h"

#define GEM_DB_NEVER	UINT64_MAX

struct gem_db;

/* Why a record was refused: the one list of the reasons, as
 * X(ENUM, name) where name is the counter's (control-stats:
 * "rejected_<name>").  Counted per reason (struct gem_db_rejects),
 * reported through ops->on_reject; a refused record is acknowledged (the
 * sender need not retransmit it) and neither stored nor forwarded. */
#define GEM_DB_REASONS(X)						\
	X(MALFORMED, malformed)		/* a GEM TLV with a wrong length or value */ \
	X(BAD_NODE_ID, bad_node_id)	/* Public Key: origin != node id of the key */ \
	X(BAD_SIG, bad_signature)	/* origin's Ed25519 signature */	\
	X(BAD_HMAC, bad_hmac)		/* SEK Announce: ctl-hmac (GAK holders) */ \
	X(UNWRAP, unwrap_failed)	/* SEK Announce: KWP integrity (GAK holders) */ \
	X(POLICY, policy)		/* caller's policy: suite, address family, ... */ \
	X(KEY_CONFLICT, key_conflict)	/* node id bound to another public key */ \
	X(ADDR_CONFLICT, address_conflict) /* address claimed by another node */ \
	X(STREAM_CONFLICT, stream_conflict) /* (source, group) bound to another origin */ \
	X(TABLE_FULL, table_full)	/* params.max_records reached */	\
	X(CLOCK, clock_skew)		/* origin time ahead of our clock by more than \
					 * params.max_skew_ms */		\
	X(ORIGIN_FULL, origin_full)	/* params.max_per_origin SEK Announce keys of \
					 * that origin stored */

enum gem_db_reason {
#define GEM_DB_X(e, name) GEM_DB_R_##e,
	GEM_DB_REASONS(GEM_DB_X)
#undef GEM_DB_X
	GEM_DB_R__MAX
};

/* What verify returns to refuse a record: below -4095, so never an errno. */
#define GEM_DB_REJECT(why)	(-4096 - (int)(why))
/* What verify returns to accept a SEK Announce it checked with the group's
 * key (HMAC and unwrap: a GAK holder).  Only such records (and own ones)
 * bind their stream (docs/PROTOCOL.md 10.10); one accepted with 0 (on the
 * signature alone: a relay) is carried, never binds and is never refused
 * for a stream another origin holds. */
#define GEM_DB_VERIFIED_GROUP	1

enum gem_db_event {
	GEM_DB_EV_NEW = 1,	/* a key gets a live record (first, or again) */
	GEM_DB_EV_UPDATED,	/* a newer live version replaces a live one;
				 * also at each refresh, so compare with
				 * gem_rec_same_content() before reloading */
	GEM_DB_EV_WITHDRAWN,	/* its origin withdrew a live record */
	GEM_DB_EV_EXPIRED,	/* a live record reached its lifetime */
};

struct gem_db_ops {
	/* Send one packet to neighbour nh (buf is valid during the call only).
	 * 0 or -errno; a failure is counted and what the packet carried is
	 * retransmitted as if it was lost. */
	int (*send)(void *ctx, uint32_t nh, const void *buf, size_t len);
	/*
	 * Judge a record that is newer than the stored version (or new), before
	 * the engine checks its binding rules.  Must not change any state:
	 * load keys from on_change.  Returns
	 *   0                    accept;
	 *   GEM_DB_VERIFIED_GROUP accept, group key checked (SEK Announce);
	 *   -EAGAIN              not verifiable yet (e.g. no Public Key of the
	 *                        origin): not acknowledged, so the sender
	 *                        retransmits; any other -errno is treated alike
	 *                        (e.g. a transient HSM error);
	 *   GEM_DB_REJECT(why)   refuse: counted, acknowledged, dropped.
	 */
	int (*verify)(void *ctx, uint32_t nh, const struct gem_rec *rec);
	/* Fill in the authenticators of an own record whose other fields are
	 * final: for a SEK Announce sek.hmac, then sig (which covers it). */
	int (*sign)(void *ctx, struct gem_rec *rec);
	/* Optional.  The table changed.  old is the version replaced (UPDATED,
	 * WITHDRAWN), else NULL.  Not called for records this node originates. */
	void (*on_change)(void *ctx, enum gem_db_event ev, const struct gem_rec *rec,
			  const struct gem_rec *old);
	/* Optional.  A record was refused; rec is NULL if it did not parse.
	 * For the log: gem_db_reason_name(why). */
	void (*on_reject)(void *ctx, uint32_t nh, const struct gem_rec *rec,
			  enum gem_db_reason why);
	/* Optional.  Wall-clock time in ms since 1970 UTC, for origin times
	 * (NULL: CLOCK_REALTIME). */
	uint64_t (*clock)(void *ctx);
};

/* Zero fields take the default. */
struct gem_db_params {
	size_t mtu;			/* largest packet sent, header included:
					 * default 1200, at least 261 */
	uint32_t rto_ms;		/* first retransmission timeout: 500 */
	uint32_t rto_max_ms;		/* backoff cap: 16000 */
	unsigned int max_tries;		/* transmissions of a record or Request
					 * to one neighbour before giving up: 12 */
	size_t max_records;		/* table size cap, tombstones included: 16384 */
	uint32_t max_skew_ms;		/* origin time accepted ahead of our clock:
					 * 30000 */
	uint32_t max_lifetime;		/* longest lifetime accepted (s), and how
					 * long a key's newest version is
					 * remembered past its origin time: 7200
					 * (gemd's records live 3600 s) */
	size_t max_per_origin;		/* SEK Announce keys per origin, tombstones
					 * included: 4096 (256 streams, each with
					 * ~5 keys live, withdrawn or tombstoned) */
};

struct gem_db_rejects {
#define GEM_DB_X(e, name) uint64_t name;
	GEM_DB_REASONS(GEM_DB_X)
#undef GEM_DB_X
};

struct gem_db_stats {
	uint64_t rx_packets;		/* given to gem_db_input by a neighbour */
	uint64_t rx_bad_packets;	/* bad header: dropped whole */
	uint64_t rx_truncated;		/* a TLV ran past the body: rest ignored */
	uint64_t rx_not_neighbour;	/* from a handle that is not up */
	uint64_t rx_unknown_tlvs;	/* skipped */
	uint64_t rx_records;		/* record TLVs */
	uint64_t rx_new;		/* accepted, first version of a key */
	uint64_t rx_updated;		/* accepted, newer version */
	uint64_t rx_duplicates;		/* same version as ours: acked */
	uint64_t rx_older;		/* older than ours: acked, ours sent back
					 * (not a tombstone's) */
	uint64_t rx_unordered;		/* seqno exactly 2^31 away: acked, ignored */
	uint64_t rx_expired;		/* arrived at or past its origin's expiry
					 * (origin time + lifetime): acked */
	uint64_t rx_deferred;		/* verify: -EAGAIN, not acked */
	uint64_t rx_verify_errors;	/* verify: other -errno, not acked */
	uint64_t rx_rejected;		/* sum of rej */
	uint64_t rx_acks;		/* ack entries */
	uint64_t rx_requests;
	uint64_t tx_packets;
	uint64_t tx_bytes;
	uint64_t tx_records;		/* record TLVs, retransmissions included */
	uint64_t tx_retransmits;
	uint64_t tx_acks;		/* ack entries */
	uint64_t tx_requests;
	uint64_t tx_gave_up;		/* records/Requests dropped after max_tries */
	uint64_t tx_errors;		/* send() failed */
	uint64_t own_originated;	/* gem_db_originate/withdraw made a version */
	uint64_t own_refreshed;		/* refreshed at half the lifetime */
	uint64_t own_seqno_jumps;	/* a newer version of an own record came
					 * back (restart): jumped above it */
	uint64_t sign_errors;
	uint64_t expired;		/* EXPIRED events */
	uint64_t withdrawn;		/* WITHDRAWN events */
	uint64_t tombstones_dropped;	/* forgotten keys (10.9) */
	struct gem_db_rejects rej;	/* per reason */
};

/* Every counter of struct gem_db_stats by name, for gemctl control-stats:
 * rej.* appear as "rejected_<reason>". */
struct gem_db_stat_field {
	const char *name;
	size_t off;			/* of a uint64_t in struct gem_db_stats */
};
extern const struct gem_db_stat_field gem_db_stat_fields[];
extern const size_t gem_db_n_stat_fields;

/* ---- lifecycle ------------------------------------------------------------------ */

/* self: this node's id.  ops->send, verify and sign are required. */
int gem_db_new(struct gem_db **dbp, const uint8_t self[GEM_TLV_ID_LEN],
	       const struct gem_db_ops *ops, void *ctx, const struct gem_db_params *params);
void gem_db_free(struct gem_db *db);

/* ---- neighbours (learnt from babeld) ----------------------------------------------- */

/* nh is up: push our whole table to it and send it a Request for its own
 * (retransmitted until acknowledged).  Calling it for a neighbour already up
 * does the same again (use it when the neighbour restarted). */
int gem_db_neigh_up(struct gem_db *db, uint32_t nh, uint64_t now);
/* nh is gone: drop everything pending for it.  Records stay.  -ENOENT. */
int gem_db_neigh_down(struct gem_db *db, uint32_t nh);

struct gem_db_neigh_info {
	size_t pending;			/* records waiting for its ack */
	size_t acks;			/* acks not yet sent to it */
	bool request_pending;		/* our Request not yet acked */
};
int gem_db_neigh_info(const struct gem_db *db, uint32_t nh, struct gem_db_neigh_info *ni);

/* ---- input, own records, time ------------------------------------------------------- */

/* A packet from neighbour nh.  Every TLV is handled (records, Acks,
 * Requests); the acks, forwards and answers it causes are sent before
 * returning.  0, -ENOTCONN if nh is not up, -EBADMSG or -EPROTONOSUPPORT if
 * the header is bad.  Problems inside are counted, not returned. */
int gem_db_input(struct gem_db *db, uint32_t nh, const void *buf, size_t len,
		 uint64_t now);

/*
 * Originate (or change) an own record: rec gives type, lifetime and the
 * type's fields (pk.addr and pk.key, or sek.*); origin, seqno, age, flags
 * and the authenticators are the engine's.  The seqno is one above any
 * version of the key the store has seen; the record is signed through
 * ops->sign, flooded, and refreshed (new seqno, re-signed) every half
 * lifetime.  The same content again is a no-op.  -EINVAL, -ENOSPC (table
 * full), -EKEYREJECTED / -EADDRINUSE / -EBUSY (it would break a binding:
 * node id, address, stream), or ops->sign's error.
 */
int gem_db_originate(struct gem_db *db, const struct gem_rec *rec, uint64_t now);
/* Withdraw an own record: a new version flagged withdrawn (a SEK Announce's
 * wrapped SEK zeroed; verify must not try to unwrap it), flooded and kept
 * (not refreshed) for its lifetime, then as a tombstone, so older copies
 * cannot come back.
 * -ENOENT no such record, -EPERM not ours. */
int gem_db_withdraw(struct gem_db *db, const struct gem_rec_key *key, uint64_t now);

/* Retransmit what is due, expire records, refresh own ones.  Call it at
 * gem_db_next_timeout() (absolute, ms; GEM_DB_NEVER if nothing waits). */
int gem_db_tick(struct gem_db *db, uint64_t now);
uint64_t gem_db_next_timeout(const struct gem_db *db, uint64_t now);

/* ---- reading ------------------------------------------------------------------------- */

/* The stored version of key (withdrawn ones included: check rec->flags);
 * NULL if none or only a tombstone (an expired key's newest seqno).  Valid until the next call that changes the store. */
const struct gem_rec *gem_db_lookup(const struct gem_db *db, const struct gem_rec_key *key);
/* The live Public Key record of a node, or NULL. */
const struct gem_rec *gem_db_pubkey(const struct gem_db *db, const uint8_t node[GEM_TLV_ID_LEN]);

struct gem_db_entry {
	const struct gem_rec *rec;
	uint64_t age_ms;		/* wall clock - origin time (0 if ahead) */
	uint64_t expires;		/* absolute ms; own live records: refresh */
	bool own;			/* originated here */
	bool has_from;
	uint32_t from;			/* neighbour it came from */
	unsigned int pending;		/* neighbours it waits for an ack from */
};

/* fn for every stored record (not the tombstones), in no particular order; stops at the first
 * non-zero return of fn and returns it. */
int gem_db_walk(const struct gem_db *db, uint64_t now,
		int (*fn)(void *arg, const struct gem_db_entry *e), void *arg);
/* Records stored (live and withdrawn), and tombstones (not walked). */
size_t gem_db_count(const struct gem_db *db);
size_t gem_db_tombstones(const struct gem_db *db);

void gem_db_get_stats(const struct gem_db *db, struct gem_db_stats *st);
const char *gem_db_reason_name(enum gem_db_reason why);
const char *gem_db_event_name(enum gem_db_event ev);

#endif /* GEM_DB_H */
