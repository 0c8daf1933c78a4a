#!/bin/bash
# Short fuzzing budget for `make test` (issue 8: "the CI run uses a short
# budget"): build every fuzz target (clang-19 libFuzzer + ASan + UBSan) and
# run each for FUZZ_SECONDS (default 5) seconds through fuzz/run.sh, seeded
# from fuzz/corpus/.  The long campaign is `make fuzz FUZZ_SECONDS=60`.
#
# Exit 0: no finding, 1: a crash/leak/UB report or a build failure,
# 77: skip (clang-19 or its libFuzzer runtime missing).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
CLANG=${CLANG_BPF:-clang-19}
command -v "$CLANG" >/dev/null || { echo "SKIP: $CLANG missing (fuzzing needs clang-19 libFuzzer)"; exit 77; }
# libFuzzer runtime present? (clang ships it in its resource dir, separately packaged on some systems)
probe=$(mktemp -d) || exit 1
trap 'rm -rf "$probe"' EXIT
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe/p.c"
"$CLANG" -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" >/dev/null 2>&1 ||
	{ echo "SKIP: $CLANG has no libFuzzer runtime (-fsanitize=fuzzer)"; exit 77; }

targets=$(for f in fuzz/fuzz_*.c; do echo "build/fuzz/$(basename "$f" .c)"; done)
echo "--- build: $(echo $targets | wc -w) fuzz targets"
if ! make -C "$ROOT" --no-print-directory $targets >"$probe/build.log" 2>&1; then
	tail -n 20 "$probe/build.log"
	echo "FAIL: building the fuzz targets"
	exit 1
fi
echo "--- run: ${FUZZ_SECONDS:-5} s each"
FUZZ_SECONDS=${FUZZ_SECONDS:-5} ./fuzz/run.sh
rc=$?
if [ $rc != 0 ]; then
	echo "test_fuzz_short: FAIL (a target reported a finding; see build/fuzz/*.log and build/fuzz/artifacts/)"
	exit 1
fi
echo "test_fuzz_short: all targets ran without findings"
exit 0
