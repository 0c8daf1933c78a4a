// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* gemctl stats: every data-plane counter (-j, --prometheus). */
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

/* ---- stats, events ---------------------------------------------------------- */

/* A Prometheus label value: backslash, quote and newline escaped. */
static void prom_label(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			putchar('\\');
		if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
}

static void prom_stream(const char *metric, const struct stream_row *r, unsigned long long v)
{
	char b[GEM_ADDR_STRLEN];

	printf("%s{dir=\"%s\",source=\"", metric, r->dir);
	prom_label(gem_addr_str(&r->sg.src, b));
	fputs("\",group=\"", stdout);
	prom_label(gem_addr_str(&r->sg.grp, b));
	printf("\"} %llu\n", v);
}

/* The stream metrics, one family after another as the format wants. */
enum { PROM_PACKETS, PROM_BYTES, PROM_DROPS, PROM_KEY_ID, PROM__MAX };

struct prom_ctx {
	int family;
};

static int prom_row(void *arg, const struct stream_row *r)
{
	const struct prom_ctx *c = arg;

	switch (c->family) {
	case PROM_PACKETS: prom_stream("gem_stream_packets_total", r, r->packets); break;
	case PROM_BYTES: prom_stream("gem_stream_bytes_total", r, r->bytes); break;
	case PROM_DROPS:
		if (!r->tx)
			prom_stream("gem_stream_drops_total", r, r->drops);
		break;
	case PROM_KEY_ID:
		if (r->key_id != GEM_KEY_ID_NONE)
			prom_stream("gem_stream_key_id", r, r->key_id);
		break;
	}
	return 0;
}

/* Text exposition format 0.0.4: a scraper (node_exporter's textfile
 * collector, or a wrapper serving it) reads it as is.  All or nothing: a
 * counter that cannot be read fails the command (a scraper must not get
 * a 0 that is not one). */
static int stats_prometheus(const struct gemctl_opts *o, const struct gem_pins *p)
{
	static const struct { const char *name, *type, *help; } fam[PROM__MAX] = {
		{ "gem_stream_packets_total", "counter", "packets sealed (tx) or opened (rx) per stream" },
		{ "gem_stream_bytes_total", "counter", "payload bytes sealed (tx) or opened (rx) per stream" },
		{ "gem_stream_drops_total", "counter", "packets of the stream dropped at ingress" },
		{ "gem_stream_key_id", "gauge", "current key id of the stream" },
	};
	unsigned long long v[GEM_C_MAX];
	struct prom_ctx c;

	for (unsigned i = 0; i < GEM_C_MAX; i++) {
		int err = gem_counter_read(p->counters, i, &v[i]);

		if (err) {
			gemctl_err(o, "cannot read counter %s: %s", gem_counter_names[i],
				   strerror(-err));
			return 1;
		}
	}
	fputs("# HELP gem_packets_total GEM data-plane packets by what was done with them "
	      "(gemctl stats; README: counters), summed over CPUs\n"
	      "# TYPE gem_packets_total counter\n", stdout);
	for (unsigned i = 0; i < GEM_C_MAX; i++)
		printf("gem_packets_total{counter=\"%s\"} %llu\n", gem_counter_names[i], v[i]);
	for (c.family = 0; c.family < PROM__MAX; c.family++) {
		printf("# HELP %s %s\n# TYPE %s %s\n", fam[c.family].name, fam[c.family].help,
		       fam[c.family].name, fam[c.family].type);
		dp_stream_walk(p, prom_row, &c);
	}
	return fflush(stdout) == EOF ? 1 : 0;
}

int cmd_stats(int argc, char **argv, const struct gemctl_opts *o)
{
	static const struct option lo[] = { { "prometheus", no_argument, NULL, 'P' }, { 0 } };
	json_object *j = NULL;
	struct gem_pins p;
	unsigned long long v;
	bool prom = false;
	int c, r = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c != 'P') {
			gemctl_err(o, "usage: gemctl [-j|-p] stats [--prometheus]");
			return 2;
		}
		prom = true;
	}
	if (optind != argc) {
		gemctl_err(o, "usage: gemctl [-j|-p] stats [--prometheus]");
		return 2;
	}
	if (dp_open_pins(o, &p))
		return 1;
	if (prom) {
		r = stats_prometheus(o, &p);
		gem_pins_close(&p);
		return r;
	}
	if (o->json)
		j = json_object_new_object();
	for (unsigned i = 0; i < GEM_C_MAX; i++) {
		r = gem_counter_read(p.counters, i, &v);
		if (r) {
			gemctl_err(o, "cannot read counter %s: %s", gem_counter_names[i],
				   strerror(-r));
			json_object_put(j);
			gem_pins_close(&p);
			return 1;
		}
		if (o->json)
			gem_json_u64(j, gem_counter_names[i], v);
		else
			printf("%-18s %llu\n", gem_counter_names[i], v);
	}
	gem_pins_close(&p);
	return o->json ? gemctl_json(o, j) : 0;
}
