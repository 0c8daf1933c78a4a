#!/bin/bash
# A group's data-plane MAC key moves from GAK epoch 7 to 8 during a stream,
# with gemctl only (issue 15, exclusion): no packet is lost at a member, and
# a node that never got epoch 8 (the excluded one) opens nothing sealed after
# the sender switched.
#
#   a --veth--+        a: sender's node (GEM egress), hostless: the sender
#   b --veth--+ br0    b: member (GEM ingress), a receiver counting packets
#   c --veth--+        c: excluded node: epoch 7 only, a receiver too
#
# a and c load their keys from GAK files, b from a SoftHSM token holding the
# GAKs of epochs 7 and 8 (--hsm): b opening a's packets shows the token's
# derivation of each epoch equals the file's.
#
# Flow, 3000 packets at 500/s (suite from $SUITE, hmac-sha256 by default):
#   after 500:  b, a: group key G --key-file gak8 --epoch 8   (accept 8)
#   after 1000: a:    group key G --use 8                     (seal under 8)
#   after 1500: b:    group key G --use 8
#   after 2000: a, b: group key G --retire 7
# Checks: b receives all 3000, byte-identical, rx_bad_tag 0, rx_mac_prev > 0
# (what a sealed under 8 while b's tx key was still 7); c opens only packets
# sealed before a's switch: every later one is rx_bad_tag; gemctl group
# show/list (and -j) name the epochs; gemctl's refusals say why.
#
# Exit 0: pass, 77: skip (missing prerequisite), anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh

gem_init mac-epoch jq softhsm2-util
[ -r /usr/lib/softhsm/libsofthsm2.so ] || gem_skip "SoftHSMv2 module missing"
SUITE=${SUITE:-hmac-sha256}
MC=$GEM_ROOT/selftests/mcast.py
PY3=/usr/bin/python3
[ -x "$PY3" ] || PY3=python3
GRP=239.1.2.3
SRC=10.9.0.1
PORT=5400
N=3000
RUN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
TAG="mep-$RUN"		# 16 bytes: the payload marker
quiet_jq() { jq -e "$@" >/dev/null; }
ctl() { local n=$1; shift; nsx "$n" "$GEMCTL" --pin-dir "$GEM_BPFFS/$n" "$@"; }
stat_of() { ctl "$1" -j stats | jq -r ".$2"; }

gem_ns_add a b c sw
gem_bpffs_mount
nsx sw ip link add br0 type bridge mcast_snooping 0
nsx sw ip link set br0 up
i=1
for n in a b c; do
	gem_link "$n" wan sw "p$n"
	nsx sw ip link set "p$n" master br0
	gem_addr "$n" wan "10.9.0.$i/24"
	i=$((i + 1))
done
head -c 32 /dev/urandom >"$T/gak7"
head -c 32 /dev/urandom >"$T/gak8"
head -c 16 /dev/urandom >"$T/sek"
mkdir "$T/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
	"$T/tokens" >"$T/softhsm2.conf"
export SOFTHSM2_CONF="$T/softhsm2.conf" GEM_LOCK_DIR="$T"
unset GEM_PIN GEM_PIN_FILE GEM_TOKEN GEM_PKCS11_MODULE
softhsm2-util --init-token --free --label gem-mep --so-pin 87654321 --pin 123456 >/dev/null ||
	gem_die "softhsm2-util --init-token"
echo 123456 >"$T/pin"
chmod 600 "$T/pin"
HSM=(--hsm --token gem-mep --pin-file "$T/pin")
for e in 7 8; do
	"$GEMCTL" keys --token gem-mep --pin-file "$T/pin" import gak "$GRP" "$T/gak$e" --epoch "$e" \
		>/dev/null || gem_die "import gak epoch $e"
done

echo "--- data planes: a, b, c hold epoch 7"
for n in a b c; do
	if ! nsx "$n" "$GEM_LOAD" --pin-dir "$GEM_BPFFS/$n" attach wan --xdp-mode generic \
		>"$T/attach.log" 2>&1; then
		grep -q "lacks the BPF crypto kfuncs" "$T/attach.log" && gem_skip "$(cat "$T/attach.log")"
		gem_die "gem-load attach on $n: $(cat "$T/attach.log")"
	fi
	if [ "$n" = b ]; then
		ctl b group add "$GRP" --suite "$SUITE" "${HSM[@]}" --epoch 7 >/dev/null
	else
		ctl "$n" group add "$GRP" --suite "$SUITE" --key-file "$T/gak7" --epoch 7 >/dev/null
	fi || gem_die "$n: group add"
done
ctl a sek set "$SRC" "$GRP" --key-id 1 --key-file "$T/sek" --dir tx >/dev/null || gem_die "a: sek set"
for n in b c; do
	ctl "$n" sek set "$SRC" "$GRP" --key-id 1 --key-file "$T/sek" --dir rx >/dev/null ||
		gem_die "$n: sek set"
done
check "a: group show: epoch 7 is tx, nothing else" \
	bash -c "$(declare -f ctl nsx); GEM_NSP=$GEM_NSP GEMCTL=$GEMCTL GEM_BPFFS=$GEM_BPFFS
		out=\$(ctl a group show $GRP); grep -q 'key epoch 7: tx' <<<\"\$out\" &&
		! grep -q accepted <<<\"\$out\""
check "a: -j group list: tx_epoch 7, accept_epoch null" \
	quiet_jq '.groups[0].tx_epoch == 7 and .groups[0].accept_epoch == null' <(ctl a -j group list)

echo "--- gemctl group key: usage and refusals"
ctl a group key "$GRP" --use 8 >/dev/null 2>"$T/err"
check_eq "--use of an epoch not loaded: exit 1" "$?" 1
check "  ... says why" grep -q "holds no key of that epoch" "$T/err"
ctl a group key "$GRP" --retire 7 >/dev/null 2>"$T/err"
check_eq "--retire of the tx epoch: exit 1" "$?" 1
check "  ... says why" grep -q "it is the tx key" "$T/err"
ctl a group key "$GRP" --key-file "$T/gak7" --epoch 7 >/dev/null 2>"$T/err"
check_eq "--epoch of the tx epoch: exit 1" "$?" 1
check "  ... says why" grep -q "tx key's epoch already" "$T/err"
ctl a group key "$GRP" --epoch 8 >/dev/null 2>"$T/err"
check_eq "--epoch without a key source: usage, exit 2" "$?" 2
ctl a group key "$GRP" --use 8 --retire 7 >/dev/null 2>"$T/err"
check_eq "--use with --retire: usage, exit 2" "$?" 2
ctl b group key "$GRP" "${HSM[@]}" --epoch 9 >/dev/null 2>"$T/err"
check_eq "--hsm --epoch 9, no GAK of epoch 9 in the token: exit 1" "$?" 1
check "  ... says why" grep -q "no GAK for group $GRP epoch 9" "$T/err"
check "  ... and loads nothing" \
	quiet_jq '.tx_epoch == 7 and .accept_epoch == null' <(ctl b -j group show "$GRP")
ctl a group key 239.9.9.9 --use 8 >/dev/null 2>"$T/err"
check_eq "an unprotected group: exit 1" "$?" 1
ctl a group add 239.1.2.4 --suite poly1305 >/dev/null
ctl a group key 239.1.2.4 --use 8 >/dev/null 2>"$T/err"
check_eq "a poly1305 group (no group key): exit 1" "$?" 1
check "  ... says why" grep -q "has no group MAC key" "$T/err"
ctl a group del 239.1.2.4 >/dev/null
check "gemctl group --help lists group key" bash -c "'$GEMCTL' group --help | grep -q 'group key GROUP --retire N'"

echo "--- stream a -> b, c through the move to epoch 8"
for n in b c; do
	gem_bg "$n" "rx-$n" "$PY3" "$MC" recv --group "$GRP" --port "$PORT" --iface wan --tag "$TAG" \
		--expect "$N" --timeout 60 --out "$T/rx-$n.json" --ready "$T/rx-$n.ready" --linger 1
	gem_wait_for 10 test -e "$T/rx-$n.ready" || gem_die "receiver on $n did not start"
done
OPEN_C0=$(stat_of c rx_opened)
gem_bg a tx "$PY3" "$MC" send --group "$GRP" --port "$PORT" --iface wan --src "$SRC" \
	--tag "$TAG" --count "$N" --rate 500 --max-len 1000 \
	--mark "500:$T/m500" --mark "1000:$T/m1000" --mark "1500:$T/m1500" --mark "2000:$T/m2000"
step() { gem_wait_for 20 test -e "$T/$1" || gem_die "sender did not reach $1"; }
step m500
ctl b -j group key "$GRP" "${HSM[@]}" --epoch 8 >"$T/k.log" 2>&1 || gem_die "b: accept 8: $(cat "$T/k.log")"
check "b: -j group key --hsm --epoch 8: accept" \
	quiet_jq '.group == "'"$GRP"'" and .epoch == 8 and .action == "accept"' "$T/k.log"
ctl a group key "$GRP" --key-file "$T/gak8" --epoch 8 >"$T/k.log" 2>&1 || gem_die "a: accept 8: $(cat "$T/k.log")"
check "b: group show during the overlap: tx 7, accepted 8" \
	quiet_jq '.tx_epoch == 7 and .accept_epoch == 8' <(ctl b -j group show "$GRP")
ctl a group key "$GRP" --key-file "$T/gak8" --epoch 9 >/dev/null 2>"$T/err"
check_eq "a third epoch during the overlap: exit 1" "$?" 1
check "  ... says why" grep -q "accepts epoch 8 besides its tx key 7" "$T/err"
step m1000
ctl a group key "$GRP" --use 8 >"$T/k.log" 2>&1 || gem_die "a: use 8: $(cat "$T/k.log")"
step m1500
PREV_B=$(stat_of b rx_mac_prev)
ctl b group key "$GRP" --use 8 >"$T/k.log" 2>&1 || gem_die "b: use 8: $(cat "$T/k.log")"
step m2000
ctl a group key "$GRP" --retire 7 >"$T/k.log" 2>&1 || gem_die "a: retire 7: $(cat "$T/k.log")"
ctl b group key "$GRP" --retire 7 >"$T/k.log" 2>&1 || gem_die "b: retire 7: $(cat "$T/k.log")"
gem_wait "$(gem_pid tx)" 30
gem_wait "$(gem_pid rx-b)" 5	# b expects all N: it ends by itself; c never gets them
sleep 1
for n in b c; do
	gem_stop "rx-$n" TERM
	[ -s "$T/rx-$n.json" ] || tail -n 1 "$T/rx-$n.log" >"$T/rx-$n.json"
	jq . "$T/rx-$n.json" >/dev/null 2>&1 || echo '{}' >"$T/rx-$n.json"
	echo "  $n receiver: $(jq -c '{received, unique, duplicates, bad, other, missing}' "$T/rx-$n.json")"
done
echo "  a: $(ctl a -j stats | jq -c '{tx_sealed, tx_error}')"
for n in b c; do
	echo "  $n: $(ctl "$n" -j stats | jq -c '{rx_opened, rx_mac_prev, rx_bad_tag, rx_replay, rx_error}')"
done

check_eq "a sealed every packet" "$(stat_of a tx_sealed)" "$N"
check "b (member) received all $N packets, byte-identical, no duplicate" \
	quiet_jq --argjson n "$N" '.unique == $n and .missing == 0 and .bad == 0 and .other == 0 and
		.duplicates == 0' "$T/rx-b.json"
check_eq "b: rx_bad_tag" "$(stat_of b rx_bad_tag)" 0
check "b: accepted packets under its non-tx key between a's switch and its own (rx_mac_prev $PREV_B)" \
	test "$PREV_B" -gt 0
check "b: group show after retire: tx 8 only" \
	quiet_jq '.tx_epoch == 8 and .accept_epoch == null' <(ctl b -j group show "$GRP")
OPEN_C=$(( $(stat_of c rx_opened) - OPEN_C0 ))
BAD_C=$(stat_of c rx_bad_tag)
check "c (epoch 7 only) opened what a sealed before its switch (>= 1000, < 1500: $OPEN_C)" \
	test "$OPEN_C" -ge 1000 -a "$OPEN_C" -lt 1500
check_eq "c: every packet sealed after the switch failed (rx_bad_tag + rx_opened = $N)" \
	"$((BAD_C + OPEN_C))" "$N"
check_eq "c: its receiver got exactly what it opened" "$(jq -r '.unique // 0' "$T/rx-c.json")" "$OPEN_C"

echo "mac-epoch: $GEM_CHECKS checks, $GEM_FAILED failed"
[ "$GEM_FAILED" = 0 ]
