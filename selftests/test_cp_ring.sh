#!/bin/bash
# Control plane, ring of four nodes, real strongSwan (kernel-libipsec) and
# babeld driven by gemd:
#
#   r1 --- r2
#   |       |       every node: gemd, own SoftHSM token, fd00:0:0:ff::N/128 and
#   r4 --- r3       10.255.0.N/32 on lo, link-local addresses only on links
#
# Checks: every node has two tunnels and Babel routes to every other node and
# reaches it (IPv6; IPv4 over IPv6 next hops), the opposite node over two
# hops; when link r1-r2 fails, traffic goes the other way round, both ends
# tear the lost neighbour's tunnel down, and the direct path comes back with
# the link; captures on every link show only beacons, IKE and ESP; gemctl
# peers/routes; SIGTERM leaves nothing behind.
#
# Times go to $GEM_CP_TIMINGS if set (docs/PERFORMANCE.md).
# Exit 0: pass, 77: skip (missing prerequisite), anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/cp_lib.sh

cp_init cp-ring
START=$(date +%s)
RING=(r1 r2 r3 r4)

echo "--- nodes"
for i in 1 2 3 4; do cp_node "r$i" "$i"; done
cp_link r1 r2
cp_link r2 r3
cp_link r3 r4
cp_link r4 r1
for n in "${RING[@]}"; do echo "  $n: node $(cp_id "$n"), $(cp_addr "$n"), $(cp_addr4 "$n")"; done

cp_capture_start
echo "--- start gemd on every node"
for n in "${RING[@]}"; do cp_start "$n"; done
if T_START=$(cp_wait_mesh 150 "${RING[@]}"); then
	check_eq "full reachability in the ring" ok ok
	echo "  converged in $T_START s"
else
	check_eq "full reachability in the ring within 150 s" no yes
	T_START=-
fi

# ring_optimal: every node's installed routes have the shortest metric
# (96 per hop: neighbours 96, the opposite node 192), IPv6 and IPv4.
ring_optimal() {
	local i j d r
	for i in 1 2 3 4; do
		r=$(cp_routes "r$i") || return 1
		for j in 1 2 3 4; do
			[ "$i" = "$j" ] && continue
			d=$(( (i - j + 4) % 4 ))
			[ "$d" = 3 ] && d=1
			jq_ok "$r" '[.routes[] | select((.prefix == $p6 or .prefix == $p4) and .installed) | .metric] == [$m, $m]' \
				--arg p6 "fd00:0:0:ff::$j/128" --arg p4 "10.255.0.$j/32" --argjson m $((d * 96)) ||
				return 1
		done
	done
}
t0=$(date +%s%3N)
if gem_wait_for 60 ring_optimal; then
	T_OPT=$(awk "BEGIN{printf \"%.1f\", ($(date +%s%3N) - $t0) / 1000 + $T_START}")
	check_eq "every node on shortest paths" ok ok
	echo "  shortest paths everywhere $T_OPT s after start"
else
	check_eq "every node on shortest paths within 60 s more" no yes
	T_OPT=-
fi

echo "--- tunnels and routes"
for n in "${RING[@]}"; do
	gem_wait_for 30 cp_established "$n" 2
	check "$n: 2 established tunnels with Babel neighbours" cp_established "$n" 2
	check "$n: 3 IPv6 and 3 IPv4 Babel routes in the kernel" \
		test "$(nsx "$n" ip -6 route show proto babel | grep -c ' via ')$(
			nsx "$n" ip -4 route show proto babel | grep -c ' via inet6 ')" = 33
done
# metric: 96 per hop on a wired link
check "r1 reaches r3 (opposite) over two hops (metric 192)" \
	jq_ok "$(cp_routes r1)" '[.routes[] | select(.prefix == "fd00:0:0:ff::3/128" and .installed)][0].metric == 192'
check "r1 reaches r2 directly (metric 96, neighbour r2)" \
	jq_ok "$(cp_routes r1)" '[.routes[] | select(.prefix == "fd00:0:0:ff::2/128" and .installed)][0] | .metric == 96 and .neighbour == $r2' \
	--arg r2 "$(cp_id r2)"
"$GEMCTL" peers --socket "$T/r1/run/gemd.sock" | sed 's/^/    /'
"$GEMCTL" routes --socket "$T/r1/run/gemd.sock" | grep -E 'PREFIX|yes|exported' | sed 's/^/    /'

PAT=474d2d52494e472d434c454152  # "GM-RING-CLEAR"
check "r1 -> r3 echo (IPv6) with a marked payload" \
	cp_echo_pat r1 "$(cp_addr r1)" "$(cp_addr r3)" "$PAT"
check "r1 -> r3 echo (IPv4) with a marked payload" \
	cp_echo_pat r1 "$(cp_addr4 r1)" "$(cp_addr4 r3)" "$PAT"

echo "--- link r1-r2 fails (r1's end down)"
nsx r1 ip link set e-r2 down
if T_FAIL=$(cp_wait_mesh 120 "${RING[@]}"); then
	check_eq "full reachability again without link r1-r2" ok ok
	echo "  rerouted in $T_FAIL s"
else
	check_eq "full reachability without link r1-r2 within 120 s" no yes
	T_FAIL="> 120"
fi
check "r1 reaches r2 the other way round (via r4, metric 288)" \
	jq_ok "$(cp_routes r1)" '[.routes[] | select(.prefix == "fd00:0:0:ff::2/128" and .installed)][0] | .metric == 288 and .neighbour == $r4' \
	--arg r4 "$(cp_id r4)"
gem_wait_for 30 bash -c "'$GEMCTL' -j peers --socket '$T/r2/run/gemd.sock' | jq -e '.peers | length == 1' >/dev/null"
check "r2 tore down its tunnel to r1 (neighbour lost)" \
	jq_ok "$(cp_peers r2)" '[.peers[].node_id] == [$r3]' --arg r3 "$(cp_id r3)"
gem_wait_for 30 bash -c "'$GEMCTL' -j peers --socket '$T/r1/run/gemd.sock' | jq -e '.peers | length == 1' >/dev/null"
check "r1 tore down its tunnel to r2" \
	jq_ok "$(cp_peers r1)" '[.peers[].node_id] == [$r4]' --arg r4 "$(cp_id r4)"
check "r1: one TUN left" test "$(nsx r1 ip -o link show type tun | wc -l)" = 1
check "r1 and r2 log the loss" \
	bash -c "grep -q 'neighbour $(cp_id r2) on e-r2 lost' '$T/r1/gemd.log' && grep -q 'neighbour $(cp_id r1) on e-r1 lost' '$T/r2/gemd.log'"

echo "--- link r1-r2 back"
nsx r1 ip link set e-r2 up
t_up=$(date +%s%3N)
direct() {
	jq_ok "$(cp_routes r1)" \
		'[.routes[] | select(.prefix == "fd00:0:0:ff::2/128" and .installed)][0].metric == 96'
}
if gem_wait_for 120 direct; then
	T_BACK=$(awk "BEGIN{printf \"%.1f\", ($(date +%s%3N) - $t_up) / 1000}")
	check_eq "r1 reaches r2 directly again" ok ok
	echo "  direct route back $T_BACK s after the link came up"
else
	check_eq "r1 reaches r2 directly again within 120 s" no yes
	T_BACK="> 120"
fi
check "r1: 2 established tunnels again" cp_established r1 2
check "r2: 2 established tunnels again" cp_established r2 2
check "full reachability with the link back" cp_mesh_ok "${RING[@]}"

echo "--- stop (SIGTERM) and look for leftovers"
for n in "${RING[@]}"; do cp_stop "$n"; done
for n in "${RING[@]}"; do
	check "$n: nothing left behind (process, TUN, rule, route, address, run_dir, mount)" \
		cp_leftovers "$n"
done

cp_capture_stop
echo "--- captures"
check "links carry only beacons, IKE and ESP; no Babel, no ping payload in clear" \
	cp_capture_check "$PAT"

echo "--- times (ring of 4)"
echo "  start to full reachability: $T_START s"
echo "  start to shortest paths everywhere: $T_OPT s"
echo "  link r1-r2 down to full reachability around the ring: $T_FAIL s"
echo "  link r1-r2 up again to direct route r1-r2: $T_BACK s"
if [ -n "${GEM_CP_TIMINGS:-}" ]; then
	{
		echo "ring|start to full reachability|$T_START"
		echo "ring|start to shortest paths everywhere|$T_OPT"
		echo "ring|link r1-r2 down: full reachability around the ring|$T_FAIL"
		echo "ring|link r1-r2 up again: direct route back|$T_BACK"
	} >>"$GEM_CP_TIMINGS"
fi

if [ "$GEM_FAILED" != 0 ]; then
	for n in "${RING[@]}"; do echo "--- $n gemd.log (last 25 lines)"; tail -n 25 "$T/$n/gemd.log"; done
	echo "test_cp_ring: $GEM_FAILED of $GEM_CHECKS checks failed ($(($(date +%s) - START)) s)"
	exit 1
fi
echo "test_cp_ring: all $GEM_CHECKS checks passed ($(($(date +%s) - START)) s)"
exit 0
