// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* gemctl group: protected groups (add, del, list, show) and their MAC keys'
 * GAK epochs (key). */
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
#define TRANSIT_USAGE "gemctl group add GROUP --transit [--suite SUITE]"
#define DEL_USAGE "gemctl group del GROUP"
#define KEY_USAGE "gemctl group key GROUP (--key-file GAK_FILE | --hsm) --epoch N\n" \
		  "                        [--module PATH] [--token LABEL] [--pin-file FILE]\n" \
		  "       gemctl group key GROUP --use N\n" \
		  "       gemctl group key GROUP --retire N"
#define SHOW_USAGE "gemctl group show GROUP"

static void group_usage(FILE *f)
{
	fprintf(f,
		"usage: " ADD_USAGE "\n"
		"       " TRANSIT_USAGE "\n"
		"       " DEL_USAGE "\n"
		"       " KEY_USAGE "\n"
		"       gemctl [-j] group list\n"
		"       " SHOW_USAGE "\n"
		"       " GEMCTL_REKEY_USAGE "\n"
		"       " GEMCTL_EPOCHS_USAGE "\n"
		"\n"
		"GAK_FILE holds the group's 32-byte Group Authorization Key; the data-plane MAC\n"
		"key is derived from it as docs/KEYS.md says (dp-hmac / dp-cmac, epoch N).\n"
		"--hsm derives it inside the token holding the GAK of epoch N (gemctl keys\n"
		"import gak GROUP FILE --epoch N).\n"
		"poly1305 (suite 3) keys its MAC per packet from the stream's SEK: no group key.\n"
		"chacha20-poly1305 (suite 4, RFC 8439 AEAD) neither; its streams take 32-byte SEKs.\n"
		"\n"
		"A suite 1/2 group holds at most two MAC keys, each of a GAK epoch: the tx key\n"
		"(egress MACs under it; ingress tries it first) and, while the group moves to a\n"
		"new epoch, one more that ingress also accepts.  add: epoch N becomes the only\n"
		"key.  Moving from epoch N to N+1 with no packet lost (docs/PROTOCOL.md 5):\n"
		"  gemctl group key GROUP --key-file GAK_N+1 --epoch N+1   (every member: accept)\n"
		"  gemctl group key GROUP --use N+1                        (send under N+1)\n"
		"  gemctl group key GROUP --retire N                       (once no sender uses N)\n"
		"show and list print each group's tx and accepted epochs.\n"
		"--transit: the group is protected but this node holds no key for it: its sealed\n"
		"packets are relayed as they are and never delivered to a LAN (interfaces\n"
		"attached with gem-load attach DEV --role lan drop them); --suite, if given,\n"
		"is checked on every packet relayed.  list/show say transit.\n");
}

static int parse_epoch(const struct gemctl_opts *o, const char *text, unsigned long *epoch)
{
	char *end;

	errno = 0;
	*epoch = strtoul(text, &end, 0);
	if (errno || !*text || *end || text[0] == '-' || *epoch > UINT32_MAX) {
		gemctl_err(o, "epoch '%s' is not a number 0..4294967295", text);
		return -1;
	}
	return 0;
}

/* The data-plane MAC key of (group, suite, epoch) into key: from the GAK in
 * key_file, or (key_file NULL) derived in the token of cfg.  0 or -1
 * (reported).  gak: 32 bytes of locked scratch. */
static int derive_key(const struct gemctl_opts *o, const char *name, const struct gem_addr *g,
		      unsigned suite, uint32_t epoch, const char *key_file,
		      const struct gem_keys_cfg *cfg, uint8_t *gak, uint8_t *key)
{
	size_t klen = gem_suite_key_len(suite);
	struct gem_keys *k = NULL;
	int r = 0;

	if (key_file) {
		if (gem_keys_read_secret_file(key_file, gak) ||
		    gem_keys_dp_key_from_gak(gak, g->a, epoch, suite, key, klen))
			r = -1;
		sodium_memzero(gak, 32);
	} else if (gem_keys_open(&k, cfg) || gem_keys_dp_key(k, g->a, epoch, suite, key, klen)) {
		r = -1;
	}
	if (r)
		gemctl_err(o, "group %s: %s", name, gem_keys_errmsg());
	gem_keys_close(k);
	return r;
}

/* gemctl group add GROUP --transit [--suite S]: no key (GEM_GROUP_F_TRANSIT). */
static int group_add_transit(const struct gemctl_opts *o, int argc, char **argv, int suite,
			     int keyed)
{
	struct gem_pins p;
	struct gem_addr g;
	char gs[GEM_ADDR_STRLEN];
	int fam, r;

	if (optind != argc - 1 || keyed) {
		gemctl_err(o, "usage: " TRANSIT_USAGE " (a transit group has no key: no "
			   "--key-file, --hsm, --epoch)");
		return 2;
	}
	if (dp_parse_group(o, argv[optind], &g, &fam))
		return 2;
	if (dp_open_pins(o, &p))
		return 1;
	r = gem_dp_set_group_transit(p.ctl, &g, suite < 0 ? 0 : (unsigned)suite);
	gem_pins_close(&p);
	if (r) {
		gemctl_err(o, "group %s: loading it as transit failed: %s%s", argv[optind],
			   strerror(-r), r == -EINVAL ? " (data plane older than transit groups?)" : "");
		return 1;
	}
	if (o->json) {
		json_object *j = json_object_new_object();

		gem_json_str(j, "group", gem_addr_str(&g, gs));
		gem_json_str(j, "suite", suite < 0 ? "any" : dp_suite_name((unsigned)suite));
		gem_json_bool(j, "transit", true);
		return gemctl_json(o, j);
	}
	printf("group %s: transit, suite %s (no key here: sealed packets relayed, never "
	       "delivered to a LAN)\n", argv[optind], suite < 0 ? "any" : dp_suite_name((unsigned)suite));
	return 0;
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
		{ "transit", no_argument, NULL, 't' },
		{ 0 }
	};
	struct gem_keys_cfg cfg = { 0 };
	const char *key_file = NULL;
	uint8_t *gak = NULL, *key = NULL;
	struct gem_pins p = GEM_PINS_NONE;
	struct gem_addr g;
	unsigned long epoch = 0;
	int c, suite = -1, hsm = 0, fam, r = 1, transit = 0, epoch_set = 0;
	size_t klen;
	char gs[GEM_ADDR_STRLEN];

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
		case 't': transit = 1; break;
		case 'H': hsm = 1; break;
		case 'e':
			if (parse_epoch(o, optarg, &epoch))
				return 2;
			epoch_set = 1;
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
	if (transit)
		return group_add_transit(o, argc, argv, suite, key_file || hsm || epoch_set);
	cfg.lock_wait_ms = 2000;
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
	if (klen && derive_key(o, argv[optind], &g, (unsigned)suite, (uint32_t)epoch, key_file,
			       &cfg, gak, key))
		goto out;
	/* a kernel without the crypto kfuncs offers suite 4 only */
	r = gem_dp_suites(p.ctl);
	if (r > 0 && !(r & (1 << suite))) {
		gemctl_err(o, "group %s: suite %s needs the kernel's BPF crypto kfuncs (Linux >= "
			   "6.10), which this kernel lacks (gem-load status lists the suites it "
			   "offers: chacha20-poly1305)", argv[optind], dp_suite_name((unsigned)suite));
		r = 1;
		goto out;
	}
	r = gem_dp_set_group_epoch(p.ctl, &g, (unsigned)suite, (uint32_t)epoch, key, klen);
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

/* `gemctl group key`: load an accepted key of an epoch, switch the tx key,
 * retire a key (lib/gem_dp.h gem_dp_group_key/use/retire). */
static int group_key(int argc, char **argv, const struct gemctl_opts *o)
{
	static const struct option lo[] = {
		{ "key-file", required_argument, NULL, 'k' },
		{ "hsm", no_argument, NULL, 'H' },
		{ "epoch", required_argument, NULL, 'e' },
		{ "use", required_argument, NULL, 'u' },
		{ "retire", required_argument, NULL, 'r' },
		{ "module", required_argument, NULL, 'M' },
		{ "token", required_argument, NULL, 'T' },
		{ "pin-file", required_argument, NULL, 'F' },
		{ 0 }
	};
	enum { K_NONE, K_LOAD, K_USE, K_RETIRE } what = K_NONE;
	struct gem_keys_cfg cfg = { .lock_wait_ms = 2000 };
	struct gem_pins p = GEM_PINS_NONE;
	const char *key_file = NULL, *verb;
	uint8_t *gak = NULL, *key = NULL;
	unsigned long epoch = 0;
	struct gem_group v;
	struct gem_addr g;
	int c, hsm = 0, fam, r = 1, nact = 0, have_epoch = 0;
	unsigned suite;
	size_t klen;
	char gs[GEM_ADDR_STRLEN];

	optind = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'k': key_file = optarg; break;
		case 'H': hsm = 1; break;
		case 'e':
		case 'u':
		case 'r':
			if (parse_epoch(o, optarg, &epoch))
				return 2;
			if (c == 'e')
				have_epoch = 1;
			else
				what = c == 'u' ? K_USE : K_RETIRE;
			nact++;
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
	if (have_epoch)
		what = K_LOAD;
	if (optind != argc - 1 || nact != 1 ||
	    (what == K_LOAD && !key_file == !hsm) ||
	    (what != K_LOAD && (key_file || hsm || cfg.module || cfg.token || cfg.pin_file))) {
		gemctl_err(o, "usage: " KEY_USAGE " (exactly one of --epoch, --use, --retire; "
			   "--epoch with one of --key-file, --hsm)");
		return 2;
	}
	if (dp_parse_group(o, argv[optind], &g, &fam))
		return 2;
	if (dp_open_pins(o, &p))
		return 1;
	if (bpf_map_lookup_elem(p.groups, &g, &v)) {
		gemctl_err(o, "group %s is not protected (gemctl group add first)", argv[optind]);
		goto out;
	}
	suite = v.suite;
	klen = gem_suite_key_len(suite);
	if (!klen) {
		gemctl_err(o, "group %s: suite %s has no group MAC key (its MAC is keyed per "
			   "packet): nothing to change", argv[optind], dp_suite_name(suite));
		goto out;
	}
	if (what == K_LOAD) {
		gak = sodium_malloc(32);
		key = sodium_malloc(32);
		if (!gak || !key) {
			gemctl_err(o, "cannot allocate locked memory");
			goto out;
		}
		if (derive_key(o, argv[optind], &g, suite, (uint32_t)epoch, key_file, &cfg,
			       gak, key))
			goto out;
		r = gem_dp_group_key(p.ctl, &g, (uint32_t)epoch, suite, key, klen);
		verb = "load";
	} else if (what == K_USE) {
		r = gem_dp_group_use(p.ctl, &g, (uint32_t)epoch);
		verb = "use";
	} else {
		r = gem_dp_group_retire(p.ctl, &g, (uint32_t)epoch);
		verb = "retire";
	}
	if (r) {
		struct gem_dp_group_slots sl;
		const char *why = strerror(-r);
		char buf[160];

		memset(&v, 0, sizeof(v));
		bpf_map_lookup_elem(p.groups, &g, &v);
		gem_dp_group_slots(&v, &sl);
		if (r == -EEXIST) {
			why = "it is the tx key's epoch already";
		} else if (r == -ENOSPC) {
			snprintf(buf, sizeof(buf), "the group accepts epoch %u besides its tx key "
				 "%u already (retire one first: --retire)", sl.other_epoch,
				 sl.tx_epoch);
			why = buf;
		} else if (r == -ENOENT) {
			why = "the group holds no key of that epoch (load it: --epoch N with "
			      "--key-file or --hsm)";
		} else if (r == -EPERM) {
			why = "it is the tx key (switch to another epoch first: --use)";
		}
		gemctl_err(o, "group %s: cannot %s the key of epoch %lu: %s", argv[optind], verb,
			   epoch, why);
		r = 1;
		goto out;
	}
	if (o->json) {
		json_object *j = json_object_new_object();

		gem_json_str(j, "group", gem_addr_str(&g, gs));
		gem_json_u64(j, "epoch", epoch);
		gem_json_str(j, "action", what == K_LOAD ? "accept" : what == K_USE ? "use"
							: "retire");
		r = gemctl_json(o, j);
		goto out;
	}
	if (what == K_LOAD)
		printf("group %s: key of epoch %lu loaded (%s), accepted at ingress; send under "
		       "it with: gemctl group key %s --use %lu\n", argv[optind], epoch,
		       hsm ? "derived in the HSM" : "static key file", argv[optind], epoch);
	else if (what == K_USE)
		printf("group %s: egress MACs under the key of epoch %lu\n", argv[optind], epoch);
	else
		printf("group %s: key of epoch %lu retired (its packets now fail: rx_bad_tag)\n",
		       argv[optind], epoch);
	r = 0;
out:
	sodium_free(gak);
	sodium_free(key);
	sodium_memzero(&v, sizeof(v));
	gem_pins_close(&p);
	return r;
}

/* One group's row: JSON object or text. */
static void group_row(const struct gem_addr *k, const struct gem_group *v, json_object *arr,
		      int text_detail)
{
	struct gem_dp_group_slots sl;
	char b[GEM_ADDR_STRLEN], te[12] = "-", ae[12] = "-";

	gem_dp_group_slots(v, &sl);
	if (arr) {
		json_object *e = json_object_new_object();

		gem_json_str(e, "group", gem_addr_str(k, b));
		gem_json_str(e, "suite", v->suite ? dp_suite_name(v->suite) : "any");
		gem_json_bool(e, "transit", (v->flags & GEM_GROUP_F_TRANSIT) != 0);
		if (sl.has_tx)
			gem_json_u64(e, "tx_epoch", sl.tx_epoch);
		else
			gem_json_null(e, "tx_epoch");
		if (sl.has_other)
			gem_json_u64(e, "accept_epoch", sl.other_epoch);
		else
			gem_json_null(e, "accept_epoch");
		gemctl_json_append(arr, e);
		return;
	}
	if (sl.has_tx)
		snprintf(te, sizeof(te), "%u", sl.tx_epoch);
	if (sl.has_other)
		snprintf(ae, sizeof(ae), "%u", sl.other_epoch);
	if (v->flags & GEM_GROUP_F_TRANSIT)
		snprintf(te, sizeof(te), "transit");
	if (!text_detail) {
		printf("%-40s %-18s %-10s %s\n", gem_addr_str(k, b),
		       v->suite ? dp_suite_name(v->suite) : "any", te, ae);
		return;
	}
	printf("group %s: suite %s\n", gem_addr_str(k, b), v->suite ? dp_suite_name(v->suite) : "any");
	if (v->flags & GEM_GROUP_F_TRANSIT) {
		printf("  transit: no key here; its sealed packets are relayed, never delivered to "
		       "a LAN\n");
		return;
	}
	if (!sl.has_tx) {
		printf("  no group MAC key (the MAC is keyed per packet by the SEK)\n");
		return;
	}
	printf("  key epoch %u: tx (egress MACs under it, ingress tries it first)\n", sl.tx_epoch);
	if (sl.has_other)
		printf("  key epoch %u: accepted (ingress tries it when the tx key fails)\n",
		       sl.other_epoch);
}

static int group_list(const struct gemctl_opts *o)
{
	struct gem_addr k, *prev = NULL, next;
	struct gem_group v;
	struct gem_pins p;
	json_object *j = NULL, *arr = NULL;

	if (dp_open_pins(o, &p))
		return 1;
	if (o->json)
		j = gemctl_json_list("groups", &arr);
	else
		printf("%-40s %-18s %-10s %s\n", "group", "suite", "tx-epoch", "accept-epoch");
	while (bpf_map_get_next_key(p.groups, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(p.groups, &k, &v))
			continue;
		group_row(&k, &v, arr, 0);
	}
	sodium_memzero(&v, sizeof(v));
	gem_pins_close(&p);
	if (o->json)
		return gemctl_json(o, j);
	return 0;
}

static int group_show(int argc, char **argv, const struct gemctl_opts *o)
{
	struct gem_group v;
	struct gem_pins p;
	struct gem_addr g;
	int fam, r = 0;

	if (argc != 2) {
		gemctl_err(o, "usage: " SHOW_USAGE);
		return 2;
	}
	if (dp_parse_group(o, argv[1], &g, &fam))
		return 2;
	if (dp_open_pins(o, &p))
		return 1;
	if (bpf_map_lookup_elem(p.groups, &g, &v)) {
		gemctl_err(o, "group %s is not protected (see gemctl group list)", argv[1]);
		r = 1;
	} else if (o->json) {
		json_object *arr = json_object_new_array();

		group_row(&g, &v, arr, 1);
		r = gemctl_json(o, json_object_get(json_object_array_get_idx(arr, 0)));
		json_object_put(arr);
	} else {
		group_row(&g, &v, NULL, 1);
	}
	sodium_memzero(&v, sizeof(v));
	gem_pins_close(&p);
	return r;
}

int cmd_group(int argc, char **argv, const struct gemctl_opts *o)
{
	if (argc < 2 && o->json) {
		gemctl_err(o, "usage: gemctl group add|del|key|list|show|rekey|epochs ... (see gemctl group --help)");
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
	if (!strcmp(argv[1], "key"))
		return group_key(argc - 1, argv + 1, o);
	if (!strcmp(argv[1], "show"))
		return group_show(argc - 1, argv + 1, o);
	gemctl_err(o, "unknown group command '%s' (add, del, key, list, show, rekey, epochs)",
		   argv[1]);
	return 2;
}
