// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * babeld: configuration, supervision, and its local interface.
 *
 * Lines babeld 1.12 writes on a monitoring connection (local.c):
 *   add|change|flush interface NAME up true|false [ipv6 LL] [ipv4 A]
 *   add|change|flush neighbour ID address A if IF reach X ureach X rxcost N
 *                    txcost N [rtt R rttcost N] cost N
 *   add|change|flush xroute P-S prefix P from S metric N
 *   add|change|flush route ID prefix P from S installed yes|no id RID
 *                    metric N refmetric N via A if IF
 * and, on a read-write connection, "ok", "no [reason]" or "bad" after each
 * command.  The header is "BABEL 1.0", "version ..", "host ..", "my-id ..",
 * "ok".
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "gemd/babel.h"
#include "gemd/log.h"
#include "gemd/nl.h"
#include "gemd/proc.h"
#include "gemd/clock.h"
#include "gemd/files.h"
#include "gemd/ids.h"

#define BABEL_RESTART_MIN_MS	500
#define BABEL_RESTART_MAX_MS	30000
#define BABEL_STABLE_MS		60000

/* ---- local interface parsing -------------------------------------------------- */

#define MAXTOK 40

static int tokenize(const char *line, char tok[MAXTOK][64], int *n)
{
	int i = 0;

	while (*line) {
		size_t l;

		while (*line == ' ' || *line == '\t' || *line == '\r')
			line++;
		if (!*line)
			break;
		l = strcspn(line, " \t\r");
		if (i == MAXTOK || l >= 64)
			return -EBADMSG;
		memcpy(tok[i], line, l);
		tok[i++][l] = '\0';
		line += l;
	}
	*n = i;
	return 0;
}

/* value after key among tok[from..n) (key value pairs) */
static const char *kv(char tok[MAXTOK][64], int n, int from, const char *key)
{
	for (int i = from; i + 1 < n; i += 2)
		if (!strcmp(tok[i], key))
			return tok[i + 1];
	return NULL;
}

static int num(const char *s, unsigned int base, unsigned int *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-')
		return -EBADMSG;
	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || *end || v > 0xffffffffUL)
		return -EBADMSG;
	*out = v;
	return 0;
}

static int copy(char *dst, size_t len, const char *src)
{
	size_t n = src ? strlen(src) : len;

	if (n >= len)
		return -EBADMSG;
	memcpy(dst, src, n + 1);
	return 0;
}

void babel_state_clear(struct babel_state *st)
{
	char id[sizeof(st->my_id)];

	memcpy(id, st->my_id, sizeof(id));
	memset(st, 0, sizeof(*st));
	memcpy(st->my_id, id, sizeof(id));
}

#define FIND(arr, cnt, field, key) ({					\
	int _i = 0;							\
	while (_i < (cnt) && strcmp((arr)[_i].field, (key)) != 0)	\
		_i++;							\
	_i;								\
})

#define DEL(arr, cnt, i) do {						\
	if ((i) < (cnt)) {						\
		(arr)[i] = (arr)[(cnt) - 1];				\
		(cnt)--;						\
	}								\
} while (0)

int babel_parse_line(struct babel_state *st, const char *line)
{
	char tok[MAXTOK][64];
	int n = 0, i, flush, err = 0;

	if (tokenize(line, tok, &n))
		return -EBADMSG;
	if (n == 0)
		return 0;
	if (!strcmp(tok[0], "my-id") && n == 2) {
		copy(st->my_id, sizeof(st->my_id), tok[1]);
		return 0;
	}
	if (strcmp(tok[0], "add") != 0 && strcmp(tok[0], "change") != 0 && strcmp(tok[0], "flush") != 0)
		return 0;	/* BABEL 1.0, version, host, ok, no, bad, ... */
	if (n < 3)
		return -EBADMSG;
	flush = !strcmp(tok[0], "flush");

	if (!strcmp(tok[1], "interface")) {
		struct babel_iface f = { 0 };
		const char *up, *ll;

		i = FIND(st->iface, st->niface, name, tok[2]);
		if (flush) {
			DEL(st->iface, st->niface, i);
			return 1;
		}
		if (copy(f.name, sizeof(f.name), tok[2]))
			return -EBADMSG;
		up = kv(tok, n, 3, "up");
		ll = kv(tok, n, 3, "ipv6");
		if (!up)
			return -EBADMSG;
		f.up = !strcmp(up, "true");
		if (ll && copy(f.ll, sizeof(f.ll), ll))
			return -EBADMSG;
		if (i == st->niface) {
			if (st->niface == BABEL_MAX_IFACES)
				return -ENOSPC;
			st->niface++;
		}
		st->iface[i] = f;
		return 1;
	}
	if (!strcmp(tok[1], "neighbour")) {
		struct babel_neigh b = { 0 };

		i = FIND(st->neigh, st->nneigh, id, tok[2]);
		if (flush) {
			DEL(st->neigh, st->nneigh, i);
			return 1;
		}
		err |= copy(b.id, sizeof(b.id), tok[2]);
		err |= copy(b.addr, sizeof(b.addr), kv(tok, n, 3, "address"));
		err |= copy(b.ifname, sizeof(b.ifname), kv(tok, n, 3, "if"));
		err |= num(kv(tok, n, 3, "reach"), 16, &b.reach);
		err |= num(kv(tok, n, 3, "ureach"), 16, &b.ureach);
		err |= num(kv(tok, n, 3, "rxcost"), 10, &b.rxcost);
		err |= num(kv(tok, n, 3, "txcost"), 10, &b.txcost);
		err |= num(kv(tok, n, 3, "cost"), 10, &b.cost);
		if (err)
			return -EBADMSG;
		if (kv(tok, n, 3, "rtt"))
			copy(b.rtt, sizeof(b.rtt), kv(tok, n, 3, "rtt"));
		if (i == st->nneigh) {
			if (st->nneigh == BABEL_MAX_NEIGHS)
				return -ENOSPC;
			st->nneigh++;
		}
		st->neigh[i] = b;
		return 1;
	}
	if (!strcmp(tok[1], "route")) {
		struct babel_route r = { 0 };
		const char *inst;

		i = FIND(st->route, st->nroute, id, tok[2]);
		if (flush) {
			DEL(st->route, st->nroute, i);
			return 1;
		}
		err |= copy(r.id, sizeof(r.id), tok[2]);
		err |= copy(r.prefix, sizeof(r.prefix), kv(tok, n, 3, "prefix"));
		err |= copy(r.from, sizeof(r.from), kv(tok, n, 3, "from"));
		err |= copy(r.router_id, sizeof(r.router_id), kv(tok, n, 3, "id"));
		err |= copy(r.via, sizeof(r.via), kv(tok, n, 3, "via"));
		err |= copy(r.ifname, sizeof(r.ifname), kv(tok, n, 3, "if"));
		err |= num(kv(tok, n, 3, "metric"), 10, &r.metric);
		err |= num(kv(tok, n, 3, "refmetric"), 10, &r.refmetric);
		inst = kv(tok, n, 3, "installed");
		if (err || !inst)
			return -EBADMSG;
		r.installed = !strcmp(inst, "yes");
		if (i == st->nroute) {
			if (st->nroute == BABEL_MAX_ROUTES)
				return -ENOSPC;
			st->nroute++;
		}
		st->route[i] = r;
		return 1;
	}
	if (!strcmp(tok[1], "xroute")) {
		struct babel_xroute x = { 0 };

		/* keyed by prefix + from: tok[2] is "P-S" */
		err |= copy(x.prefix, sizeof(x.prefix), kv(tok, n, 3, "prefix"));
		err |= copy(x.from, sizeof(x.from), kv(tok, n, 3, "from"));
		if (err)
			return -EBADMSG;
		for (i = 0; i < st->nxroute; i++)
			if (!strcmp(st->xroute[i].prefix, x.prefix) &&
			    !strcmp(st->xroute[i].from, x.from))
				break;
		if (flush) {
			DEL(st->xroute, st->nxroute, i);
			return 1;
		}
		if (num(kv(tok, n, 3, "metric"), 10, &x.metric))
			return -EBADMSG;
		if (i == st->nxroute) {
			if (st->nxroute == BABEL_MAX_XROUTES)
				return -ENOSPC;
			st->nxroute++;
		}
		st->xroute[i] = x;
		return 1;
	}
	return 0;	/* a kind this version does not know */
}

/* ---- supervision ------------------------------------------------------------------ */

static bool pid_is_ours(pid_t pid, const char *conf)
{
	char path[64], buf[4096], st[256];
	ssize_t n;
	int fd;
	FILE *f;
	char state = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (fgets(st, sizeof(st), f)) {
		char *p = strrchr(st, ')');

		if (p && p[1] == ' ')
			state = p[2];
	}
	fclose(f);
	if (state == 'Z' || state == 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	for (ssize_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	buf[n] = '\0';
	return strstr(buf, "babeld") && strstr(buf, conf);
}

int babel_init(struct babel *b, const struct gemd_config *cfg, const uint8_t node_id[8],
	       const char *dir)
{
	pid_t old;
	int err;

	memset(b, 0, sizeof(*b));
	b->cfg = cfg;
	b->fd = -1;
	b->backoff_ms = BABEL_RESTART_MIN_MS;
	snprintf(b->dir, sizeof(b->dir), "%s", dir);
	snprintf(b->conf, sizeof(b->conf), "%s/babeld.conf", dir);
	snprintf(b->pidf, sizeof(b->pidf), "%s/babeld.pid", dir);
	snprintf(b->statef, sizeof(b->statef), "%s/babel-state", cfg->state_dir);
	snprintf(b->seqf, sizeof(b->seqf), "%s/babel-state.start", cfg->state_dir);
	snprintf(b->logf, sizeof(b->logf), "%s/babeld.log", dir);
	snprintf(b->sock, sizeof(b->sock), "%s/babeld.sock", dir);
	snprintf(b->out, sizeof(b->out), "%s/babeld.out", dir);
	gemd_id_eui64(node_id, b->router_id);
	snprintf(b->st.my_id, sizeof(b->st.my_id), "%s", b->router_id);

	/* A babeld left by a gemd that was killed (it gets SIGTERM when gemd
	 * dies; this covers one still exiting, or a race at its start). */
	old = gemd_read_pidfile(b->pidf);
	if (old > 0 && pid_is_ours(old, b->conf)) {
		log_warn("babeld pid %d of a previous gemd still runs: killing it", old);
		kill(old, SIGKILL);
		for (int i = 0; i < 100 && pid_is_ours(old, b->conf); i++) {
			struct timespec ts = { 0, 20L * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	/* the last babeld's log stays as babeld.log.1: evidence of a crash */
	err = gemd_reset_dir(dir, (const char *const[]){ "babeld.log", "babeld.out", NULL },
			     0700);
	if (err) {
		log_err("cannot create %s: %s", dir, strerror(-err));
		return err;
	}
	err = gemd_mkdir_p(cfg->state_dir, 0700);
	if (err) {
		log_err("cannot create state_dir %s: %s", cfg->state_dir, strerror(-err));
		return err;
	}
	err = gemd_nl_flush_proto(GEMD_RTPROT_BABEL);
	if (err > 0)
		log_info("removed %d stale Babel route(s) from the kernel", err);
	return 0;
}

/* Babel's seqno files: 0..65535 */
static int read_seqno(const char *path)
{
	return (int)gemd_read_number(path, 0, 0xffff);
}

static int write_seqno(const char *path, unsigned int seqno)
{
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%u\n", seqno & 0xffff);

	return gemd_write_file(path, buf, n, 0600);
}

/* Make sure babeld starts with a seqno newer than any it announced before
 * (see babel.h).  babeld reads the state file, starts at its value + 1 and
 * deletes it; it writes its last seqno back on a clean exit only. */
static void prepare_seqno(struct babel *b)
{
	int clean = read_seqno(b->statef), last = read_seqno(b->seqf);
	unsigned int s;

	if (clean >= 0)
		s = clean;			/* a clean exit left its final seqno */
	else if (last >= 0)
		s = (last + 1024) & 0xffff;	/* died: jump past what it may have used */
	else
		s = randombytes_uniform(0x10000);
	if (clean < 0 && write_seqno(b->statef, s))
		log_warn("cannot write %s: babeld picks a random seqno", b->statef);
	if (write_seqno(b->seqf, s + 1))
		log_warn("cannot write %s", b->seqf);
	log_debug("babeld seqno starts at %u%s", (s + 1) & 0xffff,
		  clean >= 0 ? " (clean exit)" : last >= 0 ? " (after a crash)" : " (first run)");
}

static bool has_name(const char (*set)[IF_NAMESIZE], int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(set[i], name))
			return true;
	return false;
}

void babel_set_ifaces(struct babel *b, const char (*names)[IF_NAMESIZE], int n)
{
	if (n > BABEL_MAX_IFACES)
		n = BABEL_MAX_IFACES;
	for (int i = 0; i < n; i++)
		snprintf(b->want[i], IF_NAMESIZE, "%s", names[i]);
	b->nwant = n;
}

/* Interface options, written with every interface: babeld 1.12 merges the
 * "default" line only into interfaces of its configuration file, not into
 * those added later through the local interface (which would fall back to a
 * 4 s hello and 16 s update interval). */
static void if_opts(const struct babel *b, char *buf, size_t len)
{
	const struct gemd_config *c = b->cfg;
	int n;

	n = snprintf(buf, len, "type %s hello-interval %u.%03u", c->link_type, c->hello_ms / 1000,
		     c->hello_ms % 1000);
	if (c->update_ms && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - n, " update-interval %u.%03u", c->update_ms / 1000,
			      c->update_ms % 1000);
	if (c->v4_via_v6 && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - n, " v4-via-v6 true");
}

static int write_conf(struct babel *b)
{
	const struct gemd_config *c = b->cfg;
	char *buf = NULL, opts[160];
	size_t len = 0;
	FILE *f;
	int err;

	if_opts(b, opts, sizeof(opts));
	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	fprintf(f, "# Generated by gemd: Babel runs on the IPsec tunnel interfaces only.\n"
		   "router-id %s\n"
		   "local-path-readwrite %s\n"
		   "smoothing-half-life %u\n"
		   "default %s\n",
		b->router_id, b->sock, c->smoothing_s, opts);
	for (int i = 0; i < c->naddrs; i++)
		fprintf(f, "redistribute local ip %s allow\n", c->addrs[i].text);
	fprintf(f, "redistribute local deny\n");
	for (int i = 0; i < b->nwant; i++)
		fprintf(f, "interface %s %s\n", b->want[i], opts);
	if (fclose(f)) {
		free(buf);
		return -ENOMEM;
	}
	err = gemd_write_file(b->conf, buf, len, 0600);
	free(buf);
	return err;
}

static void disconnect(struct babel *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	b->monitoring = false;
	gem_lines_init(&b->in, b->rbuf, sizeof(b->rbuf));
	babel_state_clear(&b->st);
}

static void start(struct babel *b, uint64_t now)
{
	char *argv[] = { "babeld", "-c", b->conf, "-I", b->pidf, "-S", b->statef, "-L", b->logf,
			 NULL };
	struct gemd_spawn s = {
		.path = b->cfg->babeld, .argv = argv, .output = b->out,
		/* SIGTERM: babeld removes its routes when gemd dies */
		.death_signal = SIGTERM,
	};
	const char *what;
	int err;

	unlink(b->pidf);
	unlink(b->sock);
	prepare_seqno(b);
	err = write_conf(b);
	if (!err)
		err = gemd_spawn(&s, &b->pid, &what);
	else
		what = "write babeld.conf";
	if (err) {
		log_err("cannot start %s (%s: %s); retrying in %u ms", b->cfg->babeld, what,
			strerror(-err), b->backoff_ms);
		b->pid = 0;
		b->restart_at_ms = now + b->backoff_ms;
		b->backoff_ms = gemd_backoff_double(b->backoff_ms, BABEL_RESTART_MAX_MS);
		return;
	}
	b->started_ms = now;
	b->next_connect_ms = now + 100;
	b->ntold = b->nwant;
	memcpy(b->told, b->want, sizeof(b->want[0]) * b->nwant);
	log_info("babeld pid %d started (router-id %s) on %d tunnel interface(s)", b->pid,
		 b->router_id, b->nwant);
}

static int send_line(struct babel *b, const char *fmt, const char *arg)
{
	char line[256];
	int n = snprintf(line, sizeof(line), fmt, arg);

	if (n < 0 || n >= (int)sizeof(line))
		return -EINVAL;
	/* local socket: small lines, babeld reads promptly */
	if (send(b->fd, line, n, MSG_NOSIGNAL | MSG_DONTWAIT) != n)
		return -errno;
	return 0;
}

static void try_connect(struct babel *b, uint64_t now)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	b->next_connect_ms = now + 200;
	if (strlen(b->sock) >= sizeof(sa.sun_path))
		return;		/* config validation keeps run_dir short enough */
	memcpy(sa.sun_path, b->sock, strlen(b->sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		if (now - b->started_ms > 10000 && (now - b->started_ms) % 10000 < 200)
			log_warn("babeld pid %d: local interface %s not reachable yet", b->pid,
				 b->sock);
		return;
	}
	b->fd = fd;
	gem_lines_init(&b->in, b->rbuf, sizeof(b->rbuf));
	babel_state_clear(&b->st);
	if (send_line(b, "%smonitor\n", "")) {
		disconnect(b);
		return;
	}
	b->monitoring = true;
	log_debug("babeld: monitoring through %s", b->sock);
}

static void sync_ifaces(struct babel *b)
{
	for (int i = 0; i < b->nwant; i++) {
		if (has_name((const char (*)[IF_NAMESIZE])b->told, b->ntold, b->want[i]))
			continue;
		char stmt[IF_NAMESIZE + 180];

		snprintf(stmt, sizeof(stmt), "%s ", b->want[i]);
		if_opts(b, stmt + strlen(stmt), sizeof(stmt) - strlen(stmt));
		if (b->ntold == BABEL_MAX_IFACES || send_line(b, "interface %s\n", stmt))
			return;
		log_info("babeld: running on %s", b->want[i]);
		snprintf(b->told[b->ntold++], IF_NAMESIZE, "%s", b->want[i]);
	}
	for (int i = 0; i < b->ntold; i++) {
		if (has_name((const char (*)[IF_NAMESIZE])b->want, b->nwant, b->told[i]))
			continue;
		if (send_line(b, "flush interface %s\n", b->told[i]))
			return;
		log_info("babeld: no longer on %s", b->told[i]);
		b->ntold--;
		memmove(b->told[i], b->told[b->ntold], IF_NAMESIZE);
		i--;
	}
}

void babel_tick(struct babel *b, uint64_t now)
{
	if (!b->pid) {
		if (b->nwant > 0 && now >= b->restart_at_ms)
			start(b, now);
		return;
	}
	if (b->fd < 0 && now >= b->next_connect_ms)
		try_connect(b, now);
	if (b->fd >= 0)
		sync_ifaces(b);
}

int babel_fd(const struct babel *b)
{
	return b->fd;
}

void babel_input(struct babel *b, uint64_t now)
{
	char *line;
	ssize_t n;

	(void)now;
	if (b->fd < 0)
		return;
	n = gem_lines_recv(&b->in, b->fd, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		log_debug("babeld: local interface closed");
		disconnect(b);
		b->next_connect_ms = now + 500;
		return;
	}
	while ((line = gem_lines_next(&b->in))) {
		if (!strncmp(line, "no", 2) && (line[2] == ' ' || !line[2]))
			log_warn("babeld refused a command: %s", line);
		else if (!strcmp(line, "bad"))
			log_warn("babeld did not understand a command");
		else if (babel_parse_line(&b->st, line) < 0)
			log_debug("babeld: unparsed line: %s", line);
	}
	if (gem_lines_full(&b->in)) {
		log_warn("babeld: overlong line on the local interface; reconnecting");
		disconnect(b);
	}
}

bool babel_child_exited(struct babel *b, pid_t pid, int status, uint64_t now)
{
	char why[96];
	int n;

	if (!b->pid || pid != b->pid)
		return false;
	b->restarts++;
	disconnect(b);
	b->pid = 0;
	b->ntold = 0;
	if (now - b->started_ms >= BABEL_STABLE_MS)
		b->backoff_ms = BABEL_RESTART_MIN_MS;
	b->restart_at_ms = now + b->backoff_ms;
	log_warn("babeld pid %d %s (log: %s); restarting in %u ms", pid,
		 gemd_exit_str(status, why, sizeof(why)), b->logf, b->backoff_ms);
	b->backoff_ms = gemd_backoff_double(b->backoff_ms, BABEL_RESTART_MAX_MS);
	/* a killed babeld leaves its routes behind */
	n = gemd_nl_flush_proto(GEMD_RTPROT_BABEL);
	if (n > 0)
		log_info("removed %d Babel route(s) left by the dead babeld", n);
	return true;
}

void babel_stop(struct babel *b)
{
	int n;

	disconnect(b);
	if (b->pid) {
		gemd_stop_child(b->pid, SIGTERM, 3000, NULL);
		log_info("babeld pid %d stopped", b->pid);
		b->pid = 0;
	}
	n = gemd_nl_flush_proto(GEMD_RTPROT_BABEL);
	if (n > 0)
		log_info("removed %d Babel route(s) babeld left", n);
	gemd_rm_rf(b->dir);
}
