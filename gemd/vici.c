// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "gemd/clock.h"
#include "gemd/vici.h"

enum { CMD_REQUEST = 0, CMD_RESPONSE = 1, CMD_UNKNOWN = 2, EVENT_REGISTER = 3,
       EVENT_UNREGISTER = 4, EVENT_CONFIRM = 5, EVENT_UNKNOWN = 6, EVENT = 7 };
enum { SECTION_START = 1, SECTION_END = 2, KEY_VALUE = 3, LIST_START = 4, LIST_ITEM = 5,
       LIST_END = 6 };

#define VICI_PKT_MAX (512 * 1024)

int vici_msg_init(struct vici_msg *m, bool secure)
{
	memset(m, 0, sizeof(*m));
	m->secure = secure;
	m->buf = secure ? sodium_malloc(VICI_MSG_MAX) : malloc(VICI_MSG_MAX);
	return m->buf ? 0 : -ENOMEM;
}

void vici_msg_free(struct vici_msg *m)
{
	if (!m->buf)
		return;
	if (m->secure) {
		sodium_free(m->buf);	/* wipes */
	} else {
		free(m->buf);
	}
	m->buf = NULL;
}

static void put(struct vici_msg *m, const void *p, size_t n)
{
	if (m->err)
		return;
	if (!m->buf || m->len + n > VICI_MSG_MAX) {
		m->err = -EMSGSIZE;
		return;
	}
	memcpy(m->buf + m->len, p, n);
	m->len += n;
}

static void put_name(struct vici_msg *m, uint8_t type, const char *name)
{
	size_t n = strlen(name);
	uint8_t l = n;

	if (n > 255) {
		m->err = -EINVAL;
		return;
	}
	put(m, &type, 1);
	put(m, &l, 1);
	put(m, name, n);
}

static void put_value(struct vici_msg *m, const void *val, size_t len)
{
	uint8_t l[2] = { len >> 8, len };

	if (len > 0xffff) {
		m->err = -EINVAL;
		return;
	}
	put(m, l, 2);
	put(m, val, len);
}

void vici_add_kv(struct vici_msg *m, const char *key, const void *val, size_t len)
{
	put_name(m, KEY_VALUE, key);
	put_value(m, val, len);
}

void vici_add_str(struct vici_msg *m, const char *key, const char *val)
{
	vici_add_kv(m, key, val, strlen(val));
}

void vici_add_fmt(struct vici_msg *m, const char *key, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(buf)) {
		m->err = -EINVAL;
		return;
	}
	vici_add_kv(m, key, buf, n);
}

void vici_begin_section(struct vici_msg *m, const char *name)
{
	put_name(m, SECTION_START, name);
}

void vici_end_section(struct vici_msg *m)
{
	uint8_t t = SECTION_END;

	put(m, &t, 1);
}

void vici_begin_list(struct vici_msg *m, const char *name)
{
	put_name(m, LIST_START, name);
}

void vici_add_item(struct vici_msg *m, const char *val)
{
	uint8_t t = LIST_ITEM;

	put(m, &t, 1);
	put_value(m, val, strlen(val));
}

void vici_end_list(struct vici_msg *m)
{
	uint8_t t = LIST_END;

	put(m, &t, 1);
}

/* ---- parsing ---------------------------------------------------------------- */

static int res_add(struct vici_res *r, const char *key, const uint8_t *val, size_t len)
{
	struct vici_pair *p;

	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 32;

		p = realloc(r->p, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		r->p = p;
		r->cap = cap;
	}
	p = &r->p[r->n++];
	snprintf(p->key, sizeof(p->key), "%s", key);
	if (len >= sizeof(p->val))
		len = sizeof(p->val) - 1;
	for (size_t i = 0; i < len; i++)	/* values are text here; keep them printable */
		p->val[i] = val[i] >= 0x20 && val[i] < 0x7f ? (char)val[i] : '?';
	p->val[len] = '\0';
	return 0;
}

int vici_parse(const uint8_t *msg, size_t len, struct vici_res *r)
{
	char path[512] = "", key[600];
	size_t plen[32], depth = 0, off = 0, item = 0;
	bool in_list = false;
	char list[256] = "";
	int err;

	while (off < len) {
		uint8_t t = msg[off++];
		size_t nl = 0, vl = 0;
		const uint8_t *name = NULL, *val = NULL;

		if (t == SECTION_START || t == KEY_VALUE || t == LIST_START) {
			if (off >= len)
				return -EBADMSG;
			nl = msg[off++];
			if (off + nl > len)
				return -EBADMSG;
			name = msg + off;
			off += nl;
		}
		if (t == KEY_VALUE || t == LIST_ITEM) {
			if (off + 2 > len)
				return -EBADMSG;
			vl = (size_t)msg[off] << 8 | msg[off + 1];
			off += 2;
			if (off + vl > len)
				return -EBADMSG;
			val = msg + off;
			off += vl;
		}
		switch (t) {
		case SECTION_START:
			if (in_list || depth >= 31)
				return -EBADMSG;
			plen[depth++] = strlen(path);
			snprintf(path + plen[depth - 1], sizeof(path) - plen[depth - 1], "%s%.*s",
				 plen[depth - 1] ? "." : "", (int)nl, (const char *)name);
			break;
		case SECTION_END:
			if (in_list || depth == 0)
				return -EBADMSG;
			path[plen[--depth]] = '\0';
			break;
		case KEY_VALUE:
			if (in_list)
				return -EBADMSG;
			snprintf(key, sizeof(key), "%s%s%.*s", path, *path ? "." : "", (int)nl,
				 (const char *)name);
			err = res_add(r, key, val, vl);
			if (err)
				return err;
			break;
		case LIST_START:
			if (in_list)
				return -EBADMSG;
			in_list = true;
			item = 0;
			snprintf(list, sizeof(list), "%.*s", (int)nl, (const char *)name);
			break;
		case LIST_ITEM:
			if (!in_list)
				return -EBADMSG;
			snprintf(key, sizeof(key), "%s%s%s#%zu", path, *path ? "." : "", list, item++);
			err = res_add(r, key, val, vl);
			if (err)
				return err;
			break;
		case LIST_END:
			if (!in_list)
				return -EBADMSG;
			in_list = false;
			break;
		default:
			return -EBADMSG;
		}
	}
	return depth || in_list ? -EBADMSG : 0;
}

const char *vici_get(const struct vici_res *r, const char *key)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->p[i].key, key))
			return r->p[i].val;
	return NULL;
}

void vici_res_free(struct vici_res *r)
{
	free(r->p);
	memset(r, 0, sizeof(*r));
}

/* ---- transport ------------------------------------------------------------------ */

static int vconnect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int vici_ping(const char *path)
{
	int fd = vconnect(path);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

static int wait_fd(int fd, short ev, uint64_t deadline)
{
	for (;;) {
		uint64_t now = gemd_now_ms();
		struct pollfd p = { fd, ev, 0 };
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)(deadline - now));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static int write_all(int fd, const struct iovec *iov, int n, uint64_t deadline)
{
	struct iovec v[4];

	memcpy(v, iov, n * sizeof(*iov));
	while (n > 0) {
		ssize_t w;
		int err = wait_fd(fd, POLLOUT, deadline);

		if (err)
			return err;
		w = writev(fd, v, n);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		while (n > 0 && (size_t)w >= v[0].iov_len) {
			w -= v[0].iov_len;
			memmove(v, v + 1, --n * sizeof(*v));
		}
		if (n > 0) {
			v[0].iov_base = (char *)v[0].iov_base + w;
			v[0].iov_len -= w;
		}
	}
	return 0;
}

static int read_full(int fd, void *buf, size_t len, uint64_t deadline)
{
	size_t off = 0;

	while (off < len) {
		ssize_t r;
		int err = wait_fd(fd, POLLIN, deadline);

		if (err)
			return err;
		r = read(fd, (char *)buf + off, len - off);
		if (r == 0)
			return -ECONNRESET;
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		off += r;
	}
	return 0;
}

/* Send a packet: type, optional name, optional message (which may be secure). */
static int send_pkt(int fd, uint8_t type, const char *name, const struct vici_msg *m,
		    uint64_t deadline)
{
	uint8_t hdr[4 + 2 + 255];
	size_t nl = name ? strlen(name) : 0, hl = 5;
	uint32_t total;
	struct iovec iov[2];

	if (nl > 255)
		return -EINVAL;
	hdr[4] = type;
	if (name) {
		hdr[5] = nl;
		for (size_t i = 0; i < nl; i++)	/* not a string: no NUL on the wire */
			hdr[6 + i] = name[i];
		hl = 6 + nl;
	}
	total = hl - 4 + (m ? m->len : 0);
	hdr[0] = total >> 24;
	hdr[1] = total >> 16;
	hdr[2] = total >> 8;
	hdr[3] = total;
	iov[0] = (struct iovec){ hdr, hl };
	iov[1] = (struct iovec){ m ? m->buf : NULL, m ? m->len : 0 };
	return write_all(fd, iov, m && m->len ? 2 : 1, deadline);
}

/* Receive one packet into *buf (malloc'd): type in *type, message after the
 * name in [*msg, *msg + *mlen). */
static int recv_pkt(int fd, uint8_t **buf, uint8_t *type, char *name, size_t namelen,
		    const uint8_t **msg, size_t *mlen, uint64_t deadline)
{
	uint8_t l[4];
	uint32_t n;
	size_t off = 1;
	int err;

	*buf = NULL;
	err = read_full(fd, l, 4, deadline);
	if (err)
		return err;
	n = (uint32_t)l[0] << 24 | (uint32_t)l[1] << 16 | (uint32_t)l[2] << 8 | l[3];
	if (n < 1 || n > VICI_PKT_MAX)
		return -EBADMSG;
	*buf = malloc(n);
	if (!*buf)
		return -ENOMEM;
	err = read_full(fd, *buf, n, deadline);
	if (err)
		goto fail;
	*type = (*buf)[0];
	name[0] = '\0';
	if (*type == EVENT) {
		size_t nl;

		if (n < 2 || (size_t)(*buf)[1] + 2 > n) {
			err = -EBADMSG;
			goto fail;
		}
		nl = (*buf)[1];
		snprintf(name, namelen, "%.*s", (int)nl, (char *)*buf + 2);
		off = 2 + nl;
	}
	*msg = *buf + off;
	*mlen = n - off;
	return 0;
fail:
	free(*buf);
	*buf = NULL;
	return err;
}

static int event_reg(int fd, uint8_t type, const char *ev, uint64_t deadline)
{
	uint8_t *buf, t;
	const uint8_t *msg;
	size_t mlen;
	char name[64];
	int err;

	err = send_pkt(fd, type, ev, NULL, deadline);
	if (err)
		return err;
	for (;;) {
		err = recv_pkt(fd, &buf, &t, name, sizeof(name), &msg, &mlen, deadline);
		if (err)
			return err;
		free(buf);
		if (t == EVENT_CONFIRM)
			return 0;
		if (t == EVENT_UNKNOWN)
			return -ENOENT;
		/* an event still in flight: skip */
	}
}

int vici_call(const char *path, const char *cmd, const struct vici_msg *req,
	      const char *stream_event, vici_event_cb cb, void *arg,
	      struct vici_res *reply, unsigned int timeout_ms, char *errbuf, size_t errlen)
{
	uint64_t deadline = gemd_now_ms() + timeout_ms;
	int fd, err;

	if (req && req->err) {
		snprintf(errbuf, errlen, "%s: request too large", cmd);
		return req->err;
	}
	fd = vconnect(path);
	if (fd < 0) {
		snprintf(errbuf, errlen, "connect %s: %s", path, strerror(-fd));
		return fd;
	}
	if (stream_event) {
		err = event_reg(fd, EVENT_REGISTER, stream_event, deadline);
		if (err) {
			snprintf(errbuf, errlen, "register %s: %s", stream_event, strerror(-err));
			goto out;
		}
	}
	err = send_pkt(fd, CMD_REQUEST, cmd, req, deadline);
	if (err) {
		snprintf(errbuf, errlen, "%s: send: %s", cmd, strerror(-err));
		goto out;
	}
	for (;;) {
		uint8_t *buf, t;
		const uint8_t *msg;
		size_t mlen;
		char name[64];

		err = recv_pkt(fd, &buf, &t, name, sizeof(name), &msg, &mlen, deadline);
		if (err) {
			snprintf(errbuf, errlen, "%s: %s", cmd, strerror(-err));
			goto out;
		}
		if (t == EVENT) {
			if (cb && stream_event && !strcmp(name, stream_event))
				cb(arg, msg, mlen);
			free(buf);
			continue;
		}
		if (t == CMD_UNKNOWN) {
			free(buf);
			snprintf(errbuf, errlen, "%s: unknown command", cmd);
			err = -EOPNOTSUPP;
			goto out;
		}
		if (t != CMD_RESPONSE) {
			free(buf);
			continue;
		}
		err = reply ? vici_parse(msg, mlen, reply) : 0;
		free(buf);
		if (err)
			snprintf(errbuf, errlen, "%s: malformed response", cmd);
		break;
	}
	/* no unregister: closing the connection drops the registration */
out:
	close(fd);
	return err;
}

/* ---- event watch ---------------------------------------------------------------- */

int vici_watch_open(struct vici_watch *w, const char *path, const char *const *events,
		    unsigned int timeout_ms, char *errbuf, size_t errlen)
{
	uint64_t deadline = gemd_now_ms() + timeout_ms;
	int fd, err;

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	fd = vconnect(path);
	if (fd < 0) {
		snprintf(errbuf, errlen, "connect %s: %s", path, strerror(-fd));
		return fd;
	}
	/* registered one by one, each confirmed before the next: an event of
	 * an earlier registration arriving meanwhile is lost, which is fine
	 * (the caller looks at the state once the watch is up) */
	for (; *events; events++) {
		err = event_reg(fd, EVENT_REGISTER, *events, deadline);
		if (err) {
			snprintf(errbuf, errlen, "register %s: %s", *events, strerror(-err));
			close(fd);
			return err;
		}
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "fcntl: %s", strerror(errno));
		close(fd);
		return err;
	}
	w->fd = fd;
	return 0;
}

/* Hand every whole packet in w->buf to cb (events only); keep the rest. */
static int watch_dispatch(struct vici_watch *w, vici_watch_cb cb, void *arg)
{
	size_t off = 0;
	int err = 0;

	while (w->len - off >= 4) {
		const uint8_t *p = w->buf + off;
		uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		char name[64];

		if (n < 1 || n > VICI_PKT_MAX) {
			err = -EBADMSG;
			break;
		}
		if (w->len - off - 4 < n)
			break;		/* not whole yet */
		p += 4;
		if (p[0] == EVENT) {
			size_t nl = n >= 2 ? p[1] : 0;

			if (n < 2 || nl + 2 > n) {
				err = -EBADMSG;
				break;
			}
			snprintf(name, sizeof(name), "%.*s", (int)nl, (const char *)p + 2);
			cb(arg, name, p + 2 + nl, n - 2 - nl);
		}
		off += 4 + (size_t)n;
	}
	memmove(w->buf, w->buf + off, w->len - off);
	w->len -= off;
	return err;
}

int vici_watch_read(struct vici_watch *w, vici_watch_cb cb, void *arg)
{
	if (w->fd < 0)
		return -EBADF;
	for (;;) {
		ssize_t r;

		if (w->cap - w->len < 4096) {
			size_t cap = w->cap ? w->cap * 2 : 16384;
			uint8_t *b;

			if (cap > VICI_PKT_MAX + 8)
				return -EMSGSIZE;
			b = realloc(w->buf, cap);
			if (!b)
				return -ENOMEM;
			w->buf = b;
			w->cap = cap;
		}
		r = read(w->fd, w->buf + w->len, w->cap - w->len);
		if (r == 0)
			return -ECONNRESET;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		w->len += r;
		r = watch_dispatch(w, cb, arg);
		if (r)
			return (int)r;
	}
}

void vici_watch_close(struct vici_watch *w)
{
	if (w->fd >= 0)
		close(w->fd);
	free(w->buf);
	memset(w, 0, sizeof(*w));
	w->fd = -1;
}
