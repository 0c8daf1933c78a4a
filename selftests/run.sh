#!/bin/bash
# Run GEM's test binaries (criterion) and scripts (selftests/*.sh) and print one
# summary line.  A script exits 0 (pass), 77 (skip: missing prerequisite,
# reported, never counted as passed) or anything else (fail).
set -u
passed=0 failed=0 skipped=0
for t in "$@"; do
	name=$(basename "$t")
	echo "=== $name"
	case "$t" in
	*.sh)
		bash "$t"; rc=$?
		case $rc in
		0) passed=$((passed + 1)) ;;
		77) skipped=$((skipped + 1)); echo "SKIP: $name" ;;
		*) failed=$((failed + 1)); echo "FAIL: $name (exit $rc)" ;;
		esac
		;;
	*)
		out=$(mktemp)
		"$t" --jobs=1 2>&1 | tee "$out"; rc=${PIPESTATUS[0]}
		syn=$(grep -a 'Synthesis:' "$out" | tail -n 1)
		rm -f "$out"
		p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$syn")
		f=$(sed -n 's/.*Failing: \([0-9]*\).*/\1/p' <<<"$syn")
		c=$(sed -n 's/.*Crashing: \([0-9]*\).*/\1/p' <<<"$syn")
		if [ -z "$p" ]; then
			failed=$((failed + 1)); echo "FAIL: $name produced no criterion summary (exit $rc)"
			continue
		fi
		passed=$((passed + p)); failed=$((failed + ${f:-0} + ${c:-0}))
		if [ "$rc" != 0 ] && [ "${f:-0}" = 0 ] && [ "${c:-0}" = 0 ]; then
			failed=$((failed + 1)); echo "FAIL: $name exited $rc"
		fi
		;;
	esac
done
echo
echo "total: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
