#!/bin/bash
# GEM demo, the whole stack: five GEM nodes in network namespaces on this
# machine, each with its own SoftHSM token, gem-load (data plane) and gemd
# (discovery, IPsec tunnels to its neighbours, babeld, key distribution).
# A real multicast application streams from a's LAN to the LANs of d and e;
# b and c are on the path but not members of the group.
#
#   hostA --lan-- a ---- b ---- c ---- d --lan-- hostD
#                                \
#                                 e --lan-- hostE
#
# Nobody loads a key by hand: the members' tokens hold the group's GAK, a's
# gemd makes the stream's SEK when the first packet finds none, announces it
# (signed, wrapped under the GAK) through the tunnels, d and e unwrap it and
# load it; the SEK rotates every few seconds during the stream.
# The static-keying demo (two routers, keys loaded by hand) is demo/static.sh.
# KEEP=1 leaves everything up and prints how to look around and clean up.
# Exit status 0: every check held.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/cp_lib.sh

T0=$(date +%s)
cp_init demo
for t in smcrouted tshark; do command -v $t >/dev/null || gem_skip "$t missing (make deps)"; done
MC=$GEM_ROOT/selftests/mcast.py
N=${DEMO_PACKETS:-3000} RATE=${DEMO_RATE:-500}
GRP=239.1.1.1 SRC=10.1.0.2 PORT=5001
NODES="a b c d e" MEMBERS="a d e"
TAG=$(printf 'gemdemo%09d' $$ | head -c 16)
say() { printf '\n\033[1m== %s\033[0m   (%d s)\n' "$*" $(($(date +%s) - T0)); }
run() { printf '  $ %s\n' "$*"; }
in_gemctl() { local n=$1; shift; nsx "$n" "$GEMCTL" --pin-dir "$GEM_BPFFS/$n" "$@"; }
ctl() { local n=$1; shift; "$GEMCTL" "$@" --socket "$T/$n/run/gemd.sock"; }
eval "$(declare -f cp_conf | sed '1s/^cp_conf/cp_conf_base/')"
cp_conf() { cp_conf_base "$1" "${2:-$(cat "$T/$1/extra.conf" 2>/dev/null)}"; }

if [ "${KEEP:-0}" = 1 ]; then
	keep_notice() {
		echo
		echo "KEEP=1: the demo network stays up (namespaces $GEM_NSP-*, gemd logs in $T/NODE/gemd.log)."
		echo "  look:     $GEMCTL peers --socket $T/c/run/gemd.sock"
		echo "            $GEMCTL control-stats --socket $T/d/run/gemd.sock"
		echo "            ip netns exec $GEM_NSP-d $GEMCTL --pin-dir $GEM_BPFFS/d stream list"
		echo "  clean up: for n in $NODES; do touch $T/\$n/stop; kill \$(cat $T/\$n/run/gemd.pid); done; sleep 3"
		echo "            for n in \$(ip netns list | awk '/^$GEM_NSP-/{print \$1}'); do ip netns pids \$n | xargs -r kill; ip netns del \$n; done; umount $GEM_BPFFS; rm -rf $T"
	}
	trap 'keep_notice' EXIT
fi

say "1. five nodes, each with its own SoftHSM token (node key, the domain's BK)"
i=1
for n in $NODES; do cp_node "$n" $i; i=$((i + 1)); done
cp_link a b
cp_link b c
cp_link c d
cp_link c e
head -c 32 /dev/urandom >"$T/gak"
chmod 600 "$T/gak"
for n in $MEMBERS; do
	cp_keys "$n" import gak "$GRP" "$T/gak" >/dev/null || gem_die "import gak ($n)"
done
run "gemctl keys import gak $GRP gak-file     (on a, d and e: the group's members)"
for n in $NODES; do
	m="not a member (no GAK: relays, never reads)"
	case " $MEMBERS " in *" $n "*) m="member of $GRP (GAK in its token)" ;; esac
	echo "  $n: node id $(cp_id "$n"), token $T/$n/tokens, $m"
done

say "2. links, LANs, multicast routing (smcrouted), GEM data plane (gem-load)"
gem_bpffs_mount
for h in A D E; do gem_ns_add "host$h"; done
gem_link hostA lan a lan0
gem_link hostD lan d lan0
gem_link hostE lan e lan0
gem_addr hostA lan 10.1.0.2/24; gem_addr a lan0 10.1.0.1/24
gem_addr hostD lan 10.4.0.2/24; gem_addr d lan0 10.4.0.1/24
gem_addr hostE lan 10.5.0.2/24; gem_addr e lan0 10.5.0.1/24
for h in A D E; do nsx "host$h" ip route add default via "10.$(case $h in A) echo 1;; D) echo 4;; E) echo 5;; esac).0.1"; done
gem_addr a e-b 10.0.1.1/24; gem_addr b e-a 10.0.1.2/24
gem_addr b e-c 10.0.2.2/24; gem_addr c e-b 10.0.2.3/24
gem_addr c e-d 10.0.3.3/24; gem_addr d e-c 10.0.3.4/24
gem_addr c e-e 10.0.4.3/24; gem_addr e e-c 10.0.4.5/24
nsx b ip route add 10.1.0.0/24 via 10.0.1.1
nsx c ip route add 10.1.0.0/24 via 10.0.2.2
nsx d ip route add 10.1.0.0/24 via 10.0.3.3
nsx e ip route add 10.1.0.0/24 via 10.0.4.3
declare -A FROM=([a]=lan0 [b]=e-a [c]=e-b [d]=e-c [e]=e-c) TO=([a]=e-b [b]=e-c [c]="e-d e-e" [d]=lan0 [e]=lan0)
for n in $NODES; do
	nsx "$n" sysctl -qw net.ipv4.ip_forward=1
	{
		for ifc in ${FROM[$n]} ${TO[$n]}; do echo "phyint $ifc enable ttl-threshold 1"; done
		echo "mroute from ${FROM[$n]} source $SRC group $GRP to ${TO[$n]}"
	} >"$T/$n.smc.conf"
	gem_bg "$n" "smcrouted-$n" "$GEM_MROUTER" -n -N -i "gemdemo-$n" -f "$T/$n.smc.conf" \
		-P "$T/$n.smc.pid" -u "$T/$n.smc.sock"
done
for n in $NODES; do
	gem_mroute_wait "$n" 4 "$SRC" "$GRP" || gem_die "$n: no multicast route: $(cat "$T/smcrouted-$n.log")"
	for ifc in $(cat "$T/$n/ifaces"); do
		if ! nsx "$n" "$GEM_LOAD" --pin-dir "$GEM_BPFFS/$n" attach "$ifc" >"$T/attach.log" 2>&1; then
			grep -q "kfuncs" "$T/attach.log" && gem_skip "$(cat "$T/attach.log")"
			gem_die "gem-load attach $ifc on $n: $(cat "$T/attach.log")"
		fi
	done
	case $n in a | d | e)
		# the LAN: no sealed packet of a group this node cannot open goes there
		nsx "$n" "$GEM_LOAD" --pin-dir "$GEM_BPFFS/$n" attach lan0 --role lan >"$T/attach.log" 2>&1 ||
			gem_die "gem-load attach lan0 --role lan on $n: $(cat "$T/attach.log")"
		echo "  $n: GEM attached to $(tr '\n' ' ' <"$T/$n/ifaces")(wan), lan0 (lan)" ;;
	*) echo "  $n: GEM attached to $(tr '\n' ' ' <"$T/$n/ifaces")" ;;
	esac
done
run "gem-load attach e-c     (on d; the same on every inter-node link)"
run "gem-load attach lan0 --role lan     (on d; every LAN-facing interface)"
nsx d "$GEM_LOAD" --pin-dir "$GEM_BPFFS/d" status | sed 's/^/  /'

say "3. gemd on every node: discovery, an IPsec tunnel per neighbour, babeld, key distribution"
for n in $NODES; do
	printf '[groups]\ngroup = %s\nsuite = hmac-sha256\nsek_lifetime = 4\nrotate_delay = 1\n[node]\npin_dir = %s\n' \
		"$GRP" "$GEM_BPFFS/$n" >"$T/$n/extra.conf"
done
echo "  gemd.conf of d (as written by the demo):"
cp_conf d && sed 's/^/    /' "$T/d/gemd.conf"
for n in $NODES; do cp_start "$n"; done
t=$(cp_wait_mesh 120 $NODES) || gem_die "the nodes did not reach each other within 120 s"
echo "  every node reaches every other node's address through the tunnels after $t s"
pk_all() { [ "$(ctl "$1" -j control-stats | jq .pubkeys)" = 5 ]; }
for n in $NODES; do gem_wait_for 30 pk_all "$n"; done
run "gemctl peers     (on c: three neighbours, one tunnel each)"
ctl c peers | sed 's/^/  /'
run "gemctl routes     (on a, learned by babeld over the tunnels)"
ctl a routes | head -8 | sed 's/^/  /'

say "4. a multicast application: hostA streams $N packets ($RATE/s) to $GRP, hostD and hostE listen"
for l in "c e-d" "c e-e" "a e-b"; do
	set -- $l
	gem_bg "$1" "cap-$2" tcpdump -i "$2" -n -s 0 -U --immediate-mode -w "$T/cap-$1-$2.pcap" "udp and dst $GRP"
done
for l in c-e-d c-e-e a-e-b; do gem_wait_for 10 test -s "$T/cap-$l.pcap"; done
for h in hostD hostE; do
	gem_bg "$h" "rx-$h" python3 "$MC" recv --group "$GRP" --port "$PORT" --iface lan --tag "$TAG" \
		--expect "$N" --timeout $((N / RATE + 30)) --linger 1 --out "$T/rx-$h.json" --ready "$T/rx-$h.ready"
	gem_wait_for 5 test -e "$T/rx-$h.ready" || gem_die "receiver on $h did not start"
done
run "mcast.py send --group $GRP --port $PORT --count $N --rate $RATE     (on hostA)"
gem_bg hostA tx python3 "$MC" send --group "$GRP" --port "$PORT" --iface lan --src "$SRC" \
	--tag "$TAG" --count "$N" --rate "$RATE" --max-len 1000
gem_wait "$(gem_pid tx)" $((N / RATE + 60))
sleep 1
for h in hostD hostE; do gem_stop "rx-$h" TERM; done
for l in c-e-d c-e-e a-e-b; do gem_stop "cap-${l#*-}" INT; done
got() { jq -r "$2" "$T/rx-$1.json" 2>/dev/null || echo "?"; }
for h in hostD hostE; do
	echo "  $h: received $(got $h .unique) of $N packets, $(got $h .bad) with a wrong byte," \
		"$(got $h .duplicates) duplicates, missing $(got $h .first_missing | jq -c . 2>/dev/null)"
done
echo "  (the stream's first packet finds no SEK at a: the data plane drops it and reports tx-no-key, a's gemd"
echo "   makes the SEK, loads it and announces it; d and e drop the few packets sealed in the milliseconds"
echo "   before the announce reaches them. Rotations later on lose nothing: the next key is announced first.)"

say "5. keys: made, announced, relayed, learned, rotated (gemd logs)"
echo "  a (source):"
grep -hE "control: (new stream|stream .*(rotation|egress switched))" "$T/a/gemd.log" | head -4 | sed 's/^/    /'
for n in b c; do
	echo "  $n (not a member):"
	grep -h "SEK Announce .* new (relayed, not a member)" "$T/$n/gemd.log" | head -1 | sed 's/^/    /'
done
for n in d e; do
	echo "  $n (member):"
	grep -h "SEK loaded for ingress" "$T/$n/gemd.log" | head -2 | sed 's/^/    /'
done
ROT=$(grep -c "egress switched" "$T/a/gemd.log")
echo "  SEK rotations at a so far: $ROT (sek_lifetime 4 s: the next key is announced, used 1 s later)"
run "gemctl control-stats     (on d)"
ctl d control-stats | head -3 | sed 's/^/  /'
run "gemctl control-stats     (on a: the source)"
ctl a control-stats | head -3 | sed 's/^/  /'

say "6. per-stream counters in the data plane"
for n in a d e; do
	run "gemctl stream list     (on $n)"
	in_gemctl "$n" stream list | sed 's/^/  /'
done
run "gemctl group list     (on c: transit, c has no key and relays the sealed packets unchanged)"
in_gemctl c group list | sed 's/^/  /'

say "7. what the links saw (tshark): ciphertext, never the payload"
echo "  the payload hostA sent starts with: $(printf '%s' "$TAG" | od -An -tx1 | tr -d ' \n' | head -c 32)..."
LEAK=0
for l in a-e-b c-e-d c-e-e; do
	f=$T/cap-$l.pcap
	n=$(tshark -r "$f" 2>/dev/null | wc -l)
	echo "  link ${l%%-*} -> ${l##*-} ($n packets):"
	tshark -r "$f" -T fields -e frame.number -e frame.len -e udp.length -e data.data 2>/dev/null | sed -n '1p;$p' |
		awk '{printf "    #%-5s frame %s B, udp %s B: %s...\n", $1, $2, $3, substr($4, 1, 64)}'
	c=$(python3 "$MC" grep "$f" "${TAG:0:14}" | jq -r '.[]')
	echo "    plaintext marker found ${c:-?} times"
	[ "${c:-1}" = 0 ] && [ "$n" -gt 0 ] || LEAK=1
done
echo "  (GEM header: version 01, suite 01, key id (2 bytes: it moves on as the SEK rotates), packet number (8 bytes), ciphertext, tag)"

ok=1
for h in hostD hostE; do
	u=$(got $h .unique)
	[ "${u:-0}" -ge $((N - 10)) ] 2>/dev/null || ok=0
	# after the first 10 packets: none missing (rotations lose nothing)
	[ "$(jq '[.first_missing[] | select(. >= 10)] | length' "$T/rx-$h.json" 2>/dev/null)" = 0 ] || ok=0
	[ "$(got $h .bad)" = 0 ] || ok=0
done
[ $LEAK = 0 ] || ok=0
[ "$ROT" -ge 1 ] || ok=0
for n in $NODES; do [ "$(ctl "$n" -j control-stats | jq .neighbours_up)" -ge 1 ] || ok=0; done
if [ $ok = 1 ]; then
	say "done: both LANs got the stream intact, keys distributed and rotated by gemd, ciphertext only between nodes"
else
	say "unexpected result: see above (logs in $T/NODE/gemd.log)"
fi
[ "${KEEP:-0}" = 1 ] && exit 0
echo "  tearing down (gemd SIGTERM on every node, namespaces removed)"
[ $ok = 1 ]
