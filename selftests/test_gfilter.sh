#!/bin/bash
# The data plane's group filter (gem_gfilter, docs/PERFORMANCE.md; issue 16)
# as gem-load and gemctl keep it: pinned next to gem_groups, one count per
# protected group in its bucket (computed here from the address), `gemctl
# group del` takes it out again; real packets through the attached TC
# program are sealed for a protected group and pass for another; pinned
# groups without their filter are refused at attach (an empty filter next
# to them would let their traffic out in clear).
#
#   r --veth-- h        r: gem-load attached, sends UDP to 239.1.1.1 and 239.9.9.9
#
# Exit 0: pass, 77: skip (missing prerequisite), anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh

PY3=/usr/bin/python3
[ -x "$PY3" ] || PY3=python3
gem_init gfilter jq bpftool
START=$SECONDS
gem_ns_add r h
gem_link r wan h wan
gem_bpffs_mount
P=$GEM_BPFFS/r
ctl() { nsx r "$GEMCTL" --pin-dir "$P" "$@"; }
load() { nsx r "$GEM_LOAD" --pin-dir "$P" "$@"; }
head -c 32 /dev/urandom >"$T/gak"
head -c 16 /dev/urandom >"$T/sek"

# counts: "BUCKET:COUNT ..." for every non-zero bucket of the pinned filter
counts() {
	bpftool -j map dump pinned "$P/gem_gfilter" >"$T/gf.json" || return 1
	"$PY3" - "$T/gf.json" <<'EOF'
import json, struct, sys
d = json.load(open(sys.argv[1]))
assert len(d) == 1, d
v = d[0]["value"]
b = bytes(int(x, 16) for x in v) if isinstance(v, list) else None
n = struct.unpack("<4096I", b)
print(" ".join("%d:%d" % (i, c) for i, c in enumerate(n) if c))
EOF
}
# bucket GROUP: the bucket docs/PERFORMANCE.md and gem_common.h specify
bucket() {
	"$PY3" - "$1" <<'EOF'
import ipaddress, struct, sys
a = ipaddress.ip_address(sys.argv[1])
b = (b"\0" * 10 + b"\xff\xff" + a.packed) if a.version == 4 else a.packed
x = 0
for w in struct.unpack("<4I", b):
    x ^= w
print(((x * 0x9e3779b1) & 0xffffffff) >> 20)
EOF
}
stat() { ctl -j stats | jq ".$1"; }
send() {	# send GROUP N: N datagrams from r
	nsx r "$PY3" -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 4)
for i in range(int(sys.argv[2])):
    s.sendto(b"x" * 100, (sys.argv[1], 5000))' "$1" "$2"
}

nsx r ip addr add 10.0.0.1/24 dev wan
nsx r ip route add 224.0.0.0/4 dev wan
if ! load attach wan --xdp-mode generic >"$T/attach.log" 2>&1; then
	grep -q "lacks the BPF crypto kfuncs" "$T/attach.log" && gem_skip "$(cat "$T/attach.log")"
	gem_die "gem-load attach: $(cat "$T/attach.log")"
fi
check "gem_gfilter is pinned" test -e "$P/gem_gfilter"
check_eq "a fresh data plane: every bucket 0" "$(counts)" ""

b1=$(bucket 239.1.1.1) b6=$(bucket ff3e::1:1)
ctl group add 239.1.1.1 --suite hmac-sha256 --key-file "$T/gak" >/dev/null ||
	gem_die "group add 239.1.1.1"
check_eq "group add 239.1.1.1: its bucket counts 1" "$(counts)" "$b1:1"
ctl group add 239.1.1.1 --suite hmac-sha256 --key-file "$T/gak" >/dev/null ||
	gem_die "group add 239.1.1.1 again"
check_eq "... added again (an update): still 1" "$(counts)" "$b1:1"
ctl group add ff3e::1:1 --suite poly1305 --key-file "$T/gak" >/dev/null ||
	gem_die "group add ff3e::1:1"
want=$(printf '%s\n' "$b1:1" "$b6:1" | sort -n | tr '\n' ' ' | sed 's/ $//')
[ "$b1" = "$b6" ] && want="$b1:2"
check_eq "group add ff3e::1:1: two buckets" "$(counts)" "$want"
ctl group del ff3e::1:1 >/dev/null || gem_die "group del ff3e::1:1"
check_eq "group del ff3e::1:1: back to one" "$(counts)" "$b1:1"
check "group del ff3e::1:1 again: refused (not protected)" \
	bash -c '! "$@" >/dev/null 2>&1' _ nsx r "$GEMCTL" --pin-dir "$P" group del ff3e::1:1
check_eq "... and nothing changed" "$(counts)" "$b1:1"

ctl sek set 10.0.0.1 239.1.1.1 --key-id 1 --key-file "$T/sek" --dir tx >/dev/null ||
	gem_die "sek set"
s0=$(stat tx_sealed) p0=$(stat tx_pass)
send 239.1.1.1 5
send 239.9.9.9 7
check_eq "5 datagrams to the protected group sealed" "$(( $(stat tx_sealed) - s0 ))" 5
check "7 to 239.9.9.9 passed (tx_pass, with whatever else r sent)" \
	test "$(( $(stat tx_pass) - p0 ))" -ge 7
ctl group del 239.1.1.1 >/dev/null || gem_die "group del 239.1.1.1"
check_eq "group del 239.1.1.1: every bucket 0" "$(counts)" ""
s0=$(stat tx_sealed)
send 239.1.1.1 3
check_eq "... its traffic is no longer sealed" "$(( $(stat tx_sealed) - s0 ))" 0

echo "--- pinned groups without their filter"
ctl group add 239.1.1.1 --suite hmac-sha256 --key-file "$T/gak" >/dev/null ||
	gem_die "group add 239.1.1.1"
load detach wan >/dev/null || gem_die "detach"
rm -f "$P/prog_egress" "$P/prog_ingress" "$P/prog_ctl" "$P/gem_gfilter"
load attach wan --xdp-mode generic >"$T/attach2.log" 2>&1
check_eq "attach with gem_groups but no gem_gfilter pinned: refused" "$?" 1
check "... saying why" grep -q "gem_groups pinned without gem_gfilter" "$T/attach2.log"
check "... and no empty filter was pinned" test ! -e "$P/gem_gfilter"
check "... nor programs" test ! -e "$P/prog_egress"
check "unload still cleans up" load unload
check "... the pin dir is gone" test ! -e "$P"

echo "gfilter: $GEM_CHECKS checks, $GEM_FAILED failed, $((SECONDS - START)) s"
[ "$GEM_FAILED" = 0 ]
