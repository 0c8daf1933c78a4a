#!/bin/bash
# Node identity bound to the tunnel (docs/CONTROL.md section 4.5): a node
# holding the domain's BK but not a node's key cannot pass as that node.
#
#   x --- v --- m        x: a real node; v: the victim
#                        m: an intruder with the BK and a node key of its
#                           own, running gemd that claims x's node id
#                           (selftests/forge_id.c: beacons, IKE identity
#                           and the PSK all for x's id)
#
# m completes IKE with v (the PSK is derived from the BK and the claimed
# ids), then fails the identity proof (its public key is not x's id): v tears
# the tunnel down, counts it, logs the reason and shows it in gemctl peers;
# m's tunnel never carries records or Babel; x stays up, proven, reachable.
# Exit 0: pass, 77: skip (missing prerequisite), anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/cp_lib.sh

FORGE=${FORGE:-$GEM_ROOT/build/selftests/gemd-forge-id}
cp_init cp-ident
[ -x "$FORGE" ] || gem_skip "$FORGE not built (make all)"
START=$(date +%s)

# jqn JSON FILTER [JQ ARGS...]: jq_ok, but false for an empty JSON (jq -e
# succeeds on no input: a gemctl that failed must not pass a check)
jqn() {
	[ -n "$1" ] && jq_ok "$@"
}
# peers_ok NODE FILTER [JQ ARGS...]: FILTER holds for NODE's gemctl -j peers now
# (for gem_wait_for: queried again on every try)
peers_ok() {
	local n=$1
	shift
	jqn "$(cp_peers "$n")" "$@"
}

cp_node v 1
cp_node x 2
cp_node m 3
cp_link v x
cp_link v m
X=$(cp_id x)
check "the intruder's own node id differs from x's" test "$(cp_id m)" != "$X"

cp_start v
cp_start x
gem_wait_for 60 cp_established v 1
check "v: x established with a Babel neighbour" cp_established v 1
gem_wait_for 20 peers_ok v '.peers[] | select(.link == "e-x") | .identity == "proven"'
check "v: x's node identity proven" \
	jqn "$(cp_peers v)" '.peers[] | select(.link == "e-x" and .node_id == $x) | .identity == "proven"' --arg x "$X"
check "x: v's node identity proven" \
	jqn "$(cp_peers x)" '.peers[] | select(.link == "e-v") | .identity == "proven"'
check "v logs the proof" grep -q "neighbour $X on e-x: node identity proven over ipsec" "$T/v/gemd.log"

echo "--- m starts, claiming x's node id"
GEM_FORGE_NODE_ID=$X GEMD=$FORGE cp_start m
gem_wait_for 30 grep -q "starting: .*node $X" "$T/m/gemd.log"
check "m runs as $X (the forged id)" grep -q "starting: .*node $X" "$T/m/gemd.log"
gem_wait_for 60 grep -q "neighbour $X on e-m: node identity proof failed" "$T/v/gemd.log"
check "m completed IKE with v (the BK suffices for IKE)" \
	grep -qE "tunnel gem-$X: neighbour $X on e-m \(.*\) established over ipsec" "$T/v/gemd.log"
check "v: m's proof failed, tunnel torn down, with the reason" \
	grep -q "neighbour $X on e-m: node identity proof failed: its public key is not the claimed node id's; tunnel torn down" "$T/v/gemd.log"
grep -h "node identity proof failed" "$T/v/gemd.log" | head -1 | sed 's/^/    /'
P=$(cp_peers v)
check "v: counted (identity.failed, identity.pk_not_id)" \
	jqn "$P" '.identity.failed >= 1 and .identity.pk_not_id >= 1'
check "v: gemctl -j peers shows the problem for m's link" \
	jqn "$P" '.peers[] | select(.link == "e-m") | (.problem | test("identity proof failed: its public key is not")) and .identity_failures >= 1 and .identity != "proven"'
"$GEMCTL" peers --socket "$T/v/run/gemd.sock" >"$T/peers.txt"
check "v: gemctl peers (text) shows it in the PROBLEM column" \
	bash -c "grep 'e-m' '$T/peers.txt' | grep -q 'identity proof failed'"
sed 's/^/    /' "$T/peers.txt"
echo "$P" | jq -c '.identity' | sed 's/^/    /'

echo "--- the intruder got nothing; x is unaffected"
check_eq "v: control neighbours ever up (x only)" \
	"$(grep -c "control: neighbour [0-9]* ($X) up on" "$T/v/gemd.log")" 1
check "v: no Babel neighbour over m's link" \
	jqn "$P" '[.peers[] | select(.link == "e-m" and .babel != null)] | length == 0'
check "v: x still established and proven" \
	jqn "$P" '.peers[] | select(.link == "e-x") | .state == "established" and .identity == "proven" and .babel != null'
check "v reaches x (IPv6 and IPv4 over Babel)" cp_ping v x
R=$(cp_routes v)
check "v: x's address routed over x's tunnel" \
	jqn "$R" '[.routes[] | select(.prefix == $a and .installed)] | length == 1 and .[0].interface == $t' \
	--arg a "$(cp_addr x)/128" --arg t "$(echo "$P" | jq -r '.peers[] | select(.link == "e-x") | .tunnel')"
check_eq "v: x's tunnel never went down" "$(grep -c "neighbour $X on e-x: tunnel down" "$T/v/gemd.log")" 0

echo "--- bounded retries: the next attempt only after the back-off"
gem_wait_for 60 peers_ok v '.peers[] | select(.link == "e-m") | .identity_failures >= 2'
check "v: a second attempt failed the same way" \
	jqn "$(cp_peers v)" '.peers[] | select(.link == "e-m") | .identity_failures >= 2'
T1=$(grep "neighbour $X on e-m: node identity proof failed" "$T/v/gemd.log" | head -2 | cut -c1-19)
echo "    failures at: $(echo "$T1" | tr '\n' ' ')"
check "v: x still up after it" \
	jqn "$(cp_peers v)" '.peers[] | select(.link == "e-x") | .state == "established" and .identity == "proven"'

echo "--- m again, now never answering with a proof (its signatures fail)"
cp_stop m
gem_wait_for 15 bash -c "! '$GEMCTL' -j peers --socket '$T/v/run/gemd.sock' | jq -e '.peers[] | select(.link == \"e-m\")' >/dev/null"
GEM_FORGE_NO_SIGN=1 GEM_FORGE_NODE_ID=$X GEMD=$FORGE cp_start m
gem_wait_for 60 grep -q "neighbour $X on e-m: node identity proof failed: no valid proof within 20 s of IKE" "$T/v/gemd.log"
check "v: no proof within 20 s: tunnel torn down, with the reason" \
	grep -q "neighbour $X on e-m: node identity proof failed: no valid proof within 20 s of IKE; tunnel torn down" "$T/v/gemd.log"
check "v: counted (identity.timeouts)" peers_ok v '.identity.timeouts >= 1'
check_eq "v: still only x ever a control neighbour" \
	"$(grep -c "control: neighbour [0-9]* ($X) up on" "$T/v/gemd.log")" 1
check "v: x still established and proven" \
	peers_ok v '.peers[] | select(.link == "e-x") | .state == "established" and .identity == "proven"'

echo "--- an IKE rekey of v-x: the new IKE SA is proven again"
PORT=$(cp_peers v | jq -r '.peers[] | select(.link == "e-x") | .ike_port')
SPI0=$(swanctl --list-sas --uri "unix://$T/v/run/tun/$PORT/charon.vici" 2>/dev/null | grep -o '[0-9a-f]\{16\}_i[*]\? [0-9a-f]\{16\}_r[*]\?' | head -1)
# proofs so far (usually 1; 2 if x's tunnel went down and up meanwhile)
P0=$(grep -c "neighbour $X on e-x: node identity proven" "$T/v/gemd.log")
nsx v swanctl --rekey --ike "gem-$X" --uri "unix://$T/v/run/tun/$PORT/charon.vici" >"$T/rekey.out" 2>&1
gem_wait_for 20 bash -c "[ \$(grep -c 'neighbour $X on e-x: node identity proven' '$T/v/gemd.log') -ge $((P0 + 1)) ]"
SPI1=$(swanctl --list-sas --uri "unix://$T/v/run/tun/$PORT/charon.vici" 2>/dev/null | grep -o '[0-9a-f]\{16\}_i[*]\? [0-9a-f]\{16\}_r[*]\?' | head -1)
echo "    IKE SA before: $SPI0; after: $SPI1"
check "v: the rekey made a new IKE SA" test -n "$SPI1" -a "$SPI0" != "$SPI1"
check "v: x's identity proven again on it" \
	grep -q "neighbour $X on e-x: new IKE SA: proving its node id again" "$T/v/gemd.log"
check_eq "v: x's proofs (one more after the rekey)" \
	"$(grep -c "neighbour $X on e-x: node identity proven" "$T/v/gemd.log")" $((P0 + 1))
check "v: x proven and reachable after the rekey" \
	peers_ok v '.peers[] | select(.link == "e-x") | .state == "established" and .identity == "proven"'
gem_wait_for 20 cp_ping v x
check "v reaches x after the rekey" cp_ping v x
grep -h "neighbour $X on e-x: new IKE SA" -A3 "$T/v/gemd.log" | sed 's/^/    /'

for n in m x v; do cp_stop "$n"; done
for n in v x m; do check "$n: nothing left behind" cp_leftovers "$n"; done

if [ "$GEM_FAILED" != 0 ]; then
	for n in v m; do echo "--- $n gemd.log (last 40 lines)"; tail -n 40 "$T/$n/gemd.log"; done
	echo "test_cp_ident: $GEM_FAILED of $GEM_CHECKS checks failed ($(($(date +%s) - START)) s)"
	exit 1
fi
echo "test_cp_ident: all $GEM_CHECKS checks passed ($(($(date +%s) - START)) s)"
exit 0
