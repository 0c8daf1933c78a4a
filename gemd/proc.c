// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gemd/proc.h"

extern char **environ;

/* Child side: report errno and the failed step through the CLOEXEC pipe. */
static void __attribute__((noreturn)) child_fail(int fd, int step)
{
	int msg[2] = { errno, step };

	if (write(fd, msg, sizeof(msg)) < 0) { /* nothing left to do */ }
	_exit(127);
}

static const char *const steps[] = { "pipe", "prctl", "unshare", "mount --make-rprivate /",
				     "mount --bind DIR /run", "open output", "-", "exec" };

int gemd_spawn(const struct gemd_spawn *s, pid_t *pidp, const char **what)
{
	int pfd[2], msg[2], n, err = 0;
	pid_t parent = getpid(), pid;
	size_t nenv = 0, nadd = 0, i = 0;
	char **envp;
	sigset_t all;

	/* built before fork: the child only calls async-signal-safe functions */
	while (environ[nenv])
		nenv++;
	while (s->env_add && s->env_add[nadd])
		nadd++;
	envp = calloc(nenv + nadd + 1, sizeof(*envp));
	if (!envp)
		return -ENOMEM;
	for (size_t a = 0; a < nadd; a++)
		envp[i++] = (char *)s->env_add[a];
	for (size_t e = 0; e < nenv; e++) {
		bool dup = false;

		for (size_t a = 0; a < nadd && !dup; a++) {
			const char *eq = strchr(s->env_add[a], '=');
			size_t kl = eq ? (size_t)(eq - s->env_add[a]) + 1 : 0;

			dup = kl && !strncmp(environ[e], s->env_add[a], kl);
		}
		if (!dup)
			envp[i++] = environ[e];
	}
	*what = steps[0];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		free(envp);
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		*what = "fork";
		goto out;
	}
	if (pid == 0) {
		int fd;

		close(pfd[0]);
		/* gemd blocks these for its signalfd: the child starts clean */
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		setsid();
		if (prctl(PR_SET_PDEATHSIG, s->death_signal ? s->death_signal : SIGKILL) < 0)
			child_fail(pfd[1], 1);
		if (getppid() != parent)	/* gemd died before prctl */
			_exit(1);
		if (s->private_run) {
			if (unshare(CLONE_NEWNS) < 0)
				child_fail(pfd[1], 2);
			if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
				child_fail(pfd[1], 3);
			if (mount(s->private_run, "/run", NULL, MS_BIND, NULL) < 0)
				child_fail(pfd[1], 4);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0 && fd != 0) {
			dup2(fd, 0);
			close(fd);
		}
		fd = open(s->output ? s->output : "/dev/null",
			  O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0600);
		if (fd < 0)
			child_fail(pfd[1], 5);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
		/* nothing of gemd's (token lock, sockets) leaks into the child;
		 * the report pipe is CLOEXEC and must survive until exec */
		for (fd = 3; fd < 1024; fd++)
			if (fd != pfd[1])
				close(fd);
		execve(s->path, s->argv, envp);
		child_fail(pfd[1], 7);
	}
	close(pfd[1]);
	pfd[1] = -1;
	do {
		n = read(pfd[0], msg, sizeof(msg));
	} while (n < 0 && errno == EINTR);
	if (n == sizeof(msg)) {
		/* the child failed before exec and exits 127; reap it now */
		waitpid(pid, NULL, 0);
		err = -msg[0];
		*what = msg[1] >= 0 && msg[1] < (int)(sizeof(steps) / sizeof(steps[0])) ?
			steps[msg[1]] : "?";
		goto out;
	}
	*pidp = pid;
	*what = NULL;
out:
	close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	free(envp);
	return err;
}

int gemd_stop_child(pid_t pid, int sig, unsigned int grace_ms, int *status)
{
	struct timespec ts = { 0, 20L * 1000 * 1000 };
	int st = 0;
	pid_t r;

	if (pid <= 0)
		return -EINVAL;
	if (kill(pid, sig) < 0 && errno != ESRCH)
		return -errno;
	for (unsigned int waited = 0;; waited += 20) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			goto done;
		if (r < 0)
			return -errno;
		if (waited >= grace_ms)
			break;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	do {
		r = waitpid(pid, &st, 0);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
done:
	if (status)
		*status = st;
	return 0;
}

const char *gemd_exit_str(int st, char *buf, size_t len)
{
	if (WIFEXITED(st))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
	else
		snprintf(buf, len, "stopped (status 0x%x)", st);
	return buf;
}
