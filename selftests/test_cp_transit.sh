#!/bin/bash
# Non-members fail closed toward their LANs (issue 15): a router that lists a
# group in gemd's configuration but holds no GAK for it loads the group as
# transit (gemd), relays its sealed packets to the routers behind it, and
# delivers none of them to its LAN (gem-load attach DEV --role lan).
#
#                        hostB
#                          |lan
#   hostA --lan-- a ---- b ---- c ---- d --lan-- hostD
#
# a (source's router) and d hold the GAK; b and c list the group but do not.
# b routes (SRC, GRP) onto e-c and onto its LAN, where hostB listens.  The
# LANs of a, b and d are attached with --role lan (a's is LAN side for the
# stream admission: a keys hostA's stream on its first packet, issue 14).
# hostA sends 400 numbered packets at 200/s: hostD gets all but the few sent
# before the SEK reached d, byte-identical; hostB gets no datagram at all
# (its socket and a capture on its link count them); b's counters show why
# (rx_transit, tx_transit, lan_sealed_drop), c relays (rx_transit,
# tx_transit), d opens (rx_opened, lan_pass).
#
# GEM_TEST_NO_LAN_ROLE=1 attaches no LAN interface with --role lan: the
# ciphertext then reaches hostB and the test fails (what it guards against;
# so does the code before transit groups, where b passed the packets as
# unprotected traffic, rx_pass).
#
# Exit 0: pass, 77: skip (missing prerequisite), anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/cp_lib.sh

command -v smcrouted >/dev/null || { echo "SKIP: smcrouted missing"; exit 77; }
cp_init cp-transit
MC=$GEM_ROOT/selftests/mcast.py
GRP=239.1.1.9 SRC=10.1.0.2 PORT=5030 COUNT=400
TAG="trn-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n' | head -c 12)"
NODES="a b c d"
stat_of() { gemctl_in "$1" -j stats | jq -r ".$2 // \"none\""; }
quiet() { "$@" >/dev/null 2>&1; }
ge() { [ "$1" != none ] && [ "$1" -ge "$2" ]; }

cp_line4
# b's LAN with a receiver: the multicast route (SRC, GRP) at b goes there too
gem_ns_add hostB
gem_link hostB lan b lanb
gem_addr hostB lan 10.2.0.2/24
gem_addr b lanb 10.2.0.1/24
nsx hostB ip route add default via 10.2.0.1
XTO[b]=lanb
if [ "${GEM_TEST_NO_LAN_ROLE:-0}" != 1 ]; then
	LANS[a]=lan0 LANS[b]=lanb LANS[d]=lan0
else
	echo "  GEM_TEST_NO_LAN_ROLE=1: no interface attached with --role lan (expect failures)"
fi
cp_line4_dataplane
for n in $NODES; do cp_start "$n"; done

transit_loaded() { grep -q "group $GRP: transit in the data plane" "$T/$1/gemd.log"; }
for n in b c; do
	check "$n (no GAK): gemd loads $GRP as transit (log)" gem_wait_for 60 transit_loaded "$n"
	check_eq "$n: $GRP transit in its data plane (gemctl group list)" \
		"$(gemctl_in "$n" -j group list | jq -c --arg g "$GRP" '[.groups[] | select(.group == $g) | {suite, transit}]')" \
		'[{"suite":"hmac-sha256","transit":true}]'
done
for n in a d; do
	check_eq "$n (GAK): $GRP keyed in its data plane" \
		"$(gemctl_in "$n" -j group list | jq -c --arg g "$GRP" '[.groups[] | select(.group == $g) | .transit]')" \
		'[false]'
done
if [ "${GEM_TEST_NO_LAN_ROLE:-0}" != 1 ]; then
	check_eq "b: gem-load status shows the roles" \
		"$(nsx b "$GEM_LOAD" --pin-dir "$GEM_BPFFS/b" status -j | jq -r '[.interfaces[] | "\(.name)=\(.role):\(.state)"] | sort | join(" ")')" \
		"e-a=wan:ok e-c=wan:ok lanb=lan:ok"
fi
pk_all() { [ "$("$GEMCTL" -j control-stats --socket "$T/$1/run/gemd.sock" 2>/dev/null | jq .pubkeys)" = 4 ]; }
for n in a d; do gem_wait_for 90 pk_all "$n" || gem_die "$n never learned the 4 Public Keys"; done

gem_bg hostB capB tcpdump -i lan -n -U --immediate-mode -w "$T/lanB.pcap" "udp and dst host $GRP"
gem_wait_for 10 test -s "$T/lanB.pcap" || gem_die "capture on hostB did not start"
for h in hostB hostD; do
	gem_bg "$h" "rx-$h" python3 "$MC" recv --group "$GRP" --port "$PORT" --iface lan \
		--tag "$TAG" --expect "$COUNT" --timeout 40 --out "$T/rx-$h.json" --ready "$T/rx-$h.ready" --linger 2
	gem_wait_for 5 test -e "$T/rx-$h.ready" || gem_die "receiver on $h did not start"
done
gem_bg hostA tx python3 "$MC" send --group "$GRP" --port "$PORT" --iface lan --src "$SRC" \
	--tag "$TAG" --count "$COUNT" --rate 200 --max-len 1000
gem_wait "$(gem_pid tx)" 30
sleep 2
for h in hostB hostD; do
	gem_stop "rx-$h" TERM
	f=$T/rx-$h.json
	[ -s "$f" ] || tail -n 1 "$T/rx-$h.log" >"$f"
	jq . "$f" >/dev/null 2>&1 || echo '{}' >"$f"
	echo "  receiver $h: $(jq -c '{received, unique, missing, bad, other}' "$f")"
done
gem_stop capB INT
ONLAN=$(tcpdump -r "$T/lanB.pcap" -n 2>/dev/null | wc -l)
MIN=$((COUNT - 20))	# the first packets find no SEK (a, then d), by design
check "a keyed hostA's stream on its first packet (lan0 attached --role lan is LAN side)" \
	grep -q "new stream ($SRC, $GRP): SEK key id 1 loaded for egress and announced" "$T/a/gemd.log"
check "hostD: the stream ($MIN+ of $COUNT, none missing after the first 20), byte-identical" \
	quiet jq -e --argjson n "$MIN" '.unique >= $n and .bad == 0 and .other == 0 and
		([.first_missing[] | select(. >= 20)] | length) == 0' "$T/rx-hostD.json"
check "hostB (LAN of the non-member b): its socket got no datagram of the group" \
	quiet jq -e '.received == 0 and .bad == 0 and .other == 0' "$T/rx-hostB.json"
check_eq "hostB: no datagram to $GRP on its link (capture)" "$ONLAN" 0

for k in rx_transit tx_transit lan_sealed_drop rx_pass tx_pass rx_opened; do
	eval "B_$k=\$(stat_of b $k)"
done
echo "  b: rx_transit $B_rx_transit tx_transit $B_tx_transit lan_sealed_drop $B_lan_sealed_drop" \
	"rx_pass $B_rx_pass rx_opened $B_rx_opened"
check "b: passed the sealed packets at ingress as transit (rx_transit >= $MIN)" ge "$B_rx_transit" "$MIN"
check "b: relayed them sealed toward c (tx_transit >= $MIN)" ge "$B_tx_transit" "$MIN"
check "b: dropped them toward its LAN (lan_sealed_drop >= $MIN)" ge "$B_lan_sealed_drop" "$MIN"
check "b: none passed as unprotected (rx_pass < $COUNT)" \
	bash -c "[ '$B_rx_pass' != none ] && [ '$B_rx_pass' -lt $COUNT ]"
check_eq "b: opened nothing (rx_opened)" "$B_rx_opened" 0
check "c: relayed them (rx_transit, tx_transit >= $MIN)" \
	bash -c "$(declare -f ge); ge '$(stat_of c rx_transit)' $MIN && ge '$(stat_of c tx_transit)' $MIN"
check "d: opened them (rx_opened >= $MIN) and passed them to its LAN (lan_pass >= $MIN)" \
	bash -c "$(declare -f ge); ge '$(stat_of d rx_opened)' $MIN && ge '$(stat_of d lan_pass)' $MIN"
check_eq "d: nothing of a transit group at its LAN (lan_sealed_drop)" "$(stat_of d lan_sealed_drop)" 0
check "a: sealed them (tx_sealed >= $MIN)" ge "$(stat_of a tx_sealed)" "$MIN"
cp_stop_all
echo "cp-transit: $GEM_CHECKS checks, $GEM_FAILED failed"
[ "$GEM_FAILED" = 0 ]
