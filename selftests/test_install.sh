#!/bin/bash
# `make install` and `make uninstall` into a DESTDIR (issue 18): the three
# tools in PREFIX/sbin report this tree's version, gemd.service runs the
# installed gemd, man pages, completions, example config and docs are where
# the man pages say; uninstall leaves no file behind.
#
# Exit 0: pass, 77: skip, anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
FAILED=0 CHECKS=0
check() {
	local what=$1
	shift
	CHECKS=$((CHECKS + 1))
	if "$@"; then echo "  ok   $what"; else echo "  FAIL $what"; FAILED=$((FAILED + 1)); fi
}
command -v scdoc >/dev/null || { echo "SKIP: scdoc not installed"; exit 77; }
T=$(mktemp -d /tmp/gem-install.XXXXXX)
trap 'rm -rf "$T"' EXIT
D=$T/root P=/opt/gem
mk() { make --no-print-directory B="${GEM_INSTALL_B:-build}" DESTDIR="$D" PREFIX=$P "$@" >"$T/make.log" 2>&1; }

check "make install DESTDIR=... PREFIX=$P" mk install
v=$(./scripts/version.sh)
for t in gem-load gemctl gemd; do
	check "$P/sbin/$t --version: $v" bash -c "'$D$P/sbin/$t' --version | grep -q '^$t (GEM) $v,'"
done
check "gemd.service starts $P/sbin/gemd, checks the config first" \
	bash -c "grep -qx 'ExecStart=$P/sbin/gemd -c /etc/gem/gemd.conf' '$D$P/lib/systemd/system/gemd.service' &&
		 grep -qx 'ExecStartPre=$P/sbin/gemd -c /etc/gem/gemd.conf --check-config' \
			'$D$P/lib/systemd/system/gemd.service'"
check "gemd.service links the installed docs" \
	grep -q "file://$P/share/doc/gem/CONTROL.md" "$D$P/lib/systemd/system/gemd.service"
for m in man8/gem-load.8 man8/gemctl.8 man8/gemd.8 man5/gemd.conf.5; do
	check "man page $m" test -s "$D$P/share/man/$m"
done
check "gemd.8 names the installed example config" \
	grep -q "$P/share/doc/gem/gemd\\.\\\\&conf" "$D$P/share/man/man8/gemd.8"
check "the example config is there and parses (--check-config: no FILE:LINE error)" \
	bash -c "! '$D$P/sbin/gemd' -c '$D$P/share/doc/gem/gemd.conf.example' --check-config 2>&1 |
		grep -q 'gemd.conf.example:[0-9]'"
for c in gem-load gemctl gemd; do
	check "bash completion $c" bash -n "$D$P/share/bash-completion/completions/$c"
done
check "docs installed" test -s "$D$P/share/doc/gem/PROTOCOL.md"
check "no BPF object file: the skeleton inside gem-load carries it" \
	bash -c "! find '$D' -name '*.bpf.o' | grep -q ."
check "make uninstall" mk uninstall
left=$(find "$D" -type f | sed "s|^$D||")
check "nothing left after uninstall${left:+: $left}" test -z "$left"

echo "install: $CHECKS checks, $FAILED failed"
[ "$FAILED" = 0 ]
