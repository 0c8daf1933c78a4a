#!/bin/bash
# Key hygiene of gemd (issue 14, item 5; docs/CONTROL.md 9):
#   - a PIN file open to group or others is refused, by --check-config and at
#     start, with the file named and the chmod to run; 0600 and 0400 pass;
#   - a running gemd has all its memory locked (VmLck in /proc/PID/status,
#     the kernel's count), RLIMIT_CORE 0 (/proc/PID/limits) and is not
#     dumpable (prctl(PR_GET_DUMPABLE) in gemd: `process.dumpable` in
#     gemctl -j control-stats);
#   - the charon it starts for a neighbour inherits RLIMIT_CORE 0.
# Exit 0: pass, 77: skip (missing prerequisite), anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/cp_lib.sh

cp_init gemd-hyg
START=$(date +%s)
cp_node a 1
cp_node b 2
cp_link a b
cp_conf a
cstats() { "$GEMCTL" -j control-stats --socket "$T/$1/run/gemd.sock"; }

echo "--- PIN file modes"
for mode in 0640 0604 0660 0606; do
	chmod "$mode" "$T/a/pin"
	out=$(SOFTHSM2_CONF=$T/a/softhsm2.conf "$GEMD" -c "$T/a/gemd.conf" --check-config 2>&1)
	rc=$?
	check "pin_file mode $mode: --check-config fails" test "$rc" != 0
	check "pin_file mode $mode: the message names the file and the chmod" \
		grep -qF "[hsm] pin_file '$T/a/pin' is mode $mode: open to group or others; refused (run: chmod 600 $T/a/pin)" <<<"$out"
done
echo "    $out"
chmod 0640 "$T/a/pin"
timeout 20 env SOFTHSM2_CONF="$T/a/softhsm2.conf" "$GEMD" -c "$T/a/gemd.conf" >"$T/start.log" 2>&1
rc=$?
check "pin_file mode 0640: gemd does not start (exit $rc)" test "$rc" = 1
check "... and says why" grep -q "open to group or others; refused" "$T/start.log"
check "... before it touched the token or the run dir" \
	bash -c "! grep -q 'starting: node' '$T/start.log' && [ ! -e '$T/a/run/gemd.pid' ]"
for mode in 0600 0400; do
	chmod "$mode" "$T/a/pin"
	check "pin_file mode $mode: --check-config passes" \
		env SOFTHSM2_CONF="$T/a/softhsm2.conf" "$GEMD" -c "$T/a/gemd.conf" --check-config >/dev/null
done
chmod 0600 "$T/a/pin"

echo "--- a running gemd: memory locked, no core dumps"
cp_start a
cp_start b
sock_up() { cstats "$1" | jq -e .node_id; }
gem_wait_for 30 sock_up a || gem_die "a's gemd did not come up: $(tail -5 "$T/a/gemd.log")"
PID=$(cp_gemd_pid a)
lck=$(awk '/^VmLck:/ {print $2}' "/proc/$PID/status")
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$PID/status")
core=$(awk '/^Max core file size/ {print $5 " " $6}' "/proc/$PID/limits")
echo "  gemd pid $PID: VmLck $lck kB, VmRSS $rss kB, core limit (soft hard) $core"
echo "  control-stats process: $(cstats a | jq -c .process)"
# vvar/vdso-like special mappings are resident but never counted as locked
check "gemd: memory locked (VmLck $lck kB, at least 95% of VmRSS $rss kB)" \
	test $((${lck:-0} * 100)) -ge $((${rss:-1} * 95))
check "gemd: RLIMIT_CORE 0 (soft and hard)" test "$core" = "0 0"
check "gemd: not dumpable (prctl PR_GET_DUMPABLE = 0)" \
	jq_ok "$(cstats a)" '.process.dumpable == 0 and .process.core_limit == 0'
echo "--- the charon gemd starts for its neighbour"
charon_pid() {
	local p
	for p in $(ip netns pids "$(gem_nsname a)"); do
		[ "$(cat /proc/"$p"/comm 2>/dev/null)" = charon ] && { echo "$p"; return 0; }
	done
	return 1
}
gem_wait_for 30 charon_pid || gem_die "no charon in a"
CP=$(charon_pid)
ccore=$(awk '/^Max core file size/ {print $5 " " $6}' "/proc/$CP/limits")
clck=$(awk '/^VmLck:/ {print $2}' "/proc/$CP/status")
echo "  charon pid $CP: core limit $ccore, VmLck $clck kB (not locked: charon's own memory)"
check "charon: inherits RLIMIT_CORE 0" test "$ccore" = "0 0"
cp_stop a
cp_stop b
if [ "$GEM_FAILED" != 0 ]; then
	echo "test_gemd_hygiene: $GEM_FAILED of $GEM_CHECKS checks failed ($(($(date +%s) - START)) s)"
	exit 1
fi
echo "test_gemd_hygiene: all $GEM_CHECKS checks passed ($(($(date +%s) - START)) s)"
exit 0
