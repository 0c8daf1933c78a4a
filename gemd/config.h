/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * gemd's configuration file: INI (libinih), documented in docs/CONTROL.md
 * section 2 with an example in gemd/gemd.conf.example.
 *
 * Parsing never stops at a semantic problem without saying where: the first
 * error is reported as "FILE:LINE: message" (or "FILE: message" for a
 * missing required key), one line, in err.
 */
#ifndef GEMD_CONFIG_H
#define GEMD_CONFIG_H

#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GEMD_DEFAULT_CONFIG	"/etc/gem/gemd.conf"
#define GEMD_DEFAULT_RUN_DIR	"/run/gem"
#define GEMD_DEFAULT_STATE_DIR	"/var/lib/gem"
#define GEMD_SOCKET_NAME	"gemd.sock"
#define GEMD_DEFAULT_SOCKET	GEMD_DEFAULT_RUN_DIR "/" GEMD_SOCKET_NAME
#define GEMD_ENV_SOCKET		"GEMD_SOCKET"

#define GEMD_MAX_IFACES		16
#define GEMD_MAX_ADDRS		8
#define GEMD_MAX_GROUPS		64
#define GEMD_MAX_STREAMS	64
#define GEMD_MAX_SOURCES	32	/* [groups] sources prefixes */
#define GEMD_NAME_MAX		32	/* node name, fits the beacon */
#define GEMD_PATH_MAX		256
#define GEMD_RUN_DIR_MAX	80	/* + "/tun/NNNNN/charon.vici" < sun_path (108) */
#define GEMD_MAX_TUNNELS	64	/* [tunnel] max_neighbours at most */
#define GEMD_PROPOSAL_MAX	128
#define GEMD_PLUGINS_MAX	512
/* charon's plugin list ([tunnel] charon_plugins): crypto for the default
 * proposals (openssl: X25519, AES-GCM; gcm, aes, sha1, sha2, hmac as fallbacks), ESP
 * in user space (kernel-libipsec), VICI for gemd. */
#define GEMD_DEFAULT_CHARON_PLUGINS "random nonce openssl aes sha1 sha2 hmac gcm kdf " \
	"kernel-libipsec kernel-netlink socket-default vici"

/* Data-plane suites a group may have ([groups] suite, group = G suite=S). */
#define GEMD_SUITE_CHOICES	"hmac-sha256 cmac poly1305 chacha20-poly1305"
#define GEMD_SUITE_NAME_MAX	24

/* Discovery defaults (docs/CONTROL.md section 3). */
#define GEMD_DISC_GROUP		"ff02::6d:6"
#define GEMD_DISC_PORT		6767

struct gemd_prefix {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* network order, first 4 bytes for AF_INET */
	unsigned int plen;
	char text[INET6_ADDRSTRLEN + 4];	/* canonical "addr/plen" */
};

struct gemd_config {
	char path[GEMD_PATH_MAX];

	/* [node] */
	char name[GEMD_NAME_MAX + 1];
	bool have_node_id;
	uint8_t node_id[8];		/* expected id: checked against the token */
	struct gemd_prefix addrs[GEMD_MAX_ADDRS];
	int naddrs;
	bool add_address;		/* put missing addrs on lo, remove at exit */
	char run_dir[GEMD_PATH_MAX];
	char state_dir[GEMD_PATH_MAX];	/* kept across restarts and reboots */
	char socket[GEMD_PATH_MAX];	/* default <run_dir>/gemd.sock */
	char pin_dir[GEMD_PATH_MAX];	/* BPF pin dir (data plane, part 2) */

	/* [hsm] */
	char module[GEMD_PATH_MAX];
	char token[64];
	char pin_file[GEMD_PATH_MAX];
	char lock_dir[GEMD_PATH_MAX];	/* "": $GEM_LOCK_DIR, else /run/gem (as gemctl keys) */

	/* [discovery] */
	char ifaces[GEMD_MAX_IFACES][IF_NAMESIZE];
	int nifaces;
	struct in6_addr disc_group;
	char disc_group_text[INET6_ADDRSTRLEN];
	uint16_t disc_port;
	unsigned int beacon_ms;		/* beacon interval */
	unsigned int hold_ms;		/* neighbour lost after this long */

	/* [tunnel] */
	char backend[16];		/* "libipsec" */
	char charon[GEMD_PATH_MAX];
	uint16_t port_base;		/* IKE port of slot s: base + 2s, NAT-T +1 */
	unsigned int max_neighbours;
	char ike_proposals[GEMD_PROPOSAL_MAX];
	char esp_proposals[GEMD_PROPOSAL_MAX];
	char charon_plugins[GEMD_PLUGINS_MAX];
	unsigned int dpd_s;
	unsigned int charon_threads;
	uint32_t table_base;		/* routing table of slot s: base + s (libipsec) */

	/* [babel] */
	char babeld[GEMD_PATH_MAX];
	unsigned int hello_ms;
	unsigned int update_ms;		/* 0: babeld's default (4 x hello) */
	unsigned int smoothing_s;
	char link_type[16];		/* babeld interface type: wired|tunnel|wireless */
	bool v4_via_v6;

	/* [groups] */
	uint8_t groups[GEMD_MAX_GROUPS][16];
	/* group = G suite=S: that group's suite; "" takes group_suite */
	char group_suites[GEMD_MAX_GROUPS][GEMD_SUITE_NAME_MAX];
	int ngroups;
	/* [groups] stream = SOURCE GROUP: streams this node sources, keyed and
	 * announced at start instead of at their first packet */
	uint8_t streams[GEMD_MAX_STREAMS][2][16];	/* source, group */
	int nstreams;
	char group_suite[GEMD_SUITE_NAME_MAX];	/* data-plane suite of the groups
						 * without their own (GEMD_SUITE_CHOICES) */
	unsigned int sek_lifetime_ms;	/* own SEKs: rotate after this long */
	uint64_t sek_packets;		/* ... or after this many packets */
	unsigned int rotate_delay_ms;	/* next SEK announced this long before use */
	/* own streams a tx-no-key event may start (docs/CONTROL.md 13.2): a
	 * source in one of these prefixes, or (none given) one that routes
	 * out a LAN-side interface; at most stream_rate new streams per second
	 * (bursts of stream_burst); withdrawn after stream_idle without a packet */
	struct gemd_prefix sources[GEMD_MAX_SOURCES];
	int nsources;
	unsigned int stream_idle_ms;
	unsigned int stream_rate;
	unsigned int stream_burst;
};

/* Defaults for every key (docs/CONTROL.md section 2). */
void gemd_config_defaults(struct gemd_config *c);

/* Parse a file or a string (name is used in messages).  0, or -EINVAL /
 * -ENOENT / -errno with a one-line message in err. */
int gemd_config_load(struct gemd_config *c, const char *path, char *err, size_t errlen);
int gemd_config_parse_string(struct gemd_config *c, const char *name, const char *text,
			     char *err, size_t errlen);

/* Call fn for every key whose value differs between a and b (a repeatable
 * key once, by the name of its first table entry); the number of them.
 * SIGHUP (gemd/reload.c) decides from it what it can apply. */
int gemd_config_diff(const struct gemd_config *a, const struct gemd_config *b,
		     void (*fn)(void *arg, const char *section, const char *name), void *arg);

/* "fd00::1/128", "10.0.0.1/32", "fd00::1" (host prefix): -EINVAL if not. */
int gemd_prefix_parse(const char *text, struct gemd_prefix *p);
/* Does prefix p hold a (16 bytes, IPv4 as IPv4-mapped IPv6, as struct gem_addr)? */
bool gemd_prefix_contains(const struct gemd_prefix *p, const uint8_t a[16]);

#endif /* GEMD_CONFIG_H */
