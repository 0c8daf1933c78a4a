// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Tunnel backend "libipsec": one charon per neighbour link.
 *
 * This kernel has no ESP and no XFRM interfaces, so ESP runs in user space
 * in strongSwan's kernel-libipsec plugin, which moves packets through its own
 * TUN device.  One charon can carry only one neighbour usefully (Babel's
 * multicast Hellos would be encrypted into whichever SA matched first), so
 * every tunnel gets its own charon:
 *
 *   <run_dir>/tun/<port>/      mode 0700, mounted on /run in the charon's
 *                              private mount namespace (the compiled-in pid
 *                              file /var/run/charon.pid lands here)
 *     strongswan.conf          ports, plugins, log; no secrets
 *     charon.vici              VICI socket: gemd loads the PSK and the
 *                              connection through it (never on disk)
 *     charon.log               charon's log; gemd tails it for IKE
 *                              authentication failures and truncates it
 *     charon.out               charon's stdout/stderr
 *
 * Ports: IKE on the slot's port P, NAT-T (libipsec always encapsulates) on
 * P+1; the neighbour's IKE port comes from its beacon.
 *
 * Routes: Babel routes over the TUN; charon must route nothing.  But
 * kernel-libipsec installs a route for every outbound policy whatever
 * install_routes says, and with routing_table = 0 that lands in the main
 * table (0.0.0.0/0 as two /1 halves: all IPv4 traffic into the TUN).  So
 * each charon gets a routing table of its own (table_base + slot) and its
 * rule matches only packets with fwmark GEM_FWMARK, which nothing sets: the
 * table is never consulted.  A clean charon removes rule and routes; after
 * a SIGKILL gemd deletes them (gemd_nl_flush_tables).  kernel-libipsec
 * names its TUN "ipsec%d" in start order (names swap after restarts), so the
 * interface is found from the charon's own open TUN file (the fd that is
 * character device 10:200; /proc/PID/fdinfo/FD, "iff:") and never guessed
 * from the name.
 *
 * Diagnosis: once charon's VICI socket is up gemd asks it (stats,
 * get-algorithms) whether it loaded its plugins and has every algorithm of
 * the proposals; charon's log gives the reason of each failed exchange.
 * Both end up in struct tunnel's problem / last_error (gemctl peers) and in
 * one log line per change.
 *
 * gemd drives IKE (charon never retries on its own): the lower node id
 * initiates when the neighbour's beacon says its end is READY, retries with
 * back-off while there is no SA, and re-initiates at once when the
 * neighbour's instance generation changes (its charon restarted).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "gemd/charon_algs.h"
#include "gemd/log.h"
#include "gemd/nl.h"
#include "gemd/proc.h"
#include "gemd/tunnel.h"
#include "gemd/clock.h"
#include "gemd/files.h"
#include "gemd/ids.h"
#include "gemd/vici.h"
#include "keys/gem_keys.h"

#define START_TIMEOUT_MS	15000u	/* charon up with VICI socket and TUN */
#define POLL_MS			1000	/* list-sas while not established */
#define POLL_IDLE_MS		10000	/* ... established, with the event watch */
#define RESTART_MIN_MS		500
#define RESTART_MAX_MS		30000
#define STABLE_MS		60000	/* a charon that ran this long restarts fast */
#define INIT_RETRY_MS		2000	/* initiator: retry while there is no SA */
#define INIT_RETRY_MAX_MS	30000	/* ... backing off after auth failures */
#define CHILD_GRACE_MS		8000	/* IKE up without CHILD SA this long: redo */
#define LOG_TRUNCATE		(256L * 1024)
#define VICI_TIMEOUT_MS		3000
#define GEM_FWMARK		"0x47454d31"	/* "GEM1": never set on any packet */
#define GEM_RULE_PRIO		32765u
#define RESPONDER_WAIT_MS	20000u	/* connecting, no IKE_SA from the initiator */
#define STATE_LOG_MS		60000	/* the same state change, same reason: logged once */
#define PROBLEM_LOG_MS		600000	/* a standing problem: repeated this often */

struct lt {
	struct tunnel t;
	char dir[GEMD_PATH_MAX], vici[GEMD_PATH_MAX + 16], logf[GEMD_PATH_MAX + 16];
	char conn[24];			/* "gem-<peer id hex>" */
	char peer_hex[GEMD_ID_HEX], my_hex[GEMD_ID_HEX];
	char peer_ll[INET6_ADDRSTRLEN];
	uint64_t spawned_ms, restart_at_ms, next_poll_ms, next_init_ms, half_up_since_ms;
	unsigned int restart_backoff_ms, init_backoff_ms;
	bool creds_loaded, conn_loaded, reinit;
	bool checked;			/* this instance's plugins and algorithms */
	uint16_t conn_port;		/* remote port the loaded connection uses */
	uint32_t ready_gen;		/* neighbour's generation when last seen READY */
	struct vici_watch ev;		/* events of this charon; fd -1: none yet */
	uint64_t ev_retry_ms;
	uint64_t ev_now;		/* time of the events being read */
	uint64_t auth_logged_ms;
	unsigned int auth_unlogged;
	uint64_t logged_ms[TUNNEL_RESTARTING + 1];	/* set_state's log, per state */
	uint32_t logged_why[TUNNEL_RESTARTING + 1];
	uint64_t fail_logged_ms;		/* IKE failures other than auth */
	char fail_logged[160];
};

const char *tunnel_state_name(enum tunnel_state s)
{
	switch (s) {
	case TUNNEL_STARTING: return "starting";
	case TUNNEL_WAIT_PEER: return "waiting-for-peer";
	case TUNNEL_CONNECTING: return "connecting";
	case TUNNEL_ESTABLISHED: return "established";
	case TUNNEL_AUTH_FAILED: return "auth-failed";
	case TUNNEL_RESTARTING: return "restarting";
	}
	return "?";
}

const struct tunnel_ops *tunnel_backend(const char *name)
{
	if (!strcmp(name, tunnel_libipsec_ops.name))
		return &tunnel_libipsec_ops;
	return NULL;
}

/* A djb2 hash of a reason text: to log a repeated state change only once. */
static uint32_t why_hash(const char *s)
{
	uint32_t h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

/* State changes are logged once with their reason: a change to the same state
 * for the same reason within STATE_LOG_MS (a retry loop) is not logged again.
 * why NULL: the caller logged the change itself. */
static void set_state(struct lt *l, enum tunnel_state s, uint64_t now, const char *why)
{
	struct tunnel *t = &l->t;
	enum tunnel_state from = t->state;
	uint32_t h;

	if (from == s)
		return;
	t->state = s;
	t->state_since_ms = now;
	if (!why && s != TUNNEL_ESTABLISHED && from != TUNNEL_ESTABLISHED)
		return;
	if (!why)
		why = "";
	h = why_hash(why);
	if (s == TUNNEL_ESTABLISHED) {
		log_info("tunnel %s: neighbour %s on %s (%s) established over %s", l->conn,
			 l->peer_hex, t->spec.link, l->peer_ll, t->ifname[0] ? t->ifname : "?");
	} else if (from == TUNNEL_ESTABLISHED) {
		log_warn("tunnel %s: neighbour %s on %s: tunnel down (%s%s%s)", l->conn, l->peer_hex,
			 t->spec.link, tunnel_state_name(s), why[0] ? ": " : "", why);
	} else if (l->logged_ms[s] && now - l->logged_ms[s] < STATE_LOG_MS &&
		   l->logged_why[s] == h) {
		return;
	} else {
		log_info("tunnel %s: neighbour %s on %s: %s -> %s%s%s%s", l->conn, l->peer_hex,
			 t->spec.link, tunnel_state_name(from), tunnel_state_name(s),
			 why[0] ? " (" : "", why, why[0] ? ")" : "");
	}
	l->logged_ms[s] = now;
	l->logged_why[s] = h;
}

/* The last failure of this tunnel, for gemctl peers. */
static void note_failure(struct lt *l, uint64_t now, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void note_failure(struct lt *l, uint64_t now, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->t.last_error, sizeof(l->t.last_error), fmt, ap);
	va_end(ap);
	l->t.last_error_ms = now;
}

static int write_conf(struct lt *l)
{
	const struct gemd_config *c = l->t.env->cfg;
	char path[GEMD_PATH_MAX + 32], buf[2048];
	int n;

	/* Paths are as charon sees them: this directory is its /run. */
	n = snprintf(buf, sizeof(buf),
		"# Generated by gemd for neighbour %s on %s; this directory is the\n"
		"# private /run of one charon.  No secrets here: the PSK goes over VICI.\n"
		"charon {\n"
		"\tload = %s\n"
		"\tport = %u\n"
		"\tport_nat_t = %u\n"
		"\tthreads = %u\n"
		"\tinstall_routes = no\n"
		"\tinstall_virtual_ip = no\n"
		"\trouting_table = %u\n"
		"\trouting_table_prio = %u\n"
		"\tretransmit_timeout = 2\n"
		"\tretransmit_base = 1.4\n"
		"\tretransmit_tries = 3\n"
		"\tinterfaces_use = %s\n"
		"\tplugins {\n"
		"\t\tvici {\n\t\t\tsocket = unix:///run/charon.vici\n\t\t}\n"
		"\t\tkernel-netlink {\n\t\t\tfwmark = " GEM_FWMARK "\n\t\t}\n"
		"\t}\n"
		"\tfilelog {\n"
		"\t\tgem {\n"
		"\t\t\tpath = /run/charon.log\n"
		"\t\t\ttime_format = %%H:%%M:%%S\n"
		"\t\t\tike_name = yes\n"
		"\t\t\tflush_line = yes\n"
		"\t\t\tdefault = 1\n"
		"\t\t\tenc = 0\n\t\t\tnet = 0\n\t\t\tjob = 0\n\t\t\tmgr = 0\n"
		"\t\t}\n"
		"\t}\n"
		"\tsyslog {\n\t\tdaemon {\n\t\t\tdefault = -1\n\t\t}\n\t}\n"
		"}\n",
		l->peer_hex, l->t.spec.link, c->charon_plugins, (unsigned int)l->t.spec.local_port,
		l->t.spec.local_port + 1u, c->charon_threads, l->t.spec.table, GEM_RULE_PRIO,
		l->t.spec.link);
	if (n < 0 || n >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	snprintf(path, sizeof(path), "%s/strongswan.conf", l->dir);
	return gemd_write_file(path, buf, n, 0600);
}

/* What an earlier instance left, except its log: the last one is kept as
 * charon.log.1 (the evidence of why it died). */
static void clear_instance_files(struct lt *l)
{
	static const char *const names[] = { "charon.pid", "charon.vici", "charon.out.1",
					     "charon.ctl" };
	char path[GEMD_PATH_MAX + 32], old[GEMD_PATH_MAX + 32];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", l->dir, names[i]);
		unlink(path);
	}
	snprintf(old, sizeof(old), "%s.1", l->logf);
	rename(l->logf, old);
	snprintf(path, sizeof(path), "%s/charon.out", l->dir);
	snprintf(old, sizeof(old), "%s/charon.out.1", l->dir);
	rename(path, old);
}

static void schedule_restart(struct lt *l, uint64_t now)
{
	struct tunnel *t = &l->t;

	if (l->spawned_ms && now - l->spawned_ms >= STABLE_MS)
		l->restart_backoff_ms = RESTART_MIN_MS;
	l->restart_at_ms = now + l->restart_backoff_ms;
	l->restart_backoff_ms = gemd_backoff_double(l->restart_backoff_ms, RESTART_MAX_MS);
	t->pid = 0;
	t->ifname[0] = '\0';
	t->ready = false;
	l->creds_loaded = l->conn_loaded = false;
	vici_watch_close(&l->ev);
	set_state(l, TUNNEL_RESTARTING, now, NULL);	/* callers log why */
}

static void spawn(struct lt *l, uint64_t now)
{
	struct tunnel *t = &l->t;
	char out[GEMD_PATH_MAX + 16];
	char *argv[] = { "charon", NULL };
	static const char *const env[] = { "STRONGSWAN_CONF=/run/strongswan.conf", NULL };
	struct gemd_spawn s = {
		.path = t->env->cfg->charon, .argv = argv, .env_add = env,
		.private_run = l->dir, .output = out, .death_signal = SIGKILL,
	};
	const char *what;
	pid_t pid;
	int err;

	clear_instance_files(l);
	err = write_conf(l);
	if (err) {
		log_err("tunnel %s: cannot write %s/strongswan.conf: %s", l->conn, l->dir,
			strerror(-err));
		note_failure(l, now, "cannot write strongswan.conf: %s", strerror(-err));
		schedule_restart(l, now);
		return;
	}
	snprintf(out, sizeof(out), "%s/charon.out", l->dir);
	err = gemd_spawn(&s, &pid, &what);
	if (err) {
		log_err("tunnel %s: cannot start %s (%s: %s)", l->conn, t->env->cfg->charon, what,
			strerror(-err));
		note_failure(l, now, "cannot start charon (%s: %s)", what, strerror(-err));
		schedule_restart(l, now);
		return;
	}
	t->pid = pid;
	t->gen = randombytes_random() | 1;	/* never 0: 0 means "none" */
	l->spawned_ms = now;
	l->next_poll_ms = now;
	l->next_init_ms = now;
	l->init_backoff_ms = INIT_RETRY_MS;
	l->half_up_since_ms = 0;
	l->checked = false;
	l->ev_retry_ms = 0;
	set_state(l, TUNNEL_STARTING, now, NULL);
	log_info("tunnel %s: neighbour %s on %s (%s): charon pid %d, IKE port %u (%s)",
		 l->conn, l->peer_hex, t->spec.link, l->peer_ll, pid, t->spec.local_port,
		 t->spec.initiator ? "initiator" : "responder");
}

/* The TUN charon opened: "iff:\tipsecN" in the fdinfo of its TUN fd.  The fd
 * is recognised by what it is (the character device 10:200, whatever path it
 * was opened by), never by how its path prints: under a chroot,
 * /proc/PID/fd/N reads "/ROOT/dev/net/tun". */
int gemd_find_tun(pid_t pid, char *ifname)
{
	char path[320], line[128];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int found = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while (found && (de = readdir(d))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, de->d_name);
		if (stat(path, &st) < 0 || !S_ISCHR(st.st_mode) ||
		    major(st.st_rdev) != GEMD_TUN_MAJOR || minor(st.st_rdev) != GEMD_TUN_MINOR)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char name[IF_NAMESIZE + 1];

			if (sscanf(line, "iff: %16s", name) == 1 && strlen(name) < IF_NAMESIZE) {
				memcpy(ifname, name, strlen(name) + 1);
				found = 0;
				break;
			}
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

static int load_creds(struct lt *l)
{
	struct tunnel *t = &l->t;
	char own[32], peer[32], err[256];
	struct vici_msg m;
	struct vici_res r = { 0 };
	uint8_t *psk;
	const char *ok;
	int rc;

	psk = sodium_malloc(GEM_KEYS_PSK_LEN);
	if (!psk)
		return -ENOMEM;
	rc = t->env->psk(t->env->arg, t->spec.peer_id, psk);
	if (rc) {
		sodium_free(psk);
		return rc;	/* gemd logged why */
	}
	rc = vici_msg_init(&m, true);
	if (rc) {
		sodium_free(psk);
		return rc;
	}
	snprintf(own, sizeof(own), "gem-%s", l->my_hex);
	snprintf(peer, sizeof(peer), "gem-%s", l->peer_hex);
	vici_add_str(&m, "id", l->conn);
	vici_add_str(&m, "type", "IKE");
	vici_add_kv(&m, "data", psk, GEM_KEYS_PSK_LEN);
	sodium_free(psk);	/* wiped; the only copy is now in m (locked) */
	vici_begin_list(&m, "owners");
	vici_add_item(&m, own);
	vici_add_item(&m, peer);
	vici_end_list(&m);
	rc = vici_call(l->vici, "load-shared", &m, NULL, NULL, NULL, &r, VICI_TIMEOUT_MS, err,
		       sizeof(err));
	vici_msg_free(&m);	/* wipes */
	if (rc) {
		log_warn("tunnel %s: load-shared: %s", l->conn, err);
		goto out;
	}
	ok = vici_get(&r, "success");
	if (!ok || strcmp(ok, "yes") != 0) {
		log_err("tunnel %s: charon refused the PSK: %s", l->conn,
			vici_get(&r, "errmsg") ? vici_get(&r, "errmsg") : "no reason given");
		rc = -EIO;
	}
out:
	vici_res_free(&r);
	return rc;
}

static int load_conn(struct lt *l)
{
	struct tunnel *t = &l->t;
	const struct gemd_config *c = t->env->cfg;
	char addr[INET6_ADDRSTRLEN + IF_NAMESIZE + 2], err[256], my_ll[INET6_ADDRSTRLEN];
	struct vici_msg m;
	struct vici_res r = { 0 };
	const char *ok;
	int rc;

	rc = vici_msg_init(&m, false);
	if (rc)
		return rc;
	inet_ntop(AF_INET6, &t->spec.my_ll, my_ll, sizeof(my_ll));
	vici_begin_section(&m, l->conn);
	vici_add_str(&m, "version", "2");
	vici_begin_list(&m, "local_addrs");
	snprintf(addr, sizeof(addr), "%s%%%s", my_ll, t->spec.link);
	vici_add_item(&m, addr);
	vici_end_list(&m);
	vici_begin_list(&m, "remote_addrs");
	snprintf(addr, sizeof(addr), "%s%%%s", l->peer_ll, t->spec.link);
	vici_add_item(&m, addr);
	vici_end_list(&m);
	vici_add_fmt(&m, "local_port", "%u", t->spec.local_port);
	vici_add_fmt(&m, "remote_port", "%u", t->peer_port);
	vici_add_str(&m, "encap", "yes");
	vici_add_str(&m, "mobike", "no");
	vici_begin_list(&m, "proposals");
	vici_add_item(&m, c->ike_proposals);
	vici_end_list(&m);
	vici_add_fmt(&m, "dpd_delay", "%us", c->dpd_s);
	vici_add_str(&m, "unique", "replace");
	vici_add_str(&m, "keyingtries", "1");
	vici_begin_section(&m, "local");
	vici_add_str(&m, "auth", "psk");
	vici_add_fmt(&m, "id", "gem-%s", l->my_hex);
	vici_end_section(&m);
	vici_begin_section(&m, "remote");
	vici_add_str(&m, "auth", "psk");
	vici_add_fmt(&m, "id", "gem-%s", l->peer_hex);
	vici_end_section(&m);
	vici_begin_section(&m, "children");
	vici_begin_section(&m, "gem");
	vici_begin_list(&m, "local_ts");
	vici_add_item(&m, "0.0.0.0/0");
	vici_add_item(&m, "::/0");
	vici_end_list(&m);
	vici_begin_list(&m, "remote_ts");
	vici_add_item(&m, "0.0.0.0/0");
	vici_add_item(&m, "::/0");
	vici_end_list(&m);
	vici_begin_list(&m, "esp_proposals");
	vici_add_item(&m, c->esp_proposals);
	vici_end_list(&m);
	vici_add_str(&m, "mode", "tunnel");
	/* gemd (re)initiates; charon only clears what DPD finds dead */
	vici_add_str(&m, "start_action", "none");
	vici_add_str(&m, "dpd_action", "clear");
	vici_add_str(&m, "close_action", "none");
	vici_end_section(&m);
	vici_end_section(&m);
	vici_end_section(&m);
	rc = vici_call(l->vici, "load-conn", &m, NULL, NULL, NULL, &r, VICI_TIMEOUT_MS, err,
		       sizeof(err));
	vici_msg_free(&m);
	if (rc) {
		log_warn("tunnel %s: load-conn: %s", l->conn, err);
		goto out;
	}
	ok = vici_get(&r, "success");
	if (!ok || strcmp(ok, "yes") != 0) {
		log_err("tunnel %s: charon refused the connection: %s", l->conn,
			vici_get(&r, "errmsg") ? vici_get(&r, "errmsg") : "no reason given");
		rc = -EIO;
	}
out:
	vici_res_free(&r);
	return rc;
}

static void simple_call(struct lt *l, const char *cmd, struct vici_msg *m)
{
	struct vici_res r = { 0 };
	char err[256];

	if (vici_call(l->vici, cmd, m, NULL, NULL, NULL, &r, VICI_TIMEOUT_MS, err, sizeof(err)))
		log_debug("tunnel %s: %s", l->conn, err);
	vici_res_free(&r);
}

static void initiate(struct lt *l)
{
	struct vici_msg m;

	if (vici_msg_init(&m, false))
		return;
	vici_add_str(&m, "child", "gem");
	vici_add_str(&m, "ike", l->conn);
	vici_add_str(&m, "timeout", "-1");	/* return at once; list-sas follows it */
	vici_add_str(&m, "init-limits", "no");
	simple_call(l, "initiate", &m);
	vici_msg_free(&m);
	log_debug("tunnel %s: initiating", l->conn);
}

/* Drop our IKE SA with the neighbour without waiting for its DELETE reply
 * (its charon may be gone). */
static void terminate(struct lt *l)
{
	struct vici_msg m;

	if (vici_msg_init(&m, false))
		return;
	vici_add_str(&m, "ike", l->conn);
	vici_add_str(&m, "force", "yes");
	vici_add_str(&m, "timeout", "1000");
	simple_call(l, "terminate", &m);
	vici_msg_free(&m);
}

struct sa_scan {
	const char *conn;
	bool ike, ike_up, child_up;
	bool spi_known;
	unsigned long uniqueid;		/* of the SA the SPIs are from: the newest */
	uint8_t spi[16];
};

/* charon prints an SPI as 16 hex digits */
static int spi_parse(const char *hex, uint8_t out[8])
{
	return gemd_unhex(hex, out, 8);
}

static const char *sa_field(struct vici_res *r, const char *conn, const char *name)
{
	char key[96];

	snprintf(key, sizeof(key), "%s.%s", conn, name);
	return vici_get(r, key);
}

static void sa_event(void *arg, const uint8_t *msg, size_t len)
{
	struct sa_scan *s = arg;
	struct vici_res r = { 0 };
	char key[64];
	size_t cl = strlen(s->conn);
	bool up = false, child = false;

	if (vici_parse(msg, len, &r) == 0) {
		const char *st;

		snprintf(key, sizeof(key), "%s.state", s->conn);
		st = vici_get(&r, key);
		if (st) {
			s->ike = true;
			up = !strcmp(st, "ESTABLISHED");
		}
		/* "<conn>.child-sas.<name>-<id>.state" = INSTALLED */
		for (size_t i = 0; i < r.n; i++) {
			const char *k = r.p[i].key;
			size_t kl = strlen(k);

			if (!strncmp(k, s->conn, cl) && !strncmp(k + cl, ".child-sas.", 11) &&
			    kl > 6 && !strcmp(k + kl - 6, ".state") &&
			    !strcmp(r.p[i].val, "INSTALLED"))
				child = true;
		}
	}
	if (up) {
		const char *uid = sa_field(&r, s->conn, "uniqueid");
		unsigned long id = uid ? strtoul(uid, NULL, 10) : 0;
		uint8_t spi[16];

		s->ike_up = true;
		s->child_up |= child;
		if (child && (!s->spi_known || id > s->uniqueid) &&
		    !spi_parse(sa_field(&r, s->conn, "initiator-spi"), spi) &&
		    !spi_parse(sa_field(&r, s->conn, "responder-spi"), spi + 8)) {
			memcpy(s->spi, spi, sizeof(spi));
			s->spi_known = true;
			s->uniqueid = id;
		}
	}
	vici_res_free(&r);
}

static int poll_sas(struct lt *l, struct sa_scan *s)
{
	struct vici_msg m;
	char err[256];
	int rc;

	memset(s, 0, sizeof(*s));
	s->conn = l->conn;
	rc = vici_msg_init(&m, false);
	if (rc)
		return rc;
	vici_add_str(&m, "ike", l->conn);
	vici_add_str(&m, "noblock", "yes");
	rc = vici_call(l->vici, "list-sas", &m, "list-sa", sa_event, s, NULL, VICI_TIMEOUT_MS,
		       err, sizeof(err));
	vici_msg_free(&m);
	if (rc)
		log_debug("tunnel %s: list-sas: %s", l->conn, err);
	return rc;
}

/* charon's log: the reason of each failed IKE exchange.  Authentication
 * failures are counted and move the tunnel to auth-failed; the others are
 * only noted (the retry loop continues).  Each reason is logged once per
 * STATE_LOG_MS. */
static const struct {
	const char *pat, *why;
	bool auth;
} ike_failures[] = {
	{ "MAC mismatched", "the neighbour's pre-shared key differs from ours", true },
	{ "received AUTHENTICATION_FAILED notify", "the neighbour rejected our pre-shared key",
	  true },
	{ "no shared key found", "no pre-shared key for this pair", true },
	{ "received NO_PROPOSAL_CHOSEN notify",
	  "no proposal chosen: the neighbour accepts none of our proposals", false },
	{ "no acceptable proposal found",
	  "no proposal chosen: none of the neighbour's proposals is available here", false },
	{ "no IKE proposal",
	  "no proposal chosen: none of the neighbour's proposals is available here", false },
	/* strongSwan 5.9: "configured DH group CURVE_25519 not supported" */
	{ "not supported", "our charon cannot run the configured proposals", false },
	/* "peer didn't accept DH group CURVE_25519, it requested ..." */
	{ "peer didn't accept DH group", "the neighbour rejects our key exchange method", false },
	/* "DH group CURVE_25519 unacceptable, requesting ..." */
	{ "unacceptable, requesting", "the neighbour's key exchange method is not available here",
	  false },
	{ "retransmits", "peer not responding (IKE retransmits exhausted)", false },
	{ "peer not responding", "peer not responding", false },
	{ "received INVALID_SYNTAX notify", "the neighbour found our IKE message malformed", false },
	{ "failed to establish CHILD_SA", "IKE up but no CHILD SA", false },
};

static void scan_log_line(struct lt *l, const char *line, uint64_t now)
{
	for (size_t i = 0; i < sizeof(ike_failures) / sizeof(ike_failures[0]); i++) {
		const char *why = ike_failures[i].why;

		if (!strstr(line, ike_failures[i].pat))
			continue;
		if (!ike_failures[i].auth) {
			note_failure(l, now, "%s (charon: %.100s)", why, line);
			if (strcmp(l->fail_logged, why) != 0 ||
			    now - l->fail_logged_ms >= STATE_LOG_MS) {
				log_warn("tunnel %s: neighbour %s on %s (%s): IKE failed: %s", l->conn,
					 l->peer_hex, l->t.spec.link, l->peer_ll, l->t.last_error);
				snprintf(l->fail_logged, sizeof(l->fail_logged), "%s", why);
				l->fail_logged_ms = now;
			}
			return;
		}
		l->t.auth_failures++;
		note_failure(l, now, "IKE authentication failed: %s", why);
		set_state(l, TUNNEL_AUTH_FAILED, now, why);
		/* back off: a wrong key will not fix itself quickly */
		l->init_backoff_ms = gemd_backoff_double(l->init_backoff_ms, INIT_RETRY_MAX_MS);
		if (!l->auth_logged_ms || now - l->auth_logged_ms >= 30000) {
			log_err("tunnel %s: neighbour %s on %s (%s): IKE authentication failed: "
				"%s (a different Bootstrap Key?)%s", l->conn, l->peer_hex,
				l->t.spec.link, l->peer_ll, why, l->auth_unlogged ? "; repeated" : "");
			l->auth_logged_ms = now;
			l->auth_unlogged = 0;
		} else {
			l->auth_unlogged++;
		}
		return;
	}
}

/* One node-wide problem (every charon lacks the same package) is one log
 * line, not one per neighbour: repeated only when it changes or after
 * PROBLEM_LOG_MS. */
static void log_problem(struct lt *l, uint64_t now)
{
	static char last[sizeof(l->t.problem)];
	static uint64_t last_ms;

	if (!strcmp(last, l->t.problem) && last_ms && now - last_ms < PROBLEM_LOG_MS)
		return;
	log_err("tunnel %s: neighbour %s on %s: %s", l->conn, l->peer_hex, l->t.spec.link,
		l->t.problem);
	snprintf(last, sizeof(last), "%s", l->t.problem);
	last_ms = now;
}

/* Ask the new charon whether it can run GEM's proposals (charon_algs.h). */
static void check_charon(struct lt *l, uint64_t now)
{
	const struct gemd_config *c = l->t.env->cfg;
	struct vici_res algs = { 0 }, stats = { 0 };
	struct vici_msg m;
	char err[256], unloaded[256];
	int rc;

	if (vici_msg_init(&m, false))
		return;
	rc = vici_call(l->vici, "stats", &m, NULL, NULL, NULL, &stats, VICI_TIMEOUT_MS, err,
		       sizeof(err));
	if (!rc)
		rc = vici_call(l->vici, "get-algorithms", &m, NULL, NULL, NULL, &algs,
			       VICI_TIMEOUT_MS, err, sizeof(err));
	vici_msg_free(&m);
	if (rc) {
		log_warn("tunnel %s: cannot ask charon for its algorithms: %s", l->conn, err);
		goto out;
	}
	l->checked = true;
	if (gemd_charon_check_algs(c->ike_proposals, c->esp_proposals, c->charon_plugins, &algs,
				   &stats, l->t.problem, sizeof(l->t.problem)) > 0) {
		log_problem(l, now);
	} else if (gemd_charon_unloaded_plugins(c->charon_plugins, &stats, unloaded,
						sizeof(unloaded)) > 0) {
		/* not fatal: the proposals' algorithms came from other plugins */
		log_debug("tunnel %s: charon: %s", l->conn, unloaded);
	}
out:
	vici_res_free(&algs);
	vici_res_free(&stats);
}

/* Why a charon did not come up (no TUN or no VICI socket in time). */
static void explain_start(struct lt *l, char *out, size_t len)
{
	const struct gemd_config *c = l->t.env->cfg;
	static const char *const need[] = { "vici", "kernel-libipsec", "socket-default" };
	char dir[GEMD_PATH_MAX], path[GEMD_PATH_MAX + 64];
	const char *slash = strrchr(c->charon, '/');
	int fd;

	/* plugins live in <charon's directory>/plugins (/usr/lib/ipsec/plugins) */
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - c->charon) : 1,
		 slash ? c->charon : ".");
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		snprintf(path, sizeof(path), "%s/plugins/libstrongswan-%s.so", dir, need[i]);
		if (access(path, R_OK) < 0) {
			/* (a path cut short still tells the package) */
			if (snprintf(out, len, "charon plugin %s missing (%s; install %s)", need[i],
				     path, gemd_charon_plugin_package(need[i])) >= (int)len)
				out[len - 1] = '\0';
			return;
		}
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(out, len, "cannot open /dev/net/tun: %s (kernel-libipsec needs TUN: "
			 "CONFIG_TUN, and the device in a container)", strerror(errno));
		return;
	}
	close(fd);
	if (snprintf(out, len, "charon %s after %u s (see %s/charon.out and charon.log)",
		     l->t.ifname[0] ? "opened no VICI socket" : "created no TUN",
		     START_TIMEOUT_MS / 1000, l->dir) >= (int)len)
		out[len - 1] = '\0';
}

/* charon's file log is for the operator (gemd reads the same lines as "log"
 * events): bounded by starting it over (charon appends, O_APPEND). */
static void trim_log(struct lt *l)
{
	struct stat st;

	if (stat(l->logf, &st) == 0 && st.st_size > LOG_TRUNCATE && truncate(l->logf, 0) < 0)
		log_debug("tunnel %s: truncate %s: %s", l->conn, l->logf, strerror(errno));
}

/* An event of this charon: its log lines give the reason of failed
 * exchanges; an IKE or CHILD SA going up or down is looked at at once. */
static void on_event(void *arg, const char *event, const uint8_t *msg, size_t len)
{
	struct lt *l = arg;
	struct vici_res r = { 0 };

	if (strcmp(event, "log") != 0) {
		l->next_poll_ms = 0;
		return;
	}
	/* one charon per neighbour: every IKE line is about this tunnel */
	if (vici_parse(msg, len, &r) == 0) {
		const char *m = vici_get(&r, "msg"), *group = vici_get(&r, "group");

		if (m && group && !strcmp(group, "IKE"))
			scan_log_line(l, m, l->ev_now);
	}
	vici_res_free(&r);
}

static void watch_open(struct lt *l, uint64_t now)
{
	static const char *const events[] = { "ike-updown", "child-updown", "ike-rekey", "log",
					      NULL };
	char err[256];

	if (vici_watch_open(&l->ev, l->vici, events, VICI_TIMEOUT_MS, err, sizeof(err))) {
		log_debug("tunnel %s: no event watch yet (%s): polling", l->conn, err);
		l->ev_retry_ms = now + 5000;
		return;
	}
	l->next_poll_ms = 0;	/* what happened before the watch */
}

static int lt_pollfd(struct tunnel *t)
{
	return ((struct lt *)t)->ev.fd;
}

static void lt_input(struct tunnel *t, uint64_t now)
{
	struct lt *l = (struct lt *)t;
	int err;

	l->ev_now = now;
	err = vici_watch_read(&l->ev, on_event, l);
	if (err) {
		/* charon gone (its exit is handled by child_exited) or garbled */
		log_debug("tunnel %s: event watch: %s", l->conn, strerror(-err));
		vici_watch_close(&l->ev);
		l->ev_retry_ms = now + 1000;
	}
}

static void lt_tick(struct tunnel *t, uint64_t now)
{
	struct lt *l = (struct lt *)t;
	struct sa_scan s;

	if (t->state == TUNNEL_RESTARTING) {
		if (now >= l->restart_at_ms)
			spawn(l, now);
		return;
	}
	if (!t->pid)
		return;
	if (now < l->next_poll_ms)
		return;
	/* an established tunnel whose events gemd watches needs only a rare
	 * look; while IKE is under way, failures raise no event: look often */
	l->next_poll_ms = now + (t->state == TUNNEL_STARTING ? 200 :
				 l->ev.fd >= 0 && t->state == TUNNEL_ESTABLISHED ? POLL_IDLE_MS :
				 POLL_MS);

	if (t->state == TUNNEL_STARTING) {
		if (!t->ifname[0])
			gemd_find_tun(t->pid, t->ifname);
		if (!t->ifname[0] || vici_ping(l->vici)) {
			if (now - l->spawned_ms > START_TIMEOUT_MS) {
				explain_start(l, t->problem, sizeof(t->problem));
				log_err("tunnel %s: charon pid %d not up: %s; restarting", l->conn,
					t->pid, t->problem);
				note_failure(l, now, "charon not up after %u s", START_TIMEOUT_MS / 1000);
				gemd_stop_child(t->pid, SIGKILL, 0, NULL);
				schedule_restart(l, now);
			}
			return;
		}
		log_debug("tunnel %s: charon pid %d up, TUN %s", l->conn, t->pid, t->ifname);
		t->problem[0] = '\0';
		check_charon(l, now);
		set_state(l, TUNNEL_WAIT_PEER, now, "charon up");
	}
	if (!l->checked)
		check_charon(l, now);	/* VICI was busy the first time */
	if (l->ev.fd < 0 && now >= l->ev_retry_ms)
		watch_open(l, now);
	trim_log(l);
	if (!l->creds_loaded) {
		if (load_creds(l)) {
			l->next_poll_ms = now + 10000;	/* HSM or charon trouble: logged */
			return;
		}
		l->creds_loaded = true;
	}
	if (!t->peer_port) {
		set_state(l, TUNNEL_WAIT_PEER, now, "no IKE port in the neighbour's beacon yet");
		return;
	}
	if (!l->conn_loaded || l->conn_port != t->peer_port) {
		bool reload = l->conn_loaded;

		if (load_conn(l))
			return;
		if (reload)
			terminate(l);	/* the old SA used the old port */
		l->conn_loaded = true;
		l->conn_port = t->peer_port;
		t->ready = true;
		l->next_init_ms = now;
	}
	if (poll_sas(l, &s))
		return;
	t->ike_spi_known = s.ike_up && s.child_up && s.spi_known;
	if (t->ike_spi_known)
		memcpy(t->ike_spi, s.spi, sizeof(t->ike_spi));
	if (s.ike_up && s.child_up) {
		l->half_up_since_ms = 0;
		l->init_backoff_ms = INIT_RETRY_MS;
		set_state(l, TUNNEL_ESTABLISHED, now, NULL);
	} else if (t->state != TUNNEL_AUTH_FAILED || s.ike) {
		if (t->peer_ready)
			set_state(l, TUNNEL_CONNECTING, now, t->state == TUNNEL_ESTABLISHED ?
				  (t->last_error_ms && now - t->last_error_ms < 10000 ?
				   t->last_error : "SA gone") : "the neighbour's end is ready");
		else
			set_state(l, TUNNEL_WAIT_PEER, now, "the neighbour's end is not ready");
	}
	if (!t->spec.initiator && t->peer_ready && !s.ike && t->state == TUNNEL_CONNECTING &&
	    now - t->state_since_ms > RESPONDER_WAIT_MS &&
	    (!t->last_error_ms || t->last_error_ms < t->state_since_ms)) {
		/* the initiator's charon may be unable to start the exchange at all */
		note_failure(l, now, "no IKE request from the neighbour for %u s (it initiates: see "
			     "its gemctl peers)", RESPONDER_WAIT_MS / 1000);
		log_warn("tunnel %s: neighbour %s on %s (%s): %s", l->conn, l->peer_hex,
			 t->spec.link, l->peer_ll, t->last_error);
	}
	if (!t->spec.initiator || !t->peer_ready)
		return;
	/* initiator */
	if (s.ike_up && !s.child_up) {
		if (!l->half_up_since_ms)
			l->half_up_since_ms = now;
		else if (now - l->half_up_since_ms > CHILD_GRACE_MS)
			l->reinit = true;
	}
	if (l->reinit) {
		l->reinit = false;
		l->half_up_since_ms = 0;
		if (s.ike)
			terminate(l);
		s.ike = false;
		l->next_init_ms = now;
	}
	if (!s.ike && now >= l->next_init_ms) {
		initiate(l);
		l->next_init_ms = now + l->init_backoff_ms;
	}
}

static void lt_set_peer(struct tunnel *t, uint16_t port, uint32_t gen, bool ready)
{
	struct lt *l = (struct lt *)t;

	ready = ready && port;
	/* Its instance restarted while ours may keep a dead SA: start over.
	 * Compare with the generation last seen READY: a restarted end shows
	 * its new generation before it is ready. */
	if (ready) {
		if (t->spec.initiator && l->ready_gen && gen != l->ready_gen) {
			log_info("tunnel %s: neighbour %s restarted its end; re-initiating", l->conn,
				 l->peer_hex);
			l->reinit = true;
			l->next_poll_ms = 0;
		}
		l->ready_gen = gen;
	}
	if (ready && !t->peer_ready)
		l->next_poll_ms = 0;	/* act on it in the next tick */
	t->peer_port = port;
	t->peer_gen = gen;
	t->peer_ready = ready;
}

/* What a charon that did not exit cleanly leaves: its rule and table. */
static void flush_table(struct lt *l)
{
	int n = gemd_nl_flush_tables(l->t.spec.table, l->t.spec.table);

	if (n > 0)
		log_debug("tunnel %s: removed %d rule(s)/route(s) of table %u", l->conn, n,
			  l->t.spec.table);
	else if (n < 0)
		log_warn("tunnel %s: cannot clean routing table %u: %s", l->conn, l->t.spec.table,
			 strerror(-n));
}

static bool lt_child_exited(struct tunnel *t, pid_t pid, int status, uint64_t now)
{
	struct lt *l = (struct lt *)t;
	char why[96];

	if (!t->pid || pid != t->pid)
		return false;
	t->restarts++;
	gemd_exit_str(status, why, sizeof(why));
	note_failure(l, now, "charon %s", why);
	schedule_restart(l, now);
	flush_table(l);
	log_warn("tunnel %s: charon pid %d %s; restarting in %u ms", l->conn, pid, why,
		 (unsigned int)(l->restart_at_ms - now));
	return true;
}

static int lt_open(const struct tunnel_env *env, const struct tunnel_spec *spec,
		   struct tunnel **tp)
{
	struct lt *l;
	int err;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->t.ops = &tunnel_libipsec_ops;
	l->t.env = env;
	l->t.spec = *spec;
	l->ev.fd = -1;
	l->restart_backoff_ms = RESTART_MIN_MS;
	l->init_backoff_ms = INIT_RETRY_MS;
	gemd_hex(spec->peer_id, 8, l->peer_hex);
	gemd_hex(spec->my_id, 8, l->my_hex);
	snprintf(l->conn, sizeof(l->conn), "gem-%s", l->peer_hex);
	inet_ntop(AF_INET6, &spec->peer_ll, l->peer_ll, sizeof(l->peer_ll));
	snprintf(l->dir, sizeof(l->dir), "%s/%u", env->dir, spec->local_port);
	snprintf(l->vici, sizeof(l->vici), "%s/charon.vici", l->dir);
	snprintf(l->logf, sizeof(l->logf), "%s/charon.log", l->dir);
	/* a killed gemd's charon of this slot may have left its log: kept as
	 * charon.log.1 */
	err = gemd_reset_dir(l->dir, tunnel_libipsec_ops.keep_files, 0700);
	if (err) {
		log_err("tunnel %s: cannot prepare %s: %s", l->conn, l->dir, strerror(-err));
		free(l);
		return err;
	}
	spawn(l, gemd_now_ms());
	*tp = &l->t;
	return 0;
}

static void lt_close(struct tunnel *t)
{
	struct lt *l = (struct lt *)t;

	if (t->pid) {
		/* SIGTERM: charon sends DELETE, the neighbour learns at once */
		gemd_stop_child(t->pid, SIGTERM, 2000, NULL);
		log_info("tunnel %s: neighbour %s on %s: stopped charon pid %d", l->conn,
			 l->peer_hex, t->spec.link, t->pid);
	}
	vici_watch_close(&l->ev);
	flush_table(l);
	gemd_rm_rf(l->dir);
	free(l);
}

const struct tunnel_ops tunnel_libipsec_ops = {
	.name = "libipsec",
	.keep_files = (const char *const[]){ "charon.log", "charon.out", NULL },
	.open = lt_open,
	.set_peer = lt_set_peer,
	.tick = lt_tick,
	.child_exited = lt_child_exited,
	.pollfd = lt_pollfd,
	.input = lt_input,
	.close = lt_close,
};
