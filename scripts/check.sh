#!/bin/bash
# `make check`: static analysis of the user-space code (cppcheck and
# clang-tidy, configs in scripts/cppcheck-gem.cfg and .clang-tidy) with zero
# findings allowed, then every criterion test built with ASan + UBSan.
set -u
cd "$(dirname "$0")/.." || exit 1
srcs=$(git ls-files 'lib/*.c' 'keys/*.c' 'ctl/*.c' 'loader/*.c' 'gemd/*.c' 2>/dev/null)
[ -n "$srcs" ] || srcs=$(ls lib/*.c keys/*.c ctl/*.c loader/*.c gemd/*.c 2>/dev/null)
inc="-D_GNU_SOURCE -I. -Ibpf -Ilib -Ibuild -I/usr/include/p11-kit-1"
fail=0

echo "== cppcheck"
# shellcheck disable=SC2086
out=$(cppcheck -q --enable=warning,portability,performance --library=scripts/cppcheck-gem.cfg \
	--inline-suppr --std=c11 --suppress=missingIncludeSystem $inc $srcs 2>&1)
if [ -n "$out" ]; then
	echo "$out"
	echo "cppcheck: findings"
	fail=1
else
	echo "cppcheck: no findings ($(echo $srcs | wc -w) files)"
fi

echo "== clang-tidy"
# shellcheck disable=SC2086
# build/*.skel.h is bpftool's generated code, not ours: its findings are not counted
out=$(clang-tidy --quiet $srcs -- $inc 2>/dev/null | grep -E '(warning|error):' | grep -v '^build/')
if [ -n "$out" ]; then
	echo "$out"
	echo "clang-tidy: $(echo "$out" | wc -l) findings"
	fail=1
else
	echo "clang-tidy: no findings"
fi

echo "== criterion tests under ASan + UBSan"
make --no-print-directory SAN=1 B=build-san build-san/libgem.a $(ls selftests/test_*.c | sed 's|selftests/\(.*\)\.c|build-san/selftests/\1|') >/dev/null || { echo "sanitizer build failed"; exit 1; }
# lsan.supp: SoftHSM 2.6.1 leaks inside the module, not in GEM (see the file)
ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0 LSAN_OPTIONS=suppressions=$PWD/scripts/lsan.supp \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	./selftests/run.sh $(ls build-san/selftests/test_* | grep -v "\.[od]$") || fail=1
exit $fail
