/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * babeld, run and followed by gemd (docs/CONTROL.md section 5).
 *
 * gemd writes babeld's configuration (router-id = node id, Babel only on the
 * tunnel interfaces, the node's addresses redistributed and nothing else),
 * starts babeld as its child with its own pid, state and log files under
 * <run_dir>/babeld/, restarts it if it dies, and keeps one connection to its
 * read-write local interface (a UNIX socket in that directory):
 *   - "monitor" streams babeld's interfaces, neighbours and routes, which
 *     gemd mirrors in struct babel_state for gemctl peers / routes;
 *   - "interface NAME ..." / "flush interface NAME" add and remove tunnel
 *     interfaces as tunnels come and go, without restarting babeld.
 *
 * Sequence numbers survive restarts: babeld's state file (its seqno) lives
 * in state_dir, and because babeld writes it only on a clean exit, gemd
 * records the seqno each babeld starts with and starts the next one 1024
 * later when the last one died without writing it.  A restarted router whose
 * seqno went backwards would have its updates rejected as unfeasible by
 * every neighbour until their source entries expired (minutes).
 */
#ifndef GEMD_BABEL_H
#define GEMD_BABEL_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "gemd/config.h"
#include "gem_lines.h"

#define BABEL_MAX_IFACES	64
#define BABEL_MAX_NEIGHS	128
#define BABEL_MAX_ROUTES	512
#define BABEL_MAX_XROUTES	64

struct babel_iface {
	char name[IF_NAMESIZE];
	bool up;
	char ll[INET6_ADDRSTRLEN];
};

struct babel_neigh {
	char id[24];			/* babeld's handle for the neighbour */
	char addr[INET6_ADDRSTRLEN];
	char ifname[IF_NAMESIZE];
	unsigned int reach, ureach, rxcost, txcost, cost;
	char rtt[16];			/* "" if babeld gave none */
};

struct babel_route {
	char id[24];
	char prefix[INET6_ADDRSTRLEN + 4], from[INET6_ADDRSTRLEN + 4];
	bool installed;
	char router_id[24];		/* "01:23:..": the originator's node id */
	unsigned int metric, refmetric;
	char via[INET6_ADDRSTRLEN];
	char ifname[IF_NAMESIZE];
};

struct babel_xroute {			/* a route this node exports */
	char prefix[INET6_ADDRSTRLEN + 4], from[INET6_ADDRSTRLEN + 4];
	unsigned int metric;
};

struct babel_state {
	char my_id[24];
	int niface, nneigh, nroute, nxroute;
	struct babel_iface iface[BABEL_MAX_IFACES];
	struct babel_neigh neigh[BABEL_MAX_NEIGHS];
	struct babel_route route[BABEL_MAX_ROUTES];
	struct babel_xroute xroute[BABEL_MAX_XROUTES];
};

/* One line of babeld's local interface (without the newline): updates st.
 * Returns 1 if it was a state line (add/change/flush), 0 for protocol lines
 * (header, ok, no, bad) and unknown kinds, -EBADMSG if malformed.  Never
 * reads past the string. */
int babel_parse_line(struct babel_state *st, const char *line);
void babel_state_clear(struct babel_state *st);

struct babel {
	const struct gemd_config *cfg;
	char dir[GEMD_PATH_MAX];
	char conf[GEMD_PATH_MAX + 16], pidf[GEMD_PATH_MAX + 16], statef[GEMD_PATH_MAX + 16];
	char logf[GEMD_PATH_MAX + 16], sock[GEMD_PATH_MAX + 16], out[GEMD_PATH_MAX + 16];
	char seqf[GEMD_PATH_MAX + 32];	/* state_dir: seqno babeld last started with */
	char router_id[24];

	pid_t pid;
	uint64_t started_ms, restart_at_ms, next_connect_ms;
	unsigned int backoff_ms, restarts;

	int fd;				/* local interface, -1 if not connected */
	bool monitoring;
	char rbuf[16384];
	struct gem_lines in;		/* over rbuf */

	char want[BABEL_MAX_IFACES][IF_NAMESIZE];	/* tunnel interfaces */
	int nwant;
	char told[BABEL_MAX_IFACES][IF_NAMESIZE];	/* what babeld runs on */
	int ntold;

	struct babel_state st;
};

/* Prepare (no process yet): directory, and the leftovers of a gemd that was
 * killed (a babeld still running from it, Babel routes in the kernel). */
int babel_init(struct babel *b, const struct gemd_config *cfg, const uint8_t node_id[8],
	       const char *dir);
/* The tunnel interfaces Babel should run on now. */
void babel_set_ifaces(struct babel *b, const char (*names)[IF_NAMESIZE], int n);
/* Start babeld once there is an interface, restart it, (re)connect, sync. */
void babel_tick(struct babel *b, uint64_t now_ms);
/* The local-interface socket to poll for input, or -1. */
int babel_fd(const struct babel *b);
void babel_input(struct babel *b, uint64_t now_ms);
bool babel_child_exited(struct babel *b, pid_t pid, int status, uint64_t now_ms);
/* Stop babeld (it withdraws and removes its routes), remove its files. */
void babel_stop(struct babel *b);

#endif
