#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Forged discovery beacons (format: gemd/disc.h, docs/CONTROL.md section 3).

  beacon_flood.py IFACE --ids N --seconds T [--interval S] [--hold-units U]

N distinct random node ids, each announced every S seconds (default 0.5)
for T seconds, hop limit 255 to [ff02::6d:6]:6767 on IFACE, hold time U
units of 100 ms (default 65535: 6553.5 s, the most a beacon can ask).
Prints JSON {"ids": N, "sent": count}.
"""
import argparse
import json
import os
import socket
import struct
import time

GROUP, PORT = "ff02::6d:6", 6767


def beacon(node_id, hold_units):
    # magic, version 1, flags 0, hold, sender id, n = 0 entries, m = 0 name, reserved
    return b"GEMB" + struct.pack(">BBH", 1, 0, hold_units) + node_id + bytes([0, 0, 0, 0])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("iface")
    p.add_argument("--ids", type=int, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--interval", type=float, default=0.5)
    p.add_argument("--hold-units", type=int, default=65535)
    a = p.parse_args()
    idx = socket.if_nametoindex(a.iface)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    ids = [os.urandom(8) for _ in range(a.ids)]
    end, sent = time.time() + a.seconds, 0
    while time.time() < end:
        for i in ids:
            s.sendto(beacon(i, a.hold_units), (GROUP, PORT, 0, idx))
            sent += 1
        time.sleep(a.interval)
    print(json.dumps({"ids": a.ids, "sent": sent}))


if __name__ == "__main__":
    main()
