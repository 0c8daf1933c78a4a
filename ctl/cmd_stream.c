// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* gemctl stream list: key ids, packet numbers and counters per stream. */
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

/* ---- stream list ------------------------------------------------------------ */

static int stream_row_text(void *arg, const struct stream_row *r)
{
	char s[GEM_ADDR_STRLEN], g[GEM_ADDR_STRLEN], k0[12], k1[12], d[24];

	(void)arg;
	dp_kid_str(r->key_id, k0, sizeof(k0));
	dp_kid_str(r->prev_key_id, k1, sizeof(k1));
	if (r->tx)
		snprintf(d, sizeof(d), "-");
	else
		snprintf(d, sizeof(d), "%llu", (unsigned long long)r->drops);
	printf("%-3s %-26s %-26s %-7s %-7s %-12llu %-12llu %-14llu %s\n", r->dir,
	       gem_addr_str(&r->sg.src, s), gem_addr_str(&r->sg.grp, g), k0, k1,
	       (unsigned long long)r->pn, (unsigned long long)r->packets,
	       (unsigned long long)r->bytes, d);
	return 0;
}

static int stream_row_add(void *arg, const struct stream_row *r)
{
	gemctl_json_append(arg, dp_stream_row_json(r));
	return 0;
}

int cmd_stream(int argc, char **argv, const struct gemctl_opts *o)
{
	json_object *j = NULL, *arr = NULL;
	struct gem_pins p;

	if (argc != 2 || strcmp(argv[1], "list") != 0) {
		gemctl_err(o, "usage: gemctl [-j|-p] stream list");
		return 2;
	}
	if (dp_open_pins(o, &p))
		return 1;
	if (o->json) {
		j = gemctl_json_list("streams", &arr);
		dp_stream_walk(&p, stream_row_add, arr);
	} else {
		printf("%-3s %-26s %-26s %-7s %-7s %-12s %-12s %-14s %s\n", "dir", "source", "group",
		       "key", "prev", "next-pn/top", "packets", "bytes", "drops");
		dp_stream_walk(&p, stream_row_text, NULL);
	}
	gem_pins_close(&p);
	return o->json ? gemctl_json(o, j) : 0;
}
