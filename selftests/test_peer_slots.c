// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Neighbour slots under a beacon flood (gemd_peer_victim, gemd/gemd.h):
 * forged ids fill a link's half-open allowance or the whole table; proven
 * neighbours are never evicted; a half-open one goes after the grace time or
 * a failed identity proof; a neighbour that proved its id on the link before
 * comes back at once.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "gemd/gemd.h"

#define N 16

static struct gemd_peer peers[N];

static void set(int i, int iface, uint64_t first_seen, bool proven)
{
	memset(&peers[i], 0, sizeof(peers[i]));
	peers[i].used = true;
	peers[i].iface = iface;
	peers[i].first_seen_ms = first_seen;
	peers[i].proven = proven;
	peers[i].id[0] = i + 1;
}

static void clear(void)
{
	memset(peers, 0, sizeof(peers));
}

Test(slots, free_room_no_eviction)
{
	const char *why;

	clear();
	set(0, 0, 0, true);
	set(1, 0, 0, false);
	cr_assert_eq(gemd_peer_victim(peers, N, 0, false, false, 1000, &why), -1);
	cr_assert_null(why);
}

Test(slots, half_open_limit_per_link)
{
	const char *why;
	uint64_t now = 1000000;

	clear();
	for (unsigned int i = 0; i < GEMD_PEER_HALF_OPEN_MAX; i++)
		set(i, 1, now - 1000 + i, false);	/* young forged ids on link 1 */
	/* an unknown newcomer on link 1: refused, nothing evictable yet */
	cr_assert_eq(gemd_peer_victim(peers, N, 1, false, false, now, &why), -1);
	cr_assert_str_eq(why, "half-open");
	/* link 0 is not affected */
	cr_assert_eq(gemd_peer_victim(peers, N, 0, false, false, now, &why), -1);
	cr_assert_null(why);
	/* a neighbour that proved its id on link 1 before: evicts the oldest */
	cr_assert_eq(gemd_peer_victim(peers, N, 1, true, false, now, &why), 0);
	/* after the grace time the oldest goes for anyone */
	cr_assert_eq(gemd_peer_victim(peers, N, 1, false, false,
				      now - 1000 + GEMD_PEER_GRACE_MS + 3, &why), 0);
	/* a failed proof makes one evictable at once */
	peers[5].ident.failures = 1;
	cr_assert_eq(gemd_peer_victim(peers, N, 1, false, false, now, &why), 5);
}

Test(slots, full_table_proven_kept)
{
	const char *why;
	uint64_t now = 1000000;

	clear();
	for (int i = 0; i < N; i++)
		set(i, i % 4, now - 100, i % 2 == 0);	/* half proven, half forged */
	/* the table is full, no half-open one old enough: an unknown is refused */
	cr_assert_eq(gemd_peer_victim(peers, N, 3, false, true, now, &why), -1);
	cr_assert_str_eq(why, "full");
	/* a known neighbour takes a half-open slot, never a proven one */
	int v = gemd_peer_victim(peers, N, 3, true, true, now, &why);
	cr_assert_geq(v, 0);
	cr_assert_not(peers[v].proven);
	/* all proven: even a known one is refused */
	for (int i = 0; i < N; i++)
		peers[i].proven = true;
	cr_assert_eq(gemd_peer_victim(peers, N, 3, true, true, now, &why), -1);
	cr_assert_str_eq(why, "full");
}

Test(slots, flood_never_takes_a_proven_slot)
{
	const char *why;
	uint64_t now = 5000000;

	/* a flood of new ids over time: whatever it evicts is half-open */
	clear();
	set(0, 0, 0, true);
	set(1, 1, 0, true);
	for (uint64_t t = 0; t < 200; t++) {
		bool full = true;
		int v, freei = -1;

		for (int i = 0; i < N; i++) {
			full &= peers[i].used;
			if (!peers[i].used && freei < 0)
				freei = i;
		}
		v = gemd_peer_victim(peers, N, (int)(t % 2), false, full, now + t * 1000, &why);
		if (v >= 0) {
			cr_assert_not(peers[v].proven, "evicted a proven neighbour at t=%llu",
				      (unsigned long long)t);
			freei = v;
		} else if (why) {
			continue;
		}
		cr_assert_geq(freei, 0);
		set(freei, (int)(t % 2), now + t * 1000, false);
		unsigned int half[2] = { 0, 0 };
		for (int i = 0; i < N; i++)
			if (peers[i].used && !peers[i].proven)
				half[peers[i].iface]++;
		cr_assert_leq(half[0], GEMD_PEER_HALF_OPEN_MAX);
		cr_assert_leq(half[1], GEMD_PEER_HALF_OPEN_MAX);
	}
	cr_assert(peers[0].proven && peers[0].used && peers[1].proven && peers[1].used);
}
