#!/bin/bash
# Pre-declared streams and per-group suites (issue 15): `[groups] stream =
# SOURCE GROUP` on the source's router keys the stream when gemd starts, so
# the receivers hold its SEK before the first packet and the first packet is
# delivered; `group = G suite=S` gives one group another suite than the
# others ([groups] suite), through the same routers.
#
#   hostA --lan-- a ---- b ---- c ---- d --lan-- hostD
#
# Two groups: 239.1.1.7 (hmac-sha256, [groups] suite) and 239.1.1.8
# (suite=poly1305), a stream of each declared at a.  a and d hold both GAKs;
# b and c relay.  d's data plane holds both SEKs before hostA sends anything,
# each group with its own suite at a and d (d refuses an announce whose suite
# is not its group's: policy);
# then hostA sends 300 numbered packets at 200/s to each: hostD gets every
# one, the first included, byte-identical; a's data plane never met either
# stream without a key (tx_no_key 0, no tx-no-key event at a's gemd).
#
# Exit 0: pass, 77: skip (missing prerequisite), anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/cp_lib.sh

command -v smcrouted >/dev/null || { echo "SKIP: smcrouted missing"; exit 77; }
cp_init cp-declared
MC=$GEM_ROOT/selftests/mcast.py
GRP=239.1.1.7 GRP2=239.1.1.8 SRC=10.1.0.2 PORT=5020
TAG="decl-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n' | head -c 11)"
NODES="a b c d"
quiet() { "$@" >/dev/null 2>&1; }
cstats() { "$GEMCTL" -j control-stats --socket "$T/$1/run/gemd.sock"; }

cp_line4
for n in a d; do
	cp_keys "$n" import gak "$GRP2" "$T/gak" >/dev/null || gem_die "import gak $GRP2 ($n)"
done
# cp_line4 wrote [groups] (group, suite = hmac-sha256) and pin_dir: every
# node gets the second group with its own suite, a declares both streams
for n in $NODES; do
	printf 'group = %s suite=poly1305\n' "$GRP2" >"$T/$n/more"
	[ "$n" = a ] && printf 'stream = %s %s\nstream = %s %s\n' "$SRC" "$GRP" "$SRC" "$GRP2" \
		>>"$T/$n/more"
	sed -i "/^group = /r $T/$n/more" "$T/$n/extra.conf"
done
cp_line4_dataplane
for n in $NODES; do cp_start "$n"; done
check "a checks its configuration (gemd --check-config)" \
	bash -c "'$GEMD' -c '$T/a/gemd.conf' --check-config | grep -q 'configuration ok'"
rx_kid() {
	gemctl_in d -j stream list 2>/dev/null | jq -e --arg s "$SRC" --arg g "$GRP" --arg h "$GRP2" \
		'[.streams[] | select(.dir == "rx" and .source == $s and (.group == $g or .group == $h)
		  and .key_id != null)] | length == 2'
}
t0=$(date +%s%3N)
gem_wait_for 120 rx_kid || gem_die "d never held the declared streams' SEKs: $(tail -5 "$T/d/gemd.log")"
echo "  d holds both SEKs $(($(date +%s%3N) - t0)) ms after the gemds started, before any packet"
for g in $GRP $GRP2; do
	check "a keyed ($SRC, $g) at start (log)" \
		grep -q "new stream ($SRC, $g): SEK key id 1 loaded for egress and announced" "$T/a/gemd.log"
done
check_eq "hostA has sent nothing yet: a's tx_no_key" "$(gemctl_in a -j stats | jq .tx_no_key)" 0
for n in a d; do
	check_eq "$n: each group with its suite in the data plane" \
		"$(gemctl_in "$n" -j group list | jq -r '[.groups[] | "\(.group)=\(.suite)"] | sort | join(" ")')" \
		"$GRP=hmac-sha256 $GRP2=poly1305"
done
for n in b c; do
	check_eq "$n (relay): both groups transit in its data plane, each with its suite" \
		"$(gemctl_in "$n" -j group list | jq -r '[.groups[] | "\(.group)=\(.suite):\(.transit)"] | sort | join(" ")')" \
		"$GRP=hmac-sha256:true $GRP2=poly1305:true"
done

for g in $GRP $GRP2; do
	gem_bg hostD "rx-$g" python3 "$MC" recv --group "$g" --port "$PORT" --iface lan \
		--tag "$TAG" --timeout 30 --out "$T/rx-$g.json" --ready "$T/rx-$g.ready" --linger 2
	gem_wait_for 5 test -e "$T/rx-$g.ready" || gem_die "receiver did not start: $(cat "$T/rx-$g.log")"
done
for g in $GRP $GRP2; do
	gem_bg hostA "tx-$g" python3 "$MC" send --group "$g" --port "$PORT" --iface lan \
		--src "$SRC" --tag "$TAG" --count 300 --rate 200 --max-len 1000
done
for g in $GRP $GRP2; do gem_wait "$(gem_pid "tx-$g")" 30; done
sleep 2
for g in $GRP $GRP2; do
	gem_stop "rx-$g" TERM
	f=$T/rx-$g.json
	[ -s "$f" ] || tail -n 1 "$T/rx-$g.log" >"$f"
	jq . "$f" >/dev/null 2>&1 || echo '{}' >"$f"
	echo "  receiver $g: $(jq -c '{received, unique, missing, first_missing, bad, other}' "$f")"
	check "hostD $g: all 300 packets, the first included, byte-identical" \
		quiet jq -e '.unique == 300 and .missing == 0 and .bad == 0 and .other == 0' "$f"
done
check_eq "a: no packet met a stream without a key (tx_no_key)" \
	"$(gemctl_in a -j stats | jq .tx_no_key)" 0
check_eq "a's gemd saw no tx-no-key event" "$(cstats a | jq .dp_events)" 0
check "d opened them (rx_opened >= 600)" \
	bash -c "[ \$(ip netns exec $GEM_NSP-d $GEMCTL --pin-dir $GEM_BPFFS/d -j stats | jq .rx_opened) -ge 600 ]"
check "d opened both suites (rx counters of each stream)" \
	bash -c "ip netns exec $GEM_NSP-d $GEMCTL --pin-dir $GEM_BPFFS/d -j stream list | jq -e '[.streams[] | select(.dir == \"rx\") | .packets >= 300] | length == 2 and all' >/dev/null"
cp_stop_all
echo "cp-declared: $GEM_CHECKS checks, $GEM_FAILED failed"
[ "$GEM_FAILED" = 0 ]
