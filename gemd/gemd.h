/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * gemd: GEM's control-plane daemon (docs/CONTROL.md).  The daemon's state,
 * shared by its parts:
 *   gemd.c         main: configuration, HSM, runtime dir, poll loop, signals
 *   peer.c         neighbour table: beacons in and out, one tunnel each
 *   disc.c         beacon wire format and discovery sockets
 *   ident.c        node identity proven over each tunnel
 *   tunnel*.c      tunnel backends (strongSwan)
 *   babel.c        babeld: configuration, supervision, local interface
 *   ctlsock.c      UNIX socket for gemctl (peers, routes)
 *   monitor.c      live events for gemctl monitor
 *   reload.c       SIGHUP: configuration changes applied while running
 */
#ifndef GEMD_H
#define GEMD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "gemd/babel.h"
#include "gemd/db.h"
#include "gemd/config.h"
#include "gemd/disc.h"
#include "gemd/ident.h"
#include "gemd/monitor.h"
#include "gemd/tunnel.h"
#include "gemd/clock.h"
#include "gemd/ids.h"
#include "gem_common.h"
#include "gem_pin.h"

struct gem_keys;
struct ring_buffer;
struct tunnel;

/* Control plane part 2 (cp*.c, streams.c, admit.c: gemd/cp_int.h;
 * docs/CONTROL.md section 8). */
#define GEMD_CP_PORT		6698u		/* UDP, inside the tunnels only */
#define GEMD_CP_GROUP		"ff02::6d:7"	/* destination on a tunnel's TUN */
#define GEMD_CP_PK_LIFETIME	3600		/* s; refreshed every 30 min */
#define GEMD_CP_SEK_LIFETIME	3600		/* s; refreshed every 30 min */
#define GEMD_CP_MAX_OWN		256		/* streams this node seals */
#define GEMD_CP_UNLOAD_GRACE_MS	2000		/* a withdrawn SEK opens this long more */
#define GEMD_CP_MAX_UNLOAD	256		/* unloads waiting out the grace */
#define GEMD_CP_RETRY		64		/* refused streams reported again */
#define GEMD_CP_RETRY_MS	2000
#define GEMD_CP_MAX_EPOCHS	8		/* GAK epochs of a group looked at */
#define GEMD_CP_EPOCH_GRACE_MS	10000		/* older epochs kept after a switch */

struct gemd_cp_nb {
	bool up;
	unsigned int ifindex;		/* the tunnel's TUN */
	const struct tunnel *tun;
	uint32_t gen, peer_gen;		/* a change: neighbour up again */
};

struct gemd_cp {
	struct gem_db *db;
	int fd;
	bool have_gak[GEMD_MAX_GROUPS];	/* per cfg.groups[] */
	/* GAK epochs per cfg.groups[] (gemd/epochs.c, docs/CONTROL.md 13.6) */
	struct gemd_cp_epochs {
		uint32_t held[GEMD_CP_MAX_EPOCHS];	/* in the token, ascending */
		int nheld;
		uint32_t active;	/* own records wrapped and HMACed under it */
		uint32_t want;		/* > active: a verified record uses it */
		uint64_t switched_ms;	/* active last changed (0: chosen at start) */
		uint64_t unheld_logged;	/* records of epochs not held: log 1, 2, 4.. */
	} ep[GEMD_MAX_GROUPS];
	struct gemd_cp_nb *nb;		/* per peer slot = db neighbour handle */
	struct gem_pins pins;
	bool pins_open, pins_logged;
	uint64_t pins_retry_ms, rotate_check_ms;
	struct ring_buffer *rb;
	/* own streams (we seal them): the egress key id, when it went in
	 * and the stream's packet count then; a rotation in progress has
	 * next_id != 0: its SEK is announced (wrapped copy kept here, no
	 * plaintext), egress switches rotate_delay after the announce has
	 * reached the neighbours (sent_ms) */
	struct gemd_cp_own {
		struct gem_sg sg;
		uint16_t key_id, next_id;
		uint32_t epoch, next_epoch;	/* GAK epochs of their records */
		uint64_t since_ms, pkts0;
		uint64_t announced_ms, sent_ms;
		uint32_t seqno;
		uint8_t wrapped[GEM_TLV_WRAPPED_MAX];	/* its suite's length */
		uint64_t last_pkts, active_ms;	/* idleness: stream_idle */
		bool declared;			/* [groups] stream: never idle */
	} own[GEMD_CP_MAX_OWN];
	int nown;
	struct gemd_bucket new_streams;	/* [groups] stream_rate / stream_burst */
	/* ingress SEKs withdrawn or expired, unloaded at due_ms */
	struct gemd_cp_unload {
		struct gem_sg sg;
		uint16_t key_id;
		uint64_t due_ms;
	} unload[GEMD_CP_MAX_UNLOAD];
	int nunload;
	/* refused tx-no-key events: their gem_notified note is cleared at
	 * at_ms, so the data plane reports the stream again (a ring: a flood
	 * overwrites the oldest, whose note then stays until the LRU drops it) */
	struct gemd_cp_retry {
		struct gem_sg sg;
		uint64_t at_ms;
	} retry[GEMD_CP_RETRY];
	unsigned int retry_head;
	uint64_t dp_events, rx_loaded, rx_foreign, rotations;
	uint64_t refused_not_lan, refused_rate, refused_full, route_errors;
	uint64_t streams_idle, rx_unloaded;
	uint64_t epoch_switches, epochs_retired, rx_unheld_epoch;
};

struct gemd_peer {
	bool used;
	uint8_t id[8];
	char id_hex[GEMD_ID_HEX];
	char name[GEM_BEACON_NAME_MAX + 1];	/* from its beacon: informational */
	int iface;				/* index into gemd.disc */
	struct in6_addr ll;
	int slot;				/* our IKE port: port_base + 2 * slot */
	uint64_t first_seen_ms, last_seen_ms;
	uint32_t hold_ms;			/* from its beacon, at most GEMD_PEER_HOLD_MAX_MS */
	bool proven;				/* its node id was proven here: kept, never evicted */
	uint64_t conflict_logged_ms;
	struct tunnel *tun;
	struct gemd_ident ident;		/* its node id proven over tun? */
};

struct gemd {
	struct gemd_config cfg;
	struct gem_keys *keys;
	uint8_t id[8];
	char id_hex[GEMD_ID_HEX];
	char tun_dir[GEMD_PATH_MAX + 8], babel_dir[GEMD_PATH_MAX + 8];
	uint64_t started_ms, next_ll_check_ms;

	struct disc_if disc[GEMD_MAX_IFACES];
	int ndisc;

	const struct tunnel_ops *backend;
	struct tunnel_env tenv;
	struct gemd_peer *peers;		/* cfg.max_neighbours slots */
	bool full_logged;
	/* neighbour slots (peer.c): who proved its id on which link (a real
	 * neighbour coming back may take a half-open slot), and counters */
	struct gemd_known {
		uint8_t id[8];
		char ifname[IF_NAMESIZE];
		uint64_t ms;			/* 0: unused; larger: more recent */
	} known[GEMD_MAX_TUNNELS];	/* kept in <state_dir>/neighbours */
	struct gemd_peer_stats {
		uint64_t hold_capped, refused_half_open, refused_full, evicted;
	} nbst;
	int ident_fd;				/* node identity proofs (ident.c) */
	uint8_t node_pk[32];
	struct gemd_ident_stats ident;

	struct babel babel;
	int ctl_fd;
	struct gemd_mon mon;		/* gemctl monitor clients */
	/* the files and programs a configuration needs, as checked at start
	 * (gemd.c; SIGHUP checks a new file with it) */
	int (*check_files)(const struct gemd_config *c);
	struct gemd_cp cp;
};

/* peer.c */
int gemd_peers_init(struct gemd *g);
void gemd_peer_beacon(struct gemd *g, int iface, const struct in6_addr *src,
		      const struct gem_beacon *b, uint64_t now_ms);
/* Our beacon for interface iface into buf: length or -errno. */
int gemd_beacon_build(struct gemd *g, int iface, uint8_t *buf, size_t len);
void gemd_peers_tick(struct gemd *g, uint64_t now_ms);
bool gemd_peers_child_exited(struct gemd *g, pid_t pid, int status, uint64_t now_ms);
/* The tunnels' descriptors for the poll loop: up to max into pfd, the peer
 * slot of each into who; their count.  gemd_peers_input: one was readable. */
struct pollfd;
int gemd_peers_pollfds(struct gemd *g, struct pollfd *pfd, unsigned int *who, int max);
void gemd_peers_input(struct gemd *g, unsigned int who, uint64_t now_ms);
void gemd_peers_close_all(struct gemd *g);
/* [discovery] interfaces changed (SIGHUP), g->disc still the old list:
 * map[i] is the new index of old interface i, or -1 if it left the
 * configuration (its neighbours are forgotten, their tunnels torn down). */
void gemd_peers_remap_ifaces(struct gemd *g, const int *map);
struct gemd_peer *gemd_peer_by_ifname(struct gemd *g, const char *ifname);
/* Neighbour slots (docs/CONTROL.md section 3.3).  Beacons are claims: a
 * neighbour is half-open until its node id is proven over its tunnel.  At
 * most GEMD_PEER_HALF_OPEN_MAX half-open neighbours per link; a new one is
 * refused when that (or the table) is full unless a half-open neighbour can
 * be evicted: one whose identity proof failed, or that has been half-open
 * for GEMD_PEER_GRACE_MS; a neighbour that proved its id on this link before
 * (gemd.known) may evict any half-open one.  Proven neighbours are never
 * evicted.  The hold time a beacon asks for is capped. */
#define GEMD_PEER_HOLD_MAX_MS	60000u
#define GEMD_PEER_HALF_OPEN_MAX	8u
#define GEMD_PEER_GRACE_MS	30000u
/* The neighbour to evict for a newcomer on link iface (known: it proved its
 * id there before; full: no free entry), peers[n]: its index, -1 if none
 * may go; *refuse_why: "half-open" or "full" when -1 means refuse.  Pure:
 * unit-tested. */
int gemd_peer_victim(const struct gemd_peer *peers, unsigned int n, int iface, bool known,
		     bool full, uint64_t now_ms, const char **refuse_why);

/* Tear p's tunnel down for reason why (logged by the caller); no new tunnel
 * before retry_ms. */
void gemd_peer_drop_tunnel(struct gemd *g, struct gemd_peer *p);
uint16_t gemd_peer_port(const struct gemd *g, const struct gemd_peer *p);

/* cp.c */
int gemd_cp_init(struct gemd *g);
void gemd_cp_close(struct gemd *g);
void gemd_cp_tick(struct gemd *g, uint64_t now_ms);
/* Poll timeout: at most max_ms, less if the record store has work sooner. */
int gemd_cp_timeout_ms(const struct gemd *g, uint64_t now_ms, int max_ms);
int gemd_cp_dp_fd(const struct gemd *g);	/* data-plane events, -1 if none */
void gemd_cp_dp_input(struct gemd *g);
void gemd_cp_input(struct gemd *g, uint64_t now_ms);
void gemd_show_cp_stats(struct gemd *g, FILE *f, bool json, uint64_t now_ms);
/* Control-socket requests about GAK epochs (epochs.c): "GROUP [EPOCH]";
 * "GROUP EPOCH [/PATH]" (import: the file gemd reads itself; the key never
 * crosses the socket).  The reply (one line, JSON if json) goes to f. */
void gemd_cp_rekey_request(struct gemd *g, const char *args, FILE *f, bool json);
void gemd_cp_gak_request(struct gemd *g, bool import, const char *args, FILE *f, bool json);
void gemd_cp_show_groups(struct gemd *g, FILE *f, bool json);
/* g->cfg's [groups] changed (SIGHUP; old: the previous configuration):
 * GAKs looked up again, groups (and the suite) loaded into the data plane,
 * SEKs of groups that became ours loaded, new declared streams keyed. */
void gemd_cp_reload(struct gemd *g, const struct gemd_config *old, uint64_t now_ms);

/* reload.c: SIGHUP.  Reads the configuration file again and applies what
 * can change while running ([groups], [discovery] interfaces and timing),
 * keeping every tunnel whose settings did not change; a change to anything
 * else is refused as a whole (logged: needs a restart).  Returns true if
 * something was applied. */
bool gemd_reload(struct gemd *g, uint64_t now_ms);

/* ctlsock.c */
int gemd_ctl_open(const char *path);
void gemd_ctl_close(int fd, const char *path);
/* Serve one client of the listening socket (bounded by short timeouts). */
void gemd_ctl_serve(struct gemd *g, int lfd);
/* The replies, also used by tests: "peers" / "routes", JSON or text. */
void gemd_show_peers(struct gemd *g, FILE *f, bool json, uint64_t now_ms);
void gemd_show_routes(struct gemd *g, FILE *f, bool json);
/* An error reply on f: {"error": msg} or "error: msg", one line. */
void gemd_ctl_error(FILE *f, bool json, const char *msg);

#endif
