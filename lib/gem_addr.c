// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "gem_addr.h"

static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

bool gem_addr_is_v4(const struct gem_addr *a)
{
	return !memcmp(a->a, v4mapped, sizeof(v4mapped));
}

bool gem_addr_is_multicast(const struct gem_addr *a)
{
	if (gem_addr_is_v4(a))
		return (a->a[12] & 0xf0) == 0xe0;
	return a->a[0] == 0xff;
}

int gem_addr_parse(const char *text, struct gem_addr *a, int *family)
{
	struct in_addr v4;

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, text, &v4) == 1) {
		memcpy(a->a, v4mapped, sizeof(v4mapped));
		memcpy(&a->a[12], &v4, 4);
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, a->a) == 1) {
		*family = AF_INET6;
		return gem_addr_is_v4(a) ? -EINVAL : 0;	/* write IPv4 as a.b.c.d */
	}
	return -EINVAL;
}

const char *gem_addr_str(const struct gem_addr *a, char buf[GEM_ADDR_STRLEN])
{
	if (gem_addr_is_v4(a))
		return inet_ntop(AF_INET, &a->a[12], buf, GEM_ADDR_STRLEN);
	return inet_ntop(AF_INET6, a->a, buf, GEM_ADDR_STRLEN);
}
