/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * User-space reference implementation of the GEM packet format
 * (docs/PROTOCOL.md), written against OpenSSL EVP only and independent of
 * the BPF code: it is what the data plane is tested against.
 *
 * Packets are L3 (they start at the IP header) and must be exactly one
 * UDP-over-IPv4 (options allowed) or UDP-over-IPv6 datagram; see gem_pkt.h.
 * Every function returns 0 or -errno.
 */
#ifndef GEM_REF_H
#define GEM_REF_H

#include <stddef.h>
#include <stdint.h>

#include "gem_pkt.h"

struct gem_ref_keys {
	uint8_t sek[16];	/* AES-128 stream encryption key */
	uint8_t mac_key[32];	/* suite 1: HMAC-SHA-256 key of the group */
	uint8_t cmac_key[16];	/* suite 2: AES-CMAC key of the group */
	uint8_t sek256[32];	/* suite 4: the stream's 256-bit ChaCha20-Poly1305 SEK */
};

/*
 * Seal the plaintext packet in[0..len) into out: same IP and UDP header
 * (lengths +28, IPv4 header checksum updated), then GEM header, ciphertext
 * and tag; UDP checksum recomputed, except that an IPv4 packet sent without
 * a UDP checksum (0) stays without one.  in and out must not overlap.
 * Any pn is sealed: refusing pn >= GEM_PN_LIMIT is the data plane's policy,
 * not part of the format, so vectors and tests can use the whole range.
 * Errors: -EINVAL (malformed packet, NULL or overlapping buffers),
 * -EPROTONOSUPPORT (suite), -EMSGSIZE (payload > GEM_MAX_PT, cap too small),
 * -ENOMEM / -EIO (OpenSSL failure).
 */
int gem_ref_seal(const uint8_t *in, size_t len, uint8_t *out, size_t cap,
		 size_t *out_len, unsigned suite, uint16_t key_id, uint64_t pn,
		 const struct gem_ref_keys *k);

/*
 * Open a sealed packet: verify the tag (constant time) before anything else
 * is written, decrypt, restore the lengths and recompute the UDP checksum
 * over the plaintext (IPv4 with sealed checksum 0 gets 0 back).  suite,
 * key_id and pn (each may be NULL) receive the GEM header fields on success.
 * Nothing is written to out unless the tag verified.  There is no replay
 * check here: that is per-stream state of the data plane.
 * Errors: -EINVAL (malformed, shorter than the GEM overhead, NULL or
 * overlapping buffers), -EPROTONOSUPPORT (version or suite), -EMSGSIZE
 * (plaintext > GEM_MAX_PT, cap too small), -EBADMSG (tag), -ENOMEM / -EIO.
 */
int gem_ref_open(const uint8_t *in, size_t len, uint8_t *out, size_t cap,
		 size_t *out_len, const struct gem_ref_keys *k,
		 unsigned *suite, uint16_t *key_id, uint64_t *pn);

/* ---- building blocks, exported for tests and for the BPF selftests ---- */

/* CB(i) = pn (8, BE) || key id (2, BE) || 0x0000 || i (4, BE) */
void gem_ref_counter_block(uint8_t cb[16], uint64_t pn, uint16_t key_id,
			   uint32_t i);

/* The 12-byte GEM header: version, suite, key id (BE), pn (BE). */
void gem_ref_hdr_write(uint8_t h[GEM_HDR_LEN], unsigned suite,
		       uint16_t key_id, uint64_t pn);

/* First GEM_AAD_LEN bytes of the MAC input M:
 * src (16) || group (16) || sport (2, BE) || dport (2, BE) || GEM header. */
void gem_ref_mac_prefix(uint8_t m[GEM_AAD_LEN], const struct gem_addr *src,
			const struct gem_addr *grp, uint16_t sport,
			uint16_t dport, const uint8_t hdr[GEM_HDR_LEN]);

/* XOR len (<= GEM_MAX_PT) bytes with the keystream AES(sek, CB(2)) ||
 * AES(sek, CB(3)) || ...; in == out is allowed. */
int gem_ref_ctr(const uint8_t sek[16], uint16_t key_id, uint64_t pn,
		const uint8_t *in, uint8_t *out, size_t len);

/* Suite 4's 96-bit nonce: pn (8, BE) || key id (2, BE) || 0x0000. */
void gem_ref_nonce(uint8_t nonce[12], uint64_t pn, uint16_t key_id);

/* Suite 4, RFC 8439 2.8 AEAD_CHACHA20_POLY1305 through OpenSSL: AAD = the
 * 48-byte prefix, nonce = gem_ref_nonce(pn, key id) of the prefix's GEM
 * header.  enc=1: out = ciphertext of in, tag written; enc=0: the tag is
 * checked first and out is written only if it verifies (-EBADMSG if not).
 * len <= GEM_MAX_PT; in == out is allowed. */
int gem_ref_aead(int enc, const uint8_t key[32], const uint8_t prefix[GEM_AAD_LEN],
		 const uint8_t *in, uint8_t *out, size_t len, uint8_t tag[GEM_TAG_LEN]);

/* tag = MAC(prefix || ct) for suite 1 (HMAC-SHA-256, first 16 bytes) or
 * suite 2 (AES-CMAC); -EPROTONOSUPPORT for another suite. */
int gem_ref_tag(unsigned suite, const struct gem_ref_keys *k,
		const uint8_t prefix[GEM_AAD_LEN], const uint8_t *ct,
		size_t ct_len, uint8_t tag[GEM_TAG_LEN]);

#endif /* GEM_REF_H */
