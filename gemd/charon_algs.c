// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Proposal keywords -> the algorithms charon must have, checked against its
 * get-algorithms answer.  The keywords and algorithm names are strongSwan's
 * (src/libstrongswan/crypto/proposal/proposal_keywords_static.txt and the
 * enum names get-algorithms prints, e.g. "aead" { "AES_GCM_16" = "openssl" }).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemd/charon_algs.h"

/* Debian 12 packages of the charon plugins gemd's messages may name. */
static const struct {
	const char *plugin, *package;
} plugin_pkgs[] = {
	{ "aes", "libstrongswan" }, { "sha1", "libstrongswan" }, { "sha2", "libstrongswan" },
	{ "hmac", "libstrongswan" }, { "kdf", "libstrongswan" }, { "nonce", "libstrongswan" },
	{ "random", "libstrongswan" }, { "gmp", "libstrongswan" }, { "xcbc", "libstrongswan" },
	{ "md5", "libstrongswan" }, { "kernel-netlink", "libstrongswan" },
	{ "openssl", "libstrongswan-standard-plugins" }, { "gcm", "libstrongswan-standard-plugins" },
	{ "aesni", "libstrongswan-standard-plugins" },
	{ "ccm", "libstrongswan-extra-plugins" }, { "chapoly", "libstrongswan-extra-plugins" },
	{ "cmac", "libstrongswan-extra-plugins" }, { "ctr", "libstrongswan-extra-plugins" },
	{ "curve25519", "libstrongswan-extra-plugins" },
	{ "kernel-libipsec", "libcharon-extra-plugins" },
	{ "socket-default", "strongswan-libcharon" },
	{ "vici", "strongswan-swanctl" },
};

const char *gemd_charon_plugin_package(const char *name)
{
	for (size_t i = 0; i < sizeof(plugin_pkgs) / sizeof(plugin_pkgs[0]); i++)
		if (!strcmp(plugin_pkgs[i].plugin, name))
			return plugin_pkgs[i].package;
	return NULL;
}

/* Which plugins can provide an algorithm (by name prefix), best first. */
static const struct {
	const char *prefix, *plugins;
} providers[] = {
	{ "AES_GCM_", "gcm openssl aesni" },
	{ "AES_CCM_", "ccm openssl aesni" },
	{ "AES_CBC", "aes openssl aesni" },
	{ "AES_CTR", "ctr openssl aesni" },
	{ "AES_XCBC", "xcbc aesni" },
	{ "AES_CMAC", "cmac aesni" },
	{ "PRF_AES128_XCBC", "xcbc aesni" },
	{ "PRF_AES128_CMAC", "cmac aesni" },
	{ "CHACHA20_POLY1305", "chapoly openssl" },
	{ "3DES_CBC", "openssl" },
	{ "HMAC_", "hmac openssl" },
	{ "PRF_HMAC_", "hmac openssl" },
	{ "MODP_", "gmp openssl" },
	{ "ECP_", "openssl" },
	{ "CURVE_25519", "curve25519 openssl" },
	{ "CURVE_448", "openssl" },
};

struct need {
	const char *section;	/* get-algorithms section */
	char name[32];		/* algorithm */
	char kw[32];		/* the proposal keyword it came from */
};

#define MAX_NEED 32

struct kwmap {
	const char *kw, *section, *name;
};

static const struct kwmap fixed[] = {
	{ "3des", "encryption", "3DES_CBC" },
	{ "chacha20poly1305", "aead", "CHACHA20_POLY1305" },
	{ "md5", "integrity", "HMAC_MD5_96" },
	{ "sha", "integrity", "HMAC_SHA1_96" },
	{ "sha1", "integrity", "HMAC_SHA1_96" },
	{ "sha256", "integrity", "HMAC_SHA2_256_128" },
	{ "sha2_256", "integrity", "HMAC_SHA2_256_128" },
	{ "sha384", "integrity", "HMAC_SHA2_384_192" },
	{ "sha2_384", "integrity", "HMAC_SHA2_384_192" },
	{ "sha512", "integrity", "HMAC_SHA2_512_256" },
	{ "sha2_512", "integrity", "HMAC_SHA2_512_256" },
	{ "aesxcbc", "integrity", "AES_XCBC_96" },
	{ "aescmac", "integrity", "AES_CMAC_96" },
	{ "prfmd5", "prf", "PRF_HMAC_MD5" },
	{ "prfsha1", "prf", "PRF_HMAC_SHA1" },
	{ "prfsha256", "prf", "PRF_HMAC_SHA2_256" },
	{ "prfsha384", "prf", "PRF_HMAC_SHA2_384" },
	{ "prfsha512", "prf", "PRF_HMAC_SHA2_512" },
	{ "prfaesxcbc", "prf", "PRF_AES128_XCBC" },
	{ "prfaescmac", "prf", "PRF_AES128_CMAC" },
	{ "x25519", "dh", "CURVE_25519" },
	{ "curve25519", "dh", "CURVE_25519" },
	{ "x448", "dh", "CURVE_448" },
	{ "curve448", "dh", "CURVE_448" },
};

/* IKE proposals without a PRF keyword use the integrity algorithm's. */
static const struct {
	const char *integ, *prf;
} integ_prf[] = {
	{ "HMAC_MD5_96", "PRF_HMAC_MD5" }, { "HMAC_SHA1_96", "PRF_HMAC_SHA1" },
	{ "HMAC_SHA2_256_128", "PRF_HMAC_SHA2_256" }, { "HMAC_SHA2_384_192", "PRF_HMAC_SHA2_384" },
	{ "HMAC_SHA2_512_256", "PRF_HMAC_SHA2_512" }, { "AES_XCBC_96", "PRF_AES128_XCBC" },
	{ "AES_CMAC_96", "PRF_AES128_CMAC" },
};

/* "aes", "aes128", "aes192", "aes256" at the start of kw: length eaten, or 0. */
static size_t aes_prefix(const char *kw)
{
	if (strncmp(kw, "aes", 3) != 0)
		return 0;
	if (!strncmp(kw + 3, "128", 3) || !strncmp(kw + 3, "192", 3) || !strncmp(kw + 3, "256", 3))
		return 6;
	return 3;
}

/* An AEAD ICV suffix ("", "8", "12", "16", "64", "96", "128") -> 8/12/16, or 0. */
static int icv_bytes(const char *s)
{
	if (!*s || !strcmp(s, "16") || !strcmp(s, "128"))
		return 16;
	if (!strcmp(s, "12") || !strcmp(s, "96"))
		return 12;
	if (!strcmp(s, "8") || !strcmp(s, "64"))
		return 8;
	return 0;
}

/* One keyword -> (section, name); false if gemd cannot judge it. */
static bool map_kw(const char *kw, const char **section, char *name, size_t nlen)
{
	size_t a = aes_prefix(kw);

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (!strcmp(kw, fixed[i].kw)) {
			*section = fixed[i].section;
			snprintf(name, nlen, "%s", fixed[i].name);
			return true;
		}
	}
	if (a && (kw[a] == '\0' || !strcmp(kw + a, "ctr"))) {
		*section = "encryption";
		snprintf(name, nlen, "%s", kw[a] ? "AES_CTR" : "AES_CBC");
		return true;
	}
	if (a && (!strncmp(kw + a, "gcm", 3) || !strncmp(kw + a, "ccm", 3))) {
		int icv = icv_bytes(kw + a + 3);

		if (!icv)
			return false;
		*section = "aead";
		snprintf(name, nlen, "AES_%s_%d", kw[a] == 'g' ? "GCM" : "CCM", icv);
		return true;
	}
	if (!strncmp(kw, "modp", 4) || !strncmp(kw, "ecp", 3)) {
		bool modp = kw[0] == 'm';
		const char *num = kw + (modp ? 4 : 3);
		char *end;
		unsigned long bits = strtoul(num, &end, 10);

		if (end == num || (modp && (bits < 768 || bits > 8192)) ||
		    (!modp && (bits < 192 || bits > 521)))
			return false;
		if (*end && (modp || strcmp(end, "bp") != 0))
			return false;	/* modp2048s256 and the like: not judged */
		*section = "dh";
		snprintf(name, nlen, "%s_%lu%s", modp ? "MODP" : "ECP", bits, *end ? "_BP" : "");
		return true;
	}
	return false;
}

static void add_need(struct need *n, int *nn, const char *section, const char *name,
		     const char *kw)
{
	for (int i = 0; i < *nn; i++)
		if (!strcmp(n[i].name, name))
			return;
	if (*nn >= MAX_NEED)
		return;
	n[*nn].section = section;
	snprintf(n[*nn].name, sizeof(n[*nn].name), "%s", name);
	snprintf(n[*nn].kw, sizeof(n[*nn].kw), "%s", kw);
	(*nn)++;
}

/* Every algorithm a proposal list needs ("p1,p2", each "kw-kw-kw"). */
static void collect(const char *proposals, bool ike, struct need *n, int *nn)
{
	char buf[512], *save1 = NULL, *p;

	snprintf(buf, sizeof(buf), "%s", proposals);
	for (p = strtok_r(buf, ", ", &save1); p; p = strtok_r(NULL, ", ", &save1)) {
		char *save2 = NULL, *kw;
		const char *integ = NULL;
		char integ_kw[32] = "";
		bool prf = false, aead = false;

		for (kw = strtok_r(p, "-", &save2); kw; kw = strtok_r(NULL, "-", &save2)) {
			const char *section;
			char name[32];

			if (!map_kw(kw, &section, name, sizeof(name)))
				continue;	/* esn, noesn, default, unknown: not judged */
			add_need(n, nn, section, name, kw);
			if (!strcmp(section, "prf"))
				prf = true;
			else if (!strcmp(section, "aead"))
				aead = true;
			else if (!strcmp(section, "integrity")) {
				for (size_t i = 0; i < sizeof(integ_prf) / sizeof(integ_prf[0]); i++)
					if (!strcmp(integ_prf[i].integ, name))
						integ = integ_prf[i].prf;
				snprintf(integ_kw, sizeof(integ_kw), "%s", kw);
			}
		}
		if (ike && !prf && !aead && integ)
			add_need(n, nn, "prf", integ, integ_kw);
	}
}

static bool has_alg(const struct vici_res *algs, const char *section, const char *name)
{
	char key[80];

	snprintf(key, sizeof(key), "%s.%s", section, name);
	if (vici_get(algs, key))
		return true;
	if (!strcmp(section, "dh")) {	/* strongSwan 6 calls it "ke" */
		snprintf(key, sizeof(key), "ke.%s", name);
		return vici_get(algs, key) != NULL;
	}
	return false;
}

static bool word_in(const char *list, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += wl) {
		bool start = p == list || p[-1] == ' ' || p[-1] == ',';
		bool end = p[wl] == '\0' || p[wl] == ' ' || p[wl] == ',';

		if (start && end)
			return true;
	}
	return false;
}

static bool loaded(const struct vici_res *stats, const char *plugin)
{
	char key[32];

	if (!stats)
		return false;
	for (unsigned int i = 0;; i++) {
		const char *v;

		snprintf(key, sizeof(key), "plugins#%u", i);
		v = vici_get(stats, key);
		if (!v)
			return false;
		if (!strcmp(v, plugin))
			return true;
	}
}

/* Append to out (always NUL-terminated, silently cut). */
static void cat(char *out, size_t len, const char *fmt, const char *s)
{
	size_t l = strlen(out);

	if (l + 1 < len)
		snprintf(out + l, len - l, fmt, s);
}

/* Package names of the plugins in list (space-separated), deduplicated. */
static void packages_of(const char *list, char *out, size_t len)
{
	char buf[256], *save = NULL;

	out[0] = '\0';
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *p = strtok_r(buf, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
		const char *pkg = gemd_charon_plugin_package(p);

		if (pkg && !word_in(out, pkg))
			cat(out, len, out[0] ? ", %s" : "%s", pkg);
	}
}

int gemd_charon_unloaded_plugins(const char *load, const struct vici_res *stats, char *out,
				 size_t outlen)
{
	char buf[512], names[256] = "", pkgs[256], *save = NULL;
	int n = 0;

	out[0] = '\0';
	snprintf(buf, sizeof(buf), "%s", load);
	for (char *p = strtok_r(buf, " ,", &save); p; p = strtok_r(NULL, " ,", &save)) {
		if (loaded(stats, p))
			continue;
		cat(names, sizeof(names), names[0] ? " %s" : "%s", p);
		n++;
	}
	if (!n)
		return 0;
	packages_of(names, pkgs, sizeof(pkgs));
	snprintf(out, outlen, "plugin%s %s did not load%s%s%s", n > 1 ? "s" : "", names,
		 pkgs[0] ? " (install " : "", pkgs, pkgs[0] ? ")" : "");
	return n;
}

int gemd_charon_check_algs(const char *ike_proposals, const char *esp_proposals,
			   const char *load, const struct vici_res *algs,
			   const struct vici_res *stats, char *out, size_t outlen)
{
	struct need n[MAX_NEED];
	char cand[256] = "", failed[256] = "", absent[256] = "", pkgs[256];
	int nn = 0, missing = 0;

	out[0] = '\0';
	collect(ike_proposals, true, n, &nn);
	collect(esp_proposals, false, n, &nn);
	for (int i = 0; i < nn; i++) {
		if (has_alg(algs, n[i].section, n[i].name))
			continue;
		cat(out, outlen, missing ? ", %s" : "charon lacks %s", n[i].name);
		cat(out, outlen, " (%s)", n[i].kw);
		missing++;
		for (size_t j = 0; j < sizeof(providers) / sizeof(providers[0]); j++) {
			char pl[64], *save = NULL;

			if (strncmp(n[i].name, providers[j].prefix, strlen(providers[j].prefix)) != 0)
				continue;
			snprintf(pl, sizeof(pl), "%s", providers[j].plugins);
			for (char *p = strtok_r(pl, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
				if (word_in(cand, p))
					continue;
				cat(cand, sizeof(cand), cand[0] ? " %s" : "%s", p);
				/* asked for but not loaded: the package is missing */
				if (word_in(load, p) && (!stats || !loaded(stats, p)))
					cat(failed, sizeof(failed), failed[0] ? " %s" : "%s", p);
				else if (!word_in(load, p))
					cat(absent, sizeof(absent), absent[0] ? " %s" : "%s", p);
			}
			break;
		}
	}
	if (!missing)
		return 0;
	if (failed[0]) {
		packages_of(failed, pkgs, sizeof(pkgs));
		cat(out, outlen, "; plugin %s", failed);
		cat(out, outlen, " did not load (install %s)", pkgs[0] ? pkgs : "it");
	} else if (absent[0]) {
		packages_of(absent, pkgs, sizeof(pkgs));
		cat(out, outlen, "; [tunnel] charon_plugins loads none of its providers (%s", absent);
		cat(out, outlen, "; package %s)", pkgs[0] ? pkgs : "?");
	} else {
		cat(out, outlen, "; its providers (%s) loaded but do not offer it", cand);
	}
	return missing;
}
