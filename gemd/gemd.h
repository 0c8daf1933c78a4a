/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * gemd: GEM's control-plane daemon (docs/CONTROL.md).  The daemon's state,
 * shared by its parts:
 *   gemd.c         main: configuration, HSM, runtime dir, poll loop, signals
 *   peer.c         neighbour table: beacons in and out, one tunnel each
 *   disc.c         beacon wire format and discovery sockets
 *   tunnel*.c      tunnel backends (strongSwan)
 *   babel.c        babeld: configuration, supervision, local interface
 *   ctlsock.c      UNIX socket for gemctl (peers, routes)
 */
#ifndef GEMD_H
#define GEMD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "gemd/babel.h"
#include "gemd/config.h"
#include "gemd/disc.h"
#include "gemd/tunnel.h"
#include "gemd/util.h"

struct gem_keys;

struct gemd_peer {
	bool used;
	uint8_t id[8];
	char id_hex[GEMD_ID_HEX];
	char name[GEM_BEACON_NAME_MAX + 1];	/* from its beacon: informational */
	int iface;				/* index into gemd.disc */
	struct in6_addr ll;
	int slot;				/* our IKE port: port_base + 2 * slot */
	uint64_t first_seen_ms, last_seen_ms;
	uint32_t hold_ms;			/* from its beacon */
	uint64_t conflict_logged_ms;
	struct tunnel *tun;
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

	struct babel babel;
	int ctl_fd;
};

/* peer.c */
int gemd_peers_init(struct gemd *g);
void gemd_peer_beacon(struct gemd *g, int iface, const struct in6_addr *src,
		      const struct gem_beacon *b, uint64_t now_ms);
/* Our beacon for interface iface into buf: length or -errno. */
int gemd_beacon_build(struct gemd *g, int iface, uint8_t *buf, size_t len);
void gemd_peers_tick(struct gemd *g, uint64_t now_ms);
bool gemd_peers_child_exited(struct gemd *g, pid_t pid, int status, uint64_t now_ms);
void gemd_peers_close_all(struct gemd *g);
struct gemd_peer *gemd_peer_by_ifname(struct gemd *g, const char *ifname);
uint16_t gemd_peer_port(const struct gemd *g, const struct gemd_peer *p);

/* ctlsock.c */
int gemd_ctl_open(const char *path);
void gemd_ctl_close(int fd, const char *path);
/* Serve one client of the listening socket (bounded by short timeouts). */
void gemd_ctl_serve(struct gemd *g, int lfd);
/* The replies, also used by tests: "peers" / "routes", JSON or text. */
void gemd_show_peers(struct gemd *g, FILE *f, bool json, uint64_t now_ms);
void gemd_show_routes(struct gemd *g, FILE *f, bool json);

#endif
