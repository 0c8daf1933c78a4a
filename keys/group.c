// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Group addresses as key-derivation context and token labels: always the
 * 16-byte form, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d), like the wire
 * format's MAC input (docs/PROTOCOL.md section 5). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys_internal.h"

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int gem_keys_group_parse(const char *text, uint8_t grp[GEM_KEYS_GROUP_LEN])
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, text, &a4) == 1) {
		memcpy(grp, v4mapped, 12);
		memcpy(grp + 12, &a4, 4);
	} else if (inet_pton(AF_INET6, text, &a6) == 1) {
		memcpy(grp, &a6, 16);
	} else {
		return gk_fail(-EINVAL, CKR_OK,
			       "group '%s': not an IPv4 or IPv6 address", text);
	}
	if (!memcmp(grp, v4mapped, 12) ? (grp[12] & 0xf0) != 0xe0 : grp[0] != 0xff)
		return gk_fail(-EINVAL, CKR_OK,
			       "group '%s': not a multicast address (224.0.0.0/4, ff00::/8)",
			       text);
	return 0;
}

void gem_keys_group_str(const uint8_t grp[GEM_KEYS_GROUP_LEN],
			char buf[GEM_KEYS_GROUP_STRLEN])
{
	if (!memcmp(grp, v4mapped, 12))
		inet_ntop(AF_INET, grp + 12, buf, GEM_KEYS_GROUP_STRLEN);
	else
		inet_ntop(AF_INET6, grp, buf, GEM_KEYS_GROUP_STRLEN);
}

void gem_keys_gak_label(const uint8_t grp[GEM_KEYS_GROUP_LEN], uint32_t epoch,
			char buf[GEM_KEYS_LABEL_MAX + 1])
{
	char g[GEM_KEYS_GROUP_STRLEN];

	gem_keys_group_str(grp, g);
	if (epoch)
		snprintf(buf, GEM_KEYS_LABEL_MAX + 1, GEM_KEYS_LABEL_GAK_PFX "%s#%u", g, epoch);
	else
		snprintf(buf, GEM_KEYS_LABEL_MAX + 1, GEM_KEYS_LABEL_GAK_PFX "%s", g);
}

int gem_keys_gak_label_parse(const char *label, uint8_t grp[GEM_KEYS_GROUP_LEN],
			     uint32_t *epoch)
{
	size_t pl = strlen(GEM_KEYS_LABEL_GAK_PFX);
	char g[GEM_KEYS_GROUP_STRLEN + 16], canon[GEM_KEYS_LABEL_MAX + 1], *h, *end;
	unsigned long e = 0;

	if (strncmp(label, GEM_KEYS_LABEL_GAK_PFX, pl) != 0 || strlen(label + pl) >= sizeof(g))
		return -EINVAL;
	snprintf(g, sizeof(g), "%s", label + pl);
	h = strchr(g, '#');
	if (h) {
		*h++ = 0;
		errno = 0;
		e = strtoul(h, &end, 10);
		if (errno || *end || !*h || *h == '0' || e > UINT32_MAX)
			return -EINVAL;
	}
	if (inet_pton(AF_INET6, g, grp) != 1) {
		memcpy(grp, v4mapped, 12);
		if (inet_pton(AF_INET, g, grp + 12) != 1)
			return -EINVAL;
	}
	/* only the label gem_keys_gak_label makes: one spelling per key */
	gem_keys_gak_label(grp, (uint32_t)e, canon);
	if (strcmp(canon, label) != 0)
		return -EINVAL;
	*epoch = (uint32_t)e;
	return 0;
}
