/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Child processes gemd supervises (charon, babeld). */
#ifndef GEMD_PROC_H
#define GEMD_PROC_H

#include <stdbool.h>
#include <sys/types.h>

struct gemd_spawn {
	const char *path;		/* executable */
	char *const *argv;
	const char *const *env_add;	/* "K=V" entries added to gemd's environment */
	const char *private_run;	/* non-NULL: new mount namespace, this dir on /run */
	const char *output;		/* stdout+stderr appended here; NULL: /dev/null */
	int death_signal;		/* sent to the child when gemd dies */
};

/* Fork and exec.  The child: own session, death_signal when gemd dies, no fd
 * of gemd's but 0-2.  Errors of the child before exec (mount, exec) come
 * back as -errno with *what naming the step.  */
int gemd_spawn(const struct gemd_spawn *s, pid_t *pid, const char **what);

/* Send sig, wait up to grace_ms for the exit, then SIGKILL and reap.  The
 * exit status goes to *status if non-NULL.  0 or -errno (-ECHILD: already
 * reaped by someone else). */
int gemd_stop_child(pid_t pid, int sig, unsigned int grace_ms, int *status);

/* "exited with status 1", "killed by signal 9 (Killed)" */
const char *gemd_exit_str(int status, char *buf, size_t len);

#endif
