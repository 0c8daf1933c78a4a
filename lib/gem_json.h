/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * JSON output of GEM's tools, over json-c (Debian libjson-c-dev): one escaper
 * (control characters, quotes, valid UTF-8 passed through, '/' left alone)
 * and one layout for everything gemctl and gem-load print with -j, indented
 * with -p as bpftool does.
 *
 * Shapes (docs: gemctl(8), README): a command answers one JSON object; lists
 * are an object holding a named array ({"streams": [...]}); numbers are
 * numbers (key ids included), absent values are null; an error is
 * {"error": "..."} on stdout.  Streams of events print one object per line.
 */
#ifndef GEM_JSON_H
#define GEM_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <json-c/json.h>

/* Print o (one line, or indented if pretty) and a newline on stdout, flush,
 * and release o.  0, or -EIO if stdout failed.  o NULL (out of memory):
 * prints {"error": "out of memory"} and returns -ENOMEM. */
int gem_json_print(json_object *o, bool pretty);

/* The same on f (gemd's control socket replies, one object a line), without
 * the flush. */
int gem_json_fprint(FILE *f, json_object *o, bool pretty);

/* o as text in that layout (json-c's buffer, valid while o lives), or NULL. */
const char *gem_json_text(json_object *o, bool pretty);

/* {"error": msg} on stdout; gem_json_ferror: on f, one line. */
void gem_json_error(const char *msg, bool pretty);
void gem_json_ferror(FILE *f, const char *msg);

/* Shorthands that tolerate a NULL object (out of memory: the print fails). */
void gem_json_str(json_object *o, const char *key, const char *val);	/* NULL: null */
void gem_json_u64(json_object *o, const char *key, uint64_t val);
void gem_json_int(json_object *o, const char *key, int64_t val);
void gem_json_bool(json_object *o, const char *key, bool val);
void gem_json_null(json_object *o, const char *key);
/* v (NULL: null) under key in o, or at the end of array a; o or a NULL
 * releases v. */
void gem_json_add(json_object *o, const char *key, json_object *v);
void gem_json_append(json_object *a, json_object *v);

#endif
