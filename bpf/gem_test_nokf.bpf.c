// SPDX-License-Identifier: GPL-2.0
/* Test build of the data plane as on a kernel without the BPF crypto kfuncs:
 * the same source with the kfuncs renamed to names no kernel has, so their
 * __weak declarations stay unresolved and the bpf_ksym_exists() guards are
 * exercised for real (selftests/test_dataplane.c nokf_*).  Never attached. */
#define GEM_TEST_MISSING_KFUNCS 1
#include "gem.bpf.c"
