#!/bin/bash
# GEM static demo (`demo/static.sh`; `make demo` runs the full-stack demo/demo.sh):
# a protected multicast stream between two routers, a non-member on
# the same WAN, all in network namespaces on this machine.
#
#   hostA --lan-- mcrA --wan0--+  wan (bridge)  +--wan0-- mcrB --lan-- hostB
#                              +----------------+--wan0-- mcrC --lan-- hostC
#
# mcrA seals, mcrB (member) opens, mcrC (not a member) cannot.  Keys are
# loaded by hand (static keying, README "Operating a node by hand").
# KEEP=1 leaves everything up and prints how to look around and clean up.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh

gem_init demo smcrouted tcpdump tshark jq
MC=$GEM_ROOT/selftests/mcast.py
N=${DEMO_PACKETS:-600}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '  $ %s\n' "$*"; }
in_gemctl() { local n=$1; shift; nsx "$n" "$GEMCTL" --pin-dir "$GEM_BPFFS/$n" "$@"; }

if [ "${KEEP:-0}" = 1 ]; then
	keep_notice() {
		echo
		echo "KEEP=1: the demo network stays up (namespaces $GEM_NSP-*, pins in $GEM_BPFFS)."
		echo "  look:     ip netns exec $GEM_NSP-mcrB $GEMCTL --pin-dir $GEM_BPFFS/mcrB stream list"
		echo "  clean up: for n in \$(ip netns list | awk '/^$GEM_NSP-/{print \$1}'); do ip netns pids \$n | xargs -r kill; ip netns del \$n; done; umount $GEM_BPFFS; rm -rf $T"
	}
	trap 'keep_notice' EXIT
fi

say "1. the network: 7 namespaces, multicast routing by smcrouted"
gem_ns_add hostA mcrA wan mcrB hostB mcrC hostC
nsx wan ip link add br0 type bridge mcast_snooping 0
nsx wan ip link set br0 up
gem_link hostA lan mcrA lan0
gem_link hostB lan mcrB lan0
gem_link hostC lan mcrC lan0
for n in A B C; do
	gem_link "mcr$n" wan0 wan "p$n"
	nsx wan ip link set "p$n" master br0
done
i=1
for n in A B C; do
	gem_addr "host$n" lan "10.$i.0.2/24"
	gem_addr "mcr$n" lan0 "10.$i.0.1/24"
	gem_addr "mcr$n" wan0 "10.0.0.$i/24"
	nsx "host$n" ip route add default via "10.$i.0.1"
	nsx "mcr$n" sysctl -qw net.ipv4.ip_forward=1
	i=$((i + 1))
done
for n in B C; do nsx "mcr$n" ip route add 10.1.0.0/24 via 10.0.0.1; done
SRC=10.1.0.2 G=239.1.1.1 GC=239.2.2.2
for n in mcrA mcrB mcrC; do
	if [ $n = mcrA ]; then from=lan0 to=wan0; else from=wan0 to=lan0; fi
	printf 'phyint lan0 enable ttl-threshold 1\nphyint wan0 enable ttl-threshold 1\n' >"$T/$n.conf"
	for g in $G $GC; do echo "mroute from $from source $SRC group $g to $to" >>"$T/$n.conf"; done
	gem_bg "$n" "smc-$n" "$GEM_MROUTER" -n -N -i "demo-$n" -f "$T/$n.conf" -P "$T/$n.pid" -u "$T/$n.sock"
	gem_mroute_wait "$n" 4 $SRC $G || gem_die "$n: no multicast route"
done
echo "  hostA 10.1.0.2 sends to $G (protected) and $GC (clear); hostB and hostC listen"

say "2. attach GEM to each router's WAN interface"
gem_bpffs_mount
for n in mcrA mcrB mcrC; do
	run "gem-load attach wan0     (on $n)"
	nsx "$n" "$GEM_LOAD" --pin-dir "$GEM_BPFFS/$n" attach wan0 >"$T/attach.log" 2>&1 ||
		{ grep -q "kfuncs" "$T/attach.log" && gem_skip "$(cat "$T/attach.log")"; gem_die "$(cat "$T/attach.log")"; }
	sed 's/^/  /' "$T/attach.log"
done

say "3. keys: the group's GAK on the members, one SEK for the stream"
head -c 32 /dev/urandom >"$T/gak"; head -c 32 /dev/urandom >"$T/gak-other"
head -c 16 /dev/urandom >"$T/sek1"; head -c 16 /dev/urandom >"$T/sek2"
chmod 600 "$T"/gak* "$T"/sek*
for n in mcrA mcrB; do
	run "gemctl group add $G --suite hmac-sha256 --key-file gak     (on $n)"
	in_gemctl "$n" group add $G --suite hmac-sha256 --key-file "$T/gak" | sed 's/^/  /'
done
run "gemctl group add $G --suite hmac-sha256 --key-file another-gak     (on mcrC: not a member)"
in_gemctl mcrC group add $G --suite hmac-sha256 --key-file "$T/gak-other" | sed 's/^/  /'
run "gemctl sek set $SRC $G --key-id 1 --key-file sek1 --dir tx     (on mcrA)"
in_gemctl mcrA sek set $SRC $G --key-id 1 --key-file "$T/sek1" --dir tx | sed 's/^/  /'
run "gemctl sek set $SRC $G --key-id 1 --key-file sek1 --dir rx     (on mcrB)"
in_gemctl mcrB sek set $SRC $G --key-id 1 --key-file "$T/sek1" --dir rx | sed 's/^/  /'

say "4. stream: $N packets to $G and to $GC, a capture on the WAN"
gem_bg wan cap tcpdump -i br0 -n -U --immediate-mode -s 256 -w "$T/wan.pcap" udp
gem_wait_for 5 grep -q "listening on" "$T/cap.log" || gem_die "tcpdump did not start"
TAG=$(printf 'demo%012d' $$ | head -c 16)
TAGC=$(printf 'clear%011d' $$ | head -c 16)
# a few probes first: multicast routes settle
gem_bg hostB "probe-$G" python3 "$MC" recv --group $G --port 5100 --iface lan --tag "$TAG" \
	--out "$T/probe-$G.json" --expect 1 --timeout 10 --linger 0
gem_bg hostB "probe-$GC" python3 "$MC" recv --group $GC --port 5100 --iface lan --tag "$TAGC" \
	--out "$T/probe-$GC.json" --expect 1 --timeout 10 --linger 0
sleep 0.3
gem_bg hostA probes python3 "$MC" send --group $G --port 5100 --iface lan --tag "$TAG" \
	--count 100 --rate 50 --until "$T/probe-$G.json" --timeout 10
gem_bg hostA probesc python3 "$MC" send --group $GC --port 5100 --iface lan --tag "$TAGC" \
	--count 100 --rate 50 --until "$T/probe-$GC.json" --timeout 10
gem_wait "$(gem_pid probes)" 12; gem_wait "$(gem_pid probesc)" 12
for h in hostB hostC; do
	gem_bg $h "rx-$h" python3 "$MC" recv --group $G --port 5001 --iface lan --tag "$TAG" \
		--out "$T/rx-$h.json" --expect $N --timeout 20
	gem_bg $h "rxc-$h" python3 "$MC" recv --group $GC --port 5002 --iface lan --tag "$TAGC" \
		--out "$T/rxc-$h.json" --expect $N --timeout 20
done
sleep 0.5
gem_bg hostA tx python3 "$MC" send --group $G --port 5001 --iface lan --tag "$TAG" --count $N --rate 300
gem_bg hostA txc python3 "$MC" send --group $GC --port 5002 --iface lan --tag "$TAGC" --count $N --rate 300
gem_wait "$(gem_pid tx)" 30; gem_wait "$(gem_pid txc)" 30
for h in hostB hostC; do gem_wait "$(gem_pid "rx-$h")" 25; gem_wait "$(gem_pid "rxc-$h")" 25; done
sleep 0.3
gem_stop cap

got() { jq -r "${2:-.received}" "$T/$1.json" 2>/dev/null || echo 0; }
echo "  hostB (member's LAN):     $(got rx-hostB) of $N protected packets, $(got rx-hostB .bad // 0) with a wrong byte; $(got rxc-hostB) of $N clear"
echo "  hostC (non-member's LAN): $(got rx-hostC) of $N protected packets; $(got rxc-hostC) of $N clear"

say "5. what the WAN saw (tshark on the bridge): ciphertext, never the payload"
echo "  first protected packet as sent by hostA (UDP payload, 32 bytes):"
printf '    %s...\n' "$(printf '%s' "$TAG" | od -An -tx1 | tr -d ' \n' | head -c 32)"
echo "  the same packets on the WAN:"
tshark -r "$T/wan.pcap" -Y "ip.dst == $G" -T fields -e frame.len -e udp.length -e data.data -c 3 2>/dev/null |
	awk '{printf "    frame %s B, udp %s B: %s...\n", $1, $2, substr($3, 1, 64)}'
echo "  (GEM header 01 01 0001 = version 1, suite 1, key id 1, then the 64-bit packet number, ciphertext, 16-byte tag)"
leaked=$(python3 "$MC" grep "$T/wan.pcap" "${TAG:0:14}" | jq -r '.[]')
shown=$(python3 "$MC" grep "$T/wan.pcap" "${TAGC:0:14}" | jq -r '.[]')
echo "  plaintext marker of the protected stream on the WAN: ${leaked:-?} times (of the clear stream: ${shown:-?})"

say "6. counters"
run "gemctl stream list     (on mcrA, the sender's router)"
in_gemctl mcrA stream list | sed 's/^/  /'
run "gemctl stream list     (on mcrB, member)"
in_gemctl mcrB stream list | sed 's/^/  /'
for n in mcrA mcrB mcrC; do
	echo "  $n: $(in_gemctl "$n" -j stats 2>/dev/null | jq -c 'with_entries(select(.value > 0))' 2>/dev/null)"
done 2>/dev/null
printf '\n  bpftool shows the same maps, fields named (BTF):\n'
run "bpftool map dump pinned $GEM_BPFFS/mcrB/gem_rx | head"
bpftool map dump pinned "$GEM_BPFFS/mcrB/gem_rx" 2>/dev/null | grep -E '"(key_id|top|packets|drops)"' | head -6 | sed 's/^/    /'

ok=1
[ "$(got rx-hostB)" = "$N" ] || ok=0
[ "$(got rx-hostC)" = 0 ] || ok=0
[ "${leaked:-1}" = 0 ] || ok=0
if [ $ok = 1 ]; then
	say "done: every protected packet reached the member's LAN intact, none reached the non-member's"
else
	say "unexpected result: see the counts above (logs in $T)"
fi
[ "${KEEP:-0}" = 1 ] && exit 0
[ $ok = 1 ]
