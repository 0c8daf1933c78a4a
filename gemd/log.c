// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "gemd/log.h"

int gemd_log_level = GLOG_INFO;

void gemd_log(int level, const char *fmt, ...)
{
	static const char *const names[] = { "error: ", "warning: ", "", "debug: " };
	char msg[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (level > gemd_log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	/* one write per line so lines from a restarted gemd never interleave */
	fprintf(stderr, "%02d:%02d:%02d.%03ld gemd: %s%s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000, names[level < 0 ? 0 : level > 3 ? 3 : level], msg);
	fflush(stderr);
}
