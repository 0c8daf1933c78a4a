/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What gemctl's data-plane families (cmd_group.c, cmd_sek.c, cmd_stream.c,
 * cmd_stats.c, cmd_events.c) share: opening the pinned maps, parsing groups
 * and streams, and the stream rows that stream list and stats --prometheus
 * print.  They read and write the maps gem-load pinned; keys enter the kernel
 * only through the pinned gem_ctl program (lib/gem_dp.c).  No key byte is
 * ever printed.
 */
#ifndef GEMCTL_DP_H
#define GEMCTL_DP_H

#include <stdbool.h>
#include "gem_addr.h"
#include "gem_dp.h"
#include "gem_pin.h"
#include "gemctl.h"

const char *dp_suite_name(unsigned s);
/* The maps in o->pin_dir; an error is reported (o's way) and returned. */
int dp_open_pins(const struct gemctl_opts *o, struct gem_pins *p);
/* A multicast group / a (source, group) of one family: 0 or -EINVAL (reported). */
int dp_parse_group(const struct gemctl_opts *o, const char *text, struct gem_addr *g,
		   int *family);
int dp_parse_sg(const struct gemctl_opts *o, const char *src, const char *grp,
		struct gem_sg *sg);
/* {"source": ..., "group": ...} of a stream, as every stream row starts. */
json_object *dp_sg_json(const struct gem_sg *sg);

/* One row of gemctl stream list, tx or rx alike (-j: the same fields, null
 * where the direction has none). */
struct stream_row {
	const char *dir;
	struct gem_sg sg;
	__u32 key_id, prev_key_id;	/* GEM_KEY_ID_NONE: none */
	bool tx;
	__u64 pn;			/* tx: next pn; rx: top of the current window */
	__u64 packets, bytes, drops;	/* drops: rx only */
};

void dp_kid_str(__u32 k, char *b, size_t n);	/* "-" for none */
json_object *dp_stream_row_json(const struct stream_row *r);
/* Every tx then rx stream, to fn; 0 or fn's first non-zero. */
int dp_stream_walk(const struct gem_pins *p, int (*fn)(void *, const struct stream_row *),
		   void *arg);

#endif
