#!/bin/bash
# Control-plane scale bench (issue 19): N GEM nodes in network namespaces,
# each with its own SoftHSM token, gem-load on its links, gemd and what gemd
# starts (babeld, one charon per neighbour), on a seeded ring-plus-chords
# graph (degree ~3); M groups with K random members (GAK holders) each, S
# streams pre-declared at their sources ([groups] stream = SOURCE GROUP), so
# keying needs no data traffic.  Per N, from cold start:
#   - time until every node has installed Babel routes to every other node
#     (gemd's control socket, as gemctl -j routes), then a sample of pings;
#   - time until every member holds every SEK of its groups (data-plane rx
#     maps through gemctl --pin-dir -j stream list, never logs);
#   - RSS of gemd + its charons + babeld per node (/proc): median, max, total;
#   - gemd control packets/bytes per record at cold start and per link per
#     second at rest (control-stats), and all link traffic at rest (veth);
#   - gemd SIGKILLed on one node (its supervisor restarts it), then a whole
#     node restart (gemd stopped, data plane unloaded, both brought back):
#     time until the domain is whole again (routes everywhere, every member
#     holds the key id every source seals with), the control traffic it
#     caused, and SEKs lost on any other node meanwhile (rx maps sampled).
# Every exit path tears down (lib.sh's trap); after each N the namespaces,
# processes and mounts of the run are checked to be gone and reported.
#
#   bench/scale.sh [N...]          default: 10 25 50 100
#   env: SCALE_SEED (1), SCALE_S (streams, default 10 x N), SCALE_M (groups,
#   default max(2, N/5)), SCALE_K (members per group, default max(3, N/5)),
#   SCALE_REST (s at rest, 20), SCALE_STAGGER_MS (between node starts, 0),
#   SCALE_TIMEOUT (s per phase, 300), SCALE_DOC=0 (don't write
#   docs/PERFORMANCE.md), SCALE_OUT (results directory).
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
PY=$ROOT/bench/scale.py

if [ "${1:-}" != --one ]; then
	# ---- outer: one child run per N, leftovers checked after each ------------
	NS_LIST=${*:-10 25 50 100}
	OUT=${SCALE_OUT:-$(mktemp -d /tmp/gem-scale-results.XXXXXX)}
	mkdir -p "$OUT"
	STOP=0
	trap 'STOP=1' INT TERM HUP
	bad=0
	for n in $NS_LIST; do
		[ $STOP = 1 ] && break
		echo "=== N = $n ($(date -u +%H:%M:%S) UTC)"
		bash "$0" --one "$n" "$OUT"
		rc=$?
		nsp=$(cat "$OUT/nsp-$n" 2>/dev/null) t=$(cat "$OUT/t-$n" 2>/dev/null)
		ns=0 procs=0 mounts=0
		if [ -n "$nsp" ]; then
			ns=$(ip netns list | grep -c "^$nsp-")
			procs=$(pgrep -f -- "$t/" | wc -l)
			mounts=$(grep -cF "$t" /proc/self/mountinfo)
		fi
		echo "  teardown: $ns namespaces, $procs processes, $mounts mounts left (exit $rc)"
		[ $((ns + procs + mounts)) = 0 ] || bad=1
		[ "$rc" = 0 ] || bad=1
		if [ -e "$OUT/result-$n.json" ]; then
			jq --argjson ns "$ns" --argjson p "$procs" --argjson m "$mounts" --argjson rc "$rc" \
				'.teardown = {ns: $ns, procs: $p, mounts: $m, rc: $rc}' "$OUT/result-$n.json" \
				>"$OUT/r.tmp" && mv "$OUT/r.tmp" "$OUT/result-$n.json"
		fi
	done
	echo "=== results ($OUT)"
	doc=docs/PERFORMANCE.md
	[ "${SCALE_DOC:-1}" = 1 ] || doc=""
	SCALE_CMD=${SCALE_CMD:-bench/scale.sh $NS_LIST} python3 "$PY" report "$OUT" $doc
	[ -n "$doc" ] && echo "tables written to $doc"
	exit $bad
fi

# ---- inner: one N ---------------------------------------------------------------
N=$2 OUT=$3
. selftests/cp_lib.sh
command -v ping >/dev/null || gem_skip "iputils ping missing"
cp_init "scale-$N"
# shellcheck disable=SC2064 # $sig expands now, on purpose
for sig in INT TERM HUP; do trap "echo \"  got SIG$sig\"; GEM_SIGNAL=1; exit 1" $sig; done
export GEMCTL
echo "$GEM_NSP" >"$OUT/nsp-$N"
echo "$T" >"$OUT/t-$N"
echo "$GEM_NSP" >"$T/nsp"
SEED=${SCALE_SEED:-1}
S=${SCALE_S:-$((10 * N))}
M=${SCALE_M:-$((N / 5 > 2 ? N / 5 : 2))}
K=${SCALE_K:-$((N / 5 > 3 ? N / 5 : 3))}
REST=${SCALE_REST:-20}
STAGGER=${SCALE_STAGGER_MS:-0}
TMO=${SCALE_TIMEOUT:-300}
PLAN=$T/plan.json
B0=$(date +%s.%N)
el() { printf '%5.1f s' "$(echo "$(date +%s.%N) - $B0" | bc)"; }
say() { echo "  [$(el)] $*"; }
jp() { jq -r "$@" "$PLAN"; }
# the helper and the sleeps run in the background so that a signal is handled
# at once (bash runs a trap only after the foreground command); teardown
# stops the helper (GEM_PIDS)
py() { python3 "$PY" "$@" & GEM_PIDS+=("$!"); wait "$!"; }
nap() { sleep "$1" & wait "$!"; }

# gemd.conf of node N gets its groups, streams and pin_dir (cp_start rewrites
# the configuration through cp_conf)
eval "$(declare -f cp_conf | sed '1s/^cp_conf/cp_conf_base/')"
cp_conf() { cp_conf_base "$1" "${2:-$(cat "$T/$1/extra.conf" 2>/dev/null)}"; }

py plan "$N" "$SEED" "$M" "$S" "$K" "$PLAN" || gem_die "plan"
say "plan: $N nodes, $(jp '.links | length') links (degree mean $(jp '.degree_mean'), max $(jp '.degree_max')), $M groups x $K members, $S streams, $(jp .sek_slots) (member, stream) SEK slots"

# at most two jobs at a time (2 vCPUs)
throttle() { while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done; }

for i in $(seq "$N"); do
	gem_ns_add "n$i"
	CP_NODES+=("n$i")
done
for g in $(jp '[.nodes[].groups[]] | unique | .[]'); do
	head -c 32 /dev/urandom >"$T/gak-$g"
done
node_files() {
	local n=$1 i=$2 g
	cp_node_files "$n" "$i" >"$T/setup-$n.log" 2>&1 || return 1
	for g in $(jq -r --arg n "$n" '.nodes[] | select(.name == $n) | .groups[]' "$PLAN"); do
		cp_keys "$n" import gak "$g" "$T/gak-$g" >>"$T/setup-$n.log" 2>&1 || return 1
	done
	jq -r --arg n "$n" --arg pd "$T/bpf/$n" '.nodes[] | select(.name == $n) |
		"[groups]\nsuite = hmac-sha256", (.groups[] | "group = \(.)"),
		(.streams[] | "stream = \(.[0]) \(.[1])"), "[node]\npin_dir = \($pd)"' "$PLAN" \
		>"$T/$n/extra.conf"
}
for i in $(seq "$N"); do
	throttle
	node_files "n$i" "$i" &
done
wait
for i in $(seq "$N"); do
	[ -s "$T/n$i/node_id" ] && [ -s "$T/n$i/extra.conf" ] ||
		gem_die "setup of n$i: $(tail -3 "$T/setup-n$i.log")"
done
say "tokens: node key, BK and GAKs in $N SoftHSM tokens"

while read -r a b; do cp_link "$a" "$b"; done < <(jp '.links[] | "\(.[0]) \(.[1])"')
gem_bpffs_mount
attach_node() {
	local n=$1 ifc
	for ifc in $(cat "$T/$n/ifaces"); do
		nsx "$n" "$GEM_LOAD" --pin-dir "$GEM_BPFFS/$n" attach "$ifc" --xdp-mode native \
			>>"$T/attach-$n.log" 2>&1 || return 1
	done
}
for i in $(seq "$N"); do
	throttle
	attach_node "n$i" &
done
wait
for i in $(seq "$N"); do
	[ -e "$GEM_BPFFS/n$i" ] || gem_die "gem-load attach on n$i: $(tail -3 "$T/attach-n$i.log")"
	grep -q "lacks the BPF crypto kfuncs" "$T/attach-n$i.log" && gem_skip "$(cat "$T/attach-n$i.log")"
done
SETUP=$(echo "$(date +%s.%N) - $B0" | bc)
say "links up, GEM attached on every link end"

# ---- cold start ----------------------------------------------------------------
date +%s.%N >"$T/t0"
for i in $(seq "$N"); do
	cp_start "n$i"
	[ "$STAGGER" -gt 0 ] && sleep "$(echo "$STAGGER / 1000" | bc -l)"
done
say "cold start: gemd started on $N nodes (stagger $STAGGER ms); sampling"
py wait "$T" "$PLAN" cold "$TMO" "$T/cold.json"
py cstats "$T" "$PLAN" "$T/cs-cold.json"
say "cold start: $(jq -c '{t_routes, t_reach, t_sek, ping}' "$T/cold.json")"
py mem "$T" "$PLAN" "$T/mem.json"
say "memory: $(jq -c '[.[].total_kb] | {nodes: length, median_kb: (sort | .[length / 2 | floor]), max_kb: max, total_mb: (add / 1024 | floor)}' "$T/mem.json")"
jq -e '.timeout' "$T/cold.json" >/dev/null && say "cold start did not complete within $TMO s: $(jq -c '{routes_missing, sek_missing}' "$T/cold.json")"

# ---- at rest ---------------------------------------------------------------------
wire() { # all traffic the veth link ends sent, summed over nodes
	local i p=0 b=0 x y
	for i in $(seq "$N"); do
		read -r x y < <(nsx "n$i" sh -c 'cat /sys/class/net/e-*/statistics/tx_packets | paste -sd+ | bc;
			cat /sys/class/net/e-*/statistics/tx_bytes | paste -sd+ | bc' | paste -sd' ')
		p=$((p + x)) b=$((b + y))
	done
	printf '{"pkts": %d, "bytes": %d}\n' "$p" "$b"
}
nap 3
py cstats "$T" "$PLAN" "$T/cs-rest0.json"
wire >"$T/wire-rest0.json"
r0=$(date +%s.%N)
nap "$REST"
py cstats "$T" "$PLAN" "$T/cs-rest1.json"
wire >"$T/wire-rest1.json"
REST_S=$(echo "$(date +%s.%N) - $r0" | bc)
say "at rest for $REST s: control packets $(jq -n --slurpfile a "$T/cs-rest0.json" --slurpfile b "$T/cs-rest1.json" '[$b[0] | to_entries[] | .value.tx_packets] | add - ([$a[0] | to_entries[] | .value.tx_packets] | add)')"

# ---- gemd killed on one node ------------------------------------------------------
VICTIM=$(jq -r '.nodes | max_by(.streams | length) | .name' "$PLAN")
new_pid() { local p; p=$(cp_gemd_pid "$VICTIM") && [ "$p" != "$OLD" ]; }
event() { # event NAME: wait until whole, counters after
	py wait "$T" "$PLAN" whole "$TMO" "$T/$1.json" "$VICTIM"
	py cstats "$T" "$PLAN" "$T/cs-$1""1.json"
	say "$1: $(jq -c '{t_routes, t_reach, t_sek, lost: (.lost | length), timeout}' "$T/$1.json")"
}
py rx-snap "$T" "$PLAN" "$T/rx-before.json"
py cstats "$T" "$PLAN" "$T/cs-kill0.json"
OLD=$(cp_gemd_pid "$VICTIM")
say "kill: SIGKILL to gemd $OLD on $VICTIM ($(jq -r --arg v "$VICTIM" '.nodes[] | select(.name == $v) | .streams | length' "$PLAN") own streams)"
date +%s.%N >"$T/t0"
kill -KILL "$OLD"
gem_wait_for 30 new_pid || say "kill: no new gemd on $VICTIM within 30 s"
say "kill: supervisor started gemd $(cp_gemd_pid "$VICTIM")"
event kill

# ---- whole node restart -------------------------------------------------------------
py rx-snap "$T" "$PLAN" "$T/rx-before.json"
py cstats "$T" "$PLAN" "$T/cs-restart0.json"
say "restart: stopping $VICTIM (gemd, then its data plane)"
date +%s.%N >"$T/t0"
cp_stop "$VICTIM"
for ifc in $(cat "$T/$VICTIM/ifaces"); do
	nsx "$VICTIM" "$GEM_LOAD" --pin-dir "$GEM_BPFFS/$VICTIM" detach "$ifc" >/dev/null 2>&1
done
nsx "$VICTIM" "$GEM_LOAD" --pin-dir "$GEM_BPFFS/$VICTIM" unload >/dev/null 2>&1 ||
	say "restart: gem-load unload failed"
attach_node "$VICTIM" || gem_die "re-attach on $VICTIM"
cp_start "$VICTIM"
say "restart: $VICTIM back (data plane fresh, gemd started)"
event restart
# the fresh data plane starts the victim's streams at key id 1 again: what the
# members did with that announce (their logs; the maps show key ids only)
REPL=$(cat "$T"/n*/gemd.log | grep -c 'key id held with another SEK; replaced')
STALE=$(cat "$T"/n*/gemd.log | grep -c 'older than both key ids held for ingress; not loaded')
say "restart: members replaced a held key id's SEK $REPL times, refused an announce as older $STALE times"

printf '{"setup_s": %.1f, "rest_s": %s, "victim": "%s", "stagger_ms": %d, "restart_replaced": %d, "restart_stale": %d}\n' \
	"$SETUP" "$REST_S" "$VICTIM" "$STAGGER" "$REPL" "$STALE" >"$T/meta.json"
py summarize "$OUT" "$T" "$PLAN" "$OUT/result-$N.json"
say "stopping $N nodes"
for i in $(seq "$N"); do cp_stop "n$i"; done
say "done"
exit 0
