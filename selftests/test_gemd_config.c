// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemd's configuration parser (gemd/config.c): the shipped example, the
 * defaults, and bad configurations with the exact one-line error each gives
 * (docs/CONTROL.md section 2 promises these messages).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "gemd/config.h"
#include "gemd/clock.h"
#include "gem_dp.h"

/* A minimal valid configuration: every required key. */
#define MIN "[hsm]\npin_file = /etc/gem/pin\n[discovery]\ninterface = eth0\n"

static struct gemd_config c;
static char err[512];

static int parse(const char *text)
{
	err[0] = '\0';
	return gemd_config_parse_string(&c, "t.conf", text, err, sizeof(err));
}

/* The parse fails with exactly this message. */
static void bad(const char *text, const char *msg)
{
	int rc = parse(text);

	cr_expect_neq(rc, 0, "accepted: %s", text);
	cr_expect_str_eq(err, msg, "for:\n%s", text);
}

Test(config, example_file)
{
	const char *paths[] = { "gemd/gemd.conf.example", "../gemd/gemd.conf.example",
				"../../gemd/gemd.conf.example" };
	int rc = -1;

	for (size_t i = 0; i < 3 && rc; i++)
		if (access(paths[i], R_OK) == 0)
			rc = gemd_config_load(&c, paths[i], err, sizeof(err));
	cr_assert_eq(rc, 0, "gemd.conf.example: %s", err);
	cr_expect_str_eq(c.name, "r1");
	cr_expect_eq(c.nifaces, 2);
	cr_expect_str_eq(c.ifaces[0], "eth1");
	cr_expect_str_eq(c.ifaces[1], "eth2");
	cr_expect_eq(c.naddrs, 2);
	cr_expect_str_eq(c.addrs[0].text, "fd00:0:0:ff::1/128");
	cr_expect_str_eq(c.addrs[1].text, "10.255.0.1/32");
	cr_expect_eq(c.ngroups, 2);
	cr_expect_str_eq(c.socket, "/run/gem/gemd.sock");
}

Test(config, defaults)
{
	struct in6_addr grp;

	cr_assert_eq(parse(MIN), 0, "%s", err);
	cr_expect_str_eq(c.run_dir, "/run/gem");
	cr_expect_str_eq(c.state_dir, "/var/lib/gem");
	cr_expect_str_eq(c.socket, "/run/gem/gemd.sock");
	cr_expect_str_eq(c.module, "/usr/lib/softhsm/libsofthsm2.so");
	cr_expect_str_eq(c.token, "gem");
	cr_expect_str_eq(c.pin_file, "/etc/gem/pin");
	cr_expect_str_eq(c.lock_dir, "");	/* the keys library's default */
	cr_expect_eq(c.nifaces, 1);
	inet_pton(AF_INET6, "ff02::6d:6", &grp);
	cr_expect_eq(memcmp(&c.disc_group, &grp, 16), 0);
	cr_expect_eq(c.disc_port, 6767);
	cr_expect_eq(c.beacon_ms, 1000);
	cr_expect_eq(c.hold_ms, 5000);
	cr_expect_str_eq(c.backend, "libipsec");
	cr_expect_str_eq(c.charon, "/usr/lib/ipsec/charon");
	cr_expect_eq(c.port_base, 7000);
	cr_expect_eq(c.max_neighbours, 32);
	cr_expect_eq(c.table_base, 7000);
	cr_expect_eq(c.charon_threads, 16);
	cr_expect_str_eq(c.babeld, "/usr/sbin/babeld");
	cr_expect_eq(c.hello_ms, 1000);
	cr_expect_eq(c.update_ms, 0);
	cr_expect_eq(c.smoothing_s, 0);
	cr_expect_str_eq(c.link_type, "wired");
	cr_expect(c.v4_via_v6);
	cr_expect(c.add_address);
	cr_expect_not(c.have_node_id);
	cr_expect_eq(c.naddrs, 0);
	cr_expect_eq(c.ngroups, 0);
}

Test(config, every_key)
{
	const char *text =
		"; comment\n"
		"# comment\n"
		"[node]\n"
		"name = r7\n"
		"node_id = 0123456789ABCDEF\n"
		"address = fd00::7\n"
		"address = 10.0.0.7/32 ; inline comment\n"
		"add_address = no\n"
		"run_dir = /tmp/r7\n"
		"state_dir = /var/tmp/r7\n"
		"socket = /tmp/r7.sock\n"
		"pin_dir = /sys/fs/bpf/r7\n"
		"[hsm]\n"
		"module = /usr/lib/x.so\n"
		"token = t7\n"
		"pin_file = /etc/pin7\n"
		"lock_dir = /run/l7\n"
		"[discovery]\n"
		"interfaces = a0 a1,a2\n"
		"interface = b0\n"
		"group = ff02::1:77\n"
		"port = 6000\n"
		"interval = 0.25\n"
		"hold = 1.5\n"
		"[tunnel]\n"
		"backend = libipsec\n"
		"charon = /opt/charon\n"
		"port_base = 9000\n"
		"max_neighbours = 4\n"
		"ike_proposals = aes128gcm16-prfsha256-ecp256\n"
		"esp_proposals = aes128gcm16\n"
		"dpd_delay = 5\n"
		"charon_threads = 20\n"
		"table_base = 300\n"
		"[babel]\n"
		"babeld = /opt/babeld\n"
		"hello_interval = 0.5\n"
		"update_interval = 2\n"
		"smoothing_half_life = 4\n"
		"link_type = tunnel\n"
		"v4_via_v6 = false\n"
		"[groups]\n"
		"group = 239.1.1.1\n"
		"group = FF3E::1:1\n";
	static const uint8_t id[8] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };

	cr_assert_eq(parse(text), 0, "%s", err);
	cr_expect_str_eq(c.name, "r7");
	cr_expect(c.have_node_id);
	cr_expect_eq(memcmp(c.node_id, id, 8), 0);
	cr_expect_eq(c.naddrs, 2);
	cr_expect_str_eq(c.addrs[0].text, "fd00::7/128");
	cr_expect_eq(c.addrs[0].family, AF_INET6);
	cr_expect_str_eq(c.addrs[1].text, "10.0.0.7/32");
	cr_expect_eq(c.addrs[1].family, AF_INET);
	cr_expect_not(c.add_address);
	cr_expect_str_eq(c.run_dir, "/tmp/r7");
	cr_expect_str_eq(c.state_dir, "/var/tmp/r7");
	cr_expect_str_eq(c.socket, "/tmp/r7.sock");
	cr_expect_str_eq(c.pin_dir, "/sys/fs/bpf/r7");
	cr_expect_str_eq(c.module, "/usr/lib/x.so");
	cr_expect_str_eq(c.token, "t7");
	cr_expect_str_eq(c.lock_dir, "/run/l7");
	cr_expect_eq(c.nifaces, 4);
	cr_expect_str_eq(c.ifaces[2], "a2");
	cr_expect_str_eq(c.ifaces[3], "b0");
	cr_expect_str_eq(c.disc_group_text, "ff02::1:77");
	cr_expect_eq(c.disc_port, 6000);
	cr_expect_eq(c.beacon_ms, 250);
	cr_expect_eq(c.hold_ms, 1500);
	cr_expect_str_eq(c.charon, "/opt/charon");
	cr_expect_eq(c.port_base, 9000);
	cr_expect_eq(c.max_neighbours, 4);
	cr_expect_str_eq(c.ike_proposals, "aes128gcm16-prfsha256-ecp256");
	cr_expect_str_eq(c.esp_proposals, "aes128gcm16");
	cr_expect_eq(c.dpd_s, 5);
	cr_expect_eq(c.charon_threads, 20);
	cr_expect_eq(c.table_base, 300);
	cr_expect_str_eq(c.babeld, "/opt/babeld");
	cr_expect_eq(c.hello_ms, 500);
	cr_expect_eq(c.update_ms, 2000);
	cr_expect_eq(c.smoothing_s, 4);
	cr_expect_str_eq(c.link_type, "tunnel");
	cr_expect_not(c.v4_via_v6);
	cr_expect_eq(c.ngroups, 2);
	cr_expect_eq(c.groups[0][10], 0xff);	/* IPv4-mapped */
	cr_expect_eq(c.groups[1][0], 0xff);
	cr_expect_eq(c.groups[1][1], 0x3e);
}

Test(config, structure_errors)
{
	bad("name = x\n" MIN, "t.conf:1: key 'name' outside a section (start with e.g. [node])");
	bad(MIN "[nodes]\nname = x\n",
	    "t.conf:6: unknown section [nodes] (sections: node, hsm, discovery, tunnel, babel, "
	    "groups)");
	bad(MIN "[node]\nbogus = 1\n", "t.conf:6: [node] unknown key 'bogus'");
	bad(MIN "[node]\nname = a\nname = b\n", "t.conf:7: [node] name given twice (first on line 6)");
	bad(MIN "[node]\nthis line has no equals sign\n",
	    "t.conf:6: syntax error (expected [section], key = value or a comment)");
	bad(MIN "[node\n", "t.conf:5: syntax error (expected [section], key = value or a comment)");
	/* the first error wins, syntax or not */
	bad(MIN "[node]\nno equals\nbogus = 1\n",
	    "t.conf:6: syntax error (expected [section], key = value or a comment)");
	bad(MIN "[node]\nbogus = 1\nno equals\n", "t.conf:6: [node] unknown key 'bogus'");
}

Test(config, long_line)
{
	char text[1024];

	snprintf(text, sizeof(text), MIN "[node]\nname = %0300d\nbogus = 2\n", 0);
	parse(text);
	cr_expect(strstr(err, "t.conf:6: line longer than ") == err, "%s", err);
}

Test(config, required_and_consistency)
{
	bad("[hsm]\npin_file = /p\n",
	    "t.conf: [discovery] no interface configured (add e.g.: interface = eth0)");
	bad("[discovery]\ninterface = eth0\n",
	    "t.conf: [hsm] pin_file is required (a file holding the token's user PIN, mode 0600)");
	bad(MIN "[discovery]\ninterval = 2\nhold = 3\n",
	    "t.conf: [discovery] hold (3.000 s) must be at least twice the interval (2.000 s)");
	bad(MIN "[tunnel]\nport_base = 65500\nmax_neighbours = 64\n",
	    "t.conf: [tunnel] port_base 65500 + 2 x max_neighbours 64 exceeds port 65535");
	bad(MIN "[discovery]\nport = 7010\n",
	    "t.conf: [discovery] port 7010 lies in the IKE port range 7000..7063 of [tunnel]");
	bad(MIN "[discovery]\nport = 6696\n", "t.conf: [discovery] port 6696 is Babel's port");
	bad(MIN "[babel]\nhello_interval = 2\nupdate_interval = 1\n",
	    "t.conf: [babel] update_interval must not be shorter than hello_interval");
	bad(MIN "[node]\naddress = fd00::1\naddress = fd00:0::1/128\n",
	    "t.conf: [node] address fd00::1/128 listed twice");
	bad(MIN "[node]\nrun_dir = /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	    "t.conf: [node] run_dir: longer than 80 characters (UNIX socket paths inside it must "
	    "fit in 108 bytes)");
}

Test(config, value_errors)
{
	bad(MIN "[node]\naddress = fd00::zz/128\n",
	    "t.conf:6: [node] address: 'fd00::zz/128' is not an IP address or prefix (e.g. "
	    "fd00::1/128)");
	bad(MIN "[node]\naddress = 10.0.0.1/33\n",
	    "t.conf:6: [node] address: '10.0.0.1/33' is not an IP address or prefix (e.g. "
	    "fd00::1/128)");
	bad(MIN "[node]\naddress = fd00::1/\n",
	    "t.conf:6: [node] address: 'fd00::1/' is not an IP address or prefix (e.g. "
	    "fd00::1/128)");
	bad(MIN "[node]\nadd_address = maybe\n",
	    "t.conf:6: [node] add_address: 'maybe' is not a boolean (yes/no)");
	bad(MIN "[node]\nrun_dir = run\n", "t.conf:6: [node] run_dir: 'run' is not an absolute path");
	bad(MIN "[node]\nnode_id = 0123\n",
	    "t.conf:6: [node] node_id: '0123' is not 16 hex digits (see: gemctl keys pubkey)");
	bad(MIN "[node]\nnode_id = 0123456789abcdeg\n",
	    "t.conf:6: [node] node_id: '0123456789abcdeg' is not 16 hex digits (see: gemctl keys "
	    "pubkey)");
	bad(MIN "[node]\nname = 0123456789012345678901234567890123\n",
	    "t.conf:6: [node] name: longer than 32 characters");
	bad(MIN "[node]\nname =\n", "t.conf:6: [node] name: empty value");
	bad(MIN "[discovery]\nport = 0\n",
	    "t.conf:6: [discovery] port: '0' is not a whole number in 1..65535");
	bad(MIN "[discovery]\nport = -1\n",
	    "t.conf:6: [discovery] port: '-1' is not a whole number in 1..65535");
	bad(MIN "[discovery]\nport = 70000\n",
	    "t.conf:6: [discovery] port: '70000' is not a whole number in 1..65535");
	bad(MIN "[discovery]\ninterval = 0.05\n",
	    "t.conf:6: [discovery] interval: '0.05' is not a time in seconds in 0.100..60");
	bad(MIN "[discovery]\ninterval = 1.2345\n",
	    "t.conf:6: [discovery] interval: '1.2345' is not a time in seconds in 0.100..60");
	bad(MIN "[discovery]\ninterval = 1s\n",
	    "t.conf:6: [discovery] interval: '1s' is not a time in seconds in 0.100..60");
	bad(MIN "[discovery]\ngroup = ff05::6d:6\n",
	    "t.conf:6: [discovery] group: 'ff05::6d:6' is not a link-local scope IPv6 multicast "
	    "address (ff02::/16)");
	bad(MIN "[discovery]\ninterface = eth0\n",
	    "t.conf:6: [discovery] interface: interface 'eth0' listed twice");
	bad(MIN "[discovery]\ninterface = a/b\n",
	    "t.conf:6: [discovery] interface: 'a/b' is not an interface name");
	bad(MIN "[discovery]\ninterface = abcdefghijklmnopq\n",
	    "t.conf:6: [discovery] interface: 'abcdefghijklmnopq' is not an interface name");
	bad(MIN "[tunnel]\nbackend = xfrmi\n",
	    "t.conf:6: [tunnel] backend: 'xfrmi' is not one of: libipsec");
	bad(MIN "[tunnel]\ncharon_threads = 4\n",
	    "t.conf:6: [tunnel] charon_threads: '4' is not a whole number in 12..64");
	bad(MIN "[babel]\nlink_type = fast\n",
	    "t.conf:6: [babel] link_type: 'fast' is not one of: wired tunnel wireless");
	bad(MIN "[groups]\ngroup = 10.1.1.1\n",
	    "t.conf:6: [groups] group: '10.1.1.1' is not a multicast group address");
	bad(MIN "[groups]\ngroup = 239.1.1.1\ngroup = ::ffff:239.1.1.1\n",
	    "t.conf:7: [groups] group: group '::ffff:239.1.1.1' listed twice");
}

Test(config, load_errors)
{
	int rc = gemd_config_load(&c, "/nonexistent/gemd.conf", err, sizeof(err));

	cr_expect_lt(rc, 0);
	cr_expect_str_eq(err, "/nonexistent/gemd.conf: cannot open: No such file or directory");
}

Test(config, prefix_parse)
{
	struct gemd_prefix p;

	cr_expect_eq(gemd_prefix_parse("fd00::1", &p), 0);
	cr_expect_str_eq(p.text, "fd00::1/128");
	cr_expect_eq(gemd_prefix_parse("FD00:0:0::0001/64", &p), 0);
	cr_expect_str_eq(p.text, "fd00::1/64");
	cr_expect_eq(p.plen, 64);
	cr_expect_eq(gemd_prefix_parse("10.1.2.3", &p), 0);
	cr_expect_str_eq(p.text, "10.1.2.3/32");
	cr_expect_eq(p.family, AF_INET);
	cr_expect_eq(gemd_prefix_parse("10.1.2.3/0", &p), 0);
	cr_expect_neq(gemd_prefix_parse("10.1.2.3/+1", &p), 0);
	cr_expect_neq(gemd_prefix_parse("10.1.2.3/1x", &p), 0);
	cr_expect_neq(gemd_prefix_parse("fd00::1/129", &p), 0);
	cr_expect_neq(gemd_prefix_parse("", &p), 0);
	cr_expect_neq(gemd_prefix_parse("host.example", &p), 0);
	cr_expect_neq(gemd_prefix_parse("fd00::1/128/1", &p), 0);
}

/* [groups] stream = SOURCE GROUP: pre-declared streams, keyed at start. */
Test(config, streams)
{
	static const uint8_t g4[16] = { [10] = 0xff, [11] = 0xff, 239, 1, 1, 1 };
	static const uint8_t s4[16] = { [10] = 0xff, [11] = 0xff, 10, 1, 0, 2 };

	cr_assert_eq(parse(MIN "[groups]\ngroup = 239.1.1.1\ngroup = ff3e::1:1\n"
			   "stream = 10.1.0.2 239.1.1.1\nstream = fd00:1::2 ff3e::1:1\n"), 0, "%s", err);
	cr_assert_eq(c.nstreams, 2);
	cr_assert_eq(memcmp(c.streams[0][0], s4, 16), 0);
	cr_assert_eq(memcmp(c.streams[0][1], g4, 16), 0);
	bad(MIN "[groups]\ngroup = 239.1.1.1\nstream = 10.1.0.2\n",
	    "t.conf:7: [groups] stream: '10.1.0.2': expected SOURCE GROUP");
	bad(MIN "[groups]\ngroup = 239.1.1.1\nstream = 239.1.1.9 239.1.1.1\n",
	    "t.conf:7: [groups] stream: '239.1.1.9' is not a unicast source address");
	bad(MIN "[groups]\ngroup = 239.1.1.1\nstream = 10.1.0.2 239.1.1.2\n",
	    "t.conf:7: [groups] stream: group '239.1.1.2' is not one of the [groups] group lines above");
	bad(MIN "[groups]\ngroup = 239.1.1.1\nstream = fd00::2 239.1.1.1\n",
	    "t.conf:7: [groups] stream: 'fd00::2 239.1.1.1': source and group of different address families");
}

/* group = G suite=S: a group's own suite, the others take [groups] suite. */
Test(config, group_suites)
{
	cr_assert_eq(parse(MIN "[groups]\nsuite = cmac\ngroup = 239.1.1.1 suite=poly1305\n"
			   "group = 239.1.1.2\ngroup = ff3e::1 suite=hmac-sha256\n"), 0, "%s", err);
	cr_assert_eq(c.ngroups, 3);
	cr_assert_str_eq(c.group_suites[0], "poly1305");
	cr_assert_str_eq(c.group_suites[1], "");
	cr_assert_str_eq(c.group_suites[2], "hmac-sha256");
	cr_assert_str_eq(c.group_suite, "cmac");
	bad(MIN "[groups]\ngroup = 239.1.1.1 suite=aes\n",
	    "t.conf:6: [groups] group: 'suite=aes': the group's option is suite=SUITE, SUITE one of: "
	    GEMD_SUITE_CHOICES);
	bad(MIN "[groups]\ngroup = 239.1.1.1 cipher=cmac\n",
	    "t.conf:6: [groups] group: 'cipher=cmac': the group's option is suite=SUITE, SUITE one of: "
	    GEMD_SUITE_CHOICES);
	bad(MIN "[groups]\ngroup = 239.1.1.1 suite=cmac extra\n",
	    "t.conf:6: [groups] group: '239.1.1.1 suite=cmac extra': expected GROUP [suite=SUITE]");
	bad(MIN "[groups]\ngroup = 239.1.1.1 suite=cmac\ngroup = 239.1.1.1 suite=poly1305\n",
	    "t.conf:7: [groups] group: group '239.1.1.1 suite=poly1305' listed twice");
}

/* Suite 4 is distributed by gemd (its SEK Announce carries 32-byte SEKs,
 * docs/PROTOCOL.md 10.5): accepted as [groups] suite and as a group's own. */
Test(config, suite_chacha20_poly1305)
{
	cr_assert_eq(parse(MIN "[groups]\nsuite = chacha20-poly1305\ngroup = 239.1.1.1\n"
			   "group = 239.1.1.2 suite=chacha20-poly1305\n"
			   "group = 239.1.1.3 suite=poly1305\n"), 0, "%s", err);
	cr_assert_str_eq(c.group_suite, "chacha20-poly1305");
	cr_assert_str_eq(c.group_suites[0], "");
	cr_assert_str_eq(c.group_suites[1], "chacha20-poly1305");
	cr_assert_str_eq(c.group_suites[2], "poly1305");
	cr_assert_eq(gem_suite_parse(c.group_suites[1]), 4);
	cr_assert_eq(gem_suite_sek_len(4), 32);
	cr_assert(strstr(GEMD_SUITE_CHOICES, "chacha20-poly1305"));
	bad(MIN "[groups]\nsuite = chacha20\n",
	    "t.conf:6: [groups] suite: 'chacha20' is not one of: " GEMD_SUITE_CHOICES);
}

/* [groups] sources / stream_idle / stream_rate / stream_burst (issue 14). */
Test(config, stream_admission)
{
	static const uint8_t in4[16] = { [10] = 0xff, [11] = 0xff, 10, 1, 0, 200 };
	static const uint8_t out4[16] = { [10] = 0xff, [11] = 0xff, 10, 1, 1, 2 };
	uint8_t in6[16], out6[16];

	cr_assert_eq(parse(MIN), 0, "%s", err);
	cr_expect_eq(c.nsources, 0);
	cr_expect_eq(c.stream_idle_ms, 300000);
	cr_expect_eq(c.stream_rate, 10);
	cr_expect_eq(c.stream_burst, 32);
	cr_assert_eq(parse(MIN "[groups]\ngroup = 239.1.1.1\nsources = 10.1.0.0/24 fd00:1::/61\n"
			   "sources = 10.9.9.9\nstream_idle = 2.5\nstream_rate = 3\n"
			   "stream_burst = 4\nstream = 10.1.0.2 239.1.1.1\n"), 0, "%s", err);
	cr_assert_eq(c.nsources, 3);
	cr_expect_str_eq(c.sources[1].text, "fd00:1::/61");
	cr_expect_str_eq(c.sources[2].text, "10.9.9.9/32");
	cr_expect_eq(c.stream_idle_ms, 2500);
	cr_expect_eq(c.stream_rate, 3);
	cr_expect_eq(c.stream_burst, 4);
	/* IPv4 sources are IPv4-mapped (struct gem_addr) */
	cr_expect(gemd_prefix_contains(&c.sources[0], in4));
	cr_expect(!gemd_prefix_contains(&c.sources[0], out4));
	cr_expect(!gemd_prefix_contains(&c.sources[1], in4), "IPv4 source in an IPv6 prefix");
	cr_assert_eq(inet_pton(AF_INET6, "fd00:1:0:7:ffff::1", in6), 1);
	cr_assert_eq(inet_pton(AF_INET6, "fd00:1:0:8::1", out6), 1);
	cr_expect(gemd_prefix_contains(&c.sources[1], in6), "/61: :7 is inside fd00:1::/61");
	cr_expect(!gemd_prefix_contains(&c.sources[1], out6), "/61: :8 is outside");
	cr_expect(!gemd_prefix_contains(&c.sources[0], in6));
	bad(MIN "[groups]\nsources = 10.1.0.0/33\n",
	    "t.conf:6: [groups] sources: '10.1.0.0/33' is not an IP prefix (e.g. 10.1.0.0/24, "
	    "fd00:1::/64)");
	bad(MIN "[groups]\nstream_rate = 0\n",
	    "t.conf:6: [groups] stream_rate: '0' is not a whole number in 1..10000");
	bad(MIN "[groups]\nstream_idle = 0.5\n",
	    "t.conf:6: [groups] stream_idle: '0.5' is not a time in seconds in 1.000..604800");
	bad(MIN "[groups]\ngroup = 239.1.1.1\nsources = 10.2.0.0/16\nstream = 10.1.0.2 239.1.1.1\n",
	    "t.conf: [groups] stream: source 10.1.0.2 is in none of the [groups] sources prefixes");
}

/* The new-stream token bucket (gemd/clock.c). */
Test(config, stream_bucket)
{
	struct gemd_bucket b;
	int n = 0;

	gemd_bucket_init(&b, 2, 3, 1000);
	while (gemd_bucket_take(&b, 1000))
		n++;
	cr_expect_eq(n, 3, "a full bucket gives its burst: %d", n);
	cr_expect(!gemd_bucket_take(&b, 1499), "2/s: no token after 499 ms");
	cr_expect(gemd_bucket_take(&b, 1500), "2/s: one token after 500 ms");
	cr_expect(!gemd_bucket_take(&b, 1500));
	/* a long pause refills to the burst, not beyond */
	n = 0;
	while (gemd_bucket_take(&b, 1000000000))
		n++;
	cr_expect_eq(n, 3, "after a long pause: %d", n);
	/* a clock that goes back takes nothing and gives nothing */
	cr_expect(!gemd_bucket_take(&b, 5));
}
