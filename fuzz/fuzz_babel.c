// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer target: gemd's reader of babeld's local interface, line by
 * line (the input split at newlines), into one table that must stay
 * within its bounds. */
#include <stdlib.h>
#include <string.h>

#include "gemd/babel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct babel_state st;
	char line[1024];
	size_t i = 0;

	memset(&st, 0, sizeof(st));
	while (i < size) {
		size_t n = 0;

		while (i < size && data[i] != '\n' && n < sizeof(line) - 1) {
			line[n++] = data[i] ? (char)data[i] : ' ';
			i++;
		}
		line[n] = '\0';
		i++;	/* the newline (or the byte a full line stopped at) */
		babel_parse_line(&st, line);
		if (st.nroute > BABEL_MAX_ROUTES || st.nneigh > BABEL_MAX_NEIGHS ||
		    st.niface > BABEL_MAX_IFACES || st.nxroute > BABEL_MAX_XROUTES)
			abort();
	}
	return 0;
}
