// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer target: the reference open path (packet parser, length checks,
 * tag check, restore) on arbitrary bytes, for every suite's keys.  Inputs
 * that open must restore to a packet that parses and seals back. */
#include <stdlib.h>
#include <string.h>

#include "gem_pkt.h"
#include "gem_ref.h"

static const struct gem_ref_keys K = {
	.sek = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
		 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f },
	.mac_key = { 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
		     0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
		     0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
		     0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f },
	.cmac_key = { 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
		      0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *in = malloc(size ? size : 1), out[4096], again[4096];
	struct gem_pkt_info pi;
	size_t n = 0, m = 0;
	unsigned suite;
	uint16_t kid;
	uint64_t pn;

	if (!in)
		return 0;
	memcpy(in, data, size);		/* exact-size copy: ASan sees overreads */
	(void)gem_pkt_parse(in, size, &pi);
	(void)gem_pkt_udp_csum_ok(in, size);
	if (gem_ref_open(in, size, out, sizeof(out), &n, &K, &suite, &kid, &pn) == 0) {
		if (gem_pkt_parse(out, n, &pi) || n + GEM_OVERHEAD != size)
			abort();
		if (gem_ref_seal(out, n, again, sizeof(again), &m, suite, kid, pn, &K) ||
		    m != size)
			abort();
	}
	free(in);
	return 0;
}
