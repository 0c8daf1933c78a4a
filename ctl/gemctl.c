// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* gemctl: inspect and key a node's GEM data plane and HSM. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "gemctl.h"
#include "gem_version.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv, const struct gemctl_opts *o);
	const char *help;
} cmds[] = {
	{ "group", cmd_group, "protected groups: add, del, key, list, show; GAK epochs: rekey, epochs" },
	{ "sek", cmd_sek, "stream encryption keys: set, del" },
	{ "stream", cmd_stream, "streams with key ids, packet numbers, counters: list" },
	{ "stats", cmd_stats, "every pass and drop counter, summed over CPUs" },
	{ "events", cmd_events, "follow new-stream (no key) notifications" },
	{ "keys", cmd_keys, "HSM key hierarchy: init, import, list, pubkey, gen-secret" },
	{ "peers", cmd_peers, "control plane: neighbours, tunnels, Babel costs (gemd)" },
	{ "routes", cmd_routes, "control plane: Babel routes (gemd)" },
	{ "control-stats", cmd_control_stats,
	  "control plane: key record propagation counters, rejects (gemd)" },
	{ "monitor", cmd_monitor, "control plane: follow gemd's events as they happen" },
};

void gemctl_err(const struct gemctl_opts *o, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (o && o->json) {
		gem_json_error(buf, o->pretty);
	} else {
		fprintf(stderr, "gemctl: %s\n", buf);
	}
}

int gemctl_json(const struct gemctl_opts *o, json_object *obj)
{
	return gem_json_print(obj, o->pretty) ? 1 : 0;
}

json_object *gemctl_json_list(const char *name, json_object **arr)
{
	json_object *o = json_object_new_object();

	*arr = json_object_new_array();
	if (o && *arr) {
		json_object_object_add(o, name, *arr);
		return o;
	}
	json_object_put(*arr);
	json_object_put(o);
	*arr = NULL;
	return NULL;
}

void gemctl_json_append(json_object *arr, json_object *e)
{
	if (arr && e)
		json_object_array_add(arr, e);
	else
		json_object_put(e);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: gemctl [-j|-p] [-v] [--pin-dir DIR] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\noptions:\n"
		"  -j, --json      JSON on stdout and nothing else (errors too: {\"error\": ...})\n"
		"  -p, --pretty    JSON, indented\n"
		"  -v, --verbose   more detail\n"
		"  --pin-dir DIR   bpffs directory of the data plane (default " GEM_PIN_DIR ")\n"
		"  -V, --version   version and map layout of this gemctl\n"
		"\n'gemctl COMMAND --help' describes one command.\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "pin-dir", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	struct gemctl_opts o = { .pin_dir = GEM_PIN_DIR };
	int c;

	if (sodium_init() < 0) {
		fprintf(stderr, "gemctl: libsodium failed to initialise\n");
		return 1;
	}
	/* '+': stop at the first non-option, the subcommand parses the rest */
	while ((c = getopt_long(argc, argv, "+jpvhV", lo, NULL)) != -1) {
		switch (c) {
		case 'V': gem_print_version(stdout, "gemctl"); return 0;
		case 'j': o.json = true; break;
		case 'p': o.json = o.pretty = true; break;
		case 'v': o.verbose = true; break;
		case 'P': o.pin_dir = optarg; break;
		case 'h': usage(stdout); return 0;
		default:
			if (o.json)
				gemctl_err(&o, "bad option (see gemctl --help)");
			else
				usage(stderr);
			return 2;
		}
	}
	if (o.json)
		opterr = 0;	/* getopt's own messages would go to stderr */
	if (optind >= argc) {
		if (o.json)
			gemctl_err(&o, "no command given (see gemctl --help)");
		else
			usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[optind], cmds[i].name))
			return cmds[i].fn(argc - optind, argv + optind, &o);
	gemctl_err(&o, "unknown command '%s' (see gemctl --help)", argv[optind]);
	return 2;
}
