// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What gemd tells an operator about its charons (gemd/charon_algs.c): the
 * algorithms GEM's proposals need, checked against get-algorithms and stats
 * answers shaped as strongSwan 5.9.8 sends them (built with gemd's VICI
 * encoder, section and algorithm names as `swanctl --list-algs` prints them
 * on this machine); and the TUN of a process found by what the fd is, not by
 * how its path prints (gemd_find_tun: a real TUN in a private netns, opened
 * through a device node outside /dev).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "gemd/charon_algs.h"
#include "gemd/config.h"
#include "gemd/tunnel.h"
#include "gemd/vici.h"

struct alg {
	const char *section, *name, *plugin;
};

/* A get-algorithms answer listing algs. */
static void algs_res(const struct alg *a, size_t n, struct vici_res *r)
{
	static const char *const sections[] = { "encryption", "integrity", "aead", "hasher",
						"prf", "xof", "kdf", "drbg", "dh", "rng",
						"nonce-gen" };
	struct vici_msg m;

	cr_assert_eq(vici_msg_init(&m, false), 0);
	for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
		vici_begin_section(&m, sections[s]);
		for (size_t i = 0; i < n; i++)
			if (!strcmp(a[i].section, sections[s]))
				vici_add_str(&m, a[i].name, a[i].plugin);
		vici_end_section(&m);
	}
	cr_assert_eq(m.err, 0);
	memset(r, 0, sizeof(*r));
	cr_assert_eq(vici_parse(m.buf, m.len, r), 0);
	vici_msg_free(&m);
}

/* A stats answer whose "plugins" list holds the words of loaded. */
static void stats_res(const char *loaded, struct vici_res *r)
{
	char buf[512], *save = NULL;
	struct vici_msg m;

	cr_assert_eq(vici_msg_init(&m, false), 0);
	vici_add_str(&m, "workers", "16");
	vici_begin_list(&m, "plugins");
	snprintf(buf, sizeof(buf), "charon %s", loaded);
	for (char *p = strtok_r(buf, " ", &save); p; p = strtok_r(NULL, " ", &save))
		vici_add_item(&m, p);
	vici_end_list(&m);
	memset(r, 0, sizeof(*r));
	cr_assert_eq(vici_parse(m.buf, m.len, r), 0);
	vici_msg_free(&m);
}

/* What charon offers with libstrongswan's plugins only (no openssl, no gcm):
 * measured with swanctl --list-algs and load = random nonce aes sha1 sha2
 * hmac kdf kernel-libipsec kernel-netlink socket-default vici. */
static const struct alg base_only[] = {
	{ "encryption", "AES_CBC", "aes" }, { "encryption", "AES_ECB", "aes" },
	{ "integrity", "HMAC_SHA1_96", "hmac" }, { "integrity", "HMAC_SHA2_256_128", "hmac" },
	{ "hasher", "HASH_SHA1", "sha1" }, { "hasher", "HASH_SHA2_256", "sha2" },
	{ "prf", "PRF_HMAC_SHA1", "hmac" }, { "prf", "PRF_HMAC_SHA2_256", "hmac" },
	{ "kdf", "KDF_PRF", "kdf" }, { "kdf", "KDF_PRF_PLUS", "kdf" },
	{ "rng", "RNG_STRONG", "random" }, { "nonce-gen", "NONCE_GEN", "nonce" },
};

/* ... and with GEM's default plugin list. */
static const struct alg with_openssl[] = {
	{ "encryption", "AES_CBC", "openssl" }, { "integrity", "HMAC_SHA2_256_128", "openssl" },
	{ "aead", "AES_GCM_16", "openssl" }, { "aead", "AES_GCM_12", "openssl" },
	{ "aead", "CHACHA20_POLY1305", "openssl" }, { "prf", "PRF_HMAC_SHA2_256", "openssl" },
	{ "dh", "CURVE_25519", "openssl" }, { "dh", "ECP_256", "openssl" },
	{ "dh", "MODP_2048", "openssl" }, { "rng", "RNG_STRONG", "random" },
};

#define BASE_LOAD "random nonce aes sha1 sha2 hmac kdf kernel-libipsec kernel-netlink " \
		  "socket-default vici"

Test(charon_algs, default_proposals_with_default_plugins)
{
	struct vici_res a, s;
	char out[256];

	algs_res(with_openssl, sizeof(with_openssl) / sizeof(with_openssl[0]), &a);
	stats_res(GEMD_DEFAULT_CHARON_PLUGINS, &s);
	cr_expect_eq(gemd_charon_check_algs("aes256gcm16-prfsha256-x25519", "aes256gcm16",
					    GEMD_DEFAULT_CHARON_PLUGINS, &a, &s, out, sizeof(out)),
		     0, "%s", out);
	cr_expect_str_empty(out);
	cr_expect_eq(gemd_charon_check_algs("chacha20poly1305-prfsha256-ecp256,aes128gcm12-"
					    "prfsha256-modp2048", "aes256gcm16-x25519-esn",
					    GEMD_DEFAULT_CHARON_PLUGINS, &a, &s, out, sizeof(out)),
		     0, "%s", out);
	vici_res_free(&a);
	vici_res_free(&s);
}

/* GEM's default proposals against a charon that loaded BASE_LOAD only
 * (libstrongswan's plugins), gemd having asked for load. */
static int check_base_only(const char *load, struct vici_res *a, struct vici_res *s,
			   char *out, size_t len)
{
	algs_res(base_only, sizeof(base_only) / sizeof(base_only[0]), a);
	stats_res(BASE_LOAD, s);
	return gemd_charon_check_algs("aes256gcm16-prfsha256-x25519", "aes256gcm16", load, a, s,
				      out, len);
}

/* The fresh-machine failure: plugins openssl and gcm named in the load list,
 * their package (libstrongswan-standard-plugins) not installed. */
Test(charon_algs, package_missing)
{
	struct vici_res a, s;
	char out[256];

	cr_assert_eq(check_base_only(GEMD_DEFAULT_CHARON_PLUGINS, &a, &s, out, sizeof(out)), 2,
		     "%s", out);
	cr_expect_str_eq(out, "charon lacks AES_GCM_16 (aes256gcm16), CURVE_25519 (x25519); "
			 "plugin gcm openssl did not load (install libstrongswan-standard-plugins)");
	cr_assert_eq(gemd_charon_unloaded_plugins(GEMD_DEFAULT_CHARON_PLUGINS, &s, out,
						  sizeof(out)), 2);
	cr_expect_str_eq(out, "plugins openssl gcm did not load "
			 "(install libstrongswan-standard-plugins)");
	vici_res_free(&a);
	vici_res_free(&s);
}

/* A load list without the providers: say so, and where they come from. */
Test(charon_algs, providers_not_in_load_list)
{
	struct vici_res a, s;
	char out[256];

	cr_assert_eq(check_base_only(BASE_LOAD, &a, &s, out, sizeof(out)), 2, "%s", out);
	cr_expect(strstr(out, "charon lacks AES_GCM_16 (aes256gcm16), CURVE_25519 (x25519)"),
		  "%s", out);
	cr_expect(strstr(out, "charon_plugins loads none of its providers"), "%s", out);
	cr_expect(strstr(out, "libstrongswan-standard-plugins"), "%s", out);
	cr_expect_eq(gemd_charon_unloaded_plugins(BASE_LOAD, &s, out, sizeof(out)), 0);
	vici_res_free(&a);
	vici_res_free(&s);
}

/* Keywords: CBC + HMAC without a PRF keyword needs the HMAC's PRF in IKE
 * (not in ESP); MODP/ECP groups; unknown keywords are not judged. */
Test(charon_algs, keywords)
{
	static const struct alg none[] = { { "rng", "RNG_STRONG", "random" } };
	struct vici_res a;
	char out[512];

	algs_res(none, 1, &a);
	cr_expect_eq(gemd_charon_check_algs("aes128-sha256-modp3072", "", "x", &a, NULL, out,
					    sizeof(out)), 4, "%s", out);
	cr_expect(strstr(out, "AES_CBC (aes128)") && strstr(out, "HMAC_SHA2_256_128 (sha256)") &&
		  strstr(out, "PRF_HMAC_SHA2_256 (sha256)") && strstr(out, "MODP_3072 (modp3072)"),
		  "%s", out);
	cr_expect_eq(gemd_charon_check_algs("", "aes256ctr-sha512", "x", &a, NULL, out,
					    sizeof(out)), 2, "%s", out);
	cr_expect(!strstr(out, "PRF_"), "ESP needs no PRF: %s", out);
	cr_expect_eq(gemd_charon_check_algs("aes128ccm8-prfsha384-ecp384bp", "", "x", &a, NULL,
					    out, sizeof(out)), 3, "%s", out);
	cr_expect(strstr(out, "AES_CCM_8") && strstr(out, "PRF_HMAC_SHA2_384") &&
		  strstr(out, "ECP_384_BP"), "%s", out);
	cr_expect_eq(gemd_charon_check_algs("default,camellia128-foo", "esn-noesn", "x", &a, NULL,
					    out, sizeof(out)), 0, "%s", out);
	cr_expect_str_empty(out);
	vici_res_free(&a);
}

Test(charon_algs, packages)
{
	cr_expect_str_eq(gemd_charon_plugin_package("openssl"), "libstrongswan-standard-plugins");
	cr_expect_str_eq(gemd_charon_plugin_package("kernel-libipsec"), "libcharon-extra-plugins");
	cr_expect_str_eq(gemd_charon_plugin_package("vici"), "strongswan-swanctl");
	cr_expect_null(gemd_charon_plugin_package("no-such-plugin"));
}

/*
 * A child in network and mount namespaces of its own makes a TUN device node
 * on a tmpfs of its own (as /dev/net/tun prints under a chroot: another
 * path, the same device; a tmpfs of its own because the one on /tmp may be
 * nodev), opens it, creates "gemtest0", then waits.  gemd_find_tun must name
 * that interface.  Needs root and TUN.
 */
Test(find_tun, by_device_not_path)
{
	char dir[] = "/tmp/gem-tun.XXXXXX", name[IF_NAMESIZE] = "";
	int ready[2], st;
	pid_t pid;
	char c;

	if (geteuid() != 0)
		cr_skip_test("needs root (namespaces, mknod)");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(pipe(ready), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
		char node[64];
		int fd;

		close(ready[0]);
		if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0)
			_exit(2);
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("gem-test", dir, "tmpfs", 0, "mode=0700") < 0)
			_exit(3);
		snprintf(node, sizeof(node), "%s/not-dev-net-tun", dir);
		if (mknod(node, S_IFCHR | 0600, makedev(GEMD_TUN_MAJOR, GEMD_TUN_MINOR)) < 0)
			_exit(4);
		fd = open(node, O_RDWR);
		if (fd < 0)
			_exit(5);
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "gemtest0");
		if (ioctl(fd, TUNSETIFF, &ifr) < 0)
			_exit(6);
		if (write(ready[1], "r", 1) != 1)
			_exit(7);
		pause();
		_exit(0);
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1) {
		waitpid(pid, &st, 0);
		rmdir(dir);
		cr_assert_fail("the child could not create its TUN (step %d)",
			       WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	close(ready[0]);
	cr_expect_eq(gemd_find_tun(pid, name), 0);
	cr_expect_str_eq(name, "gemtest0");
	/* a process without a TUN */
	cr_expect_eq(gemd_find_tun(getpid(), name), -ENOENT);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	rmdir(dir);
}
