// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemd configuration: INI through libinih, one table of keys.
 *
 * libinih's handler does not get the line number (Debian builds it without
 * INI_HANDLER_LINENO), so the file is fed through ini_parse_stream() with a
 * reader that counts lines: with multi-line values off, the handler always
 * runs for the line the reader returned last.  The first error wins; a
 * syntax error inih found on an earlier line than any semantic error is
 * reported as such.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "gemd/charon_algs.h"
#include "gemd/config.h"
#include "gemd/ids.h"
#include "gem_addr.h"
#include "keys/gem_keys.h"

enum ktype { K_STR, K_PATH, K_BOOL, K_UINT, K_SECONDS, K_PREFIX, K_IFACE, K_IFACES,
	     K_GROUP, K_NODE_ID, K_MCAST_LL, K_CHOICE, K_STREAM, K_SOURCES };

struct key {
	const char *section, *name;
	size_t off;		/* into struct gemd_config */
	size_t size;		/* K_STR/K_PATH: buffer size; K_UINT: sizeof field */
	unsigned long min, max;	/* K_UINT; K_SECONDS: milliseconds */
	const char *choices;	/* K_CHOICE: space-separated */
	enum ktype type;
	bool multi;		/* may repeat */
};

#define OFF(f) offsetof(struct gemd_config, f)
#define SZ(f) sizeof(((struct gemd_config *)0)->f)

static const struct key keys[] = {
	{ "node", "name", OFF(name), SZ(name), 0, 0, NULL, K_STR, false },
	{ "node", "node_id", OFF(node_id), 0, 0, 0, NULL, K_NODE_ID, false },
	{ "node", "address", OFF(addrs), 0, 0, 0, NULL, K_PREFIX, true },
	{ "node", "add_address", OFF(add_address), 0, 0, 0, NULL, K_BOOL, false },
	{ "node", "run_dir", OFF(run_dir), SZ(run_dir), 0, 0, NULL, K_PATH, false },
	{ "node", "state_dir", OFF(state_dir), SZ(state_dir), 0, 0, NULL, K_PATH, false },
	{ "node", "socket", OFF(socket), sizeof(((struct sockaddr_un *)0)->sun_path), 0, 0, NULL,
	  K_PATH, false },
	{ "node", "pin_dir", OFF(pin_dir), SZ(pin_dir), 0, 0, NULL, K_PATH, false },

	{ "hsm", "module", OFF(module), SZ(module), 0, 0, NULL, K_PATH, false },
	{ "hsm", "token", OFF(token), SZ(token), 0, 0, NULL, K_STR, false },
	{ "hsm", "pin_file", OFF(pin_file), SZ(pin_file), 0, 0, NULL, K_PATH, false },
	{ "hsm", "lock_dir", OFF(lock_dir), SZ(lock_dir), 0, 0, NULL, K_PATH, false },

	{ "discovery", "interface", OFF(ifaces), 0, 0, 0, NULL, K_IFACE, true },
	{ "discovery", "interfaces", OFF(ifaces), 0, 0, 0, NULL, K_IFACES, true },
	{ "discovery", "group", OFF(disc_group), 0, 0, 0, NULL, K_MCAST_LL, false },
	{ "discovery", "port", OFF(disc_port), SZ(disc_port), 1, 65535, NULL, K_UINT, false },
	{ "discovery", "interval", OFF(beacon_ms), 0, 100, 60000, NULL, K_SECONDS, false },
	{ "discovery", "hold", OFF(hold_ms), 0, 300, 600000, NULL, K_SECONDS, false },

	{ "tunnel", "backend", OFF(backend), SZ(backend), 0, 0, "libipsec", K_CHOICE, false },
	{ "tunnel", "charon", OFF(charon), SZ(charon), 0, 0, NULL, K_PATH, false },
	{ "tunnel", "port_base", OFF(port_base), SZ(port_base), 1024, 65534, NULL, K_UINT, false },
	{ "tunnel", "max_neighbours", OFF(max_neighbours), SZ(max_neighbours), 1, GEMD_MAX_TUNNELS, NULL,
	  K_UINT, false },
	{ "tunnel", "ike_proposals", OFF(ike_proposals), SZ(ike_proposals), 0, 0, NULL, K_STR,
	  false },
	{ "tunnel", "esp_proposals", OFF(esp_proposals), SZ(esp_proposals), 0, 0, NULL, K_STR,
	  false },
	{ "tunnel", "charon_plugins", OFF(charon_plugins), SZ(charon_plugins), 0, 0, NULL, K_STR,
	  false },
	{ "tunnel", "dpd_delay", OFF(dpd_s), SZ(dpd_s), 1, 3600, NULL, K_UINT, false },
	{ "tunnel", "table_base", OFF(table_base), SZ(table_base), 256, 0x7fff0000, NULL, K_UINT,
	  false },
	{ "tunnel", "charon_threads", OFF(charon_threads), SZ(charon_threads), 12, 64, NULL,
	  K_UINT, false },

	{ "babel", "babeld", OFF(babeld), SZ(babeld), 0, 0, NULL, K_PATH, false },
	{ "babel", "hello_interval", OFF(hello_ms), 0, 100, 60000, NULL, K_SECONDS, false },
	{ "babel", "update_interval", OFF(update_ms), 0, 100, 300000, NULL, K_SECONDS, false },
	{ "babel", "smoothing_half_life", OFF(smoothing_s), SZ(smoothing_s), 0, 3600, NULL,
	  K_UINT, false },
	{ "babel", "link_type", OFF(link_type), SZ(link_type), 0, 0, "wired tunnel wireless",
	  K_CHOICE, false },
	{ "babel", "v4_via_v6", OFF(v4_via_v6), 0, 0, 0, NULL, K_BOOL, false },

	{ "groups", "group", OFF(groups), 0, 0, 0, NULL, K_GROUP, true },
	{ "groups", "stream", OFF(streams), 0, 0, 0, NULL, K_STREAM, true },
	{ "groups", "suite", OFF(group_suite), SZ(group_suite), 0, 0, GEMD_SUITE_CHOICES,
	  K_CHOICE, false },
	{ "groups", "sek_lifetime", OFF(sek_lifetime_ms), 0, 1000, 604800000, NULL, K_SECONDS,
	  false },
	{ "groups", "sek_packets", OFF(sek_packets), SZ(sek_packets), 100, 1UL << 48, NULL,
	  K_UINT, false },
	{ "groups", "rotate_delay", OFF(rotate_delay_ms), 0, 100, 600000, NULL, K_SECONDS,
	  false },
	{ "groups", "sources", OFF(sources), 0, 0, 0, NULL, K_SOURCES, true },
	{ "groups", "stream_idle", OFF(stream_idle_ms), 0, 1000, 604800000, NULL, K_SECONDS,
	  false },
	{ "groups", "stream_rate", OFF(stream_rate), SZ(stream_rate), 1, 10000, NULL, K_UINT,
	  false },
	{ "groups", "stream_burst", OFF(stream_burst), SZ(stream_burst), 1, 256, NULL, K_UINT,
	  false },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const char *const sections[] = { "node", "hsm", "discovery", "tunnel", "babel",
					"groups" };

struct pctx {
	struct gemd_config *c;
	const char *name;	/* file name for messages */
	int line;		/* line the reader returned last */
	int err_line;		/* first error: line (0: none) */
	char err[256];
	int seen[NKEYS];	/* line where a single-valued key was set */
	/* reader */
	FILE *f;
	const char *s;
};

static void perr(struct pctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void perr(struct pctx *p, const char *fmt, ...)
{
	va_list ap;

	if (p->err_line)
		return;		/* the first error wins */
	p->err_line = p->line ? p->line : -1;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
}

void gemd_config_defaults(struct gemd_config *c)
{
	memset(c, 0, sizeof(*c));
	c->add_address = true;
	snprintf(c->run_dir, sizeof(c->run_dir), "%s", GEMD_DEFAULT_RUN_DIR);
	snprintf(c->state_dir, sizeof(c->state_dir), "%s", GEMD_DEFAULT_STATE_DIR);
	snprintf(c->pin_dir, sizeof(c->pin_dir), "/sys/fs/bpf/gem");
	snprintf(c->group_suite, sizeof(c->group_suite), "hmac-sha256");
	c->sek_lifetime_ms = 3600 * 1000;
	c->sek_packets = 1ULL << 32;
	c->rotate_delay_ms = 5000;
	c->stream_idle_ms = 300 * 1000;
	c->stream_rate = 10;
	c->stream_burst = 32;
	snprintf(c->module, sizeof(c->module), "%s", GEM_KEYS_DEFAULT_MODULE);
	snprintf(c->token, sizeof(c->token), "%s", GEM_KEYS_DEFAULT_TOKEN);
	inet_pton(AF_INET6, GEMD_DISC_GROUP, &c->disc_group);
	snprintf(c->disc_group_text, sizeof(c->disc_group_text), "%s", GEMD_DISC_GROUP);
	c->disc_port = GEMD_DISC_PORT;
	c->beacon_ms = 1000;
	c->hold_ms = 5000;
	snprintf(c->backend, sizeof(c->backend), "libipsec");
	snprintf(c->charon, sizeof(c->charon), "/usr/lib/ipsec/charon");
	c->port_base = 7000;
	c->max_neighbours = 32;
	snprintf(c->ike_proposals, sizeof(c->ike_proposals), "aes256gcm16-prfsha256-x25519");
	snprintf(c->esp_proposals, sizeof(c->esp_proposals), "aes256gcm16");
	snprintf(c->charon_plugins, sizeof(c->charon_plugins), "%s", GEMD_DEFAULT_CHARON_PLUGINS);
	c->dpd_s = 2;
	c->table_base = 7000;
	c->charon_threads = 16;	/* charon needs ~10 just to serve VICI next to libipsec */
	snprintf(c->babeld, sizeof(c->babeld), "/usr/sbin/babeld");
	c->hello_ms = 1000;
	c->update_ms = 0;
	c->smoothing_s = 0;
	snprintf(c->link_type, sizeof(c->link_type), "wired");
	c->v4_via_v6 = true;
}

int gemd_prefix_parse(const char *text, struct gemd_prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long plen;
	char abuf[INET6_ADDRSTRLEN];

	size_t n = strlen(text);

	if (n >= sizeof(buf))
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	memcpy(buf, text, n + 1);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (inet_pton(AF_INET6, buf, p->addr) == 1)
		p->family = AF_INET6;
	else if (inet_pton(AF_INET, buf, p->addr) == 1)
		p->family = AF_INET;
	else
		return -EINVAL;
	plen = p->family == AF_INET6 ? 128 : 32;
	if (slash) {
		if (!*slash || *slash == '-' || *slash == '+')
			return -EINVAL;
		errno = 0;
		plen = strtoul(slash, &end, 10);
		if (errno || *end || plen > (p->family == AF_INET6 ? 128u : 32u))
			return -EINVAL;
	}
	p->plen = plen;
	inet_ntop(p->family, p->addr, abuf, sizeof(abuf));
	snprintf(p->text, sizeof(p->text), "%s/%u", abuf, p->plen);
	return 0;
}

bool gemd_prefix_contains(const struct gemd_prefix *p, const uint8_t a[16])
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };
	const uint8_t *x = a;
	unsigned int full, rest;

	if (p->family == AF_INET) {
		if (memcmp(a, v4mapped, sizeof(v4mapped)) != 0)
			return false;
		x = a + 12;
	} else if (!memcmp(a, v4mapped, sizeof(v4mapped))) {
		return false;	/* an IPv4 source never matches an IPv6 prefix */
	}
	full = p->plen / 8;
	rest = p->plen % 8;
	if (memcmp(x, p->addr, full) != 0)
		return false;
	return !rest || !((x[full] ^ p->addr[full]) & (uint8_t)(0xff << (8 - rest)));
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* "2", "0.5", "1.25": seconds with up to 3 decimals -> ms */
static int parse_seconds(const char *v, unsigned long *ms)
{
	unsigned long ip = 0, frac = 0;
	int fd = 0;
	const char *s = v;

	if (!*s)
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		ip = ip * 10 + (*s - '0');
		if (ip > 1000000)
			return -ERANGE;
	}
	if (*s == '.') {
		s++;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (++fd > 3)
				return -EINVAL;
			frac = frac * 10 + (*s - '0');
		}
		if (fd == 0)
			return -EINVAL;
	}
	if (*s || s == v)
		return -EINVAL;
	while (fd++ < 3)
		frac *= 10;
	*ms = ip * 1000 + frac;
	return 0;
}

static int parse_uint(const char *v, unsigned long *out)
{
	char *end;

	if (!*v || *v == '-' || *v == '+')
		return -EINVAL;
	errno = 0;
	*out = strtoul(v, &end, 10);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

static bool valid_ifname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IF_NAMESIZE || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s <= ' ' || *s >= 0x7f)
			return false;
	return true;
}

static int add_iface(struct pctx *p, const struct key *k, const char *name)
{
	struct gemd_config *c = p->c;

	if (!valid_ifname(name)) {
		perr(p, "[%s] %s: '%s' is not an interface name", k->section, k->name, name);
		return -EINVAL;
	}
	for (int i = 0; i < c->nifaces; i++) {
		if (!strcmp(c->ifaces[i], name)) {
			perr(p, "[%s] %s: interface '%s' listed twice", k->section, k->name, name);
			return -EINVAL;
		}
	}
	if (c->nifaces >= GEMD_MAX_IFACES) {
		perr(p, "[%s] %s: more than %d interfaces", k->section, k->name, GEMD_MAX_IFACES);
		return -E2BIG;
	}
	snprintf(c->ifaces[c->nifaces++], IF_NAMESIZE, "%s", name);
	return 0;
}

static bool has_choice(const char *choices, const char *v)
{
	size_t n = strlen(v);
	const char *s = choices;

	while (n && *s) {
		const char *e = strchrnul(s, ' ');

		if ((size_t)(e - s) == n && !strncmp(s, v, n))
			return true;
		s = *e ? e + 1 : e;
	}
	return false;
}

static int set_key(struct pctx *p, const struct key *k, const char *v)
{
	struct gemd_config *c = p->c;
	void *field = (char *)c + k->off;
	unsigned long u;
	int err;

	switch (k->type) {
	case K_PATH:
		if (v[0] != '/') {
			perr(p, "[%s] %s: '%s' is not an absolute path", k->section, k->name, v);
			return -EINVAL;
		}
		/* fall through */
	case K_STR:
		if (!*v) {
			perr(p, "[%s] %s: empty value", k->section, k->name);
			return -EINVAL;
		}
		if (strlen(v) >= k->size) {
			perr(p, "[%s] %s: longer than %zu characters", k->section, k->name,
			     k->size - 1);
			return -ENAMETOOLONG;
		}
		memcpy(field, v, strlen(v) + 1);
		return 0;
	case K_CHOICE:
		if (!has_choice(k->choices, v)) {
			perr(p, "[%s] %s: '%s' is not one of: %s", k->section, k->name, v,
			     k->choices);
			return -EINVAL;
		}
		snprintf(field, k->size, "%s", v);
		return 0;
	case K_BOOL:
		if (parse_bool(v, field)) {
			perr(p, "[%s] %s: '%s' is not a boolean (yes/no)", k->section, k->name, v);
			return -EINVAL;
		}
		return 0;
	case K_UINT:
		if (parse_uint(v, &u) || u < k->min || u > k->max) {
			perr(p, "[%s] %s: '%s' is not a whole number in %lu..%lu", k->section,
			     k->name, v, k->min, k->max);
			return -EINVAL;
		}
		if (k->size == sizeof(uint16_t))
			*(uint16_t *)field = u;
		else if (k->size == sizeof(uint64_t))
			*(uint64_t *)field = u;
		else
			*(unsigned int *)field = u;
		return 0;
	case K_SECONDS:
		if (parse_seconds(v, &u) || u < k->min || u > k->max) {
			perr(p, "[%s] %s: '%s' is not a time in seconds in %lu.%03lu..%lu", k->section,
			     k->name, v, k->min / 1000, k->min % 1000, k->max / 1000);
			return -EINVAL;
		}
		*(unsigned int *)field = u;
		return 0;
	case K_PREFIX:
		if (c->naddrs >= GEMD_MAX_ADDRS) {
			perr(p, "[%s] %s: more than %d addresses", k->section, k->name,
			     GEMD_MAX_ADDRS);
			return -E2BIG;
		}
		if (gemd_prefix_parse(v, &c->addrs[c->naddrs])) {
			perr(p, "[%s] %s: '%s' is not an IP address or prefix (e.g. fd00::1/128)",
			     k->section, k->name, v);
			return -EINVAL;
		}
		c->naddrs++;
		return 0;
	case K_IFACE:
		return add_iface(p, k, v);
	case K_IFACES: {
		char buf[512], *save = NULL, *tok;

		snprintf(buf, sizeof(buf), "%s", v);
		for (tok = strtok_r(buf, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
			err = add_iface(p, k, tok);
			if (err)
				return err;
		}
		return 0;
	}
	case K_GROUP: {
		char addr[64], opt[64], extra[2];
		int n;

		if (c->ngroups >= GEMD_MAX_GROUPS) {
			perr(p, "[%s] %s: more than %d groups", k->section, k->name, GEMD_MAX_GROUPS);
			return -E2BIG;
		}
		n = sscanf(v, "%63s %63s %1s", addr, opt, extra);
		if (n < 1 || n > 2) {
			perr(p, "[%s] %s: '%s': expected GROUP [suite=SUITE]", k->section, k->name, v);
			return -EINVAL;
		}
		if (gem_keys_group_parse(addr, c->groups[c->ngroups])) {
			perr(p, "[%s] %s: '%s' is not a multicast group address", k->section, k->name,
			     addr);
			return -EINVAL;
		}
		c->group_suites[c->ngroups][0] = 0;
		if (n == 2) {
			const char *name = opt + strlen("suite=");

			if (strncmp(opt, "suite=", strlen("suite=")) != 0 ||
			    !has_choice(GEMD_SUITE_CHOICES, name)) {
				perr(p, "[%s] %s: '%s': the group's option is suite=SUITE, SUITE one of: "
				     "%s", k->section, k->name, opt, GEMD_SUITE_CHOICES);
				return -EINVAL;
			}
			/* a choice: shorter than the field */
			memcpy(c->group_suites[c->ngroups], name,
			       strnlen(name, GEMD_SUITE_NAME_MAX - 1));
			c->group_suites[c->ngroups][strnlen(name, GEMD_SUITE_NAME_MAX - 1)] = 0;
		}
		for (int i = 0; i < c->ngroups; i++) {
			if (!memcmp(c->groups[i], c->groups[c->ngroups], 16)) {
				perr(p, "[%s] %s: group '%s' listed twice", k->section, k->name, v);
				return -EINVAL;
			}
		}
		c->ngroups++;
		return 0;
	}
	case K_STREAM: {
		char src[64], grp[64], extra[2];
		struct gem_addr sa;
		int fam, gi;

		if (c->nstreams >= GEMD_MAX_STREAMS) {
			perr(p, "[%s] %s: more than %d streams", k->section, k->name, GEMD_MAX_STREAMS);
			return -E2BIG;
		}
		if (sscanf(v, "%63s %63s %1s", src, grp, extra) != 2) {
			perr(p, "[%s] %s: '%s': expected SOURCE GROUP", k->section, k->name, v);
			return -EINVAL;
		}
		if (gem_addr_parse(src, &sa, &fam) || gem_addr_is_multicast(&sa)) {
			perr(p, "[%s] %s: '%s' is not a unicast source address", k->section, k->name,
			     src);
			return -EINVAL;
		}
		memcpy(c->streams[c->nstreams][0], sa.a, 16);
		if (gem_keys_group_parse(grp, c->streams[c->nstreams][1])) {
			perr(p, "[%s] %s: '%s' is not a multicast group address", k->section, k->name,
			     grp);
			return -EINVAL;
		}
		if (gem_addr_is_v4(&sa) != (c->streams[c->nstreams][1][10] == 0xff &&
					    c->streams[c->nstreams][1][0] == 0)) {
			perr(p, "[%s] %s: '%s': source and group of different address families",
			     k->section, k->name, v);
			return -EINVAL;
		}
		for (gi = 0; gi < c->ngroups; gi++)
			if (!memcmp(c->groups[gi], c->streams[c->nstreams][1], 16))
				break;
		if (gi == c->ngroups) {
			perr(p, "[%s] %s: group '%s' is not one of the [groups] group lines above",
			     k->section, k->name, grp);
			return -EINVAL;
		}
		c->nstreams++;
		return 0;
	}
	case K_SOURCES: {
		char buf[512], *save = NULL, *tok;

		snprintf(buf, sizeof(buf), "%s", v);
		for (tok = strtok_r(buf, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
			if (c->nsources >= GEMD_MAX_SOURCES) {
				perr(p, "[%s] %s: more than %d prefixes", k->section, k->name,
				     GEMD_MAX_SOURCES);
				return -E2BIG;
			}
			if (gemd_prefix_parse(tok, &c->sources[c->nsources])) {
				perr(p, "[%s] %s: '%s' is not an IP prefix (e.g. 10.1.0.0/24, "
				     "fd00:1::/64)", k->section, k->name, tok);
				return -EINVAL;
			}
			c->nsources++;
		}
		if (!c->nsources) {
			perr(p, "[%s] %s: empty value", k->section, k->name);
			return -EINVAL;
		}
		return 0;
	}
	case K_NODE_ID: {
		uint8_t id[8];

		if (gemd_unhex(v, id, 8))
			goto bad_id;
		memcpy(c->node_id, id, 8);
		c->have_node_id = true;
		return 0;
bad_id:
		perr(p, "[%s] %s: '%s' is not 16 hex digits (see: gemctl keys pubkey)", k->section,
		     k->name, v);
		return -EINVAL;
	}
	case K_MCAST_LL: {
		struct in6_addr a;

		if (inet_pton(AF_INET6, v, &a) != 1 || a.s6_addr[0] != 0xff ||
		    (a.s6_addr[1] & 0x0f) != 0x02) {
			perr(p, "[%s] %s: '%s' is not a link-local scope IPv6 multicast address "
			     "(ff02::/16)", k->section, k->name, v);
			return -EINVAL;
		}
		c->disc_group = a;
		inet_ntop(AF_INET6, &a, c->disc_group_text, sizeof(c->disc_group_text));
		return 0;
	}
	}
	return -EINVAL;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct pctx *p = user;
	bool known_section = false;

	if (!*section) {
		perr(p, "key '%s' outside a section (start with e.g. [node])", name);
		return 0;
	}
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		known_section |= !strcmp(section, sections[i]);
	if (!known_section) {
		perr(p, "unknown section [%s] (sections: node, hsm, discovery, tunnel, babel, "
		     "groups)", section);
		return 0;
	}
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		if (strcmp(k->section, section) != 0 || strcmp(k->name, name) != 0)
			continue;
		if (!k->multi && p->seen[i]) {
			perr(p, "[%s] %s given twice (first on line %d)", section, name, p->seen[i]);
			return 0;
		}
		p->seen[i] = p->line;
		return set_key(p, k, value) == 0;
	}
	perr(p, "[%s] unknown key '%s'", section, name);
	return 0;
}

/* fgets-like reader over a FILE or a string that counts lines and flags
 * lines too long for inih's buffer (it would split them silently). */
static char *reader(char *str, int num, void *stream)
{
	struct pctx *p = stream;
	int n = 0;
	bool eol = false;

	if (num < 2)
		return NULL;
	while (n < num - 1) {
		int ch = p->f ? fgetc(p->f) : (*p->s ? (unsigned char)*p->s++ : EOF);

		if (ch == EOF)
			break;
		str[n++] = ch;
		if (ch == '\n') {
			eol = true;
			break;
		}
	}
	if (n == 0)
		return NULL;
	str[n] = '\0';
	p->line++;
	if (!eol) {
		int ch = p->f ? fgetc(p->f) : (*p->s ? (unsigned char)*p->s : EOF);

		if (ch != EOF && p->f)
			ungetc(ch, p->f);
		if (ch != EOF) {
			perr(p, "line longer than %d characters", num - 3);
			/* drop the rest of the line */
			for (;;) {
				ch = p->f ? fgetc(p->f) : (*p->s ? (unsigned char)*p->s++ : EOF);
				if (ch == EOF || ch == '\n')
					break;
			}
		}
	}
	return str;
}

/* [tunnel] charon_plugins: plugin names, and every one gemd cannot do without. */
static int check_plugins(struct pctx *p)
{
	const char *list = p->c->charon_plugins;
	char req[] = GEMD_CHARON_REQUIRED_PLUGINS, *save = NULL;

	for (const char *s = list; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == ' ')) {
			perr(p, "[tunnel] charon_plugins: '%c' in '%s' (plugin names, separated by "
			     "spaces)", *s, list);
			return -EINVAL;
		}
	}
	for (char *r = strtok_r(req, " ", &save); r; r = strtok_r(NULL, " ", &save)) {
		size_t rl = strlen(r);
		bool found = false;

		for (const char *s = list; (s = strstr(s, r)); s += rl)
			if ((s == list || s[-1] == ' ') && (s[rl] == ' ' || s[rl] == '\0'))
				found = true;
		if (!found) {
			perr(p, "[tunnel] charon_plugins: '%s' is missing (gemd needs: %s)", r,
			     GEMD_CHARON_REQUIRED_PLUGINS);
			return -EINVAL;
		}
	}
	return 0;
}

static int validate(struct pctx *p)
{
	struct gemd_config *c = p->c;
	char sock[GEMD_PATH_MAX + 16];

	p->line = 0;	/* whole-file checks: "FILE: message" */
	if (c->nifaces == 0) {
		perr(p, "[discovery] no interface configured (add e.g.: interface = eth0)");
		return -EINVAL;
	}
	if (!c->pin_file[0]) {
		perr(p, "[hsm] pin_file is required (a file holding the token's user PIN, mode "
		     "0600)");
		return -EINVAL;
	}
	if (!c->socket[0]) {
		snprintf(sock, sizeof(sock), "%s/%s", c->run_dir, GEMD_SOCKET_NAME);
		if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			perr(p, "[node] run_dir: '%s' is too long for a UNIX socket path (set "
			     "socket = a shorter path)", c->run_dir);
			return -ENAMETOOLONG;
		}
		snprintf(c->socket, sizeof(c->socket), "%s", sock);
	}
	if (strlen(c->run_dir) > GEMD_RUN_DIR_MAX) {
		perr(p, "[node] run_dir: longer than %d characters (UNIX socket paths inside it "
		     "must fit in 108 bytes)", GEMD_RUN_DIR_MAX);
		return -ENAMETOOLONG;
	}
	for (int i = 0; c->nsources && i < c->nstreams; i++) {
		char a[INET6_ADDRSTRLEN];
		int j;

		for (j = 0; j < c->nsources; j++)
			if (gemd_prefix_contains(&c->sources[j], c->streams[i][0]))
				break;
		if (j < c->nsources)
			continue;
		if (c->streams[i][0][10] == 0xff && c->streams[i][0][0] == 0)
			inet_ntop(AF_INET, c->streams[i][0] + 12, a, sizeof(a));
		else
			inet_ntop(AF_INET6, c->streams[i][0], a, sizeof(a));
		perr(p, "[groups] stream: source %s is in none of the [groups] sources prefixes", a);
		return -EINVAL;
	}
	if (c->hold_ms < 2 * c->beacon_ms) {
		perr(p, "[discovery] hold (%u.%03u s) must be at least twice the interval "
		     "(%u.%03u s)", c->hold_ms / 1000, c->hold_ms % 1000, c->beacon_ms / 1000,
		     c->beacon_ms % 1000);
		return -EINVAL;
	}
	if ((unsigned long)c->port_base + 2UL * c->max_neighbours > 65536) {
		perr(p, "[tunnel] port_base %u + 2 x max_neighbours %u exceeds port 65535",
		     c->port_base, c->max_neighbours);
		return -EINVAL;
	}
	if (c->disc_port >= c->port_base && c->disc_port < c->port_base + 2 * c->max_neighbours) {
		perr(p, "[discovery] port %u lies in the IKE port range %u..%u of [tunnel]",
		     c->disc_port, c->port_base, c->port_base + 2 * c->max_neighbours - 1);
		return -EINVAL;
	}
	if (c->disc_port == 6696) {
		perr(p, "[discovery] port 6696 is Babel's port");
		return -EINVAL;
	}
	if (check_plugins(p))
		return -EINVAL;
	if (c->update_ms && c->update_ms < c->hello_ms) {
		perr(p, "[babel] update_interval must not be shorter than hello_interval");
		return -EINVAL;
	}
	for (int i = 0; i < c->naddrs; i++) {
		for (int j = 0; j < i; j++) {
			if (!strcmp(c->addrs[i].text, c->addrs[j].text)) {
				perr(p, "[node] address %s listed twice", c->addrs[i].text);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int parse(struct pctx *p, char *err, size_t errlen)
{
	int rc;
	bool ml = ini_allow_multiline;

	/* one line, one key: an indented line is not a continuation */
	ini_allow_multiline = false;
	rc = ini_parse_stream(reader, p, handler, p);
	ini_allow_multiline = ml;
	if (rc == -2) {
		snprintf(err, errlen, "%s: out of memory", p->name);
		return -ENOMEM;
	}
	if (p->err_line && (rc <= 0 || p->err_line <= rc)) {
		snprintf(err, errlen, "%s:%d: %s", p->name, p->err_line, p->err);
		return -EINVAL;
	}
	if (rc > 0) {
		snprintf(err, errlen, "%s:%d: syntax error (expected [section], key = value or "
			 "a comment)", p->name, rc);
		return -EINVAL;
	}
	if (validate(p)) {
		snprintf(err, errlen, "%s: %s", p->name, p->err);
		return -EINVAL;
	}
	return 0;
}

int gemd_config_parse_string(struct gemd_config *c, const char *name, const char *text,
			     char *err, size_t errlen)
{
	struct pctx p = { .c = c, .name = name, .s = text };

	gemd_config_defaults(c);
	snprintf(c->path, sizeof(c->path), "%s", name);
	return parse(&p, err, errlen);
}

int gemd_config_load(struct gemd_config *c, const char *path, char *err, size_t errlen)
{
	struct pctx p = { .c = c, .name = path };
	int rc;

	gemd_config_defaults(c);
	snprintf(c->path, sizeof(c->path), "%s", path);
	p.f = fopen(path, "re");
	if (!p.f) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return rc;
	}
	rc = parse(&p, err, errlen);
	fclose(p.f);
	return rc;
}

/* The bytes a key's value occupies in a struct gemd_config (a repeatable
 * key: its whole array and its count). */
static bool key_same(const struct key *k, const struct gemd_config *a,
		     const struct gemd_config *b)
{
	const char *fa = (const char *)a + k->off, *fb = (const char *)b + k->off;

	switch (k->type) {
	case K_STR:
	case K_PATH:
	case K_CHOICE:
		return !strcmp(fa, fb);
	case K_BOOL:
		return *(const bool *)fa == *(const bool *)fb;
	case K_UINT:
		return !memcmp(fa, fb, k->size);
	case K_SECONDS:
		return *(const unsigned int *)fa == *(const unsigned int *)fb;
	case K_PREFIX:
		return a->naddrs == b->naddrs &&
		       !memcmp(a->addrs, b->addrs, sizeof(a->addrs[0]) * (size_t)a->naddrs);
	case K_IFACE:
	case K_IFACES:
		return a->nifaces == b->nifaces &&
		       !memcmp(a->ifaces, b->ifaces, sizeof(a->ifaces[0]) * (size_t)a->nifaces);
	case K_GROUP:
		return a->ngroups == b->ngroups &&
		       !memcmp(a->groups, b->groups, sizeof(a->groups[0]) * (size_t)a->ngroups) &&
		       !memcmp(a->group_suites, b->group_suites,
			       sizeof(a->group_suites[0]) * (size_t)a->ngroups);
	case K_SOURCES:
		return a->nsources == b->nsources &&
		       !memcmp(a->sources, b->sources, sizeof(a->sources[0]) * (size_t)a->nsources);
	case K_STREAM:
		return a->nstreams == b->nstreams &&
		       !memcmp(a->streams, b->streams, sizeof(a->streams[0]) * (size_t)a->nstreams);
	case K_NODE_ID:
		return a->have_node_id == b->have_node_id &&
		       !memcmp(a->node_id, b->node_id, sizeof(a->node_id));
	case K_MCAST_LL:
		return !memcmp(&a->disc_group, &b->disc_group, sizeof(a->disc_group));
	}
	return false;
}

int gemd_config_diff(const struct gemd_config *a, const struct gemd_config *b,
		     void (*fn)(void *arg, const char *section, const char *name), void *arg)
{
	int n = 0;

	for (size_t i = 0; i < NKEYS; i++) {
		bool dup = false;

		/* [discovery] interface and interfaces fill one list: one change */
		for (size_t j = 0; j < i; j++)
			if (keys[j].off == keys[i].off)
				dup = true;
		if (dup || key_same(&keys[i], a, b))
			continue;
		fn(arg, keys[i].section, keys[i].name);
		n++;
	}
	return n;
}
