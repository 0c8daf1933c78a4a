#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Re-inject a captured multicast frame on a link through a raw AF_PACKET
socket: as captured (a replay) or with one byte changed.

  inject.py PCAP --iface IF --group G --port P
            [--pick last|first] [--change none|ciphertext|tag|pn] [--sealed]

--pick: last = the sealed packet with the highest packet number (or the last
in capture order without --sealed), first = the lowest.  --change flips one
bit of the GEM packet (docs/PROTOCOL.md: header = version, suite, key id(2),
pn(8); then ciphertext; then the 16-byte tag):
  ciphertext  the first ciphertext byte (needs a non-empty payload)
  tag         the last byte of the tag
  pn          the low byte of the packet number
The UDP checksum is then recomputed, so the packet is valid for every layer
but GEM's tag: only GEM can drop it.  The source MAC becomes the injecting
interface's, so the WAN bridge does not move the original sender's address to
the injector's port.  Prints what it sent as JSON.
"""
import argparse
import json
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mcast  # noqa: E402


def csum16(data):
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def udp_checksum(fam, ip, udp):
    """RFC 768 / RFC 8200 8.1 UDP checksum of datagram udp (checksum field
    zeroed) under IP header ip."""
    u = udp[:6] + b"\0\0" + udp[8:]
    if fam == 4:
        pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, len(u))
    else:
        pseudo = ip[8:40] + struct.pack("!IxxxB", len(u), 17)
    c = (~csum16(pseudo + u)) & 0xFFFF
    return c or 0xFFFF


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pcap")
    ap.add_argument("--iface", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pick", choices=("last", "first"), default="last")
    ap.add_argument("--change", choices=("none", "ciphertext", "tag", "pn"), default="none")
    ap.add_argument("--sealed", action="store_true", help="a GEM packet (pick by pn)")
    a = ap.parse_args()

    g = mcast.norm(a.group)
    cands = []
    for fr in mcast.read_pcap(a.pcap):
        p = mcast.parse(fr)
        if not p or p[2] != g or len(p[4]) < 8 or struct.unpack(">H", p[4][2:4])[0] != a.port:
            continue
        if a.sealed:
            u = p[4]
            if len(u) < 8 + 28 or u[8] != 1:
                continue
            kid, pn = struct.unpack(">HQ", u[10:20])
            cands.append(((kid, pn), fr, p))
        else:
            cands.append(((0, len(cands)), fr, p))
    if not cands:
        raise SystemExit("inject: no packet to %s port %d in %s" % (a.group, a.port, a.pcap))
    cands.sort(key=lambda c: c[0])
    (kid, pn), frame, (fam, _, _, ip, udp) = cands[-1] if a.pick == "last" else cands[0]
    if a.change != "none" and not a.sealed:
        raise SystemExit("inject: --change needs --sealed")

    l3 = 18 if struct.unpack(">H", frame[12:14])[0] == 0x8100 else 14
    l4 = l3 + len(ip)
    u = bytearray(udp)
    if a.change == "ciphertext":
        if len(u) <= 8 + 28:
            raise SystemExit("inject: empty payload, no ciphertext byte to change")
        u[8 + 12] ^= 0x01
    elif a.change == "tag":
        u[-1] ^= 0x01
    elif a.change == "pn":
        u[8 + 11] ^= 0x01
    if a.change != "none" and udp[6:8] != b"\0\0":
        u[6:8] = struct.pack("!H", udp_checksum(fam, ip, bytes(u)))
    fr = bytearray(frame[:l4] + bytes(u) + frame[l4 + len(udp):])

    with open("/sys/class/net/%s/address" % a.iface) as f:
        fr[6:12] = bytes.fromhex(f.read().strip().replace(":", ""))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    n = s.send(bytes(fr))
    print(json.dumps({"sent": n, "key_id": kid if a.sealed else None,
                      "pn": pn if a.sealed else None, "change": a.change,
                      "udp_checksum_fixed": a.change != "none" and udp[6:8] != b"\0\0"}))
    return 0 if n == len(fr) else 1


if __name__ == "__main__":
    sys.exit(main())
