#!/bin/bash
# Run every fuzz target for FUZZ_SECONDS (default 10) each, seeded from its
# corpus directory fuzz/corpus/NAME (test vectors), and print one line per
# target: executions, coverage, findings.  Exit 1 on any crash.
set -u
secs=${FUZZ_SECONDS:-10}
out=build/fuzz
fail=0
for bin in "$out"/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	corpus=$out/corpus/$name
	mkdir -p "$corpus" "$out/artifacts/$name"
	[ -d "fuzz/corpus/$name" ] && cp -n fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null
	log=$out/$name.log
	"$bin" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=1024 \
		-artifact_prefix="$out/artifacts/$name/" "$corpus" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | awk '{print $2}')
	if [ $rc -ne 0 ]; then
		fail=1
		echo "$name: FAILED (exit $rc), see $log and $out/artifacts/$name/"
		grep -m 5 -E 'ERROR|SUMMARY' "$log"
	else
		echo "$name: ${secs}s, ${execs:-?} executions, coverage ${cov:-?} edges, no findings"
	fi
done
exit $fail
