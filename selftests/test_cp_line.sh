#!/bin/bash
# Control plane, line of three nodes plus an intruder, with real strongSwan
# (kernel-libipsec) and babeld driven by gemd:
#
#   n1 --- n2 --- n3          every node: gemd, own SoftHSM token, addresses
#           |                 fd00:0:0:ff::N/128 and 10.255.0.N/32 on lo, no
#           |                 address on links (link-local only)
#           x                 x: a node whose Bootstrap Key differs
#
# Checks: every node gets Babel routes to every other and reaches it (IPv6;
# IPv4 over IPv6 next hops); the
# intruder brings up no tunnel (IKE authentication fails, logged on both
# sides) and gets no route; captures on every link show only beacons, IKE and
# ESP-in-UDP (no Babel, no ping payload in clear); kill -9 of one charon,
# then babeld, then gemd on the transit node n2 each recover without help
# (gemd is restarted by a service-manager stand-in after 1 s); gemctl
# peers/routes; teardown leaves nothing behind.
#
# Recovery times go to $GEM_CP_TIMINGS if set (docs/PERFORMANCE.md).
# Exit 0: pass, 77: skip (missing prerequisite), anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/cp_lib.sh

cp_init cp-line
START=$(date +%s)

echo "--- nodes"
cp_node n1 1
cp_node n2 2
cp_node n3 3
cp_node x 9 "$T/bk-other"
cp_link n1 n2
cp_link n2 n3
cp_link n2 x
for n in n1 n2 n3 x; do echo "  $n: node $(cp_id "$n"), $(cp_addr "$n")"; done

echo "--- gemd --check-config"
check "a node's configuration checks out" \
	bash -c "'$GEMD' -c '$T/n1/gemd.conf' --check-config | grep -q 'configuration ok'"
printf '[node]\nadress = fd00::1\n' >>"$T/bad.conf"
cat "$T/n1/gemd.conf" "$T/bad.conf" >"$T/n1-bad.conf"
"$GEMD" -c "$T/n1-bad.conf" --check-config >"$T/out" 2>"$T/err"
check_eq "a misspelt key: exit status" "$?" 1
check "... and one clear line: FILE:LINE: [node] unknown key 'adress'" \
	grep -qx "gemd: $T/n1-bad.conf:[0-9]*: \[node\] unknown key 'adress'" "$T/err"

cp_capture_start
echo "--- start gemd on every node"
for n in n1 n2 n3 x; do cp_start "$n"; done
if t=$(cp_wait_mesh 120 n1 n2 n3); then
	check_eq "full reachability n1 n2 n3 after start (s)" ok ok
	T_START=$t
	echo "  converged in $t s"
else
	check_eq "full reachability n1 n2 n3 within 120 s" no yes
	T_START=-
fi

echo "--- tunnels, routes, gemctl"
gem_wait_for 30 cp_established n2 2
check "n2: 2 established tunnels with Babel neighbours" cp_established n2 2
check "n1: 1 established tunnel" cp_established n1 1
check "n3: 1 established tunnel" cp_established n3 1
for n in n1 n2 n3; do
	for m in n1 n2 n3; do
		[ "$n" = "$m" ] && continue
		check "$n: installed Babel route to $m ($(cp_addr "$m")/128, origin $(cp_id "$m"))" \
			jq_ok "$(cp_routes "$n")" \
			'[.routes[] | select(.prefix == $p and .origin == $o and .installed)] | length == 1' \
			--arg p "$(cp_addr "$m")/128" --arg o "$(cp_id "$m")"
	done
	check "$n: kernel has the Babel routes (IPv6, and IPv4 via IPv6 next hops)" \
		test "$(nsx "$n" ip -6 route show proto babel | grep -c '^fd00:0:0:ff::.* via ')$(
			nsx "$n" ip -4 route show proto babel | grep -c '^10.255.0.* via inet6 ')" = 22
	check "$n: no other route into a tunnel (charon's live in tables nothing looks up)" \
		test -z "$(nsx "$n" ip -4 route show table main | grep ipsec | grep -v 'proto babel')$(
			nsx "$n" ip -6 route show table main | grep ipsec | grep -v 'proto babel\|proto kernel')"
done
check "n1 exports its own address" \
	jq_ok "$(cp_routes n1)" '[.exported[].prefix] | sort == ["10.255.0.1/32", "fd00:0:0:ff::1/128"]'
check "n1: route to n3 goes through n2's tunnel" \
	jq_ok "$(cp_routes n1)" '[.routes[] | select(.prefix == "fd00:0:0:ff::3/128")][0].neighbour == $n2' \
	--arg n2 "$(cp_id n2)"
out=$("$GEMCTL" peers --socket "$T/n2/run/gemd.sock")
check "gemctl peers (text) lists n1, n3 and x" \
	bash -c "grep -q '$(cp_id n1)' <<<\"\$0\" && grep -q '$(cp_id n3)' <<<\"\$0\" && grep -q '$(cp_id x)' <<<\"\$0\"" "$out"
echo "$out" | sed 's/^/    /'
"$GEMCTL" routes --socket "$T/n1/run/gemd.sock" | sed 's/^/    /'
"$GEMCTL" -j peers --socket "$T/nonexistent.sock" >"$T/err.json" 2>"$T/err.txt"
check "gemctl -j peers on a dead socket: exit 1, JSON error only" \
	bash -c "jq -e '.error | test(\"cannot reach gemd\")' '$T/err.json' >/dev/null && ! test -s '$T/err.txt'"

check "gemd owns n1's token: gemctl keys is refused while it runs" \
	bash -c "$(declare -f cp_keys); T='$T' GEMCTL='$GEMCTL'; ! cp_keys n1 list 2>'$T/keys.err' >/dev/null && grep -q \"in use by another process (pid \$(cat '$T/n1/run/gemd.pid')\" '$T/keys.err'"

# The PSK, computed here from the BK file, is in no file of the run: runtime
# and state directories (charon's and babeld's files), logs, captures so far.
python3 selftests/cp_psk.py "$T/bk" "$(cp_id n1)" "$(cp_id n2)" >"$T/psk-control"
check "PSK search finds a planted copy (positive control)" \
	bash -c "! python3 selftests/cp_psk.py '$T/bk' $(cp_id n1) $(cp_id n2) '$T/psk-control' >/dev/null"
rm -f "$T/psk-control"
check "the n1-n2 PSK is in no file (run/state dirs, logs, captures)" \
	bash -c "find '$T' -type f -not -path '*/tokens/*' -print0 | xargs -0 python3 selftests/cp_psk.py '$T/bk' $(cp_id n1) $(cp_id n2)"

echo "--- intruder (different Bootstrap Key)"
gem_wait_for 30 grep -q "IKE authentication failed" "$T/n2/gemd.log"
check "n2 logs the IKE authentication failure with x" \
	grep -q "neighbour $(cp_id x) on e-x .*IKE authentication failed" "$T/n2/gemd.log"
gem_wait_for 30 grep -q "IKE authentication failed" "$T/x/gemd.log"
check "x logs the IKE authentication failure with n2" \
	grep -q "neighbour $(cp_id n2) on e-n2 .*IKE authentication failed" "$T/x/gemd.log"
grep -h "IKE authentication failed" "$T/n2/gemd.log" "$T/x/gemd.log" | head -2 | sed 's/^/    /'
check "n2: the tunnel to x is not established, auth failures counted" \
	jq_ok "$(cp_peers n2)" '.peers[] | select(.node_id == $x) | .state != "established" and .auth_failures > 0' \
	--arg x "$(cp_id x)"
check "x: no established tunnel" \
	jq_ok "$(cp_peers x)" '[.peers[] | select(.state == "established")] | length == 0' 
check "x: no Babel route" test -z "$(nsx x ip -6 route show proto babel)"
for n in n1 n2 n3; do
	check "$n: no route to x's address" \
		jq_ok "$(cp_routes "$n")" '[.routes[] | select(.prefix == "fd00:0:0:ff::9/128")] | length == 0'
done
check "x cannot reach n2" bash -c "$(declare -f cp_echo nsx); GEM_NSP=$GEM_NSP CP_HAVE_PING=$CP_HAVE_PING GEM_ROOT=$GEM_ROOT; ! cp_echo x fd00:0:0:ff::9 fd00:0:0:ff::2 2"

echo "--- data through the tunnels (payload pattern must never show in clear)"
PAT=474d2d434c45415254455854  # "GM-CLEARTEXT"
check "n1 -> n3 echo (IPv6) with a marked payload" \
	cp_echo_pat n1 "$(cp_addr n1)" "$(cp_addr n3)" "$PAT"
check "n1 -> n3 echo (IPv4) with a marked payload" \
	cp_echo_pat n1 "$(cp_addr4 n1)" "$(cp_addr4 n3)" "$PAT"

# recover LABEL CMD...: run CMD (a kill), time until full reachability again
TIMINGS=()
recover() {
	local label=$1 t
	shift
	"$@"
	if t=$(cp_wait_mesh 120 n1 n2 n3); then
		echo "  $label: full reachability again after $t s"
		check_eq "$label: recovered" ok ok
	else
		check_eq "$label: recovered within 120 s" no yes
		t="> 120"
	fi
	TIMINGS+=("$label|$t")
}

echo "--- kill -9 the charon of link n2-n1 on n2"
CHARON_PID=$(cp_peers n2 | jq -r --arg n1 "$(cp_id n1)" '.peers[] | select(.node_id == $n1) | .pid')
check "n2: charon pid of link n2-n1 is known ($CHARON_PID)" test "$CHARON_PID" -gt 0
recover "kill -9 charon (link n2-n1, on n2)" kill -KILL "$CHARON_PID"
check "n2 restarted that charon (new pid, restarts 1)" \
	jq_ok "$(cp_peers n2)" '.peers[] | select(.node_id == $n1) | (.pid | tostring) != $old and .restarts == 1' \
	--arg n1 "$(cp_id n1)" --arg old "$CHARON_PID"
check "n2: one TUN per neighbour (3), none stale" \
	test "$(nsx n2 ip -o link show type tun | wc -l)" = 3
check "n2 kept the killed charon's log (charon.log.1 in its tunnel directory)" \
	bash -c "grep -l 'Starting IKE charon daemon' '$T'/n2/run/tun/*/charon.log.1 | grep -q ."
# the same link's charon on n1: the other IKE role (lower node id initiates)
echo "--- kill -9 the charon of link n2-n1 on n1 (n2 is the $(cp_peers n2 | jq -r --arg n1 "$(cp_id n1)" '.peers[] | select(.node_id == $n1) | .role') there)"
CHARON_PID=$(cp_peers n1 | jq -r '.peers[0].pid')
recover "kill -9 charon (link n2-n1, on n1)" kill -KILL "$CHARON_PID"
check "n1: one TUN, none stale" test "$(nsx n1 ip -o link show type tun | wc -l)" = 1

echo "--- kill -9 babeld on n2"
BABELD_PID=$(cp_peers n2 | jq -r .babeld.pid)
check "n2: babeld pid known ($BABELD_PID)" test "$BABELD_PID" -gt 0
recover "kill -9 babeld (on n2)" kill -KILL "$BABELD_PID"
gem_wait_for 10 bash -c "'$GEMCTL' -j peers --socket '$T/n2/run/gemd.sock' | jq -e '.babeld.restarts == 1 and .babeld.connected' >/dev/null"
check "n2 restarted babeld and follows it again" \
	jq_ok "$(cp_peers n2)" '.babeld.restarts == 1 and .babeld.connected and .babeld.pid > 0' 

echo "--- kill -9 gemd on n2 (its service manager restarts it after 1 s)"
GEMD_PID=$(cp_gemd_pid n2)
check "n2: gemd pid known ($GEMD_PID)" test -n "$GEMD_PID"
recover "kill -9 gemd (on n2; restarted after 1 s)" kill -KILL "$GEMD_PID"
check "n2 runs a new gemd" bash -c "p=\$(cat '$T/n2/run/gemd.pid'); [ \"\$p\" != '$GEMD_PID' ] && kill -0 \$p"
check "the new gemd kept the killed one's babeld log and its charons' logs (.1)" \
	bash -c "test -s '$T/n2/run/babeld/babeld.log.1' && test \$(ls '$T'/n2/run/tun/*/charon.log.1 | wc -l) -ge 3"
procs=$(ip netns pids "$(gem_nsname n2)" | xargs -r -I{} cat /proc/{}/comm 2>/dev/null | sort | uniq -c)
check "n2: the killed gemd's charons and babeld are gone (3 charons, 1 babeld, 1 gemd)" \
	test "$(grep -cE ' 3 charon$| 1 babeld$| 1 gemd$' <<<"$procs")" = 3
check "n2: one TUN per neighbour (3)" test "$(nsx n2 ip -o link show type tun | wc -l)" = 3

echo "--- neighbour loss: stop gemd on n3, n2 tears its tunnel down"
cp_stop n3
check "n3: nothing left behind after SIGTERM" cp_leftovers n3
gem_wait_for 30 bash -c "! '$GEMCTL' -j peers --socket '$T/n2/run/gemd.sock' | jq -e --arg n3 '$(cp_id n3)' '.peers[] | select(.node_id == \$n3)' >/dev/null"
check "n2 forgot n3 and stopped its charon" \
	bash -c "! '$GEMCTL' -j peers --socket '$T/n2/run/gemd.sock' | jq -e --arg n3 '$(cp_id n3)' '.peers[] | select(.node_id == \$n3)' >/dev/null"
check "n2 logs the loss" grep -q "neighbour $(cp_id n3) on e-n3 lost" "$T/n2/gemd.log"
# Babel keeps a retracted route as "unreachable" for a while: no route *via* n3
gem_wait_for 20 bash -c "! ip -n $(gem_nsname n1) -6 route show proto babel | grep -q '^fd00:0:0:ff::3 via'"
check "n1 lost its route to n3 (at most an unreachable entry is left)" \
	bash -c "! ip -n $(gem_nsname n1) -6 route show proto babel | grep -q '^fd00:0:0:ff::3 via'"
check "n1 cannot reach n3" bash -c "$(declare -f cp_echo nsx); GEM_NSP=$GEM_NSP CP_HAVE_PING=$CP_HAVE_PING GEM_ROOT=$GEM_ROOT; ! cp_echo n1 fd00:0:0:ff::1 fd00:0:0:ff::3 2"

echo "--- stop (SIGTERM) and look for leftovers"
for n in n1 n2 x; do cp_stop "$n"; done
for n in n1 n2 x; do check "$n: nothing left behind (process, TUN, rule, route, address, run_dir, mount)" cp_leftovers "$n"; done
for n in n1 n2 n3 x; do
	check "$n: gemd never logged a secret or a crash" \
		bash -c "! grep -qiE 'secret =|psk =|segfault|assert' '$T/$n/gemd.log'"
done

cp_capture_stop
echo "--- captures"
check "links carry only beacons, IKE and ESP; no Babel, no ping payload in clear" \
	cp_capture_check "$PAT" x

echo "--- recovery times (transit node n2, line of 3)"
echo "  start to full reachability: $T_START s"
for l in "${TIMINGS[@]}"; do echo "  ${l%%|*}: ${l##*|} s"; done
if [ -n "${GEM_CP_TIMINGS:-}" ]; then
	{
		echo "line|start to full reachability|$T_START"
		for l in "${TIMINGS[@]}"; do echo "line|$l"; done
	} >>"$GEM_CP_TIMINGS"
fi

if [ "$GEM_FAILED" != 0 ]; then
	for n in n1 n2 n3 x; do echo "--- $n gemd.log (last 30 lines)"; tail -n 30 "$T/$n/gemd.log"; done
	echo "test_cp_line: $GEM_FAILED of $GEM_CHECKS checks failed ($(($(date +%s) - START)) s)"
	exit 1
fi
echo "test_cp_line: all $GEM_CHECKS checks passed ($(($(date +%s) - START)) s)"
exit 0
