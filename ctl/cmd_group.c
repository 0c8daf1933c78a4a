// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* gemctl group: protected groups (add, del, list). */
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
#include "ctl/rekey.h"

/* ---- group ------------------------------------------------------------------ */

/* Each synopsis once: in --help and in the usage error alike. */
#define ADD_USAGE "gemctl group add GROUP --suite hmac-sha256|cmac|poly1305|chacha20-poly1305\n" \
		  "                        (--key-file GAK_FILE | --hsm)\n" \
		  "                        [--epoch N] [--module PATH] [--token LABEL] [--pin-file FILE]"
#define DEL_USAGE "gemctl group del GROUP"

static void group_usage(FILE *f)
{
	fprintf(f,
		"usage: " ADD_USAGE "\n"
		"       " DEL_USAGE "\n"
		"       gemctl [-j] group list\n"
		"       " GEMCTL_REKEY_USAGE "\n"
		"       " GEMCTL_EPOCHS_USAGE "\n"
		"\n"
		"GAK_FILE holds the group's 32-byte Group Authorization Key; the data-plane MAC\n"
		"key is derived from it as docs/KEYS.md says (dp-hmac / dp-cmac, epoch N).\n"
		"--hsm derives it inside the token holding the GAK of epoch N (gemctl keys\n"
		"import gak GROUP FILE --epoch N).\n"
		"poly1305 (suite 3) keys its MAC per packet from the stream's SEK: no group key.\n"
		"chacha20-poly1305 (suite 4, RFC 8439 AEAD) neither; its streams take 32-byte SEKs.\n");
}

static int group_add(int argc, char **argv, const struct gemctl_opts *o)
{
	static const struct option lo[] = {
		{ "suite", required_argument, NULL, 's' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "hsm", no_argument, NULL, 'H' },
		{ "epoch", required_argument, NULL, 'e' },
		{ "module", required_argument, NULL, 'M' },
		{ "token", required_argument, NULL, 'T' },
		{ "pin-file", required_argument, NULL, 'F' },
		{ 0 }
	};
	struct gem_keys_cfg cfg = { 0 };
	const char *key_file = NULL;
	uint8_t *gak = NULL, *key = NULL;
	struct gem_keys *k = NULL;
	struct gem_pins p = GEM_PINS_NONE;
	struct gem_addr g;
	unsigned long epoch = 0;
	int c, suite = -1, hsm = 0, fam, r = 1;
	size_t klen;
	char *end, gs[GEM_ADDR_STRLEN];

	optind = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			suite = gem_suite_parse(optarg);
			if (suite < 0) {
				gemctl_err(o, "unknown suite '%s' (hmac-sha256, cmac, poly1305 or "
					   "chacha20-poly1305)", optarg);
				return 2;
			}
			break;
		case 'k': key_file = optarg; break;
		case 'H': hsm = 1; break;
		case 'e':
			errno = 0;
			epoch = strtoul(optarg, &end, 0);
			if (errno || *end || epoch > UINT32_MAX) {
				gemctl_err(o, "epoch '%s' is not a number 0..4294967295", optarg);
				return 2;
			}
			break;
		case 'M': cfg.module = optarg; break;
		case 'T': cfg.token = optarg; break;
		case 'F': cfg.pin_file = optarg; break;
		default:
			if (o->json)
				gemctl_err(o, "bad option (see gemctl group --help)");
			else
				group_usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || suite < 0 || (key_file && hsm) ||
	    (gem_suite_key_len((unsigned)suite) && !key_file && !hsm)) {
		gemctl_err(o, "usage: " ADD_USAGE " (poly1305 and chacha20-poly1305 need no key)");
		return 2;
	}
	if (dp_parse_group(o, argv[optind], &g, &fam))
		return 2;
	klen = gem_suite_key_len((unsigned)suite);
	gak = sodium_malloc(32);
	key = sodium_malloc(32);
	if (!gak || !key) {
		gemctl_err(o, "cannot allocate locked memory");
		goto out;
	}
	/* everything checked before the kernel is touched: a failure changes nothing */
	if (dp_open_pins(o, &p))
		goto out;
	if (!klen) {
		/* suites 3, 4: the MAC key comes from each packet's keystream */
	} else if (key_file) {
		if (gem_keys_read_secret_file(key_file, gak) ||
		    gem_keys_dp_key_from_gak(gak, g.a, (uint32_t)epoch, (unsigned)suite, key, klen)) {
			gemctl_err(o, "group %s: %s", argv[optind], gem_keys_errmsg());
			goto out;
		}
	} else if (hsm) {
		cfg.lock_wait_ms = 2000;
		if (gem_keys_open(&k, &cfg) ||
		    gem_keys_dp_key(k, g.a, (uint32_t)epoch, (unsigned)suite, key, klen)) {
			gemctl_err(o, "group %s: %s", argv[optind], gem_keys_errmsg());
			goto out;
		}
	}
	/* a kernel without the crypto kfuncs offers suite 4 only */
	r = gem_dp_suites(p.ctl);
	if (r > 0 && !(r & (1 << suite))) {
		gemctl_err(o, "group %s: suite %s needs the kernel's BPF crypto kfuncs (Linux >= "
			   "6.10), which this kernel lacks (gem-load status lists the suites it "
			   "offers: chacha20-poly1305)", argv[optind], dp_suite_name((unsigned)suite));
		r = 1;
		goto out;
	}
	r = gem_dp_set_group(p.ctl, &g, (unsigned)suite, key, klen);
	if (r) {
		gemctl_err(o, "group %s: loading the key failed: %s", argv[optind], strerror(-r));
		r = 1;
		goto out;
	}
	if (o->json) {
		json_object *j = json_object_new_object();

		gem_json_str(j, "group", gem_addr_str(&g, gs));
		gem_json_str(j, "suite", dp_suite_name((unsigned)suite));
		gem_json_u64(j, "epoch", epoch);
		gem_json_str(j, "mac_key", !klen ? "per-packet" : hsm ? "hsm" : "key-file");
		r = gemctl_json(o, j);
		goto out;
	} else
		printf("group %s: protected, suite %s, key epoch %lu (%s)\n", argv[optind],
		       dp_suite_name((unsigned)suite), epoch, !klen ? "MAC keyed per packet by the SEK" :
		       hsm ? "derived in the HSM" : "static key file");
	r = 0;
out:
	gem_keys_close(k);
	sodium_free(gak);
	sodium_free(key);
	gem_pins_close(&p);
	return r;
}

static int group_del(int argc, char **argv, const struct gemctl_opts *o)
{
	struct gem_pins p;
	struct gem_addr g;
	int fam, r;

	if (argc != 2) {
		gemctl_err(o, "usage: " DEL_USAGE);
		return 2;
	}
	if (dp_parse_group(o, argv[1], &g, &fam))
		return 2;
	if (dp_open_pins(o, &p))
		return 1;
	/* through gem_ctl, which keeps the data plane's group filter */
	r = gem_dp_del_group(p.ctl, &g);
	gem_pins_close(&p);
	if (r == -ENOENT) {
		gemctl_err(o, "group %s is not protected (see gemctl group list)", argv[1]);
		return 1;
	}
	if (r) {
		gemctl_err(o, "group %s: %s", argv[1], strerror(-r));
		return 1;
	}
	if (o->json) {
		json_object *j = json_object_new_object();
		char gs[GEM_ADDR_STRLEN];

		gem_json_str(j, "group", gem_addr_str(&g, gs));
		gem_json_bool(j, "removed", true);
		return gemctl_json(o, j);
	}
	printf("group %s: removed (its traffic now passes in clear)\n", argv[1]);
	return 0;
}

static int group_list(const struct gemctl_opts *o)
{
	struct gem_addr k, *prev = NULL, next;
	struct gem_group v;
	struct gem_pins p;
	char b[GEM_ADDR_STRLEN];
	json_object *j = NULL, *arr = NULL;

	if (dp_open_pins(o, &p))
		return 1;
	if (o->json) {
		j = gemctl_json_list("groups", &arr);
	} else {
		printf("%-40s %s\n", "group", "suite");
	}
	while (bpf_map_get_next_key(p.groups, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(p.groups, &k, &v))
			continue;
		if (o->json) {
			json_object *e = json_object_new_object();

			gem_json_str(e, "group", gem_addr_str(&k, b));
			gem_json_str(e, "suite", dp_suite_name(v.suite));
			gemctl_json_append(arr, e);
		} else {
			printf("%-40s %s\n", gem_addr_str(&k, b), dp_suite_name(v.suite));
		}
	}
	sodium_memzero(&v, sizeof(v));
	gem_pins_close(&p);
	if (o->json)
		return gemctl_json(o, j);
	return 0;
}

int cmd_group(int argc, char **argv, const struct gemctl_opts *o)
{
	if (argc < 2 && o->json) {
		gemctl_err(o, "usage: gemctl group add|del|list ... (see gemctl group --help)");
		return 2;
	}
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		group_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "add"))
		return group_add(argc - 1, argv + 1, o);
	if (!strcmp(argv[1], "del"))
		return group_del(argc - 1, argv + 1, o);
	if (!strcmp(argv[1], "list"))
		return group_list(o);
	if (!strcmp(argv[1], "rekey"))
		return cmd_group_rekey(argc - 1, argv + 1, o);
	if (!strcmp(argv[1], "epochs"))
		return cmd_group_epochs(argc - 1, argv + 1, o);
	gemctl_err(o, "unknown group command '%s' (add, del, list, rekey, epochs)", argv[1]);
	return 2;
}
