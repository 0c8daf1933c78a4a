#!/bin/bash
# gemd reloads its configuration on SIGHUP (docs/CONTROL.md 2.1), real
# gemd/charon/babeld/SoftHSM:
#
#   c --- a --- b        a's configuration first lists only e-b; c is linked
#                        but not in it.  a, b: data planes (gem-load), the GAK
#                        of 239.3.3.1 and 239.3.3.2 in both tokens.
#
# 1. a gets e-c, group 239.3.3.2 with a declared stream, a new sek_lifetime:
#    SIGHUP applies all of it (the log names each key): the tunnel to b is
#    the same charon as before, the tunnel to c comes up, the new group is in
#    a's data plane and its stream keyed; b, reloaded with the group too,
#    loads that SEK from the record it had relayed so far.
# 2. A change that needs a restart (tunnel port_base) together with a group
#    change: refused as a whole, the group not applied, gemd runs on.
# 3. A file that does not parse: refused with gemd --check-config's message.
# 4. e-c removed again: its tunnel torn down, the one to b untouched.
#
# Exit 0: pass, 77: skip (missing prerequisite), anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/cp_lib.sh

cp_init cp-reload
G1=239.3.3.1 G2=239.3.3.2 SRC=10.255.0.1
cp_node a 1
cp_node b 2
cp_node c 3
cp_link a b
cp_link a c
head -c 32 /dev/urandom >"$T/gak1"
head -c 32 /dev/urandom >"$T/gak2"
gem_bpffs_mount
for n in a b; do
	cp_keys "$n" import gak "$G1" "$T/gak1" >/dev/null || gem_die "import gak ($n)"
	cp_keys "$n" import gak "$G2" "$T/gak2" >/dev/null || gem_die "import gak ($n)"
	mkdir -p "$GEM_BPFFS/$n"
done
nsx a "$GEM_LOAD" --pin-dir "$GEM_BPFFS/a" attach e-b >/dev/null 2>&1 || gem_die "attach a"
nsx b "$GEM_LOAD" --pin-dir "$GEM_BPFFS/b" attach e-a >/dev/null 2>&1 || gem_die "attach b"
# a's configuration: discovery on e-b only at first
echo e-b >"$T/a/ifaces"
groups() { printf '[groups]\n'; for x in "$@"; do printf '%s\n' "$x"; done;
	printf '[node]\npin_dir = %s\n' "$GEM_BPFFS/$N"; }
eval "$(declare -f cp_conf | sed '1s/^cp_conf/cp_conf_base/')"
cp_conf() { cp_conf_base "$1" "$(cat "$T/$1/extra")"; }
N=a groups "group = $G1" >"$T/a/extra"
N=b groups "group = $G1" >"$T/b/extra"
N=c groups "group = $G1" | head -2 >"$T/c/extra"
for n in a b c; do cp_start "$n"; done
gem_wait_for 90 cp_established a 1 || gem_die "a-b tunnel not up: $(cp_peers a)"
gem_wait_for 60 cp_established c 0 || true
tunnel_pid() { # NODE PEER: charon pid of NODE's tunnel to PEER
	cp_peers "$1" | jq -r --arg id "$(cp_id "$2")" '.peers[] | select(.node_id == $id) | .pid'
}
PID_AB=$(tunnel_pid a b)
check "a's tunnel to b has a charon" [ -n "$PID_AB" ] && [ "$PID_AB" != null ]
check "a has no tunnel to c (e-c not configured)" \
	bash -c "[ -z \"\$($GEMCTL -j peers --socket $T/a/run/gemd.sock | jq -r --arg id $(cp_id c) '.peers[] | select(.node_id == \$id) | .node_id')\" ]"
quiet() { "$@" >/dev/null 2>&1; }
not() { ! "$@"; }
hup() { kill -HUP "$(cp_gemd_pid "$1")"; }
log_has() { grep -q "$2" "$T/$1/gemd.log"; }
group_in_dp() { nsx "$1" "$GEMCTL" --pin-dir "$GEM_BPFFS/$1" -j group list | jq -e --arg g "$2" \
	'any(.groups[]; .group == $g)' >/dev/null; }
stream_in_dp() { # NODE DIR GROUP: a key for (SRC, GROUP) in NODE's data plane
	nsx "$1" "$GEMCTL" --pin-dir "$GEM_BPFFS/$1" -j stream list | jq -e --arg d "$2" \
		--arg g "$3" --arg s "$SRC" 'any(.streams[]; .dir == $d and .group == $g and
		.source == $s and .key_id != null)' >/dev/null
}

echo "--- 1. interfaces, a group, a stream, a lifetime: applied"
cp_conf_base a "$(N=a groups "group = $G1" "group = $G2" "stream = $SRC $G2" "sek_lifetime = 900")"
printf 'e-b\ne-c\n' >"$T/a/ifaces"
cp_conf_base a "$(N=a groups "group = $G1" "group = $G2" "stream = $SRC $G2" "sek_lifetime = 900")"
check "the new file passes gemd --check-config" \
	bash -c "'$GEMD' -c '$T/a/gemd.conf' --check-config | grep -q 'configuration ok'"
hup a
check "a logs what it applied" gem_wait_for 5 log_has a \
	"SIGHUP: .*: applied discovery.interfaces, groups.group, groups.stream, groups.sek_lifetime"
check "a comes up with c" gem_wait_for 60 cp_established a 2
check_eq "a's tunnel to b: the same charon" "$(tunnel_pid a b)" "$PID_AB"
check "a: group $G2 in the data plane" gem_wait_for 10 group_in_dp a "$G2"
check "a: the declared stream ($SRC, $G2) keyed for egress" gem_wait_for 10 stream_in_dp a tx "$G2"
sleep 2
check "b relays a's announce but loads nothing (not configured)" not stream_in_dp b rx "$G2"
cp_conf_base b "$(N=b groups "group = $G1" "group = $G2")"
hup b
check "b: reloaded with $G2, it loads the SEK it held as a relay" \
	gem_wait_for 10 stream_in_dp b rx "$G2"
check "b logs it" log_has b "SIGHUP: .*: applied groups.group"

echo "--- 2. a restart-only change with a group change: refused as a whole"
G3=239.3.3.3
cp_conf_base a "$(N=a groups "group = $G1" "group = $G2" "group = $G3" "stream = $SRC $G2" "sek_lifetime = 900")"
sed -i "s/^port_base = .*/port_base = 7100/" "$T/a/gemd.conf"
hup a
check "a refuses: tunnel.port_base needs a restart, nothing applied" gem_wait_for 5 log_has a \
	"SIGHUP: .*: tunnel.port_base changed: needs a restart of gemd; nothing applied (not even groups.group)"
sleep 1
check "a: $G3 not applied (not in the data plane)" not group_in_dp a "$G3"
check_eq "a's tunnel to b: still the same charon" "$(tunnel_pid a b)" "$PID_AB"

echo "--- 3. a file that does not parse: refused"
printf '[groups]\nsek_lifetime = soon\n' >>"$T/a/gemd.conf"
"$GEMD" -c "$T/a/gemd.conf" --check-config >/dev/null 2>"$T/check.err"
check_eq "gemd --check-config refuses it" "$?" 1
hup a
check "a logs the same reason and keeps its configuration" gem_wait_for 5 log_has a \
	"SIGHUP: $(sed 's/^gemd: //; s/[][]/./g' "$T/check.err"); configuration unchanged"
check "a is still running (the same gemd)" quiet cp_gemd_pid a

echo "--- 4. e-c removed: its tunnel down, b's untouched"
echo e-b >"$T/a/ifaces"
cp_conf_base a "$(N=a groups "group = $G1" "group = $G2" "stream = $SRC $G2" "sek_lifetime = 900")"
hup a
check "a logs it" gem_wait_for 5 log_has a "SIGHUP: .*: applied discovery.interfaces$"
check "a's neighbour c: torn down" gem_wait_for 10 cp_established a 1
check "a logs why" log_has a "on e-c: the interface left the configuration: tunnel torn down"
check_eq "a's tunnel to b: still the same charon" "$(tunnel_pid a b)" "$PID_AB"
check "gemd never restarted on a" bash -c "! grep -q 'supervisor: gemd exited' '$T/a/gemd.log'"

cp_stop_all
echo "cp-reload: $GEM_CHECKS checks, $GEM_FAILED failed"
[ "$GEM_FAILED" = 0 ]
