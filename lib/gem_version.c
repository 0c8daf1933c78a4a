// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "gem_build.h"		/* $(B)/, written by the Makefile */
#include "gem_version.h"

const char gem_build_version[] = GEM_BUILD_VERSION;
const unsigned gem_build_layout = GEM_BUILD_LAYOUT;

void gem_print_version(FILE *f, const char *prog)
{
	fprintf(f, "%s (GEM) %s, map layout %08x\n", prog, gem_build_version, gem_build_layout);
}
