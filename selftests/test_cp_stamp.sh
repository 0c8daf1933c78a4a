#!/bin/bash
# gemd and the data plane's version stamp (gem_stamp; issue 18): pinned maps
# of another map layout are never written (an error in the log, the group
# not loaded, control-stats says no data plane) and gemd keeps retrying; once
# the stamp is of this layout (another version: a warning) gemd takes the
# data plane and loads the group.  One node, one link, no neighbour.
#
# Exit 0: pass, 77: skip, anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/cp_lib.sh

cp_init cp_stamp bpftool
START=$SECONDS
GRP=239.1.1.1
cstats() { "$GEMCTL" -j control-stats --socket "$T/$1/run/gemd.sock" 2>/dev/null; }
log_has() { grep -q -- "$1" "$T/a/gemd.log"; }
groups_pinned() { bpftool -j map dump pinned "$GEM_BPFFS/a/gem_groups" | jq length; }

cp_node a 1
gem_ns_add x
mkdir -p "$T/x"
cp_link a x
gem_bpffs_mount
if ! nsx a "$GEM_LOAD" --pin-dir "$GEM_BPFFS/a" attach e-x --xdp-mode generic \
	>"$T/attach.log" 2>&1; then
	grep -q "lacks the BPF crypto kfuncs" "$T/attach.log" && gem_skip "$(cat "$T/attach.log")"
	gem_die "gem-load attach: $(cat "$T/attach.log")"
fi
layout=$("$GEM_LOAD" --version | sed -n 's/.*map layout \([0-9a-f]\{8\}\)$/\1/p')
other=$(printf '%08x' $(( (16#$layout + 1) % (1 << 32) )))
# stamp VERSION LAYOUT: overwrite the pinned stamp (bpftool, key 0)
stamp() {
	local hex
	hex=$(python3 -c 'import struct,sys
v=sys.argv[1].encode()
b=struct.pack("<II", 0x474d5354, int(sys.argv[2], 16)) + v + bytes(56 - len(v))
print(" ".join("%02x" % x for x in b))' "$1" "$2")
	# shellcheck disable=SC2086 # one word per byte
	bpftool map update pinned "$GEM_BPFFS/a/gem_stamp" key 0 0 0 0 value hex $hex ||
		gem_die "bpftool map update gem_stamp"
}
stamp v0.0-other "$other"

"$GEMCTL" keys gen-secret "$T/gak" >/dev/null || gem_die "gen-secret"
cp_keys a import gak "$GRP" "$T/gak" >/dev/null || gem_die "import gak"
printf '[groups]\ngroup = %s\n[node]\npin_dir = %s\n' "$GRP" "$GEM_BPFFS/a" >"$T/a/extra.conf"
cp_start a

check "another map layout: gemd logs an error naming both layouts" \
	gem_wait_for 20 log_has "error: control: .* was pinned by GEM v0.0-other (map layout $other).*(map layout $layout): the maps do not match"
check_eq "... control-stats: no data plane" "$(cstats a | jq .data_plane)" false
sleep 2.5	# a retry or more
check_eq "... and after a retry still nothing loaded into the maps" "$(groups_pinned)" 0
check_eq "... the error logged once, not per retry" \
	"$(grep -c 'the maps do not match' "$T/a/gemd.log")" 1

stamp v0.0-other "$layout"
check "same layout, other version: gemd takes the data plane within a retry (2 s)" \
	gem_wait_for 5 log_has "control: group $GRP loaded into the data plane"
check "... with a warning naming both versions" \
	log_has "warning: control: .* was pinned by GEM v0.0-other, this is GEM .* (same map layout: going on)"
check_eq "... control-stats: data plane there" "$(cstats a | jq .data_plane)" true
check_eq "... the group is in the pinned map" "$(groups_pinned)" 1

check "gemd stops cleanly" cp_stop a
echo "cp_stamp: $GEM_CHECKS checks, $GEM_FAILED failed, $((SECONDS - START)) s"
[ "$GEM_FAILED" = 0 ]
