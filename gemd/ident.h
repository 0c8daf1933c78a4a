/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Node identity bound to the tunnel (docs/CONTROL.md section 4.5,
 * docs/PROTOCOL.md section 11).
 *
 * IKE proves only that the neighbour holds the domain's Bootstrap Key: the
 * node id it claims (beacon, IKE identity "gem-<id>") is a claim.  Once the
 * IKE SA and CHILD SA are up, each end proves the id over the tunnel: an
 * Ed25519 signature by its node key over both node ids, both IKE SPIs of
 * this IKE SA and a fresh challenge of the verifier.  The node id is
 * self-certifying (SHA-256("GEM v1 node-id" 0x00 || pk)[0..8], KEYS.md), so
 * the public key travels in the message.  Until the proof verifies, the
 * neighbour carries no records and no Babel; a failed proof (or none within
 * GEM_IDENT_TIMEOUT_MS) tears the tunnel down.
 *
 * Message: UDP to [ff02::6d:7]:GEM_IDENT_PORT on the tunnel's TUN, hop
 * limit 255, exactly GEM_IDENT_LEN bytes, integers big-endian:
 *
 *   off len
 *     0   4  magic "GEMI"
 *     4   1  version (1)
 *     5   1  flags: bit 0 PROOF (pk and sig are valid, echo is the
 *            receiver's challenge they answer); bit 1 DONE (the sender has
 *            verified the receiver's proof for this IKE SA); others 0
 *     6   2  reserved (0)
 *     8   8  sender node id
 *    16   8  receiver node id (as the sender knows it)
 *    24   8  IKE SA initiator SPI
 *    32   8  IKE SA responder SPI
 *    40  32  sender's challenge (random, new for every IKE SA)
 *    72  32  echo: the receiver's challenge (zero without PROOF)
 *   104  32  sender's Ed25519 public key (zero without PROOF)
 *   136  64  signature (zero without PROOF) over
 *            "GEM v1 node-identity-proof" 0x00 || sender id || receiver id
 *            || initiator SPI || responder SPI || echo
 */
#ifndef GEMD_IDENT_H
#define GEMD_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GEM_IDENT_PORT		6699u
#define GEM_IDENT_MAGIC		"GEMI"
#define GEM_IDENT_VERSION	1
#define GEM_IDENT_LEN		200
#define GEM_IDENT_NONCE_LEN	32
#define GEM_IDENT_F_PROOF	0x01
#define GEM_IDENT_F_DONE	0x02
#define GEM_IDENT_CONTEXT	"GEM v1 node-identity-proof"
#define GEM_IDENT_SIG_INPUT_LEN	(sizeof(GEM_IDENT_CONTEXT) + 8 + 8 + 16 + GEM_IDENT_NONCE_LEN)

#define GEM_IDENT_TIMEOUT_MS	20000u	/* IKE up, no valid proof: torn down */
#define GEM_IDENT_RESEND_MS	1000u	/* our message again while not both done */
#define GEM_IDENT_REPLY_MS	200u	/* at most one immediate reply this often */
#define GEM_IDENT_BACKOFF_MS	10000u	/* no new tunnel after a failure, doubling */
#define GEM_IDENT_BACKOFF_MAX_MS 300000u

struct gem_ident_msg {
	uint8_t flags;
	uint8_t from[8], to[8];
	uint8_t spi[16];		/* initiator SPI || responder SPI */
	uint8_t nonce[GEM_IDENT_NONCE_LEN];
	uint8_t echo[GEM_IDENT_NONCE_LEN];
	uint8_t pk[32];
	uint8_t sig[64];
};

/* GEM_IDENT_LEN, or -EMSGSIZE. */
int gem_ident_encode(const struct gem_ident_msg *m, uint8_t *buf, size_t len);
/* 0, -EBADMSG (length, magic, reserved bits) or -EPROTONOSUPPORT. */
int gem_ident_decode(const uint8_t *buf, size_t len, struct gem_ident_msg *m);
/* The bytes the signature covers (GEM_IDENT_SIG_INPUT_LEN). */
void gem_ident_sig_input(const struct gem_ident_msg *m, uint8_t out[GEM_IDENT_SIG_INPUT_LEN]);

/* What a received message means to the end that expects it from peer_id
 * over the IKE SA spi, having sent the challenge my_nonce. */
enum gem_ident_verdict {
	GEM_IDENT_OK = 0,	/* a valid proof of peer_id for this SA and challenge */
	GEM_IDENT_NO_PROOF,	/* well-formed, no proof in it (yet) */
	GEM_IDENT_STALE,	/* another IKE SA or an older challenge: ignore */
	GEM_IDENT_WRONG_ID,	/* fail: sender or receiver id is not the claimed pair */
	GEM_IDENT_PK_NOT_ID,	/* fail: the public key is not the claimed node id's */
	GEM_IDENT_BAD_SIG,	/* fail: signature does not verify */
};
enum gem_ident_verdict gem_ident_check(const struct gem_ident_msg *m, const uint8_t peer_id[8],
				       const uint8_t self_id[8], const uint8_t spi[16],
				       const uint8_t my_nonce[GEM_IDENT_NONCE_LEN]);
const char *gem_ident_verdict_str(enum gem_ident_verdict v);

/* Per neighbour (struct gemd_peer). */
enum gemd_ident_state {
	GEMD_IDENT_NONE,	/* no established tunnel with known SPIs */
	GEMD_IDENT_PROVING,	/* challenge sent, no valid proof yet */
	GEMD_IDENT_PROVEN,	/* the neighbour proved its node id on this IKE SA */
};

struct gemd_ident {
	/* this IKE SA's exchange (cleared when the SA changes) */
	enum gemd_ident_state state;
	const void *tun;		/* the struct tunnel it belongs to */
	uint32_t gen;
	uint8_t spi[16];
	unsigned int ifindex;		/* the tunnel's TUN */
	uint8_t nonce[GEM_IDENT_NONCE_LEN];
	uint8_t peer_nonce[GEM_IDENT_NONCE_LEN];
	bool have_peer_nonce, have_sig, peer_done;
	uint8_t sig[64];		/* our proof over peer_nonce */
	uint64_t since_ms, next_send_ms, replied_ms;
	/* kept across SAs */
	uint64_t retry_ms;		/* no tunnel before this after a failure */
	unsigned int backoff_ms, failures;
	char problem[160];		/* the last failure, for gemctl peers */
	uint64_t problem_ms;
};

struct gemd_ident_stats {
	uint64_t proven, failed, timeouts, wrong_id, pk_not_id, bad_sig;
	uint64_t rx_stale, rx_foreign, tx, signatures;
};

struct gemd;
struct gemd_peer;
/* The socket: [::]:GEM_IDENT_PORT.  0 or -errno. */
int gemd_ident_open(struct gemd *g);
void gemd_ident_close(struct gemd *g);
/* Per neighbour, every tick after its tunnel's: start, resend, time out. */
void gemd_ident_tick(struct gemd *g, struct gemd_peer *p, uint64_t now_ms);
/* The socket is readable. */
void gemd_ident_input(struct gemd *g, uint64_t now_ms);
/* The neighbour proved its id on its current tunnel: records and Babel. */
bool gemd_peer_trusted(const struct gemd_peer *p);

#endif
