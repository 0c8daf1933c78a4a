/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A small client of strongSwan's VICI protocol (the plugin's README in the
 * strongSwan sources): length-prefixed packets over a UNIX socket carrying
 * messages of sections, key/values and lists.  Debian ships libvici but no
 * header; the protocol is small enough to speak here, and doing so keeps the
 * PSK in gemd's locked memory until it is written to charon's socket.
 */
#ifndef GEMD_VICI_H
#define GEMD_VICI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VICI_MSG_MAX 8192	/* requests gemd builds are ~1 KB */

struct vici_msg {
	uint8_t *buf;
	size_t len;
	bool secure;	/* buf is sodium_malloc'd (locked) and wiped on free */
	int err;	/* first building error (-EMSGSIZE) */
};

int vici_msg_init(struct vici_msg *m, bool secure);
void vici_msg_free(struct vici_msg *m);
void vici_add_kv(struct vici_msg *m, const char *key, const void *val, size_t len);
void vici_add_str(struct vici_msg *m, const char *key, const char *val);
void vici_add_fmt(struct vici_msg *m, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void vici_begin_section(struct vici_msg *m, const char *name);
void vici_end_section(struct vici_msg *m);
void vici_begin_list(struct vici_msg *m, const char *name);
void vici_add_item(struct vici_msg *m, const char *val);
void vici_end_list(struct vici_msg *m);

/* A parsed message, flattened: "sec.sub.key" = value; list items as
 * "sec.list#0", "sec.list#1"...  Values are cut at 159 bytes (gemd reads
 * states, names and numbers). */
struct vici_pair {
	char key[160];
	char val[160];
};

struct vici_res {
	struct vici_pair *p;
	size_t n, cap;
};

int vici_parse(const uint8_t *msg, size_t len, struct vici_res *r);
const char *vici_get(const struct vici_res *r, const char *key);
void vici_res_free(struct vici_res *r);

typedef void (*vici_event_cb)(void *arg, const uint8_t *msg, size_t len);

/* One command on a fresh connection to the UNIX socket at path.  With
 * stream_event, registers for it first and hands every such event to cb
 * before the response arrives (list-sas streams "list-sa").  The response
 * goes to *reply if non-NULL.  0 or -errno; a one-line reason in err. */
int vici_call(const char *path, const char *cmd, const struct vici_msg *req,
	      const char *stream_event, vici_event_cb cb, void *arg,
	      struct vici_res *reply, unsigned int timeout_ms, char *err, size_t errlen);

/* Just connect (is charon's vici plugin up?): 0 or -errno. */
int vici_ping(const char *path);

/*
 * A connection that stays open and receives events (ike-updown,
 * child-updown, log ...) as charon raises them, read from gemd's poll loop
 * instead of asking charon every second.
 */
struct vici_watch {
	int fd;			/* -1: closed; poll it for POLLIN */
	uint8_t *buf;		/* received bytes not yet a whole packet */
	size_t len, cap;
};

typedef void (*vici_watch_cb)(void *arg, const char *event, const uint8_t *msg, size_t len);

/* Connect and register for the NULL-terminated events (each confirmed, within
 * timeout_ms in all), then switch to non-blocking reads.  0 or -errno. */
int vici_watch_open(struct vici_watch *w, const char *path, const char *const *events,
		    unsigned int timeout_ms, char *err, size_t errlen);
/* Read what has arrived and hand each whole event to cb.  0 (nothing more
 * for now), -ECONNRESET when charon closed the connection, -errno. */
int vici_watch_read(struct vici_watch *w, vici_watch_cb cb, void *arg);
void vici_watch_close(struct vici_watch *w);

#endif
