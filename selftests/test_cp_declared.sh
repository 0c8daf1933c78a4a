#!/bin/bash
# Pre-declared streams (issue 15): `[groups] stream = SOURCE GROUP` on the
# source's router keys the stream when gemd starts, so the receivers hold
# its SEK before the first packet and the first packet is delivered.
#
#   hostA --lan-- a ---- b ---- c ---- d --lan-- hostD
#
# a (declares the stream) and d hold the GAK; b and c relay.  d's data plane
# holds the SEK before hostA sends anything; then hostA sends 300 numbered
# packets at 200/s: hostD gets every one, the first included, byte-identical;
# a's data plane never met the stream without a key (tx_no_key 0, no
# tx-no-key event at a's gemd).
#
# Exit 0: pass, 77: skip (missing prerequisite), anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/cp_lib.sh

command -v smcrouted >/dev/null || { echo "SKIP: smcrouted missing"; exit 77; }
cp_init cp-declared
MC=$GEM_ROOT/selftests/mcast.py
GRP=239.1.1.7 SRC=10.1.0.2 PORT=5020
TAG="decl-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n' | head -c 11)"
NODES="a b c d"
eval "$(declare -f cp_conf | sed '1s/^cp_conf/cp_conf_base/')"
cp_conf() { cp_conf_base "$1" "${2:-$(cat "$T/$1/extra.conf" 2>/dev/null)}"; }
gemctl_in() { local n=$1; shift; nsx "$n" "$GEMCTL" --pin-dir "$GEM_BPFFS/$n" "$@"; }
quiet() { "$@" >/dev/null 2>&1; }
cstats() { "$GEMCTL" -j control-stats --socket "$T/$1/run/gemd.sock"; }

cp_line4
printf 'stream = %s %s\n' "$SRC" "$GRP" >"$T/a/declared"
# cp_line4 wrote [groups] and pin_dir; a also declares the stream
sed -i "/^group = /r $T/a/declared" "$T/a/extra.conf"
cp_line4_dataplane
for n in $NODES; do cp_start "$n"; done
check "a checks its configuration (gemd --check-config)" \
	bash -c "'$GEMD' -c '$T/a/gemd.conf' --check-config | grep -q 'configuration ok'"
rx_kid() {
	gemctl_in d -j stream list 2>/dev/null | jq -e --arg s "$SRC" --arg g "$GRP" \
		'any(.streams[]; .dir == "rx" and .source == $s and .group == $g and .key_id != null)'
}
t0=$(date +%s%3N)
gem_wait_for 120 rx_kid || gem_die "d never held the declared stream's SEK: $(tail -5 "$T/d/gemd.log")"
echo "  d holds the SEK $(($(date +%s%3N) - t0)) ms after the gemds started, before any packet"
check "a keyed the stream at start (log)" \
	grep -q "new stream ($SRC, $GRP): SEK key id 1 loaded for egress and announced" "$T/a/gemd.log"
check_eq "hostA has sent nothing yet: a's tx_no_key" "$(gemctl_in a -j stats | jq .tx_no_key)" 0

gem_bg hostD rx python3 "$MC" recv --group "$GRP" --port "$PORT" --iface lan --tag "$TAG" \
	--timeout 30 --out "$T/rx.json" --ready "$T/rx.ready" --linger 2
gem_wait_for 5 test -e "$T/rx.ready" || gem_die "receiver did not start: $(cat "$T/rx.log")"
gem_bg hostA tx python3 "$MC" send --group "$GRP" --port "$PORT" --iface lan --src "$SRC" \
	--tag "$TAG" --count 300 --rate 200 --max-len 1000
gem_wait "$(gem_pid tx)" 30
sleep 2
gem_stop rx TERM
[ -s "$T/rx.json" ] || tail -n 1 "$T/rx.log" >"$T/rx.json"
jq . "$T/rx.json" >/dev/null 2>&1 || echo '{}' >"$T/rx.json"
echo "  receiver: $(jq -c '{received, unique, missing, first_missing, bad, other}' "$T/rx.json")"
check "hostD: all 300 packets, the first included, byte-identical" \
	quiet jq -e '.unique == 300 and .missing == 0 and .bad == 0 and .other == 0' "$T/rx.json"
check_eq "a: no packet met the stream without a key (tx_no_key)" \
	"$(gemctl_in a -j stats | jq .tx_no_key)" 0
check_eq "a's gemd saw no tx-no-key event" "$(cstats a | jq .dp_events)" 0
check "d opened them (rx_opened >= 300)" \
	bash -c "[ \$(ip netns exec $GEM_NSP-d $GEMCTL --pin-dir $GEM_BPFFS/d -j stats | jq .rx_opened) -ge 300 ]"
cp_stop_all
echo "cp-declared: $GEM_CHECKS checks, $GEM_FAILED failed"
[ "$GEM_FAILED" = 0 ]
