#!/bin/sh
# Install the Debian packages GEM needs, on a Debian 12 machine that may have
# nothing beyond the base system (a minbase root has no make, ps, python3 ...).
#
#   scripts/deps.sh          build, `make test`, `make demo`
#   scripts/deps.sh check    ... and `make check` (cppcheck, clang-tidy)
#   scripts/deps.sh bench    ... and `make bench` (iperf, perf)
#   scripts/deps.sh deb      ... and `make deb` (debhelper, dpkg-dev)
#
# The base list is proven, not guessed: `make test-pristine` and
# `make demo-pristine` run the README's commands in a fresh minimal root where
# only what is named here exists, and CI runs them there.
# Idempotent: a quick no-op when all are present.  Run as root.
#
# Not obvious from the names:
#   libstrongswan-standard-plugins  charon's openssl and gcm plugins: without
#       them IKE has no AES-GCM and no X25519 and never completes
#   procps (ps, pgrep), python3-cryptography (selftests/adv_cp.py),
#   libclang-rt-19-dev (libFuzzer, selftests/test_fuzz_short.sh)
#   scdoc (man/*.scd -> man pages: make install, selftests/test_docs.sh)
set -eu
PKGS="make gcc pkg-config clang-19 llvm-19 libbpf-dev bpftool libelf-dev zlib1g-dev
libssl-dev libsodium-dev libcriterion-dev libp11-kit-dev libinih-dev libmnl-dev libjson-c-dev softhsm2
strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins
babeld smcroute tcpdump tshark iproute2 ethtool python3 python3-cryptography python3-prometheus-client procps jq
libclang-rt-19-dev iputils-ping scdoc"
for group in "$@"; do
	case "$group" in
	check) PKGS="$PKGS cppcheck clang-tidy" ;;
	bench) PKGS="$PKGS iperf linux-perf" ;;
	deb) PKGS="$PKGS debhelper dpkg-dev" ;;
	*) echo "deps: unknown group '$group' (check, bench, deb)" >&2; exit 2 ;;
	esac
done
missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run 'make deps' as root)" >&2
	exit 1
fi
echo "deps: installing:$missing"
t0=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no, non-interactively.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: installed in $(( $(date +%s) - t0 )) s"
