// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Test intruder: gemd linked with -Wl,--wrap=gem_keys_node_id, so that it
 * claims the node id in $GEM_FORGE_NODE_ID (16 hex digits) while its token
 * holds another node key.  It holds the domain's BK, so it derives the pair's
 * PSK for the claimed id and completes IKE; what it cannot do is sign for
 * the claimed id (test_cp_ident.sh).  With $GEM_FORGE_NO_SIGN set, every
 * identity-proof signature fails (-EIO, linked with --wrap=gem_keys_node_sign): it
 * then never answers a challenge with an identity proof.  Never installed.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gem_keys;
int __real_gem_keys_node_id(struct gem_keys *k, uint8_t id[8]);
int __wrap_gem_keys_node_id(struct gem_keys *k, uint8_t id[8]);
int __real_gem_keys_node_sign(struct gem_keys *k, const void *msg, size_t len, uint8_t *sig);
int __wrap_gem_keys_node_sign(struct gem_keys *k, const void *msg, size_t len, uint8_t *sig);

int __wrap_gem_keys_node_sign(struct gem_keys *k, const void *msg, size_t len, uint8_t *sig)
{
	static const char ctx[] = "GEM v1 node-identity-proof";

	/* only the identity proofs: its own records it still signs */
	if (getenv("GEM_FORGE_NO_SIGN") && len >= sizeof(ctx) && !memcmp(msg, ctx, sizeof(ctx)))
		return -EIO;
	return __real_gem_keys_node_sign(k, msg, len, sig);
}

int __wrap_gem_keys_node_id(struct gem_keys *k, uint8_t id[8])
{
	const char *forge = getenv("GEM_FORGE_NODE_ID");
	int err = __real_gem_keys_node_id(k, id);

	if (err || !forge || strlen(forge) != 16)
		return err;
	for (int i = 0; i < 8; i++) {
		unsigned int v;

		if (sscanf(forge + 2 * i, "%2x", &v) != 1)
			return err;
		id[i] = v;
	}
	return 0;
}
