// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemd's rtnetlink calls (gemd/nl.c, libmnl) against the kernel, each test in
 * a network namespace of its own (criterion runs every test in its own
 * process; the test unshares it): addresses added, found and removed, the
 * link-local address choice, and the flushes of rules and routes, checked
 * with iproute2.  Needs root.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <linux/rtnetlink.h>

#include "gemd/nl.h"

static void own_netns(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root (network namespaces)");
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare: %s", strerror(errno));
	cr_assert_eq(system("ip link set lo up"), 0);
}

static struct gemd_prefix prefix(const char *text, int plen)
{
	struct gemd_prefix p = { .plen = plen };

	p.family = strchr(text, ':') ? AF_INET6 : AF_INET;
	cr_assert_eq(inet_pton(p.family, text, p.addr), 1);
	return p;
}

/* Lines of a shell command's output. */
static int lines(const char *cmd)
{
	char buf[512];
	int n = 0;
	FILE *f = popen(cmd, "r");

	cr_assert_not_null(f);
	while (fgets(buf, sizeof(buf), f))
		n++;
	pclose(f);
	return n;
}

Test(nl, addresses)
{
	const char *texts[] = { "10.9.0.1", "fd00:0:0:ff::9" };

	own_netns();
	for (int i = 0; i < 2; i++) {
		struct gemd_prefix p = prefix(texts[i], i ? 128 : 32);
		unsigned int lo = if_nametoindex("lo");

		cr_expect_eq(gemd_nl_has_addr(&p), 0, "%s", texts[i]);
		cr_expect_eq(gemd_nl_addr(true, lo, &p), 0);
		cr_expect_eq(gemd_nl_has_addr(&p), 1);
		cr_expect_eq(gemd_nl_addr(true, lo, &p), -EEXIST, "the kernel's answer");
		cr_expect_eq(gemd_nl_addr(false, lo, &p), 0);
		cr_expect_eq(gemd_nl_has_addr(&p), 0);
		cr_expect_eq(gemd_nl_addr(false, lo, &p), -EADDRNOTAVAIL);
	}
	/* an interface that does not exist */
	{
		struct gemd_prefix p = prefix("10.9.0.2", 32);

		cr_expect_eq(gemd_nl_addr(true, 999999, &p), -ENODEV);
	}
}

Test(nl, link_local_lowest)
{
	struct gemd_prefix a = prefix("fe80::5", 64), b = prefix("fe80::3", 64);
	unsigned int lo;
	struct in6_addr ll;
	char text[INET6_ADDRSTRLEN];

	own_netns();
	lo = if_nametoindex("lo");
	cr_expect_eq(gemd_nl_ll_addr(lo, &ll), -EADDRNOTAVAIL, "lo has only ::1");
	cr_assert_eq(gemd_nl_addr(true, lo, &a), 0);
	cr_assert_eq(gemd_nl_addr(true, lo, &b), 0);
	cr_assert_eq(gemd_nl_ll_addr(lo, &ll), 0);
	inet_ntop(AF_INET6, &ll, text, sizeof(text));
	cr_expect_str_eq(text, "fe80::3");
}

Test(nl, flush_tables_and_proto)
{
	own_netns();
	cr_assert_eq(system("ip link add gemd0 type veth peer name gemd1 && ip link set gemd0 up && "
			    "ip link set gemd1 up && ip addr add 10.8.0.1/24 dev gemd0 && "
			    "ip -6 addr add fd00:8::1/64 dev gemd0 nodad"), 0);
	/* what a killed charon leaves: rules and routes of its table */
	cr_assert_eq(system("ip rule add fwmark 0x47454d31 lookup 7001 prio 32765 && "
			    "ip -6 rule add fwmark 0x47454d31 lookup 7002 prio 32765 && "
			    "ip route add 0.0.0.0/1 dev gemd0 table 7001 && "
			    "ip -6 route add ::/1 dev gemd0 table 7002 && "
			    "ip rule add lookup 7100 prio 32000 && ip route add 10.7.0.0/16 dev gemd0 table 7100"),
		     0);
	cr_expect_eq(gemd_nl_flush_tables(7000, 7063), 4, "two rules and two routes");
	cr_expect_eq(lines("ip rule show | grep -E 'lookup 700[0-9]'"), 0);
	cr_expect_eq(lines("ip -6 rule show | grep -E 'lookup 700[0-9]'"), 0);
	cr_expect_eq(lines("ip route show table all | grep -E 'table 700[0-9]'"), 0);
	cr_expect_eq(lines("ip -6 route show table all | grep -E 'table 700[0-9]'"), 0);
	cr_expect_eq(lines("ip rule show | grep 'lookup 7100'"), 1, "outside the range: kept");
	cr_expect_eq(lines("ip route show table 7100"), 1);

	/* Babel's routes: more than one dump datagram and more than one batch */
	cr_assert_eq(system("for i in $(seq 0 299); do echo \"route add 10.6.$((i / 250)).$((i % 250))/32 "
			    "dev gemd0 proto 42\"; echo \"route add fd00:6::$i/128 dev gemd0 proto 42\"; "
			    "done | ip -batch -"), 0);
	cr_assert_eq(system("ip route add 10.5.0.0/16 dev gemd0 proto static"), 0);
	cr_expect_eq(gemd_nl_flush_proto(GEMD_RTPROT_BABEL), 600);
	cr_expect_eq(lines("ip route show proto 42; ip -6 route show proto 42"), 0);
	cr_expect_eq(lines("ip route show proto static"), 1, "other protocols: kept");
	cr_expect_eq(gemd_nl_flush_proto(GEMD_RTPROT_BABEL), 0);
}

/* gemd_nl_route_get against the kernel's routes, compared with `ip route get`. */
Test(nl, route_get)
{
	struct { const char *addr; int family; const char *dev; unsigned char type; } c[] = {
		{ "10.1.0.7", AF_INET, "dl", RTN_UNICAST },
		{ "10.77.0.1", AF_INET, "dw", RTN_UNICAST },	/* the default route */
		{ "10.1.0.1", AF_INET, "lo", RTN_LOCAL },
		{ "fd00:1::7", AF_INET6, "dl", RTN_UNICAST },
	};
	uint8_t a[16];
	unsigned int oif;
	unsigned char type;

	own_netns();
	cr_assert_eq(system("ip link add dl type veth peer name dlp && ip link add dw type veth peer name dwp && "
			    "ip link set dlp up && ip link set dwp up && "
			    "ip link set dl up && ip link set dw up && "
			    "ip addr add 10.1.0.1/24 dev dl && ip addr add 10.2.0.1/24 dev dw && "
			    "ip -6 addr add fd00:1::1/64 dev dl nodad && "
			    "ip route add default via 10.2.0.2"), 0);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char cmd[160];
		int n;

		cr_assert_eq(inet_pton(c[i].family, c[i].addr, a), 1);
		cr_assert_eq(gemd_nl_route_get(c[i].family, a, &oif, &type), 0, "%s", c[i].addr);
		cr_expect_eq(oif, if_nametoindex(c[i].dev), "%s: oif %u, want %s", c[i].addr, oif,
			     c[i].dev);
		cr_expect_eq(type, c[i].type, "%s: type %u", c[i].addr, type);
		snprintf(cmd, sizeof(cmd), "ip route get %s | grep -w 'dev %s'", c[i].addr,
			 c[i].dev);
		n = lines(cmd);
		cr_expect_eq(n, 1, "ip route get %s disagrees", c[i].addr);
	}
	/* no route at all (IPv6 has no default here) */
	cr_assert_eq(inet_pton(AF_INET6, "fd00:9::1", a), 1);
	cr_expect_eq(gemd_nl_route_get(AF_INET6, a, &oif, &type), -ENETUNREACH);
}
