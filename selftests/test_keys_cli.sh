#!/bin/bash
# gemctl keys end to end against a private SoftHSMv2 token.
# Exit 0: pass, 77: skip (missing prerequisite), anything else: fail.
set -u
cd "$(dirname "$0")/.." || exit 1

GEMCTL=${GEMCTL:-./build/gemctl}	# override: e.g. a sanitizer build
MODULE=/usr/lib/softhsm/libsofthsm2.so
for p in softhsm2-util jq flock od; do
	command -v "$p" >/dev/null || { echo "SKIP: $p not installed"; exit 77; }
done
[ -x "$GEMCTL" ] || { echo "SKIP: $GEMCTL not built"; exit 77; }
[ -r "$MODULE" ] || { echo "SKIP: $MODULE missing"; exit 77; }

tmp=$(mktemp -d /tmp/gem-keys-cli.XXXXXX) || exit 1
holder=""
cleanup() {
	[ -n "$holder" ] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

TOKEN="gem-cli-$$"
mkdir "$tmp/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
	"$tmp/tokens" >"$tmp/softhsm2.conf"
export SOFTHSM2_CONF="$tmp/softhsm2.conf" GEM_LOCK_DIR="$tmp"
unset GEM_PIN GEM_PIN_FILE GEM_TOKEN GEM_PKCS11_MODULE
softhsm2-util --init-token --free --label "$TOKEN" --so-pin 87654321 --pin 123456 \
	>/dev/null || { echo "FAIL: softhsm2-util --init-token"; exit 1; }
echo 123456 >"$tmp/pin"
chmod 600 "$tmp/pin"

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# run EXPECTED_RC CMD...: output in $tmp/out and $tmp/err; a crash (rc >= 128) always fails
run() {
	local want=$1 rc
	shift
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ge 128 ]; then
		fail "crashed (rc $rc): $*"
	elif [ "$rc" != "$want" ]; then
		fail "rc $rc, want $want: $* ($(head -c 300 "$tmp/err"))"
	fi
}
# expect FILE PATTERN: grep -q or fail
expect() {
	grep -q -- "$2" "$1" || fail "'$2' not in $(basename "$1"): $(head -c 300 "$1")"
}

K=("$GEMCTL" keys --token "$TOKEN" --pin-file "$tmp/pin")

echo "--- gen-secret"
run 0 "$GEMCTL" keys gen-secret "$tmp/bk"
run 0 "$GEMCTL" -j keys gen-secret "$tmp/gak"
jq -e '.bytes == 32' "$tmp/out" >/dev/null || fail "gen-secret -j output"
for f in bk gak; do
	[ "$(stat -c '%a %s' "$tmp/$f")" = "600 32" ] || fail "$f: $(stat -c '%a %s' "$tmp/$f")"
done
cp "$tmp/bk" "$tmp/bk.copy"
run 1 "$GEMCTL" keys gen-secret "$tmp/bk"
expect "$tmp/err" "already exists: not overwriting"
cmp -s "$tmp/bk" "$tmp/bk.copy" || fail "gen-secret changed an existing file"
run 1 "$GEMCTL" keys gen-secret "$tmp/nodir/x"
[ -e "$tmp/nodir/x" ] && fail "gen-secret left a file"
ls -A "$tmp" | grep -q '^\.gem-secret' && fail "gen-secret left a temporary file"

echo "--- init, pubkey"
run 0 "${K[@]}" init
expect "$tmp/out" "node id:"
run 1 "${K[@]}" init
expect "$tmp/err" "already has a node key"
# token and PIN from the environment
GEM_TOKEN=$TOKEN GEM_PIN=123456 run 0 "$GEMCTL" keys pubkey -j
jq -e '(.public_key | test("^[0-9a-f]{64}$")) and (.node_id | test("^[0-9a-f]{16}$"))' \
	"$tmp/out" >/dev/null || fail "pubkey -j: $(cat "$tmp/out")"
GEM_TOKEN=$TOKEN GEM_PIN_FILE=$tmp/pin run 0 "$GEMCTL" -j keys pubkey
[ -s "$tmp/err" ] && fail "pubkey -j wrote to stderr"

echo "--- import"
run 0 "${K[@]}" import bk "$tmp/bk"
expect "$tmp/out" "'gem-bk'"
run 0 "${K[@]}" import gak 239.1.1.1 "$tmp/gak"
run 0 "${K[@]}" -j import gak ff3e::1:1 "$tmp/gak"
jq -e '.label == "gem-gak-ff3e::1:1" and .kind == "gak"' "$tmp/out" >/dev/null ||
	fail "import -j: $(cat "$tmp/out")"
run 1 "${K[@]}" import bk "$tmp/bk"
expect "$tmp/err" "'gem-bk' already exists"
run 1 "${K[@]}" import gak 10.1.1.1 "$tmp/gak"
expect "$tmp/err" "not a multicast address"
head -c 31 "$tmp/gak" >"$tmp/short"
run 1 "${K[@]}" import gak 239.9.9.9 "$tmp/short"
expect "$tmp/err" "31 bytes, expected exactly 32"
run 2 "${K[@]}" import gak "$tmp/gak"
run 2 "${K[@]}" import dek 239.1.1.1 "$tmp/gak"

echo "--- GAK epochs (docs/KEYS.md 2.3)"
run 0 "$GEMCTL" keys gen-secret "$tmp/gak2"
run 0 "${K[@]}" import gak 239.1.1.1 "$tmp/gak2" --epoch 2
expect "$tmp/out" "epoch 2 as 'gem-gak-239.1.1.1#2'"
run 1 "${K[@]}" import gak 239.1.1.1 "$tmp/gak2" --epoch 2
expect "$tmp/err" "'gem-gak-239.1.1.1#2' already exists"
run 2 "${K[@]}" import bk "$tmp/bk" --epoch 1
expect "$tmp/err" "the Bootstrap Key has no epochs"
run 2 "${K[@]}" import gak 239.1.1.1 "$tmp/gak2" --epoch -1
expect "$tmp/err" "epoch '-1' is not a number"
run 2 "${K[@]}" import gak 239.1.1.1 "$tmp/gak2" --epoch 4294967296
run 0 "${K[@]}" -j import gak 239.1.1.1 "$tmp/gak2" --epoch 3
jq -e '.label == "gem-gak-239.1.1.1#3" and .epoch == 3' "$tmp/out" >/dev/null ||
	fail "import --epoch -j: $(cat "$tmp/out")"
run 0 "${K[@]}" -j list
jq -e '[.objects[] | select(.group == "239.1.1.1") | .epoch] | sort == [0, 2, 3]' \
	"$tmp/out" >/dev/null || fail "list: epochs of 239.1.1.1: $(cat "$tmp/out")"
run 2 "${K[@]}" retire gak 239.1.1.1
expect "$tmp/err" "usage: gemctl keys retire gak GROUP --epoch N"
run 0 "${K[@]}" -j retire gak 239.1.1.1 --epoch 3
jq -e '.epoch == 3 and .epochs_left == [0, 2]' "$tmp/out" >/dev/null ||
	fail "retire -j: $(cat "$tmp/out")"
run 1 "${K[@]}" retire gak 239.1.1.1 --epoch 3
expect "$tmp/err" "no object 'gem-gak-239.1.1.1#3'"
run 0 "${K[@]}" retire gak 239.1.1.1 --epoch 2
expect "$tmp/out" "1 epoch left"
run 0 "${K[@]}" list
expect "$tmp/out" "gem-gak-239.1.1.1 .*group-authorization-key *0"

echo "--- list"
run 0 "${K[@]}" list -j
jq -e '.objects | length == 5' "$tmp/out" >/dev/null || fail "list: $(cat "$tmp/out")"
jq -e '[.objects[] | select(.class != "public-key") | .attributes
	| .sensitive and (.extractable | not) and (.modifiable | not)] | all' \
	"$tmp/out" >/dev/null || fail "root attributes: $(cat "$tmp/out")"
jq -e '[.objects[].label] | index("gem-gak-239.1.1.1") != null' "$tmp/out" >/dev/null ||
	fail "list lacks gem-gak-239.1.1.1"
run 0 "${K[@]}" list
cat "$tmp/out" >>"$tmp/all"
for f in bk gak; do	# the secrets appear nowhere, in hex or raw
	hex=$(od -An -tx1 -v "$tmp/$f" | tr -d ' \n')
	grep -qi "$hex" "$tmp/all" "$tmp/out" && fail "$f value printed"
	grep -qF "$(head -c 8 "$tmp/$f" | od -An -tx1 | tr -d ' \n')" "$tmp/out" &&
		fail "$f value printed"
done

echo "--- errors"
echo 654321 >"$tmp/badpin"
run 1 "$GEMCTL" keys --token "$TOKEN" --pin-file "$tmp/badpin" list
expect "$tmp/err" "gemctl: token '$TOKEN': wrong PIN (CKR_PIN_INCORRECT)"
run 1 "$GEMCTL" -j keys --token "$TOKEN" --pin-file "$tmp/badpin" list
jq -e '.error | test("wrong PIN")' "$tmp/out" >/dev/null || fail "-j error: $(cat "$tmp/out")"
[ -s "$tmp/err" ] && fail "-j error also on stderr"
run 1 "$GEMCTL" keys --token no-such-token --pin-file "$tmp/pin" list
expect "$tmp/err" "no token labelled 'no-such-token'"
run 1 "${K[@]}" --module /nonexistent/libp11.so list
expect "$tmp/err" "PKCS#11 module '/nonexistent/libp11.so' not found"
GEM_PKCS11_MODULE=/etc/hostname run 1 "${K[@]}" list
expect "$tmp/err" "cannot load PKCS#11 module '/etc/hostname'"
run 1 "$GEMCTL" keys --token "$TOKEN" list
expect "$tmp/err" "no PIN configured"
SOFTHSM2_CONF=$tmp/nonexistent.conf run 1 "${K[@]}" list
expect "$tmp/err" "C_Initialize failed (CKR_GENERAL_ERROR): check SOFTHSM2_CONF"
run 1 "$GEMCTL" keys --token "$TOKEN" --pin-file "$tmp/missing" list
expect "$tmp/err" "cannot read PIN file"
run 2 "$GEMCTL" keys --token "$TOKEN" --pin 123456 list
expect "$tmp/err" "never given on the command line"
grep -q 123456 "$tmp/err" "$tmp/out" && fail "a PIN given on the command line was echoed"
run 2 "$GEMCTL" keys --token "$TOKEN" --pin=123456 list
grep -q 123456 "$tmp/err" "$tmp/out" && fail "a PIN given on the command line was echoed"
run 2 "$GEMCTL" keys frobnicate

# another process owns the token: refused within the wait, with a reason
# (exec: the holder is the process that has the lock, so killing it frees it)
(exec 9>"$tmp/hsm-$TOKEN.lock" && flock 9 && exec sleep 30) &
holder=$!
for _ in $(seq 50); do
	flock -n "$tmp/hsm-$TOKEN.lock" true 2>/dev/null || break
	sleep 0.1
done
run 1 "${K[@]}" list
expect "$tmp/err" "is in use by another process"
kill "$holder"; wait "$holder" 2>/dev/null; holder=""
run 0 "${K[@]}" list

if [ "$failures" != 0 ]; then
	echo "test_keys_cli: $failures failure(s)"
	exit 1
fi
echo "test_keys_cli: all passed"
exit 0
