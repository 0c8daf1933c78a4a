// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemctl's data-plane families: group, sek, stream, stats, events.  They read
 * and write the maps gem-load pinned; keys enter the kernel only through the
 * pinned gem_ctl program (lib/gem_dp.c).  No key byte is ever printed.
 */
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
#include "gemctl.h"

static const char *suite_name(unsigned s)
{
	const char *n = gem_suite_name(s);

	return n ? n : "unknown";
}

static int open_pins(const struct gemctl_opts *o, struct gem_pins *p)
{
	int r = gem_pins_open(o->pin_dir, p);

	if (r == -ESTALE)
		gemctl_err(o, "%s", p->stamp_msg);
	else if (r == -ENOENT || r == -EMEDIUMTYPE)
		gemctl_err(o, "GEM is not loaded: no maps pinned in %s (run: gem-load attach DEV)",
			   o->pin_dir);
	else if (r == -EPERM || r == -EACCES)
		gemctl_err(o, "%s: permission denied (run as root)", o->pin_dir);
	else if (r)
		gemctl_err(o, "cannot open the maps in %s: %s", o->pin_dir, strerror(-r));
	else if (p->stamp_msg[0])
		fprintf(stderr, "gemctl: warning: %s\n", p->stamp_msg);
	return r;
}

static int parse_group(const struct gemctl_opts *o, const char *text, struct gem_addr *g,
		       int *family)
{
	if (gem_addr_parse(text, g, family)) {
		gemctl_err(o, "'%s' is not an IPv4 or IPv6 address", text);
		return -EINVAL;
	}
	if (!gem_addr_is_multicast(g)) {
		gemctl_err(o, "%s is not a multicast address (224.0.0.0/4 or ff00::/8)", text);
		return -EINVAL;
	}
	return 0;
}

static int parse_sg(const struct gemctl_opts *o, const char *src, const char *grp,
		    struct gem_sg *sg)
{
	int fs, fg;

	if (gem_addr_parse(src, &sg->src, &fs)) {
		gemctl_err(o, "source '%s' is not an IPv4 or IPv6 address", src);
		return -EINVAL;
	}
	if (gem_addr_is_multicast(&sg->src)) {
		gemctl_err(o, "source %s is a multicast address; a source is a host address", src);
		return -EINVAL;
	}
	if (parse_group(o, grp, &sg->grp, &fg))
		return -EINVAL;
	if (fs != fg) {
		gemctl_err(o, "source %s and group %s are not of one address family", src, grp);
		return -EINVAL;
	}
	return 0;
}

/* {"source": ..., "group": ...} of a stream, as every stream row starts. */
static json_object *sg_json(const struct gem_sg *sg)
{
	json_object *j = json_object_new_object();
	char b[GEM_ADDR_STRLEN];

	gem_json_str(j, "source", gem_addr_str(&sg->src, b));
	gem_json_str(j, "group", gem_addr_str(&sg->grp, b));
	return j;
}

/* ---- group ------------------------------------------------------------------ */

static void group_usage(FILE *f)
{
	fprintf(f,
		"usage: gemctl group add GROUP --suite hmac-sha256|cmac|poly1305|chacha20-poly1305\n"
		"                        (--key-file GAK_FILE | --hsm)\n"
		"                        [--epoch N] [--module PATH] [--token LABEL] [--pin-file FILE]\n"
		"       gemctl group del GROUP\n"
		"       gemctl [-j] group list\n"
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
	struct gem_pins p = { -1, -1, -1, -1, -1, -1, -1, -1, "" };
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
		gemctl_err(o, "usage: gemctl group add GROUP --suite "
			   "hmac-sha256|cmac|poly1305|chacha20-poly1305 "
			   "(--key-file FILE | --hsm; poly1305 and chacha20-poly1305 need neither)");
		return 2;
	}
	if (parse_group(o, argv[optind], &g, &fam))
		return 2;
	klen = gem_suite_key_len((unsigned)suite);
	gak = sodium_malloc(32);
	key = sodium_malloc(32);
	if (!gak || !key) {
		gemctl_err(o, "cannot allocate locked memory");
		goto out;
	}
	/* everything checked before the kernel is touched: a failure changes nothing */
	if (open_pins(o, &p))
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
			   "offers: chacha20-poly1305)", argv[optind], suite_name((unsigned)suite));
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
		gem_json_str(j, "suite", suite_name((unsigned)suite));
		gem_json_u64(j, "epoch", epoch);
		gem_json_str(j, "mac_key", !klen ? "per-packet" : hsm ? "hsm" : "key-file");
		r = gemctl_json(o, j);
		goto out;
	} else
		printf("group %s: protected, suite %s, key epoch %lu (%s)\n", argv[optind],
		       suite_name((unsigned)suite), epoch, !klen ? "MAC keyed per packet by the SEK" :
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
		gemctl_err(o, "usage: gemctl group del GROUP");
		return 2;
	}
	if (parse_group(o, argv[1], &g, &fam))
		return 2;
	if (open_pins(o, &p))
		return 1;
	r = bpf_map_delete_elem(p.groups, &g) ? -errno : 0;
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

	if (open_pins(o, &p))
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
			gem_json_str(e, "suite", suite_name(v.suite));
			gemctl_json_append(arr, e);
		} else {
			printf("%-40s %s\n", gem_addr_str(&k, b), suite_name(v.suite));
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
	gemctl_err(o, "unknown group command '%s' (add, del, list)", argv[1]);
	return 2;
}

/* ---- sek -------------------------------------------------------------------- */

static void sek_usage(FILE *f)
{
	fprintf(f,
		"usage: gemctl sek set SOURCE GROUP --key-id N --key-file FILE --dir tx|rx\n"
		"       gemctl sek del SOURCE GROUP [--dir tx|rx]\n"
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
	struct gem_pins p = { -1, -1, -1, -1, -1, -1, -1, -1, "" };
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
		gemctl_err(o, "usage: gemctl sek set SOURCE GROUP --key-id N --key-file FILE --dir tx|rx");
		return 2;
	}
	if (parse_sg(o, argv[optind], argv[optind + 1], &sg))
		return 2;
	sek = sodium_malloc(GEM_SEK_MAX_LEN);
	if (!sek) {
		gemctl_err(o, "cannot allocate locked memory");
		return 1;
	}
	if (open_pins(o, &p))
		goto out;
	if (bpf_map_lookup_elem(p.groups, &sg.grp, &gv)) {
		gemctl_err(o, "group %s is not protected here (run: gemctl group add %s ... first)",
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
		json_object *j = sg_json(&sg);

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
			gemctl_err(o, "usage: gemctl sek del SOURCE GROUP [--dir tx|rx]");
			return 2;
		}
		if ((dir = parse_dir(o, optarg)) < 0)
			return 2;
	}
	if (optind != argc - 2) {
		gemctl_err(o, "usage: gemctl sek del SOURCE GROUP [--dir tx|rx]");
		return 2;
	}
	if (parse_sg(o, argv[optind], argv[optind + 1], &sg))
		return 2;
	if (open_pins(o, &p))
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
		json_object *j = sg_json(&sg), *arr = json_object_new_array();

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

/* ---- stream list ------------------------------------------------------------ */

/* One row of gemctl stream list, tx or rx alike (-j: the same fields, null
 * where the direction has none). */
struct stream_row {
	const char *dir;
	struct gem_sg sg;
	__u32 key_id, prev_key_id;	/* GEM_KEY_ID_NONE: none */
	bool tx;
	__u64 pn;			/* tx: next pn; rx: top of the current window */
	__u64 packets, bytes, drops;	/* drops: rx only */
};

static void kid_str(__u32 k, char *b, size_t n)
{
	if (k == GEM_KEY_ID_NONE)
		snprintf(b, n, "-");
	else
		snprintf(b, n, "%u", k);
}

static void kid_json(json_object *j, const char *key, __u32 k)
{
	if (k == GEM_KEY_ID_NONE)
		gem_json_null(j, key);
	else
		gem_json_u64(j, key, k);
}

static json_object *stream_row_json(const struct stream_row *r)
{
	json_object *j = json_object_new_object();
	char b[GEM_ADDR_STRLEN];

	gem_json_str(j, "dir", r->dir);
	gem_json_str(j, "source", gem_addr_str(&r->sg.src, b));
	gem_json_str(j, "group", gem_addr_str(&r->sg.grp, b));
	kid_json(j, "key_id", r->key_id);
	kid_json(j, "prev_key_id", r->prev_key_id);
	if (r->tx) {
		gem_json_u64(j, "next_pn", r->pn);
		gem_json_null(j, "top_pn");
	} else {
		gem_json_null(j, "next_pn");
		gem_json_u64(j, "top_pn", r->pn);
	}
	gem_json_u64(j, "packets", r->packets);
	gem_json_u64(j, "bytes", r->bytes);
	if (r->tx)
		gem_json_null(j, "drops");
	else
		gem_json_u64(j, "drops", r->drops);
	return j;
}

/* Every tx then rx stream, to fn; 0 or fn's first non-zero. */
static int stream_walk(const struct gem_pins *p, int (*fn)(void *, const struct stream_row *),
		       void *arg)
{
	struct gem_sg k, next, *prev;
	struct gem_tx_stream tv;
	struct gem_rx_stream rv;
	struct stream_row r;
	int err;

	for (prev = NULL; bpf_map_get_next_key(p->tx, prev, &next) == 0; prev = &k) {
		k = next;
		if (bpf_map_lookup_elem_flags(p->tx, &k, &tv, BPF_F_LOCK))
			continue;	/* deleted meanwhile */
		r = (struct stream_row){ .dir = "tx", .sg = k, .tx = true,
					 .key_id = tv.key_id[tv.cur & 1],
					 .prev_key_id = tv.key_id[(tv.cur & 1) ^ 1],
					 .pn = tv.next_pn, .packets = tv.packets, .bytes = tv.bytes };
		err = fn(arg, &r);
		if (err)
			return err;
	}
	for (prev = NULL; bpf_map_get_next_key(p->rx, prev, &next) == 0; prev = &k) {
		unsigned c;

		k = next;
		if (bpf_map_lookup_elem_flags(p->rx, &k, &rv, BPF_F_LOCK))
			continue;
		c = rv.cur & 1;
		r = (struct stream_row){ .dir = "rx", .sg = k, .key_id = rv.key_id[c],
					 .prev_key_id = rv.key_id[c ^ 1], .pn = rv.replay[c].top,
					 .packets = rv.packets, .bytes = rv.bytes,
					 .drops = rv.drops };
		err = fn(arg, &r);
		if (err)
			return err;
	}
	return 0;
}

static int stream_row_text(void *arg, const struct stream_row *r)
{
	char s[GEM_ADDR_STRLEN], g[GEM_ADDR_STRLEN], k0[12], k1[12], d[24];

	(void)arg;
	kid_str(r->key_id, k0, sizeof(k0));
	kid_str(r->prev_key_id, k1, sizeof(k1));
	if (r->tx)
		snprintf(d, sizeof(d), "-");
	else
		snprintf(d, sizeof(d), "%llu", (unsigned long long)r->drops);
	printf("%-3s %-26s %-26s %-7s %-7s %-12llu %-12llu %-14llu %s\n", r->dir,
	       gem_addr_str(&r->sg.src, s), gem_addr_str(&r->sg.grp, g), k0, k1,
	       (unsigned long long)r->pn, (unsigned long long)r->packets,
	       (unsigned long long)r->bytes, d);
	return 0;
}

static int stream_row_add(void *arg, const struct stream_row *r)
{
	gemctl_json_append(arg, stream_row_json(r));
	return 0;
}

int cmd_stream(int argc, char **argv, const struct gemctl_opts *o)
{
	json_object *j = NULL, *arr = NULL;
	struct gem_pins p;

	if (argc != 2 || strcmp(argv[1], "list") != 0) {
		gemctl_err(o, "usage: gemctl [-j|-p] stream list");
		return 2;
	}
	if (open_pins(o, &p))
		return 1;
	if (o->json) {
		j = gemctl_json_list("streams", &arr);
		stream_walk(&p, stream_row_add, arr);
	} else {
		printf("%-3s %-26s %-26s %-7s %-7s %-12s %-12s %-14s %s\n", "dir", "source", "group",
		       "key", "prev", "next-pn/top", "packets", "bytes", "drops");
		stream_walk(&p, stream_row_text, NULL);
	}
	gem_pins_close(&p);
	return o->json ? gemctl_json(o, j) : 0;
}

/* ---- stats, events ---------------------------------------------------------- */

/* A Prometheus label value: backslash, quote and newline escaped. */
static void prom_label(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			putchar('\\');
		if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
}

static void prom_stream(const char *metric, const struct stream_row *r, unsigned long long v)
{
	char b[GEM_ADDR_STRLEN];

	printf("%s{dir=\"%s\",source=\"", metric, r->dir);
	prom_label(gem_addr_str(&r->sg.src, b));
	fputs("\",group=\"", stdout);
	prom_label(gem_addr_str(&r->sg.grp, b));
	printf("\"} %llu\n", v);
}

/* The stream metrics, one family after another as the format wants. */
enum { PROM_PACKETS, PROM_BYTES, PROM_DROPS, PROM_KEY_ID, PROM__MAX };

struct prom_ctx {
	int family;
};

static int prom_row(void *arg, const struct stream_row *r)
{
	const struct prom_ctx *c = arg;

	switch (c->family) {
	case PROM_PACKETS: prom_stream("gem_stream_packets_total", r, r->packets); break;
	case PROM_BYTES: prom_stream("gem_stream_bytes_total", r, r->bytes); break;
	case PROM_DROPS:
		if (!r->tx)
			prom_stream("gem_stream_drops_total", r, r->drops);
		break;
	case PROM_KEY_ID:
		if (r->key_id != GEM_KEY_ID_NONE)
			prom_stream("gem_stream_key_id", r, r->key_id);
		break;
	}
	return 0;
}

/* Text exposition format 0.0.4: a scraper (node_exporter's textfile
 * collector, or a wrapper serving it) reads it as is.  All or nothing: a
 * counter that cannot be read fails the command (a scraper must not get
 * a 0 that is not one). */
static int stats_prometheus(const struct gemctl_opts *o, const struct gem_pins *p)
{
	static const struct { const char *name, *type, *help; } fam[PROM__MAX] = {
		{ "gem_stream_packets_total", "counter", "packets sealed (tx) or opened (rx) per stream" },
		{ "gem_stream_bytes_total", "counter", "payload bytes sealed (tx) or opened (rx) per stream" },
		{ "gem_stream_drops_total", "counter", "packets of the stream dropped at ingress" },
		{ "gem_stream_key_id", "gauge", "current key id of the stream" },
	};
	unsigned long long v[GEM_C_MAX];
	struct prom_ctx c;

	for (unsigned i = 0; i < GEM_C_MAX; i++) {
		int err = gem_counter_read(p->counters, i, &v[i]);

		if (err) {
			gemctl_err(o, "cannot read counter %s: %s", gem_counter_names[i],
				   strerror(-err));
			return 1;
		}
	}
	fputs("# HELP gem_packets_total GEM data-plane packets by what was done with them "
	      "(gemctl stats; README: counters), summed over CPUs\n"
	      "# TYPE gem_packets_total counter\n", stdout);
	for (unsigned i = 0; i < GEM_C_MAX; i++)
		printf("gem_packets_total{counter=\"%s\"} %llu\n", gem_counter_names[i], v[i]);
	for (c.family = 0; c.family < PROM__MAX; c.family++) {
		printf("# HELP %s %s\n# TYPE %s %s\n", fam[c.family].name, fam[c.family].help,
		       fam[c.family].name, fam[c.family].type);
		stream_walk(p, prom_row, &c);
	}
	return fflush(stdout) == EOF ? 1 : 0;
}

int cmd_stats(int argc, char **argv, const struct gemctl_opts *o)
{
	static const struct option lo[] = { { "prometheus", no_argument, NULL, 'P' }, { 0 } };
	json_object *j = NULL;
	struct gem_pins p;
	unsigned long long v;
	bool prom = false;
	int c, r = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c != 'P') {
			gemctl_err(o, "usage: gemctl [-j|-p] stats [--prometheus]");
			return 2;
		}
		prom = true;
	}
	if (optind != argc) {
		gemctl_err(o, "usage: gemctl [-j|-p] stats [--prometheus]");
		return 2;
	}
	if (open_pins(o, &p))
		return 1;
	if (prom) {
		r = stats_prometheus(o, &p);
		gem_pins_close(&p);
		return r;
	}
	if (o->json)
		j = json_object_new_object();
	for (unsigned i = 0; i < GEM_C_MAX; i++) {
		r = gem_counter_read(p.counters, i, &v);
		if (r) {
			gemctl_err(o, "cannot read counter %s: %s", gem_counter_names[i],
				   strerror(-r));
			json_object_put(j);
			gem_pins_close(&p);
			return 1;
		}
		if (o->json)
			gem_json_u64(j, gem_counter_names[i], v);
		else
			printf("%-18s %llu\n", gem_counter_names[i], v);
	}
	gem_pins_close(&p);
	return o->json ? gemctl_json(o, j) : 0;
}

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct ev_ctx {
	const struct gemctl_opts *o;
	long left;
};

static int on_event(void *ctx, void *data, size_t sz)
{
	struct ev_ctx *e = ctx;
	const struct gem_event *ev = data;
	char s[GEM_ADDR_STRLEN], g[GEM_ADDR_STRLEN], ifn[32];
	time_t now = time(NULL);
	char ts[32];

	if (sz < sizeof(*ev))
		return 0;
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	snprintf(ifn, sizeof(ifn), "%u", ev->ifindex);
	gem_addr_str(&ev->sg.src, s);
	gem_addr_str(&ev->sg.grp, g);
	if (e->o->json) {
		json_object *j = json_object_new_object();

		gem_json_str(j, "time", ts);
		gem_json_str(j, "event", "tx-no-key");
		gem_json_str(j, "source", s);
		gem_json_str(j, "group", g);
		gem_json_u64(j, "ifindex", ev->ifindex);
		gemctl_json(e->o, j);
	} else
		printf("%s tx-no-key source %s group %s ifindex %s (packets dropped until a SEK "
		       "is set)\n", ts, s, g, ifn);
	fflush(stdout);
	if (e->left > 0 && --e->left == 0)
		stop = 1;
	return 0;
}

int cmd_events(int argc, char **argv, const struct gemctl_opts *o)
{
	static const struct option lo[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ 0 }
	};
	struct ev_ctx e = { .o = o, .left = -1 };
	struct ring_buffer *rb;
	struct gem_pins p;
	long timeout = -1;
	struct timespec t0, t;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'c')
			e.left = strtol(optarg, NULL, 0);
		else if (c == 't')
			timeout = strtol(optarg, NULL, 0);
		else {
			gemctl_err(o, "usage: gemctl [-j|-p] events [--count N] [--timeout SECONDS]");
			return 2;
		}
	}
	if (open_pins(o, &p))
		return 1;
	rb = ring_buffer__new(p.events, on_event, &e, NULL);
	if (!rb) {
		gemctl_err(o, "cannot read the event ring buffer: %s", strerror(errno));
		gem_pins_close(&p);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop) {
		int r = ring_buffer__poll(rb, 200);

		if (r < 0 && r != -EINTR)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (timeout >= 0 && t.tv_sec - t0.tv_sec >= timeout)
			break;
	}
	ring_buffer__free(rb);
	gem_pins_close(&p);
	return 0;
}
