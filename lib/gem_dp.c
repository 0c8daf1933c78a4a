// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "gem_dp.h"

const char *const gem_counter_names[GEM_C_MAX] = {
	[GEM_C_TX_SEALED] = "tx_sealed",
	[GEM_C_TX_PASS] = "tx_pass",
	[GEM_C_TX_NO_KEY] = "tx_no_key",
	[GEM_C_TX_NOT_UDP] = "tx_not_udp",
	[GEM_C_TX_FRAGMENT] = "tx_fragment",
	[GEM_C_TX_MALFORMED] = "tx_malformed",
	[GEM_C_TX_TOO_BIG] = "tx_too_big",
	[GEM_C_TX_MTU] = "tx_mtu",
	[GEM_C_TX_GSO] = "tx_gso",
	[GEM_C_TX_PN_EXHAUSTED] = "tx_pn_exhausted",
	[GEM_C_TX_ERROR] = "tx_error",
	[GEM_C_RX_OPENED] = "rx_opened",
	[GEM_C_RX_PASS] = "rx_pass",
	[GEM_C_RX_MALFORMED] = "rx_malformed",
	[GEM_C_RX_NOT_UDP] = "rx_not_udp",
	[GEM_C_RX_FRAGMENT] = "rx_fragment",
	[GEM_C_RX_TOO_BIG] = "rx_too_big",
	[GEM_C_RX_VERSION] = "rx_version",
	[GEM_C_RX_SUITE] = "rx_suite",
	[GEM_C_RX_NO_KEY] = "rx_no_key",
	[GEM_C_RX_KEY_ID] = "rx_key_id",
	[GEM_C_RX_PN_LIMIT] = "rx_pn_limit",
	[GEM_C_RX_BAD_TAG] = "rx_bad_tag",
	[GEM_C_RX_MAC_PREV] = "rx_mac_prev",
	[GEM_C_RX_REPLAY] = "rx_replay",
	[GEM_C_RX_TOO_OLD] = "rx_too_old",
	[GEM_C_RX_ERROR] = "rx_error",
	[GEM_C_RX_TRANSIT] = "rx_transit",
	[GEM_C_TX_TRANSIT] = "tx_transit",
	[GEM_C_TX_TRANSIT_CLEAR] = "tx_transit_clear",
	[GEM_C_LAN_SEALED_DROP] = "lan_sealed_drop",
	[GEM_C_LAN_PASS] = "lan_pass",
};

/* The one table of suite names (gemctl, gemd, gem-load). */
static const char *const suite_names[GEM_SUITE_MAX + 1] = {
	[GEM_SUITE_HMAC_SHA256] = "hmac-sha256",
	[GEM_SUITE_CMAC] = "cmac",
	[GEM_SUITE_POLY1305] = "poly1305",
	[GEM_SUITE_CHACHA20_POLY1305] = "chacha20-poly1305",
};

const char *gem_suite_name(unsigned suite)
{
	return suite <= GEM_SUITE_MAX ? suite_names[suite] : NULL;
}

int gem_suite_parse(const char *name)
{
	for (unsigned s = 1; s <= GEM_SUITE_MAX; s++)
		if (!strcmp(name, suite_names[s]) ||
		    (name[0] == (char)('0' + s) && !name[1]))
			return (int)s;
	return -1;
}

size_t gem_suite_key_len(unsigned suite)
{
	switch (suite) {
	case GEM_SUITE_HMAC_SHA256: return GEM_MAC_KEY_LEN;
	case GEM_SUITE_CMAC: return GEM_CMAC_KEY_LEN;
	}
	/* suite 3 keys its MAC per packet from the SEK, suite 4 is an AEAD
	 * with its own per-packet Poly1305 key: neither has a group key */
	return 0;
}

size_t gem_suite_sek_len(unsigned suite)
{
	if (suite == GEM_SUITE_CHACHA20_POLY1305)
		return GEM_SEK_CHACHA_LEN;
	if (suite >= GEM_SUITE_HMAC_SHA256 && suite <= GEM_SUITE_POLY1305)
		return GEM_SEK_LEN;
	return 0;
}

void gem_hmac_states(const uint8_t key[GEM_MAC_KEY_LEN], uint32_t istate[8],
		     uint32_t ostate[8])
{
	crypto_hash_sha256_state st;
	uint8_t pad[64];

	/* the state after one compression of key^ipad (key^opad) is all the
	 * BPF side needs: it never sees the key itself */
	memset(pad, 0x36, sizeof(pad));
	for (int i = 0; i < GEM_MAC_KEY_LEN; i++)
		pad[i] ^= key[i];
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, pad, sizeof(pad));
	memcpy(istate, st.state, 32);
	memset(pad, 0x5c, sizeof(pad));
	for (int i = 0; i < GEM_MAC_KEY_LEN; i++)
		pad[i] ^= key[i];
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, pad, sizeof(pad));
	memcpy(ostate, st.state, 32);
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(&st, sizeof(st));
}

static void dbl(const uint8_t in[16], uint8_t out[16])
{
	uint8_t carry = in[0] >> 7;

	for (int i = 0; i < 15; i++)
		out[i] = (uint8_t)(in[i] << 1 | in[i + 1] >> 7);
	out[15] = (uint8_t)(in[15] << 1) ^ (carry ? 0x87 : 0);
}

int gem_cmac_subkeys(const uint8_t key[16], uint8_t k1[16], uint8_t k2[16])
{
	static const uint8_t zero[16];
	uint8_t l[16];
	EVP_CIPHER_CTX *c;
	int n = 0, ret = -EIO;

	c = EVP_CIPHER_CTX_new();
	if (!c)
		return -ENOMEM;
	if (EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, key, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(c, 0) != 1 ||
	    EVP_EncryptUpdate(c, l, &n, zero, 16) != 1 || n != 16)
		goto out;
	dbl(l, k1);
	dbl(k1, k2);
	ret = 0;
out:
	OPENSSL_cleanse(l, sizeof(l));
	EVP_CIPHER_CTX_free(c);
	return ret;
}

static int run_ctl(int ctl_fd, struct gem_ctl_req *req)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = req, .ctx_size_in = sizeof(*req));
	int err;

	err = bpf_prog_test_run_opts(ctl_fd, &opts);
	if (err)
		return -errno;
	return (int)opts.retval;
}

int gem_dp_suites(int ctl_fd)
{
	struct gem_ctl_req req = { .op = GEM_OP_SUITES };

	return run_ctl(ctl_fd, &req);
}

/* Run a group op, retrying while another op of the group is under way. */
static int run_group_op(int ctl_fd, struct gem_ctl_req *req)
{
	int ret = -EBUSY;

	for (int i = 0; i < 200; i++) {
		ret = run_ctl(ctl_fd, req);
		if (ret != -EBUSY)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	return ret;
}

/* A group-key request: the suite's form of key (HMAC states, CMAC subkeys
 * and key) in *req, which the caller has mlocked.  0 or -errno. */
static int group_key_req(struct gem_ctl_req *req, __u32 op, const struct gem_addr *grp,
			 unsigned suite, uint32_t epoch, const uint8_t *key)
{
	memset(req, 0, sizeof(*req));
	req->op = op;
	req->sg.grp = *grp;
	req->suite = suite;
	req->flags = GEM_GROUP_F_ACTIVE;
	req->epoch = epoch;
	if (suite == GEM_SUITE_HMAC_SHA256) {
		gem_hmac_states(key, req->hmac_istate, req->hmac_ostate);
	} else if (suite == GEM_SUITE_CMAC) {
		int ret = gem_cmac_subkeys(key, req->cmac_k1, req->cmac_k2);

		if (ret)
			return ret;
		memcpy(req->cmac_key, key, 16);
	}
	return 0;
}

int gem_dp_set_group_epoch(int ctl_fd, const struct gem_addr *grp, unsigned suite,
			   uint32_t epoch, const uint8_t *key, size_t key_len)
{
	struct gem_ctl_req req;
	int ret;

	if (suite < GEM_SUITE_HMAC_SHA256 || suite > GEM_SUITE_MAX)
		return -EPROTONOSUPPORT;
	if (key_len != gem_suite_key_len(suite) || (key_len && !key))
		return -EINVAL;
	sodium_mlock(&req, sizeof(req));
	ret = group_key_req(&req, GEM_OP_SET_GROUP, grp, suite, epoch, key);
	if (!ret)
		ret = run_group_op(ctl_fd, &req);
	sodium_munlock(&req, sizeof(req));	/* also wipes */
	return ret;
}

int gem_dp_set_group(int ctl_fd, const struct gem_addr *grp, unsigned suite,
		     const uint8_t *key, size_t key_len)
{
	return gem_dp_set_group_epoch(ctl_fd, grp, suite, 0, key, key_len);
}

int gem_dp_group_key(int ctl_fd, const struct gem_addr *grp, uint32_t epoch, unsigned suite,
		     const uint8_t *key, size_t key_len)
{
	struct gem_ctl_req req;
	int ret;

	if (suite != GEM_SUITE_HMAC_SHA256 && suite != GEM_SUITE_CMAC)
		return suite >= 1 && suite <= GEM_SUITE_MAX ? -EOPNOTSUPP : -EPROTONOSUPPORT;
	if (!key || key_len != gem_suite_key_len(suite))
		return -EINVAL;
	sodium_mlock(&req, sizeof(req));
	ret = group_key_req(&req, GEM_OP_GROUP_KEY, grp, suite, epoch, key);
	if (!ret)
		ret = run_group_op(ctl_fd, &req);
	sodium_munlock(&req, sizeof(req));
	return ret;
}

static int group_epoch_op(int ctl_fd, __u32 op, const struct gem_addr *grp, uint32_t epoch)
{
	struct gem_ctl_req req;

	memset(&req, 0, sizeof(req));	/* no key material */
	req.op = op;
	req.sg.grp = *grp;
	req.epoch = epoch;
	return run_group_op(ctl_fd, &req);
}

int gem_dp_group_use(int ctl_fd, const struct gem_addr *grp, uint32_t epoch)
{
	return group_epoch_op(ctl_fd, GEM_OP_GROUP_USE, grp, epoch);
}

int gem_dp_group_retire(int ctl_fd, const struct gem_addr *grp, uint32_t epoch)
{
	return group_epoch_op(ctl_fd, GEM_OP_GROUP_RETIRE, grp, epoch);
}

int gem_dp_group_slots(const struct gem_group *v, struct gem_dp_group_slots *out)
{
	unsigned t = v->tx & 1;

	memset(out, 0, sizeof(*out));
	out->has_tx = !!(v->loaded & (1u << t));
	out->tx_epoch = out->has_tx ? v->epoch[t] : 0;
	out->has_other = !!(v->loaded & (1u << (t ^ 1)));
	out->other_epoch = out->has_other ? v->epoch[t ^ 1] : 0;
	return out->has_tx + out->has_other;
}

int gem_dp_set_group_transit(int ctl_fd, const struct gem_addr *grp, unsigned suite)
{
	struct gem_ctl_req req;

	if (suite > GEM_SUITE_MAX)
		return -EPROTONOSUPPORT;
	memset(&req, 0, sizeof(req));
	req.op = GEM_OP_SET_GROUP;
	req.sg.grp = *grp;
	req.suite = suite;
	req.flags = GEM_GROUP_F_ACTIVE | GEM_GROUP_F_TRANSIT;
	return run_group_op(ctl_fd, &req);
}

void gem_dp_sek_fp(const uint8_t sek[GEM_SEK_LEN], uint8_t fp[GEM_SEK_FP_LEN])
{
	gem_dp_sek_fp_len(sek, GEM_SEK_LEN, fp);
}

void gem_dp_sek_fp_len(const uint8_t *sek, size_t sek_len, uint8_t fp[GEM_SEK_FP_LEN])
{
	static const char label[] = "GEM v1 sek-fp";	/* hashed with its NUL */
	crypto_hash_sha256_state st;
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)label, sizeof(label));
	crypto_hash_sha256_update(&st, sek, sek_len);
	crypto_hash_sha256_final(&st, h);
	memcpy(fp, h, GEM_SEK_FP_LEN);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(h, sizeof(h));
}

static int set_sek(int ctl_fd, const struct gem_sg *sg, int tx, uint16_t key_id,
		   const uint8_t *sek, size_t sek_len, uint32_t flags)
{
	struct gem_ctl_req req;
	struct timespec now;
	int ret;

	if (!sek || (sek_len != GEM_SEK_AES_LEN && sek_len != GEM_SEK_CHACHA_LEN))
		return -EINVAL;
	/* the first pn of a new egress entry (docs/PROTOCOL.md 4) */
	if (clock_gettime(CLOCK_REALTIME, &now))
		return -errno;
	sodium_mlock(&req, sizeof(req));
	memset(&req, 0, sizeof(req));
	req.op = tx ? GEM_OP_SET_TX_SEK : GEM_OP_SET_RX_SEK;
	req.key_id = key_id;
	req.sg = *sg;
	memcpy(req.sek, sek, sek_len);
	req.sek_len = (__u32)sek_len;
	gem_dp_sek_fp_len(sek, sek_len, req.sek_fp);
	req.first_pn = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	req.sek_flags = flags;
	/* EBUSY: another process loads a key of this stream right now */
	for (int i = 0; i < 200; i++) {
		ret = run_ctl(ctl_fd, &req);
		if (ret != -EBUSY)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	sodium_munlock(&req, sizeof(req));
	return ret;
}

int gem_dp_set_sek(int ctl_fd, const struct gem_sg *sg, int tx, uint16_t key_id,
		   const uint8_t sek[GEM_SEK_LEN])
{
	return set_sek(ctl_fd, sg, tx, key_id, sek, GEM_SEK_LEN, 0);
}

int gem_dp_set_sek_len(int ctl_fd, const struct gem_sg *sg, int tx, uint16_t key_id,
		       const uint8_t *sek, size_t sek_len)
{
	return set_sek(ctl_fd, sg, tx, key_id, sek, sek_len, 0);
}

int gem_dp_replace_rx_sek(int ctl_fd, const struct gem_sg *sg, uint16_t key_id,
			  const uint8_t sek[GEM_SEK_LEN])
{
	return set_sek(ctl_fd, sg, 0, key_id, sek, GEM_SEK_LEN, GEM_CTL_F_REPLACE);
}

int gem_dp_replace_rx_sek_len(int ctl_fd, const struct gem_sg *sg, uint16_t key_id,
			      const uint8_t *sek, size_t sek_len)
{
	return set_sek(ctl_fd, sg, 0, key_id, sek, sek_len, GEM_CTL_F_REPLACE);
}

static int del_op(int ctl_fd, __u32 op, const struct gem_sg *sg, uint16_t key_id)
{
	struct gem_ctl_req req;
	int ret = -EBUSY;

	memset(&req, 0, sizeof(req));	/* no key material: nothing to lock */
	req.op = op;
	req.sg = *sg;
	req.key_id = key_id;
	for (int i = 0; i < 200 && ret == -EBUSY; i++) {
		ret = run_ctl(ctl_fd, &req);
		if (ret == -EBUSY)
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	return ret;
}

int gem_dp_del_group(int ctl_fd, const struct gem_addr *grp)
{
	struct gem_sg sg;

	memset(&sg, 0, sizeof(sg));
	sg.grp = *grp;
	return del_op(ctl_fd, GEM_OP_DEL_GROUP, &sg, 0);
}

int gem_dp_del_tx(int ctl_fd, const struct gem_sg *sg)
{
	return del_op(ctl_fd, GEM_OP_DEL_TX, sg, 0);
}

int gem_dp_unload_rx_sek(int ctl_fd, const struct gem_sg *sg, uint16_t key_id)
{
	return del_op(ctl_fd, GEM_OP_DEL_RX_SEK, sg, key_id);
}
