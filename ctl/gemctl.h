/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* gemctl: one subcommand family per file, dispatched from the table in gemctl.c. */
#ifndef GEMCTL_H
#define GEMCTL_H

#include <stdbool.h>
#include "gem_json.h"
#include "gem_pin.h"

struct gemctl_opts {
	bool json;		/* -j: JSON on stdout and nothing else */
	bool pretty;		/* -p: -j, indented */
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
int cmd_monitor(int argc, char **argv, const struct gemctl_opts *o);
/* Send gemd the request what (" json"/" text" appended) over its control
 * socket (sock, else the one conf names, else $GEMD_SOCKET, else the
 * default) and print the reply: 0, 1 (gemd replied an error, or none), 2. */
int gemctl_gemd_request(const struct gemctl_opts *o, const char *sock, const char *conf,
			const char *what);

/* Print an error: "gemctl: ..." on stderr, or {"error": "..."} on stdout with -j. */
void gemctl_err(const struct gemctl_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print a command's JSON answer (-j, -p: lib/gem_json.h) and release it; 0 or 1
 * (the exit code if stdout failed). */
int gemctl_json(const struct gemctl_opts *o, json_object *obj);
/* {"NAME": []}: the object, its array in *arr (both NULL if out of memory). */
json_object *gemctl_json_list(const char *name, json_object **arr);
/* Append e to arr (arr NULL: release e). */
void gemctl_json_append(json_object *arr, json_object *e);

#endif
