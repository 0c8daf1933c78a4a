#!/bin/bash
# End-to-end throughput benchmark (issue 5; docs/PERFORMANCE.md, section
# "End-to-end throughput").  Run by bench/run.sh after the per-packet part.
#
#   hostA --lan-- mcrA ==wan0== mcrB --lan-- hostB      GEM on both wan0
#                      --wan1--                         plain link: no GEM
#
# hostA streams UDP with iperf 2 as fast as it can; hostB counts what
# arrives.  Compared in one run, interleaved repetition by repetition:
#
#   plain    multicast forwarded mcrA -> wan1 -> mcrB (no BPF anywhere): the ceiling
#   gem1-4   multicast forwarded over wan0, sealed by mcrA (TC egress) and
#            opened by mcrB (XDP), suites 1 (HMAC-SHA-256), 2 (CMAC), 3 (Poly1305),
#            4 (ChaCha20-Poly1305)
#   ipsec    the same stream as unicast hostA -> hostB through a strongSwan
#            IKEv2 tunnel mcrA <-> mcrB (kernel-libipsec: ESP AES-GCM-128 in
#            user space, ESP-in-UDP over wan1); pushed at full rate it drops
#            most packets, so it first runs a ladder of offered rates, then is
#            measured at the highest rate with < 1% loss ("sustained") and at
#            the rate that delivered most ("peak"), and also at full rate
#   x2       two streams (two (S,G)), sender k pinned to CPU k, vs one
#   gemNn    suite N with mcrB's wan0 in threaded NAPI, its kthreads pinned to
#            the last CPU: mcrB's XDP opens there while the sender's CPU
#            seals (on veth, both routers' work otherwise runs on the
#            sender's CPU; two real routers would each do one half)
#
# Payloads 1400 and 1352 bytes.  Every link is a veth pair with one queue per
# CPU and XPS (tx queue k <- CPU k), so a stream's softirq work (forwarding,
# GEM) stays on its sender's CPU.
#
#   ./bench/e2e.sh                 full run (~5 minutes), rewrites the section
#   QUICK=1 ./bench/e2e.sh         smoke run (~1 minute), prints only
#   REPS=N SECS=N FULL_REPS=N      override the full run's parameters
#   LADDER="PPS ..."               the IPsec ladder (offered packets/s)
#   DOC=path                       write another file instead
#   KEEP_RUNS=path                 keep the raw measurements (JSON lines)
#
# Exit: 0 done, 77 skipped (missing prerequisite), anything else: failure.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh

CHARON=${CHARON:-/usr/lib/ipsec/charon}
DOC=${DOC:-docs/PERFORMANCE.md}
BEGIN='<!-- e2e:begin -->'
END='<!-- e2e:end -->'
if [ "${QUICK:-0}" = 1 ]; then
	REPS=${REPS:-1} SECS=${SECS:-1} FULL_REPS=${FULL_REPS:-1} LADDER=${LADDER:-"20000 40000 80000"}
else
	REPS=${REPS:-5} SECS=${SECS:-2} FULL_REPS=${FULL_REPS:-2}
	LADDER=${LADDER:-"15000 20000 25000 30000 40000 50000 60000 80000 100000"}
fi
LOSS_OK=1			# % loss that still counts as sustained (IPsec ladder)
SIZES="1400 1352"
NCPU=$(nproc)

gem_init e2e-bench smcrouted iperf taskset swanctl pgrep "$CHARON"
[ -e /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so ] ||
	gem_skip "kernel-libipsec plugin missing (libcharon-extra-plugins)"
[ "$NCPU" -ge 2 ] || gem_skip "needs 2 CPUs (scaling run)"
START=$SECONDS
START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log() { echo "e2e [$((SECONDS - START)) s] $*" >&2; }

S4=10.1.0.2 D4=10.2.0.2
declare -A SUITE=([1]=hmac-sha256 [2]=cmac [3]=poly1305 [4]=chacha20-poly1305)
# group of stream k (1, 2) of a path: 239.1.S.k, S = 0 (plain) or the suite
group() { echo "239.1.$1.$2"; }

# ---- topology -------------------------------------------------------------------
# link NS1 IF1 NS2 IF2: like lib.sh's gem_link (checksum offload off), with one
# queue per CPU each way and XPS mapping tx queue k to CPU k.
link() {
	local q
	ip link add "$2" numtxqueues "$NCPU" numrxqueues "$NCPU" netns "$GEM_NSP-$1" type veth \
		peer name "$4" numtxqueues "$NCPU" numrxqueues "$NCPU" netns "$GEM_NSP-$3" ||
		gem_die "veth $1:$2 -- $3:$4"
	set -- "$1" "$2" "$3" "$4"
	while [ $# -gt 0 ]; do
		nsx "$1" ethtool -K "$2" tx off rx off >/dev/null 2>&1 || gem_die "ethtool -K $1:$2"
		for ((q = 0; q < NCPU; q++)); do
			nsx "$1" sh -c "printf %x $((1 << q)) >/sys/class/net/$2/queues/tx-$q/xps_cpus" ||
				gem_die "xps on $1:$2"
		done
		nsx "$1" ip link set "$2" up
		shift 2
	done
}
log "topology (namespaces $GEM_NSP-*)"
gem_ns_add hostA mcrA mcrB hostB
link hostA lan mcrA lan0
link mcrA wan0 mcrB wan0
link mcrA wan1 mcrB wan1
link mcrB lan0 hostB lan
gem_addr hostA lan $S4/24
gem_addr mcrA lan0 10.1.0.1/24
gem_addr mcrA wan0 10.0.0.1/24
gem_addr mcrB wan0 10.0.0.2/24
gem_addr mcrA wan1 10.0.1.1/24
gem_addr mcrB wan1 10.0.1.2/24
gem_addr mcrB lan0 10.2.0.1/24
gem_addr hostB lan $D4/24
nsx hostA ip route add default via 10.1.0.1
nsx hostB ip route add default via 10.2.0.1
for n in mcrA mcrB; do nsx $n sysctl -qw net.ipv4.ip_forward=1; done
# reverse path for the multicast source (IPv4 multicast fails rp_filter without)
nsx mcrB ip route add 10.1.0.0/24 via 10.0.1.1 dev wan1
# no DF from hostA: the 1400-byte unicast datagrams (1428-byte packets) are
# fragmented by mcrA in front of the tunnel's 1400-byte MTU instead of failing
# with EMSGSIZE; multicast never fragments here (1400 + 28 sealed: 1456 <= 1500)
nsx hostA sysctl -qw net.ipv4.ip_no_pmtu_disc=1
# unicast hostA <-> hostB has no route but the tunnel's: nothing leaks in clear

log "multicast routing (smcrouted)"
for n in mcrA mcrB; do
	{
		echo "phyint lan0 enable ttl-threshold 1"
		echo "phyint wan0 enable ttl-threshold 1"
		echo "phyint wan1 enable ttl-threshold 1"
		for s in 0 1 2 3 4; do
			w=wan0
			[ $s = 0 ] && w=wan1
			for k in 1 2; do
				if [ $n = mcrA ]; then
					echo "mroute from lan0 source $S4 group $(group $s $k) to $w"
				else
					echo "mroute from $w source $S4 group $(group $s $k) to lan0"
				fi
			done
		done
	} >"$T/$n.smc.conf"
	gem_bg $n "smcrouted-$n" "$GEM_MROUTER" -n -N -i "gem-$n" -f "$T/$n.smc.conf" \
		-P "$T/$n.smc.pid" -u "$T/$n.smc.sock"
done
for n in mcrA mcrB; do
	for s in 0 1 2 3 4; do
		for k in 1 2; do
			gem_mroute_wait $n 4 $S4 "$(group $s $k)" ||
				gem_die "$n: no route ($S4, $(group $s $k)): $(cat "$T/smcrouted-$n.log")"
		done
	done
done

log "GEM on mcrA:wan0 and mcrB:wan0"
gem_bpffs_mount
gemctl_in() { local n=$1; shift; nsx "$n" "$GEMCTL" --pin-dir "$GEM_BPFFS/$n" "$@"; }
for n in mcrA mcrB; do
	if ! nsx $n "$GEM_LOAD" --pin-dir "$GEM_BPFFS/$n" attach wan0 >"$T/attach.log" 2>&1; then
		grep -q "lacks the BPF crypto kfuncs" "$T/attach.log" && gem_skip "$(cat "$T/attach.log")"
		gem_die "gem-load attach on $n: $(cat "$T/attach.log")"
	fi
done
head -c 32 /dev/urandom >"$T/gak"
for s in 1 2 3 4; do
	gak=(--key-file "$T/gak")
	[ $s -ge 3 ] && gak=()	# suites 3 and 4 have no group key
	seklen=16
	[ $s = 4 ] && seklen=32	# suite 4: a 256-bit ChaCha20 SEK
	for k in 1 2; do
		g=$(group $s $k)
		head -c $seklen /dev/urandom >"$T/sek-$s-$k"
		for n in mcrA mcrB; do
			gemctl_in $n group add "$g" --suite "${SUITE[$s]}" "${gak[@]}" >"$T/key.log" 2>&1 ||
				gem_die "$n: group add $g: $(cat "$T/key.log")"
		done
		gemctl_in mcrA sek set $S4 "$g" --key-id 1 --key-file "$T/sek-$s-$k" --dir tx \
			>"$T/key.log" 2>&1 || gem_die "mcrA: sek set $g: $(cat "$T/key.log")"
		gemctl_in mcrB sek set $S4 "$g" --key-id 1 --key-file "$T/sek-$s-$k" --dir rx \
			>"$T/key.log" 2>&1 || gem_die "mcrB: sek set $g: $(cat "$T/key.log")"
	done
done

log "strongSwan IKEv2 tunnel mcrA <-> mcrB (kernel-libipsec)"
PSK=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
# charon_conf NODE PEER LOCAL REMOTE LOCAL_TS REMOTE_TS START_ACTION
charon_conf() {
	local n=$1
	mkdir -p "$T/run-$n"
	cat >"$T/strongswan-$n.conf" <<-EOF
	# charon's pid file lands in its private /run ($T/run-$n)
	charon {
		load = random nonce openssl aes sha1 sha2 hmac gcm kdf kernel-libipsec kernel-netlink socket-default vici
		install_virtual_ip = no
		routing_table = 220
		routing_table_prio = 32800
		plugins {
			vici {
				socket = unix://$T/vici-$n
			}
		}
		filelog {
			bench {
				path = $T/charon-$n.log
				default = 1
				enc = 0
				net = 0
				job = 0
				mgr = 0
			}
		}
		syslog {
			daemon {
				default = -1
			}
		}
	}
	swanctl {
		load = pem pkcs1 x509 revocation constraints pubkey openssl random
		socket = unix://$T/vici-$n
	}
	EOF
	cat >"$T/swanctl-$n.conf" <<-EOF
	connections {
		bench {
			version = 2
			local_addrs = $3
			remote_addrs = $4
			proposals = aes128gcm16-prfsha256-ecp256
			mobike = no
			local {
				auth = psk
				id = $n
			}
			remote {
				auth = psk
				id = $2
			}
			children {
				bench {
					local_ts = $5
					remote_ts = $6
					esp_proposals = aes128gcm16
					start_action = $7
				}
			}
		}
	}
	secrets {
		ike-bench {
			id-a = mcrA
			id-b = mcrB
			secret = 0x$PSK
		}
	}
	EOF
	chmod 600 "$T/swanctl-$n.conf"
}
charon_conf mcrB mcrA 10.0.1.2 10.0.1.1 10.2.0.0/24 10.1.0.0/24 none
charon_conf mcrA mcrB 10.0.1.1 10.0.1.2 10.1.0.0/24 10.2.0.0/24 start
for n in mcrB mcrA; do
	# `ip netns exec` gives a private mount namespace: /run is charon's own
	gem_bg $n "charon-$n" sh -c "mount --bind '$T/run-$n' /run &&
		STRONGSWAN_CONF='$T/strongswan-$n.conf' exec '$CHARON'"
	# SIGKILL: never a lingering queue
	gem_on_exit "kill -KILL $(gem_pid "charon-$n"); wait $(gem_pid "charon-$n")"
done
for n in mcrB mcrA; do
	gem_wait_for 10 test -S "$T/vici-$n" || gem_die "charon in $n: no vici socket: $(cat "$T/charon-$n.log")"
done
for n in mcrB mcrA; do
	nsx $n env STRONGSWAN_CONF="$T/strongswan-$n.conf" swanctl --load-all --file "$T/swanctl-$n.conf" \
		>"$T/swanctl-$n.log" 2>&1 || gem_die "swanctl in $n: $(cat "$T/swanctl-$n.log")"
done
sa_up() {
	nsx mcrA ip route show table 220 | grep -q "^10.2.0.0/24 dev ipsec" &&
		nsx mcrB ip route show table 220 | grep -q "^10.1.0.0/24 dev ipsec"
}
gem_wait_for 20 sa_up || gem_die "no IPsec SA: $(tail -n 20 "$T/charon-mcrA.log")"
TUN=$(nsx mcrA ip -o link show | sed -n 's/^[0-9]*: \(ipsec[0-9]*\):.*/\1/p' | head -n 1)
TUN_MTU=$(nsx mcrA cat "/sys/class/net/$TUN/mtu")

log "receivers (iperf 2 servers on hostB)"
# one per group and one for unicast; each stream always comes from the same
# source port (iperf's server connects its socket to its first client)
gem_bg hostA anchorA sleep 100000	# hostA's /proc/PID/net/snmp
RCV_PIDS=""
for s in 0 1 2 3 4; do
	for k in 1 2; do
		gem_bg hostB "srv-$s-$k" iperf -s -u -B "$(group $s $k)" -l 1500
		RCV_PIDS="$RCV_PIDS $(gem_pid "srv-$s-$k")"
	done
done
gem_bg hostB srv-u iperf -s -u -B $D4 -p 5001 -l 1500
RCV_PIDS="$RCV_PIDS $(gem_pid srv-u)"
PA=$(gem_pid anchorA) PB=$(gem_pid srv-u)
KSOFT=$(pgrep -x 'ksoftirqd/[0-9]+' | tr '\n' ' ')
CHA=$(gem_pid charon-mcrA) CHB=$(gem_pid charon-mcrB)
CHARON_PIDS="$CHA $CHB"
NAPI_PIDS=""
sleep 0.5

# ---- measurement ----------------------------------------------------------------
# snap: one line of numbers: /proc/stat's cpu line (user nice system idle iowait
# irq softirq steal), hostA Udp OutDatagrams, hostB Udp InDatagrams and
# RcvbufErrors, utime and stime of charon (both), the receivers, ksoftirqd;
# mcrA's TUN: tx packets (read by charon) and tx drops (queue full); mcrB's
# Udp InDatagrams and RcvbufErrors (ESP-in-UDP to charon); utime and stime of
# the NAPI kthreads (threaded runs)
snap() {
	local f files=() p
	for p in $CHARON_PIDS $RCV_PIDS $KSOFT $NAPI_PIDS; do
		f=/proc/$p/stat
		[ -r "$f" ] && files+=("$f")
	done
	awk -v na="/proc/$PA/net/snmp" -v nb="/proc/$PB/net/snmp" -v ch="$CHARON_PIDS" \
		-v rc="$RCV_PIDS" -v ks="$KSOFT" -v td="/proc/$CHA/net/dev" -v tun="$TUN" \
		-v mb="/proc/$CHB/net/snmp" -v np="$NAPI_PIDS" '
		BEGIN {
			n = split(ch, a, " "); for (i = 1; i <= n; i++) grp[a[i]] = "c"
			n = split(rc, a, " "); for (i = 1; i <= n; i++) grp[a[i]] = "r"
			n = split(ks, a, " "); for (i = 1; i <= n; i++) grp[a[i]] = "k"
			n = split(np, a, " "); for (i = 1; i <= n; i++) grp[a[i]] = "n"
		}
		FILENAME == "/proc/stat" && $1 == "cpu" { cpu = $2 " " $3 " " $4 " " $5 " " $6 " " $7 " " $8 " " $9 }
		FILENAME == na && $1 == "Udp:" && $2 ~ /^[0-9]+$/ { aout = $5 }
		FILENAME == nb && $1 == "Udp:" && $2 ~ /^[0-9]+$/ { bin = $2; brcv = $6 }
		FILENAME == mb && $1 == "Udp:" && $2 ~ /^[0-9]+$/ { mbin = $2; mbrcv = $6 }
		FILENAME == td { sub(/:/, " "); if ($1 == tun) { tpk = $11; tdr = $13 } }
		FILENAME ~ /^\/proc\/[0-9]+\/stat$/ {
			split(FILENAME, p, "/"); g = grp[p[3]]
			sub(/^.*\) /, "")	# fields after "(comm) " start at 3: state
			u[g] += $12; s[g] += $13
		}
		END {
			printf "%s %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d\n", cpu, aout, bin, brcv,
				u["c"], s["c"], u["r"], s["r"], u["k"], s["k"], tpk, tdr, mbin, mbrcv,
				u["n"], s["n"]
		}' /proc/stat "/proc/$PA/net/snmp" "/proc/$PB/net/snmp" "/proc/$CHA/net/dev" \
		"/proc/$CHB/net/snmp" "${files[@]}"
}
arrived() { awk '$1 == "Udp:" && $2 ~ /^[0-9]+$/ { print $2 + $6 }' "/proc/$PB/net/snmp"; }

RUNS=$T/runs.jsonl
: >"$RUNS"
LAST_SENT=0 LAST_DELIVERED=0
# measure PHASE REP CFG SIZE RATE TARGET...: one stream per TARGET (a group, or
# the unicast destination), sender k pinned to CPU k; appends a JSON line to
# $RUNS and leaves the stream's sent/delivered counts in LAST_*.
measure() {
	local phase=$1 rep=$2 cfg=$3 size=$4 rate=$5
	shift 5
	local k=0 dst sport pids=() before after t0 t1 tl prev cur i secs="" sents="" cpus="" iv st
	before=$(snap)
	t0=$EPOCHREALTIME
	for dst in "$@"; do
		if [ "$dst" = $D4 ]; then
			sport=41000
			set -- -c $D4 -p 5001
		else
			sport=$((40000 + ${dst##*.} + 10 * $(cut -d. -f3 <<<"$dst")))
			set -- -c "$dst" -T 8
		fi
		# shellcheck disable=SC2016 # expanded by the inner sh: its children's CPU time
		ip netns exec "$GEM_NSP-hostA" sh -c \
			'log=$1 st=$2; shift 2; "$@" >"$log" 2>&1; cat /proc/$$/stat >"$st"' sh \
			"$T/snd-$k.log" "$T/snd-$k.stat" taskset -c $k \
			iperf "$@" -B "$S4:$sport" --no-udp-fin -u -b "$rate" -l "$size" -t "$SECS" &
		pids+=($!)
		k=$((k + 1))
	done
	wait "${pids[@]}"
	t1=$EPOCHREALTIME
	# drain: until hostB has seen nothing new for 0.2 s (a tunnel may still
	# be emptying its queues); tl: when the last packet arrived
	prev=$(arrived) tl=$t1 i=0
	while [ $i -lt 100 ]; do
		sleep 0.1
		cur=$(arrived)
		if [ "$cur" = "$prev" ]; then
			sleep 0.1
			[ "$(arrived)" = "$cur" ] && break
			cur=$(arrived)
		fi
		prev=$cur tl=$EPOCHREALTIME i=$((i + 1))
	done
	after=$(snap)
	for ((i = 0; i < k; i++)); do
		iv=$(sed -n 's/.* 0\.0*-\([0-9.]*\) sec .*/\1/p' "$T/snd-$i.log" | head -n 1)
		[ -n "$iv" ] || { log "sender $i of $cfg/$size failed: $(tail -n 3 "$T/snd-$i.log")"; iv=0; }
		st=$(sed 's/^.*) //' "$T/snd-$i.stat" | awk '{ print $14 "," $15 }')
		secs="$secs${secs:+,}$iv" cpus="$cpus${cpus:+,}[$st]"
		sents="$sents${sents:+,}$(sed -n 's/.*Sent \([0-9]*\) datagrams.*/\1/p' "$T/snd-$i.log" | head -n 1)"
	done
	printf '{"phase":"%s","rep":%d,"cfg":"%s","size":%d,"streams":%d,"rate":"%s","secs":[%s],"iperf_sent":[%s],"snd_cpu":[%s],"wall":%s,"drain":%s,"before":[%s],"after":[%s]}\n' \
		"$phase" "$rep" "$cfg" "$size" "$k" "$rate" "$secs" "$sents" "$cpus" \
		"$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
		"$(awk -v a="$t1" -v b="$tl" 'BEGIN { print b - a }')" \
		"${before// /,}" "${after// /,}" >>"$RUNS"
	read -r -a b <<<"$before"
	read -r -a a <<<"$after"
	LAST_SENT=$((a[8] - b[8])) LAST_DELIVERED=$((a[9] - b[9]))
}
# targets CFG STREAMS: the destinations of a configuration's streams
targets() {
	case $1 in
	plain) [ "$2" = 1 ] && group 0 1 || echo "$(group 0 1) $(group 0 2)" ;;
	gem*) local s=${1#gem}
		s=${s%n}
		[ "$2" = 1 ] && group "$s" 1 || echo "$(group "$s" 1) $(group "$s" 2)" ;;
	ipsec*) echo $D4 ;;
	esac
}
loss_ok() { [ "$LAST_SENT" -gt 0 ] && [ $(((LAST_SENT - LAST_DELIVERED) * 100)) -lt $((LAST_SENT * LOSS_OK)) ]; }

log "probes: every path delivers"
for cfg in plain gem1 gem2 gem3 gem4 ipsec; do
	for dst in $(targets $cfg 2); do
		SECS_SAVE=$SECS SECS=0.3
		measure probe 0 $cfg 1352 2000pps "$dst"
		SECS=$SECS_SAVE
		if [ "$LAST_DELIVERED" = 0 ] || [ "$LAST_DELIVERED" -lt $((LAST_SENT * 9 / 10)) ]; then
			gem_die "probe $cfg -> $dst: sent $LAST_SENT, delivered $LAST_DELIVERED"
		fi
	done
done

declare -A RATE PEAK
for size in $SIZES; do
	log "IPsec ladder, $size-byte payloads (offered: $LADDER packets/s)"
	sus=0 peak=0 best=-1 i=0
	for rate in $LADDER; do
		measure ladder $i ipsec "$size" "${rate}pps" $D4
		loss_ok && sus=$rate
		[ "$LAST_DELIVERED" -gt "$best" ] && best=$LAST_DELIVERED peak=$rate
		log "  offered $rate/s: sent $LAST_SENT, delivered $LAST_DELIVERED"
		i=$((i + 1))
	done
	[ "$sus" = 0 ] && sus=${LADDER%% *}	# none sustained: the lowest (the table shows its loss)
	RATE[$size]=$sus PEAK[$size]=$peak
done

CFGS=()
for size in $SIZES; do
	for cfg in plain gem1 gem2 gem3 gem4 ipsec ipsecpeak; do CFGS+=("$cfg:$size:1"); done
done
for cfg in plain gem1 gem2 gem3 gem4; do CFGS+=("$cfg:1400:2"); done
for cfg in gem1n gem2n gem3n gem4n; do CFGS+=("$cfg:1400:1"); done
# napi_threaded on|off: mcrB's wan0 NAPI in kthreads (created anew each time
# it is switched on), pinned to the last CPU; their pids in NAPI_PIDS
napi_threaded() {
	local before p
	if [ "$1" = off ]; then
		nsx mcrB sh -c 'echo 0 >/sys/class/net/wan0/threaded'
		NAPI_PIDS=""
		return
	fi
	before=$(pgrep '^napi/wan0-' | sort)
	nsx mcrB sh -c 'echo 1 >/sys/class/net/wan0/threaded' || gem_die "threaded NAPI on mcrB:wan0"
	NAPI_PIDS=$(comm -13 <(echo "$before") <(pgrep '^napi/wan0-' | sort) | tr '\n' ' ')
	[ -n "$NAPI_PIDS" ] || gem_die "no NAPI kthreads for mcrB:wan0"
	for p in $NAPI_PIDS; do taskset -pc $((NCPU - 1)) "$p" >/dev/null || gem_die "taskset NAPI $p"; done
}
gem_on_exit "ip netns exec $GEM_NSP-mcrB sh -c 'echo 0 >/sys/class/net/wan0/threaded'"
NC=${#CFGS[@]}
for ((r = 1; r <= REPS; r++)); do
	log "repetition $r/$REPS ($NC runs of $SECS s)"
	for ((i = 0; i < NC; i++)); do
		IFS=: read -r cfg size n <<<"${CFGS[$(((i + (r - 1) * 3) % NC))]}"	# order rotates
		rate=10G
		[ "$cfg" = ipsec ] && rate="${RATE[$size]}pps"
		[ "$cfg" = ipsecpeak ] && rate="${PEAK[$size]}pps"
		[ "${cfg%n}" != "$cfg" ] && napi_threaded on
		# shellcheck disable=SC2046
		measure main $r "$cfg" "$size" "$rate" $(targets "$cfg" "$n")
		[ "${cfg%n}" != "$cfg" ] && napi_threaded off
	done
done
for size in $SIZES; do
	for ((r = 1; r <= FULL_REPS; r++)); do
		log "IPsec at full rate, $size-byte payloads ($r/$FULL_REPS)"
		measure full $r ipsec "$size" 10G $D4
	done
done

for n in mcrA mcrB; do gemctl_in $n -j stats >"$T/stats-$n.json" || gem_die "gemctl stats on $n"; done
for n in mcrA mcrB; do
	gem_alive "$(gem_pid "charon-$n")" || gem_die "charon in $n died: $(tail -n 5 "$T/charon-$n.log")"
done
nsx mcrA ip -s link show "$TUN" >"$T/tun.txt"
SECS_TOTAL=$((SECONDS - START))
log "measured in $SECS_TOTAL s; tables"

# ---- tables -----------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
hyp=$(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor:[[:space:]]*//p')
# shellcheck disable=SC2016 # dpkg-query's format
ver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null | cut -d- -f1; }
E2E_MACHINE="$cpu, $NCPU vCPUs${hyp:+ (virtual machine, $hyp)}; kernel $(uname -r)"
E2E_TOOLS="iperf $(iperf -v 2>&1 | awk '{print $3}'), strongSwan $(ver strongswan-charon), smcroute $(ver smcroute)"
E2E_LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
E2E_REV=$(git describe --always --dirty 2>/dev/null || echo unknown)
E2E_HZ=$(getconf CLK_TCK)
export E2E_MACHINE E2E_TOOLS E2E_LOAD1 E2E_REV E2E_HZ
export E2E_DATE=$START_DATE E2E_SECS=$SECS_TOTAL E2E_REPS=$REPS E2E_SECS_RUN=$SECS E2E_LADDER=$LADDER
export E2E_FULL_REPS=$FULL_REPS E2E_LOAD0=$LOAD0 E2E_QUICK=${QUICK:-0} E2E_TUN=$TUN
export E2E_TUN_MTU=$TUN_MTU E2E_LOSS_OK=$LOSS_OK E2E_NCPU=$NCPU
[ -n "${KEEP_RUNS:-}" ] && cp "$RUNS" "$KEEP_RUNS"	# raw data, for reworking the tables
python3 - "$RUNS" "$T/stats-mcrA.json" "$T/stats-mcrB.json" >"$T/section.md" <<'PYEOF' ||
import json, os, statistics, sys

E = os.environ
runs = [json.loads(l) for l in open(sys.argv[1])]
stA, stB = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
HZ, NCPU = int(E["E2E_HZ"]), int(E["E2E_NCPU"])


def derive(r):
    d = [x - y for x, y in zip(r["after"], r["before"])]
    user, nice, system, idle, iowait, irq, softirq, steal = d[:8]
    total = sum(d[:8]) or 1
    sent, delivered, rcvbuf = d[8:11]
    cu, cs, ru, rs, ku, ks = d[11:17]
    tun_pk, tun_drop, esp_in, esp_drop = d[17:21]
    napi = d[21] + d[22]	# threaded NAPI kthreads: XDP and mcrB's forwarding
    arrived = delivered + rcvbuf
    dt = max(r["secs"]) if r["secs"] and max(r["secs"]) > 0 else r["wall"]
    snd_u = sum(c[0] for c in r["snd_cpu"])
    snd_s = sum(c[1] for c in r["snd_cpu"])
    pct = lambda t: 100.0 * t * NCPU / total	# % of one CPU
    frac = lambda a, b: 100.0 * a / b if b else 0.0
    return dict(
        dt=dt, sent=sent, arrived=arrived, delivered=delivered, rcvbuf=rcvbuf,
        pps=arrived / dt, dpps=delivered / dt, spps=sent / dt,
        mbit=arrived * r["size"] * 8 / dt / 1e6,
        loss_net=frac(sent - arrived, sent), loss_sock=frac(rcvbuf, sent),
        loss=frac(sent - delivered, sent),
        tun_drop=frac(tun_drop, tun_pk + tun_drop), esp_drop=frac(esp_drop, esp_in + esp_drop),
        busy=pct(total - idle - iowait), soft=pct(softirq + napi), charon=pct(cu + cs),
        snd=pct(snd_u + snd_s), rcv=pct(ru + rs), other=max(0.0, pct(user + nice - cu - ru - snd_u)),
        us_pkt=(softirq + napi + cu + cs) * 1e6 / HZ / arrived if arrived else float("nan"))


for r in runs:
    r.update(derive(r))


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def sel(phase, cfg, size, streams=1):
    return sorted((r for r in runs if r["phase"] == phase and r["cfg"] == cfg and
                   r["size"] == size and r["streams"] == streams), key=lambda r: r["rep"])


def k(x):
    return "%.1fk" % (x / 1000.0)


def f0(x):
    return "%.0f" % x


def f1(x):
    return "%.1f" % x


def f2(x):
    return "%.2f" % x


def mm(xs, f=k):
    """median (min–max)"""
    if not xs:
        return "–"
    if len(xs) == 1:
        return f(xs[0])
    return "%s (%s–%s)" % (f(med(xs)), f(min(xs)), f(max(xs)))


def ratio(num, den, key="pps"):
    """num/den per repetition (runs paired by repetition)"""
    d = {r["rep"]: r[key] for r in den}
    return [n[key] / d[n["rep"]] for n in num if d.get(n["rep"])]


def rate_of(rs):
    return rs[0]["rate"].replace("pps", "/s") if rs else "?"


NAME = {"plain": "no GEM (plain multicast forwarding): the ceiling",
        "gem1": "GEM suite 1 (HMAC-SHA-256)", "gem2": "GEM suite 2 (AES-CMAC)",
        "gem3": "GEM suite 3 (Poly1305)", "gem4": "GEM suite 4 (ChaCha20-Poly1305)"}
SHORT = {"plain": "no GEM", "gem1": "GEM suite 1", "gem2": "GEM suite 2", "gem3": "GEM suite 3",
         "gem4": "GEM suite 4"}
out = []
p = out.append
reps, secs = int(E["E2E_REPS"]), E["E2E_SECS_RUN"]

p("### Run")
p("")
p("- Date: %s; source: `%s`; run time of this part: %s s%s" % (
    E["E2E_DATE"], E["E2E_REV"], E["E2E_SECS"],
    " (**QUICK=1 smoke run: not a measurement**)" if E["E2E_QUICK"] == "1" else ""))
p("- Machine: %s; load average before / after: %s / %s (other jobs share these CPUs)" % (
    E["E2E_MACHINE"], E["E2E_LOAD0"], E["E2E_LOAD1"]))
p("- Tools: %s; IPsec: charon with kernel-libipsec, IKEv2 PSK, ESP `aes128gcm16` "
  "(user space: OpenSSL, AES-NI), ESP-in-UDP, TUN `%s` with MTU %s" % (
      E["E2E_TOOLS"], E["E2E_TUN"], E["E2E_TUN_MTU"]))
p("- Commands: `make bench` runs `./bench/e2e.sh` after the per-packet part "
  "(alone: `make all && ./bench/e2e.sh`; smoke run: `QUICK=1 ./bench/e2e.sh`). "
  "%d repetitions of %s s per configuration, interleaved (the order rotates each "
  "repetition); before them, the IPsec ladder: one run at each offered rate of %s "
  "packets/s; after them, IPsec at full rate: %s run(s) per size." % (
      reps, secs, E["E2E_LADDER"].replace(" ", ", "), E["E2E_FULL_REPS"]))
p("- Stream k (k = 0, 1) in hostA: `taskset -c k iperf -c GROUP -B 10.1.0.2:PORT "
  "--no-udp-fin -u -b 10G -l SIZE -T 8 -t %s`; IPsec: `taskset -c 0 iperf -c 10.2.0.2 "
  "-p 5001 -B 10.1.0.2:41000 --no-udp-fin -u -b RATEpps -l SIZE -t %s` (unicast into the "
  "tunnel); receivers in hostB: `iperf -s -u -B GROUP -l 1500`, `iperf -s -u -B 10.2.0.2 "
  "-p 5001 -l 1500`." % (secs, secs))
p("")
p("Columns: **arrived** = UDP datagrams that reached hostB (Udp InDatagrams + "
  "RcvbufErrors in its `/proc/net/snmp`) per second of sending, median over the "
  "repetitions (min–max); **Mbit/s** = their UDP payload; **loss** = sent − arrived, in "
  "the network (routers, queues, the tunnel) / at hostB's socket (RcvbufErrors: arrived, "
  "but the receiving iperf fell behind); **CPU** in %% of one vCPU (the machine has %d "
  "= %d%%), medians: busy = the whole machine, softirq = where forwarding and GEM run "
  "(with the NAPI kthreads' time in the threaded rows), "
  "charon = both charons, other = user time of processes not of this benchmark; "
  "**µs/pkt** = (softirq + charon) CPU time per arrived packet: the cost of one packet "
  "through both routers and the hosts' stacks; **×** = ratios of arrived packets/s formed "
  "within each repetition, median (min–max)." % (NCPU, 100 * NCPU))
p("")


def row(label, rs, plain, sus, peak):
    if not rs:
        return
    cells = [label, mm([r["spps"] for r in rs]), mm([r["pps"] for r in rs]),
             mm([r["mbit"] for r in rs], f0),
             "%s / %s" % (mm([r["loss_net"] for r in rs], f1), mm([r["loss_sock"] for r in rs], f1)),
             " · ".join(f0(med([r[x] for r in rs])) for x in ("busy", "soft", "charon", "other")),
             mm([r["us_pkt"] for r in rs], f1)]
    for base in (plain, sus, peak):
        cells.append(mm(ratio(rs, base), f2) if base and base is not rs else "")
    p("| " + " | ".join(cells) + " |")


verdict = []
for size in (1400, 1352):
    plain = sel("main", "plain", size)
    sus, peak, full = sel("main", "ipsec", size), sel("main", "ipsecpeak", size), sel("full", "ipsec", size)
    p("#### One stream, %d-byte payloads" % size)
    p("")
    p("| path | sent /s | arrived /s | Mbit/s | loss %: network / socket | CPU %: busy · softirq · charon · other | µs/pkt | × ceiling | × IPsec sustained | × IPsec peak |")
    p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    row(NAME["plain"], plain, None, sus, peak)
    for s in (1, 2, 3, 4):
        rs = sel("main", "gem%d" % s, size)
        row(NAME["gem%d" % s], rs, plain, sus, peak)
        cpu = [1.0 / x for x in ratio(rs, sus, "us_pkt")]	# IPsec's CPU per packet / GEM's
        verdict.append((size, "suite %d" % s, ratio(rs, sus), ratio(rs, peak), cpu))
    for s in (1, 2, 3, 4):
        rs = sel("main", "gem%dn" % s, size)
        if not rs:
            continue
        row("GEM suite %d, mcrB's XDP in threaded NAPI on CPU %d: seal and open on two "
            "CPUs" % (s, NCPU - 1), rs, plain, sus, peak)
        cpu = [1.0 / x for x in ratio(rs, sus, "us_pkt")]
        verdict.append((size, "suite %d (threaded NAPI)" % s, ratio(rs, sus), ratio(rs, peak), cpu))
    # how long hostB kept receiving after the sender stopped: the tunnel's queues
    drain = lambda rs: "; hostB receives ≤ %.1f s after the sender stops" % max(
        r["drain"] for r in rs) if rs else ""
    row("IPsec sustained: offered %s, the highest ladder rate with < %s%% loss%s" % (
        rate_of(sus), E["E2E_LOSS_OK"], drain(sus)), sus, plain, None, None)
    row("IPsec peak: offered %s, the ladder rate that delivered most%s" % (
        rate_of(peak), drain(peak)), peak, plain, None, None)
    if full:
        row("IPsec at full rate (`-b 10G`)%s" % drain(full), full, plain, None, None)
    p("")

p("#### Scaling: two streams (two (S,G), sender k pinned to CPU k) vs one, 1400-byte payloads")
p("")
p("| path | 1 stream: arrived /s | 2 streams: arrived /s | 2 / 1 | target | | softirq % 1 → 2 | other % 1 → 2 | µs/pkt 1 → 2 | 2 / 1 per softirq CPU-second |")
p("|---|--:|--:|--:|--:|---|--:|--:|--:|--:|")
scal = []
for cfg in ("plain", "gem1", "gem2", "gem3", "gem4"):
    one, two = sel("main", cfg, 1400, 1), sel("main", cfg, 1400, 2)
    rat = ratio(two, one)
    # packets per softirq CPU-second, two streams over one (1.00: as efficient)
    d = {r["rep"]: r["pps"] / r["soft"] for r in one if r["soft"] > 0}
    eff = [r["pps"] / r["soft"] / d[r["rep"]] for r in two if r["soft"] > 0 and d.get(r["rep"])]
    if cfg != "plain":
        scal.append((cfg, rat, eff))
    p("| %s | %s | %s | %s | ≥ 1.80 | %s | %s → %s | %s → %s | %s → %s | %s |" % (
        SHORT[cfg], mm([r["pps"] for r in one]), mm([r["pps"] for r in two]), mm(rat, f2),
        "met" if rat and med(rat) >= 1.8 else "missed",
        f0(med([r["soft"] for r in one])), f0(med([r["soft"] for r in two])),
        f0(med([r["other"] for r in one])), f0(med([r["other"] for r in two])),
        f1(med([r["us_pkt"] for r in one])), f1(med([r["us_pkt"] for r in two])), mm(eff, f2)))
p("")

p("#### IPsec ladder (one run per offered rate, before the repetitions)")
p("")
p("Per offered rate: delivered to hostB's iperf /s, loss % (sent − delivered), and where "
  "packets were dropped: mcrA's TUN queue (charon does not read fast enough; % of the "
  "packets routed into the TUN, two fragments per 1400-byte datagram), mcrB's ESP socket "
  "(% of ESP-in-UDP packets to charon), hostB's socket (% of sent).")
p("")
p("| offered /s | 1400 B: delivered /s | loss % | TUN · ESP socket · hostB socket | 1352 B: delivered /s | loss % | TUN · ESP socket · hostB socket |")
p("|--:|--:|--:|--:|--:|--:|--:|")
lad = {size: {r["rate"]: r for r in runs if r["phase"] == "ladder" and r["size"] == size}
       for size in (1400, 1352)}
rates = sorted({r for d in lad.values() for r in d}, key=lambda x: int(x.replace("pps", "")))
for rate in rates:
    cells = [rate.replace("pps", "")]
    for size in (1400, 1352):
        r = lad[size].get(rate)
        if r:
            cells += [f0(r["dpps"]), f1(r["loss"]),
                      "%s · %s · %s" % (f1(r["tun_drop"]), f1(r["esp_drop"]), f1(r["loss_sock"]))]
        else:
            cells += ["–", "–", "–"]
    p("| " + " | ".join(cells) + " |")
p("")

p("#### Targets")
p("")
for size, s, rs, rp, cpu in verdict:
    mark = lambda xs: "met" if xs and med(xs) >= 2 else "missed"
    p("- GEM %s ≥ 2× the IPsec tunnel, %d B: %s× IPsec sustained (**%s**), %s× IPsec peak "
      "(**%s**); CPU per packet, IPsec sustained's / GEM's: %s×" % (
          s, size, mm(rs, f2), mark(rs), mm(rp, f2), mark(rp), mm(cpu, f2)))
for cfg, rat, eff in scal:
    p("- 2 streams ≥ 1.8× one, %s: %s×: **%s** (per softirq CPU-second: %s×)" % (
        SHORT[cfg], mm(rat, f2), "met" if rat and med(rat) >= 1.8 else "missed", mm(eff, f2)))
p("")
keys = ["tx_sealed", "tx_mtu", "tx_no_key", "tx_too_big", "tx_error"]
rkeys = ["rx_opened", "rx_bad_tag", "rx_replay", "rx_too_old", "rx_no_key", "rx_error"]
gem = [r for r in runs if r["cfg"].startswith("gem")]
p("Data-plane counters over the whole run: mcrA %s; mcrB %s. GEM datagrams sent by hostA: %d, "
  "lost between mcrA and hostB: %d, of which in the threaded-NAPI runs: %d (there the sender "
  "is not held back by mcrB's XDP and overruns the veth queue: those never reach XDP, hence "
  "tx_sealed − rx_opened = %d)." % (
      ", ".join("%s %d" % (x, stA.get(x, -1)) for x in keys),
      ", ".join("%s %d" % (x, stB.get(x, -1)) for x in rkeys), sum(r["sent"] for r in gem),
      sum(r["sent"] - r["arrived"] for r in gem),
      sum(r["sent"] - r["arrived"] for r in gem if r["cfg"].endswith("n")),
      stA.get("tx_sealed", 0) - stB.get("rx_opened", 0)))
if stA.get("tx_sealed", 0) < sum(r["sent"] for r in gem) or any(
        stA.get(x, 0) for x in keys[1:]) or any(stB.get(x, 0) for x in rkeys[1:]):
    p("")
    p("**Warning: GEM did not seal every datagram of its streams, or a drop counter moved: "
      "the GEM rows above are not to be trusted.**")
print("\n".join(out))
PYEOF
	gem_die "tables: python failed"

{
	echo "$BEGIN"
	echo "<!-- generated by bench/e2e.sh; edits inside these markers are overwritten -->"
	echo
	cat "$T/section.md"
	echo
	echo "$END"
} >"$T/section.full"
cat "$T/section.full"
if [ "${QUICK:-0}" = 1 ]; then
	log "QUICK=1: $DOC not updated"
	exit 0
fi
if [ -f "$DOC" ] && grep -qF "$BEGIN" "$DOC" && grep -qF "$END" "$DOC"; then
	awk -v b="$BEGIN" -v e="$END" -v sec="$T/section.full" '
		$0 == b { while ((getline l < sec) > 0) print l; skip = 1; next }
		$0 == e { skip = 0; next }
		!skip' "$DOC" >"$T/doc"
else
	{ [ -f "$DOC" ] && cat "$DOC" && echo; echo "## End-to-end throughput"; echo; cat "$T/section.full"; } >"$T/doc"
fi
cat "$T/doc" >"$DOC"
log "wrote the end-to-end section of $DOC"
