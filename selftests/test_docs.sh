#!/bin/bash
# The man pages (man/*.scd) and bash completions (completion/) against the
# code they describe (issue 18): every long option of every option table in
# loader/, ctl/ and gemd/gemd.c is in the tool's man page; every gemctl and
# gem-load command has its entry and is offered by the completion; every key
# of gemd/config.c's table is documented in its section of gemd.conf(5), and
# the page names no key the table lacks; scdoc builds each page and man
# renders it without a warning.
#
# Exit 0: pass, 77: skip, anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
FAILED=0 CHECKS=0
ok() { CHECKS=$((CHECKS + 1)); echo "  ok   $1"; }
bad() { CHECKS=$((CHECKS + 1)); FAILED=$((FAILED + 1)); echo "  FAIL $1"; }
for t in scdoc; do command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }; done
GEMCTL=${GEMCTL:-build/gemctl} GEM_LOAD=${GEM_LOAD:-build/gem-load} GEMD=${GEMD:-build/gemd}
for b in "$GEMCTL" "$GEM_LOAD" "$GEMD"; do
	[ -x "$b" ] || { echo "SKIP: $b not built (make all)"; exit 77; }
done
T=$(mktemp -d /tmp/gem-docs.XXXXXX)
trap 'rm -rf "$T"' EXIT

# 1. every page builds, and renders without a warning (man-db is optional)
for p in man/*.scd; do
	n=$(basename "$p" .scd)
	if sed 's|@DOCDIR@|/usr/share/doc/gem|g' "$p" | scdoc >"$T/$n" 2>"$T/$n.err"; then
		ok "scdoc builds $n"
	else
		bad "scdoc $n: $(cat "$T/$n.err")"
	fi
	if command -v man >/dev/null; then
		w=$(MANWIDTH=80 man --warnings -l "$T/$n" 2>&1 >/dev/null)
		[ -z "$w" ] && ok "man renders $n without warnings" || bad "man $n: $w"
	fi
done

# 2. long options: the getopt tables of each tool's sources (--help and -h
# are in every page's synopsis)
opts_of() { grep -ho '{ "[a-z][a-z-]*", \(no\|required\|optional\)_argument' "$@" |
	sed 's/{ "\([^"]*\)".*/\1/' | sort -u; }
for e in "gem-load.8:loader/gem-load.c" "gemctl.8:ctl/*.c" "gemd.8:gemd/gemd.c"; do
	page=${e%%:*}
	# shellcheck disable=SC2086 # the glob
	opts=$(opts_of ${e#*:})
	[ -n "$opts" ] || bad "$page: no option table found in ${e#*:}"
	missing=""
	for o in $opts; do grep -q -- "\*--$o\*" "man/$page.scd" || missing="$missing --$o"; done
	[ -z "$missing" ] && ok "$page documents every long option ($(echo $opts | wc -w))" ||
		bad "$page lacks:$missing"
done

# 3. commands: gemctl's table (gemctl --help) and gem-load's (gem-load --help)
ctl_cmds=$("$GEMCTL" --help | sed -n '/^commands:/,/^$/{s/^  \([a-z-]*\) .*/\1/p}')
load_cmds=$("$GEM_LOAD" --help | sed -n 's/^  \([a-z]\+\)\( \|$\).*/\1/p')
[ "$(echo $ctl_cmds | wc -w)" -ge 9 ] && ok "gemctl --help lists $(echo $ctl_cmds | wc -w) commands" ||
	bad "gemctl --help: commands not found"
[ "$(echo $load_cmds | wc -w)" = 4 ] && ok "gem-load --help lists 4 commands" ||
	bad "gem-load --help: got '$load_cmds'"
missing=""
for c in $ctl_cmds; do grep -q "^\*$c[* ]" man/gemctl.8.scd || missing="$missing $c"; done
[ -z "$missing" ] && ok "gemctl.8 has an entry per command" || bad "gemctl.8 lacks:$missing"
missing=""
for c in $load_cmds; do grep -q "^\*$c\*" man/gem-load.8.scd || missing="$missing $c"; done
[ -z "$missing" ] && ok "gem-load.8 has an entry per command" || bad "gem-load.8 lacks:$missing"

# 4. gemd.conf(5) against gemd/config.c's key table, both ways
grep -o '{ "[a-z]*", "[a-z_]*", OFF(' gemd/config.c | sed 's/{ "\([a-z]*\)", "\([a-z_]*\)".*/\1 \2/' |
	sort >"$T/keys.code"
awk '/^# \[/ { s = substr($2, 2, length($2) - 2) }
     /^\*[a-z_]+\* =/ { k = $1; gsub(/\*/, "", k); print s, k }' man/gemd.conf.5.scd |
	sort >"$T/keys.man"
n=$(wc -l <"$T/keys.code")
[ "$n" -ge 35 ] || bad "gemd/config.c: only $n keys found in the table"
d=$(diff "$T/keys.code" "$T/keys.man")
[ -z "$d" ] && ok "gemd.conf.5: the $n keys of the table, each in its section, and no other" ||
	bad "gemd.conf.5 vs gemd/config.c (< code, > man page): $(echo "$d" | grep '^[<>]' | tr '\n' ' ')"

# 5. bash completion: the commands and options it offers (bash-completion's
# helpers stubbed: the logic under test is ours)
comp() { # comp FILE FUNC WORD...: COMPREPLY for the last word
	bash -c '
		_init_completion() { words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
			cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; }
		_filedir() { COMPREPLY=(FILES); }
		complete() { :; }
		. "$1"; f=$2; shift 2
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); $f; echo "${COMPREPLY[*]}"' _ "$@"
}
got=$(comp completion/gemctl _gemctl gemctl "")
missing=""
for c in $ctl_cmds; do [[ " $got " == *" $c "* ]] || missing="$missing $c"; done
[ -z "$missing" ] && ok "completion: gemctl offers every command" || bad "completion gemctl lacks:$missing"
got=$(comp completion/gem-load _gem_load gem-load --pin-dir /x "")
[ "$got" = "$(echo $load_cmds)" ] && ok "completion: gem-load offers its commands after --pin-dir DIR" ||
	bad "completion gem-load: '$got'"
[ "$(comp completion/gemctl _gemctl gemctl -j group add 239.1.1.1 --suite "")" = \
	"hmac-sha256 cmac poly1305" ] && ok "completion: gemctl group add --suite offers the suites" ||
	bad "completion: --suite"
[ "$(comp completion/gemctl _gemctl gemctl sek set S G --dir "")" = "tx rx" ] &&
	ok "completion: gemctl sek set --dir offers tx rx" || bad "completion: --dir"
[ "$(comp completion/gem-load _gem_load gem-load attach eth0 --xdp-mode g)" = generic ] &&
	ok "completion: gem-load attach --xdp-mode g -> generic" || bad "completion: --xdp-mode"
[ "$(comp completion/gem-load _gem_load gem-load attach eth0 --role "")" = "wan lan" ] &&
	ok "completion: gem-load attach --role offers wan lan" || bad "completion: --role"
for e in "gem-load:_gem_load:loader/gem-load.c" "gemd:_gemd:gemd/gemd.c"; do
	IFS=: read -r tool fn src <<<"$e"
	got=" $(comp "completion/$tool" "$fn" "$tool" --) "
	missing=""
	for o in $(grep -A8 'static const struct option lo\[\] = {$' "$src" | tail -n +1 |
		   grep -o '{ "[a-z-]*", [a-z]*_argument, NULL, .[A-Za-z].' |
		   grep -v -e "'m'" -e "'r'" | sed 's/{ "\([^"]*\)".*/\1/'); do
		[[ $got == *" --$o "* ]] || missing="$missing --$o"
	done
	[ -z "$missing" ] && ok "completion: $tool offers its global options" ||
		bad "completion $tool lacks:$missing"
done

echo "docs: $CHECKS checks, $FAILED failed"
[ "$FAILED" = 0 ]
