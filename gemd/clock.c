// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* gemd's clock and what is measured by it: see clock.h. */
#include <time.h>

#include "gemd/clock.h"

uint64_t gemd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gemd_bucket_init(struct gemd_bucket *b, unsigned int rate, unsigned int burst,
		      uint64_t now_ms)
{
	b->rate = rate;
	b->burst = burst;
	b->mtok = (uint64_t)burst * 1000;
	b->last_ms = now_ms;
}

bool gemd_bucket_take(struct gemd_bucket *b, uint64_t now_ms)
{
	uint64_t cap = (uint64_t)b->burst * 1000;

	if (now_ms > b->last_ms) {
		uint64_t dt = now_ms - b->last_ms;

		/* dt * rate: no overflow for any dt below 2^64 / 10^4 ms */
		b->mtok = dt >= cap ? cap : b->mtok + dt * b->rate;
		if (b->mtok > cap)
			b->mtok = cap;
		b->last_ms = now_ms;
	}
	if (b->mtok < 1000)
		return false;
	b->mtok -= 1000;
	return true;
}
