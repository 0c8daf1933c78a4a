// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gemd discovery beacons (gemd/disc.c): the wire format of docs/CONTROL.md
 * section 3 byte for byte (a vector written out here, not produced by the
 * encoder), round trips, every malformed shape, and random and mutated
 * input that must never crash the decoder or make it read past the buffer
 * (the decoder gets exact-size heap copies, so ASan builds catch overreads).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "gemd/disc.h"

/* node 0102030405060708 named "r1", hold 5 s, one entry: neighbour
 * 1112131415161718, port 7002, READY, generation 0xdeadbeef */
static const uint8_t vec[] = {
	'G', 'E', 'M', 'B', 0x01, 0x00, 0x00, 0x32,		/* magic, v1, flags, 50 x 100 ms */
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,		/* sender */
	0x01, 0x02, 0x00, 0x00,					/* n = 1, m = 2, reserved */
	0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,		/* entry: neighbour */
	0x1b, 0x5a, 0x01, 0x00, 0xde, 0xad, 0xbe, 0xef,		/* port, flags, rsvd, gen */
	'r', '1',
};

static void vec_beacon(struct gem_beacon *b)
{
	static const uint8_t id[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t nid[8] = { 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18 };

	memset(b, 0, sizeof(*b));
	memcpy(b->id, id, 8);
	b->hold_ms = 5000;
	b->n = 1;
	memcpy(b->e[0].id, nid, 8);
	b->e[0].port = 7002;
	b->e[0].flags = GEM_BEACON_F_READY;
	b->e[0].gen = 0xdeadbeef;
	strcpy(b->name, "r1");
}

/* member by member: the struct has padding */
static bool beacon_eq(const struct gem_beacon *a, const struct gem_beacon *b)
{
	if (memcmp(a->id, b->id, 8) != 0 || a->hold_ms != b->hold_ms || a->n != b->n ||
	    strcmp(a->name, b->name) != 0)
		return false;
	for (unsigned int i = 0; i < a->n; i++)
		if (memcmp(a->e[i].id, b->e[i].id, 8) != 0 || a->e[i].port != b->e[i].port ||
		    a->e[i].flags != b->e[i].flags || a->e[i].gen != b->e[i].gen)
			return false;
	return true;
}

/* decode from an exact-size heap copy */
static int dec(const uint8_t *p, size_t n, struct gem_beacon *b)
{
	uint8_t *copy = malloc(n ? n : 1);
	int rc;

	cr_assert_not_null(copy);
	memcpy(copy, p, n);
	rc = gem_beacon_decode(copy, n, b);
	free(copy);
	return rc;
}

Test(beacon, vector_encode)
{
	struct gem_beacon b;
	uint8_t buf[GEM_BEACON_MAX_LEN];
	int n;

	vec_beacon(&b);
	n = gem_beacon_encode(&b, buf, sizeof(buf));
	cr_assert_eq(n, (int)sizeof(vec));
	cr_expect_eq(memcmp(buf, vec, sizeof(vec)), 0);
}

Test(beacon, vector_decode)
{
	struct gem_beacon b, want;

	vec_beacon(&want);
	cr_assert_eq(dec(vec, sizeof(vec), &b), 0);
	cr_expect_eq(memcmp(b.id, want.id, 8), 0);
	cr_expect_eq(b.hold_ms, 5000);
	cr_expect_eq(b.n, 1);
	cr_expect_eq(memcmp(b.e[0].id, want.e[0].id, 8), 0);
	cr_expect_eq(b.e[0].port, 7002);
	cr_expect_eq(b.e[0].flags, GEM_BEACON_F_READY);
	cr_expect_eq(b.e[0].gen, 0xdeadbeef);
	cr_expect_str_eq(b.name, "r1");
}

Test(beacon, round_trip_full)
{
	struct gem_beacon b, d;
	uint8_t buf[GEM_BEACON_MAX_LEN];
	int n;

	memset(&b, 0, sizeof(b));
	memset(b.id, 0xa5, 8);
	b.hold_ms = 6553500;
	b.n = GEM_BEACON_MAX_ENTRIES;
	for (unsigned int i = 0; i < b.n; i++) {
		memset(b.e[i].id, i + 1, 8);
		b.e[i].port = 1000 + i;
		b.e[i].flags = i & 1;
		b.e[i].gen = 0x01010101u * i;
	}
	memset(b.name, 'x', GEM_BEACON_NAME_MAX);
	n = gem_beacon_encode(&b, buf, sizeof(buf));
	cr_assert_eq(n, GEM_BEACON_MAX_LEN);
	cr_assert_eq(dec(buf, n, &d), 0);
	cr_expect(beacon_eq(&b, &d));
	/* hold time rounds up to 100 ms units */
	b.hold_ms = 1;
	n = gem_beacon_encode(&b, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_eq(dec(buf, n, &d), 0);
	cr_expect_eq(d.hold_ms, 100);
}

Test(beacon, encode_errors)
{
	struct gem_beacon b;
	uint8_t buf[GEM_BEACON_MAX_LEN];

	vec_beacon(&b);
	cr_expect_eq(gem_beacon_encode(&b, buf, sizeof(vec) - 1), -EMSGSIZE);
	b.n = GEM_BEACON_MAX_ENTRIES + 1;
	cr_expect_eq(gem_beacon_encode(&b, buf, sizeof(buf)), -EINVAL);
	vec_beacon(&b);
	b.hold_ms = 0;
	cr_expect_eq(gem_beacon_encode(&b, buf, sizeof(buf)), -EINVAL);
	b.hold_ms = 6553600;	/* 65536 units */
	cr_expect_eq(gem_beacon_encode(&b, buf, sizeof(buf)), -EINVAL);
}

Test(beacon, malformed)
{
	struct gem_beacon b;
	uint8_t m[sizeof(vec) + 8];

	for (size_t n = 0; n < sizeof(vec); n++)	/* every truncation */
		cr_expect_eq(dec(vec, n, &b), -EBADMSG, "length %zu", n);
	memcpy(m, vec, sizeof(vec));
	m[0] = 'g';
	cr_expect_eq(dec(m, sizeof(vec), &b), -EBADMSG);
	memcpy(m, vec, sizeof(vec));
	m[4] = 2;
	cr_expect_eq(dec(m, sizeof(vec), &b), -EPROTONOSUPPORT);
	memcpy(m, vec, sizeof(vec));
	m[6] = m[7] = 0;				/* hold 0 */
	cr_expect_eq(dec(m, sizeof(vec), &b), -EBADMSG);
	memcpy(m, vec, sizeof(vec));
	memset(m + 8, 0, 8);				/* sender id 0 */
	cr_expect_eq(dec(m, sizeof(vec), &b), -EBADMSG);
	memcpy(m, vec, sizeof(vec));
	m[16] = GEM_BEACON_MAX_ENTRIES + 1;
	cr_expect_eq(dec(m, sizeof(vec), &b), -EBADMSG);
	memcpy(m, vec, sizeof(vec));
	m[16] = 2;					/* entries beyond the datagram */
	cr_expect_eq(dec(m, sizeof(vec), &b), -EBADMSG);
	memcpy(m, vec, sizeof(vec));
	m[17] = GEM_BEACON_NAME_MAX + 1;
	cr_expect_eq(dec(m, sizeof(m), &b), -EBADMSG);
	memcpy(m, vec, sizeof(vec));
	m[17] = 3;					/* name beyond the datagram */
	cr_expect_eq(dec(m, sizeof(vec), &b), -EBADMSG);
}

Test(beacon, lenient_where_promised)
{
	struct gem_beacon b;
	uint8_t m[sizeof(vec) + 8];

	/* trailing bytes (a later version's fields) and unknown flags are ignored */
	memcpy(m, vec, sizeof(vec));
	memset(m + sizeof(vec), 0x5a, 8);
	m[5] = 0xff;
	cr_expect_eq(dec(m, sizeof(m), &b), 0);
	cr_expect_str_eq(b.name, "r1");
	/* a non-printable name is shown safely */
	memcpy(m, vec, sizeof(vec));
	m[sizeof(vec) - 2] = '\n';
	m[sizeof(vec) - 1] = 0xc3;
	cr_expect_eq(dec(m, sizeof(vec), &b), 0);
	cr_expect_str_eq(b.name, "??");
}

/* xorshift: reproducible */
static uint32_t rnd_state = 0x12345678;
static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static void check_consistent(const uint8_t *p, size_t n)
{
	struct gem_beacon b, d;
	uint8_t buf[GEM_BEACON_MAX_LEN];
	int rc = dec(p, n, &b), len;

	if (rc)
		return;
	/* what decodes re-encodes to the same bytes (up to trailing data,
	 * flags and reserved fields) and decodes to the same beacon */
	cr_assert_leq(b.n, GEM_BEACON_MAX_ENTRIES);
	cr_assert_leq(strlen(b.name), GEM_BEACON_NAME_MAX);
	len = gem_beacon_encode(&b, buf, sizeof(buf));
	cr_assert_gt(len, 0);
	cr_assert_leq((size_t)len, n);
	cr_assert_eq(dec(buf, len, &d), 0);
	cr_assert(beacon_eq(&b, &d));
}

Test(beacon, random_input)
{
	uint8_t buf[GEM_BEACON_MAX_LEN + 64];

	for (int i = 0; i < 200000; i++) {
		size_t n = rnd() % sizeof(buf);

		for (size_t k = 0; k < n; k++)
			buf[k] = rnd();
		if (n >= 5 && (rnd() & 1)) {	/* get past the magic check often */
			buf[0] = 'G';
			buf[1] = 'E';
			buf[2] = 'M';
			buf[3] = 'B';
			buf[4] = 1;
		}
		check_consistent(buf, n);
	}
}

Test(beacon, mutated_valid)
{
	struct gem_beacon b;
	uint8_t good[GEM_BEACON_MAX_LEN], m[GEM_BEACON_MAX_LEN + 16];
	int n;

	vec_beacon(&b);
	b.n = 5;
	for (int i = 1; i < 5; i++)
		b.e[i] = b.e[0];
	n = gem_beacon_encode(&b, good, sizeof(good));
	cr_assert_gt(n, 0);
	for (int i = 0; i < 200000; i++) {
		size_t len = n + (rnd() % 16) - 8;
		int flips = 1 + rnd() % 4;

		memcpy(m, good, n);
		memset(m + n, 0, sizeof(m) - n);
		for (int f = 0; f < flips; f++)
			m[rnd() % (n + 8)] ^= 1u << (rnd() % 8);
		check_consistent(m, len);
	}
}
