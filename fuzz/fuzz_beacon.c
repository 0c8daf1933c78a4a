// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer target: gemd's discovery beacon decoder (docs/CONTROL.md
 * section 3) on arbitrary datagrams.  What decodes must re-encode to a
 * prefix of the input that decodes to the same beacon. */
#include <stdlib.h>
#include <string.h>

#include "gemd/disc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gem_beacon b, d;
	uint8_t buf[GEM_BEACON_MAX_LEN];
	int n;

	if (gem_beacon_decode(data, size, &b) != 0)
		return 0;
	if (b.n > GEM_BEACON_MAX_ENTRIES || strlen(b.name) > GEM_BEACON_NAME_MAX)
		abort();
	n = gem_beacon_encode(&b, buf, sizeof(buf));
	if (n <= 0 || (size_t)n > size || gem_beacon_decode(buf, n, &d) != 0)
		abort();
	if (memcmp(b.id, d.id, 8) != 0 || b.n != d.n || b.hold_ms != d.hold_ms ||
	    strcmp(b.name, d.name) != 0)
		abort();
	for (unsigned int i = 0; i < b.n; i++)
		if (b.e[i].port != d.e[i].port || b.e[i].gen != d.e[i].gen ||
		    b.e[i].flags != d.e[i].flags || memcmp(b.e[i].id, d.e[i].id, 8) != 0)
			abort();
	return 0;
}
