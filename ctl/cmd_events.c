// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* gemctl events: follow the data plane's new-stream (no key) notifications. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "gem_addr.h"
#include "gem_dp.h"
#include "keys/gem_keys.h"
#include "gem_pin.h"

#include "dp.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct ev_ctx {
	const struct gemctl_opts *o;
	long left;
};

static int on_event(void *ctx, void *data, size_t sz)
{
	struct ev_ctx *e = ctx;
	const struct gem_event *ev = data;
	char s[GEM_ADDR_STRLEN], g[GEM_ADDR_STRLEN], ifn[32];
	time_t now = time(NULL);
	char ts[32];

	if (sz < sizeof(*ev))
		return 0;
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	snprintf(ifn, sizeof(ifn), "%u", ev->ifindex);
	gem_addr_str(&ev->sg.src, s);
	gem_addr_str(&ev->sg.grp, g);
	if (e->o->json) {
		json_object *j = json_object_new_object();

		gem_json_str(j, "time", ts);
		gem_json_str(j, "event", "tx-no-key");
		gem_json_str(j, "source", s);
		gem_json_str(j, "group", g);
		gem_json_u64(j, "ifindex", ev->ifindex);
		gemctl_json(e->o, j);
	} else
		printf("%s tx-no-key source %s group %s ifindex %s (packets dropped until a SEK "
		       "is set)\n", ts, s, g, ifn);
	fflush(stdout);
	if (e->left > 0 && --e->left == 0)
		stop = 1;
	return 0;
}

int cmd_events(int argc, char **argv, const struct gemctl_opts *o)
{
	static const struct option lo[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ 0 }
	};
	struct ev_ctx e = { .o = o, .left = -1 };
	struct ring_buffer *rb;
	struct gem_pins p;
	long timeout = -1;
	struct timespec t0, t;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'c')
			e.left = strtol(optarg, NULL, 0);
		else if (c == 't')
			timeout = strtol(optarg, NULL, 0);
		else {
			gemctl_err(o, "usage: gemctl [-j|-p] events [--count N] [--timeout SECONDS]");
			return 2;
		}
	}
	if (dp_open_pins(o, &p))
		return 1;
	rb = ring_buffer__new(p.events, on_event, &e, NULL);
	if (!rb) {
		gemctl_err(o, "cannot read the event ring buffer: %s", strerror(errno));
		gem_pins_close(&p);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop) {
		int r = ring_buffer__poll(rb, 200);

		if (r < 0 && r != -EINTR)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (timeout >= 0 && t.tv_sec - t0.tv_sec >= timeout)
			break;
	}
	ring_buffer__free(rb);
	gem_pins_close(&p);
	return 0;
}
