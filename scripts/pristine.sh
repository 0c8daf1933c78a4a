#!/bin/bash
# Run one of the README's commands (`make test`, `make demo`, ...) the way a new
# user would: as root in a freshly made minimal Debian 12 root that holds only
# the base system and a clean `git archive` of this tree.  Whatever the command
# needs beyond the base system it has to install itself (scripts/deps.sh), so
# a package that deps.sh forgets to name fails here, not on a user's machine.
#
#   scripts/pristine.sh [options] [MAKE-TARGET...]    (default target: test)
#   scripts/pristine.sh [options] deb-e2e
#
# deb-e2e (make deb-pristine): the Debian package is built in one fresh root
# that gets only build-essential, dpkg-dev and the package's Build-Depends
# (apt-get build-dep), then installed with apt in a second fresh root, which
# gets besides it only the e2e test's own tools (DEB_E2E_TOOLS below), and
# selftests/test_e2e.sh and test_version.sh run there against the installed
# /usr/sbin binaries (GEM_LOAD, GEMCTL, GEMD).
#
#   --rev REV     tree to test (default HEAD; uncommitted changes are NOT in it)
#   --fresh       rebuild the cached base root first
#   --keep        keep the root afterwards (path printed) for a look inside
#   --shell       an interactive shell in the root instead of make
#
# Environment: CI (passed into the root: a skipped test then fails the run),
# GEM_PRISTINE_CACHE (default /var/cache/gem-pristine), GEM_PRISTINE_MIRROR
# (an apt sources file or a mirror URL; default this machine's Debian sources),
# GEM_PRISTINE_MAX_AGE_DAYS (base root rebuilt when older, default 7).
#
# What is cached between runs (GEM_PRISTINE_CACHE):
#   base-<key>.tar   `mmdebstrap --variant=minbase bookworm`: the base system
#                    only, never anything deps.sh installs (~30 s to rebuild)
#   debs/            apt's downloaded .deb files, bind-mounted on the root's
#                    /var/cache/apt/archives: saves downloads, not installs
# Each run unpacks the base root into a new directory under /var/tmp and
# removes it at exit.
#
# The root is entered with bubblewrap (pivot_root into a private mount
# namespace; same kernel, so BPF, netns and TUN work) rather than chroot: under
# a chroot, paths under /proc/PID print with the chroot's prefix.
set -euo pipefail

die() { echo "pristine: $*" >&2; exit 1; }
now() { date +%s; }

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${GEM_PRISTINE_CACHE:-/var/cache/gem-pristine}
MAX_AGE=${GEM_PRISTINE_MAX_AGE_DAYS:-7}
REV=HEAD FRESH=0 KEEP=0 SHELL_MODE=0
TARGETS=()

while [ $# -gt 0 ]; do
	case "$1" in
	--rev) [ $# -ge 2 ] || die "--rev needs a revision"; REV=$2; shift 2 ;;
	--fresh) FRESH=1; shift ;;
	--keep) KEEP=1; shift ;;
	--shell) SHELL_MODE=1; shift ;;
	-h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	-*) die "unknown option '$1' (see --help)" ;;
	*) [[ $1 =~ ^[A-Za-z0-9_.-]+$ ]] || die "'$1' is not a make target"
	   TARGETS+=("$1"); shift ;;
	esac
done
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(test)
[ "$(id -u)" = 0 ] || die "must run as root (it builds a root file system and runs BPF/netns tests)"
commit=$(git -C "$REPO" rev-parse --verify -q "$REV^{commit}") || die "no commit '$REV' in $REPO"

# The runner's own tools, on the host.
need=()
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v bwrap >/dev/null || need+=(bubblewrap)
if [ ${#need[@]} -gt 0 ]; then
	echo "pristine: installing on this machine: ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
		die "cannot install ${need[*]} (apt-get failed)"
fi

# Apt sources for the root: this machine's Debian entries, so the root sees
# the same mirror (and snapshot, if pinned) as the machine itself.
mirror=${GEM_PRISTINE_MIRROR:-}
if [ -z "$mirror" ]; then
	for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
		if [ -s "$f" ] && grep -q '^[^#]*bookworm' "$f"; then mirror=$f; break; fi
	done
	[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi
if [ -f "$mirror" ]; then key_src=$(cat "$mirror"); else key_src=$mirror; fi
key=$(printf 'minbase bookworm\n%s\n' "$key_src" | sha256sum | cut -c1-12)

mkdir -p "$CACHE/debs/partial"
chmod 0700 "$CACHE"
base="$CACHE/base-$key.tar"
if [ -f "$base" ] && [ "$FRESH" = 0 ] &&
   [ -z "$(find "$base" -mtime +"$MAX_AGE" 2>/dev/null)" ]; then
	echo "pristine: base root: cached $base ($(date -r "$base" '+%F %T'))"
else
	t0=$(now)
	echo "pristine: base root: mmdebstrap --variant=minbase bookworm ($mirror)"
	mmdebstrap --quiet --variant=minbase --format=tar bookworm "$base.tmp" "$mirror" ||
		{ rm -f "$base.tmp"; die "mmdebstrap failed"; }
	mv "$base.tmp" "$base"
	find "$CACHE" -maxdepth 1 -name 'base-*.tar' ! -name "base-$key.tar" -delete
	echo "pristine: base root built in $(( $(now) - t0 )) s"
fi

WORK=$(mktemp -d /var/tmp/gem-pristine.XXXXXX)
ROOT=$WORK/root
cleanup() {
	local rc=$?
	if [ "$KEEP" = 1 ]; then
		echo "pristine: root kept in $ROOT (remove with: rm -rf $WORK)"
	else
		rm -rf --one-file-system "$WORK"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# new_root DIR: the base system and the tree (git archive) in /root/gem
new_root() {
	mkdir "$1"
	tar -x -C "$1" -f "$base"
	mkdir -p "$1/root"
	git -C "$REPO" archive --format=tar --prefix=gem/ "$commit" | tar -x -C "$1/root"
	cp /etc/resolv.conf "$1/etc/resolv.conf" 2>/dev/null || true
	echo "pristine: tree $(git -C "$REPO" rev-parse --short "$commit") in $1/root/gem"
}
# in_root DIR CMD...: CMD as root in DIR, in /root/gem, with a clean environment
in_root() {
	local r=$1
	shift
	local bw=(bwrap --bind "$r" / --dev-bind /dev /dev --proc /proc --bind /sys /sys
	    --tmpfs /run --perms 1777 --tmpfs /tmp --bind "$CACHE/debs" /var/cache/apt/archives
	    --cap-add ALL --unshare-pid --die-with-parent --chdir /root/gem
	    /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}"
	    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
	[ -n "${CI:-}" ] && bw+=(CI="$CI")
	"${bw[@]}" "$@"
}

if [ "${TARGETS[*]}" = deb-e2e ]; then
	# what the e2e test itself runs, beyond the package and its Depends
	DEB_E2E_TOOLS="smcroute tcpdump tshark jq python3 iproute2 ethtool procps bpftool"
	APT="apt-get -y -qq --no-install-recommends"
	ROOT=$WORK/build
	new_root "$ROOT"
	t0=$(now)
	echo "pristine: deb-e2e: building the package (Build-Depends only)"
	in_root "$ROOT" sh -c "export DEBIAN_FRONTEND=noninteractive && apt-get update -qq &&
		$APT install build-essential dpkg-dev >/dev/null && $APT build-dep ./ >/dev/null &&
		dpkg-buildpackage -us -uc -b >/root/build.log 2>&1 || { tail -n 40 /root/build.log; exit 1; }" ||
		die "deb-e2e: the package did not build (root kept: --keep)"
	t1=$(now)
	echo "pristine: deb-e2e: built in $((t1 - t0)) s: $(cd "$ROOT/root" && ls ./*.deb | tr '\n' ' ')"
	debs=$(cd "$ROOT/root" && ls gem-multicast_*.deb)
	ROOT=$WORK/run
	new_root "$ROOT"
	cp "$WORK/build/root/$debs" "$ROOT/root/"
	rm -rf --one-file-system "$WORK/build"
	set +e
	in_root "$ROOT" sh -c "export DEBIAN_FRONTEND=noninteractive &&
		echo 'wireshark-common wireshark-common/install-setuid boolean false' |
			debconf-set-selections && apt-get update -qq &&
		$APT install ../$debs >/dev/null && echo 'pristine: installed ../$debs' &&
		$APT install $DEB_E2E_TOOLS >/dev/null && dpkg -L gem-multicast | grep /sbin/ &&
		gem-load --version && gemctl --version && gemd --version &&
		GEM_LOAD=/usr/sbin/gem-load GEMCTL=/usr/sbin/gemctl GEMD=/usr/sbin/gemd \
			bash selftests/test_version.sh &&
		GEM_LOAD=/usr/sbin/gem-load GEMCTL=/usr/sbin/gemctl GEM_MFWD=/usr/lib/gem/gem-mfwd \
			bash selftests/test_e2e.sh"
	rc=$?
	set -e
	echo "pristine: deb-e2e exited $rc: build $((t1 - t0)) s, install and e2e $(( $(now) - t1 )) s"
	exit $rc
fi

new_root "$ROOT"

# The README's command for each target: a fresh Debian has no make, so
# deps.sh (plain sh) comes first.
if [ "$SHELL_MODE" = 1 ]; then
	cmd=(bash -l)
else
	line=""
	for t in "${TARGETS[@]}"; do
		case "$t" in
		check|bench) g=" $t" ;;
		*) g="" ;;
		esac
		line="${line:+$line && }./scripts/deps.sh$g && make $t"
	done
	cmd=(sh -c "$line")
fi

t0=$(now)
echo "pristine: running '${cmd[*]: -1}' in the root (CI=${CI:-unset})"
set +e
in_root "$ROOT" "${cmd[@]}"
rc=$?
set -e
echo "pristine: '${cmd[*]: -1}' exited $rc after $(( $(now) - t0 )) s"
exit $rc
