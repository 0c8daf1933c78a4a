#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Re-inject captured multicast frames on a link through a raw AF_PACKET
socket: as captured (a replay) or with one bit changed.

  inject.py PCAP --iface IF --group G --port P [--sealed] --send SPEC [--send SPEC ...]

SPEC is PICK[:CHANGE], sent in the order given.  PICK: last = the packet with
the highest (key id, packet number) with --sealed, else the last in capture
order; first = the lowest / the first.  CHANGE (needs --sealed) flips one bit
of the GEM packet (docs/PROTOCOL.md: header = version, suite, key id (2),
pn (8); then the ciphertext; then the 16-byte tag):
  none        a replay, unchanged (the default)
  ciphertext  the first ciphertext byte (needs a non-empty payload)
  tag         the last byte of the tag
  pn          the low byte of the packet number
After a change the UDP checksum is recomputed (unless it is 0), so the packet
is valid for every layer but GEM's tag: only GEM can drop it.  The source MAC
becomes the injecting interface's, so the WAN bridge does not move the
original sender's address to the injector's port.  Prints one JSON line per
frame sent.
"""
import argparse
import json
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mcast  # noqa: E402

CHANGES = ("none", "ciphertext", "tag", "pn")


def csum16(data):
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def udp_checksum(fam, ip, udp):
    """RFC 768 / RFC 8200 8.1 UDP checksum of datagram udp (its checksum
    field taken as zero) under IP header ip."""
    u = udp[:6] + b"\0\0" + udp[8:]
    if fam == 4:
        pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, len(u))
    else:
        pseudo = ip[8:40] + struct.pack("!IxxxB", len(u), 17)
    c = (~csum16(pseudo + u)) & 0xFFFF
    return c or 0xFFFF


def spec(text):
    pick, _, change = text.partition(":")
    change = change or "none"
    if pick not in ("last", "first") or change not in CHANGES:
        raise argparse.ArgumentTypeError("'%s': PICK[:CHANGE], PICK last|first, CHANGE %s"
                                         % (text, "|".join(CHANGES)))
    return pick, change


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pcap")
    ap.add_argument("--iface", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sealed", action="store_true", help="GEM packets (ordered by pn)")
    ap.add_argument("--send", type=spec, action="append", required=True)
    a = ap.parse_args()
    if not a.sealed and any(c != "none" for _, c in a.send):
        ap.error("a CHANGE needs --sealed")

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
            cands.append((struct.unpack(">HQ", u[10:20]), fr, p))
        else:
            cands.append(((None, len(cands)), fr, p))
    if not cands:
        raise SystemExit("inject: no packet to %s port %d in %s" % (a.group, a.port, a.pcap))
    cands.sort(key=lambda c: c[0])
    with open("/sys/class/net/%s/address" % a.iface) as f:
        mac = bytes.fromhex(f.read().strip().replace(":", ""))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    rc = 0
    for pick, change in a.send:
        (kid, pn), frame, (fam, _, _, ip, udp) = cands[-1] if pick == "last" else cands[0]
        l4 = (18 if frame[12:14] == b"\x81\x00" else 14) + len(ip)
        u = bytearray(udp)
        if change == "ciphertext":
            if len(u) <= 8 + 28:
                raise SystemExit("inject: empty payload, no ciphertext byte to change")
            u[8 + 12] ^= 0x01
        elif change == "tag":
            u[-1] ^= 0x01
        elif change == "pn":
            u[8 + 11] ^= 0x01
        fixed = change != "none" and udp[6:8] != b"\0\0"
        if fixed:
            u[6:8] = struct.pack("!H", udp_checksum(fam, ip, bytes(u)))
        fr = bytearray(frame[:l4] + bytes(u) + frame[l4 + len(udp):])
        fr[6:12] = mac
        n = s.send(bytes(fr))
        rc |= n != len(fr)
        print(json.dumps({"sent": n, "pick": pick, "change": change, "key_id": kid,
                          "pn": pn if a.sealed else None, "udp_checksum_fixed": fixed}))
    return rc


if __name__ == "__main__":
    sys.exit(main())
