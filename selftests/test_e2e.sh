#!/bin/bash
# GEM end to end (issue 3): real multicast routing between namespaces, the data
# plane attached by gem-load and keyed by gemctl, real senders and receivers.
#
#   hostA --lan-- mcrA --wan0--+             +--wan0-- mcrB --lan-- hostB
#                              |  wan: br0   |
#                              +-- (inj) ----+--wan0-- mcrC --lan-- hostC
#
# mcrA/B/C route multicast with smcrouted (static (S,G) routes hostA -> wan ->
# lan); the wan is a bridge in its own namespace, so mcrB and mcrC both
# receive everything mcrA sends.  mcrA seals, mcrB opens.  mcrC runs GEM with
# the groups protected but is no member: suites 1/2 with another GAK, and no
# SEK or a wrong one (see "mcrC" below).  Streams (selftests/mcast.py):
#
#   239.1.1.1  hmac-sha256   ff3e::1:1  cmac               protected
#   239.1.1.3  poly1305      ff3e::1:3  chacha20-poly1305  protected
#   239.2.2.2  -             ff3e::2:2  -                  in clear
#
# Checks: hostB gets every payload byte for byte (and the same UDP datagrams,
# checksums included, that left hostA); the wan carries GEM packets (right
# version, suite, key id, length, unique nonces) and never a plaintext marker;
# mcrC drops and counts what it cannot open and hostC gets nothing; replayed /
# too old / bit-flipped packets re-injected on the wan are dropped with the
# right counter (and a clear replay is delivered: the injector works); clear
# groups pass unchanged; SEK rotations 1 -> 2 -> 3 during 1500 packets/s
# streams lose nothing, and the retired key id is refused; sealed packets over
# the MTU rule are dropped (tx_mtu); a sender with checksum offload and an
# IPv4 sender without UDP checksum come out right; without a tx SEK nothing
# leaves (tx_no_key, gemctl events); every IP/UDP checksum in every capture is
# valid (tshark); reloading a held rx key keeps its replay window; detach
# and unload leave nothing (detach spares other tools' tc filters; unload
# keeps a pin dir that is a bpffs mount point; gem-load works under
# nsenter --net).
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

S4=10.1.0.2 S6=fd00:1::2	# hostA, the source of every stream
declare -A SHORT SUITE SUITE_NR
# group -> short name (labels, payload tags), suite
for e in 239.1.1.1:p4:hmac-sha256:1 ff3e::1:1:p6:cmac:2 239.1.1.3:q4:poly1305:3 \
	ff3e::1:3:q6:chacha20-poly1305:4 239.2.2.2:u4:-:0 ff3e::2:2:u6:-:0; do
	IFS=: read -r -a f <<<"$e"
	n=${#f[@]}
	g=$(IFS=:; echo "${f[*]:0:n-3}")
	SHORT[$g]=${f[n-3]} SUITE[$g]=${f[n-2]} SUITE_NR[$g]=${f[n-1]}
done
PROT="239.1.1.1 ff3e::1:1 239.1.1.3 ff3e::1:3"
CLEAR="239.2.2.2 ff3e::2:2"
ALL="$PROT $CLEAR"
NP=4	# protected streams
P_PROBE=5100 P_A=5001 P_ROT=5002 P_MTU=5003 P_OFFL=5004 P_NOCS=5005 P_FAIL=5006
MCRS="mcrA mcrB mcrC"

is6() { case $1 in *:*) return 0 ;; esac; return 1; }
src_of() { if is6 "$1"; then echo $S6; else echo $S4; fi; }
fam_of() { if is6 "$1"; then echo 6; else echo 4; fi; }
prot() { [ "${SUITE[$1]}" != - ]; }
short() { echo "${SHORT[$1]}"; }
# largest payload: a protected one must fit the MTU once sealed (+28)
maxlen_of() {
	local m=1472
	is6 "$1" && m=1452
	prot "$1" && m=$((m - 28))
	echo $m
}
# 16-character payload tags, unique per run: KIND (3) - RUN (12 hex)
RUN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
tag() { echo "$1-$RUN"; }

section() { echo "--- $* [$((SECONDS - START)) s]"; }
quiet() { "$@" >/dev/null 2>>"$T/quiet.err"; }
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
	gem_wait_for 5 test -e "$T/$label.ready" ||
		gem_die "receiver $label did not start: $(cat "$T/$label.log")"
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
# result LABEL: $T/LABEL.json holds the JSON of a finished receiver or sender
result() {
	[ -s "$T/$1.json" ] || tail -n 1 "$T/$1.log" >"$T/$1.json"
	jq -e . "$T/$1.json" >/dev/null 2>&1 || {
		echo "  ($1 produced no result: $(tail -c 300 "$T/$1.log"))"
		echo '{}' >"$T/$1.json"
	}
}
# done_wait LABEL TIMEOUT: wait for a receiver/sender to finish by itself
done_wait() { gem_wait "$(gem_pid "$1")" "$2"; result "$1"; }
# rx_stop LABEL: stop a receiver that expects nothing (it reports on SIGTERM),
# once whatever it must not get has had time to arrive
rx_stop() { gem_stop "$1" TERM; result "$1"; }
j() { jq -r "$2" "$T/$1.json"; }
# wan_check LABEL PCAP GROUP PORT COUNT [mcast.py wan options]
wan_check() {
	local label=$1 pcap=$2 g=$3 port=$4 n=$5
	shift 5
	if prot "$g"; then set -- --suite "${SUITE_NR[$g]}" "$@"; fi
	python3 "$MC" wan "$pcap" --group "$g" --port "$port" --count "$n" \
		--max-len "$(maxlen_of "$g")" "$@" >"$T/$label.json"
}

# cap NS IF LABEL: tcpdump of UDP on NS:IF into $T/LABEL.pcap (-U: every packet
# written at once, so a running capture can be read; --immediate-mode: none
# lost when it stops)
cap() {
	gem_bg "$1" "cap-$3" tcpdump -i "$2" -n -Z root -U --immediate-mode -B 8192 -s 2048 \
		-w "$T/$3.pcap" udp
	gem_wait_for 5 grep -q "listening on" "$T/cap-$3.log" ||
		gem_die "tcpdump on $1:$2 did not start: $(cat "$T/cap-$3.log")"
}

section "topology (namespaces $GEM_NSP-*)"
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

section "multicast routing (smcrouted in mcrA, mcrB, mcrC)"
for n in $MCRS; do
	if [ "$n" = mcrA ]; then from=lan0 to=wan0; else from=wan0 to=lan0; fi
	{
		echo "phyint lan0 enable ttl-threshold 1"
		echo "phyint wan0 enable ttl-threshold 1"
		for g in $ALL; do
			echo "mroute from $from source $(src_of "$g") group $g to $to"
		done
	} >"$T/$n.conf"
	gem_bg "$n" "smcrouted-$n" "$GEM_MROUTER" -n -N -i "gem-$n" -f "$T/$n.conf" \
		-P "$T/$n.smc.pid" -u "$T/$n.smc.sock"
done
for n in $MCRS; do
	for g in $ALL; do
		gem_mroute_wait "$n" "$(fam_of "$g")" "$(src_of "$g")" "$g" ||
			gem_die "$n: no multicast route ($(src_of "$g"), $g): $(cat "$T/smcrouted-$n.log")"
	done
	gem_wait_for 5 gem_mc6_ready "$n" lan0 wan0 || gem_die "$n: no ff00::/8 local routes"
done
for n in hostA hostB hostC; do
	gem_wait_for 5 gem_mc6_ready "$n" lan || gem_die "$n: no ff00::/8 local route"
done
echo "  ok   (S,G) routes installed on every MCR"

section "GEM on the wan interfaces (xdp $XDP_MODE)"
gem_bpffs_mount
for n in $MCRS; do
	if ! gemload_in "$n" attach wan0 --xdp-mode "$XDP_MODE" >"$T/attach.log" 2>&1; then
		grep -q "lacks the BPF crypto kfuncs" "$T/attach.log" && gem_skip "$(cat "$T/attach.log")"
		gem_die "gem-load attach on $n: $(cat "$T/attach.log")"
	fi
	# shellcheck disable=SC2016 # jq variables
	check "$n: gem-load status: wan0 attached, $XDP_MODE, ok" \
		quiet jq -e --arg m "$XDP_MODE" '.loaded and (.interfaces | length == 1) and
			.interfaces[0].name == "wan0" and .interfaces[0].xdp_mode == $m and
			.interfaces[0].state == "ok"' <(gemload_in "$n" status -j)
done
keyset() { # keyset NODE CMD...: a gemctl key command that must succeed
	local n=$1
	shift
	gemctl_in "$n" "$@" >"$T/key.log" 2>&1 || gem_die "$n: gemctl $*: $(cat "$T/key.log")"
}
# per protected group: a GAK (members mcrA, mcrB), another GAK (mcrC), SEKs for
# key ids 1-3, and a wrong SEK
for g in $PROT; do
	s=$(short "$g")
	head -c 32 /dev/urandom >"$T/gak-$s"
	head -c 32 /dev/urandom >"$T/gakX-$s"
	seklen=16
	[ "${SUITE_NR[$g]}" = 4 ] && seklen=32	# suite 4: a 256-bit SEK
	for k in 1 2 3 X; do head -c $seklen /dev/urandom >"$T/sek-$s-$k"; done
	if [ "${SUITE_NR[$g]}" -ge 3 ]; then	# suites 3 and 4 have no group key
		gak=() gakX=()
	else
		gak=(--key-file "$T/gak-$s") gakX=(--key-file "$T/gakX-$s")
	fi
	keyset mcrA group add "$g" --suite "${SUITE[$g]}" "${gak[@]}"
	keyset mcrB group add "$g" --suite "${SUITE[$g]}" "${gak[@]}"
	keyset mcrC group add "$g" --suite "${SUITE[$g]}" "${gakX[@]}"
	keyset mcrA sek set "$(src_of "$g")" "$g" --key-id 1 --key-file "$T/sek-$s-1" --dir tx
	keyset mcrB sek set "$(src_of "$g")" "$g" --key-id 1 --key-file "$T/sek-$s-1" --dir rx
done
# mcrC, no member: the IPv4 streams find no SEK there (rx_no_key); the IPv6
# streams do, but it cannot verify them (rx_bad_tag): ff3e::1:1 (cmac) with the
# right SEK, as if it leaked, but another GAK; ff3e::1:3 (chacha20-poly1305:
# the tag is keyed by the SEK) with a wrong SEK
keyset mcrC sek set $S6 ff3e::1:1 --key-id 1 --key-file "$T/sek-p6-1" --dir rx
keyset mcrC sek set $S6 ff3e::1:3 --key-id 1 --key-file "$T/sek-q6-X" --dir rx
echo "  ok   groups and SEKs loaded"

cap wan br0 wan
cap hostA lan hostA
cap hostB lan hostB
cap hostC lan hostC

section "probes until every path carries multicast"
# IPv6 multicast through a router is dropped for a while after links come up
# (PLATFORM.md): probe each group until its receivers see one packet.
for g in $ALL; do
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
for g in $ALL; do
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
section "delivery: $N packets per group at $RATE/s, payloads 22 bytes .. maximum"
snap a0
for g in $ALL; do
	s=$(short "$g")
	rx "B-$s" hostB "$g" $P_A "$(tag "a$s")" $N 8
	# hostC: clear groups must arrive (mcrC routes), protected ones never
	if prot "$g"; then
		rx "C-$s" hostC "$g" $P_A "$(tag "a$s")" 0 60
	else
		rx "C-$s" hostC "$g" $P_A "$(tag "a$s")" $N 8
	fi
done
for g in $ALL; do tx "A-$(short "$g")" "$g" $P_A "$(tag "a$(short "$g")")" $N $RATE; done
for g in $ALL; do
	s=$(short "$g")
	done_wait "A-$s" 10
	done_wait "B-$s" 10
	prot "$g" || done_wait "C-$s" 10
done
sleep 0.3
for g in $PROT; do rx_stop "C-$(short "$g")"; done
snap a1
for g in $ALL; do
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
check_eq "mcrA tx_sealed" "$(delta mcrA tx_sealed a0 a1)" $((NP * N))
for c in tx_no_key tx_mtu tx_gso tx_malformed tx_error; do
	check_eq "mcrA $c" "$(delta mcrA $c a0 a1)" 0
done
check "mcrA tx_pass >= clear packets" [ "$(delta mcrA tx_pass a0 a1)" -ge $((2 * N)) ]
check_eq "mcrB rx_opened" "$(delta mcrB rx_opened a0 a1)" $((NP * N))
for c in rx_no_key rx_bad_tag rx_replay rx_too_old rx_key_id rx_suite rx_malformed rx_error; do
	check_eq "mcrB $c" "$(delta mcrB $c a0 a1)" 0
done
check_eq "mcrC rx_no_key (IPv4 streams: no SEK)" "$(delta mcrC rx_no_key a0 a1)" $((2 * N))
check_eq "mcrC rx_bad_tag (IPv6 streams: SEK without GAK / wrong SEK)" \
	"$(delta mcrC rx_bad_tag a0 a1)" $((2 * N))
check_eq "mcrC rx_opened" "$(delta mcrC rx_opened a0 a1)" 0

section "the wan capture"
for g in $PROT; do
	s=$(short "$g")
	wan_check "wan-$s" "$T/wan.pcap" "$g" $P_A $N
	check_eq "wan: $g: $N GEM packets (v1, suite ${SUITE_NR[$g]}, key id 1, unique nonces), each plaintext length + 28" \
		"$(j "wan-$s" '"\(.count) \(.bad_header) \(.key_ids) \(.unique_nonces) \(.lens_match)"')" \
		"$N 0 [1] true true"
done
for g in $CLEAR; do
	s=$(short "$g")
	wan_check "wan-$s" "$T/wan.pcap" "$g" $P_A $N --clear --tag "$(tag "a$s")"
	check_eq "wan: clear $g: $N packets, payload unchanged" \
		"$(j "wan-$s" '"\(.count) \(.exact) \(.lens_match)"')" "$N $N true"
done

section "re-injected on the wan: replayed, too old, one bit changed"
snap i0
for g in $ALL; do
	s=$(short "$g")
	rx "iB-$s" hostB "$g" $P_A "$(tag "a$s")" 0 60
done
inject() { # inject GROUP [inject.py options]: from the injector's port of the wan bridge
	local g=$1
	shift
	check "injected into the wan: $g $*" quiet nsx wan python3 "$INJ" "$T/wan.pcap" \
		--iface inj --group "$g" --port $P_A "$@"
}
refused() { # refused TEXT CMD...: CMD fails and says TEXT
	local what=$1 out
	shift
	out=$("$@" 2>&1) && return 1
	grep -q "$what" <<<"$out"
}
# mcrB's gemd restarts and reloads the SEKs it holds (same bytes): that keeps
# the replay windows; another SEK under the held key id is refused
for g in $PROT; do
	s=$(short "$g")
	check "mcrB: rx key id 1 for $g loaded again (same SEK)" quiet gemctl_in mcrB sek set \
		"$(src_of "$g")" "$g" --key-id 1 --key-file "$T/sek-$s-1" --dir rx
	check "mcrB: rx key id 1 for $g with another SEK refused" refused "loaded with another SEK" \
		gemctl_in mcrB sek set "$(src_of "$g")" "$g" --key-id 1 --key-file "$T/sek-$s-X" --dir rx
done
# the newest packet again (rx_replay), the oldest (rx_too_old), the newest
# with a bit flipped in the ciphertext, the tag, the packet number (rx_bad_tag)
for g in $PROT; do
	inject "$g" --sealed --send last --send first --send last:ciphertext --send last:tag \
		--send last:pn
done
# control: a clear packet replayed is delivered, so the injection path works
for g in $CLEAR; do inject "$g" --send last; done
sleep 0.5
for g in $ALL; do rx_stop "iB-$(short "$g")"; done
snap i1
check_eq "mcrB rx_replay (the newest packet again, after the key reload)" \
	"$(delta mcrB rx_replay i0 i1)" $NP
check_eq "mcrB rx_too_old (a packet 256+ below the newest)" "$(delta mcrB rx_too_old i0 i1)" $NP
check_eq "mcrB rx_bad_tag (ciphertext, tag, pn bit flipped; UDP checksum fixed)" \
	"$(delta mcrB rx_bad_tag i0 i1)" $((3 * NP))
check_eq "mcrB rx_opened" "$(delta mcrB rx_opened i0 i1)" 0
for g in $PROT; do
	check_eq "hostB: no injected packet to $g" "$(j "iB-$(short "$g")" '.received + .bad + .other')" 0
done
for g in $CLEAR; do
	check_eq "hostB: the replayed clear packet to $g (control)" \
		"$(j "iB-$(short "$g")" '"\(.unique)/\(.bad)"')" "1/0"
done

NR=4500 RR=1500
section "SEK rotation 1 -> 2 -> 3 during $NR packets at $RR/s per protected group"
snap r0
for g in $PROT; do
	s=$(short "$g")
	rx "rB-$s" hostB "$g" $P_ROT "$(tag "r$s")" $NR 20
done
# rotate when the streams are 1000 and 2500 packets in (not by the clock: a
# busy machine may start a sender late)
for g in $PROT; do
	s=$(short "$g")
	tx "rA-$s" "$g" $P_ROT "$(tag "r$s")" $NR $RR --mark "1000:$T/rA-$s.1000" \
		--mark "2500:$T/rA-$s.2500"
done
marks() { local g; for g in $PROT; do [ -e "$T/rA-$(short "$g").$1" ] || return 1; done; }
rotate() { # rotate KEY_ID: the receiver's router first, then the sender's
	local g s k=$1
	for g in $PROT; do
		s=$(short "$g")
		check "rx key id $k for $g on mcrB" quiet gemctl_in mcrB sek set "$(src_of "$g")" "$g" \
			--key-id "$k" --key-file "$T/sek-$s-$k" --dir rx
		check "tx key id $k for $g on mcrA" quiet gemctl_in mcrA sek set "$(src_of "$g")" "$g" \
			--key-id "$k" --key-file "$T/sek-$s-$k" --dir tx
	done
}
gem_wait_for 15 marks 1000 || gem_die "the rotation streams do not run"
rotate 2
gem_wait_for 15 marks 2500 || gem_die "the rotation streams stopped"
rotate 3
running=1
for g in $PROT; do kill -0 "$(gem_pid "rA-$(short "$g")")" 2>/dev/null || running=0; done
check_eq "every stream still running after the second rotation" $running 1
for g in $PROT; do
	s=$(short "$g")
	done_wait "rA-$s" 15
	done_wait "rB-$s" 15
done
sleep 0.2
snap r1
for g in $PROT; do
	s=$(short "$g")
	check "sender to $g kept >= 1000 packets/s ($(j "rA-$s" .pps))" \
		quiet jq -e ".sent == $NR and .pps >= 1000" "$T/rA-$s.json"
	check_eq "hostB: every packet to $g across two rotations" \
		"$(j "rB-$s" '"\(.unique) unique, \(.duplicates) dup, \(.bad) bad"')" "$NR unique, 0 dup, 0 bad"
	wan_check "wanr-$s" "$T/wan.pcap" "$g" $P_ROT $NR
	# (the packet number runs on across rotations, gem_common.h: so in pn
	# order the key ids only go up)
	check_eq "wan: $g stream sealed under key ids 1, 2, 3 in order, unique nonces" \
		"$(j "wanr-$s" '"\(.count) \(.key_ids) \(.key_ids_monotone) \(.unique_nonces)"')" \
		"$NR [1,2,3] true true"
	check_eq "mcrB stream $g: current rx key 3, previous 2" \
		"$(gemctl_in mcrB -j stream list | jq -r --arg g "$g" \
			'.streams[] | select(.dir == "rx" and .group == $g) | "\(.key_id)/\(.prev_key_id)"')" "3/2"
done
check_eq "mcrB rx_opened" "$(delta mcrB rx_opened r0 r1)" $((NP * NR))
for c in rx_key_id rx_bad_tag rx_replay rx_too_old rx_no_key rx_error; do
	check_eq "mcrB $c" "$(delta mcrB $c r0 r1)" 0
done
check_eq "mcrA tx_sealed" "$(delta mcrA tx_sealed r0 r1)" $((NP * NR))
check_eq "mcrA tx_no_key" "$(delta mcrA tx_no_key r0 r1)" 0

section "re-injected under a retired key id (1; mcrB holds 3 and 2)"
snap k0
for g in $PROT; do rx "kB-$(short "$g")" hostB "$g" $P_A "$(tag "a$(short "$g")")" 0 60; done
for g in $PROT; do inject "$g" --sealed --send last; done
sleep 0.5
for g in $PROT; do rx_stop "kB-$(short "$g")"; done
snap k1
check_eq "mcrB rx_key_id" "$(delta mcrB rx_key_id k0 k1)" $NP
for g in $PROT; do
	check_eq "hostB: nothing under the retired key to $g" "$(j "kB-$(short "$g")" '.received + .bad')" 0
done

section "MTU rule: a payload 1 byte over the maximum is dropped, never sent"
snap m0
for g in $PROT; do
	s=$(short "$g")
	over=$(($(maxlen_of "$g") + 1))
	rx "mB-$s" hostB "$g" $P_MTU "$(tag "m$s")" 0 60 --len $over
	tx "mA-$s" "$g" $P_MTU "$(tag "m$s")" 5 100 --len $over
done
for g in $PROT; do done_wait "mA-$(short "$g")" 5; done
sleep 0.5
for g in $PROT; do
	s=$(short "$g")
	rx_stop "mB-$s"
	check_eq "hostB: nothing of the oversized stream to $g" "$(j "mB-$s" '.received + .bad')" 0
	check_eq "wan: nothing of the oversized stream to $g" \
		"$(python3 "$MC" count "$T/wan.pcap" --group "$g" --port $P_MTU | jq .count)" 0
done
snap m1
check_eq "mcrA tx_mtu" "$(delta mcrA tx_mtu m0 m1)" $((5 * NP))

section "checksum cases: a sender with checksum offload; IPv4 without UDP checksum"
# hostA's tx offload on: its packets reach mcrA's egress as CHECKSUM_PARTIAL
# and GEM must leave the pseudo-header sum for the device to complete.
NC=200
V4PROT="239.1.1.1 239.1.1.3"
nsx hostA ethtool -K lan tx on >/dev/null 2>&1 || gem_die "ethtool -K lan tx on in hostA"
snap c0
for g in $PROT; do
	s=$(short "$g")
	rx "cB-$s" hostB "$g" $P_OFFL "$(tag "o$s")" $NC 8
	tx "cA-$s" "$g" $P_OFFL "$(tag "o$s")" $NC 1000
done
for g in $PROT; do done_wait "cA-$(short "$g")" 5; done
nsx hostA ethtool -K lan tx off >/dev/null 2>&1
for g in $V4PROT; do
	s=$(short "$g")
	rx "zB-$s" hostB "$g" $P_NOCS "$(tag "z$s")" $NC 8
	tx "zA-$s" "$g" $P_NOCS "$(tag "z$s")" $NC 1000 --no-udp-csum
done
for g in $V4PROT; do done_wait "zA-$(short "$g")" 5; done
for g in $PROT; do done_wait "cB-$(short "$g")" 8; done
for g in $V4PROT; do done_wait "zB-$(short "$g")" 8; done
snap c1
for g in $PROT; do
	check_eq "offload sender: hostB gets every packet to $g, byte-identical" \
		"$(j "cB-$(short "$g")" '"\(.unique)/\(.bad)"')" "$NC/0"
done
for g in $V4PROT; do
	s=$(short "$g")
	check_eq "no UDP checksum: hostB gets every packet to $g, byte-identical" \
		"$(j "zB-$s" '"\(.unique)/\(.bad)"')" "$NC/0"
	wan_check "wanz-$s" "$T/wan.pcap" "$g" $P_NOCS $NC
	check_eq "wan: $g sealed without UDP checksum keep checksum 0" \
		"$(j "wanz-$s" '"\(.count) \(.udp_csum_zero) \(.lens_match)"')" "$NC $NC true"
done
check_eq "mcrA tx_sealed" "$(delta mcrA tx_sealed c0 c1)" $(((NP + 2) * NC))
check_eq "mcrB rx_opened" "$(delta mcrB rx_opened c0 c1)" $(((NP + 2) * NC))

section "fail closed: no tx SEK, nothing leaves (and gemctl events says so)"
snap f0
gem_bg mcrA events "$GEMCTL" -j --pin-dir "$GEM_BPFFS/mcrA" events --count $NP --timeout 8
sleep 0.3	# the ring buffer reader is up
for g in $PROT; do
	check "sek del tx $g on mcrA" quiet gemctl_in mcrA sek del "$(src_of "$g")" "$g" --dir tx
	tx "fA-$(short "$g")" "$g" $P_FAIL "$(tag "f$(short "$g")")" 5 100
done
for g in $PROT; do done_wait "fA-$(short "$g")" 5; done
gem_wait "$(gem_pid events)" 5
snap f1
check_eq "mcrA tx_no_key" "$(delta mcrA tx_no_key f0 f1)" $((5 * NP))
for g in $PROT; do
	check_eq "wan: nothing to $g without a tx SEK" \
		"$(python3 "$MC" count "$T/wan.pcap" --group "$g" --port $P_FAIL | jq .count)" 0
	# shellcheck disable=SC2016 # jq variables
	check "gemctl events: tx-no-key for ($(src_of "$g"), $g)" \
		quiet jq -s -e --arg s "$(src_of "$g")" --arg g "$g" \
		'any(.[]; .event == "tx-no-key" and .source == $s and .group == $g)' "$T/events.log"
done

section "captures"
for c in wan hostA hostB hostC; do gem_stop "cap-$c" INT; done
markers=""
for g in $PROT; do
	for k in q a r m o z f; do markers="$markers $(tag "$k$(short "$g")" | cut -c1-14)"; done
done
# shellcheck disable=SC2086
python3 "$MC" grep "$T/wan.pcap" $markers >"$T/grep-secret.json"
check_eq "wan: no plaintext marker of any protected stream" \
	"$(jq '[.[]] | add' "$T/grep-secret.json")" 0
check "wan: the clear streams' markers are there (the search works)" \
	quiet jq -e "to_entries | all(.value >= $N)" <(python3 "$MC" grep "$T/wan.pcap" \
		"$(tag au4 | cut -c1-14)" "$(tag au6 | cut -c1-14)")
for g in $PROT; do
	check_eq "hostC's link: no packet to $g at all" \
		"$(python3 "$MC" count "$T/hostC.pcap" --group "$g" | jq .count)" 0
done
same() { # same LABEL GROUP PORT TAG COUNT: hostA's and hostB's datagrams identical
	python3 "$MC" same "$T/hostA.pcap" "$T/hostB.pcap" --group "$2" --port "$3" \
		--tag "$4" --max-len "$(maxlen_of "$2")" >"$T/$1.json"
	check_eq "hostA -> hostB: UDP datagrams to $2 port $3 identical, checksum included" \
		"$(j "$1" '"\(.a) \(.identical)"')" "$5 $5"
}
for g in $ALL; do same "same-$(short "$g")" "$g" $P_A "$(tag "a$(short "$g")")" $N; done
for g in $PROT; do same "samer-$(short "$g")" "$g" $P_ROT "$(tag "r$(short "$g")")" $NR; done
for g in $V4PROT; do same "samez-$(short "$g")" "$g" $P_NOCS "$(tag "z$(short "$g")")" $NC; done
for c in wan hostA hostB hostC; do
	# tshark validates every IP and UDP checksum on its own: status 1 good,
	# 3 absent (UDP checksum 0, only the stream sent so).  hostA's own link
	# shows its offloaded packets before the checksum is filled in: skip those.
	filter=udp
	[ $c = hostA ] && filter="udp && udp.dstport != $P_OFFL"
	tshark -r "$T/$c.pcap" -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -Y "$filter" \
		-T fields -e udp.dstport -e ip.checksum.status -e udp.checksum.status \
		2>/dev/null >"$T/csum-$c.txt"
	total=$(wc -l <"$T/csum-$c.txt")
	good=$(awk -F'\t' -v z=$P_NOCS '($2 == "" || $2 == 1) && ($3 == 1 || ($3 == 3 && $1 == z))' \
		"$T/csum-$c.txt" | wc -l)
	check_eq "$c: every IP/UDP checksum valid (tshark) of $total packets" "$good" "$total"
done
check "wan capture holds every stream" [ "$(wc -l <"$T/csum-wan.txt")" -gt $((6 * N + NP * NR)) ]

section "detach and unload"
# another tool's filters on mcrC's clsact qdisc (GEM created it): detach
# removes GEM's filter only and keeps the qdisc for them
nsx mcrC tc filter add dev wan0 ingress prio 7 u32 match u32 0 0 classid 1:1 ||
	gem_die "tc filter add (u32) on mcrC"
nsx mcrC tc filter add dev wan0 egress prio 8 bpf bytecode '1,6 0 0 4294967295,' ||
	gem_die "tc filter add (bpf) on mcrC"
for n in $MCRS; do
	check "$n: gem-load detach wan0" quiet gemload_in "$n" detach wan0
	check "$n: no XDP left on wan0" bash -c "! ip netns exec $(gem_nsname "$n") ip link show wan0 | grep -q xdp"
	check "$n: gem-load unload" quiet gemload_in "$n" unload
	check "$n: pin dir removed" [ ! -e "$GEM_BPFFS/$n" ]
done
check "mcrC: the other tool's ingress and egress filters survive detach" \
	bash -c "ip netns exec $(gem_nsname mcrC) tc filter show dev wan0 ingress | grep -q 'pref 7 u32' &&
		ip netns exec $(gem_nsname mcrC) tc filter show dev wan0 egress | grep -q 'pref 8 bpf'"
check "mcrC: GEM's egress filter is gone" \
	bash -c "! ip netns exec $(gem_nsname mcrC) tc filter show dev wan0 egress | grep -q gem_egress"
check "mcrB: GEM's clsact qdisc is gone (no other filter used it)" \
	bash -c "! ip netns exec $(gem_nsname mcrB) tc qdisc show dev wan0 | grep -q clsact"

# gem-load under `nsenter --net` (sysfs is the host's there: the link comes
# from netlink), with --pin-dir a bpffs mount point of its own
mkdir -p "$T/bpfm" && mount -t bpf bpf "$T/bpfm" || gem_die "mount -t bpf $T/bpfm"
gem_on_exit "umount $T/bpfm"
NSB=/run/netns/$(gem_nsname mcrB)
check "nsenter --net: gem-load attach wan0 (pin dir a mount point)" \
	quiet nsenter --net="$NSB" "$GEM_LOAD" --pin-dir "$T/bpfm" attach wan0 --xdp-mode "$XDP_MODE"
check "nsenter --net: gem-load status -j says ok" quiet jq -e '.interfaces | length == 1 and
	.[0].name == "wan0" and .[0].state == "ok"' \
	<(nsenter --net="$NSB" "$GEM_LOAD" --pin-dir "$T/bpfm" status -j)
check "ip netns exec: the same status" quiet jq -e '.interfaces[0].state == "ok"' \
	<(nsx mcrB "$GEM_LOAD" --pin-dir "$T/bpfm" status -j)
check "nsenter --net: gem-load detach wan0" \
	quiet nsenter --net="$NSB" "$GEM_LOAD" --pin-dir "$T/bpfm" detach wan0
check "gem-load unload with --pin-dir a bpffs mount point" \
	quiet "$GEM_LOAD" --pin-dir "$T/bpfm" unload
check "the mount point stays, empty of GEM's pins" \
	bash -c "mountpoint -q $T/bpfm && [ ! -e $T/bpfm/gem_tx ] && [ ! -e $T/bpfm/prog_ctl ]"

echo "e2e: $GEM_CHECKS checks, $GEM_FAILED failed, $((SECONDS - START)) s"
[ "$GEM_FAILED" = 0 ]
