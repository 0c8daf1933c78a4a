// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * GEM reference seal/open (docs/PROTOCOL.md), OpenSSL EVP only.
 *
 * Written for clarity and to be fuzzed, not for speed: every length of the
 * input is validated (by gem_pkt_parse() and here) before it is used, the
 * MAC is verified before any plaintext exists, and every OpenSSL object is
 * freed and every temporary wiped on every path.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <openssl/params.h>

#include "gem_ref.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v >> 32);
	put32(p + 4, v & 0xffffffff);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* The caller's buffers must be disjoint: seal/open read `in` after
 * writing `out` at shifted offsets.  Written without a + b so a huge cap
 * cannot wrap around. */
static int overlap(const void *a, size_t alen, const void *b, size_t blen)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;

	if (!alen || !blen)
		return 0;
	return x >= y ? x - y < blen : y - x < alen;
}

void gem_ref_counter_block(uint8_t cb[16], uint64_t pn, uint16_t key_id,
			   uint32_t i)
{
	put64(cb, pn);
	put16(cb + 8, key_id);
	cb[10] = 0;
	cb[11] = 0;
	put32(cb + 12, i);
}

void gem_ref_hdr_write(uint8_t h[GEM_HDR_LEN], unsigned suite,
		       uint16_t key_id, uint64_t pn)
{
	h[0] = GEM_VERSION;
	h[1] = (uint8_t)suite;
	put16(h + 2, key_id);
	put64(h + 4, pn);
}

void gem_ref_mac_prefix(uint8_t m[GEM_AAD_LEN], const struct gem_addr *src,
			const struct gem_addr *grp, uint16_t sport,
			uint16_t dport, const uint8_t hdr[GEM_HDR_LEN])
{
	memcpy(m, src->a, 16);
	memcpy(m + 16, grp->a, 16);
	put16(m + 32, sport);
	put16(m + 34, dport);
	memcpy(m + 36, hdr, GEM_HDR_LEN);
}

int gem_ref_ctr(const uint8_t sek[16], uint16_t key_id, uint64_t pn,
		const uint8_t *in, uint8_t *out, size_t len)
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t cb[16];
	int n = 0, fin = 0, err;

	/* GEM_MAX_PT bounds the block count (98), so OpenSSL's 128-bit
	 * increment of CB(2) only ever touches the 32-bit `i` field and
	 * equals the CB(i) sequence of the spec; it also keeps len in int. */
	if (len > GEM_MAX_PT)
		return -EMSGSIZE;
	if (!len)
		return 0;
	if (!sek || !in || !out)
		return -EINVAL;

	gem_ref_counter_block(cb, pn, key_id, GEM_CTR_FIRST_PAYLOAD_BLOCK);
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx) {
		err = -ENOMEM;
		goto out;
	}
	if (EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), NULL, sek, cb) != 1 ||
	    EVP_EncryptUpdate(ctx, out, &n, in, (int)len) != 1 ||
	    (size_t)n != len ||
	    EVP_EncryptFinal_ex(ctx, out + n, &fin) != 1 || fin != 0) {
		err = -EIO;
		goto out;
	}
	err = 0;
out:
	/* frees the key schedule, which EVP wipes on free */
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(cb, sizeof(cb));
	return err;
}

void gem_ref_nonce(uint8_t nonce[12], uint64_t pn, uint16_t key_id)
{
	put64(nonce, pn);
	put16(nonce + 8, key_id);
	nonce[10] = 0;
	nonce[11] = 0;
}

int gem_ref_aead(int enc, const uint8_t key[32], const uint8_t prefix[GEM_AAD_LEN],
		 const uint8_t *in, uint8_t *out, size_t len, uint8_t tag[GEM_TAG_LEN])
{
	EVP_CIPHER_CTX *c = NULL;
	uint8_t nonce[12], tmp[GEM_MAX_PT];
	int n = 0, fin = 0, err = -EIO;

	if (len > GEM_MAX_PT)
		return -EMSGSIZE;
	if (!key || !prefix || !tag || (len && (!in || !out)))
		return -EINVAL;
	gem_ref_nonce(nonce, get64(prefix + 40), get16(prefix + 38));
	c = EVP_CIPHER_CTX_new();
	if (!c)
		return -ENOMEM;
	if (EVP_CipherInit_ex(c, EVP_chacha20_poly1305(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, sizeof(nonce), NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) != 1 ||
	    (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, GEM_TAG_LEN, tag) != 1) ||
	    EVP_CipherUpdate(c, NULL, &n, prefix, GEM_AAD_LEN) != 1 || n != GEM_AAD_LEN)
		goto out;
	/* open: plaintext goes to tmp, reaching out only once the tag verified */
	if (len && (EVP_CipherUpdate(c, tmp, &n, in, (int)len) != 1 || (size_t)n != len))
		goto out;
	if (EVP_CipherFinal_ex(c, tmp + len, &fin) != 1 || fin != 0) {
		err = enc ? -EIO : -EBADMSG;
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, GEM_TAG_LEN, tag) != 1)
		goto out;
	memcpy(out, tmp, len);
	err = 0;
out:
	EVP_CIPHER_CTX_free(c);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return err;
}

/* Suite 3: Poly1305 (libsodium) keyed with keystream blocks 0 and 1 of the
 * packet's nonce (OpenSSL AES-128-CTR from CB(0)), over
 * AAD || CT || zeros to 16 || le64(48) || le64(len CT), as RFC 8439 2.8. */
static int poly1305_tag(const struct gem_ref_keys *k, const uint8_t prefix[GEM_AAD_LEN],
			const uint8_t *ct, size_t ct_len, uint8_t tag[GEM_TAG_LEN])
{
	static const uint8_t zero[32];
	crypto_onetimeauth_poly1305_state st;
	EVP_CIPHER_CTX *c = NULL;
	uint8_t cb[16], otk[32], lens[16];
	int n = 0, err = -EIO;
	uint64_t v;

	gem_ref_counter_block(cb, get64(prefix + 40), get16(prefix + 38), 0);
	c = EVP_CIPHER_CTX_new();
	if (!c)
		return -ENOMEM;
	if (EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, k->sek, cb) != 1 ||
	    EVP_EncryptUpdate(c, otk, &n, zero, sizeof(zero)) != 1 || n != 32)
		goto out;
	v = GEM_AAD_LEN;
	for (int i = 0; i < 8; i++)
		lens[i] = (uint8_t)(v >> (8 * i));
	v = ct_len;
	for (int i = 0; i < 8; i++)
		lens[8 + i] = (uint8_t)(v >> (8 * i));
	crypto_onetimeauth_poly1305_init(&st, otk);
	crypto_onetimeauth_poly1305_update(&st, prefix, GEM_AAD_LEN);
	if (ct_len)
		crypto_onetimeauth_poly1305_update(&st, ct, ct_len);
	if (ct_len % 16)
		crypto_onetimeauth_poly1305_update(&st, zero, 16 - ct_len % 16);
	crypto_onetimeauth_poly1305_update(&st, lens, sizeof(lens));
	crypto_onetimeauth_poly1305_final(&st, tag);
	err = 0;
out:
	EVP_CIPHER_CTX_free(c);
	sodium_memzero(otk, sizeof(otk));
	sodium_memzero(&st, sizeof(st));
	return err;
}

int gem_ref_tag(unsigned suite, const struct gem_ref_keys *k,
		const uint8_t prefix[GEM_AAD_LEN], const uint8_t *ct,
		size_t ct_len, uint8_t tag[GEM_TAG_LEN])
{
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	uint8_t full[EVP_MAX_MD_SIZE];
	const uint8_t *key;
	size_t key_len, full_len = 0;
	int err;

	if (!k || !prefix || !tag || (ct_len && !ct))
		return -EINVAL;
	if (suite == GEM_SUITE_POLY1305)
		return poly1305_tag(k, prefix, ct, ct_len, tag);
	switch (suite) {
	case GEM_SUITE_HMAC_SHA256:
		mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
		params[0] = OSSL_PARAM_construct_utf8_string(
			OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
		key = k->mac_key;
		key_len = sizeof(k->mac_key);
		break;
	case GEM_SUITE_CMAC:
		mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_CMAC, NULL);
		params[0] = OSSL_PARAM_construct_utf8_string(
			OSSL_MAC_PARAM_CIPHER, "AES-128-CBC", 0);
		key = k->cmac_key;
		key_len = sizeof(k->cmac_key);
		break;
	default:
		return -EPROTONOSUPPORT;
	}
	params[1] = OSSL_PARAM_construct_end();

	if (!mac) {
		err = -EIO;
		goto out;
	}
	ctx = EVP_MAC_CTX_new(mac);
	if (!ctx) {
		err = -ENOMEM;
		goto out;
	}
	if (EVP_MAC_init(ctx, key, key_len, params) != 1 ||
	    EVP_MAC_update(ctx, prefix, GEM_AAD_LEN) != 1 ||
	    (ct_len && EVP_MAC_update(ctx, ct, ct_len) != 1) ||
	    EVP_MAC_final(ctx, full, &full_len, sizeof(full)) != 1 ||
	    full_len < GEM_TAG_LEN) {
		err = -EIO;
		goto out;
	}
	/* suite 1 truncates HMAC-SHA-256 to its first 16 bytes; CMAC is 16 */
	memcpy(tag, full, GEM_TAG_LEN);
	err = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	OPENSSL_cleanse(full, sizeof(full));
	return err;
}

/*
 * New IPv4 total length with the header checksum updated incrementally
 * (RFC 1624, eqn. 3) rather than recomputed: a header that arrived with a
 * bad checksum keeps a bad one, as it would through the data plane's
 * bpf_l3_csum_replace(), instead of being silently made valid.
 */
static void ipv4_set_tot_len(uint8_t *ip, uint16_t len)
{
	uint32_t sum;

	sum = (uint16_t)~get16(ip + 10);
	sum += (uint16_t)~get16(ip + 2);
	sum += len;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(ip + 10, (uint16_t)~sum);
	put16(ip + 2, len);
}

/* Copy the IP and UDP headers described by pi from in to out and set their
 * lengths for an out packet of out_len bytes (in +28 to seal, -28 to open). */
static void copy_headers(const uint8_t *in, const struct gem_pkt_info *pi,
			 uint8_t *out, size_t out_len)
{
	memcpy(out, in, pi->payload_off);
	if (pi->family == AF_INET)
		ipv4_set_tot_len(out, (uint16_t)out_len);
	else
		put16(out + 4, (uint16_t)(out_len - GEM_IPV6_HLEN));
	put16(out + pi->udp_off + 4, (uint16_t)(out_len - pi->udp_off));
}

/* UDP checksum of the new packet out[0..len): 0 stays 0 over IPv4 (the
 * sender asked for none, RFC 768); otherwise computed over the new bytes. */
static int finish_udp_csum(uint8_t *out, size_t len, int family,
			   uint16_t orig_csum)
{
	struct gem_pkt_info po;

	if (gem_pkt_parse(out, len, &po))
		return -EINVAL;	/* cannot happen: lengths were just written */
	if (family == AF_INET && orig_csum == 0)
		gem_pkt_set_udp_csum(out, &po, 0);
	else
		gem_pkt_set_udp_csum(out, &po, gem_pkt_udp_csum(out, &po));
	return 0;
}

int gem_ref_seal(const uint8_t *in, size_t len, uint8_t *out, size_t cap,
		 size_t *out_len, unsigned suite, uint16_t key_id, uint64_t pn,
		 const struct gem_ref_keys *k)
{
	struct gem_pkt_info pi;
	uint8_t m[GEM_AAD_LEN];
	uint8_t *hdr, *ct;
	size_t total;
	int err;

	if (!in || !out || !out_len || !k || overlap(in, len, out, cap))
		return -EINVAL;
	if (suite < GEM_SUITE_HMAC_SHA256 || suite > GEM_SUITE_CHACHA20_POLY1305)
		return -EPROTONOSUPPORT;
	err = gem_pkt_parse(in, len, &pi);
	if (err)
		return err;
	if (pi.payload_len > GEM_MAX_PT)
		return -EMSGSIZE;
	/* GEM_MAX_PT + overhead + a 60-byte IPv4 header fits 16-bit lengths */
	total = len + GEM_OVERHEAD;
	if (cap < total)
		return -EMSGSIZE;

	copy_headers(in, &pi, out, total);
	hdr = out + pi.payload_off;
	ct = hdr + GEM_HDR_LEN;
	gem_ref_hdr_write(hdr, suite, key_id, pn);
	gem_ref_mac_prefix(m, &pi.src, &pi.grp, pi.sport, pi.dport, hdr);
	if (suite == GEM_SUITE_CHACHA20_POLY1305) {
		err = gem_ref_aead(1, k->sek256, m, in + pi.payload_off, ct,
				   pi.payload_len, ct + pi.payload_len);
		if (err)
			goto out;
		goto csum;
	}
	err = gem_ref_ctr(k->sek, key_id, pn, in + pi.payload_off, ct,
			  pi.payload_len);
	if (err)
		goto out;
	/* encrypt-then-MAC: the tag covers the ciphertext */
	err = gem_ref_tag(suite, k, m, ct, pi.payload_len,
			  ct + pi.payload_len);
	if (err)
		goto out;
csum:
	err = finish_udp_csum(out, total, pi.family, pi.udp_csum);
	if (err)
		goto out;
	*out_len = total;
out:
	if (err)
		OPENSSL_cleanse(out, total);
	return err;
}

int gem_ref_open(const uint8_t *in, size_t len, uint8_t *out, size_t cap,
		 size_t *out_len, const struct gem_ref_keys *k,
		 unsigned *suite, uint16_t *key_id, uint64_t *pn)
{
	struct gem_pkt_info pi;
	uint8_t m[GEM_AAD_LEN], tag[GEM_TAG_LEN];
	const uint8_t *hdr, *ct;
	size_t ct_len, total = 0;
	unsigned s;
	uint16_t kid;
	uint64_t n;
	int err;

	if (!in || !out || !out_len || !k || overlap(in, len, out, cap))
		return -EINVAL;
	err = gem_pkt_parse(in, len, &pi);
	if (err)
		return err;
	if (pi.payload_len < GEM_OVERHEAD)
		return -EINVAL;
	hdr = in + pi.payload_off;
	if (hdr[0] != GEM_VERSION)
		return -EPROTONOSUPPORT;
	s = hdr[1];
	if (s < GEM_SUITE_HMAC_SHA256 || s > GEM_SUITE_CHACHA20_POLY1305)
		return -EPROTONOSUPPORT;
	ct_len = pi.payload_len - GEM_OVERHEAD;
	if (ct_len > GEM_MAX_PT)
		return -EMSGSIZE;
	total = len - GEM_OVERHEAD;
	if (cap < total)
		return -EMSGSIZE;
	kid = get16(hdr + 2);
	n = get64(hdr + 4);
	ct = hdr + GEM_HDR_LEN;

	/* authenticate first: nothing reaches out unless the tag is right */
	gem_ref_mac_prefix(m, &pi.src, &pi.grp, pi.sport, pi.dport, hdr);
	if (s == GEM_SUITE_CHACHA20_POLY1305) {
		memcpy(tag, ct + ct_len, GEM_TAG_LEN);
		err = gem_ref_aead(0, k->sek256, m, ct, out + pi.payload_off, ct_len, tag);
		if (err)
			goto out;
		copy_headers(in, &pi, out, total);
		goto csum;
	}
	err = gem_ref_tag(s, k, m, ct, ct_len, tag);
	if (err)
		goto out;
	if (CRYPTO_memcmp(tag, ct + ct_len, GEM_TAG_LEN)) {
		err = -EBADMSG;
		goto out;
	}

	copy_headers(in, &pi, out, total);
	err = gem_ref_ctr(k->sek, kid, n, ct, out + pi.payload_off, ct_len);
	if (err)
		goto wipe;
csum:
	err = finish_udp_csum(out, total, pi.family, pi.udp_csum);
	if (err)
		goto wipe;
	*out_len = total;
	if (suite)
		*suite = s;
	if (key_id)
		*key_id = kid;
	if (pn)
		*pn = n;
	goto out;
wipe:
	OPENSSL_cleanse(out, total);
out:
	OPENSSL_cleanse(tag, sizeof(tag));
	return err;
}
