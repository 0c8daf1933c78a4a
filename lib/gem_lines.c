// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Line splitter: see gem_lines.h. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "gem_lines.h"

void gem_lines_init(struct gem_lines *l, char *buf, size_t size)
{
	l->buf = buf;
	l->size = size;
	gem_lines_reset(l);
}

void gem_lines_reset(struct gem_lines *l)
{
	l->len = l->used = 0;
	if (l->size)
		l->buf[0] = '\0';
}

/* The lines handed out are gone: what is left moves to the front. */
static void compact(struct gem_lines *l)
{
	if (!l->used)
		return;
	memmove(l->buf, l->buf + l->used, l->len - l->used + 1);
	l->len -= l->used;
	l->used = 0;
}

static size_t room(struct gem_lines *l)
{
	compact(l);
	return l->len + 1 < l->size ? l->size - 1 - l->len : 0;
}

ssize_t gem_lines_recv(struct gem_lines *l, int fd, int flags)
{
	size_t r = room(l);
	ssize_t n;

	if (!r) {
		errno = ENOBUFS;
		return -1;
	}
	n = recv(fd, l->buf + l->len, r, flags);
	if (n > 0) {
		l->len += (size_t)n;
		l->buf[l->len] = '\0';
	}
	return n;
}

char *gem_lines_next(struct gem_lines *l)
{
	char *s = l->buf + l->used, *nl = memchr(s, '\n', l->len - l->used);

	if (!nl) {
		compact(l);
		return NULL;
	}
	*nl = '\0';
	l->used = (size_t)(nl + 1 - l->buf);
	return s;
}

bool gem_lines_full(const struct gem_lines *l)
{
	return l->len - l->used + 1 >= l->size && !memchr(l->buf + l->used, '\n', l->len - l->used);
}
