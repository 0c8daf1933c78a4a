#!/bin/bash
# Forged beacons cannot take the neighbour table (docs/CONTROL.md 3.3).
#
#   x --- v        a flooder on the x-v link announces 64 random node ids,
#                  each asking for the longest hold time (6553.5 s)
#
# Checks: v caps the hold time (60 s), keeps at most 8 half-open neighbours
# (and charons) on the link, counts the refusals; x (proven) is never
# evicted; when x restarts during the flood it comes back at once (it proved
# its id on this link before: it evicts a half-open forged neighbour).
# Exit 0: pass, 77: skip (missing prerequisite), anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/cp_lib.sh

cp_init cp-beacons
START=$(date +%s)

# jqn JSON FILTER [JQ ARGS...]: jq_ok, but false for an empty JSON (jq -e
# succeeds on no input: a gemctl that failed must not pass a check)
jqn() {
	[ -n "$1" ] && jq_ok "$@"
}
# peers_ok NODE FILTER [JQ ARGS...]: FILTER holds for NODE's gemctl -j peers now
# (for gem_wait_for: queried again on every try)
peers_ok() {
	local n=$1
	shift
	jqn "$(cp_peers "$n")" "$@"
}
cp_node v 1
cp_node x 2
cp_link v x
X=$(cp_id x)
cp_start v
cp_start x
gem_wait_for 60 cp_established v 1
check "v: x established with a Babel neighbour" cp_established v 1
gem_wait_for 20 peers_ok v '.peers[] | select(.node_id == $x) | .identity == "proven"' --arg x "$X"

echo "--- 64 forged ids on the link (from x's side), hold 6553.5 s"
gem_bg x flood python3 "$GEM_ROOT/selftests/beacon_flood.py" e-v --ids 64 --seconds 100
# charon processes in v's namespace
charons() {
	local p
	for p in $(ip netns pids "$(gem_nsname v)"); do
		[ "$(cat /proc/"$p"/comm 2>/dev/null)" = charon ] && echo "$p"
	done | wc -l
}
sleep 6
P=$(cp_peers v)
echo "$P" | jq -c '.neighbours' | sed 's/^/    /'
check "v: at most 9 neighbours (x + 8 half-open)" jqn "$P" '(.peers | length) <= 9'
check "v: at most 8 half-open on e-x" \
	jqn "$P" '[.peers[] | select(.link == "e-x" and .identity != "proven")] | length <= 8'
check "v: refusals counted" jqn "$P" '.neighbours.refused_half_open > 0'
check "v: the forged hold times capped at 60 s (and counted)" \
	jqn "$P" '([.peers[] | select(.node_id != $x) | .hold_ms] | max) == 60000 and .neighbours.hold_capped > 0' --arg x "$X"
check "v: x kept, established and proven" \
	jqn "$P" '.peers[] | select(.node_id == $x) | .state == "established" and .identity == "proven"' --arg x "$X"
N=$(charons)
check "v: at most 9 charons (x's + 8 half-open): $N" test "$N" -le 9
check "v reaches x during the flood" cp_ping v x

echo "--- x restarts during the flood"
cp_stop x
gem_wait_for 15 bash -c "! '$GEMCTL' -j peers --socket '$T/v/run/gemd.sock' | jq -e --arg x '$X' '.peers[] | select(.node_id == \$x)' >/dev/null"
check "v: x forgotten after its hold time" \
	jqn "$(cp_peers v)" '[.peers[] | select(.node_id == $x)] | length == 0' --arg x "$X"
sleep 2
t0=$(date +%s)
cp_start x
gem_wait_for 60 peers_ok v '.peers[] | select(.node_id == $x) | .state == "established" and .identity == "proven" and .babel != null' --arg x "$X"
P=$(cp_peers v)
check "v: x back (established, proven, Babel) during the flood, in $(($(date +%s) - t0)) s" \
	jqn "$P" '.peers[] | select(.node_id == $x) | .state == "established" and .identity == "proven" and .babel != null' --arg x "$X"
check "v: a half-open forged neighbour evicted for it" jqn "$P" '.neighbours.evicted >= 1'
check "v logs the eviction" grep -q "evicted after [0-9]* s half-open (identity never proven) for a known neighbour on e-x" "$T/v/gemd.log"
check "v: still at most 8 half-open on e-x" \
	jqn "$P" '[.peers[] | select(.link == "e-x" and .identity != "proven")] | length <= 8'
echo "$P" | jq -c '.neighbours' | sed 's/^/    /'
gem_wait_for 30 cp_ping v x
check "v reaches x" cp_ping v x
gem_stop flood INT

for n in x v; do cp_stop "$n"; done
for n in v x; do check "$n: nothing left behind" cp_leftovers "$n"; done

if [ "$GEM_FAILED" != 0 ]; then
	for n in v; do echo "--- $n gemd.log (last 40 lines)"; tail -n 40 "$T/$n/gemd.log"; done
	echo "test_cp_beacons: $GEM_FAILED of $GEM_CHECKS checks failed ($(($(date +%s) - START)) s)"
	exit 1
fi
echo "test_cp_beacons: all $GEM_CHECKS checks passed ($(($(date +%s) - START)) s)"
exit 0
