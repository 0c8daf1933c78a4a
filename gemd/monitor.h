/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * gemd's live events for `gemctl monitor` (docs/CONTROL.md 7): a client
 * sends "monitor json" or "monitor text" on the control socket and keeps the
 * connection; gemd writes one line per event until either side closes.
 *
 * An event is a JSON object {"time": ISO-8601 UTC with ms, "event": NAME,
 * ...fields}; the text form is "TIME NAME key=value ..." of the same fields.
 * Writes never block gemd: a client that does not keep up (its socket
 * buffer is full) is dropped, counted (monitor_dropped in control-stats).
 */
#ifndef GEMD_MONITOR_H
#define GEMD_MONITOR_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#define GEMD_MON_MAX	8	/* clients at once */

struct gem_rec;

struct gemd_mon {
	int fd[GEMD_MON_MAX];
	bool json[GEMD_MON_MAX];
	int n;
	uint64_t dropped;
};

void gemd_mon_init(struct gemd_mon *m);
/* A new client on fd: 0 (the monitor owns fd now; its first line is a
 * "monitor" event naming the node), or -EBUSY when full, or -errno (fd
 * stays the caller's). */
int gemd_mon_add(struct gemd_mon *m, int fd, bool json, const char *node_id);
void gemd_mon_close_all(struct gemd_mon *m);

/* An event NAME: the object to add fields to, or NULL when nobody listens
 * (then skip building it).  gemd_mon_send writes it to every client and
 * releases it. */
json_object *gemd_mon_event(struct gemd_mon *m, const char *name);
void gemd_mon_send(struct gemd_mon *m, json_object *ev);
/* The fields that name a record: type, origin, seqno (and for a SEK
 * Announce source, group, key_id). */
void gemd_mon_rec(json_object *ev, const struct gem_rec *r);

#endif
