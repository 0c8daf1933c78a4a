/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* gemd's files and directories: run and state directories made and emptied,
 * files written whole (temporary + rename), pid and number files read. */
#ifndef GEMD_FILES_H
#define GEMD_FILES_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p with mode for the directories it creates; 0 or -errno. */
int gemd_mkdir_p(const char *path, mode_t mode);
/* rm -rf that never follows symlinks and stays on one file system; 0 or -errno. */
int gemd_rm_rf(const char *path);
/* Empty directory dir (created with mode if missing), except that each file
 * named in the NULL-terminated keep list is kept as NAME.1 (replacing an
 * older NAME.1): the last log of a process that restarts.  0 or -errno. */
int gemd_reset_dir(const char *dir, const char *const *keep, mode_t mode);
/* Write a whole file through a temporary + rename, with this mode. */
int gemd_write_file(const char *path, const char *data, size_t len, mode_t mode);
/* The decimal number a small file starts with (what follows it, after a
 * space or newline, is ignored: babeld's state file has "seqno time"), in
 * min..max (min >= 0): the number, or -errno (-EINVAL: not such a number). */
long gemd_read_number(const char *path, long min, long max);
/* A pid file's pid: > 0, or -errno. */
pid_t gemd_read_pidfile(const char *path);

#endif
