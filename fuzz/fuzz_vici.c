// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer target: gemd's VICI message parser (charon's replies and
 * events) on arbitrary messages. */
#include <stdlib.h>
#include <string.h>

#include "gemd/vici.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vici_res r = { 0 };

	if (vici_parse(data, size, &r) == 0) {
		for (size_t i = 0; i < r.n; i++)
			if (strlen(r.p[i].key) >= sizeof(r.p[i].key) ||
			    strlen(r.p[i].val) >= sizeof(r.p[i].val) ||
			    vici_get(&r, r.p[i].key) == NULL)
				abort();
	}
	vici_res_free(&r);
	return 0;
}
