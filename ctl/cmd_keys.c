// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemctl keys: the node's HSM key hierarchy (docs/KEYS.md).
 *
 *   gemctl keys [--module PATH] [--token LABEL] [--pin-file FILE] [-j] COMMAND
 *
 * The PIN comes from --pin-file, $GEM_PIN_FILE or $GEM_PIN, never from the
 * command line (it would show in ps and shell history).  Nothing here prints
 * a key value: list shows labels, types and attributes only.
 */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gemctl.h"
#include "keys/gem_keys.h"
#include "gemd/config.h"

#define LOCK_WAIT_MS 2000	/* ride out another gemctl; not a running daemon */

struct kctx {
	struct gemctl_opts o;
	struct gem_keys_cfg cfg;
	bool have_epoch;	/* --epoch N (import gak, retire gak) */
	uint32_t epoch;
	const char *sock, *conf;	/* import/retire gak through the running gemd */
};

/* import gak / retire gak with --socket or --config: gemd owns the token
 * while it runs, so it does them (it reads FILE itself: the key does not
 * cross the socket) and starts using the epochs at once. */
static int via_gemd(struct kctx *c, const char *verb, const char *group, const char *file)
{
	char req[GEMD_PATH_MAX + 128], abs[PATH_MAX];

	if (!c->have_epoch) {
		gemctl_err(&c->o, "keys %s gak --socket/--config: give --epoch N", verb);
		return 2;
	}
	if (file && !realpath(file, abs)) {
		gemctl_err(&c->o, "%s: %s", file, strerror(errno));
		return 1;
	}
	if (file && strlen(abs) >= GEMD_PATH_MAX) {
		gemctl_err(&c->o, "%s: path too long for gemd", file);
		return 2;
	}
	snprintf(req, sizeof(req), "gak-%s %s %u%s%s", verb, group, c->epoch, file ? " " : "",
		 file ? abs : "");
	return gemctl_gemd_request(&c->o, c->sock, c->conf, req);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gemctl keys [OPTIONS] COMMAND [ARGS]\n"
		"\n"
		"commands:\n"
		"  init                   create the node identity (Ed25519 key pair 'gem-node')\n"
		"  import bk FILE         import the domain's Bootstrap Key (32 raw bytes)\n"
		"  import gak GROUP FILE [--epoch N]\n"
		"                         import GROUP's Group Authorization Key of epoch N\n"
		"                         (default 0; 32 raw bytes); several epochs may be held\n"
		"  retire gak GROUP --epoch N\n"
		"                         destroy GROUP's GAK of epoch N (docs/KEYS.md 2.3)\n"
		"                         import gak / retire gak with --socket PATH or --config\n"
		"                         FILE: done by the running gemd, which owns the token\n"
		"  list                   token objects: labels, types, attributes (never values)\n"
		"  pubkey                 the node's public key and node id\n"
		"  gen-secret FILE        write 32 random bytes to a new FILE (mode 0600)\n"
		"\n"
		"options:\n"
		"  --module PATH    PKCS#11 module (else $" GEM_KEYS_ENV_MODULE ", else\n"
		"                   " GEM_KEYS_DEFAULT_MODULE ")\n"
		"  --token LABEL    token label (else $" GEM_KEYS_ENV_TOKEN ", else '"
		GEM_KEYS_DEFAULT_TOKEN "')\n"
		"  --pin-file FILE  user PIN on the first line of FILE (else $"
		GEM_KEYS_ENV_PIN_FILE ",\n"
		"                   else the PIN in $" GEM_KEYS_ENV_PIN "); never on the command line\n"
		"  -j, --json       JSON on stdout and nothing else\n"
		"  -p, --pretty     JSON, indented\n"
		"\n"
		"One process owns the token at a time (lock in $" GEM_KEYS_ENV_LOCK_DIR
		", else " GEM_KEYS_DEFAULT_LOCK_DIR ").\n");
}

static void hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

/* bytes as lower-case hex, into j under key */
static void json_hex(json_object *j, const char *key, const uint8_t *p, size_t n)
{
	char b[2 * 64 + 1];

	if (n > 64)
		n = 64;
	sodium_bin2hex(b, sizeof(b), p, n);
	gem_json_str(j, key, b);
}

/* PKCS#11 labels are bytes: gem_json_str turns what is not UTF-8 into U+FFFD */
#define json_label gem_json_str

static int fail(const struct kctx *c)
{
	gemctl_err(&c->o, "%s", gem_keys_errmsg());
	return 1;
}

static int open_token(struct kctx *c, struct gem_keys **k)
{
	return gem_keys_open(k, &c->cfg) ? fail(c) : 0;
}

static int show_node(const struct kctx *c, struct gem_keys *k, const char *what)
{
	uint8_t pk[GEM_KEYS_PUBKEY_LEN], id[GEM_KEYS_NODE_ID_LEN];

	if (gem_keys_node_pubkey(k, pk))
		return fail(c);
	gem_keys_node_id_of(pk, id);
	if (c->o.json) {
		json_object *j = json_object_new_object();

		json_label(j, "token", gem_keys_token_label(k));
		gem_json_str(j, "label", GEM_KEYS_LABEL_NODE);
		gem_json_str(j, "type", "ed25519");
		json_hex(j, "public_key", pk, sizeof(pk));
		json_hex(j, "node_id", id, sizeof(id));
		return gemctl_json(&c->o, j);
	} else {
		if (what)
			printf("token '%s': %s\n", gem_keys_token_label(k), what);
		printf("public key: ");
		hex(pk, sizeof(pk));
		printf("\nnode id:    ");
		hex(id, sizeof(id));
		putchar('\n');
	}
	return 0;
}

static int do_init(struct kctx *c, int argc, char **argv)
{
	struct gem_keys *k = NULL;
	int ret;

	(void)argv;
	if (argc != 1) {
		gemctl_err(&c->o, "keys init: takes no arguments (see gemctl keys --help)");
		return 2;
	}
	ret = open_token(c, &k);
	if (ret)
		goto out;
	if (gem_keys_node_init(k)) {
		ret = fail(c);
		goto out;
	}
	ret = show_node(c, k, "created Ed25519 node key pair '" GEM_KEYS_LABEL_NODE "'");
out:
	gem_keys_close(k);
	return ret;
}

static int do_pubkey(struct kctx *c, int argc, char **argv)
{
	struct gem_keys *k = NULL;
	int ret;

	(void)argv;
	if (argc != 1) {
		gemctl_err(&c->o, "keys pubkey: takes no arguments (see gemctl keys --help)");
		return 2;
	}
	ret = open_token(c, &k);
	if (!ret)
		ret = show_node(c, k, NULL);
	gem_keys_close(k);
	return ret;
}

static int do_import(struct kctx *c, int argc, char **argv)
{
	char label[GEM_KEYS_LABEL_MAX + 1];
	uint8_t grp[GEM_KEYS_GROUP_LEN];
	enum gem_keys_root kind;
	struct gem_keys *k = NULL;
	const char *file;
	int ret;

	if (argc == 3 && !strcmp(argv[1], "bk")) {
		kind = GEM_KEYS_BK;
		file = argv[2];
		snprintf(label, sizeof(label), "%s", GEM_KEYS_LABEL_BK);
	} else if (argc == 4 && !strcmp(argv[1], "gak")) {
		kind = GEM_KEYS_GAK;
		file = argv[3];
		if (gem_keys_group_parse(argv[2], grp))
			return fail(c);
		gem_keys_gak_label(grp, c->epoch, label);
	} else {
		gemctl_err(&c->o, "usage: gemctl keys import bk FILE | import gak GROUP FILE "
			   "[--epoch N]");
		return 2;
	}
	if (kind == GEM_KEYS_GAK && (c->sock || c->conf))
		return via_gemd(c, "import", argv[2], file);
	if (kind == GEM_KEYS_BK && c->have_epoch) {
		gemctl_err(&c->o, "keys import bk: the Bootstrap Key has no epochs (--epoch is "
			   "for a GAK)");
		return 2;
	}
	ret = open_token(c, &k);
	if (ret)
		goto out;
	if (gem_keys_import_file(k, kind, kind == GEM_KEYS_GAK ? grp : NULL, c->epoch, file)) {
		ret = fail(c);
		goto out;
	}
	if (c->o.json) {
		json_object *j = json_object_new_object();

		json_label(j, "token", gem_keys_token_label(k));
		json_label(j, "label", label);
		gem_json_str(j, "kind", kind == GEM_KEYS_BK ? "bk" : "gak");
		if (kind == GEM_KEYS_GAK)
			gem_json_u64(j, "epoch", c->epoch);
		else
			gem_json_null(j, "epoch");
		ret = gemctl_json(&c->o, j);
		goto out;
	} else if (kind == GEM_KEYS_BK) {
		printf("token '%s': imported the Bootstrap Key as '%s' (sensitive, "
		       "non-extractable)\n", gem_keys_token_label(k), label);
	} else {
		printf("token '%s': imported the Group Authorization Key of epoch %u as '%s' "
		       "(sensitive, non-extractable)\n", gem_keys_token_label(k), c->epoch, label);
	}
	ret = 0;
out:
	gem_keys_close(k);
	return ret;
}

/* What a GEM label means, for people reading the list. */
static const char *role(const struct gem_keys_obj *o)
{
	if (!strcmp(o->label, GEM_KEYS_LABEL_NODE))
		return "node-identity";
	if (!strcmp(o->label, GEM_KEYS_LABEL_BK))
		return "bootstrap-key";
	if (!strncmp(o->label, GEM_KEYS_LABEL_GAK_PFX, strlen(GEM_KEYS_LABEL_GAK_PFX)))
		return "group-authorization-key";
	return "-";
}

static int do_list(struct kctx *c, int argc, char **argv)
{
	struct gem_keys_obj *v = NULL;
	struct gem_keys *k = NULL;
	uint8_t g[GEM_KEYS_GROUP_LEN];
	char gs[GEM_KEYS_GROUP_STRLEN];
	size_t n = 0, i, j;
	uint32_t ep;
	int ret;

	(void)argv;
	if (argc != 1) {
		gemctl_err(&c->o, "keys list: takes no arguments (see gemctl keys --help)");
		return 2;
	}
	ret = open_token(c, &k);
	if (ret)
		goto out;
	if (gem_keys_list(k, &v, &n)) {
		ret = fail(c);
		goto out;
	}
	if (c->o.json) {
		json_object *arr, *top = gemctl_json_list("objects", &arr);

		json_label(top, "token", gem_keys_token_label(k));
		for (i = 0; i < n; i++) {
			json_object *e = json_object_new_object(), *at = json_object_new_object();

			json_label(e, "label", v[i].label);
			gem_json_str(e, "class", gem_keys_class_name(v[i].cls));
			gem_json_str(e, "key_type", gem_keys_type_name(v[i].key_type));
			gem_json_str(e, "role", role(&v[i]));
			if (!gem_keys_gak_label_parse(v[i].label, g, &ep)) {
				gem_keys_group_str(g, gs);
				gem_json_str(e, "group", gs);
				gem_json_u64(e, "epoch", ep);
			} else {
				gem_json_null(e, "group");
				gem_json_null(e, "epoch");
			}
			if (v[i].value_len)
				gem_json_u64(e, "value_len", v[i].value_len);
			else
				gem_json_null(e, "value_len");
			json_hex(e, "id", v[i].id, v[i].id_len);
			for (j = 0; j < gem_keys_nflags; j++)
				if (v[i].known & (1u << j))
					gem_json_bool(at, gem_keys_flags[j].name,
						      v[i].set & (1u << j));
			if (e && at)
				json_object_object_add(e, "attributes", at);
			else
				json_object_put(at);
			gemctl_json_append(arr, e);
		}
		ret = gemctl_json(&c->o, top);
		goto out;
	} else {
		printf("token '%s': %zu object%s\n", gem_keys_token_label(k), n,
		       n == 1 ? "" : "s");
		for (i = 0; i < n; i++) {
			char epoch[16] = "-";

			if (!gem_keys_gak_label_parse(v[i].label, g, &ep))
				snprintf(epoch, sizeof(epoch), "%u", ep);
			printf("%-28s %-11s %-14s %-23s %-6s", v[i].label[0] ? v[i].label :
			       "(no label)", gem_keys_class_name(v[i].cls),
			       gem_keys_type_name(v[i].key_type), role(&v[i]), epoch);
			for (j = 0; j < gem_keys_nflags; j++)
				if (v[i].known & (1u << j))
					printf(" %s%s", v[i].set & (1u << j) ? "" : "!",
					       gem_keys_flags[j].name);
			putchar('\n');
		}
	}
	ret = 0;
out:
	free(v);
	gem_keys_close(k);
	return ret;
}

static int do_retire(struct kctx *c, int argc, char **argv)
{
	uint8_t grp[GEM_KEYS_GROUP_LEN], g2[GEM_KEYS_GROUP_LEN];
	char label[GEM_KEYS_LABEL_MAX + 1], gs[GEM_KEYS_GROUP_STRLEN];
	struct gem_keys *k = NULL;
	uint32_t left[8];
	int ret, n;

	(void)g2;
	if (argc != 3 || strcmp(argv[1], "gak") != 0 || !c->have_epoch) {
		gemctl_err(&c->o, "usage: gemctl keys retire gak GROUP --epoch N");
		return 2;
	}
	if (gem_keys_group_parse(argv[2], grp))
		return fail(c);
	if (c->sock || c->conf)
		return via_gemd(c, "retire", argv[2], NULL);
	gem_keys_gak_label(grp, c->epoch, label);
	gem_keys_group_str(grp, gs);
	ret = open_token(c, &k);
	if (ret)
		goto out;
	if (gem_keys_gak_retire(k, grp, c->epoch)) {
		ret = fail(c);
		goto out;
	}
	n = gem_keys_gak_epochs(k, grp, left, sizeof(left) / sizeof(left[0]));
	if (c->o.json) {
		json_object *j = json_object_new_object(), *arr = json_object_new_array();

		json_label(j, "token", gem_keys_token_label(k));
		json_label(j, "label", label);
		gem_json_str(j, "group", gs);
		gem_json_u64(j, "epoch", c->epoch);
		for (int i = 0; i < n && i < 8; i++)
			gemctl_json_append(arr, json_object_new_uint64(left[i]));
		if (j && arr && n >= 0)
			json_object_object_add(j, "epochs_left", arr);
		else
			json_object_put(arr);
		ret = gemctl_json(&c->o, j);
		goto out;
	}
	printf("token '%s': retired the GAK of group %s epoch %u ('%s' destroyed)", 
	       gem_keys_token_label(k), gs, c->epoch, label);
	if (n == 0)
		printf("; no GAK of %s left: this node is no member any more\n", gs);
	else if (n > 0)
		printf("; %d epoch%s left\n", n, n == 1 ? "" : "s");
	else
		putchar('\n');
	ret = 0;
out:
	gem_keys_close(k);
	return ret;
}

static int do_gen_secret(struct kctx *c, int argc, char **argv)
{
	if (argc != 2) {
		gemctl_err(&c->o, "usage: gemctl keys gen-secret FILE");
		return 2;
	}
	if (gem_keys_gen_secret_file(argv[1]))
		return fail(c);
	if (c->o.json) {
		json_object *j = json_object_new_object();

		gem_json_str(j, "file", argv[1]);
		gem_json_u64(j, "bytes", GEM_KEYS_ROOT_LEN);
		gem_json_str(j, "mode", "0600");
		return gemctl_json(&c->o, j);
	} else {
		printf("wrote %d random bytes to '%s' (mode 0600)\n", GEM_KEYS_ROOT_LEN, argv[1]);
	}
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct kctx *c, int argc, char **argv);
} subs[] = {
	{ "init", do_init },
	{ "import", do_import },
	{ "retire", do_retire },
	{ "list", do_list },
	{ "pubkey", do_pubkey },
	{ "gen-secret", do_gen_secret },
};

static const struct option lo[] = {
	{ "module", required_argument, NULL, 'm' },
	{ "token", required_argument, NULL, 't' },
	{ "pin-file", required_argument, NULL, 'F' },
	{ "json", no_argument, NULL, 'j' },
	{ "pretty", no_argument, NULL, 'p' },
	{ "epoch", required_argument, NULL, 'e' },
	{ "socket", required_argument, NULL, 's' },
	{ "config", required_argument, NULL, 'c' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 }
};

/* getopt_long takes unambiguous abbreviations: "--pin 1234" would become
 * --pin-file and echo the PIN in "cannot read PIN file '1234'".  Accept
 * exact long names only, and never repeat an unknown option's value. */
static bool exact_long_options(const struct kctx *c, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		size_t len;
		bool ok = false;

		if (!strcmp(a, "--"))
			return true;
		if (strncmp(a, "--", 2) != 0)
			continue;
		len = strcspn(a + 2, "=");
		for (const struct option *p = lo; p->name; p++)
			if (strlen(p->name) == len && !strncmp(p->name, a + 2, len))
				ok = true;
		if (!ok) {
			if (!strncmp(a, "--pin", 5) && len <= 3)
				gemctl_err(&c->o, "keys: the PIN is never given on the command "
					   "line: use --pin-file FILE, or set "
					   GEM_KEYS_ENV_PIN_FILE " or " GEM_KEYS_ENV_PIN);
			else
				gemctl_err(&c->o, "keys: unknown option '%.*s' (see gemctl keys "
					   "--help)", (int)len + 2, a);
			return false;
		}
	}
	return true;
}

int cmd_keys(int argc, char **argv, const struct gemctl_opts *o)
{
	struct kctx c = { .o = *o, .cfg = { .lock_wait_ms = LOCK_WAIT_MS } };
	int ch;

	if (!exact_long_options(&c, argc, argv))
		return 2;
	optind = 0;	/* glibc: full re-initialisation after main's getopt */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":jph", lo, NULL)) != -1) {
		switch (ch) {
		case 'm': c.cfg.module = optarg; break;
		case 't': c.cfg.token = optarg; break;
		case 'F': c.cfg.pin_file = optarg; break;
		case 's': c.sock = optarg; break;
		case 'c': c.conf = optarg; break;
		case 'j': c.o.json = true; break;
		case 'p': c.o.json = c.o.pretty = true; break;
		case 'e': {
			char *end;
			unsigned long e;

			errno = 0;
			e = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || *optarg == '-' || e > UINT32_MAX) {
				gemctl_err(&c.o, "keys: epoch '%s' is not a number 0..4294967295",
					   optarg);
				return 2;
			}
			c.epoch = (uint32_t)e;
			c.have_epoch = true;
			break;
		}
		case 'h': usage(stdout); return 0;
		case ':':
			gemctl_err(&c.o, "keys: option '%s' needs an argument", argv[optind - 1]);
			return 2;
		default:
			if (optopt)
				gemctl_err(&c.o, "keys: unknown option '-%c' (see gemctl keys --help)",
					   optopt);
			else
				gemctl_err(&c.o, "keys: unknown option (see gemctl keys --help)");
			return 2;
		}
	}
	if (optind >= argc) {
		if (c.o.json)
			gemctl_err(&c.o, "keys: missing command (see gemctl keys --help)");
		else
			usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(argv[optind], subs[i].name))
			return subs[i].fn(&c, argc - optind, argv + optind);
	gemctl_err(&c.o, "keys: unknown command '%s' (see gemctl keys --help)", argv[optind]);
	return 2;
}
