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
void cp_unload_tick(struct gemd *g, uint64_t now);

/* streams.c */
int cp_own_stream(struct gemd *g, const struct gem_sg *sg);
int cp_announce_sek(struct gemd *g, const struct gem_sg *sg, uint16_t key_id, uint64_t now,
		    uint8_t *sek, uint8_t wrapped[GEM_TLV_WRAPPED_LEN]);
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
int cp_load_rx_walk(void *arg, const struct gem_db_entry *e);
void cp_pins_try(struct gemd *g, uint64_t now);

#endif
