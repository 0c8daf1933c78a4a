// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* lib/gem_lines.c: a byte stream cut into lines (babeld's local interface,
 * gemd's control socket, gemctl monitor), fed through a real socket pair in
 * pieces that do not follow the lines. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <criterion/criterion.h>

#include "gem_lines.h"

static int sp[2];

static void setup(void)
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
}

static void teardown(void)
{
	close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
}

/* s sent as one piece, then all of it read into l. */
static void feed(struct gem_lines *l, const char *s)
{
	size_t n = strlen(s);

	cr_assert_eq(send(sp[1], s, n, 0), (ssize_t)n);
	cr_assert_eq(gem_lines_recv(l, sp[0], MSG_DONTWAIT), (ssize_t)n);
}

TestSuite(lines, .init = setup, .fini = teardown);

Test(lines, pieces_across_lines)
{
	char buf[64];
	struct gem_lines l;

	gem_lines_init(&l, buf, sizeof(buf));
	cr_assert_null(gem_lines_next(&l));
	feed(&l, "add neighbour 1 ad");
	cr_assert_null(gem_lines_next(&l));
	cr_assert_not(gem_lines_full(&l));
	feed(&l, "dress fe80::1\nok\n\nno such");
	cr_assert_str_eq(gem_lines_next(&l), "add neighbour 1 address fe80::1");
	cr_assert_str_eq(gem_lines_next(&l), "ok");
	cr_assert_str_eq(gem_lines_next(&l), "");	/* an empty line is a line */
	cr_assert_null(gem_lines_next(&l));
	feed(&l, " thing\n");
	cr_assert_str_eq(gem_lines_next(&l), "no such thing");
	cr_assert_null(gem_lines_next(&l));
	cr_assert_eq(l.len, 0);		/* all handed out: the buffer is empty again */
}

Test(lines, longest_line_and_overlong)
{
	char buf[8], line[8];
	struct gem_lines l;

	/* 8 bytes: a line of 6 and its '\n' fit (one byte for the NUL) */
	gem_lines_init(&l, buf, sizeof(buf));
	feed(&l, "abcdef\n");
	cr_assert_not(gem_lines_full(&l));
	cr_assert_str_eq(gem_lines_next(&l), "abcdef");
	/* 7 bytes and no '\n': no room left, the line is too long */
	feed(&l, "abcdefg");
	cr_assert_null(gem_lines_next(&l));
	cr_assert(gem_lines_full(&l));
	cr_assert_eq(send(sp[1], "h\n", 2, 0), 2);
	errno = 0;
	cr_assert_eq(gem_lines_recv(&l, sp[0], MSG_DONTWAIT), -1);
	cr_assert_eq(errno, ENOBUFS);
	/* a reset (reconnect) drops it */
	gem_lines_reset(&l);
	cr_assert_not(gem_lines_full(&l));
	cr_assert_eq(gem_lines_recv(&l, sp[0], MSG_DONTWAIT), 2);
	cr_assert_str_eq(gem_lines_next(&l), "h");
	/* a line taken out frees its room for the rest */
	gem_lines_reset(&l);
	feed(&l, "ab\ncdef");
	strcpy(line, gem_lines_next(&l));
	cr_assert_str_eq(line, "ab");
	cr_assert_null(gem_lines_next(&l));
	cr_assert_not(gem_lines_full(&l));
	feed(&l, "g\n");
	cr_assert_str_eq(gem_lines_next(&l), "cdefg");
}

Test(lines, end_of_stream_and_nothing_yet)
{
	char buf[16];
	struct gem_lines l;

	gem_lines_init(&l, buf, sizeof(buf));
	errno = 0;
	cr_assert_eq(gem_lines_recv(&l, sp[0], MSG_DONTWAIT), -1);
	cr_assert_eq(errno, EAGAIN);
	feed(&l, "half");
	close(sp[1]);
	sp[1] = -1;
	cr_assert_eq(gem_lines_recv(&l, sp[0], MSG_DONTWAIT), 0);
	cr_assert_null(gem_lines_next(&l));	/* a last line without '\n' is no line */
}
