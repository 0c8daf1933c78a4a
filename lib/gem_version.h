/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The build's version (scripts/version.sh: git describe at build time) and
 * map-layout fingerprint (a hash of bpf/gem_common.h), from the generated
 * build/gem_build.h, for --version and the pinned gem_stamp. */
#ifndef GEM_VERSION_LIB_H
#define GEM_VERSION_LIB_H

#include <stdio.h>

extern const char gem_build_version[];
extern const unsigned gem_build_layout;

/* "PROG (GEM) VERSION, map layout XXXXXXXX" on f: every tool's --version. */
void gem_print_version(FILE *f, const char *prog);

#endif
