// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemctl peers / gemctl routes: the control plane's view, from gemd's
 * control socket (docs/CONTROL.md section 7).
 *
 *   gemctl peers  [-j] [--socket PATH | --config FILE]
 *   gemctl routes [-j] [--socket PATH | --config FILE]
 *
 * Socket: --socket, else the one --config names, else $GEMD_SOCKET, else
 * /run/gem/gemd.sock.  gemd formats both replies (JSON or text); gemctl
 * passes them through.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "gemctl.h"
#include "gemd/config.h"
#include "gem_lines.h"

#define REPLY_TIMEOUT_MS 5000
#define REPLY_MAX (16u << 20)	/* a JSON reply is parsed whole: bounded */

static void usage(FILE *f, const char *cmd)
{
	fprintf(f,
		"usage: gemctl %s [-j|-p] [--socket PATH | --config FILE]%s\n"
		"\n"
		"%s\n"
		"\n"
		"  -j, --json        JSON on stdout and nothing else\n"
		"  -p, --pretty      JSON, indented\n"
		"  --socket PATH     gemd's control socket (else $" GEMD_ENV_SOCKET ", else "
		GEMD_DEFAULT_SOCKET ")\n"
		"  --config FILE     take the socket path from gemd's configuration\n",
		cmd, !strcmp(cmd, "monitor") ? " [--count N] [--timeout S]" : "",
		!strcmp(cmd, "monitor") ?
		"gemd's events as they happen, one line (-j: one JSON object) each, until\n"
		"interrupted, N events (--count) or S seconds (--timeout): record (new,\n"
		"updated, withdrawn, expired), record-rejected, sek-loaded, stream-new,\n"
		"rotation (announced, switched), tx-no-key, neighbour-up, neighbour-down." :
		!strcmp(cmd, "peers") ?
		"GEM neighbours: link, address, tunnel interface and state, Babel cost." :
		!strcmp(cmd, "control-stats") ?
		"Control-record propagation (Public Keys, SEK Announces): every counter of\n"
		"the record store, rejected records per reason, records held, neighbours." :
		"Babel routes: prefix, originating node, next hop, tunnel, metric; and the\n"
		"prefixes this node exports.");
}

/* Connected to gemd at sock with req sent: the fd, or -1 (reported). */
static int gemd_connect(const struct gemctl_opts *o, const char *sock, const char *req)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(sock) >= sizeof(sa.sun_path)) {
		gemctl_err(o, "socket path '%s' is too long", sock);
		return -1;
	}
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		gemctl_err(o, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		gemctl_err(o, "cannot reach gemd at %s: %s (is gemd running? set --socket, "
			   "--config or " GEMD_ENV_SOCKET ")", sock, strerror(errno));
		close(fd);
		return -1;
	}
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		gemctl_err(o, "gemd at %s: send: %s", sock, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* gemd's refusal of a request: "error: ..." or a JSON object with "error". */
static bool refusal(const char *line)
{
	json_object *j;
	bool err;

	if (!strncmp(line, "error:", 6))
		return true;
	j = json_tokener_parse(line);
	err = j && json_object_is_type(j, json_type_object) &&
	      json_object_object_get_ex(j, "error", NULL);
	json_object_put(j);
	return err;
}

/* gemctl monitor: gemd's events, one line each, as they come. */
static int monitor(const struct gemctl_opts *o, const char *sock, long count, long timeout)
{
	char buf[8192], *line;
	struct gem_lines in;
	long seen = -1;		/* gemd's first line says it has subscribed us */
	struct timespec t0, t;
	int fd, rc = 1;

	fd = gemd_connect(o, sock, o->json ? "monitor json\n" : "monitor text\n");
	if (fd < 0)
		return 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	gem_lines_init(&in, buf, sizeof(buf));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;
		int r = poll(&p, 1, 200);

		clock_gettime(CLOCK_MONOTONIC, &t);
		if (timeout >= 0 && t.tv_sec - t0.tv_sec >= timeout) {
			rc = 0;
			break;
		}
		if (r < 0 && errno != EINTR) {
			gemctl_err(o, "poll: %s", strerror(errno));
			break;
		}
		if (r <= 0)
			continue;
		n = gem_lines_recv(&in, fd, 0);
		if (n <= 0) {
			if (seen < 0)
				gemctl_err(o, "gemd at %s closed the connection", sock);
			else if (!stop)
				gemctl_err(o, "gemd at %s stopped (or dropped this monitor: too "
					   "slow)", sock);
			break;
		}
		while ((line = gem_lines_next(&in))) {
			if (seen < 0 && refusal(line)) {
				if (o->json)
					puts(line);
				else
					fprintf(stderr, "gemctl: gemd: %s\n", line + 7);
				goto out;
			}
			if (seen >= 0) {
				/* the subscription line is gemd's, not an event */
				json_object *j = o->pretty ? json_tokener_parse(line) : NULL;

				if (j)
					gemctl_json(o, j);
				else
					puts(line);
				fflush(stdout);
				if (count > 0 && seen + 1 >= count) {
					rc = 0;
					goto out;
				}
			}
			seen++;
		}
		if (gem_lines_full(&in)) {
			gemctl_err(o, "gemd at %s: a line longer than %zu bytes", sock, sizeof(buf));
			break;
		}
	}
	if (stop)
		rc = 0;
out:
	close(fd);
	return rc;
}

static int query(const struct gemctl_opts *o, const char *sock, const char *req)
{
	char buf[4096], *js = NULL;
	size_t total = 0;
	int fd, rc = 1;
	bool first = true, error = false;

	fd = gemd_connect(o, sock, req);
	if (fd < 0)
		return 1;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, REPLY_TIMEOUT_MS) <= 0) {
			gemctl_err(o, "gemd at %s: no reply within %d s", sock,
				   REPLY_TIMEOUT_MS / 1000);
			goto out;
		}
		n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			gemctl_err(o, "gemd at %s: %s", sock, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (o->json) {
			/* gemd's JSON is parsed, checked and printed again (-p indents) */
			char *t;

			if (total + (size_t)n > REPLY_MAX) {
				gemctl_err(o, "gemd at %s: reply longer than %u bytes", sock,
					   REPLY_MAX);
				goto out;
			}
			t = realloc(js, total + (size_t)n + 1);
			if (!t) {
				gemctl_err(o, "out of memory");
				goto out;
			}
			js = t;
			memcpy(js + total, buf, (size_t)n);
			js[total + n] = 0;
		} else {
			if (first) {
				error = !strncmp(buf, "error:", n < 6 ? n : 6);
				first = false;
			}
			fwrite(buf, 1, n, stdout);
		}
		total += n;
	}
	if (total == 0) {
		gemctl_err(o, "gemd at %s closed the connection without a reply", sock);
		goto out;
	}
	if (o->json) {
		json_object *j = json_tokener_parse(js);

		if (!j) {
			gemctl_err(o, "gemd at %s: the reply is not JSON", sock);
			goto out;
		}
		error = json_object_is_type(j, json_type_object) &&
			json_object_object_get_ex(j, "error", NULL);
		if (gemctl_json(o, j))
			goto out;
	}
	rc = error ? 1 : 0;
out:
	free(js);
	close(fd);
	return rc;
}

/* gemd's socket: sock, else the one conf names, else $GEMD_SOCKET, else the
 * default, into path.  0, or 1 (reported). */
static int gemd_socket(const struct gemctl_opts *o, const char *sock, const char *conf,
		       char path[GEMD_PATH_MAX])
{
	struct gemd_config *cfg;
	char err[512];

	if (conf) {
		cfg = malloc(sizeof(*cfg));
		if (!cfg) {
			gemctl_err(o, "out of memory");
			return 1;
		}
		if (gemd_config_load(cfg, conf, err, sizeof(err))) {
			gemctl_err(o, "%s", err);
			free(cfg);
			return 1;
		}
		snprintf(path, GEMD_PATH_MAX, "%s", cfg->socket);
		free(cfg);
		return 0;
	}
	if (!sock)
		sock = getenv(GEMD_ENV_SOCKET);
	if (!sock || !*sock)
		sock = GEMD_DEFAULT_SOCKET;
	snprintf(path, GEMD_PATH_MAX, "%s", sock);
	return 0;
}

static int cmd_cp(int argc, char **argv, const struct gemctl_opts *go, const char *what)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct gemctl_opts o = *go;
	const char *sock = NULL, *conf = NULL;
	char req[48], path[GEMD_PATH_MAX], *end;
	bool mon = !strcmp(what, "monitor");
	long count = -1, timeout = -1;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+jph", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
		case 't':
			errno = 0;
			*(c == 'n' ? &count : &timeout) = strtol(optarg, &end, 10);
			if (!mon || errno || *end || *optarg == '-' || !*optarg) {
				gemctl_err(&o, "%s: --%s wants a number (see gemctl %s --help)",
					   what, c == 'n' ? "count" : "timeout", what);
				return 2;
			}
			break;
		case 'j': o.json = true; break;
		case 'p': o.json = o.pretty = true; break;
		case 's': sock = optarg; break;
		case 'c': conf = optarg; break;
		case 'h': usage(stdout, what); return 0;
		default:
			if (o.json)
				gemctl_err(&o, "bad option (see gemctl %s --help)", what);
			else
				usage(stderr, what);
			return 2;
		}
	}
	if (optind != argc || (sock && conf)) {
		if (o.json)
			gemctl_err(&o, "usage: gemctl %s [-j|-p] [--socket PATH | --config FILE]",
				   what);
		else
			usage(stderr, what);
		return 2;
	}
	snprintf(req, sizeof(req), "%s %s\n", what, o.json ? "json" : "text");
	if (gemd_socket(&o, sock, conf, path))
		return 1;
	return mon ? monitor(&o, path, count, timeout) : query(&o, path, req);
}

int gemctl_gemd_request(const struct gemctl_opts *o, const char *sock, const char *conf,
			const char *what)
{
	char req[GEMD_PATH_MAX + 128], path[GEMD_PATH_MAX];

	if (strchr(what, '\n') || strlen(what) + 7 >= sizeof(req)) {
		gemctl_err(o, "request too long");
		return 2;
	}
	snprintf(req, sizeof(req), "%s %s\n", what, o->json ? "json" : "text");
	if (gemd_socket(o, sock, conf, path))
		return 1;
	return query(o, path, req);
}

int cmd_peers(int argc, char **argv, const struct gemctl_opts *o)
{
	return cmd_cp(argc, argv, o, "peers");
}

int cmd_routes(int argc, char **argv, const struct gemctl_opts *o)
{
	return cmd_cp(argc, argv, o, "routes");
}

int cmd_control_stats(int argc, char **argv, const struct gemctl_opts *o)
{
	return cmd_cp(argc, argv, o, "control-stats");
}

int cmd_monitor(int argc, char **argv, const struct gemctl_opts *o)
{
	return cmd_cp(argc, argv, o, "monitor");
}
