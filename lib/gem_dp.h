/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* User-space side of the data plane's key loading: turn group MAC keys into
 * what the maps hold (HMAC inner/outer states, CMAC subkeys) and hand keys to
 * the gem_ctl SEC("syscall") program, the only way keys enter the kernel. */
#ifndef GEM_DP_H
#define GEM_DP_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include "gem_common.h"

#define GEM_MAC_KEY_LEN		32	/* suite 1: HMAC-SHA-256 key */
#define GEM_CMAC_KEY_LEN	16	/* suite 2: AES-128 CMAC key */
#define GEM_SEK_LEN		16	/* suites 1-3: AES-128 */
#define GEM_SEK_LEN_CHACHA	GEM_SEK_CHACHA_LEN	/* suite 4: 32 bytes */

/* Name of each counter (enum gem_counter), e.g. "rx_bad_tag". */
extern const char *const gem_counter_names[GEM_C_MAX];

/* Key length a suite's group MAC key must have (0: none, suite 3 keys its
 * MAC per packet from the SEK, or an unknown suite). */
size_t gem_suite_key_len(unsigned suite);

/* SEK length of a suite's streams: 16 (suites 1-3), 32 (suite 4), 0 unknown. */
size_t gem_suite_sek_len(unsigned suite);

/* Name of a suite ("hmac-sha256", "cmac", "poly1305", "chacha20-poly1305")
 * or NULL; and back: a name or the number as text -> suite, -1 if unknown. */
const char *gem_suite_name(unsigned suite);
int gem_suite_parse(const char *name);

/* Suites the loaded data plane offers (bit s: suite s): all four with the
 * kernel's BPF crypto kfuncs, only suite 4 without them.  -errno on failure
 * (-EOPNOTSUPP: an object older than suite 4). */
int gem_dp_suites(int ctl_fd);

/* Install or replace group `grp` with `suite` and its MAC key (32 bytes for
 * suite 1, 16 for suite 2, none for suites 3, 4), recorded as GAK epoch 0,
 * as the group's only key.  ctl_fd: the gem_ctl program.  0 or -errno. */
int gem_dp_set_group(int ctl_fd, const struct gem_addr *grp, unsigned suite,
		     const uint8_t *key, size_t key_len);

/* Group MAC keys of GAK epochs (suites 1, 2; docs/PROTOCOL.md 5).  A group
 * holds at most two: the tx key (egress MACs under it, ingress tries it
 * first) and, while it moves to another epoch, one more that ingress also
 * accepts.  The move: gem_dp_group_key(E+1) on every member, then
 * gem_dp_group_use(E+1), then, once every sender uses E+1,
 * gem_dp_group_retire(E).  Each returns 0 or -errno; -EBUSY only if another
 * op on the group did not finish (after retries).
 *
 * gem_dp_set_group_epoch: gem_dp_set_group (which is epoch 0) with the key's
 *   epoch: the key becomes the group's only key, the tx key; keys of other
 *   epochs are dropped.
 * gem_dp_group_key: load the key of `epoch` as the other (accepted) key;
 *   the same epoch again replaces it.  -ENOENT no such group, -EOPNOTSUPP the
 *   group's suite has no group key (3, 4), -EINVAL suite is not the group's
 *   or key_len not the suite's, -EEXIST epoch is the tx key's, -ENOSPC the
 *   group holds another accepted epoch (retire it first).
 * gem_dp_group_use: make the key of `epoch` the tx key (0 if it is).
 *   -ENOENT: no key of that epoch.
 * gem_dp_group_retire: drop the key of `epoch` (wiped); packets MACed under
 *   it fail (rx_bad_tag).  -ENOENT: not held, -EPERM: it is the tx key. */
int gem_dp_set_group_epoch(int ctl_fd, const struct gem_addr *grp, unsigned suite,
			   uint32_t epoch, const uint8_t *key, size_t key_len);
int gem_dp_group_key(int ctl_fd, const struct gem_addr *grp, uint32_t epoch, unsigned suite,
		     const uint8_t *key, size_t key_len);
int gem_dp_group_use(int ctl_fd, const struct gem_addr *grp, uint32_t epoch);
int gem_dp_group_retire(int ctl_fd, const struct gem_addr *grp, uint32_t epoch);

/* The epochs of a gem_groups map value's keys (a lookup of the map). */
struct gem_dp_group_slots {
	int has_tx;		/* suites 1, 2: 1; suites 3, 4: 0 (no group key) */
	uint32_t tx_epoch;
	int has_other;		/* a second, accepted key (the overlap) */
	uint32_t other_epoch;
};
/* Fills *out; returns how many keys the group holds (0..2). */
int gem_dp_group_slots(const struct gem_group *v, struct gem_dp_group_slots *out);

/* Install or replace group `grp` as a transit group (GEM_GROUP_F_TRANSIT):
 * protected in the domain, no key held here; its sealed packets are relayed
 * and never delivered to a LAN.  suite: the group's suite, or 0 for any.
 * Replaces a keyed entry (its MAC key goes).  0 or -errno. */
int gem_dp_set_group_transit(int ctl_fd, const struct gem_addr *grp, unsigned suite);

/* Install a SEK for (S,G) with key_id for egress (tx=1) or ingress (tx=0).
 * A new egress entry's first pn is CLOCK_REALTIME in ns (docs/PROTOCOL.md 4).
 * 0 or -errno:
 *   -EEXIST  egress: key_id is the current one; ingress: key_id is held with
 *            another SEK (the same SEK again is 0 and keeps the replay window)
 *   -ESTALE  ingress: key_id is older than both key ids held (not loaded)
 *   -ERANGE  egress, new stream: the realtime clock is before 2020 (unset)
 *   -EBUSY   another load of this stream did not finish (after retries) */
int gem_dp_set_sek(int ctl_fd, const struct gem_sg *sg, int tx, uint16_t key_id,
		   const uint8_t sek[GEM_SEK_LEN]);

/* gem_dp_set_sek with a SEK of sek_len bytes: 16 (AES-128, suites 1-3) or
 * 32 (ChaCha20, suite 4).  Other lengths: -EINVAL. */
int gem_dp_set_sek_len(int ctl_fd, const struct gem_sg *sg, int tx, uint16_t key_id,
		       const uint8_t *sek, size_t sek_len);

/* Ingress: like gem_dp_set_sek, but a key_id held with another SEK gets
 * this SEK and keeps its replay window (for the control plane: an origin
 * that re-keyed a key id, its packet numbers above the old ones). */
int gem_dp_replace_rx_sek(int ctl_fd, const struct gem_sg *sg, uint16_t key_id,
			  const uint8_t sek[GEM_SEK_LEN]);
int gem_dp_replace_rx_sek_len(int ctl_fd, const struct gem_sg *sg, uint16_t key_id,
			      const uint8_t *sek, size_t sek_len);

/* Forget group grp's policy (its streams' SEKs stay until deleted): traffic
 * to it passes untouched again.  0, -ENOENT (not protected), -errno. */
int gem_dp_del_group(int ctl_fd, const struct gem_addr *grp);

/* Forget egress stream sg: both key slots and the entry (its next packet is
 * dropped and reported as tx-no-key).  0, -ENOENT, -EBUSY, -errno. */
int gem_dp_del_tx(int ctl_fd, const struct gem_sg *sg);

/* Ingress: unload key_id of sg (a withdrawn or expired SEK); the stream's
 * other key id stays loaded with its replay window; the entry is deleted
 * when no key id is left.  0, -ENOENT (key id not held), -EBUSY, -errno. */
int gem_dp_unload_rx_sek(int ctl_fd, const struct gem_sg *sg, uint16_t key_id);

/* fp = SHA-256("GEM v1 sek-fp" 0x00 || sek)[0..16], what an rx entry keeps
 * of a SEK to tell a reload of the same key from another key. */
void gem_dp_sek_fp(const uint8_t sek[GEM_SEK_LEN], uint8_t fp[GEM_SEK_FP_LEN]);
/* The same over a SEK of sek_len bytes (SHA-256(label || 0x00 || sek)). */
void gem_dp_sek_fp_len(const uint8_t *sek, size_t sek_len, uint8_t fp[GEM_SEK_FP_LEN]);

/* Inner/outer SHA-256 states of HMAC with a 32-byte key (exported for tests). */
void gem_hmac_states(const uint8_t key[GEM_MAC_KEY_LEN], uint32_t istate[8],
		     uint32_t ostate[8]);
/* RFC 4493 subkeys K1, K2 of an AES-128 key.  0 or -errno. */
int gem_cmac_subkeys(const uint8_t key[16], uint8_t k1[16], uint8_t k2[16]);

#endif
