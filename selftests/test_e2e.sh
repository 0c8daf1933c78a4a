#!/bin/bash
# GEM end to end (issue 3): real multicast routing between namespaces, the data
# plane attached by gem-load and keyed by gemctl, real senders and receivers.
#
#   hostA --lan-- mcrA --wan0--+             +--wan0-- mcrB --lan-- hostB
#                              |  wan: br0   |
#                              +-- (inj) ----+--wan0-- mcrC --lan-- hostC
#
# mcrA/B/C route multicast with smcrouted (static (S,G) routes hostA ->
# wan -> lan); the wan is a bridge in its own namespace, so mcrB and mcrC both
# receive everything mcrA sends.  mcrA seals, mcrB opens; mcrC runs GEM with
# the groups protected but is no member: another GAK, and for the IPv4 stream
# no SEK at all.  Streams (selftests/mcast.py): 239.1.1.1 (suite hmac-sha256)
# and ff3e::1:1 (suite cmac) protected, 239.2.2.2 and ff3e::2:2 in clear.
#
# Checks: hostB gets every payload byte for byte (and the same UDP datagrams,
# checksums included, that left hostA); the wan carries GEM packets and never
# a plaintext marker; mcrC drops and counts what it cannot open and hostC gets
# nothing; replayed / bit-flipped packets re-injected on the wan are dropped
# with the right counter; clear groups pass unchanged; SEK rotations during a
# 1500 packets/s stream lose nothing; sealed packets over the MTU rule are
# dropped (tx_mtu); every IP/UDP checksum in every capture is valid (tshark).
#
# Exit 0: pass, 77: skip (missing prerequisite), anything else: fail.
# GEM_XDP_MODE=generic runs it with generic XDP.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh

gem_init e2e smcrouted tcpdump tshark jq od
MC=$GEM_ROOT/selftests/mcast.py
INJ=$GEM_ROOT/selftests/inject.py
XDP_MODE=${GEM_XDP_MODE:-native}
START=$SECONDS

G4P=239.1.1.1 G6P=ff3e::1:1	# protected
G4U=239.2.2.2 G6U=ff3e::2:2	# in clear
S4=10.1.0.2 S6=fd00:1::2	# hostA
GROUPS_ALL="$G4P $G6P $G4U $G6U"
P_PROBE=5100 P_A=5001 P_ROT=5002 P_MTU=5003
MCRS="mcrA mcrB mcrC"

is6() { case $1 in *:*) return 0 ;; esac; return 1; }
src_of() { if is6 "$1"; then echo $S6; else echo $S4; fi; }
fam_of() { if is6 "$1"; then echo 6; else echo 4; fi; }
# largest payload: protected ones must fit the MTU once sealed (+28)
maxlen_of() {
	case $1 in
	"$G4P") echo 1444 ;; "$G6P") echo 1424 ;; "$G4U") echo 1472 ;; "$G6U") echo 1452 ;;
	esac
}
prot() { [ "$1" = "$G4P" ] || [ "$1" = "$G6P" ]; }
short() { # a name for a group in labels
	case $1 in "$G4P") echo p4 ;; "$G6P") echo p6 ;; "$G4U") echo u4 ;; "$G6U") echo u6 ;; esac
}
# 16-character payload tags, unique per run: KIND (3) - RUN (12 hex)
RUN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
tag() { echo "$1-$RUN"; }

quiet() { "$@" >/dev/null 2>>"$T/quiet.err"; }
gemctl_in() { local n=$1; shift; nsx "$n" "$GEMCTL" --pin-dir "$GEM_BPFFS/$n" "$@"; }
gemload_in() { local n=$1; shift; nsx "$n" "$GEM_LOAD" --pin-dir "$GEM_BPFFS/$n" "$@"; }

# counters: snap LABEL saves every MCR's `gemctl -j stats`; delta NODE COUNTER FROM TO
snap() {
	local n
	for n in $MCRS; do
		gemctl_in "$n" -j stats >"$T/ctr-$1-$n.json" 2>"$T/ctr.err" ||
			gem_die "gemctl stats on $n: $(cat "$T/ctr.err")"
	done
}
delta() {
	echo $(($(jq ".$2" "$T/ctr-$4-$1.json") - $(jq ".$2" "$T/ctr-$3-$1.json")))
}

# rx LABEL NS GROUP PORT TAG EXPECT TIMEOUT [mcast.py recv options]: receiver on
# NS's lan, result in $T/LABEL.json; returns once it has joined.
rx() {
	local label=$1 ns=$2 g=$3 port=$4 tg=$5 exp=$6 to=$7
	shift 7
	gem_bg "$ns" "$label" python3 "$MC" recv --group "$g" --port "$port" --iface lan \
		--tag "$tg" --expect "$exp" --timeout "$to" --max-len "$(maxlen_of "$g")" \
		--out "$T/$label.json" --ready "$T/$label.ready" "$@"
	gem_wait_for 5 test -e "$T/$label.ready" || gem_die "receiver $label did not start: $(cat "$T/$label.log")"
}
# tx LABEL GROUP PORT TAG COUNT RATE [mcast.py send options]: sender on hostA,
# its JSON summary in $T/LABEL.log.
tx() {
	local label=$1 g=$2 port=$3 tg=$4 n=$5 rate=$6
	shift 6
	gem_bg hostA "$label" python3 "$MC" send --group "$g" --port "$port" --iface lan \
		--src "$(src_of "$g")" --tag "$tg" --count "$n" --rate "$rate" \
		--max-len "$(maxlen_of "$g")" "$@"
}
# done_wait LABEL TIMEOUT: wait for a receiver/sender to finish; its JSON must exist
done_wait() {
	gem_wait "$(gem_pid "$1")" "$2"
	[ -s "$T/$1.json" ] || tail -n 1 "$T/$1.log" >"$T/$1.json"
	jq -e . "$T/$1.json" >/dev/null 2>&1 || { echo "  ($1 produced no result: $(tail -c 300 "$T/$1.log"))"; echo '{}' >"$T/$1.json"; }
}
j() { jq -r "$2" "$T/$1.json"; }

# cap NS IF LABEL: tcpdump of UDP on NS:IF into $T/LABEL.pcap (-U: every packet
# written at once, so a running capture can be read; --immediate-mode: none
# lost when it stops)
cap() {
	gem_bg "$1" "cap-$3" tcpdump -i "$2" -n -Z root -U --immediate-mode -B 8192 -s 2048 \
		-w "$T/$3.pcap" udp
	gem_wait_for 5 grep -q "listening on" "$T/cap-$3.log" ||
		gem_die "tcpdump on $1:$2 did not start: $(cat "$T/cap-$3.log")"
}

echo "--- topology (namespaces $GEM_NSP-*)"
gem_ns_add hostA mcrA wan mcrB hostB mcrC hostC
nsx wan ip link add br0 type bridge mcast_snooping 0	# flood all multicast to every port
nsx wan ip link set br0 up
gem_link hostA lan mcrA lan0
gem_link hostB lan mcrB lan0
gem_link hostC lan mcrC lan0
gem_link mcrA wan0 wan pA
gem_link mcrB wan0 wan pB
gem_link mcrC wan0 wan pC
gem_link wan inj wan pI		# the injector's port
for p in pA pB pC pI; do nsx wan ip link set "$p" master br0; done
i=1
for n in A B C; do
	gem_addr "host$n" lan "10.$i.0.2/24"
	gem_addr "host$n" lan "fd00:$i::2/64"
	gem_addr "mcr$n" lan0 "10.$i.0.1/24"
	gem_addr "mcr$n" lan0 "fd00:$i::1/64"
	gem_addr "mcr$n" wan0 "10.0.0.$i/24"
	gem_addr "mcr$n" wan0 "fd00::$i/64"
	nsx "host$n" ip route add default via "10.$i.0.1"
	nsx "host$n" ip -6 route add default via "fd00:$i::1"
	nsx "mcr$n" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	i=$((i + 1))
done
# routes back to the source: IPv4 multicast fails the reverse-path check without
for n in B C; do
	nsx "mcr$n" ip route add 10.1.0.0/24 via 10.0.0.1
	nsx "mcr$n" ip -6 route add fd00:1::/64 via fd00::1
done

echo "--- multicast routing (smcrouted in mcrA, mcrB, mcrC)"
for n in $MCRS; do
	if [ "$n" = mcrA ]; then from=lan0 to=wan0; else from=wan0 to=lan0; fi
	{
		echo "phyint lan0 enable ttl-threshold 1"
		echo "phyint wan0 enable ttl-threshold 1"
		for g in $GROUPS_ALL; do
			echo "mroute from $from source $(src_of "$g") group $g to $to"
		done
	} >"$T/$n.conf"
	gem_bg "$n" "smcrouted-$n" smcrouted -n -N -i "gem-$n" -f "$T/$n.conf" \
		-P "$T/$n.smc.pid" -u "$T/$n.smc.sock"
done
for n in $MCRS; do
	for g in $GROUPS_ALL; do
		gem_mroute_wait "$n" "$(fam_of "$g")" "$(src_of "$g")" "$g" ||
			gem_die "$n: no multicast route ($(src_of "$g"), $g): $(cat "$T/smcrouted-$n.log")"
	done
	gem_wait_for 5 gem_mc6_ready "$n" lan0 wan0 || gem_die "$n: no ff00::/8 local routes"
done
for n in hostA hostB hostC; do
	gem_wait_for 5 gem_mc6_ready "$n" lan || gem_die "$n: no ff00::/8 local route"
done
echo "  ok   (S,G) routes installed on every MCR"

echo "--- GEM on the wan interfaces (xdp $XDP_MODE)"
gem_bpffs_mount
for n in $MCRS; do
	if ! gemload_in "$n" attach wan0 --xdp-mode "$XDP_MODE" >"$T/attach.log" 2>&1; then
		grep -q "lacks the BPF crypto kfuncs" "$T/attach.log" && gem_skip "$(cat "$T/attach.log")"
		gem_die "gem-load attach on $n: $(cat "$T/attach.log")"
	fi
	check "$n: gem-load status: wan0 attached, $XDP_MODE, ok" \
		jq -e --arg m "$XDP_MODE" '.loaded and (.interfaces | length == 1) and .interfaces[0].name == "wan0" and .interfaces[0].xdp_mode == $m and .interfaces[0].state == "ok"' \
		<(gemload_in "$n" status -j)
done
# keys: one GAK per group (members mcrA, mcrB); mcrC holds other GAKs
for k in gak4 gak6 gakX4 gakX6; do head -c 32 /dev/urandom >"$T/$k"; done
for k in sek4-1 sek4-2 sek4-3 sek6-1 sek6-2 sek6-3; do head -c 16 /dev/urandom >"$T/$k"; done
keyset() { # keyset NODE CMD...: a gemctl key command that must succeed
	local n=$1
	shift
	gemctl_in "$n" "$@" >"$T/key.log" 2>&1 || gem_die "$n: gemctl $*: $(cat "$T/key.log")"
}
for n in mcrA mcrB; do
	keyset "$n" group add $G4P --suite hmac-sha256 --key-file "$T/gak4"
	keyset "$n" group add $G6P --suite cmac --key-file "$T/gak6"
done
keyset mcrC group add $G4P --suite hmac-sha256 --key-file "$T/gakX4"
keyset mcrC group add $G6P --suite cmac --key-file "$T/gakX6"
keyset mcrA sek set $S4 $G4P --key-id 1 --key-file "$T/sek4-1" --dir tx
keyset mcrA sek set $S6 $G6P --key-id 1 --key-file "$T/sek6-1" --dir tx
keyset mcrB sek set $S4 $G4P --key-id 1 --key-file "$T/sek4-1" --dir rx
keyset mcrB sek set $S6 $G6P --key-id 1 --key-file "$T/sek6-1" --dir rx
# mcrC: the right SEK of the IPv6 stream (as if it leaked) but not the GAK
keyset mcrC sek set $S6 $G6P --key-id 1 --key-file "$T/sek6-1" --dir rx
echo "  ok   groups and SEKs loaded"

cap wan br0 wan
cap hostA lan hostA
cap hostB lan hostB
cap hostC lan hostC

echo "--- probes until every path carries multicast"
# IPv6 multicast through a router is dropped for a while after links come up
# (PLATFORM.md): probe each group until its receivers see one packet.
for g in $GROUPS_ALL; do
	s=$(short "$g")
	files="$T/probeB-$s.json"
	rx "probeB-$s" hostB "$g" $P_PROBE "$(tag "q$s")" 1 15 --linger 0
	if ! prot "$g"; then
		rx "probeC-$s" hostC "$g" $P_PROBE "$(tag "q$s")" 1 15 --linger 0
		files="$files $T/probeC-$s.json"
	fi
	# shellcheck disable=SC2086
	tx "probe-$s" "$g" $P_PROBE "$(tag "q$s")" 100000 20 --until $files --timeout 15
done
for g in $GROUPS_ALL; do
	s=$(short "$g")
	done_wait "probe-$s" 16
	done_wait "probeB-$s" 1
	check_eq "hostB gets probes to $g" "$(j "probeB-$s" '.unique > 0 and .bad == 0')" true
	if ! prot "$g"; then
		done_wait "probeC-$s" 1
		check_eq "hostC gets probes to $g" "$(j "probeC-$s" '.unique > 0 and .bad == 0')" true
	fi
done
[ "$GEM_FAILED" = 0 ] || gem_die "multicast does not get through; stopping"

N=600 RATE=1000
echo "--- delivery: $N packets per group at $RATE/s, payloads 22 bytes .. maximum"
snap a0
for g in $GROUPS_ALL; do
	s=$(short "$g")
	rx "B-$s" hostB "$g" $P_A "$(tag "a$s")" $N 8
	# hostC: clear groups must arrive (mcrC routes), protected ones never
	if prot "$g"; then rx "C-$s" hostC "$g" $P_A "$(tag "a$s")" 0 3; else rx "C-$s" hostC "$g" $P_A "$(tag "a$s")" $N 8; fi
done
for g in $GROUPS_ALL; do tx "A-$(short "$g")" "$g" $P_A "$(tag "a$(short "$g")")" $N $RATE; done
for g in $GROUPS_ALL; do
	s=$(short "$g")
	done_wait "A-$s" 10
	done_wait "B-$s" 10
	done_wait "C-$s" 10
done
sleep 0.2
snap a1
for g in $GROUPS_ALL; do
	s=$(short "$g")
	check_eq "hostA sent $N to $g" "$(j "A-$s" '.sent')" $N
	check_eq "hostB: every packet to $g, each payload byte-identical" \
		"$(j "B-$s" '"\(.unique) unique, \(.duplicates) dup, \(.bad) bad, \(.other) foreign"')" \
		"$N unique, 0 dup, 0 bad, 0 foreign"
	if prot "$g"; then
		check_eq "hostC: nothing to $g (mcrC is no member)" "$(j "C-$s" '.received + .bad + .other')" 0
	else
		check_eq "hostC: every packet to clear $g" "$(j "C-$s" '"\(.unique)/\(.bad)"')" "$N/0"
	fi
done
check_eq "mcrA tx_sealed" "$(delta mcrA tx_sealed a0 a1)" $((2 * N))
for c in tx_no_key tx_mtu tx_gso tx_malformed tx_error; do
	check_eq "mcrA $c" "$(delta mcrA $c a0 a1)" 0
done
check "mcrA tx_pass >= clear packets" [ "$(delta mcrA tx_pass a0 a1)" -ge $((2 * N)) ]
check_eq "mcrB rx_opened" "$(delta mcrB rx_opened a0 a1)" $((2 * N))
for c in rx_no_key rx_bad_tag rx_replay rx_too_old rx_key_id rx_malformed rx_error; do
	check_eq "mcrB $c" "$(delta mcrB $c a0 a1)" 0
done
check_eq "mcrC rx_no_key (IPv4 stream: no SEK)" "$(delta mcrC rx_no_key a0 a1)" $N
check_eq "mcrC rx_bad_tag (IPv6 stream: SEK but other GAK)" "$(delta mcrC rx_bad_tag a0 a1)" $N
check_eq "mcrC rx_opened" "$(delta mcrC rx_opened a0 a1)" 0

echo "--- the wan capture"
for g in $G4P $G6P; do
	s=$(short "$g")
	suite=1
	[ "$g" = "$G6P" ] && suite=2
	python3 "$MC" wan "$T/wan.pcap" --group "$g" --port $P_A --count $N \
		--max-len "$(maxlen_of "$g")" --suite $suite >"$T/wan-$s.json"
	check_eq "wan: $g: $N GEM packets (v1, suite $suite, key id 1, unique nonces), each plaintext length + 28" \
		"$(j "wan-$s" '"\(.count) \(.bad_header) \(.key_ids) \(.unique_nonces) \(.lens_match)"')" \
		"$N 0 [1] true true"
done
for g in $G4U $G6U; do
	s=$(short "$g")
	python3 "$MC" wan "$T/wan.pcap" --group "$g" --port $P_A --count $N \
		--max-len "$(maxlen_of "$g")" --clear --tag "$(tag "a$s")" >"$T/wan-$s.json"
	check_eq "wan: clear $g: $N packets, payload unchanged" \
		"$(j "wan-$s" '"\(.count) \(.exact) \(.lens_match)"')" "$N $N true"
done

echo "--- re-injected on the wan: replayed, too old, one bit changed"
snap i0
for g in $GROUPS_ALL; do
	s=$(short "$g")
	if prot "$g"; then n=0; else n=1; fi	# a clear replay is delivered: the injector works
	rx "iB-$s" hostB "$g" $P_A "$(tag "a$s")" $n 4 --linger 0.5
done
inject() { # inject GROUP [inject.py options]
	local g=$1
	shift
	nsx wan python3 "$INJ" "$T/wan.pcap" --iface inj --group "$g" --port $P_A "$@" \
		>>"$T/inject.log" 2>&1 || echo "  FAIL inject $g $*: $(tail -n 1 "$T/inject.log")"
}
for g in $G4P $G6P; do
	inject "$g" --sealed --pick last				# rx_replay
	inject "$g" --sealed --pick first				# rx_too_old
	inject "$g" --sealed --pick last --change ciphertext	# rx_bad_tag
	inject "$g" --sealed --pick last --change tag		# rx_bad_tag
	inject "$g" --sealed --pick last --change pn		# rx_bad_tag
done
inject $G4U --pick last
inject $G6U --pick last
for g in $GROUPS_ALL; do done_wait "iB-$(short "$g")" 5; done
snap i1
check_eq "mcrB rx_replay (replayed newest packet, IPv4 + IPv6)" "$(delta mcrB rx_replay i0 i1)" 2
check_eq "mcrB rx_too_old (replayed packet 256+ below the newest)" "$(delta mcrB rx_too_old i0 i1)" 2
check_eq "mcrB rx_bad_tag (ciphertext, tag, pn bit flipped; UDP checksum fixed)" \
	"$(delta mcrB rx_bad_tag i0 i1)" 6
check_eq "mcrB rx_opened" "$(delta mcrB rx_opened i0 i1)" 0
for g in $G4P $G6P; do
	check_eq "hostB: no injected packet to $g" "$(j "iB-$(short "$g")" '.received + .bad + .other')" 0
done
for g in $G4U $G6U; do
	check_eq "hostB: the replayed clear packet to $g (control)" "$(j "iB-$(short "$g")" '"\(.unique)/\(.bad)"')" "1/0"
done

NR=3000 RR=1500
echo "--- SEK rotation 1 -> 2 -> 3 during $NR packets at $RR/s (IPv4 and IPv6)"
snap r0
for g in $G4P $G6P; do
	s=$(short "$g")
	rx "rB-$s" hostB "$g" $P_ROT "$(tag "r$s")" $NR 15
done
for g in $G4P $G6P; do tx "rA-$(short "$g")" "$g" $P_ROT "$(tag "r$(short "$g")")" $NR $RR; done
rotate() { # rotate KEY_ID: the receiver's router first, then the sender's
	local g k=$1
	for g in $G4P $G6P; do
		check "rx key id $k for $g on mcrB" quiet gemctl_in mcrB sek set "$(src_of "$g")" "$g" \
			--key-id "$k" --key-file "$T/sek$(fam_of "$g")-$k" --dir rx
		check "tx key id $k for $g on mcrA" quiet gemctl_in mcrA sek set "$(src_of "$g")" "$g" \
			--key-id "$k" --key-file "$T/sek$(fam_of "$g")-$k" --dir tx
	done
}
sleep 0.6
rotate 2
sleep 0.5
rotate 3
for g in $G4P $G6P; do
	s=$(short "$g")
	done_wait "rA-$s" 15
	done_wait "rB-$s" 15
done
sleep 0.2
snap r1
for g in $G4P $G6P; do
	s=$(short "$g")
	check "sender to $g kept >= 1000 packets/s ($(j "rA-$s" .pps))" \
		jq -e ".sent == $NR and .pps >= 1000" "$T/rA-$s.json"
	check_eq "hostB: every packet to $g across two rotations" \
		"$(j "rB-$s" '"\(.unique) unique, \(.duplicates) dup, \(.bad) bad"')" "$NR unique, 0 dup, 0 bad"
	python3 "$MC" wan "$T/wan.pcap" --group "$g" --port $P_ROT --count $NR \
		--max-len "$(maxlen_of "$g")" --suite "$([ "$g" = "$G6P" ] && echo 2 || echo 1)" >"$T/wanr-$s.json"
	check_eq "wan: $g stream sealed under key ids 1, 2, 3 in order, unique nonces" \
		"$(j "wanr-$s" '"\(.count) \(.key_ids) \(.key_ids_monotone) \(.unique_nonces)"')" \
		"$NR [1,2,3] true true"
	check_eq "mcrB stream $g: current rx key 3, previous 2" \
		"$(gemctl_in mcrB -j stream list | jq -r --arg g "$g" '.[] | select(.dir == "rx" and .group == $g) | "\(.key_id)/\(.prev_key_id)"')" "3/2"
done
check_eq "mcrB rx_opened" "$(delta mcrB rx_opened r0 r1)" $((2 * NR))
for c in rx_key_id rx_bad_tag rx_replay rx_too_old rx_no_key rx_error; do
	check_eq "mcrB $c" "$(delta mcrB $c r0 r1)" 0
done
check_eq "mcrA tx_sealed" "$(delta mcrA tx_sealed r0 r1)" $((2 * NR))
check_eq "mcrA tx_no_key" "$(delta mcrA tx_no_key r0 r1)" 0

echo "--- MTU rule: a payload 1 byte over the maximum is dropped, never sent"
snap m0
for g in $G4P $G6P; do
	s=$(short "$g")
	over=$(($(maxlen_of "$g") + 1))
	rx "mB-$s" hostB "$g" $P_MTU "$(tag "m$s")" 0 1.5 --len $over
	tx "mA-$s" "$g" $P_MTU "$(tag "m$s")" 5 100 --len $over
done
for g in $G4P $G6P; do
	s=$(short "$g")
	done_wait "mA-$s" 5
	done_wait "mB-$s" 5
	check_eq "hostB: nothing of the oversized stream to $g" "$(j "mB-$s" '.received + .bad')" 0
	check_eq "wan: nothing of the oversized stream to $g" \
		"$(python3 "$MC" count "$T/wan.pcap" --group "$g" --port $P_MTU | jq .count)" 0
done
snap m1
check_eq "mcrA tx_mtu" "$(delta mcrA tx_mtu m0 m1)" 10

echo "--- captures"
for c in wan hostA hostB hostC; do gem_stop "cap-$c" INT; done
markers=""
for k in qp4 qp6 ap4 ap6 rp4 rp6 mp4 mp6; do markers="$markers $(tag "$k" | cut -c1-14)"; done
# shellcheck disable=SC2086
python3 "$MC" grep "$T/wan.pcap" $markers >"$T/grep-secret.json"
check_eq "wan: no plaintext marker of any protected stream" \
	"$(jq '[.[]] | add' "$T/grep-secret.json")" 0
check "wan: the clear streams' markers are there (the search works)" \
	jq -e 'to_entries | all(.value >= 600)' <(python3 "$MC" grep "$T/wan.pcap" \
		"$(tag au4 | cut -c1-14)" "$(tag au6 | cut -c1-14)")
for g in $G4P $G6P; do
	check_eq "hostC's link: no packet to $g at all" \
		"$(python3 "$MC" count "$T/hostC.pcap" --group "$g" | jq .count)" 0
done
for g in $GROUPS_ALL; do
	s=$(short "$g")
	python3 "$MC" same "$T/hostA.pcap" "$T/hostB.pcap" --group "$g" --port $P_A \
		--tag "$(tag "a$s")" --max-len "$(maxlen_of "$g")" >"$T/same-$s.json"
	check_eq "hostA -> hostB: UDP datagrams to $g identical, checksum included" \
		"$(j "same-$s" '"\(.a) \(.identical)"')" "$N $N"
done
for g in $G4P $G6P; do
	s=$(short "$g")
	python3 "$MC" same "$T/hostA.pcap" "$T/hostB.pcap" --group "$g" --port $P_ROT \
		--tag "$(tag "r$s")" --max-len "$(maxlen_of "$g")" >"$T/samer-$s.json"
	check_eq "hostA -> hostB: rotation stream to $g identical" \
		"$(j "samer-$s" '"\(.a) \(.identical)"')" "$NR $NR"
done
for c in wan hostA hostB hostC; do
	# tshark validates every IP and UDP checksum on its own (status 1 = good)
	tshark -r "$T/$c.pcap" -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -Y udp \
		-T fields -e ip.checksum.status -e udp.checksum.status 2>/dev/null >"$T/csum-$c.txt"
	total=$(wc -l <"$T/csum-$c.txt")
	good=$(awk '($1 == 1 || NF == 1) && $NF == 1' "$T/csum-$c.txt" | wc -l)
	check_eq "$c: every IP/UDP checksum valid (tshark) of $total packets" "$good" "$total"
done
check "wan capture is not empty" [ "$(wc -l <"$T/csum-wan.txt")" -gt $((4 * N + 2 * NR)) ]

echo "--- detach and unload"
for n in $MCRS; do
	check "$n: gem-load detach wan0" quiet gemload_in "$n" detach wan0
	check "$n: no XDP left on wan0" bash -c "! ip netns exec $(gem_nsname "$n") ip link show wan0 | grep -q xdp"
	check "$n: gem-load unload" quiet gemload_in "$n" unload
done
check "no pins left" [ -z "$(ls -A "$GEM_BPFFS")" ]

echo "e2e: $GEM_CHECKS checks, $GEM_FAILED failed, $((SECONDS - START)) s"
[ "$GEM_FAILED" = 0 ]
