/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Tunnel backends: one IKEv2/ESP tunnel to one neighbour over one link,
 * presented to Babel as one network interface.
 *
 * gemd owns the neighbour table and calls a backend through struct
 * tunnel_ops; the backend keeps the public fields of struct tunnel current
 * (state, interface name, readiness, generation) and gemd reads them.
 * Everything a backend does is asynchronous, driven by tick() and by input()
 * when its pollfd() is readable: no call blocks for longer than one short
 * VICI round trip.
 *
 * Backends (docs/CONTROL.md section 4):
 *   libipsec  one charon per tunnel with kernel-libipsec (ESP in user space
 *             through its own TUN device "ipsecN"), private /run, its own
 *             IKE ports.  Implemented: what this kernel can run (no
 *             CONFIG_INET_ESP / XFRM_INTERFACE).
 *   xfrmi     (not implemented) one charon for all tunnels; per tunnel an
 *             XFRM interface "gem-<port>" with its own if_id, the connection
 *             loaded with if_id_in/if_id_out = that id, ports 500/4500.
 *             Same ops: open() creates the interface and loads the
 *             connection, ifname is known at once, pid is the shared charon.
 */
#ifndef GEMD_TUNNEL_H
#define GEMD_TUNNEL_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "gemd/config.h"

enum tunnel_state {
	TUNNEL_STARTING,	/* backend process starting */
	TUNNEL_WAIT_PEER,	/* our end is ready, the neighbour's is not */
	TUNNEL_CONNECTING,	/* IKE in progress, or waiting to retry */
	TUNNEL_ESTABLISHED,	/* IKE SA and CHILD SA up */
	TUNNEL_AUTH_FAILED,	/* the last attempt failed IKE authentication */
	TUNNEL_RESTARTING,	/* backend process died, restart pending */
};

const char *tunnel_state_name(enum tunnel_state s);

struct tunnel_spec {
	uint8_t my_id[8], peer_id[8];
	char link[IF_NAMESIZE];
	unsigned int ifindex;
	struct in6_addr my_ll, peer_ll;	/* link-local addresses on link */
	uint16_t local_port;		/* our IKE port for this pair */
	uint32_t table;			/* a routing table of its own, if it needs one */
	bool initiator;			/* lower node id initiates */
};

/* What gemd provides to a backend. */
struct tunnel_env {
	const struct gemd_config *cfg;
	const char *dir;	/* per-tunnel runtime dirs go below, mode 0700 */
	/* Derive the pair's PSK (32 bytes) into psk, caller-locked memory. */
	int (*psk)(void *arg, const uint8_t peer[8], uint8_t *psk);
	void *arg;
};

struct tunnel {
	const struct tunnel_ops *ops;
	const struct tunnel_env *env;
	struct tunnel_spec spec;

	/* kept current by the backend, read by gemd */
	enum tunnel_state state;
	uint64_t state_since_ms;
	char ifname[IF_NAMESIZE];	/* interface Babel runs on; "" while unknown */
	uint32_t gen;			/* changes whenever the instance restarts */
	bool ready;			/* our end accepts IKE: advertise "ready" */
	pid_t pid;			/* backend process (0: none) */
	unsigned int restarts;		/* process restarts */
	unsigned int auth_failures;	/* IKE authentication failures seen */
	/* the established IKE SA's SPIs (initiator || responder), as both ends
	 * see them: what the node identity proof binds to (gemd/ident.h) */
	uint8_t ike_spi[16];
	bool ike_spi_known;
	/* Why it does not work, for gemctl peers (both "" when nothing is known):
	 * problem: a standing fault of our end (charon lacks algorithms or
	 * plugins; its TUN or VICI socket never appeared), cleared when a new
	 * instance passes the checks; last_error: the last IKE failure or
	 * process exit, kept after the tunnel comes up (with its time). */
	char problem[256];
	char last_error[224];
	uint64_t last_error_ms;

	/* last thing the neighbour's beacon said about its end */
	uint16_t peer_port;
	uint32_t peer_gen;
	bool peer_ready;
};

struct tunnel_ops {
	const char *name;
	/* Files of a tunnel's directory kept as NAME.1 when it is reset (a
	 * restarted process, a restarted gemd): the last logs. */
	const char *const *keep_files;
	/* Start the tunnel for spec.  *tp is owned by gemd until close(). */
	int (*open)(const struct tunnel_env *env, const struct tunnel_spec *spec,
		    struct tunnel **tp);
	/* The neighbour's beacon entry for us: its IKE port (0: none yet), its
	 * instance generation and whether its end is ready. */
	void (*set_peer)(struct tunnel *t, uint16_t port, uint32_t gen, bool ready);
	/* Advance timers and state; called every few hundred ms. */
	void (*tick)(struct tunnel *t, uint64_t now_ms);
	/* A child of gemd exited: true if it was this tunnel's process. */
	bool (*child_exited)(struct tunnel *t, pid_t pid, int status, uint64_t now_ms);
	/* A descriptor for gemd's poll loop (-1: none now) and what to do when
	 * it is readable (the backend's events). */
	int (*pollfd)(struct tunnel *t);
	void (*input)(struct tunnel *t, uint64_t now_ms);
	/* Stop the tunnel, remove everything it made, free t. */
	void (*close)(struct tunnel *t);
};

extern const struct tunnel_ops tunnel_libipsec_ops;

/* The TUN character device (Documentation/admin-guide/devices.txt). */
#define GEMD_TUN_MAJOR 10
#define GEMD_TUN_MINOR 200

/* The interface of the TUN that process pid holds open, into ifname
 * (IF_NAMESIZE): 0, or -ENOENT if it holds none, -errno. */
int gemd_find_tun(pid_t pid, char *ifname);

/* The backend named in the configuration, or NULL. */
const struct tunnel_ops *tunnel_backend(const char *name);

#endif
