/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * GEM test vectors (docs/PROTOCOL.md section 9): an L3 plaintext packet and
 * the packet it seals to under fixed keys, key id and packet number.  The
 * reference tests (selftests/test_ref.c) and the BPF data-plane tests check
 * against this one table, so both implementations agree on the same bytes.
 */
#ifndef GEM_VECTORS_H
#define GEM_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#include "gem_ref.h"

struct gem_vector {
	const char *name;
	int family;			/* AF_INET or AF_INET6 */
	unsigned suite;			/* GEM_SUITE_* */
	uint16_t key_id;
	uint32_t epoch;			/* with gak: the derivation's epoch */
	uint64_t pn;
	struct gem_ref_keys keys;
	const uint8_t *gak;		/* 32-byte GAK the MAC key is derived from
					 * (docs/KEYS.md 3), or NULL: raw keys */
	const uint8_t *input;		/* plaintext packet, from the IP header */
	size_t input_len;
	const uint8_t *sealed;		/* expected sealed packet */
	size_t sealed_len;
};

extern const struct gem_vector gem_vectors[];
extern const size_t gem_n_vectors;

#endif /* GEM_VECTORS_H */
