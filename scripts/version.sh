#!/bin/sh
# Print GEM's version: `git describe --always --dirty` in a git checkout of
# this tree; in a tree made by `git archive` (no .git: the pristine runner, a
# release tarball) the same, filled into VERSION by git's export-subst
# (.gitattributes); "unknown" when neither is there.
cd "$(dirname "$0")/.." || exit 1
if command -v git >/dev/null 2>&1 &&
   [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ] &&
   v=$(git describe --always --dirty 2>/dev/null) && [ -n "$v" ]; then
	echo "$v"
	exit 0
fi
# VERSION after git archive: "describe: <git describe or empty>", "commit: <abbrev>"
d=$(sed -n 's/^describe: //p' VERSION 2>/dev/null)
c=$(sed -n 's/^commit: //p' VERSION 2>/dev/null)
case "$d" in '$Format'*) d="" ;; esac
case "$c" in '$Format'*) c="" ;; esac
if [ -n "$d" ]; then echo "$d"; elif [ -n "$c" ]; then echo "$c"; else echo unknown; fi
