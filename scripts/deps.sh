#!/bin/sh
# Install every Debian package GEM's build, tests and demo need.
# Idempotent: a quick no-op when all are present.  Run as root.
set -eu
PKGS="make gcc pkg-config clang-19 llvm-19 libbpf-dev bpftool libelf-dev zlib1g-dev
libssl-dev libsodium-dev libcriterion-dev libp11-kit-dev softhsm2 opensc
strongswan-charon strongswan-swanctl libcharon-extra-plugins babeld smcroute
iperf tcpdump tshark nftables iproute2 ethtool socat python3 jq libinih-dev libclang-rt-19-dev iputils-ping"
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
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no, non-interactively.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
