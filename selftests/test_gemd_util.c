// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* gemd/files.c and clock.h: small numbers from files (pid files, babeld's seqno and state
 * files) and the doubling back-off. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <criterion/criterion.h>

#include "gemd/clock.h"
#include "gemd/files.h"

static char path[64];

static const char *file(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/gem-util-%d", getpid());
	f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
	return path;
}

Test(util, read_number)
{
	cr_assert_eq(gemd_read_number(file("123\n"), 0, 0xffff), 123);
	cr_assert_eq(gemd_read_number(file("7"), 0, 0xffff), 7);
	/* babeld's state file: "seqno time" */
	cr_assert_eq(gemd_read_number(file("4242 1764745000\n"), 0, 0xffff), 4242);
	cr_assert_eq(gemd_read_number(file("0\n"), 0, 0xffff), 0);
	cr_assert_eq(gemd_read_number(file("65536\n"), 0, 0xffff), -EINVAL);
	cr_assert_eq(gemd_read_number(file("-1\n"), 0, 0xffff), -EINVAL);
	cr_assert_eq(gemd_read_number(file("12x\n"), 0, 0xffff), -EINVAL);
	cr_assert_eq(gemd_read_number(file("x\n"), 0, 0xffff), -EINVAL);
	cr_assert_eq(gemd_read_number(file(""), 0, 0xffff), -EINVAL);
	cr_assert_eq(gemd_read_number(file("99999999999999999999999\n"), 0, 0x7fffffff), -EINVAL);
	cr_assert_eq(gemd_read_pidfile(file("4711\n")), 4711);
	cr_assert_eq(gemd_read_pidfile(file("0\n")), -EINVAL);
	unlink(path);
	cr_assert_eq(gemd_read_number(path, 0, 10), -ENOENT);
}

Test(util, backoff_double)
{
	cr_assert_eq(gemd_backoff_double(500, 16000), 1000);
	cr_assert_eq(gemd_backoff_double(8000, 16000), 16000);
	cr_assert_eq(gemd_backoff_double(9000, 16000), 16000);
	cr_assert_eq(gemd_backoff_double(16000, 16000), 16000);
	cr_assert_eq(gemd_backoff_double(0x80000000u, 0xffffffffu), 0xffffffffu);	/* no overflow */
}
