/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A byte stream cut into lines, over a buffer the caller owns: gemd reading
 * babeld's local interface and its control socket's request, gemctl reading
 * gemd's monitor events.
 *
 *   struct gem_lines in;
 *   gem_lines_init(&in, buf, sizeof(buf));
 *   n = gem_lines_recv(&in, fd, MSG_DONTWAIT);
 *   while ((line = gem_lines_next(&in))) ...         one line, '\n' cut off
 *   if (gem_lines_full(&in)) ...                     a line longer than buf
 *
 * A line holds at most size - 2 bytes and its '\n' (one byte stays for the
 * NUL; size >= 2).  A line handed out lives until the next call on the same gem_lines.
 */
#ifndef GEM_LINES_H
#define GEM_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct gem_lines {
	char *buf;
	size_t size;	/* of buf */
	size_t len;	/* bytes held, buf[len] is NUL */
	size_t used;	/* of them, handed out as lines */
};

void gem_lines_init(struct gem_lines *l, char *buf, size_t size);
/* Drop whatever is held (a reconnect). */
void gem_lines_reset(struct gem_lines *l);
/* One recv(fd, flags) into the free room: what recv returned (0: the other
 * end closed; -1 with errno).  No room (gem_lines_full): -1, ENOBUFS. */
ssize_t gem_lines_recv(struct gem_lines *l, int fd, int flags);
/* The next complete line, NUL-terminated without its '\n', or NULL. */
char *gem_lines_next(struct gem_lines *l);
/* No complete line held and no room for more: the line is too long. */
bool gem_lines_full(const struct gem_lines *l);

#endif
