/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* gemd's clock (CLOCK_MONOTONIC, milliseconds) and what is measured by it:
 * doubling back-offs and token buckets. */
#ifndef GEMD_CLOCK_H
#define GEMD_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

uint64_t gemd_now_ms(void);	/* CLOCK_MONOTONIC */

/* The next back-off of a retry that doubles up to max (no overflow): charon
 * and babeld restarts, charon start-up, identity proofs, retransmissions. */
static inline unsigned int gemd_backoff_double(unsigned int cur, unsigned int max)
{
	return cur > max / 2 ? max : cur * 2;
}

/* Token bucket: `rate` tokens per second, at most `burst` held; starts full.
 * Integer milli-tokens, so a rate of 1/s over 100 ms ticks loses nothing. */
struct gemd_bucket {
	uint64_t mtok, last_ms;
	unsigned int rate, burst;
};
void gemd_bucket_init(struct gemd_bucket *b, unsigned int rate, unsigned int burst,
		      uint64_t now_ms);
/* Take one token: true, or false (none left: refused, nothing taken). */
bool gemd_bucket_take(struct gemd_bucket *b, uint64_t now_ms);

#endif
