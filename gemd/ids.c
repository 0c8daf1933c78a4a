// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Node ids as text: see ids.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "gemd/ids.h"

/* Hex through libsodium (constant time, as for key-derived bytes). */
void gemd_hex(const uint8_t *p, size_t n, char *out)
{
	sodium_bin2hex(out, 2 * n + 1, p, n);
}

int gemd_unhex(const char *hex, uint8_t *out, size_t n)
{
	size_t got = 0;
	const char *end = NULL;

	if (!hex || strlen(hex) != 2 * n)
		return -EINVAL;
	if (sodium_hex2bin(out, n, hex, 2 * n, NULL, &got, &end) || got != n || *end)
		return -EINVAL;
	return 0;
}

void gemd_id_eui64(const uint8_t id[8], char out[24])
{
	snprintf(out, 24, "%02x:%02x:%02x:%02x:%02x:%02x:%02x:%02x", id[0], id[1], id[2], id[3],
		 id[4], id[5], id[6], id[7]);
}
