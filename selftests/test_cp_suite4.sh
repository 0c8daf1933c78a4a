#!/bin/bash
# Suite 4 (ChaCha20-Poly1305) keyed by gemd end to end (issue 16): its
# 32-byte SEKs are made in the HSM, wrapped to 40 bytes, announced in the
# 200-byte SEK Announce (docs/PROTOCOL.md 10.5), relayed by nodes without
# the GAK, unwrapped and loaded by the receiver, and rotated.
#
#   hostA --lan-- a ---- b ---- c ---- d --lan-- hostD
#
# Two groups through the same routers: 239.1.1.9 with `group = G
# suite=chacha20-poly1305` and 239.1.1.10 of [groups] suite (hmac-sha256),
# a stream of each declared at a; a and d hold both GAKs, b and c relay.
# sek_lifetime 4 s, rotate_delay 1 s: hostA sends 1600 numbered packets at
# 200/s to each group (8 s): hostD gets every one, byte-identical, across
# the rotations; a switched the suite-4 stream's egress at least once and d
# ends on a newer key id.  On the wire: the relay b forwarded SEK Announces
# of 200 bytes with suite 4 (tshark with contrib/wireshark/gem.lua, the
# wrapped SEK 40 bytes) and of 184 with suite 1; the data packets of
# 239.1.1.9 between c and d are GEM suite 4.
#
# Exit 0: pass, 77: skip (missing prerequisite), anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/cp_lib.sh

command -v smcrouted >/dev/null || { echo "SKIP: smcrouted missing"; exit 77; }
cp_init cp-suite4 tshark tcpdump
LUA=$GEM_ROOT/contrib/wireshark/gem.lua
PY3=/usr/bin/python3
[ -x "$PY3" ] || PY3=python3
MC=$GEM_ROOT/selftests/mcast.py
GRP=239.1.1.9 GRP2=239.1.1.10 SRC=10.1.0.2 PORT=5030 COUNT=1600
TAG="suite4-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n' | head -c 9)"
NODES="a b c d"
quiet() { "$@" >/dev/null 2>&1; }
dissect() { tshark -X lua_script:"$LUA" -n -r "$@" 2>"$T/tshark.err"; }
tshark -G protocols -X lua_script:"$LUA" 2>/dev/null | grep -q '^GEM sealed' ||
	gem_skip "tshark has no Lua (wireshark-common built without it?)"

cp_line4
for n in a d; do
	cp_keys "$n" import gak "$GRP2" "$T/gak" >/dev/null || gem_die "import gak $GRP2 ($n)"
done
# cp_line4 wrote [groups] (group = GRP, suite = hmac-sha256) and pin_dir:
# GRP gets suite 4 of its own, GRP2 takes [groups] suite; a declares both
for n in $NODES; do
	printf 'group = %s\n' "$GRP2" >"$T/$n/more"
	[ "$n" = a ] && printf 'stream = %s %s\nstream = %s %s\nsek_lifetime = 4\nrotate_delay = 1\n' \
		"$SRC" "$GRP" "$SRC" "$GRP2" >>"$T/$n/more"
	sed -i "s/^group = $GRP\$/group = $GRP suite=chacha20-poly1305/; /^group = /r $T/$n/more" \
		"$T/$n/extra.conf"
done
grep -q "^group = $GRP suite=chacha20-poly1305" "$T/a/extra.conf" || gem_die "config edit failed"
cp_line4_dataplane
gem_bg b capcp tcpdump -i any -n -U --immediate-mode -w "$T/cp.pcap" udp port 6698
for n in $NODES; do cp_start "$n"; done
check "a checks its configuration (gemd --check-config, a chacha20-poly1305 group)" \
	bash -c "'$GEMD' -c '$T/a/gemd.conf' --check-config | grep -q 'configuration ok'"
rx_kid() {
	gemctl_in d -j stream list 2>/dev/null | jq -e --arg s "$SRC" --arg g "$GRP" --arg h "$GRP2" \
		'[.streams[] | select(.dir == "rx" and .source == $s and (.group == $g or .group == $h)
		  and .key_id != null)] | length == 2' >/dev/null
}
t0=$(date +%s%3N)
gem_wait_for 120 rx_kid || gem_die "d never held the declared streams' SEKs: $(tail -5 "$T/d/gemd.log")"
echo "  d holds both SEKs $(($(date +%s%3N) - t0)) ms after the gemds started"
check "a keyed ($SRC, $GRP) with a SEK made in its HSM (log)" \
	grep -q "new stream ($SRC, $GRP): SEK key id 1 loaded for egress and announced" "$T/a/gemd.log"
check "d loaded the suite-4 SEK for ingress (log)" \
	grep -q "SEK Announce ($SRC, $GRP) key id 1 from origin .*: SEK loaded for ingress" "$T/d/gemd.log"
for n in a d; do
	check_eq "$n: each group with its suite in the data plane" \
		"$(gemctl_in "$n" -j group list | jq -r '[.groups[] | "\(.group)=\(.suite)"] | sort | join(" ")')" \
		"$GRP2=hmac-sha256 $GRP=chacha20-poly1305"
done
for n in b c; do
	check_eq "$n (relay): both groups transit in its data plane, each with its suite" \
		"$(gemctl_in "$n" -j group list | jq -r '[.groups[] | "\(.group)=\(.suite):\(.transit)"] | sort | join(" ")')" \
		"$GRP2=hmac-sha256:true $GRP=chacha20-poly1305:true"
done

kid_of() {	# node dir group: the stream's key id in that node's data plane
	gemctl_in "$1" -j stream list | jq -r --arg d "$2" --arg g "$3" \
		'[.streams[] | select(.dir == $d and .group == $g)][0].key_id'
}
KID_D0=$(kid_of d rx "$GRP")
gem_bg c capdp tcpdump -i e-d -n -U --immediate-mode -w "$T/dp.pcap" -c 100 udp and dst "$GRP"
sleep 1
for g in $GRP $GRP2; do
	gem_bg hostD "rx-$g" python3 "$MC" recv --group "$g" --port "$PORT" --iface lan \
		--tag "$TAG" --max-len 1200 --timeout 40 --out "$T/rx-$g.json" --ready "$T/rx-$g.ready" --linger 2
	gem_wait_for 5 test -e "$T/rx-$g.ready" || gem_die "receiver did not start: $(cat "$T/rx-$g.log")"
done
for g in $GRP $GRP2; do
	gem_bg hostA "tx-$g" python3 "$MC" send --group "$g" --port "$PORT" --iface lan \
		--src "$SRC" --tag "$TAG" --count "$COUNT" --rate 200 --max-len 1200
done
for g in $GRP $GRP2; do gem_wait "$(gem_pid "tx-$g")" 40; done
sleep 2
for g in $GRP $GRP2; do
	gem_stop "rx-$g" TERM
	f=$T/rx-$g.json
	[ -s "$f" ] || tail -n 1 "$T/rx-$g.log" >"$f"
	jq . "$f" >/dev/null 2>&1 || echo '{}' >"$f"
	echo "  receiver $g: $(jq -c '{received, unique, missing, first_missing, bad, other}' "$f")"
	check "hostD $g: all $COUNT packets, byte-identical, across the rotations" \
		quiet jq -e ".unique == $COUNT and .missing == 0 and .bad == 0 and .other == 0" "$f"
done
KID_D1=$(kid_of d rx "$GRP")
echo "  d's ingress key id of ($SRC, $GRP): $KID_D0 -> $KID_D1"
grep -h "($SRC, $GRP): egress switched" "$T/a/gemd.log" | head -2 | sed 's/^/    /'
check "a: rotated the suite-4 stream (egress switched to a new 32-byte SEK)" \
	grep -q "($SRC, $GRP): egress switched from key id" "$T/a/gemd.log"
check "d: ingress on a newer key id of the suite-4 stream ($KID_D0 -> $KID_D1)" \
	test "$KID_D1" != null -a "$KID_D1" != "$KID_D0"
"$GEMCTL" -j control-stats --socket "$T/d/run/gemd.sock" >"$T/d-cstats.json"
check_eq "d refused no record (rejected_* counters)" \
	"$(jq '[.counters | to_entries[] | select(.key | startswith("rejected_")) | .value] | add' \
		"$T/d-cstats.json")" 0
check "d: rx_sek_loaded counts the rotations' SEKs too (>= 3)" \
	quiet jq -e '.rx_sek_loaded >= 3' "$T/d-cstats.json"
check "d opened the suite-4 stream (rx packets >= $COUNT)" \
	bash -c "ip netns exec $GEM_NSP-d $GEMCTL --pin-dir $GEM_BPFFS/d -j stream list | jq -e --arg g $GRP '[.streams[] | select(.dir == \"rx\" and .group == \$g) | .packets] | add >= $COUNT' >/dev/null"

gem_stop capdp INT
gem_stop capcp INT
dissect "$T/dp.pcap" -Y gem -T fields -e gem.suite | sort | uniq -c >"$T/dp-suites.txt"
echo "  data packets of $GRP between c and d, by suite: $(tr -s ' \n' ' ' <"$T/dp-suites.txt")"
check_eq "the packets of $GRP on the c-d link are GEM suite 4" \
	"$(awk '{print $2}' "$T/dp-suites.txt" | sort -u | tr '\n' ' ')" "4 "
# per SEK Announce: suite and wrapped SEK (the dissector takes the wrapped
# length from the suite byte and flags a TLV whose length is not the suite's)
dissect "$T/cp.pcap" -Y 'gemcp.tlv.type == 225' -T fields -E occurrence=a -E aggregator=' ' \
	-e gemcp.suite -e gemcp.wrapped -e _ws.expert.message >"$T/sek-tlvs.txt"
check "b relayed suite-4 SEK Announces with a 40-byte wrapped SEK, suite-1 ones with 24" \
	"$PY3" -c "
n = {'4': 0, '1': 0}
for l in open('$T/sek-tlvs.txt'):
    f = l.rstrip('\n').split('\t')
    su, wr = f[0].split(), f[1].split()
    assert len(su) == len(wr), l
    for s, w in zip(su, wr):
        w = w.replace(':', '')
        assert len(w) == {'4': 80, '1': 48}[s], (s, w)
        n[s] += 1
assert n['4'] and n['1'], n
print('    SEK Announces seen at b, by suite:', n)"
check_eq "no SEK Announce of a length other than its suite's (dissector)" \
	"$(grep -c 'SEK Announce of' "$T/sek-tlvs.txt")" 0
check "tshark ran the dissector without errors" bash -c "! grep -v 'Running as user' '$T/tshark.err'"
cp_stop_all
echo "cp-suite4: $GEM_CHECKS checks, $GEM_FAILED failed"
[ "$GEM_FAILED" = 0 ]
