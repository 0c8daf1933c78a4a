// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* gemctl data-plane families: shared helpers (dp.h). */
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

const char *dp_suite_name(unsigned s)
{
	const char *n = gem_suite_name(s);

	return n ? n : "unknown";
}

int dp_open_pins(const struct gemctl_opts *o, struct gem_pins *p)
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

int dp_parse_group(const struct gemctl_opts *o, const char *text, struct gem_addr *g,
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

int dp_parse_sg(const struct gemctl_opts *o, const char *src, const char *grp,
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
	if (dp_parse_group(o, grp, &sg->grp, &fg))
		return -EINVAL;
	if (fs != fg) {
		gemctl_err(o, "source %s and group %s are not of one address family", src, grp);
		return -EINVAL;
	}
	return 0;
}

json_object *dp_sg_json(const struct gem_sg *sg)
{
	json_object *j = json_object_new_object();
	char b[GEM_ADDR_STRLEN];

	gem_json_str(j, "source", gem_addr_str(&sg->src, b));
	gem_json_str(j, "group", gem_addr_str(&sg->grp, b));
	return j;
}



void dp_kid_str(__u32 k, char *b, size_t n)
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

json_object *dp_stream_row_json(const struct stream_row *r)
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

int dp_stream_walk(const struct gem_pins *p, int (*fn)(void *, const struct stream_row *),
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
