#!/bin/bash
# gem-load status and gemctl against a data plane without the BPF crypto
# kfuncs: build/gem_test_nokf.bpf.o is gem.bpf.c with the kfunc names
# renamed to names no kernel has (bpf/gem_test_nokf.bpf.c), pinned the way
# gem-load pins the real object.  It must offer chacha20-poly1305 only, and
# gemctl must refuse the other suites with a one-line reason; the real
# object, pinned the same way, offers all four.
# Exit 0: pass, 77: skip, 1: fail.
. "$(dirname "$0")/lib.sh"
gem_init nokf-cli bpftool jq

quiet() { "$@" >/dev/null 2>&1; }

# pin OBJ into DIR with gem-load's pin names
pin_object() {
	local obj=$1 d=$2 p
	mkdir -p "$d" || return 1
	bpftool prog loadall "$obj" "$d/progs" pinmaps "$d" >"$T/bpftool.log" 2>&1 || { cat "$T/bpftool.log"; return 1; }
	for p in egress ingress ctl; do
		mv "$d/progs/gem_$p" "$d/prog_$p" || return 1	# gem-load's names
	done
	gem_stamp_put "$d"	# as gem-load would: this build's version and layout
}

# libbpf rewrites '.' in pin paths to '_' (and $T has one): a bpffs of our own
B=$(mktemp -d /tmp/gemnokfXXXXXX) || gem_die "mktemp"
mount -t bpf bpf "$B" || gem_die "mount -t bpf $B"
gem_on_exit "umount '$B'; rmdir '$B'"
NK=$B/nokf
FULL=$B/full
check "the object with missing kfuncs loads" pin_object "$GEM_ROOT/build/gem_test_nokf.bpf.o" "$NK"
check "the real object loads" pin_object "$GEM_ROOT/build/gem.bpf.o" "$FULL"

"$GEM_LOAD" --pin-dir "$NK" status >"$T/st" 2>&1
check "status lists chacha20-poly1305 only" \
	grep -qx 'suites: chacha20-poly1305 (no BPF crypto kfuncs in this kernel)' "$T/st"
check "status -j: suites" quiet jq -e '.suites == ["chacha20-poly1305"]' \
	<("$GEM_LOAD" --pin-dir "$NK" status -j)
check "real object: status -j lists all four suites" \
	quiet jq -e '.suites == ["hmac-sha256", "cmac", "poly1305", "chacha20-poly1305"]' \
	<("$GEM_LOAD" --pin-dir "$FULL" status -j)

head -c 32 /dev/urandom >"$T/gak"
head -c 32 /dev/urandom >"$T/sek32"
head -c 16 /dev/urandom >"$T/sek16"
for s in hmac-sha256 cmac poly1305; do
	kf=(--key-file "$T/gak")
	[ $s = poly1305 ] && kf=()
	"$GEMCTL" --pin-dir "$NK" group add 239.1.1.1 --suite $s "${kf[@]}" >"$T/out" 2>"$T/err"
	check_eq "group add --suite $s refused" "$?" 1
	check_eq "  with one line" "$(wc -l <"$T/err")" 1
	check "  saying why" grep -q "suite $s needs the kernel's BPF crypto kfuncs" "$T/err"
done
check_eq "nothing was loaded" "$(bpftool map dump pinned "$NK/gem_groups" -j | jq length)" 0
check "group add --suite chacha20-poly1305" \
	quiet "$GEMCTL" --pin-dir "$NK" group add 239.1.1.1 --suite chacha20-poly1305
check "group list shows it" grep -q "chacha20-poly1305" \
	<("$GEMCTL" --pin-dir "$NK" group list)
check "sek set with a 32-byte SEK" quiet "$GEMCTL" --pin-dir "$NK" sek set 10.0.0.1 239.1.1.1 \
	--key-id 1 --key-file "$T/sek32" --dir tx
"$GEMCTL" --pin-dir "$NK" sek set 10.0.0.1 239.1.1.1 --key-id 2 --key-file "$T/sek16" \
	--dir rx >/dev/null 2>&1
check_eq "sek set with a 16-byte SEK refused" "$?" 1
check "real object: group add --suite cmac" \
	quiet "$GEMCTL" --pin-dir "$FULL" group add 239.1.1.2 --suite cmac --key-file "$T/gak"

echo "$GEM_CHECKS checks, $GEM_FAILED failed"
[ "$GEM_FAILED" = 0 ]
