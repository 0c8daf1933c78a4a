#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Send one UDP packet to GROUP:PORT from each of COUNT spoofed IPv4 sources
(BASE, BASE+1, ...) as Ethernet frames through a raw AF_PACKET socket on
IFACE: they pass the interface's TC egress hook (GEM's gem_egress), as
forwarded multicast would, without any route or multicast route for them.

  spoof_flood.py --iface IF --group 239.1.1.1 --port 5010 --base 10.66.0.1 --count 300
Prints {"sent": N, "dropped_at_egress": M} (M: refused by the egress hook,
ENOBUFS, as GEM drops a packet without a key).
"""
import argparse
import errno
import ipaddress
import json
import socket
import struct


def csum16(data):
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--count", type=int, required=True)
    a = ap.parse_args()
    grp = ipaddress.IPv4Address(a.group)
    base = int(ipaddress.IPv4Address(a.base))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    src_mac = open("/sys/class/net/%s/address" % a.iface).read().strip()
    g = grp.packed
    dst_mac = bytes([0x01, 0x00, 0x5E, g[1] & 0x7F, g[2], g[3]])
    eth = dst_mac + bytes.fromhex(src_mac.replace(":", "")) + b"\x08\x00"
    payload = b"spoofed-source flood"
    sent = dropped = 0
    for i in range(a.count):
        src = (base + i).to_bytes(4, "big")
        udp = struct.pack("!HHHH", 40000, a.port, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xffff, 0, 8, 17, 0,
                         src, g)
        ip = ip[:10] + struct.pack("!H", csum16(ip)) + ip[12:]
        try:
            s.send(eth + ip + udp)
            sent += 1
        except OSError as e:
            # ENOBUFS: the egress hook dropped it (GEM: no key for it)
            if e.errno != errno.ENOBUFS:
                raise
            dropped += 1
    print(json.dumps({"sent": sent, "dropped_at_egress": dropped}))


if __name__ == "__main__":
    main()
