// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "gemd/log.h"

int gemd_log_level = GLOG_INFO;
static bool to_journal;

bool gemd_log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev = 0, ino = 0;
	char *end = NULL;
	struct stat st;
	bool ok = false;

	/* systemd sets JOURNAL_STREAM=DEV:INODE of the stream it connected to
	 * stderr (systemd.exec(5)); stderr redirected elsewhere does not match */
	if (js) {
		errno = 0;
		dev = strtoull(js, &end, 10);
		ok = !errno && end != js && *end == ':';
		if (ok) {
			const char *p = end + 1;

			ino = strtoull(p, &end, 10);
			ok = !errno && end != p && !*end;
		}
	}
	to_journal = ok && fstat(2, &st) == 0 && (unsigned long long)st.st_dev == dev &&
		     (unsigned long long)st.st_ino == ino;
	return to_journal;
}

void gemd_log(int level, const char *fmt, ...)
{
	static const char *const names[] = { "error: ", "warning: ", "", "debug: " };
	/* syslog priorities (sd-daemon(3) prefixes): err, warning, info, debug */
	static const int prio[] = { 3, 4, 6, 7 };
	char msg[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int l = level < 0 ? 0 : level > 3 ? 3 : level;

	if (level > gemd_log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* one write per line so lines from a restarted gemd never interleave */
	if (to_journal) {
		/* the journal stamps the time itself */
		fprintf(stderr, "<%d>%s%s\n", prio[l], names[l], msg);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		fprintf(stderr, "%02d:%02d:%02d.%03ld gemd: %s%s\n", tm.tm_hour, tm.tm_min,
			tm.tm_sec, ts.tv_nsec / 1000000, names[l], msg);
	}
	fflush(stderr);
}
