/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* gemctl: one subcommand family per file, dispatched from the table in gemctl.c. */
#ifndef GEMCTL_H
#define GEMCTL_H

#include <stdbool.h>

struct gemctl_opts {
	bool json;		/* -j: JSON on stdout and nothing else */
	bool verbose;		/* -v */
	const char *pin_dir;	/* --pin-dir, default GEM_PIN_DIR */
};

#define GEM_PIN_DIR "/sys/fs/bpf/gem"

/* Each family: argv[0] is the family name; returns a process exit code. */
int cmd_keys(int argc, char **argv, const struct gemctl_opts *o);

/* Print an error: "gemctl: ..." on stderr, or {"error": "..."} on stdout with -j. */
void gemctl_err(const struct gemctl_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
