// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemd's readers of other programs' output: babeld's local interface lines
 * (gemd/babel.c, lines as babeld 1.12 prints them) and strongSwan's VICI
 * messages (gemd/vici.c, the encoding example of the VICI README built by
 * hand).  Malformed and random input must be rejected without crashing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "gemd/babel.h"
#include "gemd/vici.h"

static struct babel_state st;

/* Lines captured from babeld 1.12.1 on a GEM node (two tunnels). */
static const char *const dump[] = {
	"BABEL 1.0",
	"version babeld-1.12.1",
	"host vm",
	"my-id 02:00:00:00:00:00:00:01",
	"ok",
	"add interface ipsec0 up true ipv6 fe80::649a:bf9e:488e:6f89",
	"add interface ipsec1 up true ipv6 fe80::8dee:ac80:3d5a:32d0 ipv4 10.1.1.1",
	"add neighbour 55b565b21db0 address fe80::ba33:989a:b694:9933 if ipsec0 reach ff00 "
	"ureach 0000 rxcost 96 txcost 96 cost 96",
	"add neighbour 55b565b21e10 address fe80::1 if ipsec1 reach 8000 ureach 0000 rxcost 96 "
	"txcost 65535 rtt 1.250 rttcost 10 cost 65535",
	"add xroute fd00::a/128-::/0 prefix fd00::a/128 from ::/0 metric 0",
	"add xroute 10.255.0.1/32-0.0.0.0/0 prefix 10.255.0.1/32 from 0.0.0.0/0 metric 0",
	"add route 55b565b22ea0 prefix fd00::b/128 from ::/0 installed yes id "
	"02:00:00:00:00:00:00:02 metric 96 refmetric 0 via fe80::ba33:989a:b694:9933 if ipsec0",
	"add route 55b565b22f00 prefix 10.255.0.2/32 from 0.0.0.0/0 installed no id "
	"02:00:00:00:00:00:00:02 metric 65535 refmetric 0 via fe80::1 if ipsec1",
	"ok",
};

static void load_dump(void)
{
	memset(&st, 0, sizeof(st));
	for (size_t i = 0; i < sizeof(dump) / sizeof(dump[0]); i++)
		cr_assert_geq(babel_parse_line(&st, dump[i]), 0, "line: %s", dump[i]);
}

Test(babel, dump)
{
	load_dump();
	cr_expect_str_eq(st.my_id, "02:00:00:00:00:00:00:01");
	cr_assert_eq(st.niface, 2);
	cr_expect_str_eq(st.iface[0].name, "ipsec0");
	cr_expect(st.iface[0].up);
	cr_expect_str_eq(st.iface[0].ll, "fe80::649a:bf9e:488e:6f89");
	cr_assert_eq(st.nneigh, 2);
	cr_expect_str_eq(st.neigh[0].id, "55b565b21db0");
	cr_expect_str_eq(st.neigh[0].addr, "fe80::ba33:989a:b694:9933");
	cr_expect_str_eq(st.neigh[0].ifname, "ipsec0");
	cr_expect_eq(st.neigh[0].reach, 0xff00);
	cr_expect_eq(st.neigh[0].cost, 96);
	cr_expect_str_eq(st.neigh[0].rtt, "");
	cr_expect_eq(st.neigh[1].txcost, 65535);
	cr_expect_str_eq(st.neigh[1].rtt, "1.250");
	cr_assert_eq(st.nxroute, 2);
	cr_expect_str_eq(st.xroute[1].prefix, "10.255.0.1/32");
	cr_expect_str_eq(st.xroute[1].from, "0.0.0.0/0");
	cr_assert_eq(st.nroute, 2);
	cr_expect_str_eq(st.route[0].prefix, "fd00::b/128");
	cr_expect(st.route[0].installed);
	cr_expect_str_eq(st.route[0].router_id, "02:00:00:00:00:00:00:02");
	cr_expect_eq(st.route[0].metric, 96);
	cr_expect_eq(st.route[0].refmetric, 0);
	cr_expect_str_eq(st.route[0].via, "fe80::ba33:989a:b694:9933");
	cr_expect_str_eq(st.route[0].ifname, "ipsec0");
	cr_expect_not(st.route[1].installed);
}

Test(babel, change_and_flush)
{
	load_dump();
	cr_expect_eq(babel_parse_line(&st, "change neighbour 55b565b21db0 address fe80::ba33:989a:"
				      "b694:9933 if ipsec0 reach ffff ureach 0000 rxcost 96 txcost 96 "
				      "cost 100"), 1);
	cr_expect_eq(st.nneigh, 2);
	cr_expect_eq(st.neigh[0].cost, 100);
	cr_expect_eq(babel_parse_line(&st, "flush neighbour 55b565b21db0 address fe80::ba33:989a:"
				      "b694:9933 if ipsec0 reach 0000 ureach 0000 rxcost 96 txcost 96 "
				      "cost 65535"), 1);
	cr_expect_eq(st.nneigh, 1);
	cr_expect_str_eq(st.neigh[0].id, "55b565b21e10");
	cr_expect_eq(babel_parse_line(&st, "change interface ipsec1 up false"), 1);
	cr_expect_not(st.iface[1].up);
	cr_expect_eq(babel_parse_line(&st, "flush interface ipsec1"), 1);
	cr_expect_eq(st.niface, 1);
	cr_expect_eq(babel_parse_line(&st, "flush xroute fd00::a/128-::/0 prefix fd00::a/128 "
				      "from ::/0 metric 0"), 1);
	cr_expect_eq(st.nxroute, 1);
	cr_expect_eq(babel_parse_line(&st, "flush route 55b565b22ea0 prefix fd00::b/128 from ::/0 "
				      "installed yes id 02:00:00:00:00:00:00:02 metric 96 refmetric "
				      "0 via fe80::ba33:989a:b694:9933 if ipsec0"), 1);
	cr_expect_eq(st.nroute, 1);
	/* flushing what is not there changes nothing */
	cr_expect_eq(babel_parse_line(&st, "flush interface nonesuch"), 1);
	cr_expect_eq(st.niface, 1);
	babel_state_clear(&st);
	cr_expect_eq(st.nroute + st.nneigh + st.niface + st.nxroute, 0);
	cr_expect_str_eq(st.my_id, "02:00:00:00:00:00:00:01");	/* kept */
}

Test(babel, malformed)
{
	static const char *const badl[] = {
		"add neighbour",
		"add neighbour x",
		"add neighbour x address fe80::1 if ipsec0 reach zz ureach 0 rxcost 1 txcost 1 cost 1",
		"add neighbour x address fe80::1 if ipsec0 reach ff ureach 0 rxcost -1 txcost 1 cost 1",
		"add neighbour x address fe80::1 if abcdefghijklmnopqrstu reach ff ureach 0 rxcost 1 "
		"txcost 1 cost 1",
		"add route r prefix fd00::1/128 from ::/0 id 1 metric 1 refmetric 0 via fe80::1 if i",
		"add route r prefix fd00::1/128 from ::/0 installed yes id 1 metric 99999999999 "
		"refmetric 0 via fe80::1 if i",
		"add interface ipsec0",
		"add xroute p prefix fd00::1/128 metric 0",
	};

	memset(&st, 0, sizeof(st));
	for (size_t i = 0; i < sizeof(badl) / sizeof(badl[0]); i++)
		cr_expect_eq(babel_parse_line(&st, badl[i]), -EBADMSG, "accepted: %s", badl[i]);
	cr_expect_eq(st.nneigh + st.nroute + st.niface + st.nxroute, 0);
	/* unknown kinds and protocol lines are ignored */
	cr_expect_eq(babel_parse_line(&st, "add frobnicator 1 2 3"), 0);
	cr_expect_eq(babel_parse_line(&st, "no Couldn't flush interface"), 0);
	cr_expect_eq(babel_parse_line(&st, ""), 0);
	cr_expect_eq(babel_parse_line(&st, "   "), 0);
}

Test(babel, full_tables)
{
	char line[256];
	int rc = 0;

	memset(&st, 0, sizeof(st));
	for (int i = 0; i < BABEL_MAX_ROUTES + 5; i++) {
		snprintf(line, sizeof(line), "add route r%d prefix fd00::%x/128 from ::/0 installed yes "
			 "id 1 metric 96 refmetric 0 via fe80::1 if ipsec0", i, i);
		rc = babel_parse_line(&st, line);
	}
	cr_expect_eq(rc, -ENOSPC);
	cr_expect_eq(st.nroute, BABEL_MAX_ROUTES);
}

static uint32_t rs = 0x9e3779b9;
static uint32_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 17;
	rs ^= rs << 5;
	return rs;
}

Test(babel, random_lines)
{
	static const char *const words[] = {
		"add", "change", "flush", "interface", "neighbour", "route", "xroute", "address",
		"if", "reach", "ureach", "rxcost", "txcost", "cost", "prefix", "from", "installed",
		"yes", "id", "metric", "refmetric", "via", "up", "true", "ipv6", "ffff", "96",
		"fe80::1", "ipsec0", "rtt", "", "4294967296", "-", "my-id",
	};
	char line[600];

	memset(&st, 0, sizeof(st));
	for (int i = 0; i < 100000; i++) {
		size_t n = 0;
		int k = rnd() % 30;

		for (int w = 0; w < k && n < sizeof(line) - 80; w++) {
			if (rnd() % 8 == 0) {
				int l = rnd() % 70;

				for (int c = 0; c < l; c++)
					line[n++] = 1 + rnd() % 255;
			} else {
				const char *s = words[rnd() % (sizeof(words) / sizeof(words[0]))];

				memcpy(line + n, s, strlen(s));
				n += strlen(s);
			}
			line[n++] = ' ';
		}
		line[n] = '\0';
		babel_parse_line(&st, line);
		cr_assert_leq(st.nroute, BABEL_MAX_ROUTES);
		cr_assert_leq(st.nneigh, BABEL_MAX_NEIGHS);
	}
}

/* ---- VICI ----------------------------------------------------------------------- */

/* The README's encoding example. */
static const uint8_t readme_msg[] = {
	3, 4, 'k', 'e', 'y', '1', 0, 6, 'v', 'a', 'l', 'u', 'e', '1',
	1, 8, 's', 'e', 'c', 't', 'i', 'o', 'n', '1',
	1, 11, 's', 'u', 'b', '-', 's', 'e', 'c', 't', 'i', 'o', 'n',
	3, 4, 'k', 'e', 'y', '2', 0, 6, 'v', 'a', 'l', 'u', 'e', '2',
	2,
	4, 5, 'l', 'i', 's', 't', '1',
	5, 0, 5, 'i', 't', 'e', 'm', '1',
	5, 0, 5, 'i', 't', 'e', 'm', '2',
	6,
	2,
};

Test(vici, build_matches_readme)
{
	struct vici_msg m;

	cr_assert_eq(vici_msg_init(&m, false), 0);
	vici_add_str(&m, "key1", "value1");
	vici_begin_section(&m, "section1");
	vici_begin_section(&m, "sub-section");
	vici_add_str(&m, "key2", "value2");
	vici_end_section(&m);
	vici_begin_list(&m, "list1");
	vici_add_item(&m, "item1");
	vici_add_item(&m, "item2");
	vici_end_list(&m);
	vici_end_section(&m);
	cr_expect_eq(m.err, 0);
	cr_assert_eq(m.len, sizeof(readme_msg));
	cr_expect_eq(memcmp(m.buf, readme_msg, m.len), 0);
	vici_msg_free(&m);
}

Test(vici, parse_readme)
{
	struct vici_res r = { 0 };

	cr_assert_eq(vici_parse(readme_msg, sizeof(readme_msg), &r), 0);
	cr_expect_eq(r.n, 4);
	cr_expect_str_eq(vici_get(&r, "key1"), "value1");
	cr_expect_str_eq(vici_get(&r, "section1.sub-section.key2"), "value2");
	cr_expect_str_eq(vici_get(&r, "section1.list1#0"), "item1");
	cr_expect_str_eq(vici_get(&r, "section1.list1#1"), "item2");
	cr_expect_null(vici_get(&r, "key2"));
	vici_res_free(&r);
}

Test(vici, secure_binary_value)
{
	struct vici_msg m;
	struct vici_res r = { 0 };
	uint8_t psk[32];

	cr_assert_eq(sodium_init() >= 0, 1);
	for (int i = 0; i < 32; i++)
		psk[i] = i * 7;		/* includes 0x00 and non-printable bytes */
	cr_assert_eq(vici_msg_init(&m, true), 0);
	vici_add_kv(&m, "data", psk, sizeof(psk));
	cr_assert_eq(m.err, 0);
	cr_assert_eq(m.len, 1 + 1 + 4 + 2 + 32);
	cr_expect_eq(memcmp(m.buf + 8, psk, 32), 0);
	cr_assert_eq(vici_parse(m.buf, m.len, &r), 0);
	cr_expect_eq(strlen(vici_get(&r, "data")), 32);	/* shown, not trusted as text */
	vici_res_free(&r);
	vici_msg_free(&m);
	cr_expect_null(m.buf);
}

Test(vici, build_limits)
{
	struct vici_msg m;
	char big[300];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(vici_msg_init(&m, false), 0);
	vici_add_str(&m, big, "x");	/* names are at most 255 bytes */
	cr_expect_eq(m.err, -EINVAL);
	vici_msg_free(&m);
	cr_assert_eq(vici_msg_init(&m, false), 0);
	for (int i = 0; i < VICI_MSG_MAX; i++)
		vici_add_str(&m, "k", "value");
	cr_expect_eq(m.err, -EMSGSIZE);
	cr_expect_leq(m.len, VICI_MSG_MAX);
	vici_msg_free(&m);
}

Test(vici, malformed)
{
	static const struct {
		uint8_t b[16];
		size_t n;
	} cases[] = {
		{ { 1, 3, 'a', 'b', 'c' }, 5 },		/* unclosed section */
		{ { 2 }, 1 },				/* end without start */
		{ { 3, 4, 'k' }, 3 },			/* name past the end */
		{ { 3, 1, 'k', 0, 9, 'x' }, 6 },	/* value past the end */
		{ { 3, 1, 'k', 0 }, 4 },		/* value length cut */
		{ { 4, 1, 'l', 4, 1, 'm' }, 6 },	/* nested list */
		{ { 5, 0, 0 }, 3 },			/* item outside a list */
		{ { 4, 1, 'l', 3, 1, 'k', 0, 0 }, 8 },	/* key/value inside a list */
		{ { 4, 1, 'l' }, 3 },			/* unclosed list */
		{ { 6 }, 1 },				/* list end without list */
		{ { 9 }, 1 },				/* unknown element */
		{ { 1 }, 1 },				/* section name length missing */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vici_res r = { 0 };
		uint8_t *p = malloc(cases[i].n);

		memcpy(p, cases[i].b, cases[i].n);
		cr_expect_eq(vici_parse(p, cases[i].n, &r), -EBADMSG, "case %zu", i);
		vici_res_free(&r);
		free(p);
	}
}

Test(vici, random_input)
{
	uint8_t buf[256];

	for (int i = 0; i < 200000; i++) {
		struct vici_res r = { 0 };
		size_t n = rnd() % sizeof(buf);
		uint8_t *p;

		for (size_t k = 0; k < n; k++)
			buf[k] = rnd() % 4 ? rnd() % 8 : rnd();
		p = malloc(n ? n : 1);
		memcpy(p, buf, n);
		vici_parse(p, n, &r);
		vici_res_free(&r);
		free(p);
	}
}
