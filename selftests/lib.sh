# shellcheck shell=bash
# Shared helpers for GEM's network-namespace selftests.  Source it from a test:
#
#   . "$(dirname "$0")/lib.sh"
#   gem_init e2e                  # root/tools checks, $T, random namespace prefix, EXIT trap
#   gem_ns_add mcrA ...           # namespaces "$GEM_NSP-mcrA", ...
#   gem_link mcrA wan0 wan pA     # veth pair, checksum offload off
#   nsx mcrA ip addr ...          # run in a namespace
#   gem_bg mcrA NAME cmd ...      # background process, killed at teardown
#
# Everything a test creates through these helpers (namespaces, background
# processes, the private bpffs mount, $T) is removed by gem_teardown, which
# gem_init installs as the EXIT trap; INT/TERM/HUP exit through it too.  A
# test that needs more teardown registers it with gem_on_exit (run first,
# last registered first).
#
# Exit codes: 0 pass, 77 skip (missing prerequisite), 1 fail.

GEM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GEM_LOAD=${GEM_LOAD:-$GEM_ROOT/build/gem-load}
GEMCTL=${GEMCTL:-$GEM_ROOT/build/gemctl}
# Multicast routing in the test networks: smcrouted where the kernel routes
# multicast; where it was built without (CONFIG_IP_MROUTE unset: no
# /proc/net/ip_mr_vif, smcrouted says "Kernel does not even support IGMP"),
# gem-mfwd (selftests/mfwd.c), which takes smcrouted's command line and
# routes file and forwards with a BPF program at tcx ingress.
GEM_MFWD=${GEM_MFWD:-$GEM_ROOT/build/selftests/gem-mfwd}
if [ -e /proc/net/ip_mr_vif ]; then GEM_MROUTER=smcrouted; else GEM_MROUTER=$GEM_MFWD; fi

T=""			# private scratch directory of this run
GEM_NSP=""		# random prefix of every namespace name
GEM_BPFFS=""		# private bpffs mount point (gem_bpffs_mount)
GEM_NS=()		# namespaces created
GEM_PIDS=()		# background processes started (gem_bg)
GEM_EXIT_CMDS=()	# extra teardown commands (gem_on_exit)
GEM_FAILED=0
GEM_CHECKS=0
GEM_SIGNAL=0
GEM_OUT=1		# fd of the test's stdout (gem_init)

gem_skip() { echo "SKIP: $*"; exit 77; }
gem_die() { echo "FAIL: $*"; GEM_FAILED=$((GEM_FAILED + 1)); exit 1; }

# check DESCRIPTION CMD...: run CMD, print ok/FAIL, count failures (never exits)
check() {
	local what=$1
	shift
	GEM_CHECKS=$((GEM_CHECKS + 1))
	if "$@"; then
		echo "  ok   $what"
	else
		echo "  FAIL $what"
		GEM_FAILED=$((GEM_FAILED + 1))
	fi
}

# check_eq DESCRIPTION GOT WANT
check_eq() {
	GEM_CHECKS=$((GEM_CHECKS + 1))
	if [ "$2" = "$3" ]; then
		echo "  ok   $1 ($2)"
	else
		echo "  FAIL $1: got '$2', want '$3'"
		GEM_FAILED=$((GEM_FAILED + 1))
	fi
}

gem_init() {
	local name=$1 t
	shift
	[ "$(id -u)" = 0 ] || gem_skip "needs root (namespaces, BPF)"
	for t in ip ethtool python3 ps "$@"; do
		command -v "$t" >/dev/null || gem_skip "$t not installed"
	done
	if [ ! -x "$GEM_LOAD" ] || [ ! -x "$GEMCTL" ]; then
		gem_skip "$GEM_LOAD / $GEMCTL not built (make all)"
	fi
	T=$(mktemp -d "/tmp/gem-$name.XXXXXX") || exit 1
	GEM_NSP="gemt-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
	# teardown reports on the test's own stdout even when the signal lands
	# inside a redirected command
	exec {GEM_OUT}>&1
	trap gem_teardown EXIT
	trap 'GEM_SIGNAL=1; exit 1' INT TERM HUP
}

gem_on_exit() { GEM_EXIT_CMDS+=("$*"); }

# The full name of namespace NAME.
gem_nsname() { echo "$GEM_NSP-$1"; }

# nsx NAME CMD...: run CMD in namespace NAME.
nsx() {
	local ns=$1
	shift
	ip netns exec "$GEM_NSP-$ns" "$@"
}

# gem_ns_add NAME...: create namespaces with lo up, IPv6 DAD off and no
# router solicitations (quiet links).
gem_ns_add() {
	local n
	for n in "$@"; do
		ip netns add "$GEM_NSP-$n" || gem_die "ip netns add $GEM_NSP-$n"
		GEM_NS+=("$GEM_NSP-$n")
		nsx "$n" ip link set lo up
		nsx "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.all.router_solicitations=0
	done
}

# gem_link NS1 IF1 NS2 IF2: a veth pair between two namespaces, both ends up,
# checksum offload off (veth otherwise hands over packets with unfinished
# checksums, CHECKSUM_PARTIAL, and the wire never shows real ones).
gem_link() {
	ip link add "$2" netns "$GEM_NSP-$1" type veth peer name "$4" netns "$GEM_NSP-$3" ||
		gem_die "veth $1:$2 -- $3:$4"
	nsx "$1" ethtool -K "$2" tx off rx off >/dev/null 2>&1 || gem_die "ethtool -K $1:$2"
	nsx "$3" ethtool -K "$4" tx off rx off >/dev/null 2>&1 || gem_die "ethtool -K $3:$4"
	nsx "$1" ip link set "$2" up
	nsx "$3" ip link set "$4" up
}

# gem_addr NS IF ADDR/LEN: an address; IPv6 without DAD.
gem_addr() {
	case "$3" in
	*:*) nsx "$1" ip -6 addr add "$3" dev "$2" nodad ;;
	*) nsx "$1" ip addr add "$3" dev "$2" ;;
	esac || gem_die "address $3 on $1:$2"
}

# gem_bg NS LABEL CMD...: start CMD in namespace NS in the background, output
# in $T/LABEL.log; its pid is in $T/LABEL.pid and GEM_PIDS.  `ip netns exec`
# execs CMD, so the pid is CMD's own.
gem_bg() {
	local ns=$1 label=$2
	shift 2
	ip netns exec "$GEM_NSP-$ns" "$@" >"$T/$label.log" 2>&1 &
	GEM_PIDS+=("$!")
	echo "$!" >"$T/$label.pid"
}

# gem_pid LABEL: pid of a gem_bg process.
gem_pid() { cat "$T/$1.pid"; }

# gem_alive PID: PID runs (not a zombie) and is a child of this test.  bash
# reaps finished background children by itself, so a recorded pid may already
# belong to someone else: never signal one without this check.
gem_alive() {
	local ppid stat
	read -r ppid stat < <(ps -o ppid=,stat= -p "$1" 2>/dev/null) || return 1
	[ "$ppid" = "$$" ] && [ "${stat#Z}" = "$stat" ]
}

# gem_stop LABEL [SIGNAL]: signal a gem_bg process (TERM by default) and wait
# up to 3 s for it, then SIGKILL it.  Returns its exit status.
gem_stop() {
	local pid i
	pid=$(gem_pid "$1")
	gem_alive "$pid" && kill "-${2:-TERM}" "$pid" 2>/dev/null
	for i in $(seq 60); do
		gem_alive "$pid" || break
		sleep 0.05
	done
	gem_alive "$pid" && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# gem_wait PID TIMEOUT_S: wait for a gem_bg process to exit by itself; SIGKILL
# it after TIMEOUT_S (whole seconds).  Returns its exit status (137 if killed).
gem_wait() {
	local pid=$1 n=$(($2 * 20))
	while [ $n -gt 0 ] && gem_alive "$pid"; do
		sleep 0.05
		n=$((n - 1))
	done
	gem_alive "$pid" && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# gem_wait_for TIMEOUT_S CMD...: poll CMD every 50 ms until it succeeds.
gem_wait_for() {
	local n=$(($1 * 20))
	shift
	while [ $n -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

# gem_bpffs_mount: a private bpffs at $T/bpf (a bpffs under /sys is not
# shared between `ip netns exec` invocations: each remounts /sys).  Give each
# node its own --pin-dir "$GEM_BPFFS/NODE".
gem_bpffs_mount() {
	mkdir -p "$T/bpf" || gem_die "mkdir $T/bpf"
	mount -t bpf bpf "$T/bpf" || gem_die "mount -t bpf $T/bpf"
	GEM_BPFFS=$T/bpf
}

# gemctl_in NS ARGS...: gemctl in NS on its data plane, pinned under the
# private bpffs (gem_bpffs_mount) at $GEM_BPFFS/NS.
gemctl_in() { local n=$1; shift; nsx "$n" "$GEMCTL" --pin-dir "$GEM_BPFFS/$n" "$@"; }

# gem_mroute_wait NS FAMILY(4|6) SOURCE GROUP: wait until the kernel has the
# (S,G) multicast route (smcrouted installs it some time after it starts;
# gem-mfwd lists its routes once it forwards them).
gem_mroute_has() {
	local v=-4
	[ "$2" = 6 ] && v=-6
	if [ "$GEM_MROUTER" = smcrouted ]; then
		nsx "$1" ip "$v" mroute show | grep -qF "($3,$4) "
	else
		nsx "$1" "$GEM_MFWD" --show | grep -qF "($3,$4) "
	fi
}
gem_mroute_wait() { gem_wait_for 10 gem_mroute_has "$@"; }

# gem_mc6_ready NS IF...: the `multicast ff00::/8` local route exists on every
# IF (until then IPv6 multicast through a router is dropped, Ip6InNoRoutes).
gem_mc6_ready() {
	local ns=$1 out i
	shift
	out=$(nsx "$ns" ip -6 route show table local)
	for i in "$@"; do
		grep -q "^multicast ff00::/8 dev $i " <<<"$out" || return 1
	done
}

gem_teardown() {
	local rc=$? i pid ns left
	trap - EXIT INT TERM HUP
	exec >&"$GEM_OUT" 2>&1
	[ "$GEM_SIGNAL" = 1 ] && echo "interrupted: tearing down"
	for ((i = ${#GEM_EXIT_CMDS[@]} - 1; i >= 0; i--)); do
		eval "${GEM_EXIT_CMDS[$i]}" >/dev/null 2>&1
	done
	# our processes: TERM, then KILL whatever lingers
	for pid in "${GEM_PIDS[@]}"; do
		gem_alive "$pid" && kill -TERM "$pid" 2>/dev/null
	done
	for i in $(seq 20); do
		left=0
		for pid in "${GEM_PIDS[@]}"; do
			gem_alive "$pid" && left=1
		done
		[ $left = 0 ] && break
		sleep 0.05
	done
	for pid in "${GEM_PIDS[@]}"; do
		gem_alive "$pid" && kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	# anything else still running inside our namespaces was started by us too
	for ns in "${GEM_NS[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
	done
	for ns in "${GEM_NS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [ -n "$GEM_BPFFS" ]; then
		# the pins vanish with the bpffs instance; retry while a dying process holds it
		for i in $(seq 20); do
			mountpoint -q "$GEM_BPFFS" || break
			umount "$GEM_BPFFS" 2>/dev/null && break
			sleep 0.1
		done
		mountpoint -q "$GEM_BPFFS" && { echo "teardown: cannot unmount $GEM_BPFFS"; rc=1; }
	fi
	for ns in "${GEM_NS[@]}"; do
		[ -e "/run/netns/$ns" ] && { echo "teardown: namespace $ns is left"; rc=1; }
	done
	[ -n "$T" ] && rm -rf "$T"
	exit $rc
}

# gem_stamp_put PIN_DIR [VERSION LAYOUT]: write the version stamp gem-load
# writes (bpf/gem_common.h struct gem_stamp) into PIN_DIR/gem_stamp, by
# default this build's (from gem-load --version): for objects pinned by
# other means (bpftool) and for tests of stamp mismatches.
gem_stamp_put() {
	local dir=$1 v=${2:-} l=${3:-} hex
	if [ -z "$v" ]; then
		read -r _ _ v _ _ l < <("$GEM_LOAD" --version) || return 1
		v=${v%,}
	fi
	hex=$(python3 -c 'import struct,sys
v=sys.argv[1].encode()
b=struct.pack("<II", 0x474d5354, int(sys.argv[2], 16)) + v + bytes(56 - len(v))
print(" ".join("%02x" % x for x in b))' "$v" "$l") || return 1
	# shellcheck disable=SC2086 # one word per byte
	bpftool map update pinned "$dir/gem_stamp" key 0 0 0 0 value hex $hex
}

