// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* gemctl sek: stream encryption keys (set, del). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "gem_addr.h"
#include "gem_dp.h"
#include "keys/gem_keys.h"
#include "gem_pin.h"

#include "dp.h"

/* ---- sek -------------------------------------------------------------------- */

/* Each synopsis once: in --help and in the usage error alike. */
#define SET_USAGE "gemctl sek set SOURCE GROUP --key-id N --key-file FILE --dir tx|rx"
#define DEL_USAGE "gemctl sek del SOURCE GROUP [--dir tx|rx]"

static void sek_usage(FILE *f)
{
	fprintf(f,
		"usage: " SET_USAGE "\n"
		"       " DEL_USAGE "\n"
		"\n"
		"FILE holds the stream's SEK: 16 bytes (32 for a chacha20-poly1305 group).\n"
		"tx: this node seals (SOURCE, GROUP) with it; the key id must differ from the current one; a new stream's packet numbers start\n"
		"at the clock.  rx: this node opens the stream; the two newest key ids (in key-id\n"
		"order) stay valid, so a rotation loses no packet.  Loading a held rx key id again\n"
		"with the same SEK changes nothing (its replay window is kept); with another SEK\n"
		"it is refused.\n");
}

static int parse_dir(const struct gemctl_opts *o, const char *s)
{
	if (!strcmp(s, "tx"))
		return 1;
	if (!strcmp(s, "rx"))
		return 0;
	gemctl_err(o, "direction '%s': tx or rx", s);
	return -1;
}

static int sek_set(int argc, char **argv, const struct gemctl_opts *o)
{
	static const struct option lo[] = {
		{ "key-id", required_argument, NULL, 'i' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "dir", required_argument, NULL, 'd' },
		{ 0 }
	};
	struct gem_pins p = GEM_PINS_NONE;
	struct gem_group gv;
	const char *file = NULL;
	struct gem_sg sg;
	long kid = -1;
	int c, dir = -1, r = 1;
	uint8_t *sek = NULL;
	size_t sek_len;
	char *end;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'i':
			errno = 0;
			kid = strtol(optarg, &end, 0);
			if (errno || *end || kid < 0 || kid > 0xffff) {
				gemctl_err(o, "key id '%s' is not a number 0..65535", optarg);
				return 2;
			}
			break;
		case 'k': file = optarg; break;
		case 'd':
			dir = parse_dir(o, optarg);
			if (dir < 0)
				return 2;
			break;
		default:
			if (o->json)
				gemctl_err(o, "bad option (see gemctl sek --help)");
			else
				sek_usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 2 || kid < 0 || !file || dir < 0) {
		gemctl_err(o, "usage: " SET_USAGE);
		return 2;
	}
	if (dp_parse_sg(o, argv[optind], argv[optind + 1], &sg))
		return 2;
	sek = sodium_malloc(GEM_SEK_MAX_LEN);
	if (!sek) {
		gemctl_err(o, "cannot allocate locked memory");
		return 1;
	}
	if (dp_open_pins(o, &p))
		goto out;
	if (bpf_map_lookup_elem(p.groups, &sg.grp, &gv)) {
		gemctl_err(o, "group %s is not protected here (run: gemctl group add %s ... first)",
			   argv[optind + 1], argv[optind + 1]);
		goto out;
	}
	if (gv.flags & GEM_GROUP_F_TRANSIT) {
		sodium_memzero(&gv, sizeof(gv));
		gemctl_err(o, "group %s is transit here (no key: its packets are relayed sealed); "
			   "load it with its key first (gemctl group add %s --suite ...)",
			   argv[optind + 1], argv[optind + 1]);
		goto out;
	}
	/* the group's suite fixes the SEK's length: 32 bytes for suite 4 */
	sek_len = gem_suite_sek_len(gv.suite);
	sodium_memzero(&gv, sizeof(gv));
	if (!sek_len || gem_keys_read_key_file(file, sek, sek_len)) {
		gemctl_err(o, "%s", sek_len ? gem_keys_errmsg() : "the group's suite is unknown");
		goto out;
	}
	r = gem_dp_set_sek_len(p.ctl, &sg, dir, (uint16_t)kid, sek, sek_len);
	if (r == -EEXIST && dir)
		gemctl_err(o, "stream %s -> %s: key id %ld is already the current tx key; "
			   "a new SEK needs a new key id", argv[optind], argv[optind + 1], kid);
	else if (r == -EEXIST)
		gemctl_err(o, "stream %s -> %s: rx key id %ld is loaded with another SEK; nothing "
			   "changed (a new SEK needs a new key id, or delete the stream first: "
			   "gemctl sek del %s %s --dir rx)", argv[optind], argv[optind + 1], kid,
			   argv[optind], argv[optind + 1]);
	else if (r == -ESTALE)
		gemctl_err(o, "stream %s -> %s: rx key id %ld is older than both key ids held "
			   "(see gemctl stream list); not loaded", argv[optind], argv[optind + 1], kid);
	else if (r == -ERANGE)
		gemctl_err(o, "stream %s -> %s: the system clock is before 2020: a new stream's "
			   "packet numbers start at the clock (docs/PROTOCOL.md 4); set the clock first",
			   argv[optind], argv[optind + 1]);
	if (r == -EEXIST || r == -ESTALE || r == -ERANGE) {
		r = 1;
		goto out;
	}
	if (r) {
		gemctl_err(o, "stream %s -> %s: loading the SEK failed: %s", argv[optind],
			   argv[optind + 1], strerror(-r));
		r = 1;
		goto out;
	}
	if (o->json) {
		json_object *j = dp_sg_json(&sg);

		gem_json_str(j, "dir", dir ? "tx" : "rx");
		gem_json_u64(j, "key_id", (uint64_t)kid);
		r = gemctl_json(o, j);
		goto out;
	}
	printf("stream %s -> %s: %s key id %ld loaded\n", argv[optind], argv[optind + 1],
		       dir ? "tx" : "rx", kid);
	r = 0;
out:
	sodium_free(sek);
	gem_pins_close(&p);
	return r;
}

static int sek_del(int argc, char **argv, const struct gemctl_opts *o)
{
	static const struct option lo[] = { { "dir", required_argument, NULL, 'd' }, { 0 } };
	struct gem_pins p;
	struct gem_sg sg;
	int c, dir = -1, found = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c != 'd') {
			gemctl_err(o, "usage: " DEL_USAGE);
			return 2;
		}
		if ((dir = parse_dir(o, optarg)) < 0)
			return 2;
	}
	if (optind != argc - 2) {
		gemctl_err(o, "usage: " DEL_USAGE);
		return 2;
	}
	if (dp_parse_sg(o, argv[optind], argv[optind + 1], &sg))
		return 2;
	if (dp_open_pins(o, &p))
		return 1;
	if (dir != 0 && !bpf_map_delete_elem(p.tx, &sg))
		found |= 1;
	if (dir != 1 && !bpf_map_delete_elem(p.rx, &sg))
		found |= 2;
	gem_pins_close(&p);
	if (!found) {
		gemctl_err(o, "stream %s -> %s has no such key", argv[optind], argv[optind + 1]);
		return 1;
	}
	if (o->json) {
		json_object *j = dp_sg_json(&sg), *arr = json_object_new_array();

		if (found & 1)
			gemctl_json_append(arr, json_object_new_string("tx"));
		if (found & 2)
			gemctl_json_append(arr, json_object_new_string("rx"));
		if (j && arr)
			json_object_object_add(j, "removed", arr);
		else
			json_object_put(arr);
		return gemctl_json(o, arr ? j : (json_object_put(j), NULL));
	}
	printf("stream %s -> %s: keys removed\n", argv[optind], argv[optind + 1]);
	return 0;
}

int cmd_sek(int argc, char **argv, const struct gemctl_opts *o)
{
	if (argc < 2 && o->json) {
		gemctl_err(o, "usage: gemctl sek set|del ... (see gemctl sek --help)");
		return 2;
	}
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		sek_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "set"))
		return sek_set(argc - 1, argv + 1, o);
	if (!strcmp(argv[1], "del"))
		return sek_del(argc - 1, argv + 1, o);
	gemctl_err(o, "unknown sek command '%s' (set, del)", argv[1]);
	return 2;
}
