// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemd's log lines (gemd/log.c): syslog priority prefixes when stderr is
 * the journal (systemd's JOURNAL_STREAM names stderr's device and inode),
 * the plain timestamped form otherwise; and the run directories that keep
 * the last log of a process across its restart (gemd_reset_dir).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "gemd/log.h"
#include "gemd/files.h"

/* What gemd_log prints on stderr in a child whose JOURNAL_STREAM is js
 * ("match": stderr's own DEV:INODE; NULL: unset). */
static void logged(const char *js, char *out, size_t len)
{
	int p[2];
	pid_t pid;
	ssize_t n, off = 0;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct stat st;
		char buf[64];

		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		if (js && !strcmp(js, "match")) {
			fstat(2, &st);
			snprintf(buf, sizeof(buf), "%llu:%llu", (unsigned long long)st.st_dev,
				 (unsigned long long)st.st_ino);
			js = buf;
		}
		if (js)
			setenv("JOURNAL_STREAM", js, 1);
		else
			unsetenv("JOURNAL_STREAM");
		gemd_log_init();
		log_err("tunnel %s: down", "gem-1");
		log_warn("w");
		log_info("i");
		log_debug("not shown at the default level");
		_exit(0);
	}
	close(p[1]);
	while ((n = read(p[0], out + off, len - 1 - off)) > 0)
		off += n;
	out[off] = '\0';
	close(p[0]);
	waitpid(pid, NULL, 0);
}

Test(log, journal_prefixes)
{
	char out[512];

	logged("match", out, sizeof(out));
	cr_expect_str_eq(out, "<3>error: tunnel gem-1: down\n<4>warning: w\n<6>i\n");
}

Test(log, plain_when_not_the_journal)
{
	char out[512];
	int hh, mm, ss, ms;
	char rest[64];

	logged(NULL, out, sizeof(out));
	cr_expect_eq(sscanf(out, "%d:%d:%d.%d gemd: error: tunnel gem-1: %63[^\n]", &hh, &mm, &ss,
			    &ms, rest), 5, "%s", out);
	cr_expect_str_eq(rest, "down");
	cr_expect(strstr(out, " gemd: warning: w\n") && strstr(out, " gemd: i\n"), "%s", out);
	/* stderr redirected away from the journal: another inode */
	logged("1:1", out, sizeof(out));
	cr_expect(strstr(out, " gemd: error: tunnel gem-1: down\n") && out[0] != '<', "%s", out);
}

static void put(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static void get(const char *dir, const char *name, char *out, size_t len)
{
	char path[256];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	out[0] = '\0';
	f = fopen(path, "r");
	if (!f)
		return;
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
}

Test(reset_dir, keeps_the_last_log)
{
	char dir[] = "/tmp/gem-reset.XXXXXX", sub[64], path[128], buf[64];
	const char *const keep[] = { "charon.log", NULL };
	struct stat st;

	cr_assert_not_null(mkdtemp(dir));
	put(dir, "charon.log", "second run\n");
	put(dir, "charon.log.1", "first run\n");
	put(dir, "charon.pid", "123\n");
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	put(sub, "x", "y");
	cr_assert_eq(gemd_reset_dir(dir, keep, 0700), 0);
	get(dir, "charon.log.1", buf, sizeof(buf));
	cr_expect_str_eq(buf, "second run\n", "the last log is kept as .1");
	snprintf(path, sizeof(path), "%s/charon.log", dir);
	cr_expect_neq(stat(path, &st), 0, "the log itself starts over");
	snprintf(path, sizeof(path), "%s/charon.pid", dir);
	cr_expect_neq(stat(path, &st), 0, "everything else is gone");
	cr_expect_neq(stat(sub, &st), 0);
	/* again, with no log this time: the .1 stays */
	cr_assert_eq(gemd_reset_dir(dir, keep, 0700), 0);
	get(dir, "charon.log.1", buf, sizeof(buf));
	cr_expect_str_eq(buf, "second run\n");
	snprintf(path, sizeof(path), "%s/charon.log.1", dir);
	unlink(path);
	cr_expect_eq(rmdir(dir), 0, "nothing else left");
	/* a missing directory is created */
	cr_assert_eq(gemd_reset_dir(dir, keep, 0700), 0);
	cr_expect_eq(stat(dir, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0700);
	rmdir(dir);
}
