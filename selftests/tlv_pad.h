/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Padding in a control packet, for the tests of receivers (docs/PROTOCOL.md:
 * Pad1 and PadN are skipped wherever they stand).  gemd itself never pads,
 * so this builder lives with the tests (issue 17), appending to a packet made
 * with gem_tlv_pkt_init() like the gem_tlv_pkt_add_*() of gemd/tlv.c.
 */
#ifndef GEM_TEST_TLV_PAD_H
#define GEM_TEST_TLV_PAD_H

#include <errno.h>
#include <string.h>

#include "gemd/tlv.h"

/* n bytes of padding: one Pad1 if n is 1, else a PadN of n - 2 zero bytes
 * (n <= 257); -EINVAL, or -ENOSPC (packet unchanged) if it does not fit. */
static inline int gem_tlv_pkt_add_pad(struct gem_tlv_pkt *p, size_t n)
{
	if (n == 0 || n > 257)
		return -EINVAL;
	if (p->cap - p->len < n)
		return -ENOSPC;
	if (n == 1) {
		p->buf[p->len] = GEM_TLV_PAD1;
	} else {
		p->buf[p->len] = GEM_TLV_PADN;
		p->buf[p->len + 1] = (uint8_t)(n - 2);
		memset(p->buf + p->len + 2, 0, n - 2);
	}
	p->len += n;
	p->ack_off = 0;
	return 0;
}

#endif
