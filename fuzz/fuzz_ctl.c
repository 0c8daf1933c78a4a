// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target: GEM control packets (docs/PROTOCOL.md section 10) through
 * the TLV parser and into a live record store.  Invariants: no crash, no
 * out-of-bounds read (ASan), every TLV that decodes re-encodes to exactly its
 * bytes, and the store never sends a packet over its MTU.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemd/db.h"

static size_t mtu = 300;

static int f_send(void *ctx, uint32_t nh, const void *buf, size_t len)
{
	struct gem_tlv_iter it;
	struct gem_tlv t;

	(void)ctx, (void)nh;
	if (len > mtu || gem_tlv_pkt_parse(buf, len, &it))
		abort();
	while (gem_tlv_next(&it, &t) > 0)
		;
	return 0;
}

/* Accept what is "signed" with sig[0] == 0 (2: as checked with the group
 * key), defer sig[0] == 1, refuse the rest with a reason taken from sig[1]. */
static int f_verify(void *ctx, uint32_t nh, const struct gem_rec *r)
{
	(void)ctx, (void)nh;
	if (r->sig[0] == 0)
		return 0;
	if (r->sig[0] == 1)
		return -EAGAIN;
	if (r->sig[0] == 2)
		return GEM_DB_VERIFIED_GROUP;
	return GEM_DB_REJECT(r->sig[1] % (GEM_DB_R__MAX + 2));
}

/* The wall clock runs with the input's clock, from near 0, so that small
 * origin times in the input are live. */
static uint64_t f_now;

static uint64_t f_clock(void *ctx)
{
	(void)ctx;
	return f_now;
}

static int f_sign(void *ctx, struct gem_rec *r)
{
	(void)ctx;
	memset(r->sig, 0, sizeof(r->sig));
	return 0;
}

static void check_tlvs(const uint8_t *data, size_t size)
{
	struct gem_tlv_ack a[GEM_TLV_ACK_MAX];
	struct gem_tlv_iter it;
	struct gem_tlv t;

	if (gem_tlv_pkt_parse(data, size, &it))
		return;
	while (gem_tlv_next(&it, &t) > 0) {
		uint8_t out[300];
		struct gem_rec r;
		int n;

		if (gem_tlv_rec_decode(&t, &r) == 0) {
			n = gem_tlv_rec_encode(&r, out, sizeof(out));
			if (n != 2 + t.len || memcmp(out + 2, t.body, t.len))
				abort();
		} else if (t.type == GEM_TLV_ACK && (n = gem_tlv_ack_decode(&t, a, GEM_TLV_ACK_MAX)) > 0) {
			struct gem_tlv_pkt b;

			gem_tlv_pkt_init(&b, out, sizeof(out));
			for (int i = 0; i < n; i++)
				if (gem_tlv_pkt_add_ack(&b, &a[i]))
					abort();
			if (b.len != 6u + t.len || memcmp(out + 6, t.body, t.len))
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct gem_db_ops ops = { .send = f_send, .verify = f_verify, .sign = f_sign,
					       .clock = f_clock };
	struct gem_db_params p = { .mtu = mtu, .max_records = 64 };
	uint8_t self[8] = { 0x11 };
	struct gem_db *db;
	uint64_t now = 1000;
	size_t off = 0;

	f_now = now;
	check_tlvs(data, size);
	if (gem_db_new(&db, self, &ops, NULL, &p))
		abort();
	gem_db_neigh_up(db, 1, now);
	gem_db_neigh_up(db, 2, now);
	/* several packets: 2-byte length prefixes */
	while (size - off >= 2) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];

		off += 2;
		if (len > size - off)
			len = size - off;
		gem_db_input(db, (uint32_t)(1 + (len & 1)), data + off, len, now);
		off += len;
		now += 700;
		f_now = now;
		gem_db_tick(db, now);
	}
	f_now = now + 10000000;
	gem_db_tick(db, f_now);
	gem_db_free(db);
	return 0;
}
