#!/bin/bash
# Fault injection on the full stack (issue 8), while a stream runs.
#
#   hostA --lan-- a ---- b ---- c ---- d --lan-- hostD
#
# Set-up as selftests/test_cp_sek.sh (gemd on every node under its restart
# loop, a and d hold the GAK of 239.1.1.1, smcrouted + gem-load forwarding
# hostA -> hostD).  For each fault a fresh numbered stream (selftests/mcast.py,
# $RATE packets/s for $DUR s, same (S,G), so the same SEK) runs; the fault is
# injected 1.5 s in, undone (where it is undone) 3 s later.  Faults:
#
#   kill -9 of gemd, charon, babeld on b (transit) and on d (receiver), of
#   gemd on a (the sealing router, which made and announced the SEK);
#   link flap: the physical link b-c, then b's tunnel (TUN) to c, down 3 s;
#   whole node restart: kill -9 of every process of c (gemd's loop, gemd,
#   charon, babeld, smcrouted), then smcrouted and gemd started again;
#   token unavailable on d: its SoftHSM token directory moved away for 5 s
#   while gemd runs; then moved away, gemd killed (its restarts fail), and
#   put back 8 s later.
#
# Per fault: packets lost (receiver's count of the $((RATE * DUR)) sent), and
# the time from the fault until the control plane is whole again: every node
# has its pre-fault number of established tunnels with a Babel neighbour,
# holds the 4 Public Keys and at least its pre-fault number of SEK Announces
# (a restarted sealing router re-keys and withdraws the old key id), and
# every node pings every other over Babel routes.  Checks: recovery within
# $RECOVER_S s; every packet received byte-identical (bad 0, other 0); after
# the last fault a stream with no loss at all.  The loss per fault is printed
# (a table) and is not a pass/fail criterion except where the data plane
# has no reason to lose anything (the control plane of a transit node).
#
# Exit 0: pass, 77: skip (missing prerequisite), anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/cp_lib.sh

command -v smcrouted >/dev/null || { echo "SKIP: smcrouted missing"; exit 77; }
cp_init faults
START=$(date +%s)
MC=$GEM_ROOT/selftests/mcast.py
GRP=239.1.1.1 SRC=10.1.0.2 PORT=5010
NODES="a b c d"
RATE=${GEM_FAULT_RATE:-100} DUR=${GEM_FAULT_DUR:-6} RECOVER_S=${GEM_FAULT_RECOVER:-60}
COUNT=$((RATE * DUR))

cstats() { "$GEMCTL" -j control-stats --socket "$T/$1/run/gemd.sock" 2>/dev/null; }

echo "--- nodes, links, hosts (as test_cp_sek.sh)"
cp_line4
smc_start() {
	local n=$1
	rm -f "$T/$n.smc.pid" "$T/$n.smc.sock"
	gem_bg "$n" "smcrouted-$n" "$GEM_MROUTER" -n -N -i "gem-$n" -f "$T/$n.smc.conf" \
		-P "$T/$n.smc.pid" -u "$T/$n.smc.sock"
}
for n in $NODES; do
	{
		echo "phyint ${FROM[$n]} enable ttl-threshold 1"
		echo "phyint ${TO[$n]} enable ttl-threshold 1"
		echo "mroute from ${FROM[$n]} source $SRC group $GRP to ${TO[$n]}"
	} >"$T/$n.smc.conf"
	smc_start "$n"
done
for n in $NODES; do
	gem_mroute_wait "$n" 4 "$SRC" "$GRP" || gem_die "$n: no multicast route"
	for ifc in $(cat "$T/$n/ifaces"); do
		if ! nsx "$n" "$GEM_LOAD" --pin-dir "$GEM_BPFFS/$n" attach "$ifc" \
			--xdp-mode native >"$T/attach.log" 2>&1; then
			grep -q "lacks the BPF crypto kfuncs" "$T/attach.log" && gem_skip "$(cat "$T/attach.log")"
			gem_die "gem-load attach $ifc on $n: $(cat "$T/attach.log")"
		fi
	done
done
for n in $NODES; do cp_start "$n"; done
t=$(cp_wait_mesh 120 a b c d) || gem_die "no full reachability within 120 s"
echo "  mesh up in $t s"

# ---- the control plane's state, and "whole again" ---------------------------------
declare -A EST=([a]=1 [b]=2 [c]=2 [d]=1) SEKS
state_of() { # NODE: "established pubkeys seks"
	local e p
	e=$(cp_peers "$1" 2>/dev/null | jq '[.peers[] | select(.state == "established" and .babel != null)] | length' 2>/dev/null)
	p=$(cstats "$1" | jq -r '"\(.pubkeys) \(.seks)"' 2>/dev/null)
	echo "${e:-?} ${p:-? ?}"
}
whole() {
	local n e p k
	for n in $NODES; do
		read -r e p k < <(state_of "$n")
		# a restarted sealing router re-keys: a new SEK Announce, the old one
		# withdrawn (stored until its lifetime ends), so at least as many
		[ "$e" = "${EST[$n]}" ] && [ "$p" = 4 ] && [ "$k" != "?" ] && [ "$k" -ge "${SEKS[$n]}" ] || return 1
	done
	CP_PING_WAIT=0.5 cp_mesh_ok $NODES
}

# ---- streams ---------------------------------------------------------------------------
SEQ=0
stream_start() {
	SEQ=$((SEQ + 1))
	TAG=$(printf 'flt%02d-%s' "$SEQ" "$(od -An -N5 -tx1 /dev/urandom | tr -d ' \n')")
	TAG=${TAG:0:16}
	rm -f "$T/rx.ready" "$T/rx.json"
	gem_bg hostD rx python3 "$MC" recv --group "$GRP" --port "$PORT" --iface lan --tag "$TAG" \
		--timeout $((DUR + RECOVER_S + 30)) --out "$T/rx.json" --ready "$T/rx.ready" \
		--linger 2 --expect "$COUNT" --max-len 600
	gem_wait_for 5 test -e "$T/rx.ready" || gem_die "receiver did not start"
	gem_bg hostA tx python3 "$MC" send --group "$GRP" --port "$PORT" --iface lan --src "$SRC" \
		--tag "$TAG" --count "$COUNT" --rate "$RATE" --max-len 600 --timeout $((DUR + 30))
}
stream_end() { # prints "lost bad other"
	gem_wait "$(gem_pid tx)" $((DUR + 30))
	sleep 1
	gem_stop rx TERM
	jq . "$T/rx.json" >/dev/null 2>&1 || tail -n 1 "$T/rx.log" >"$T/rx.json"
	jq . "$T/rx.json" >/dev/null 2>&1 || echo '{}' >"$T/rx.json"
	jq -r '"\(.missing // "?") \(.bad // "?") \(.other // "?") \(.first_missing // [] | map(tostring) | join(","))"' "$T/rx.json"
}

echo "--- warm-up stream (SEK made, announced, loaded at d)"
stream_start
read -r lost bad other _ < <(stream_end)
echo "  warm-up: $lost of $COUNT lost (the first packet finds no SEK at a)"
for n in $NODES; do SEKS[$n]=$(cstats "$n" | jq .seks); done
gem_wait_for 30 whole || gem_die "control plane not whole before the faults: $(for n in $NODES; do echo -n "$n: $(state_of $n); "; done)"
echo "  pre-fault state (established pubkeys seks): $(for n in $NODES; do echo -n "$n: $(state_of "$n"); "; done)"

# ---- faults ----------------------------------------------------------------------------
pids_of() { # NODE COMM: pids of COMM in NODE's namespace
	local p
	for p in $(ip netns pids "$(gem_nsname "$1")"); do
		[ "$(cat /proc/"$p"/comm 2>/dev/null)" = "$2" ] && echo "$p"
	done
}
kill9() { # NODE COMM
	local p
	p=$(pids_of "$1" "$2")
	[ -n "$p" ] || { echo "    (no $2 in $1)"; return 1; }
	kill -KILL $p
}
node_restart() { # NODE: kill -9 of everything of the node, then start it again
	local n=$1 p
	for p in $(ip netns pids "$(gem_nsname "$n")"); do
		[ "$(cat /proc/"$p"/comm 2>/dev/null)" = tcpdump ] || kill -KILL "$p"
	done
	sleep 1
	smc_start "$n"
	gem_mroute_wait "$n" 4 "$SRC" "$GRP"
	cp_start "$n"
}
token_away() { mv "$T/$1/tokens" "$T/$1/tokens.away"; }
token_back() { mv "$T/$1/tokens.away" "$T/$1/tokens"; }
gem_on_exit '[ -d "$T/d/tokens.away" ] && mv "$T/d/tokens.away" "$T/d/tokens"'

RESULTS=()
# fault NAME MAXLOSS INJECT [UNDO]: MAXLOSS "-" = loss reported, not checked
fault() {
	local name=$1 maxloss=$2 inject=$3 undo=${4:-} t0 t1 rec lost bad other fm
	echo "--- fault: $name"
	stream_start
	sleep 1.5
	t0=$(date +%s%3N)
	eval "$inject" || echo "    (inject failed: $inject)"
	if [ -n "$undo" ]; then
		sleep 3
		eval "$undo" || echo "    (undo failed: $undo)"
	fi
	sleep 0.5
	if gem_wait_for "$RECOVER_S" whole; then
		t1=$(date +%s%3N)
		rec=$(printf '%d.%d' $(((t1 - t0) / 1000)) $(((t1 - t0) % 1000 / 100)))
	else
		rec=never
		echo "    not whole after $RECOVER_S s: $(for n in $NODES; do echo -n "$n: $(state_of "$n"); "; done)"
	fi
	read -r lost bad other fm < <(stream_end)
	echo "    lost $lost of $COUNT (first missing: ${fm:-none}), control plane whole again after $rec s"
	check "$name: control plane whole again within $RECOVER_S s" test "$rec" != never
	check "$name: every packet received byte-identical, nothing else (bad $bad, other $other)" \
		test "$bad" = 0 -a "$other" = 0
	[ "$maxloss" != - ] && check "$name: at most $maxloss packets lost ($lost)" test "$lost" -le "$maxloss"
	for n in $NODES; do SEKS[$n]=$(cstats "$n" | jq .seks); done
	RESULTS+=("$(printf '| %-44s | %5s | %6s |' "$name" "$lost" "$rec")")
}

fault "kill -9 gemd on b (transit)"		0 "kill9 b gemd"
fault "kill -9 charon on b (transit)"		0 "kill9 b charon"
fault "kill -9 babeld on b (transit)"		0 "kill9 b babeld"
fault "kill -9 gemd on d (receiver)"		- "kill9 d gemd"
fault "kill -9 gemd on a (sealing router)"	- "kill9 a gemd"
fault "kill -9 charon on d (receiver)"		- "kill9 d charon"
fault "kill -9 babeld on d (receiver)"		- "kill9 d babeld"
fault "link b-c down 3 s (physical)"		- "nsx b ip link set e-c down" "nsx b ip link set e-c up"
TUN_BC=$(cp_peers b | jq -r --arg c "$(cp_id c)" '.peers[] | select(.node_id == $c) | .tunnel // .ifname // empty' | head -1)
fault "tunnel b-c ($TUN_BC) down 3 s"		0 "nsx b ip link set $TUN_BC down" "nsx b ip link set $TUN_BC up"
fault "whole node c restarted (kill -9 all)"	- "node_restart c"
fault "token of d unavailable 3 s (gemd runs)"	0 "token_away d" "token_back d"
fault "token of d gone, gemd on d killed, back after 3 s" - "token_away d; kill9 d gemd" "token_back d"
fault "none (after all faults)"			0 "true"

echo "--- results (stream: $RATE packets/s, $COUNT packets per fault, fault 1.5 s in)"
echo "| fault                                        |  lost | whole after (s) |"
printf '%s\n' "${RESULTS[@]}"
for n in $NODES; do
	check "$n: gemd never logged a crash" \
		bash -c "! grep -qiE 'segfault|assert|AddressSanitizer' '$T/$n/gemd.log'"
done
for n in $NODES; do cp_stop "$n"; done
if [ "$GEM_FAILED" != 0 ]; then
	for n in b d; do echo "--- $n gemd.log (last 30)"; tail -n 30 "$T/$n/gemd.log"; done
	echo "test_faults: $GEM_FAILED of $GEM_CHECKS checks failed ($(($(date +%s) - START)) s)"
	exit 1
fi
echo "test_faults: all $GEM_CHECKS checks passed ($(($(date +%s) - START)) s)"
exit 0
