/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Can this charon run GEM's proposals?  charon starts, loads a connection and
 * even sends IKE messages whatever crypto plugins it lacks; the exchange then
 * fails with NO_PROPOSAL_CHOSEN or never completes, and nothing says that a
 * package is missing.  So gemd asks every charon it starts, over VICI
 * (get-algorithms, stats), and compares with the algorithms its proposals
 * name.  Pure logic on parsed VICI answers: no I/O (test_gemd_parse.c).
 */
#ifndef GEMD_CHARON_ALGS_H
#define GEMD_CHARON_ALGS_H

#include <stddef.h>

#include "gemd/vici.h"

/* Plugins gemd's charons cannot work without, whatever the proposals. */
#define GEMD_CHARON_REQUIRED_PLUGINS "random nonce kernel-libipsec kernel-netlink socket-default vici"

/* The Debian package that ships charon plugin NAME, or NULL if unknown. */
const char *gemd_charon_plugin_package(const char *name);

/*
 * Check that charon has every algorithm that ike_proposals (IKE) and
 * esp_proposals (ESP) name.  algs: the answer to get-algorithms; stats: the
 * answer to stats (its "plugins" list: what loaded), or NULL; load: the
 * plugin list gemd gave charon ([tunnel] charon_plugins).
 * Returns the number of missing algorithms (0: all there, out = ""), with one
 * line in out naming them, the proposal keyword each came from, and what to
 * do: the plugins that provide them and the Debian package, or that none of
 * them is in the load list.  Keywords gemd does not know are not judged.
 */
int gemd_charon_check_algs(const char *ike_proposals, const char *esp_proposals,
			   const char *load, const struct vici_res *algs,
			   const struct vici_res *stats, char *out, size_t outlen);

/*
 * Plugins of load that did not load (not in stats' "plugins" list), as
 * "openssl, gcm (install libstrongswan-standard-plugins)"; "" if all loaded.
 * Returns how many.
 */
int gemd_charon_unloaded_plugins(const char *load, const struct vici_res *stats, char *out,
				 size_t outlen);

#endif
