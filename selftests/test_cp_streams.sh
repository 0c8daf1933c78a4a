#!/bin/bash
# Own-stream state an attacker cannot exhaust, and SEKs unloaded when their
# records go (issue 14, items 3a and 3b).
#
#   hostA --lan-- a ---- b ---- c ---- d --lan-- hostD
#
# Set-up as selftests/test_cp_sek.sh (a and d hold the GAK of 239.1.1.1, b
# and c relay).  a: stream_idle 15 s, stream_rate 5/s (burst 5), SEK
# lifetime 6 s, rotate_delay 1 s.
#
#   1. spoofed-source flood: 300 packets for the group, each from another
#      source that is not on a's LAN side (no route: 10.66.0.0/16; the WAN
#      link: 10.0.1.0/24), straight onto a's e-b egress (AF_PACKET, so
#      GEM's egress hook sees them): every one refused and counted
#      (streams_refused_not_lan), no SEK made, no slot taken.  Before the fix
#      each took one of the 256 slots and the real stream was never keyed.
#   2. 30 LAN-side spoofed sources at once (10.1.0.100..): the token bucket
#      keys at most burst + rate x time of them, the rest are counted
#      (streams_refused_rate).
#   3. the real stream hostA -> hostD: keyed, received (> 800 of 1000), and
#      rotated; after a rotation d unloads the withdrawn key id (d's rx entry
#      holds one key id: prev_key_id "-"; before the fix both stayed).
#   4. idle: stream_idle after the stream's last packet a withdraws it, its
#      egress entry goes (a's tx map), d unloads its SEK (d's rx map has no
#      entry for the source: gemctl -j stream list, the pinned map itself),
#      counters streams_idle_withdrawn / rx_sek_unloaded.
#   5. the stream again: keyed anew and received.
#
# Exit 0: pass, 77: skip (missing prerequisite), anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/cp_lib.sh

command -v smcrouted >/dev/null || { echo "SKIP: smcrouted missing"; exit 77; }
cp_init cp-streams
START=$(date +%s)
MC=$GEM_ROOT/selftests/mcast.py
FLOOD=$GEM_ROOT/selftests/spoof_flood.py
GRP=239.1.1.1 SRC=10.1.0.2 PORT=5010
RUN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
TAG="str-$RUN"
NODES="a b c d"
IDLE=15

cstats() { "$GEMCTL" -j control-stats --socket "$T/$1/run/gemd.sock"; }
cst() { cstats "$1" | jq -r ".$2 // 0"; }
# streams NODE DIR SOURCE: that node's data-plane entries of (SOURCE, GRP) in DIR
streams() { gemctl_in "$1" -j stream list | jq -c --arg d "$2" --arg s "$3" '[.streams[] | select(.dir == $d and .source == $s)]'; }
quiet_jq() { jq -e "$@" >/dev/null; }
# nstreams NODE DIR SOURCE: how many (empty if gemctl or jq failed: then
# neither has_stream nor no_stream holds)
nstreams() { streams "$1" "$2" "$3" | jq length; }
has_stream() { local n; n=$(nstreams "$@"); [ -n "$n" ] && [ "$n" -gt 0 ]; }
no_stream() { [ "$(nstreams "$@")" = 0 ]; }

echo "--- nodes, links, hosts (as test_cp_sek.sh)"
cp_line4
# GEM_STREAMS_OLD=1: without the keys an older gemd does not know (to run
# this test against the gemd before the fix, GEMD=path/to/old/gemd)
if [ "${GEM_STREAMS_OLD:-0}" = 1 ]; then
	printf '[groups]\nsek_lifetime = 6\nrotate_delay = 1\n' >>"$T/a/extra.conf"
else
	printf '[groups]\nstream_idle = %s\nstream_rate = 5\nstream_burst = 5\nsek_lifetime = 6\nrotate_delay = 1\n' \
		"$IDLE" >>"$T/a/extra.conf"
fi
cp_line4_dataplane
for n in $NODES; do cp_start "$n"; done
t=$(cp_wait_mesh 120 a b c d) || gem_die "no full reachability within 120 s"
echo "  mesh up in $t s"
pk_all() { [ "$(cstats "$1" | jq .pubkeys)" = 4 ]; }
for n in $NODES; do gem_wait_for 30 pk_all "$n" || gem_die "$n: not all Public Keys"; done

# GEM_STREAMS_NO_FLOOD=1: skip 1 and 2 (to check 3-5 alone against an older gemd)
if [ "${GEM_STREAMS_NO_FLOOD:-0}" != 1 ]; then
echo "--- 1. spoofed-source flood at a's WAN egress (300 sources not on a's LAN side)"
EV0=$(cst a dp_events)
nsx a python3 "$FLOOD" --iface e-b --group "$GRP" --port "$PORT" --base 10.66.0.1 --count 250 |
	sed 's/^/  no route: /'
nsx a python3 "$FLOOD" --iface e-b --group "$GRP" --port "$PORT" --base 10.0.1.10 --count 50 |
	sed 's/^/  WAN side: /'
flood_seen() { [ $(($(cst a dp_events) - EV0)) -ge 300 ]; }
gem_wait_for 20 flood_seen
echo "  a: $(cstats a | jq -c '{dp_events, own_streams, streams_refused_not_lan, streams_refused_rate, streams_refused_full, source_route_errors}')"
check "a: the data plane reported all 300 spoofed streams (tx-no-key events)" flood_seen
check "a: every spoofed source refused as not LAN-side (streams_refused_not_lan >= 300)" \
	test "$(cst a streams_refused_not_lan)" -ge 300
check "a: no own-stream slot taken by the flood" test "$(cst a own_streams)" = 0
check "a: no SEK announced for a spoofed source (no record besides the Public Keys)" \
	test "$(cst a seks)" = 0
check "a: the refusal is logged with its reason" \
	grep -q "control: stream (10.66.0.1, $GRP) not keyed: no route to the source" "$T/a/gemd.log"
check "a: the WAN-side sources logged as such" \
	grep -q "not keyed: the source routes out e-b, a WAN-side interface" "$T/a/gemd.log"

echo "--- 2. 30 LAN-side spoofed sources at once (rate limit 5/s, burst 5)"
nsx a python3 "$FLOOD" --iface e-b --group "$GRP" --port "$PORT" --base 10.1.0.100 --count 30 >/dev/null
rated() { [ "$(cst a streams_refused_rate)" -ge 20 ]; }
gem_wait_for 10 rated
echo "  a: $(cstats a | jq -c '{own_streams, streams_refused_rate}')"
check "a: the token bucket refused most of them (streams_refused_rate >= 20)" rated
check "a: at most 10 of them keyed (burst 5 + 5/s)" test "$(cst a own_streams)" -le 10

fi

echo "--- 3. the real stream hostA -> hostD (100 packets/s, 10 s)"
sleep 2	# the bucket refills
gem_bg hostD rx python3 "$MC" recv --group "$GRP" --port "$PORT" --iface lan --tag "$TAG" \
	--timeout 60 --out "$T/rx.json" --ready "$T/rx.ready" --linger 2
gem_wait_for 5 test -e "$T/rx.ready" || gem_die "receiver did not start"
gem_bg hostA tx python3 "$MC" send --group "$GRP" --port "$PORT" --iface lan --src "$SRC" \
	--tag "$TAG" --count 1000 --rate 100 --max-len 1000
gem_wait "$(gem_pid tx)" 40
sleep 2
gem_stop rx TERM
[ -s "$T/rx.json" ] || tail -n 1 "$T/rx.log" >"$T/rx.json"
jq . "$T/rx.json" >/dev/null 2>&1 || echo '{}' >"$T/rx.json"
echo "  receiver: $(jq -c '{received, bad, other, missing}' "$T/rx.json")"
check "a: keyed the real stream after the flood" \
	grep -q "new stream ($SRC, $GRP): SEK key id 1 loaded for egress and announced" "$T/a/gemd.log"
check "hostD received the real stream (> 800 of 1000), byte-identical" \
	quiet_jq '(.received // 0) > 800 and (.bad // 0) == 0 and (.other // 0) == 0' "$T/rx.json"
check "a: rotated the stream's SEK at least once" grep -q "($SRC, $GRP): egress switched" "$T/a/gemd.log"
one_kid() { streams d rx "$SRC" | jq -e '.[0].prev_key_id == null and .[0].key_id != null' >/dev/null; }
gem_wait_for 15 one_kid
echo "  d rx entry: $(streams d rx "$SRC")"
check "d: the withdrawn key id of a rotation unloaded (one key id held, prev_key_id -)" one_kid
check "d: the unload is counted (rx_sek_unloaded > 0)" test "$(cst d rx_sek_unloaded)" -gt 0

echo "--- 4. idle: withdrawn after stream_idle ($IDLE s), SEK unloaded at d"
gone_a() { no_stream a tx "$SRC"; }
gone_d() { no_stream d rx "$SRC"; }
gem_wait_for $((IDLE + 15)) gone_a
gem_wait_for 10 gone_d
echo "  a: $(cstats a | jq -c '{own_streams, streams_idle_withdrawn}'), d: $(cstats d | jq -c '{rx_sek_unloaded, rx_unload_pending}')"
check "a: the idle stream withdrawn (streams_idle_withdrawn >= 1, logged)" \
	bash -c "[ $(cst a streams_idle_withdrawn) -ge 1 ] && grep -q 'stream ($SRC, $GRP): idle for' '$T/a/gemd.log'"
check "a: its egress entry (and SEKs) gone from a's data plane" gone_a
check "d: no SEK of ($SRC, $GRP) left in d's ingress map" gone_d
check "d: the withdrawal arrived (logged)" grep -q "SEK Announce ($SRC, $GRP) .* withdrawn" "$T/d/gemd.log"
check "a: the LAN-side spoofed streams withdrawn too (no own stream left)" \
	test "$(cst a own_streams)" = 0

echo "--- 5. the stream again: keyed anew"
rm -f "$T/rx.json" "$T/rx.ready"
gem_bg hostD rx2 python3 "$MC" recv --group "$GRP" --port "$PORT" --iface lan --tag "${TAG:0:15}2" \
	--timeout 40 --out "$T/rx2.json" --ready "$T/rx2.ready" --linger 2
gem_wait_for 5 test -e "$T/rx2.ready" || gem_die "receiver did not start"
gem_bg hostA tx2 python3 "$MC" send --group "$GRP" --port "$PORT" --iface lan --src "$SRC" \
	--tag "${TAG:0:15}2" --count 500 --rate 100 --max-len 1000
gem_wait "$(gem_pid tx2)" 30
sleep 2
gem_stop rx2 TERM
[ -s "$T/rx2.json" ] || tail -n 1 "$T/rx2.log" >"$T/rx2.json"
jq . "$T/rx2.json" >/dev/null 2>&1 || echo '{}' >"$T/rx2.json"
echo "  receiver: $(jq -c '{received, bad, other, missing}' "$T/rx2.json")"
check "hostD received the re-keyed stream (> 400 of 500), byte-identical" \
	quiet_jq '(.received // 0) > 400 and (.bad // 0) == 0 and (.other // 0) == 0' "$T/rx2.json"

echo "--- gemctl control-stats (a)"
"$GEMCTL" control-stats --socket "$T/a/run/gemd.sock" | sed -n 3,5p | sed 's/^/    /'
for n in $NODES; do cp_stop "$n"; done
for n in $NODES; do
	check "$n: gemd never logged a secret or a crash" \
		bash -c "! grep -qiE 'secret =|psk =|segfault|assert' '$T/$n/gemd.log'"
done
if [ "$GEM_FAILED" != 0 ]; then
	for n in a d; do echo "--- $n gemd.log (control lines, last 30)"; grep "control" "$T/$n/gemd.log" | tail -n 30; done
	echo "test_cp_streams: $GEM_FAILED of $GEM_CHECKS checks failed ($(($(date +%s) - START)) s)"
	exit 1
fi
echo "test_cp_streams: all $GEM_CHECKS checks passed ($(($(date +%s) - START)) s)"
exit 0
