/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Node ids (8 bytes) and other bytes as text: hex through libsodium,
 * babeld's router-id form. */
#ifndef GEMD_IDS_H
#define GEMD_IDS_H

#include <stddef.h>
#include <stdint.h>

#define GEMD_ID_HEX 17	/* 16 hex digits + NUL */

void gemd_hex(const uint8_t *p, size_t n, char *out);	/* out: 2n+1 bytes */
/* Exactly 2n hex digits (either case) into out: 0, or -EINVAL. */
int gemd_unhex(const char *hex, uint8_t *out, size_t n);
/* 8-byte node id as babeld's router-id (EUI-64 form): "01:23:45:67:89:ab:cd:ef" */
void gemd_id_eui64(const uint8_t id[8], char out[24]);

#endif
