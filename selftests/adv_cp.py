#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Adversarial packet crafting for GEM's netns selftests (test_adv_cp.sh).

The attacker is a node holding the BK (so inside the tunnels) but not a
group's GAK: it can mint its own Ed25519 node identity and sign records with
it, replay or edit records it relays, and send anything to a neighbour's
control port; it cannot compute a group's ctl-hmac.  Formats: docs/PROTOCOL.md
section 10 (control) and section 1 (data plane).

  adv_cp.py keygen KEYFILE                 32-byte Ed25519 seed; prints node id
  adv_cp.py pk --key K --addr A [--seqno N] [--origin HEX] [--time-offset S]
                [--lifetime S]                                      > TLV
  adv_cp.py sek (--key K | --origin HEX --bad-sig) --src S --group G
                [--key-id N] [--seqno N] [--epoch N] [--wrapped HEX]
                [--hmac HEX] [--time-offset S] [--lifetime S]       > TLV
                origin time = now + S seconds (signed, docs/PROTOCOL.md 10.3)
  adv_cp.py extract PCAP                   JSON list of the SEK Announce TLVs
                                           (hex) in UDP port 6698 payloads
  adv_cp.py resign TLVHEX --key K [--src S] [--seqno N]            > TLV
                keeps wrapped SEK and HMAC, new origin and signature
  adv_cp.py setseq TLVHEX --seqno N                                > TLV
                (signature no longer matches)
  adv_cp.py settime TLVHEX --time-offset S                         > TLV
                origin time + S seconds (signature no longer matches)
  adv_cp.py pkt FILE...                    the TLV files in one packet > packet
  adv_cp.py raw HEX                        bytes > stdout
  adv_cp.py send [--hops N] [--dst ADDR] IFACE FILE...
                                           each FILE as one datagram to ADDR
                                           (ff02::6d:7) port 6698, hop limit N (255)
  adv_cp.py flood IFACE --src S --group G --port P --pps N --seconds T
                [--key-id N]               garbage GEM-looking IPv4/UDP frames
                                           (AF_PACKET); JSON {sent, pps}
"""
import argparse
import hashlib
import ipaddress
import json
import os
import socket
import struct
import sys
import time

CP_PORT = 6698
SOL_PACKET = 263            # linux/socket.h
PACKET_QDISC_BYPASS = 20    # linux/if_packet.h
CP_GROUP = "ff02::6d:7"


def a16(s):
    ip = ipaddress.ip_address(s)
    if ip.version == 4:
        return ipaddress.IPv6Address("::ffff:" + s).packed
    return ip.packed


def load_key(path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives import serialization
    k = Ed25519PrivateKey.from_private_bytes(open(path, "rb").read())
    pub = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return k, pub


def node_id(pub):
    return hashlib.sha256(b"GEM v1 node-id\0" + pub).digest()[:8]


def out(b):
    sys.stdout.buffer.write(b)


def tlv(t, body):
    return bytes([t, len(body)]) + body


# Record header (docs/PROTOCOL.md 10.3): origin (8), seqno (4), origin time
# (8, ms since 1970), lifetime (4), flags (1); everything before the
# signature is signed.  Offsets in a record body:
OFF_SEQNO, OFF_TIME, OFF_LIFETIME = 8, 12, 20
PK_SIG, PK_LEN = 73, 137
SEK_SRC, SEK_HMAC, SEK_SIG, SEK_LEN = 26, 88, 120, 184


def rec_hdr(origin, seqno, offset_s, lifetime):
    t = int(time.time() * 1000) + int(offset_s * 1000)
    return origin + struct.pack(">IQIB", seqno, t, lifetime, 0)


def cmd_keygen(a):
    seed = os.urandom(32)
    with open(a.keyfile, "wb") as f:
        f.write(seed)
    print(node_id(load_key(a.keyfile)[1]).hex())


def cmd_pk(a):
    k, pub = load_key(a.key)
    origin = bytes.fromhex(a.origin) if a.origin else node_id(pub)
    body = rec_hdr(origin, a.seqno, a.time_offset, a.lifetime)
    body += a16(a.addr) + pub
    assert len(body) == PK_SIG
    sig = k.sign(b"GEM v1 pubkey-sig\0" + body)
    out(tlv(224, body + sig))


def sek_sign(body, key):
    k, _ = load_key(key)
    return k.sign(b"GEM v1 sek-sig\0" + body[:SEK_SIG])


def cmd_sek(a):
    if a.key:
        origin = node_id(load_key(a.key)[1])
    else:
        origin = bytes.fromhex(a.origin)
    body = rec_hdr(origin, a.seqno, a.time_offset, a.lifetime)
    body += bytes([a.suite]) + a16(a.src) + a16(a.group) + struct.pack(">HI", a.key_id, a.epoch)
    body += bytes.fromhex(a.wrapped) if a.wrapped else os.urandom(24)
    body += bytes.fromhex(a.hmac) if a.hmac else os.urandom(32)
    assert len(body) == SEK_SIG
    sig = os.urandom(64) if a.bad_sig or not a.key else sek_sign(body, a.key)
    out(tlv(225, body + sig))


def udp_payloads(path):
    """UDP payloads to/from CP_PORT in a pcap (Ethernet, raw IP or Linux SLL)."""
    d = open(path, "rb").read()
    magic = struct.unpack("<I", d[:4])[0]
    e = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    link = struct.unpack(e + "I", d[20:24])[0]
    off = 24
    while off + 16 <= len(d):
        _, _, incl, _ = struct.unpack(e + "IIII", d[off:off + 16])
        p = d[off + 16:off + 16 + incl]
        off += 16 + incl
        if link == 1:
            p = p[14:]
        elif link == 113:
            p = p[16:]
        elif link == 276:
            p = p[20:]
        if not p:
            continue
        v = p[0] >> 4
        if v == 6 and len(p) >= 48 and p[6] == 17:
            u = p[40:]
        elif v == 4 and p[9] == 17:
            u = p[(p[0] & 15) * 4:]
        else:
            continue
        sp, dp = struct.unpack(">HH", u[:4])
        if CP_PORT in (sp, dp):
            yield u[8:]


def tlvs(pkt):
    if len(pkt) < 4 or pkt[0] != 42:
        return
    n = struct.unpack(">H", pkt[2:4])[0]
    b = pkt[4:4 + n]
    i = 0
    while i < len(b):
        if b[i] == 0:
            i += 1
            continue
        if i + 2 > len(b) or i + 2 + b[i + 1] > len(b):
            return
        yield b[i], b[i + 2:i + 2 + b[i + 1]]
        i += 2 + b[i + 1]


def cmd_extract(a):
    seen = []
    for p in udp_payloads(a.pcap):
        for t, body in tlvs(p):
            if t == 225 and len(body) == SEK_LEN:
                h = tlv(t, body).hex()
                if h not in seen:
                    seen.append(h)
    print(json.dumps(seen))


def cmd_resign(a):
    body = bytearray(bytes.fromhex(a.tlv)[2:])
    _, pub = load_key(a.key)
    body[0:8] = node_id(pub)
    if a.seqno is not None:
        body[OFF_SEQNO:OFF_SEQNO + 4] = struct.pack(">I", a.seqno)
    if a.src:
        body[SEK_SRC:SEK_SRC + 16] = a16(a.src)
    body[SEK_SIG:SEK_LEN] = sek_sign(bytes(body), a.key)
    out(tlv(225, bytes(body)))


def cmd_setseq(a):
    body = bytearray(bytes.fromhex(a.tlv)[2:])
    body[OFF_SEQNO:OFF_SEQNO + 4] = struct.pack(">I", a.seqno)
    out(tlv(225, bytes(body)))


def cmd_settime(a):
    body = bytearray(bytes.fromhex(a.tlv)[2:])
    t = struct.unpack(">Q", body[OFF_TIME:OFF_TIME + 8])[0] + int(a.time_offset * 1000)
    body[OFF_TIME:OFF_TIME + 8] = struct.pack(">Q", t)
    out(tlv(225, bytes(body)))


def cmd_pkt(a):
    b = b"".join(open(f, "rb").read() for f in a.files)
    out(bytes([42, 2]) + struct.pack(">H", len(b)) + b)


def cmd_raw(a):
    out(bytes.fromhex(a.hex))


def cmd_send(a):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    idx = socket.if_nametoindex(a.iface)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, a.hops)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, a.hops)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
    for f in a.files:
        s.sendto(open(f, "rb").read(), (a.dst, CP_PORT, 0, idx))
        time.sleep(0.05)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def cmd_flood(a):
    g = ipaddress.IPv4Address(a.group)
    dmac = bytes([1, 0, 0x5e]) + bytes([g.packed[1] & 0x7f]) + g.packed[2:]
    smac = bytes.fromhex(open("/sys/class/net/%s/address" % a.iface).read().strip().replace(":", ""))
    frames = []
    for i in range(512):
        plen = 28 + (i * 37) % 900
        pl = bytearray(os.urandom(plen))
        kind = i % 4
        if kind == 0:     # well-formed GEM header, current key id, random pn/ciphertext/tag
            pl[0:4] = bytes([1, 1]) + struct.pack(">H", a.key_id)
        elif kind == 1:   # valid header, unknown key id
            pl[0:4] = bytes([1, 1]) + struct.pack(">H", 0xfff0 + i % 8)
        elif kind == 2:   # bad version/suite
            pl[0] = 0x55
        else:             # too short to hold a header and a tag
            pl = pl[:i % 27]
        udp = struct.pack(">HHHH", 40000 + i, a.port, 8 + len(pl), 0) + bytes(pl)
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 8, 17, 0,
                         ipaddress.IPv4Address(a.src).packed, g.packed)
        ip = ip[:10] + struct.pack(">H", csum(ip)) + ip[12:]
        frames.append(dmac + smac + b"\x08\x00" + ip + udp)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    # straight onto the wire, past this namespace's qdisc and TC egress: the
    # attacker is on the link, not a process of the router (whose GEM egress
    # drops what is not a GEM packet of a transit group: tx_transit_clear)
    s.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
    sent = errors = 0
    t0 = time.monotonic()
    end = t0 + a.seconds
    batch = 256
    while True:
        now = time.monotonic()
        if now >= end:
            break
        due = int((now - t0) * a.pps)
        if sent >= due:
            time.sleep(0.0005)
            continue
        for f in frames[sent % 512:sent % 512 + min(batch, due - sent)]:
            try:
                s.send(f)
                sent += 1
            except OSError:
                errors += 1
    el = time.monotonic() - t0
    print(json.dumps({"sent": sent, "errors": errors, "seconds": round(el, 2),
                      "pps": round(sent / el)}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    x = sub.add_parser("keygen")
    x.add_argument("keyfile")
    x = sub.add_parser("pk")
    x.add_argument("--key", required=True)
    x.add_argument("--addr", required=True)
    x.add_argument("--seqno", type=int, default=1)
    x.add_argument("--origin")
    x.add_argument("--time-offset", type=float, default=0)
    x.add_argument("--lifetime", type=int, default=3600)
    x = sub.add_parser("sek")
    x.add_argument("--key")
    x.add_argument("--origin")
    x.add_argument("--bad-sig", action="store_true")
    x.add_argument("--src", required=True)
    x.add_argument("--group", required=True)
    x.add_argument("--suite", type=int, default=1)
    x.add_argument("--key-id", type=int, default=1)
    x.add_argument("--seqno", type=int, default=1)
    x.add_argument("--epoch", type=int, default=0)
    x.add_argument("--wrapped")
    x.add_argument("--hmac")
    x.add_argument("--time-offset", type=float, default=0)
    x.add_argument("--lifetime", type=int, default=3600)
    x = sub.add_parser("extract")
    x.add_argument("pcap")
    x = sub.add_parser("resign")
    x.add_argument("tlv")
    x.add_argument("--key", required=True)
    x.add_argument("--src")
    x.add_argument("--seqno", type=int)
    x = sub.add_parser("setseq")
    x.add_argument("tlv")
    x.add_argument("--seqno", type=int, required=True)
    x = sub.add_parser("settime")
    x.add_argument("tlv")
    x.add_argument("--time-offset", type=float, required=True)
    x = sub.add_parser("pkt")
    x.add_argument("files", nargs="+")
    x = sub.add_parser("raw")
    x.add_argument("hex")
    x = sub.add_parser("send")
    x.add_argument("--hops", type=int, default=255)
    x.add_argument("--dst", default=CP_GROUP)
    x.add_argument("iface")
    x.add_argument("files", nargs="+")
    x = sub.add_parser("flood")
    x.add_argument("iface")
    x.add_argument("--src", required=True)
    x.add_argument("--group", required=True)
    x.add_argument("--port", type=int, required=True)
    x.add_argument("--pps", type=int, default=50000)
    x.add_argument("--seconds", type=float, default=5)
    x.add_argument("--key-id", type=int, default=1)
    a = p.parse_args()
    globals()["cmd_" + a.cmd](a)


if __name__ == "__main__":
    main()
