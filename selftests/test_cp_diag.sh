#!/bin/bash
# gemd explains what is wrong instead of waiting forever.
#
#   d2 --- d1 --- d3      d1: a normal node
#                         d2: its charon lacks the openssl and gcm plugins
#                             ([tunnel] charon_plugins without them: what a
#                             machine without libstrongswan-standard-plugins
#                             runs), so it has no AES-GCM and no X25519
#                         d3: its "charon" exits at once with status 1
#
# Checks: d2 logs one error line naming the missing algorithms and the Debian
# package, and gemctl peers shows it (text and JSON); d1 shows the IKE
# failure with d2 as its last error; d3 shows charon's exit status; nobody
# establishes a tunnel with d2 or d3.  Without namespaces: gemd refuses to
# start, with one line naming the package, when babeld, the SoftHSM module
# or /dev/net/tun is missing.
# Exit 0: pass, 77: skip (missing prerequisite), anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/cp_lib.sh

cp_init cp-diag
START=$(date +%s)
NO_GCM="random nonce aes sha1 sha2 hmac kdf kernel-libipsec kernel-netlink socket-default vici"

echo "--- missing programs and devices: gemd --check-config refuses, naming the package"
cp_node d1 1
cp_node d2 2
cp_node d3 3
cp_link d1 d2
cp_link d1 d3
conf_with() {	# conf_with FILE LINES: d1's configuration plus LINES
	cp_conf d1 "$2"
	cp "$T/d1/gemd.conf" "$1"
	cp_conf d1
}
conf_with "$T/no-babeld.conf" $'[babel]\nbabeld = /nonexistent/babeld'
"$GEMD" -c "$T/no-babeld.conf" --check-config >/dev/null 2>"$T/err"
check_eq "babeld missing: exit status" "$?" 1
check "... one line naming it and the package" \
	grep -qx "gemd: $T/no-babeld.conf: \[babel\] babeld '/nonexistent/babeld': No such file or directory (install babeld)" "$T/err"
conf_with "$T/no-module.conf" $'[hsm]\nmodule = /nonexistent/softhsm/libsofthsm2.so'
"$GEMD" -c "$T/no-module.conf" --check-config >/dev/null 2>"$T/err"
check_eq "SoftHSM module missing: exit status" "$?" 1
check "... one line naming it and the package" \
	grep -q "\[hsm\] module '/nonexistent/softhsm/libsofthsm2.so': No such file or directory (install softhsm2" "$T/err"
# /dev/net/tun hidden in a private mount namespace only
unshare -m sh -c "mount -t tmpfs gem-test /dev/net && exec '$GEMD' -c '$T/d1/gemd.conf' --check-config" \
	>/dev/null 2>"$T/err"
check_eq "/dev/net/tun missing: exit status" "$?" 1
check "... one line saying what it is needed for" \
	grep -q "^gemd: /dev/net/tun: No such file or directory (the libipsec tunnels need TUN" "$T/err"
conf_with "$T/no-vici.conf" $'[tunnel]\ncharon_plugins = random nonce kernel-libipsec kernel-netlink socket-default'
"$GEMD" -c "$T/no-vici.conf" --check-config >/dev/null 2>"$T/err"
check "charon_plugins without vici: refused, naming what gemd needs" \
	grep -q "\[tunnel\] charon_plugins: 'vici' is missing (gemd needs:" "$T/err"
cat "$T/err" | sed 's/^/    /'

echo "--- d2 without openssl/gcm, d3 with a charon that exits 1"
mkdir -p "$T/fake"
printf '#!/bin/sh\necho "fake charon: no way" >&2\nexit 1\n' >"$T/fake/charon"
chmod 755 "$T/fake/charon"
ln -s /usr/lib/ipsec/plugins "$T/fake/plugins"
# cp_start rewrites gemd.conf with cp_conf: per-node lines from extra.conf
printf '[tunnel]\ncharon_plugins = %s\n' "$NO_GCM" >"$T/d2/extra.conf"
printf '[tunnel]\ncharon = %s\n' "$T/fake/charon" >"$T/d3/extra.conf"
for n in d1 d2 d3; do cp_start "$n"; done

gem_wait_for 40 grep -q "charon lacks" "$T/d2/gemd.log"
check "d2 logs what its charon lacks and the package" \
	grep -q "error: tunnel gem-$(cp_id d1): neighbour $(cp_id d1) on e-d1: charon lacks AES_GCM_16 (aes256gcm16), CURVE_25519 (x25519); .*libstrongswan-standard-plugins" "$T/d2/gemd.log"
grep -h "charon lacks" "$T/d2/gemd.log" | head -1 | sed 's/^/    /'
sleep 6
check_eq "... once (one error line, not one per retry)" "$(grep -c "charon lacks" "$T/d2/gemd.log")" 1
check "d2: gemctl -j peers shows the problem for d1" \
	jq_ok "$(cp_peers d2)" '.peers[] | select(.node_id == $d1) | .problem | test("charon lacks AES_GCM_16.*libstrongswan-standard-plugins")' \
	--arg d1 "$(cp_id d1)"
"$GEMCTL" peers --socket "$T/d2/run/gemd.sock" >"$T/peers.txt"
check "d2: gemctl peers (text) has the PROBLEM column with it" \
	bash -c "grep -q 'PROBLEM / LAST ERROR' '$T/peers.txt' && grep '$(cp_id d1)' '$T/peers.txt' | grep -q 'charon lacks AES_GCM_16'"
sed 's/^/    /' "$T/peers.txt"

gem_wait_for 40 bash -c "'$GEMCTL' -j peers --socket '$T/d1/run/gemd.sock' | jq -e --arg d2 '$(cp_id d2)' '.peers[] | select(.node_id == \$d2) | .last_error != null' >/dev/null"
check "d1: the IKE failure with d2 is its last error" \
	jq_ok "$(cp_peers d1)" '.peers[] | select(.node_id == $d2) | .last_error | test("no proposal chosen|not available here|rejects our key exchange|no IKE request from the neighbour")' \
	--arg d2 "$(cp_id d2)"
check "d1 logs the IKE failure with d2" \
	grep -qE "neighbour $(cp_id d2) on e-d2 .*(IKE failed: |no IKE request from the neighbour)" "$T/d1/gemd.log"
cp_peers d1 | jq -c '.peers[] | {node_id, state, problem, last_error}' | sed 's/^/    /'

gem_wait_for 30 bash -c "'$GEMCTL' -j peers --socket '$T/d3/run/gemd.sock' | jq -e '.peers[0].last_error // \"\" | test(\"exited with status 1\")' >/dev/null"
check "d3: its charon's exit status is the last error" \
	jq_ok "$(cp_peers d3)" '.peers[0].last_error | test("^charon exited with status 1$")'
check "d3: restarts counted" jq_ok "$(cp_peers d3)" '.peers[0].restarts >= 1'
check "d3 logs the exit" grep -q "charon pid [0-9]* exited with status 1; restarting" "$T/d3/gemd.log"
for n in d1 d2 d3; do
	check "$n: no established tunnel" \
		jq_ok "$(cp_peers "$n")" '[.peers[] | select(.state == "established")] | length == 0'
done
check "d2: each state change logged with its reason (no line repeated within a minute)" \
	bash -c "! grep -o 'tunnel gem-[0-9a-f]*: neighbour .*: [a-z-]* -> [a-z-]*.*' '$T/d2/gemd.log' | sort | uniq -d | grep -q ."

for n in d1 d2 d3; do cp_stop "$n"; done
for n in d1 d2 d3; do check "$n: nothing left behind" cp_leftovers "$n"; done

if [ "$GEM_FAILED" != 0 ]; then
	for n in d1 d2 d3; do echo "--- $n gemd.log (last 30 lines)"; tail -n 30 "$T/$n/gemd.log"; done
	echo "test_cp_diag: $GEM_FAILED of $GEM_CHECKS checks failed ($(($(date +%s) - START)) s)"
	exit 1
fi
echo "test_cp_diag: all $GEM_CHECKS checks passed ($(($(date +%s) - START)) s)"
exit 0
