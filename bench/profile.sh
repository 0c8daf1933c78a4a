#!/bin/bash
# Where GEM's per-packet time goes, next to the crypto floor's: perf samples
# (cpu-clock, with call chains) of `bench_prog -P`, which runs GEM's program
# and the floor program interleaved on one cell.  A sample counts for the
# program found in its call chain; its leaf function says where the time
# went.  Prints one markdown table per cell (ns per packet = sampled time /
# packets).  Used by bench/run.sh; needs perf and root.
#
#   bench/profile.sh [DIR:SUITE:FAM:PAYLOAD ...]     default: 64-byte IPv4, every suite
#   PACKETS=N                                         packets per cell
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=build/bench/bench_prog
PACKETS=${PACKETS:-200000}
FREQ=20000
cells=("$@")
[ ${#cells[@]} -gt 0 ] || cells=(egress:1:4:64 egress:2:4:64 egress:3:4:64 egress:4:4:64
				   ingress:1:4:64 ingress:2:4:64 ingress:3:4:64 ingress:4:4:64)

command -v perf >/dev/null || { echo "bench/profile.sh: perf not found" >&2; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# leaf symbol -> where the time went
classify='
function cat(s) {
	if (s ~ /^(aesti_|crypto_aes_|aes_)/) return "1 AES block cipher (kernel aes-fixed-time)";
	if (s ~ /(^crypto_|^__crypto_|bpf_crypto|dynptr|skcipher)/) return "2 cipher modes (ecb/cbc) + crypto kfunc glue";
	if (s ~ /(_gem_sha_cb$|_gem_poly_chunk$)/) return "3 MAC blocks in BPF (SHA-256 / Poly1305 bpf_loop callbacks)";
	if (s ~ /(_gem_cb_chunk$|_gem_xor_chunk$|^bpf_loop)/) return "4 counter blocks + XOR/sum in BPF";
	if (s ~ /_gem_cmac$/) return "5 CMAC subprogram in BPF";
	if (s ~ /(_gem_egress$|_gem_ingress$|_bench_floor_tc$|_bench_floor_xdp$)/) return "6 program body (incl. inlined HMAC outer block / Poly1305 set-up and final; suite 4: ChaCha20 and its XOR)";
	if (s ~ /(htab|lookup_nulls|jhash|spin|bpf_map|percpu|array_map)/) return "7 maps, spin lock, counters";
	if (s ~ /(skb|xdp|memcpy|memset|memmove|csum|kmalloc|kfree|kmem_cache|slab|page|folio|bpf_l3)/) return "8 packet data: load/store/resize (helpers, copies, skb reallocation)";
	return "9 other";
}'

for spec in "${cells[@]}"; do
	dir=${spec%%:*}
	if [ "$dir" = egress ]; then
		prog_gem='_gem_egress$' prog_fl='_bench_floor_tc$'
	else
		prog_gem='_gem_ingress$' prog_fl='_bench_floor_xdp$'
	fi
	# a program whose symbol perf failed to resolve gets no samples: retry
	for try in 1 2 3; do
		perf record -q -g -e cpu-clock -F $FREQ -o "$tmp/perf.data" -- \
			"$BIN" -P "$spec" -r 1 -n "$PACKETS" >/dev/null 2>"$tmp/err" || {
			echo "bench/profile.sh: perf record failed for $spec:" >&2; cat "$tmp/err" >&2; exit 1; }
		for who in gem fl; do
			re=$prog_gem
			[ $who = fl ] && re=$prog_fl
			perf report -i "$tmp/perf.data" --no-children -p "$re" -x --sort sym \
				-F period,sym --stdio -g none --percent-limit 0 2>/dev/null |
				awk -v who=$who '!/^#/ && NF >= 3 { print who, $1, $3 }'
		done >"$tmp/rows"
		grep -q '^gem ' "$tmp/rows" && grep -q '^fl ' "$tmp/rows" && break
		[ $try = 3 ] && { echo "bench/profile.sh: $spec: no samples in a program" >&2; exit 1; }
	done
	IFS=: read -r _ suite fam len <<<"$spec"
	echo
	echo "#### Profile: $dir, suite $suite, IPv$fam, $len-byte payload ($PACKETS packets each, perf cpu-clock at $FREQ Hz)"
	echo
	echo "| where the time goes | GEM ns/packet | floor ns/packet | GEM − floor |"
	echo "|---|--:|--:|--:|"
	awk -v n="$PACKETS" "$classify"'
		{
			c = cat($3); t[$1, c] += $2; cats[c] = 1; tot[$1] += $2
			f = c ~ /^6/ ? "(program body)" : $3
			d[f] += ($1 == "gem" ? $2 : -$2)
		}
		END {
			k = 0; for (c in cats) keys[++k] = c
			for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++)
				if (keys[j] < keys[i]) { x = keys[i]; keys[i] = keys[j]; keys[j] = x }
			for (i = 1; i <= k; i++) {
				c = keys[i]
				printf "| %s | %.0f | %.0f | %+.0f |\n", substr(c, 3),
					t["gem", c] / n, t["fl", c] / n, (t["gem", c] - t["fl", c]) / n
			}
			printf "| **total sampled** | **%.0f** | **%.0f** | **%+.0f** |\n",
				tot["gem"] / n, tot["fl"] / n, (tot["gem"] - tot["fl"]) / n
			# the functions that make most of the difference
			m = 0; for (s in d) if (d[s] / n >= 3) top[++m] = s
			for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
				if (d[top[j]] > d[top[i]]) { x = top[i]; top[i] = top[j]; top[j] = x }
			printf "\nLargest GEM − floor differences by function:"
			for (i = 1; i <= m && i <= 8; i++) {
				s = top[i]; sub(/^bpf_prog_[0-9a-f]+_/, "", s)
				printf "%s `%s` %+.0f ns", (i > 1 ? "," : ""), s, d[top[i]] / n
			}
			print "."
		}' "$tmp/rows"
done
