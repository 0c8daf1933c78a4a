/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * gemd control plane (part 2, docs/CONTROL.md section 8): what its files
 * share.  A key's way from the HSM to a map, file by file:
 *
 *   cp.c         lifecycle (init, reload, tick), which groups this node
 *                holds the GAK of
 *   cp_net.c     transport: the UDP socket over the tunnels, neighbours
 *   cp_record.c  the record store's callbacks: verify and sign (HSM),
 *                ingress SEK load and unload
 *   admit.c      which new streams may be keyed (tx-no-key events)
 *   streams.c    own streams: SEK made and wrapped in the HSM, announced,
 *                loaded for egress, rotated, retired
 *   cp_dp.c      the pinned data-plane maps: groups' MAC keys, and what
 *                is loaded once gem-load has attached
 *   epochs.c     GAK epochs: the one records use, rekey, retirement
 *   cp_stats.c   gemctl control-stats
 */
#ifndef GEMD_CP_INT_H
#define GEMD_CP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "gemd/gemd.h"

/* cp.c */
/* A suite by name (lib/gem_dp.c holds the one table); 0 for a name it does
 * not know, which the configuration parser has refused already. */
unsigned int cp_suite_of(const char *name);
uint32_t cp_handle_of(const struct gemd *g, const struct gemd_peer *p);
/* The data-plane suite of configured group i. */
unsigned int cp_suite_of_group(const struct gemd *g, int i);
size_t cp_sek_len_of(const struct gemd *g, const uint8_t grp[16]);
/* The suite of grp: its group's (cp_suite_of_group), else [groups] suite. */
unsigned int cp_suite_of_addr(const struct gemd *g, const uint8_t grp[16]);
/* Index of grp in the configuration, else -1. */
int cp_group_index(const struct gemd *g, const uint8_t grp[16]);
/* Index of grp in the configuration if this node holds its GAK, else -1. */
int cp_member_of(const struct gemd *g, const uint8_t grp[16]);

/* cp_net.c */
int cp_open_socket(void);
int cp_send(void *ctx, uint32_t nh, const void *buf, size_t len);
/* Neighbours up/down from the peers' tunnels. */
void cp_neigh_tick(struct gemd *g, uint64_t now);

/* cp_record.c */
extern const struct gem_db_ops cp_ops;
void cp_load_rx_sek(struct gemd *g, const struct gem_rec *r);
/* Unload r's ingress SEK after GEMD_CP_UNLOAD_GRACE_MS. */
void cp_unload_schedule(struct gemd *g, const struct gem_rec *r, uint64_t now);
void cp_unload_tick(struct gemd *g, uint64_t now);

/* streams.c */
int cp_own_stream(struct gemd *g, const struct gem_sg *sg);
int cp_announce_sek(struct gemd *g, const struct gem_sg *sg, uint16_t key_id, uint64_t now,
		    uint8_t *sek, uint8_t wrapped[GEM_TLV_WRAPPED_MAX]);
bool cp_tx_state(struct gemd *g, const struct gem_sg *sg, struct gem_tx_stream *tv);
bool cp_declared(const struct gemd *g, const struct gem_sg *sg);
struct gemd_cp_own *cp_own_add(struct gemd *g, const struct gem_sg *sg, uint16_t key_id,
			       uint64_t now);
void cp_mon_stream(struct gemd *g, const char *name, const char *s, const char *gr,
		   const char *phase, const char *why, uint16_t from, uint16_t to);
void cp_rotate_start(struct gemd *g, struct gemd_cp_own *o, uint64_t now, const char *why);
void cp_rotate_tick(struct gemd *g, uint64_t now);

/* admit.c */
void cp_retry_tick(struct gemd *g, uint64_t now);
void cp_adopt_streams(struct gemd *g, uint64_t now);
void cp_declared_streams(struct gemd *g, uint64_t now);
int cp_on_dp_event(void *ctx, void *data, size_t len);

/* cp_dp.c */
void cp_load_groups(struct gemd *g);
void cp_load_group(struct gemd *g, int i);
int cp_load_rx_walk(void *arg, const struct gem_db_entry *e);
void cp_pins_try(struct gemd *g, uint64_t now);

/* epochs.c */
/* Which epochs of each configured group the token holds; the active one
 * (kept over a reload while held, else the oldest held); have_gak[].  Logs
 * each group whose membership changed from old (NULL: at start). */
void cp_find_gaks(struct gemd *g, const struct gemd_config *old);
bool cp_epoch_held(const struct gemd *g, int gi, uint32_t e);
/* The active epoch of grp (0 if not configured). */
uint32_t cp_epoch_active(const struct gemd *g, const uint8_t grp[16]);
/* A record of group gi under epoch e verified with its key: a newer held
 * epoch makes this node switch (at the next cp_epoch_tick). */
void cp_epoch_verified(struct gemd *g, int gi, uint32_t e);
/* A record of group gi under an epoch this node does not hold. */
void cp_epoch_unheld(struct gemd *g, const struct gem_rec *r, const char *desc);
void cp_epoch_tick(struct gemd *g, uint64_t now);

#endif
