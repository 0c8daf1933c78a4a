#!/bin/bash
# Run GEM's test binaries (criterion) and scripts (selftests/*.sh) and print one
# summary line.  A script exits 0 (pass), 77 (skip: missing prerequisite,
# reported, never counted as passed) or anything else (fail); a criterion
# test skips with cr_skip_test.
#
# With CI set (to anything but "" or 0), a skip fails the run: CI runs on a
# fresh machine where the README's command installed everything, so a skip
# there is a dependency that scripts/deps.sh does not name.
set -u
passed=0 failed=0 skipped=0
skips=()
ci=0
case "${CI:-}" in "" | 0 | false) ;; *) ci=1 ;; esac
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for t in "$@"; do
	name=$(basename "$t")
	echo "=== $name"
	case "$t" in
	*.sh)
		bash "$t" 2>&1 | tee "$out"; rc=${PIPESTATUS[0]}
		case $rc in
		0) passed=$((passed + 1)) ;;
		77)
			skipped=$((skipped + 1))
			why=$(grep -a '^SKIP:' "$out" | tail -n 1 | sed 's/^SKIP: *//')
			skips+=("$name: ${why:-no reason printed}")
			echo "SKIP: $name"
			;;
		*) failed=$((failed + 1)); echo "FAIL: $name (exit $rc)" ;;
		esac
		;;
	*)
		# --verbose is the only way criterion reports skipped tests; the
		# RUN/PASS lines it adds are left out of the terminal.
		"$t" --jobs=1 --verbose 2>&1 | tee "$out" | grep -av '^\[\(RUN \|PASS\)\]'
		rc=${PIPESTATUS[0]}
		syn=$(grep -a 'Synthesis:' "$out" | tail -n 1)
		p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$syn")
		f=$(sed -n 's/.*Failing: \([0-9]*\).*/\1/p' <<<"$syn")
		c=$(sed -n 's/.*Crashing: \([0-9]*\).*/\1/p' <<<"$syn")
		if [ -z "$p" ]; then
			failed=$((failed + 1)); echo "FAIL: $name produced no criterion summary (exit $rc)"
			continue
		fi
		passed=$((passed + p)); failed=$((failed + ${f:-0} + ${c:-0}))
		while IFS= read -r line; do
			skipped=$((skipped + 1))
			skips+=("$name: ${line#\[SKIP\] }")
		done < <(grep -a '^\[SKIP\]' "$out")
		if [ "$rc" != 0 ] && [ "${f:-0}" = 0 ] && [ "${c:-0}" = 0 ]; then
			failed=$((failed + 1)); echo "FAIL: $name exited $rc"
		fi
		;;
	esac
done
echo
for s in "${skips[@]}"; do
	echo "skipped: $s"
done
echo "total: $passed passed, $failed failed, $skipped skipped"
if [ "$ci" = 1 ] && [ "$skipped" != 0 ]; then
	echo "FAIL: $skipped skipped with CI set: on a fresh machine a skip is a missing dependency" \
		"(add it to scripts/deps.sh)"
	exit 1
fi
[ "$failed" = 0 ]
