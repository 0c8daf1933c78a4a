# shellcheck shell=bash
# Control-plane test helpers, on top of lib.sh: GEM nodes in namespaces, each
# with its own SoftHSM token, gemd configuration and runtime directory.
#
#   . "$(dirname "$0")/cp_lib.sh"
#   cp_init line                   # lib.sh's gem_init + control-plane checks, BK files
#   cp_node n1 1                   # namespace, token (node key, BK), address fd00:0:0:ff::1
#   cp_link n1 n2                  # veth "e-n2" in n1 <-> "e-n1" in n2
#   cp_start n1                    # gemd under a restart loop (a service manager's stand-in)
#   cp_wait_mesh 90 n1 n2          # every node pings every other node's address
#   cp_stop n1                     # SIGTERM, wait for gemd to finish its teardown
#   cp_leftovers n1                # nothing of gemd's left in n1
#
# Node NAME: namespace "$GEM_NSP-NAME", files in $T/NAME/ (gemd.conf,
# gemd.log, run/ = gemd's run_dir, tokens/), address fd00:0:0:ff::INDEX/128
# on lo (added by gemd itself).

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GEMD=${GEMD:-$GEM_ROOT/build/gemd}
CHARON=${CHARON:-/usr/lib/ipsec/charon}
BABELD=${BABELD:-/usr/sbin/babeld}
CP_NODES=()
CP_PORT_BASE=7000
CP_DISC_PORT=6767

# Node NAME also has 10.255.0.INDEX/32, routed by Babel over the IPv6 tunnels.
# cp_init NAME: prerequisites (skip with 77 if one is missing), $T, BK files.
cp_init() {
	gem_init "$1" tcpdump softhsm2-util jq od timeout
	[ -x "$GEMD" ] || gem_skip "$GEMD not built (make all)"
	[ -x "$CHARON" ] || gem_skip "$CHARON missing (strongswan-charon)"
	[ -x "$BABELD" ] || gem_skip "$BABELD missing (babeld)"
	[ -e /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so ] ||
		gem_skip "kernel-libipsec plugin missing (libcharon-extra-plugins)"
	[ -c /dev/net/tun ] || gem_skip "/dev/net/tun missing"
	[ -r /usr/lib/softhsm/libsofthsm2.so ] || gem_skip "SoftHSMv2 module missing"
	[ "$CP_HAVE_PING" = 1 ] || echo "  (iputils ping missing: probing with selftests/cp_ping.py)"
	"$GEMCTL" keys gen-secret "$T/bk" >/dev/null || gem_die "gemctl keys gen-secret"
	"$GEMCTL" keys gen-secret "$T/bk-other" >/dev/null || gem_die "gemctl keys gen-secret"
	gem_on_exit cp_stop_all
}

# cp_node NAME INDEX [BK_FILE]: a node with its own token holding a node key
# and the BK (default $T/bk).
cp_node() {
	gem_ns_add "$1"
	CP_NODES+=("$1")
	cp_node_files "$@"
}

# cp_node_files NAME INDEX [BK_FILE]: cp_node without the namespace (no
# global state touched: runs in a background job too).
cp_node_files() {
	local n=$1 idx=$2 bk=${3:-$T/bk} d=$T/$1
	mkdir -p "$d/tokens" || gem_die "mkdir $d"
	echo "$idx" >"$d/index"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
		"$d/tokens" >"$d/softhsm2.conf"
	echo 123456 >"$d/pin"
	chmod 600 "$d/pin"
	SOFTHSM2_CONF=$d/softhsm2.conf softhsm2-util --init-token --free --label "gem-$n" \
		--so-pin 87654321 --pin 123456 >/dev/null || gem_die "init token for $n"
	cp_keys "$n" init >/dev/null || gem_die "gemctl keys init ($n)"
	cp_keys "$n" import bk "$bk" >/dev/null || gem_die "gemctl keys import bk ($n)"
	cp_keys "$n" -j pubkey | jq -r .node_id >"$d/node_id" || gem_die "node id of $n"
	cp_conf "$n"
}

# cp_keys NAME ARGS...: gemctl keys against NAME's token, with the token
# lock where NAME's gemd takes it ([hsm] lock_dir), so it fails while NAME's
# gemd owns the token.
cp_keys() {
	local n=$1
	shift
	SOFTHSM2_CONF=$T/$n/softhsm2.conf GEM_LOCK_DIR=$T/$n "$GEMCTL" keys --token "gem-$n" \
		--pin-file "$T/$n/pin" "$@"
}

cp_id() { cat "$T/$1/node_id"; }
cp_addr() { echo "fd00:0:0:ff::$(cat "$T/$1/index")"; }
cp_addr4() { echo "10.255.0.$(cat "$T/$1/index")"; }

# cp_link A B: a veth pair, "e-B" in A and "e-A" in B, no address configured
# (the kernel's link-local addresses only).
cp_link() {
	gem_link "$1" "e-$2" "$2" "e-$1"
	echo "e-$2" >>"$T/$1/ifaces"
	echo "e-$1" >>"$T/$2/ifaces"
	echo "$1 e-$2 $2 e-$1" >>"$T/links"
}

# cp_conf NAME [EXTRA]: write $T/NAME/gemd.conf for the interfaces linked so
# far, EXTRA (default: $T/NAME/extra.conf, if there is one) appended.
cp_conf() {
	local n=$1 d=$T/$1 ifs="" extra=${2:-$(cat "$T/$1/extra.conf" 2>/dev/null)}
	[ -e "$d/ifaces" ] && ifs=$(tr '\n' ' ' <"$d/ifaces")
	cat >"$d/gemd.conf" <<EOF
; gemd test configuration for node $n
[node]
name = $n
address = $(cp_addr "$n")/128
address = $(cp_addr4 "$n")/32
run_dir = $d/run
state_dir = $d/state

[hsm]
token = gem-$n
pin_file = $d/pin
lock_dir = $d

[discovery]
interfaces = ${ifs:-none}
interval = 1
hold = 5

[tunnel]
port_base = $CP_PORT_BASE

[babel]
hello_interval = 1
EOF
	[ -n "$extra" ] && printf '%s\n' "$extra" >>"$d/gemd.conf"
	return 0
}

# cp_start NAME: gemd in NAME under a restart loop, as a service manager
# would run it (Restart=always, RestartSec=1): a gemd that dies is started
# again after 1 s unless cp_stop asked it to stop.
cp_start() {
	local n=$1 d=$T/$1
	cp_conf "$n"
	rm -f "$d/stop"
	gem_bg "$n" "$n-sup" env SOFTHSM2_CONF="$d/softhsm2.conf" bash -c '
		while :; do
			"$0" -c "$1/gemd.conf" >>"$1/gemd.log" 2>&1
			rc=$?
			[ -e "$1/stop" ] && exit 0
			echo "supervisor: gemd exited with status $rc; restarting in 1 s" >>"$1/gemd.log"
			sleep 1
			[ -e "$1/stop" ] && exit 0
		done' "$GEMD" "$d"
}

# cp_gemd_pid NAME: pid of NAME's running gemd (from its run_dir), or fail.
cp_gemd_pid() {
	local p
	p=$(cat "$T/$1/run/gemd.pid" 2>/dev/null) || return 1
	[ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"
}

# cp_stop NAME: SIGTERM to gemd and wait (30 s) for its teardown and the
# loop's end (a gemd the loop starts meanwhile gets SIGTERM too).
cp_stop() {
	local n=$1 d=$T/$1 pid sup killed=""
	touch "$d/stop"
	sup=$(gem_pid "$n-sup" 2>/dev/null) || return 0
	for _ in $(seq 600); do
		kill -0 "$sup" 2>/dev/null || break
		if pid=$(cp_gemd_pid "$n") && [ "$pid" != "$killed" ]; then
			kill -TERM "$pid"
			killed=$pid
		fi
		sleep 0.05
	done
	if kill -0 "$sup" 2>/dev/null; then
		echo "  cp_stop $n: gemd did not stop within 30 s"
		return 1
	fi
	wait "$sup" 2>/dev/null
	return 0
}

cp_stop_all() {
	local n
	for n in "${CP_NODES[@]}"; do
		[ -e "$T/$n/stop" ] || cp_stop "$n"
	done
}

# iputils ping if installed (CP_NO_PING=1 pretends it is not), else
# selftests/cp_ping.py (raw ICMP echo, both families).
CP_HAVE_PING=0
[ -z "${CP_NO_PING:-}" ] && command -v ping >/dev/null && CP_HAVE_PING=1

# cp_echo NODE SRC DST [WAIT]: one echo request from SRC to DST in NODE;
# succeeds if the reply arrives within WAIT s (default 1).
cp_echo() {
	local w=${4:-1}
	if [ $CP_HAVE_PING = 1 ]; then
		nsx "$1" ping -n -q -c 1 -W "$w" -I "$2" "$3" >/dev/null 2>&1
	else
		nsx "$1" python3 "$GEM_ROOT/selftests/cp_ping.py" "$2" "$3" "$w" >/dev/null 2>&1
	fi
}

# cp_echo_pat NODE SRC DST PATTERN_HEX: five echoes whose payload repeats
# PATTERN_HEX (what the captures must never show in clear); all must return.
cp_echo_pat() {
	if [ $CP_HAVE_PING = 1 ]; then
		nsx "$1" ping -n -q -c 5 -i 0.2 -W 2 -p "$4" -I "$2" "$3" >/dev/null 2>&1
	else
		for _ in 1 2 3 4 5; do
			nsx "$1" python3 "$GEM_ROOT/selftests/cp_ping.py" "$2" "$3" 2 "$4" >/dev/null 2>&1 ||
				return 1
		done
	fi
}

# cp_ping A B: one echo from A's IPv6 address to B's and one from A's IPv4
# address to B's (routed over IPv6 next hops, Babel's v4-via-v6).  Waits
# CP_PING_WAIT s (default 1) for each reply.
cp_ping() {
	local w=${CP_PING_WAIT:-1}
	cp_echo "$1" "$(cp_addr "$1")" "$(cp_addr "$2")" "$w" &&
		cp_echo "$1" "$(cp_addr4 "$1")" "$(cp_addr4 "$2")" "$w"
}

# cp_mesh_ok NODE...: every node reaches every other (all pairs probed at
# once, so one round takes at most two ping timeouts).
cp_mesh_ok() {
	local a b pids=() p rc=0
	for a in "$@"; do
		for b in "$@"; do
			[ "$a" = "$b" ] && continue
			cp_ping "$a" "$b" &
			pids+=("$!")
		done
	done
	for p in "${pids[@]}"; do
		wait "$p" || rc=1
	done
	return $rc
}

# cp_wait_mesh TIMEOUT_S NODE...: wait for full reachability; prints the
# seconds taken (one decimal) on stdout, returns 1 on timeout.  Probes every
# 0.2 s with a 0.5 s reply timeout: the time is late by at most ~1 s.
cp_wait_mesh() {
	local timeout_ms=$(($1 * 1000)) t0 t
	shift
	t0=$(date +%s%3N)
	while ! CP_PING_WAIT=0.5 cp_mesh_ok "$@"; do
		t=$(date +%s%3N)
		[ $((t - t0)) -gt "$timeout_ms" ] && return 1
		sleep 0.2
	done
	t=$(date +%s%3N)
	printf '%d.%d' $(((t - t0) / 1000)) $(((t - t0) % 1000 / 100))
}

# cp_leftovers NAME: nothing of gemd's left in NAME's namespace (run after
# cp_stop): no process, TUN, IP rule beyond the defaults, Babel route, our
# address, runtime directory.  Prints what it finds; returns 1 if anything.
cp_leftovers() {
	local n=$1 ns bad=0 x
	ns=$(gem_nsname "$n")
	# the test's own captures may still run there
	x=$(for p in $(ip netns pids "$ns"); do [ "$(cat /proc/"$p"/comm 2>/dev/null)" = tcpdump ] || echo "$p"; done)
	[ -n "$x" ] && { echo "    $n: processes left: $(for p in $x; do tr '\0' ' ' </proc/"$p"/cmdline; echo; done)"; bad=1; }
	x=$(nsx "$n" ip -o link show type tun)
	[ -n "$x" ] && { echo "    $n: TUN devices left: $x"; bad=1; }
	x=$(nsx "$n" ip -6 rule show | grep -vE '^(0|32766):' )
	[ -n "$x" ] && { echo "    $n: IPv6 rules left: $x"; bad=1; }
	x=$(nsx "$n" ip -4 rule show | grep -vE '^(0|32766|32767):')
	[ -n "$x" ] && { echo "    $n: IPv4 rules left: $x"; bad=1; }
	x=$(nsx "$n" ip -6 route show table all proto babel; nsx "$n" ip -4 route show table all proto babel)
	[ -n "$x" ] && { echo "    $n: Babel routes left: $x"; bad=1; }
	x=$( (nsx "$n" ip -6 route show table all; nsx "$n" ip -4 route show table all) |
		grep -E "table (220|70[0-6][0-9])|dev ipsec")
	[ -n "$x" ] && { echo "    $n: IPsec routes left: $x"; bad=1; }
	x=$(nsx "$n" ip addr show dev lo | grep -F -e "$(cp_addr "$n")/" -e "$(cp_addr4 "$n")/")
	[ -n "$x" ] && { echo "    $n: address left on lo: $x"; bad=1; }
	[ -e "$T/$n/run" ] && { echo "    $n: run_dir left: $(find "$T/$n/run" | head -5 | tr '\n' ' ')"; bad=1; }
	x=$(grep -lF "$T/$n/" /proc/[0-9]*/mountinfo 2>/dev/null)
	[ -n "$x" ] && { echo "    $n: mounts of its run_dir left in: $x"; bad=1; }
	return $bad
}

# ---- captures ----------------------------------------------------------------------

# cp_capture_start: tcpdump on one end of every link, written to $T/cap-LINK.pcap.
cp_capture_start() {
	local a ia
	while read -r a ia _ _; do
		gem_bg "$a" "cap-$a-$ia" tcpdump -i "$ia" -n -s 0 -U --immediate-mode \
			-w "$T/cap-$a-$ia.pcap"
	done <"$T/links"
	# tcpdump is up when it has opened its file
	while read -r a ia _ _; do
		gem_wait_for 10 test -s "$T/cap-$a-$ia.pcap" || true
	done <"$T/links"
}

cp_capture_stop() {
	local a ia
	sleep 0.5
	while read -r a ia _ _; do
		gem_stop "cap-$a-$ia" INT
	done <"$T/links"
}

# cp_capture_check [PATTERN_HEX [NODE...]]: every frame on every link is a
# beacon (UDP to the discovery port), IKE or ESP-in-UDP between IKE ports, or
# ICMPv6 neighbour discovery / MLD; no Babel (UDP 6696) in the clear; and
# PATTERN_HEX (a ping payload) appears nowhere.  Links of the NODEs (e.g. an
# intruder) must carry no ESP at all; every other link some.
cp_capture_check() {
	local pat=${1:-} f base total allowed babel esp bad=0 noesp n
	local hi=$((CP_PORT_BASE + 2 * 32 - 1))
	local ike="udp and src portrange $CP_PORT_BASE-$hi and dst portrange $CP_PORT_BASE-$hi"
	# ND and MLD: ICMPv6 types 130-137 right after the IPv6 header; MLDv2
	# reports to ff02::16 carry a hop-by-hop header first
	# ICMPv6 port unreachable: a charon's port while it restarts; it quotes
	# the ESP/IKE datagram it refused (the payload check covers it)
	local ok="(ip6 and udp and dst port $CP_DISC_PORT) or ($ike) or (icmp6 and ip6[40] >= 130 and ip6[40] <= 137) or (ip6 dst ff02::16 and ip6[6] == 0 and ip6[48] == 143) or (icmp6 and ip6[40] == 1 and ip6[41] == 4)"
	shift
	for f in "$T"/cap-*.pcap; do
		base=$(basename "$f" .pcap)
		noesp=0
		for n in "$@"; do
			case "$base" in cap-"$n"-*|*-e-"$n") noesp=1 ;; esac
		done
		total=$(tcpdump -r "$f" -n 2>/dev/null | wc -l)
		allowed=$(tcpdump -r "$f" -n "$ok" 2>/dev/null | wc -l)
		babel=$(tcpdump -r "$f" -n "udp port 6696" 2>/dev/null | wc -l)
		# ESP-in-UDP: IPv6 without extension headers, UDP payload at 48, SPI != 0
		# (IKE on these ports starts with the 4-byte zero non-ESP marker)
		esp=$(tcpdump -r "$f" -n "($ike) and ip6[48:4] != 0" 2>/dev/null | wc -l)
		echo "    ${base#cap-}: $total frames, $esp ESP-in-UDP, $babel Babel in clear, $((total - allowed)) other"
		if [ "$total" != "$allowed" ]; then
			echo "    unexpected frames:"
			tcpdump -r "$f" -n "not ($ok)" 2>/dev/null | head -5 | sed 's/^/      /'
			bad=1
		fi
		[ "$babel" = 0 ] || bad=1
		if [ $noesp = 1 ] && [ "$esp" != 0 ]; then
			echo "    ESP on ${base#cap-}, a link where no tunnel may come up"
			bad=1
		elif [ $noesp = 0 ] && [ "$esp" = 0 ]; then
			echo "    no ESP on ${base#cap-}"
			bad=1
		fi
		if [ -n "$pat" ] && od -An -tx1 -v "$f" | tr -d ' \n' | grep -q "$pat"; then
			echo "    the ping payload pattern appears in clear on ${base#cap-}"
			bad=1
		fi
	done
	return $bad
}

# cp_peers NAME / cp_routes NAME: gemctl -j against NAME's gemd.
cp_peers() { "$GEMCTL" -j peers --socket "$T/$1/run/gemd.sock"; }
cp_routes() { "$GEMCTL" -j routes --socket "$T/$1/run/gemd.sock"; }

# jq_ok JSON FILTER [JQ ARGS...]: FILTER is true for JSON.
# Empty input fails (jq -e succeeds on no input at all).
jq_ok() {
	local json=$1 filter=$2
	shift 2
	[ -n "${json//[[:space:]]/}" ] || return 1
	jq -e "$@" "$filter" <<<"$json" >/dev/null 2>&1
}

# cp_established NAME COUNT: NAME has COUNT established tunnels with a Babel neighbour.
cp_established() {
	[ "$(cp_peers "$1" | jq '[.peers[] | select(.state == "established" and .babel != null)] | length')" = "$2" ]
}

# cp_line4: the full-stack line a - b - c - d used by test_cp_sek.sh,
# test_adv_cp.sh and test_faults.sh: gemd nodes and tunnels links, the
# group's GAK in a's and d's tokens, [groups]/pin_dir in $T/N/extra.conf
# (the caller's cp_conf appends it), a private bpffs, LAN hosts hostA (behind
# a, the source $SRC) and hostD, addresses on the inter-node links, routes
# back to the source, and FROM/TO: each node's multicast in/out interface.
# Needs NODES="a b c d", GRP, SRC.
cp_line4() {
	local i n
	i=1
	for n in $NODES; do cp_node "$n" $i; i=$((i + 1)); done
	cp_link a b
	cp_link b c
	cp_link c d
	head -c 32 /dev/urandom >"$T/gak"
	for n in a d; do
		cp_keys "$n" import gak "$GRP" "$T/gak" >/dev/null || gem_die "import gak ($n)"
	done
	gem_bpffs_mount
	for n in $NODES; do
		printf '[groups]\ngroup = %s\nsuite = hmac-sha256\n[node]\npin_dir = %s\n' "$GRP" \
			"$GEM_BPFFS/$n" >"$T/$n/extra.conf"
	done
	gem_ns_add hostA
	gem_ns_add hostD
	gem_link hostA lan a lan0
	gem_link hostD lan d lan0
	gem_addr hostA lan 10.1.0.2/24
	gem_addr a lan0 10.1.0.1/24
	gem_addr hostD lan 10.4.0.2/24
	gem_addr d lan0 10.4.0.1/24
	nsx hostA ip route add default via 10.1.0.1
	nsx hostD ip route add default via 10.4.0.1
	gem_addr a e-b 10.0.1.1/24
	gem_addr b e-a 10.0.1.2/24
	gem_addr b e-c 10.0.2.2/24
	gem_addr c e-b 10.0.2.3/24
	gem_addr c e-d 10.0.3.3/24
	gem_addr d e-c 10.0.3.4/24
	nsx b ip route add 10.1.0.0/24 via 10.0.1.1
	nsx c ip route add 10.1.0.0/24 via 10.0.2.2
	nsx d ip route add 10.1.0.0/24 via 10.0.3.3
	for n in $NODES; do nsx "$n" sysctl -qw net.ipv4.ip_forward=1; done
	declare -gA FROM=([a]=lan0 [b]=e-a [c]=e-b [d]=e-c) TO=([a]=e-b [b]=e-c [c]=e-d [d]=lan0)
	declare -gA XTO LANS
}

# cp_line4_dataplane: after cp_line4, multicast routing for (SRC, GRP) along
# hostA -> a -> b -> c -> d -> hostD (smcrouted, one per node) and GEM
# (gem-load, native XDP) on every inter-node link; skips (77) on a kernel
# without the crypto kfuncs.  GRP2, if set: routed as well.  XTO[NODE] (set
# after cp_line4): one more outgoing interface of NODE's routes (a LAN of a
# relay); LANS[NODE]: NODE's LAN interfaces, attached with --role lan.
cp_line4_dataplane() {
	local n ifc g
	declare -gA XTO LANS	# kept if the caller set them; empty otherwise
	for n in $NODES; do
		{
			for ifc in ${FROM[$n]} ${TO[$n]} ${XTO[$n]:-}; do
				echo "phyint $ifc enable ttl-threshold 1"
			done
			for g in $GRP ${GRP2:-}; do
				echo "mroute from ${FROM[$n]} source $SRC group $g to ${TO[$n]} ${XTO[$n]:-}"
			done
		} >"$T/$n.smc.conf"
		gem_bg "$n" "smcrouted-$n" "$GEM_MROUTER" -n -N -i "gem-$n" -f "$T/$n.smc.conf" \
			-P "$T/$n.smc.pid" -u "$T/$n.smc.sock"
	done
	for n in $NODES; do
		for g in $GRP ${GRP2:-}; do
			gem_mroute_wait "$n" 4 "$SRC" "$g" ||
				gem_die "$n: no multicast route: $(cat "$T/smcrouted-$n.log")"
		done
		for ifc in $(cat "$T/$n/ifaces"); do
			if ! nsx "$n" "$GEM_LOAD" --pin-dir "$GEM_BPFFS/$n" attach "$ifc" \
				--xdp-mode native >"$T/attach.log" 2>&1; then
				grep -q "lacks the BPF crypto kfuncs" "$T/attach.log" &&
					gem_skip "$(cat "$T/attach.log")"
				gem_die "gem-load attach $ifc on $n: $(cat "$T/attach.log")"
			fi
		done
		for ifc in ${LANS[$n]:-}; do
			nsx "$n" "$GEM_LOAD" --pin-dir "$GEM_BPFFS/$n" attach "$ifc" --role lan \
				>"$T/attach.log" 2>&1 ||
				gem_die "gem-load attach $ifc --role lan on $n: $(cat "$T/attach.log")"
		done
	done
}

