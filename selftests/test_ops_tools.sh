#!/bin/bash
# Operators' tools over real traffic: the Wireshark dissector
# (contrib/wireshark/gem.lua) decoded by tshark, every field checked against
# what made it, and `gemctl monitor` (JSON and text) during the same run.
#
# 1. Data plane:  r --wan-- h.  r seals three groups, one per suite
#    (hmac-sha256, cmac, poly1305), with known key ids; h captures.  Every
#    sealed packet decodes as GEM version 1, the group's suite and key id,
#    consecutive packet numbers ending where `gemctl stream list` says the
#    next one starts, the sent payload length, a 16-byte tag; unicast UDP of
#    the same bytes is not taken for GEM.
# 2. Control plane:  a ---- b, real gemd (tunnels, babeld, SoftHSM); a
#    sources a pre-declared stream of a group both hold the GAK of; b captures
#    gemd's packets (UDP 6698 inside the tunnel).  Public Keys with both node
#    ids and addresses, the SEK Announce of the stream with the key id b's
#    data plane loaded, Acks and a Request are decoded.  Two `gemctl monitor`
#    clients on b (JSON, text), started before a, report a's neighbour-up,
#    its Public Key and SEK Announce records and the SEK loaded, with the
#    same node ids and key id.
#
# Exit 0: pass, 77: skip (missing prerequisite), anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/cp_lib.sh

LUA=$GEM_ROOT/contrib/wireshark/gem.lua
PY3=/usr/bin/python3
[ -x "$PY3" ] || PY3=python3
cp_init ops-tools tshark
tshark -v >/dev/null 2>&1 || gem_skip "tshark does not run"
tshark -G protocols -X lua_script:"$LUA" 2>/dev/null | grep -q '^GEM sealed' ||
	gem_skip "tshark has no Lua (wireshark-common built without it?)"
quiet() { "$@" >/dev/null 2>&1; }
dissect() { tshark -X lua_script:"$LUA" -n -r "$@" 2>"$T/tshark.err"; }

echo "--- 0. the suite-4 SEK Announce vector (docs/PROTOCOL.md 10.12 packet 3), offline"
# its 200-byte layout: the wrapped SEK 40 bytes at 64, HMAC at 104, signature
# at 136; the same bytes with suite byte 1 are flagged (suite 1 wants 184)
P3=2a0200cae1c806b9d005c278f469000000080000019ae18245c400000e10000400000000000000000000ffffc633640a00000000000000000000ffffef0101010002000000073b2d05e9d7f566e61626eb8040fb9fd3210fa6c1d52670cc90cee72f19e969b192c239479e9f2a0aaa731bce5fc3e32696d1fa4dd147163c709fe47bcc45bd756c257604f56c712dfff15d9d0689e3dea8354af489089d4bd26cf41319e1f1d0f9547fafe5950ac1d39f9bfe23cef00bf0a76f96e3ba40e2dc6ddcb333de7e87ca1f8e1b32b68e0a
P3BAD=${P3:0:62}01${P3:64}
for p in "$P3" "$P3BAD"; do
	printf '0000 %s\n\n' "$(echo "$p" | sed 's/../& /g')"
done >"$T/p3.txt"
if text2pcap -q -u 6698,6698 "$T/p3.txt" "$T/p3.pcap" >/dev/null 2>&1; then
	dissect "$T/p3.pcap" -T fields -e gemcp.suite -e gemcp.wrapped -e gemcp.hmac -e gemcp.sig \
		-e _ws.expert.message | sed 's/://g' >"$T/p3.fields"
	check "suite-4 SEK Announce: suite, 40-byte wrapped SEK, HMAC, signature at their offsets" \
		[ "$(sed -n 1p "$T/p3.fields" | tr -d '\t')" = "4${P3:140:80}${P3:220:64}${P3:284:128}" ]
	check "suite byte 1 in 200 bytes: flagged malformed (wants 184)" \
		grep -q 'SEK Announce of 200 bytes (wants 184)' "$T/p3.fields"
else
	check "text2pcap (wireshark-common) writes the vector packet" false
fi

echo "--- 1. sealed packets"
gem_ns_add r h
gem_link r wan h wan
gem_bpffs_mount
ctl() { nsx r "$GEMCTL" --pin-dir "$GEM_BPFFS/r" "$@"; }
nsx r ip addr add 10.9.0.1/24 dev wan
nsx h ip addr add 10.9.0.2/24 dev wan
nsx r ip route add 224.0.0.0/4 dev wan
nsx r "$GEM_LOAD" --pin-dir "$GEM_BPFFS/r" attach wan >"$T/attach.log" 2>&1 ||
	gem_die "gem-load attach: $(cat "$T/attach.log")"
head -c 32 /dev/urandom >"$T/gak"
declare -A SUITE=([239.1.1.1]=1 [239.1.1.2]=2 [239.1.1.3]=3) KID=([239.1.1.1]=5 [239.1.1.2]=600 [239.1.1.3]=65535)
NAME=([1]=hmac-sha256 [2]=cmac [3]=poly1305)
for g in "${!SUITE[@]}"; do
	head -c 16 /dev/urandom >"$T/sek-$g"
	ctl group add "$g" --suite "${NAME[${SUITE[$g]}]}" --key-file "$T/gak" >/dev/null ||
		gem_die "group add $g"
	ctl sek set 10.9.0.1 "$g" --key-id "${KID[$g]}" --key-file "$T/sek-$g" --dir tx >/dev/null ||
		gem_die "sek set $g"
done
gem_bg h cap tcpdump -i wan -n -U --immediate-mode -w "$T/wan.pcap" udp
gem_wait_for 10 test -s "$T/wan.pcap" || gem_die "tcpdump did not start"
N=6
nsx r "$PY3" - "$N" <<'EOF'
import socket, sys
n = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 4)
for g in ("239.1.1.1", "239.1.1.2", "239.1.1.3"):
    for i in range(n):
        s.sendto(bytes([i]) * (10 * i), (g, 5000))      # 0, 10, 20, ... bytes
# unicast UDP that looks like a GEM header: not GEM (not to a group)
s.sendto(bytes([1, 1]) + bytes(40), ("10.9.0.2", 5000))
EOF
sleep 1
gem_stop cap INT
dissect "$T/wan.pcap" -Y gem -T fields -E separator=' ' -e ip.dst -e gem.version -e gem.suite \
	-e gem.key_id -e gem.pn -e gem.ciphertext_len -e gem.tag >"$T/gem.txt"
check "tshark ran the dissector without errors" bash -c "! grep -v 'Running as user' '$T/tshark.err'"
check_eq "sealed packets decoded" "$(wc -l <"$T/gem.txt")" $((3 * N))
check_eq "unicast UDP is not GEM" \
	"$(dissect "$T/wan.pcap" -Y 'gem and ip.dst == 10.9.0.2' | wc -l)" 0
ctl -j stream list >"$T/streams.json"
for g in "${!SUITE[@]}"; do
	grep "^$g " "$T/gem.txt" >"$T/gem-$g.txt"
	check_eq "$g: version 1, suite ${SUITE[$g]}, key id ${KID[$g]} on every packet" \
		"$(awk '{print $2, $3, $4}' "$T/gem-$g.txt" | sort -u)" "1 ${SUITE[$g]} ${KID[$g]}"
	check_eq "$g: ciphertext lengths are the payloads' (0, 10, ...)" \
		"$(awk '{print $6}' "$T/gem-$g.txt" | tr '\n' ' ')" \
		"$(for i in $(seq 0 $((N - 1))); do printf '%d ' $((10 * i)); done)"
	check_eq "$g: 16-byte tags" "$(awk '{print length($7)}' "$T/gem-$g.txt" | sort -u)" 32
	# (jq would round the 64-bit numbers: Python reads them)
	check "$g: packet numbers consecutive, the last one just below the stream's next_pn" \
		"$PY3" -c "import json
nxt = [r['next_pn'] for r in json.load(open('$T/streams.json'))['streams']
       if r['dir'] == 'tx' and r['group'] == '$g'][0]
pn = [int(l.split()[4]) for l in open('$T/gem-$g.txt')]
assert all(b == a + 1 for a, b in zip(pn, pn[1:])), pn
assert pn[-1] + 1 == nxt, (pn[-1], nxt)"
done

echo "--- 2. gemd's control packets"
GRP=239.2.2.2 SRC=10.255.0.1
cp_node a 1
cp_node b 2
cp_link a b
for n in a b; do
	cp_keys "$n" import gak "$GRP" "$T/gak" >/dev/null || gem_die "import gak ($n)"
	mkdir -p "$GEM_BPFFS/$n"
	nsx "$n" "$GEM_LOAD" --pin-dir "$GEM_BPFFS/$n" attach "e-$([ $n = a ] && echo b || echo a)" \
		>"$T/attach-$n.log" 2>&1 || gem_die "gem-load attach ($n): $(cat "$T/attach-$n.log")"
done
printf '[groups]\ngroup = %s\nstream = %s %s\nsuite = cmac\n[node]\npin_dir = %s\n' \
	"$GRP" "$SRC" "$GRP" "$GEM_BPFFS/a" >"$T/a/extra"
printf '[groups]\ngroup = %s\nsuite = cmac\n[node]\npin_dir = %s\n' "$GRP" "$GEM_BPFFS/b" \
	>"$T/b/extra"
eval "$(declare -f cp_conf | sed '1s/^cp_conf/cp_conf_base/')"
cp_conf() { cp_conf_base "$1" "$(cat "$T/$1/extra")"; }
gem_bg b capcp tcpdump -i any -n -U --immediate-mode -w "$T/cp.pcap" udp port 6698
gem_wait_for 10 test -s "$T/cp.pcap" || gem_die "tcpdump (any) did not start"
cp_start b
gem_wait_for 20 test -S "$T/b/run/gemd.sock" || gem_die "b's gemd has no control socket"
gem_bg b monj "$GEMCTL" -j monitor --socket "$T/b/run/gemd.sock" --timeout 120
gem_bg b mont "$GEMCTL" monitor --socket "$T/b/run/gemd.sock" --timeout 120
mon_clients() { "$GEMCTL" -j control-stats --socket "$T/b/run/gemd.sock" | jq -e '.monitor_clients == 2'; }
gem_wait_for 10 mon_clients || gem_die "the monitors did not subscribe: $(cat "$T/monj.log")"
cp_start a
rxkid() {
	nsx b "$GEMCTL" --pin-dir "$GEM_BPFFS/b" -j stream list 2>/dev/null |
		jq -r --arg g "$GRP" '.streams[] | select(.dir == "rx" and .group == $g) | .key_id'
}
has_rx() { [ -n "$(rxkid)" ]; }
gem_wait_for 90 has_rx ||
	gem_die "b never loaded the stream's SEK: $(tail -5 "$T/b/gemd.log")"
K=$(rxkid)
sleep 2		# the last acks
gem_stop capcp INT
dissect "$T/cp.pcap" -Y gemcp -T fields -E separator=' ' -E occurrence=a -E aggregator=, \
	-e gemcp.tlv.type >"$T/cp-types.txt"
check "tshark ran the dissector without errors" bash -c "! grep -v 'Running as user' '$T/tshark.err'"
check "packets decoded as GEM control" [ -s "$T/cp-types.txt" ]
types=$(tr ', ' '\n\n' <"$T/cp-types.txt" | sort -u | tr '\n' ' ')
check_eq "TLV types seen" "$types" "224 225 226 227 "
dissect "$T/cp.pcap" -Y 'gemcp.tlv.type == 224' -T fields -E occurrence=a -E aggregator=' ' \
	-e gemcp.origin -e gemcp.address | tr '\t' '\n' | tr ' ' '\n' | sed 's/://g' | sort -u \
	>"$T/pk.txt"
for n in a b; do
	check "Public Key of $n: node id $(cp_id "$n")" grep -qx "$(cp_id "$n")" "$T/pk.txt"
	check "Public Key of $n: address $(cp_addr "$n")" grep -qx "$(cp_addr "$n" | sed 's/://g')" \
		"$T/pk.txt"
done
dissect "$T/cp.pcap" -Y 'gemcp.tlv.type == 225' -T fields -E occurrence=f -e gemcp.origin \
	-e gemcp.source -e gemcp.group -e gemcp.key_id -e gemcp.suite -e gemcp.withdrawn \
	-e gemcp.lifetime -e gemcp.origin_ms | sed 's/://g' | sort -u >"$T/sek.txt"
check "SEK Announce: origin a, ($SRC, $GRP), key id $K (b's data plane), suite 2, live" \
	grep -qP "^$(cp_id a)\t$SRC\t$GRP\t$K\t2\t0\t[0-9]+\t[0-9]+$" "$T/sek.txt"
check "SEK Announce: its origin time within a minute of this clock" "$PY3" -c "import time
t = [int(l.split()[-1]) for l in open('$T/sek.txt')]
assert t and all(abs(x / 1000 - time.time()) < 60 for x in t), t"
check "Ack entries name records" quiet test -n "$(dissect "$T/cp.pcap" -Y 'gemcp.ack.type == 225')"
acked() { jq_ok "$(cp_peers b)" '.peers[] | select(.node_id == $a) |
	.records.pending == 0 and .records.request_pending == false' --arg a "$(cp_id a)"; }
check "gemctl -j peers: b owes a nothing (records.pending 0, the Request acked)" \
	gem_wait_for 10 acked

echo "--- 3. gemctl monitor"
jq() { command jq "$@" >/dev/null; }
A=$(cp_id a)
M=$T/monj.log
check "monitor -j: every line is a JSON object with time and event" \
	jq -e -s 'length > 0 and all(.[]; (.time | test("^[0-9-]+T[0-9:.]+Z$")) and
		(.event | type == "string"))' "$M"
check "monitor: neighbour-up of a" \
	jq -e -s --arg a "$A" 'any(.[]; .event == "neighbour-up" and .node == $a)' "$M"
check "monitor: record new, a's Public Key" \
	jq -e -s --arg a "$A" 'any(.[]; .event == "record" and .action == "new" and
		.type == "public-key" and .origin == $a)' "$M"
check "monitor: record new, a's SEK Announce of the stream, b a member" \
	jq -e -s --arg a "$A" --arg s "$SRC" --arg g "$GRP" --argjson k "$K" 'any(.[];
		.event == "record" and .type == "sek-announce" and .origin == $a and
		.source == $s and .group == $g and .key_id == $k and .member)' "$M"
check "monitor: sek-loaded rx, key id $K" \
	jq -e -s --arg s "$SRC" --argjson k "$K" 'any(.[]; .event == "sek-loaded" and
		.dir == "rx" and .source == $s and .key_id == $k)' "$M"
check "monitor text: the same events, as TIME EVENT key=value" \
	grep -qE "^[0-9-]+T[0-9:.]+Z sek-loaded dir=rx type=sek-announce origin=$A seqno=[0-9]+ source=$SRC group=$GRP key_id=$K replaced=false\$" "$T/mont.log"
check_eq "monitor text and JSON: as many events" "$(wc -l <"$T/mont.log")" "$(wc -l <"$M")"
cp_stop_all
check "monitors ended when gemd stopped" bash -c "! kill -0 $(gem_pid monj) 2>/dev/null"
head -4 "$T/mont.log" | sed 's/^/    /'
echo "ops-tools: $GEM_CHECKS checks, $GEM_FAILED failed"
[ "$GEM_FAILED" = 0 ]
