// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* gemd's live events for `gemctl monitor`: see monitor.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gemd/monitor.h"
#include "gemd/log.h"
#include "gemd/tlv.h"
#include "gemd/ids.h"
#include "gem_addr.h"
#include "gem_json.h"

void gemd_mon_init(struct gemd_mon *m)
{
	memset(m, 0, sizeof(*m));
}

static void drop(struct gemd_mon *m, int i)
{
	close(m->fd[i]);
	m->n--;
	m->fd[i] = m->fd[m->n];
	m->json[i] = m->json[m->n];
}

/* clients that hung up (checked when a new one comes: an idle gemd writes
 * nothing that would find out) */
static void reap(struct gemd_mon *m)
{
	for (int i = m->n - 1; i >= 0; i--) {
		struct pollfd p = { m->fd[i], POLLIN | POLLRDHUP, 0 };

		if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLRDHUP)))
			drop(m, i);
	}
}

static void put_line(struct gemd_mon *m, int i, const char *s)
{
	size_t len = strlen(s);
	ssize_t w = send(m->fd[i], s, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (w == (ssize_t)len)
		return;
	/* too slow, or gone: a torn line would be worse than none */
	if (w >= 0 || errno == EAGAIN || errno == EWOULDBLOCK) {
		m->dropped++;
		log_warn("monitor: a client does not keep up with the events; dropped");
	}
	drop(m, i);
}

/* "TIME NAME k=v ...": strings as they are (addresses, ids and names have
 * no spaces), null as '-' */
static void text_of(json_object *ev, char *buf, size_t len)
{
	json_object *t = NULL, *e = NULL;
	size_t n;

	json_object_object_get_ex(ev, "time", &t);
	json_object_object_get_ex(ev, "event", &e);
	n = (size_t)snprintf(buf, len, "%s %s", t ? json_object_get_string(t) : "-",
			     e ? json_object_get_string(e) : "-");
	json_object_object_foreach(ev, k, v) {
		if (n >= len || !strcmp(k, "time") || !strcmp(k, "event"))
			continue;
		n += (size_t)snprintf(buf + n, len - n, " %s=%s", k,
				      v ? json_object_get_string(v) : "-");
	}
	if (n >= len - 1)
		n = len - 2;
	buf[n] = '\n';
	buf[n + 1] = 0;
}

/* Write ev to client i, or (i < 0) to every client; release ev. */
static void send_ev(struct gemd_mon *m, int only, json_object *ev)
{
	char text[1024];
	const char *js;
	char *line = NULL;

	if (!ev)
		return;
	js = gem_json_text(ev, false);
	if (js && asprintf(&line, "%s\n", js) < 0)
		line = NULL;
	text_of(ev, text, sizeof(text));
	for (int i = m->n - 1; i >= 0; i--) {
		if ((only >= 0 && i != only) || (m->json[i] && !line))
			continue;	/* out of memory: this one event is lost */
		put_line(m, i, m->json[i] ? line : text);
	}
	free(line);
	json_object_put(ev);
}

void gemd_mon_send(struct gemd_mon *m, json_object *ev)
{
	send_ev(m, -1, ev);
}

json_object *gemd_mon_event(struct gemd_mon *m, const char *name)
{
	struct timespec ts;
	struct tm tm;
	char t[40], d[24];
	json_object *ev;

	if (!m->n)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(t, sizeof(t), "%s.%03uZ", d, (unsigned)(ts.tv_nsec / 1000000) % 1000);
	ev = json_object_new_object();
	gem_json_str(ev, "time", t);
	gem_json_str(ev, "event", name);
	return ev;
}

void gemd_mon_rec(json_object *ev, const struct gem_rec *r)
{
	char id[GEMD_ID_HEX], a[GEM_ADDR_STRLEN];

	gemd_hex(r->origin, 8, id);
	gem_json_str(ev, "type", r->type == GEM_TLV_SEK ? "sek-announce" : "public-key");
	gem_json_str(ev, "origin", id);
	gem_json_u64(ev, "seqno", r->seqno);
	if (r->type != GEM_TLV_SEK)
		return;
	gem_json_str(ev, "source", gem_addr_str((const struct gem_addr *)r->sek.src, a));
	gem_json_str(ev, "group", gem_addr_str((const struct gem_addr *)r->sek.grp, a));
	gem_json_u64(ev, "key_id", r->sek.key_id);
}

int gemd_mon_add(struct gemd_mon *m, int fd, bool json, const char *node_id)
{
	json_object *ev;
	int fl;

	reap(m);
	if (m->n >= GEMD_MON_MAX)
		return -EBUSY;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	m->fd[m->n] = fd;
	m->json[m->n] = json;
	m->n++;
	/* to the new client only: now it knows it is subscribed */
	ev = gemd_mon_event(m, "monitor");
	gem_json_str(ev, "node", node_id);
	send_ev(m, m->n - 1, ev);
	return 0;
}

void gemd_mon_close_all(struct gemd_mon *m)
{
	while (m->n)
		drop(m, m->n - 1);
}
