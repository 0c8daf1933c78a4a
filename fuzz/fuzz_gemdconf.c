// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer target: gemd's configuration parser (libinih + gemd/config.c)
 * on arbitrary text.  An error is one line "NAME:LINE: ..." or "NAME: ...";
 * a success has the required keys. */
#include <stdlib.h>
#include <string.h>

#include "gemd/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gemd_config c;
	char err[512], *text;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';	/* inih reads a C string: stops at the first NUL */
	err[0] = '\0';
	if (gemd_config_parse_string(&c, "f.conf", text, err, sizeof(err)) == 0) {
		if (c.nifaces < 1 || !c.pin_file[0] || !c.socket[0] || c.hold_ms < 2 * c.beacon_ms)
			abort();
	} else if (strncmp(err, "f.conf:", 7) != 0 || strchr(err, '\n')) {
		abort();
	}
	free(text);
	return 0;
}
