#!/bin/bash
# Excluding a member (issue 15): GAK epochs, `gemctl group rekey`.
#
#   hostA --lan-- a ---- b ---- c --lan-- hostC
#                        |\
#                        | +-- e --lan-- hostE
#                        d --lan-- hostD
#
# a, c, d and e hold the GAK of epoch 0 of 239.1.1.9 (b relays: a member
# router opens what it receives, so members sit at the edges); a declares
# the stream (SRC, 239.1.1.9), hostA sends it at 500 packets/s.  Three
# rekeys, each: epoch k imported on a, c and e only, while gemd runs
# (gemctl keys import --socket: gemd owns the token), then `gemctl group
# rekey` on a: a's stream rotates to a SEK wrapped under epoch k alone, c
# and e follow when they verify its announce, d (never given epoch 1..3)
# gets the announce relayed but cannot unwrap, and the members retire the
# older epoch after the grace.
# Checked: hostC and hostE receive every packet of the stream through all
# three rekeys; d opens nothing sealed after the first switch (its counters
# say why) and hostD gets nothing after it; d's gemd logs that it cannot
# unwrap; epoch k-1 retired on a, c, e.  Printed: time from `rekey` to a's
# egress switch (from then on d cannot decrypt) and to "epoch k-1 retired
# everywhere", median of the three (docs/PERFORMANCE.md).
# SUITE (environment): the group's suite (default hmac-sha256: a group MAC key,
# which must move to the new epoch with an overlap).
#
# Exit 0: pass, 77: skip (missing prerequisite), anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/cp_lib.sh

command -v smcrouted >/dev/null || { echo "SKIP: smcrouted missing"; exit 77; }
cp_init cp-rekey
MC=$GEM_ROOT/selftests/mcast.py
SUITE=${SUITE:-hmac-sha256}
GRP=239.1.1.9 SRC=10.1.0.2 PORT=5030 RATE=500
TAG="rkey-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n' | head -c 11)"
sock() { echo "$T/$1/run/gemd.sock"; }
epochs() { "$GEMCTL" -j group epochs --socket "$(sock "$1")" | jq -c --arg g "$GRP" '.groups[] | select(.group == $g) | .epochs'; }
now_ms() { date +%s%3N; }
dstat() { gemctl_in d -j stats | jq ".$1"; }
median() { tr ' ' '\n' | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

NODES="a b c d e"
i=1
for n in $NODES; do cp_node "$n" $i; i=$((i + 1)); done
for n in a c d e; do cp_link b "$n"; done
head -c 32 /dev/urandom >"$T/gak"
for n in a c d e; do
	cp_keys "$n" import gak "$GRP" "$T/gak" >/dev/null || gem_die "import gak ($n)"
done
gem_bpffs_mount
for n in $NODES; do
	printf '[groups]\ngroup = %s\nsuite = %s\nrotate_delay = 1\n%s[node]\npin_dir = %s\n' \
		"$GRP" "$SUITE" "$([ "$n" = a ] && echo "stream = $SRC $GRP\n")" "$GEM_BPFFS/$n" |
		sed 's/\\n/\n/g' >"$T/$n/extra.conf"
done
j=1
for n in a c d e; do
	gem_ns_add "host${n^^}"
	gem_link "host${n^^}" lan "$n" lan0
	gem_addr "host${n^^}" lan "10.$j.0.2/24"
	gem_addr "$n" lan0 "10.$j.0.1/24"
	nsx "host${n^^}" ip route add default via "10.$j.0.1"
	gem_addr b "e-$n" "10.0.$j.2/24"
	gem_addr "$n" e-b "10.0.$j.1/24"
	[ "$n" != a ] && nsx "$n" ip route add 10.1.0.0/24 via 10.0.$j.2
	j=$((j + 1))
done
nsx b ip route add 10.1.0.0/24 via 10.0.1.1
for n in $NODES; do nsx "$n" sysctl -qw net.ipv4.ip_forward=1; done
declare -gA FROM=([a]=lan0 [b]=e-a [c]=e-b [d]=e-b [e]=e-b) \
	TO=([a]=e-b [b]="e-c e-d e-e" [c]=lan0 [d]=lan0 [e]=lan0)
cp_line4_dataplane
for n in $NODES; do cp_start "$n"; done
rx_keyed() {
	local n
	for n in c d e; do
		gemctl_in "$n" -j stream list 2>/dev/null | jq -e --arg s "$SRC" --arg g "$GRP" \
			'[.streams[] | select(.dir == "rx" and .source == $s and .group == $g and
			  .key_id != null)] | length == 1' >/dev/null || return 1
	done
}
gem_wait_for 120 rx_keyed || gem_die "c and d never held the stream's SEK: $(tail -5 "$T/d/gemd.log")"
for n in a c d e; do
	check_eq "$n: member of $GRP at epoch 0" "$(epochs "$n")" "[0]"
done
check_eq "b: relays $GRP (no GAK)" "$(epochs b)" "[]"

# the stream, long enough for three rekeys
TOTAL=$((RATE * 75))
for h in hostC hostD hostE; do
	gem_bg "$h" "rx-$h" python3 "$MC" recv --group "$GRP" --port "$PORT" --iface lan \
		--tag "$TAG" --timeout 120 --expect "$TOTAL" --out "$T/rx-$h.json" \
		--ready "$T/rx-$h.ready" --linger 2
	gem_wait_for 5 test -e "$T/rx-$h.ready" || gem_die "receiver $h did not start"
done
t_start=$(now_ms)
gem_bg hostA tx python3 "$MC" send --group "$GRP" --port "$PORT" --iface lan --src "$SRC" \
	--tag "$TAG" --count "$TOTAL" --rate "$RATE" --max-len 1000 --timeout 120
sleep 3

tx_kid() {
	gemctl_in a -j stream list | jq -r --arg s "$SRC" --arg g "$GRP" \
		'.streams[] | select(.dir == "tx" and .source == $s and .group == $g) | .key_id'
}
SW="" RT="" d_opened_sw="" t_sw1=""
for k in 1 2 3; do
	head -c 32 /dev/urandom >"$T/gak$k"
	for n in a c e; do
		"$GEMCTL" -j keys import gak "$GRP" "$T/gak$k" --epoch "$k" --socket "$(sock "$n")" \
			>"$T/imp.json" 2>&1 || gem_die "$n: import epoch $k via gemd: $(cat "$T/imp.json")"
	done
	check_eq "a holds epochs $((k - 1)) and $k" "$(epochs a)" "[$((k - 1)),$k]"
	kid0=$(tx_kid)
	t0=$(now_ms)
	"$GEMCTL" group rekey "$GRP" --socket "$(sock a)" >"$T/rekey.out" 2>&1 ||
		gem_die "rekey: $(cat "$T/rekey.out")"
	gem_wait_for 30 bash -c "[ \"\$(ip netns exec $GEM_NSP-a $GEMCTL --pin-dir $GEM_BPFFS/a -j stream list |
		jq -r '.streams[] | select(.dir == \"tx\") | .key_id')\" != '$kid0' ]" ||
		gem_die "rekey $k: a's egress never switched: $(grep -i 'epoch\|rotation' "$T/a/gemd.log" | tail -5)"
	t1=$(now_ms)
	SW="$SW $((t1 - t0))"
	if [ "$k" = 1 ]; then
		t_sw1=$t1
		sleep 0.5	# packets sealed just before the switch drain
		d_opened_sw=$(dstat rx_opened)
	fi
	retired() {
		local n
		for n in a c e; do [ "$(epochs "$n")" = "[$k]" ] || return 1; done
	}
	gem_wait_for 60 retired || gem_die "rekey $k: epoch $((k - 1)) not retired: a $(epochs a) c $(epochs c) e $(epochs e)"
	t2=$(now_ms)
	RT="$RT $((t2 - t0))"
	echo "  rekey $k: key id $kid0 -> $(tx_kid), a's egress switched after $((t1 - t0)) ms, epoch $((k - 1)) retired on a, c, e after $((t2 - t0)) ms"
done
check_eq "d still holds only epoch 0 (it was excluded)" "$(epochs d)" "[0]"
gem_wait "$(gem_pid tx)" 120
sleep 3
for h in hostC hostD hostE; do
	gem_stop "rx-$h" TERM
	f=$T/rx-$h.json
	[ -s "$f" ] || tail -n 1 "$T/rx-$h.log" >"$f"
	jq . "$f" >/dev/null 2>&1 || echo '{}' >"$f"
	echo "  receiver $h: $(jq -c '{received, unique, missing, first_missing, bad, other, max_seq}' "$f")"
done
for h in hostC hostE; do
	check "$h (member): all $TOTAL packets through three rekeys, byte-identical" \
		jq -e ".unique == $TOTAL and .missing == 0 and .bad == 0 and .other == 0" "$T/rx-$h.json"
done
# the sender's packet number at the first switch (+0.5 s of slack)
seq_sw=$(( (t_sw1 + 500 - t_start) * RATE / 1000 ))
check "hostD (excluded d): nothing after the first switch (max seq < $seq_sw)" \
	jq -e ".max_seq != null and .max_seq < $seq_sw and .bad == 0 and .other == 0" "$T/rx-hostD.json"
check_eq "d opened nothing after the first switch (rx_opened)" "$(dstat rx_opened)" "$d_opened_sw"
# no SEK of the new key ids (rx_key_id), none at all once the old one is
# withdrawn and unloaded (rx_no_key); suites 1/2: the group MAC key of the
# new epoch fails first (rx_bad_tag)
drops=$(gemctl_in d -j stats | jq '.rx_no_key + .rx_key_id + .rx_bad_tag')
echo "  d: $(gemctl_in d -j stats | jq -c '{rx_opened, rx_no_key, rx_key_id, rx_bad_tag}')"
check "d dropped the stream's newer packets, counted (rx_no_key + rx_key_id + rx_bad_tag = $drops > 30000)" \
	test "$drops" -gt 30000
check "d's gemd logged that it cannot unwrap (epoch 1 not held)" \
	grep -q "GAK epoch 1 of group $GRP not held.*cannot unwrap" "$T/d/gemd.log"
check "d never loaded a SEK made after the rekey (its rx key ids: $(gemctl_in d -j stream list | jq -c '[.streams[] | select(.dir == "rx") | .key_id, .prev_key_id]'))" \
	bash -c "! ip netns exec $GEM_NSP-d $GEMCTL --pin-dir $GEM_BPFFS/d -j stream list | jq -e --argjson k $(tx_kid) '[.streams[] | select(.dir == \"rx\") | .key_id, .prev_key_id] | index(\$k)' >/dev/null"
for n in c e; do
	check "$n followed a's epoch (log)" grep -q "GAK epoch 2 -> 3 (a member announces under it)" "$T/$n/gemd.log"
done
sw=$(echo $SW | median) rt=$(echo $RT | median)
echo "  rekey (median of 3, $SUITE, rotate_delay 1 s, grace ${GEMD_EPOCH_GRACE_S:-10} s): excluded node cannot decrypt after $sw ms; old epoch retired everywhere after $rt ms"
echo "REKEY_RESULT suite=$SUITE switch_ms=$sw retired_ms=$rt switch_all=\"$SW\" retired_all=\"$RT\"" >"$T/result"
[ -n "${GEM_REKEY_RESULT:-}" ] && cp "$T/result" "$GEM_REKEY_RESULT"
cp_stop_all
echo "cp-rekey: $GEM_CHECKS checks, $GEM_FAILED failed"
[ "$GEM_FAILED" = 0 ]
