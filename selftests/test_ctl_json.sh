#!/bin/bash
# gemctl and gem-load output for programs (issue 18): every command answers
# -j with one JSON object (usage errors too, as {"error": ...} on stdout,
# nothing on stderr), -p is the same value indented, stream rows have the
# same fields for tx and rx with numbers for key ids and null where absent,
# and `gemctl stats --prometheus` parses with the Prometheus client's own
# parser (python3-prometheus-client) to the values `gemctl -j stats` gives.
#
#   h --veth-- r        r: gem-load attached, a group, a tx and an rx SEK
#
# Exit 0: pass, 77: skip (missing prerequisite), anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh

PY3=/usr/bin/python3
[ -x "$PY3" ] || PY3=python3
gem_init ctl-json jq
"$PY3" -c 'import prometheus_client.parser' 2>/dev/null ||
	gem_skip "python3-prometheus-client missing"
gem_ns_add r h
gem_link r wan h wan
gem_bpffs_mount
P=$GEM_BPFFS/r
ctl() { nsx r "$GEMCTL" --pin-dir "$P" "$@"; }
load() { nsx r "$GEM_LOAD" --pin-dir "$P" "$@"; }
head -c 32 /dev/urandom >"$T/gak"
head -c 16 /dev/urandom >"$T/sek"

jq() { command jq "$@" >/dev/null; }

# jcase NAME WANT_RC CMD...: CMD prints one JSON object on stdout, nothing on
# stderr, exits WANT_RC; -p (put right after the tool) prints the same value.
jcase() {
	local name=$1 want=$2 rc
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	check_eq "$name: exit status" "$rc" "$want"
	check "$name: stdout is one JSON object" jq -e 'type == "object"' "$T/out"
	check "$name: stdout is one line" [ "$(wc -l <"$T/out")" = 1 ]
	check "$name: nothing on stderr" [ ! -s "$T/err" ]
	if [ "$want" != 0 ]; then
		check "$name: an error object" jq -e '.error | type == "string" and length > 0' "$T/out"
	fi
}
# pcase NAME CMD_J... -- CMD_P...: -p gives the same value as -j, indented
pcase() {
	local name=$1
	shift
	local j=() p=()
	while [ "$1" != -- ]; do j+=("$1"); shift; done
	shift
	p=("$@")
	"${j[@]}" >"$T/j" 2>/dev/null
	"${p[@]}" >"$T/p" 2>/dev/null
	check "$name: -p is -j's value" cmp -s <(command jq -S . "$T/j") <(command jq -S . "$T/p")
	check "$name: -p is indented" [ "$(wc -l <"$T/p")" -gt 1 ]
}

echo "--- before gem-load: errors as JSON"
jcase "gem-load -j status (not loaded)" 0 load -j status
check "not loaded: loaded false, no interfaces" jq -e '.loaded == false and .interfaces == []' "$T/out"
jcase "gemctl -j stats (not loaded)" 1 ctl -j stats
jcase "gemctl -j (no command)" 2 ctl -j
jcase "gemctl -j bogus" 2 ctl -j bogus
jcase "gemctl -j stats --bogus" 2 ctl -j stats --bogus
jcase "gemctl -j stream" 2 ctl -j stream
jcase "gemctl -j group" 2 ctl -j group
jcase "gemctl -j group add (no suite)" 2 ctl -j group add 239.1.1.1
jcase "gemctl -j group add --bogus" 2 ctl -j group add 239.1.1.1 --bogus
jcase "gemctl -j sek" 2 ctl -j sek
jcase "gemctl -j sek set (no key)" 2 ctl -j sek set 10.0.0.1 239.1.1.1
jcase "gemctl -j sek del --bogus" 2 ctl -j sek del 10.0.0.1 239.1.1.1 --bogus
jcase "gemctl -j events --bogus" 2 ctl -j events --bogus
jcase "gemctl -j peers --bogus" 2 ctl -j peers --bogus
jcase "gemctl -j peers (no gemd)" 1 ctl -j peers --socket "$T/none.sock"
jcase "gemctl -j keys bogus" 2 ctl -j keys bogus
jcase "gem-load -j bogus" 2 load -j bogus
jcase "gem-load -j attach (no device)" 2 load -j attach
jcase "gem-load -j attach --bogus" 2 load -j attach wan --bogus
jcase "gem-load -j status --bogus" 2 load -j status --bogus

echo "--- gem-load attach, a group, keys"
jcase "gem-load -j attach" 0 load -j attach wan --xdp-mode generic
check "attach: interface, attached, prog ids" \
	jq -e '.interface == "wan" and .attached == true and (.xdp_prog_id | type == "number")' "$T/out"
jcase "gemctl -j group add" 0 ctl -j group add 239.1.1.1 --suite hmac-sha256 --key-file "$T/gak"
check "group add: group, suite, epoch number" \
	jq -e '.group == "239.1.1.1" and .suite == "hmac-sha256" and .epoch == 0' "$T/out"
jcase "gemctl -j sek set tx" 0 ctl -j sek set 10.0.0.1 239.1.1.1 --key-id 7 --key-file "$T/sek" --dir tx
check "sek set: key id a number" jq -e '.key_id == 7 and .dir == "tx"' "$T/out"
jcase "gemctl -j sek set rx" 0 ctl -j sek set 10.0.0.2 239.1.1.1 --key-id 3 --key-file "$T/sek" --dir rx
jcase "gemctl -j sek set tx again (refused)" 1 ctl -j sek set 10.0.0.1 239.1.1.1 --key-id 7 \
	--key-file "$T/sek" --dir tx

echo "--- lists are objects with a named array; tx and rx rows alike"
jcase "gemctl -j group list" 0 ctl -j group list
check "group list: .groups[0]" jq -e '.groups | length == 1 and .[0].suite == "hmac-sha256"' "$T/out"
pcase "group list" ctl -j group list -- ctl -p group list
jcase "gemctl -j stream list" 0 ctl -j stream list
check "stream list: one tx, one rx row" \
	jq -e '[.streams[].dir] | sort == ["rx", "tx"]' "$T/out"
check "stream list: tx and rx rows have the same fields" \
	jq -e '[.streams[] | keys] | .[0] == .[1]' "$T/out"
check "stream list: key ids are numbers, none is null" \
	jq -e '[.streams[] | .key_id | type] == ["number", "number"] and
	       ([.streams[] | .prev_key_id] == [null, null])' "$T/out"
check "stream list: tx has next_pn and no drops, rx a top_pn and drops" \
	jq -e '(.streams[] | select(.dir == "tx") | (.next_pn | type == "number") and .drops == null
		and .top_pn == null) and
	       (.streams[] | select(.dir == "rx") | (.top_pn | type == "number") and .drops == 0
		and .next_pn == null)' "$T/out"
pcase "stream list" ctl -j stream list -- ctl -p stream list
jcase "gemctl -j stats" 0 ctl -j stats
check "stats: every counter a number" jq -e '[.[] | type] | unique == ["number"]' "$T/out"
pcase "stats" ctl -j stats -- ctl -p stats
jcase "gem-load -j status" 0 load -j status
check "status: one interface ok" jq -e '.loaded and (.interfaces | length == 1) and
	.interfaces[0].state == "ok"' "$T/out"
pcase "gem-load status" load -j status -- load -p status
jcase "gemctl -j keys gen-secret" 0 ctl -j keys gen-secret "$T/new-secret"
check "gen-secret: bytes a number" jq -e '.bytes == 32' "$T/out"

echo "--- some traffic, then stats --prometheus against the client library's parser"
nsx h ip addr add 10.9.0.2/24 dev wan
nsx r ip addr add 10.0.0.1/24 dev wan
nsx r ip route add 224.0.0.0/4 dev wan
for i in 1 2 3 4 5; do
	nsx r "$PY3" -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 4)
s.sendto(b"x" * 100, ("239.1.1.1", 5000)); s.sendto(b"y" * 10, ("239.9.9.9", 5000))'
done
ctl stats --prometheus >"$T/prom" 2>"$T/prom.err"
check_eq "stats --prometheus: exit status" "$?" 0
ctl -j stats >"$T/stats.json"
ctl -j stream list >"$T/streams.json"
check "stats --prometheus: parses and equals gemctl -j stats and stream list" \
	"$PY3" - "$T/prom" "$T/stats.json" "$T/streams.json" <<'EOF'
import json, sys
from prometheus_client.parser import text_string_to_metric_families as parse
fams = {f.name: f for f in parse(open(sys.argv[1]).read())}
stats = json.load(open(sys.argv[2]))
streams = json.load(open(sys.argv[3]))["streams"]
c = {s.labels["counter"]: s.value for s in fams["gem_packets"].samples}
assert fams["gem_packets"].type == "counter", fams["gem_packets"].type
assert c == {k: float(v) for k, v in stats.items()}, (c, stats)
assert stats["tx_sealed"] >= 5 and stats["tx_pass"] >= 5, stats
for metric, field in (("gem_stream_packets", "packets"), ("gem_stream_bytes", "bytes")):
    got = {(s.labels["dir"], s.labels["source"], s.labels["group"]): s.value
           for s in fams[metric].samples}
    want = {(r["dir"], r["source"], r["group"]): float(r[field]) for r in streams}
    assert got == want, (metric, got, want)
kid = {(s.labels["dir"], s.labels["source"]): s.value for s in fams["gem_stream_key_id"].samples}
assert kid == {("tx", "10.0.0.1"): 7.0, ("rx", "10.0.0.2"): 3.0}, kid
drops = fams["gem_stream_drops"].samples
assert [s.labels["dir"] for s in drops] == ["rx"], drops
EOF
check "stats --prometheus: the sealed packets are counted on the tx stream" \
	jq -e '.streams[] | select(.dir == "tx") | .packets == 5' "$T/streams.json"
jcase "gemctl -j stats --prometheus --bogus" 2 ctl -j stats --prometheus --bogus

echo "--- detach, unload"
jcase "gem-load -j detach" 0 load -j detach wan
check "detach: attached false, was attached" jq -e '.attached == false and .was_attached' "$T/out"
jcase "gem-load -j detach again" 0 load -j detach wan
check "detach again: was not attached" jq -e '.was_attached == false' "$T/out"
jcase "gem-load -j unload" 0 load -j unload
check "unload: loaded false, the pin dir removed" \
	jq -e '.loaded == false and .pin_dir_removed' "$T/out"
echo "ctl-json: $GEM_CHECKS checks, $GEM_FAILED failed"
[ "$GEM_FAILED" = 0 ]
