#!/usr/bin/env python3
# cp_psk.py BK_FILE ID_A ID_B [FILE...]: compute the IPsec PSK of the pair
# independently of gemd (docs/KEYS.md section 3: HMAC-SHA-256(BK,
# "GEM v1 ipsec-psk" 0x00 || lo || hi || be32(0))) and look for it, raw or
# hex, in every FILE.  Prints the files that contain it; exit 1 if any does.
# Without FILEs: print the PSK in hex (a test's positive control).
import hashlib, hmac, sys

bk = open(sys.argv[1], "rb").read()
a, b = bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])
lo, hi = sorted([a, b])
psk = hmac.new(bk, b"GEM v1 ipsec-psk\x00" + lo + hi + (0).to_bytes(4, "big"),
               hashlib.sha256).digest()
if len(sys.argv) == 4:
    print(psk.hex())
    sys.exit(0)
needles = [psk, psk.hex().encode(), psk.hex().upper().encode()]
found = 0
for path in sys.argv[4:]:
    try:
        data = open(path, "rb").read()
    except OSError:
        continue
    if any(n in data for n in needles):
        print(path)
        found = 1
sys.exit(found)
