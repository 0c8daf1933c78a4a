#!/bin/bash
# --version of gem-load, gemctl and gemd, and the version stamp in the pinned
# state (gem_stamp, bpf/gem_common.h; issue 18): what gem-load pins is read
# back with bpftool (an independent reader of the map through its BTF); a
# stamp of another version with the same map layout is a warning (on stderr:
# -j output stays JSON), another layout or no stamp is refused by gemctl and
# gem-load attach, while detach and unload still work (the way back).
#
# Exit 0: pass, 77: skip, anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh
GEMD=${GEMD:-$GEM_ROOT/build/gemd}

gem_init version bpftool jq
[ -x "$GEMD" ] || gem_skip "$GEMD not built (make all)"
START=$SECONDS
quiet() { "$@" >/dev/null 2>>"$T/quiet.err"; }
jqt() { jq -e "$@" >/dev/null; }

want=$(./scripts/version.sh)
layout=$("$GEM_LOAD" --version | sed -n 's/.*map layout \([0-9a-f]\{8\}\)$/\1/p')
for t in "$GEM_LOAD:gem-load" "$GEMCTL:gemctl" "$GEMD:gemd"; do
	check_eq "${t#*:} --version" "$("${t%%:*}" --version)" \
		"${t#*:} (GEM) $want, map layout $layout"
done
# (the Makefile's recipe; a root with the installed package has no gcc)
if command -v gcc >/dev/null; then
	check_eq "map layout: sha256 of bpf/gem_common.h without comments" "$layout" \
		"$(gcc -fpreprocessed -dD -E -P bpf/gem_common.h | tr -s ' \t\n' ' ' | sha256sum |
		   cut -c1-8)"
else
	check "map layout: 8 hex digits ($layout; no gcc here to recompute it)" \
		test ${#layout} = 8
fi

gem_ns_add a b
gem_link a wan0 b wan0
gem_link a wan1 b wan1
gem_bpffs_mount
P=$GEM_BPFFS/a
gl() { nsx a "$GEM_LOAD" --pin-dir "$P" "$@"; }
gc() { nsx a "$GEMCTL" --pin-dir "$P" "$@"; }
if ! gl attach wan0 --xdp-mode generic >"$T/attach.log" 2>&1; then
	grep -q "lacks the BPF crypto kfuncs" "$T/attach.log" && gem_skip "$(cat "$T/attach.log")"
	gem_die "gem-load attach: $(cat "$T/attach.log")"
fi

# shellcheck disable=SC2016 # jq variables
check "bpftool reads the stamp gem-load wrote: magic, layout, version" \
	jqt --arg v "$want" --argjson l "$((16#$layout))" \
	'.[0].formatted.value | .magic == 1196249940 and .layout == $l and .version == $v' \
	<(bpftool -j map dump pinned "$P/gem_stamp")
# shellcheck disable=SC2016
check "gem-load status -j: version, pinned_version, layout_matches" \
	jqt --arg v "$want" '.version == $v and .pinned_version == $v and .layout_matches' \
	<(gl status -j)

# stamp VERSION LAYOUT: overwrite the pinned stamp (bpftool, key 0)
stamp() { gem_stamp_put "$P" "$1" "$2" || gem_die "bpftool map update gem_stamp"; }

stamp v0.0-other "$layout"
gc -j stats >"$T/stats.json" 2>"$T/stats.err"
check_eq "same layout, other version: gemctl -j stats works" "$?" 0
check "... its stdout is JSON only" jqt '.rx_opened >= 0' "$T/stats.json"
check "... and stderr warns: pinned by GEM v0.0-other, this is GEM $want" \
	grep -q "warning: $P was pinned by GEM v0.0-other, this is GEM $want (same map layout" \
	"$T/stats.err"
check "... gem-load attach of another interface works, with the warning" \
	bash -c "ip netns exec $(gem_nsname a) $GEM_LOAD --pin-dir $P attach wan1 --xdp-mode generic \
		2>&1 | grep -q 'warning: .*pinned by GEM v0.0-other'"
check_eq "... status -j: pinned_version" "$(gl status -j | jq -r .pinned_version)" v0.0-other

other=$(printf '%08x' $(( (16#$layout + 1) % (1 << 32) )))
stamp v0.0-other "$other"
out=$(gc -j stats 2>/dev/null)
check_eq "another layout: gemctl stats refused (exit 1)" "$?" 1
check "... with a JSON error naming both layouts and what to do" jqt --arg o "$other" \
	--arg l "$layout" '.error | test("map layout " + $o) and test("map layout " + $l) and
		test("gem-load unload")' <<<"$out"
check "... gemctl group add refused too (no write into the maps)" \
	bash -c "! ip netns exec $(gem_nsname a) $GEMCTL --pin-dir $P group add 239.1.1.1 \
		--suite poly1305 2>/dev/null"
check_eq "... no group was added" "$(bpftool -j map dump pinned "$P/gem_groups" | jq length)" 0
check "... gem-load attach refused" bash -c "! ip netns exec $(gem_nsname a) $GEM_LOAD \
	--pin-dir $P attach wan0 --xdp-mode generic 2>/dev/null"
check "... gem-load status -j: layout_matches false, pinned_version null" \
	jqt '.layout_matches == false and .pinned_version == null' <(gl status -j)

stamp 'v1"}, {"x' "$layout"
out=$(gc -j stats 2>/dev/null)
check_eq "a version with a quote (it would break -j output): refused" "$?" 1
check "... as not a GEM stamp, in well-formed JSON" \
	jqt '.error | test("unreadable \\(not a GEM stamp\\)")' <<<"$out"

rm "$P/gem_stamp"
out=$(gc stats 2>&1)
check_eq "no stamp (pinned by an older GEM): gemctl stats refused" "$?" 1
check "... saying so" grep -q "without a version stamp" <<<"$out"

check "detach still works" quiet gl detach wan0
check "... for both interfaces" quiet gl detach wan1
check "unload still works" quiet gl unload
check "the pin dir is gone" [ ! -e "$P" ]
check "gemctl on nothing pinned: not loaded" bash -c "ip netns exec $(gem_nsname a) $GEMCTL \
	--pin-dir $P stats 2>&1 | grep -q 'GEM is not loaded'"

echo "version: $GEM_CHECKS checks, $GEM_FAILED failed, $((SECONDS - START)) s"
[ "$GEM_FAILED" = 0 ]
