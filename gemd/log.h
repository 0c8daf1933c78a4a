/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * gemd's log: one line per event on stderr ("HH:MM:SS.mmm gemd: LEVEL: ..."),
 * which a service manager collects.  When stderr is the journal (systemd's
 * JOURNAL_STREAM matches it), each line starts with its syslog priority
 * instead ("<3>error: ...": `journalctl -u gemd -p err` finds it) and
 * carries no timestamp of its own.  Never a secret: PSKs and PINs have no
 * format string that could print them.
 */
#ifndef GEMD_LOG_H
#define GEMD_LOG_H

enum gemd_log_level { GLOG_ERR, GLOG_WARN, GLOG_INFO, GLOG_DEBUG };

extern int gemd_log_level;	/* messages above it are dropped; default INFO */

#include <stdbool.h>

/* Look at JOURNAL_STREAM once at start; true if stderr is the journal. */
bool gemd_log_init(void);
void gemd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)	gemd_log(GLOG_ERR, __VA_ARGS__)
#define log_warn(...)	gemd_log(GLOG_WARN, __VA_ARGS__)
#define log_info(...)	gemd_log(GLOG_INFO, __VA_ARGS__)
#define log_debug(...)	gemd_log(GLOG_DEBUG, __VA_ARGS__)

#endif
