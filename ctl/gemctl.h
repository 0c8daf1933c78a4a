/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* gemctl: one subcommand family per file, dispatched from the table in gemctl.c. */
#ifndef GEMCTL_H
#define GEMCTL_H

#include <stdbool.h>
#include "gem_pin.h"

struct gemctl_opts {
	bool json;		/* -j: JSON on stdout and nothing else */
	bool verbose;		/* -v */
	const char *pin_dir;	/* --pin-dir, default GEM_PIN_DIR */
};

#define GEM_PIN_DIR GEM_PIN_DIR_DEFAULT

/* Each family: argv[0] is the family name; returns a process exit code. */
int cmd_keys(int argc, char **argv, const struct gemctl_opts *o);
int cmd_group(int argc, char **argv, const struct gemctl_opts *o);
int cmd_sek(int argc, char **argv, const struct gemctl_opts *o);
int cmd_stream(int argc, char **argv, const struct gemctl_opts *o);
int cmd_stats(int argc, char **argv, const struct gemctl_opts *o);
int cmd_events(int argc, char **argv, const struct gemctl_opts *o);
int cmd_peers(int argc, char **argv, const struct gemctl_opts *o);	/* cmd_cp.c */
int cmd_routes(int argc, char **argv, const struct gemctl_opts *o);
int cmd_control_stats(int argc, char **argv, const struct gemctl_opts *o);

/* Print an error: "gemctl: ..." on stderr, or {"error": "..."} on stdout with -j. */
void gemctl_err(const struct gemctl_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
