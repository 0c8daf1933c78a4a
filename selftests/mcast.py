#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Multicast sender, receiver and capture checks for GEM's netns selftests.

  mcast.py send  --group G --port P --iface IF --tag TAG --count N --rate PPS
                 [--src ADDR] [--max-len L | --len L] [--ttl T] [--no-udp-csum]
                 [--until FILE ...] [--timeout S] [--mark K:FILE ...]
  mcast.py recv  --group G --port P --iface IF --tag TAG --out FILE
                 [--expect N] [--max-len L | --len L] [--timeout S] [--linger S]
                 [--ready FILE]          (SIGTERM: stop now and report)
  mcast.py wan   PCAP --group G --port P --count N [--max-len L | --len L]
                 (--suite S | --clear --tag TAG)
  mcast.py same  PCAP_A PCAP_B --group G --port P --tag TAG
  mcast.py count PCAP --group G [--port P]
  mcast.py grep  PCAP MARKER...

Payload of packet `seq` (the "plaintext pattern"), L bytes, L >= 22:

  0   tag (16 ASCII bytes, unique per test run and stream)
  16  seq (4 bytes, big-endian)
  20  L (2 bytes, big-endian)
  22  16-byte chunks k = 0, 1, ...: tag[:14] || k & 0xff || seq & 0xff, cut at L

so every payload carries the marker tag[:14] every 16 bytes: a capture that
holds any 30 consecutive plaintext bytes of a packet holds the marker.  L is
a function of seq (plen), or fixed with --len; every payload is therefore
known to the receiver, which checks each byte.

send --until: stop once every FILE exists (probing until receivers report);
--mark K:FILE: create FILE once K packets are sent (to act during a stream).
Every command prints one JSON object on stdout (the shell test reads it with jq).
"""
import argparse
import json
import os
import select
import signal
import socket
import struct
import sys
import time

MIN_LEN = 22


def plen(seq, max_len, fixed=None):
    """Payload length of packet seq: the maximum every 50th packet (seq 0
    included), else spread over [MIN_LEN, max_len] (odd and even lengths)."""
    if fixed is not None:
        return fixed
    if seq % 50 == 0:
        return max_len
    return MIN_LEN + (seq * 7919) % (max_len - MIN_LEN + 1)


def payload(tag, seq, length):
    t = tag.encode()
    assert len(t) == 16 and length >= MIN_LEN
    out = bytearray(t + struct.pack(">IH", seq, length))
    k = 0
    while len(out) < length:
        out += t[:14] + bytes([k & 0xFF, seq & 0xFF])
        k += 1
    return bytes(out[:length])


def family(group):
    return socket.AF_INET6 if ":" in group else socket.AF_INET


def emit(obj, path=None):
    text = json.dumps(obj, sort_keys=True)
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.rename(tmp, path)	# readers never see a partial result
    print(text, flush=True)


# ---- sender -----------------------------------------------------------------

def cmd_send(a):
    af = family(a.group)
    ifindex = socket.if_nametoindex(a.iface)
    s = socket.socket(af, socket.SOCK_DGRAM)
    if af == socket.AF_INET:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                     struct.pack("=4s4si", b"\0" * 4, b"\0" * 4, ifindex))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, a.ttl)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        if a.no_udp_csum:
            s.setsockopt(socket.SOL_SOCKET, 11, 1)	# SO_NO_CHECK: UDP checksum 0
        if a.src:
            s.bind((a.src, 0))
        dst = (a.group, a.port)
    else:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, a.ttl)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        if a.src:
            s.bind((a.src, 0, 0, 0))
        dst = (a.group, a.port, 0, 0)
    sent = errors = 0
    t0 = time.monotonic()
    deadline = t0 + a.timeout
    seq = 0
    while seq < a.count:
        if a.until and all(os.path.exists(f) for f in a.until):
            break
        now = time.monotonic()
        if now > deadline:
            break
        wait = t0 + seq / a.rate - now
        if wait > 0:
            time.sleep(wait)
        try:
            s.sendto(payload(a.tag, seq, plen(seq, a.max_len, a.len)), dst)
            sent += 1
        except OSError:
            errors += 1
        seq += 1
        for k, f in a.mark:
            if seq == k:
                open(f, "w").close()
    dt = time.monotonic() - t0
    emit({"sent": sent, "errors": errors, "seconds": round(dt, 3),
          "pps": round(sent / dt, 1) if dt > 0 else 0,
          "done": bool(a.until) and all(os.path.exists(f) for f in a.until)})
    return 0


# ---- receiver ---------------------------------------------------------------

class Stop(Exception):
    pass


def on_term(sig, frame):
    raise Stop()


def cmd_recv(a):
    af = family(a.group)
    ifindex = socket.if_nametoindex(a.iface)
    s = socket.socket(af, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:	# beyond net.core.rmem_max (root): a receiver stalled for a
        # moment by a busy CPU must not lose packets the network delivered
        s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)	# SO_RCVBUFFORCE
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    if af == socket.AF_INET:
        s.bind((a.group, a.port))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                     socket.inet_aton(a.group) + b"\0" * 4 + struct.pack("=i", ifindex))
    else:
        s.bind((a.group, a.port, 0, 0))
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                     socket.inet_pton(af, a.group) + struct.pack("=I", ifindex))
    if a.ready:
        open(a.ready, "w").close()
    tag = a.tag.encode()
    seen = {}
    received = dup = bad = other = 0
    bad_example = None
    t0 = time.monotonic()
    end = t0 + a.timeout
    signal.signal(signal.SIGTERM, on_term)
    try:
        while True:
            now = time.monotonic()
            if now >= end:
                break
            r, _, _ = select.select([s], [], [], end - now)
            if not r:
                continue
            data = s.recv(65536)
            if data[:16] != tag or len(data) < MIN_LEN:
                other += 1
                continue
            received += 1
            seq = struct.unpack(">I", data[16:20])[0]
            want = payload(a.tag, seq, plen(seq, a.max_len, a.len))
            if data != want:
                bad += 1
                if bad_example is None:
                    i = next((i for i in range(min(len(data), len(want)))
                              if data[i] != want[i]), min(len(data), len(want)))
                    bad_example = {"seq": seq, "len": len(data), "want_len": len(want),
                                   "first_diff": i}
                continue
            if seq in seen:
                dup += 1
            seen[seq] = 1
            # all expected packets in: linger to catch duplicates, then stop
            if a.expect and len(seen) >= a.expect and end > time.monotonic() + a.linger:
                end = time.monotonic() + a.linger
    except Stop:	# stopped from outside: report what came so far
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    missing = [i for i in range(a.expect) if i not in seen] if a.expect else []
    emit({"received": received, "unique": len(seen), "duplicates": dup, "bad": bad,
          "other": other, "missing": len(missing), "first_missing": missing[:10],
          "bad_example": bad_example, "max_seq": max(seen) if seen else None,
          "seconds": round(time.monotonic() - t0, 3)}, a.out)
    return 0


# ---- pcap reading -------------------------------------------------------------

def read_pcap(path):
    """Frames of a classic pcap file (tcpdump -w), Ethernet link type.  A
    record cut short by a capture still being written is ignored."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise SystemExit("%s: not a pcap file" % path)
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0xFFFF
    if linktype != 1:
        raise SystemExit("%s: link type %d, want Ethernet (1)" % (path, linktype))
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        if off + 16 + incl > len(data):
            break
        yield data[off + 16:off + 16 + incl]
        off += 16 + incl


def parse(frame):
    """(family, src, dst, ip header bytes, udp datagram bytes) of a UDP frame,
    or None.  Addresses are text."""
    et = struct.unpack(">H", frame[12:14])[0]
    l3 = 14
    if et == 0x8100:
        et = struct.unpack(">H", frame[16:18])[0]
        l3 = 18
    ip = frame[l3:]
    if et == 0x0800 and len(ip) >= 20:
        ihl = (ip[0] & 15) * 4
        tot = struct.unpack(">H", ip[2:4])[0]
        if ip[9] != 17 or struct.unpack(">H", ip[6:8])[0] & 0x3FFF:
            return None
        return (4, socket.inet_ntop(socket.AF_INET, ip[12:16]),
                socket.inet_ntop(socket.AF_INET, ip[16:20]), ip[:ihl], ip[ihl:tot])
    if et == 0x86DD and len(ip) >= 40:
        if ip[6] != 17:
            return None
        pl = struct.unpack(">H", ip[4:6])[0]
        return (6, socket.inet_ntop(socket.AF_INET6, ip[8:24]),
                socket.inet_ntop(socket.AF_INET6, ip[24:40]), ip[:40], ip[40:40 + pl])
    return None


def norm(addr):
    return socket.inet_ntop(family(addr), socket.inet_pton(family(addr), addr))


def udp_of(path, group, port=None):
    """UDP datagrams to group (and port) in a capture, in capture order."""
    g = norm(group)
    out = []
    for fr in read_pcap(path):
        p = parse(fr)
        if p and p[2] == g and len(p[4]) >= 8 and \
                (port is None or struct.unpack(">H", p[4][2:4])[0] == port):
            out.append(p)
    return out


# ---- capture checks -----------------------------------------------------------

def cmd_wan(a):
    """What the WAN carried for one stream.  Sealed: per docs/PROTOCOL.md,
    UDP payload = GEM header (version, suite, key id, pn) || ciphertext ||
    16-byte tag, i.e. the plaintext length + 28."""
    pk = udp_of(a.pcap, a.group, a.port)
    want_lens = sorted(plen(i, a.max_len, a.len) for i in range(a.count))
    res = {"count": len(pk),
           "udp_csum_zero": sum(1 for p in pk if p[4][6:8] == b"\0\0")}
    if a.clear:
        got = {}
        exact = 0
        for p in pk:
            pl = p[4][8:]
            if pl[:16] == a.tag.encode() and len(pl) >= MIN_LEN:
                seq = struct.unpack(">I", pl[16:20])[0]
                if pl == payload(a.tag, seq, plen(seq, a.max_len, a.len)):
                    exact += 1
                    got[seq] = 1
        res.update({"exact": exact, "seqs": len(got),
                    "lens_match": sorted(len(p[4]) - 8 for p in pk) == want_lens})
    else:
        kids, pns, bad_hdr = [], set(), 0
        ordered = []
        for p in pk:
            u = p[4]
            if len(u) < 8 + 28 or u[8] != 1 or u[9] != a.suite:
                bad_hdr += 1
                continue
            kid, pn = struct.unpack(">HQ", u[10:20])
            kids.append(kid)
            pns.add((kid, pn))
            ordered.append((pn, kid))
        ordered.sort()
        # a stream's packet number runs on across rotations: in pn order,
        # key ids never go back
        monotone = all(ordered[i][1] <= ordered[i + 1][1] for i in range(len(ordered) - 1))
        res.update({"bad_header": bad_hdr, "key_ids": sorted(set(kids)),
                    "unique_nonces": len(pns) == len(kids),
                    "key_ids_monotone": monotone,
                    "pn_min": ordered[0][0] if ordered else None,
                    "pn_max": ordered[-1][0] if ordered else None,
                    "lens_match": sorted(len(p[4]) - 8 - 28 for p in pk) == want_lens})
    emit(res)
    return 0


def cmd_same(a):
    """The UDP datagrams (header with checksum, payload) of a stream are
    byte-identical in two captures, e.g. the sender's and the receiver's link."""
    def by_seq(path):
        m = {}
        for p in udp_of(path, a.group, a.port):
            u = p[4]
            if u[8:24] == a.tag.encode() and len(u) >= 8 + MIN_LEN:
                m.setdefault(struct.unpack(">I", u[24:28])[0], []).append(u)
        return m
    x, y = by_seq(a.pcap_a), by_seq(a.pcap_b)
    same = sum(1 for k in x if k in y and y[k][0] == x[k][0])
    emit({"a": len(x), "b": len(y), "identical": same,
          "b_duplicates": sum(len(v) - 1 for v in y.values())})
    return 0


def cmd_count(a):
    emit({"count": len(udp_of(a.pcap, a.group, a.port))})
    return 0


def cmd_grep(a):
    with open(a.pcap, "rb") as f:
        data = f.read()
    emit({m: data.count(m.encode()) for m in a.marker})
    return 0


def mark(text):
    k, _, f = text.partition(":")
    if not k.isdigit() or not f:
        raise argparse.ArgumentTypeError("'%s': K:FILE" % text)
    return int(k), f


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def stream(p, tag=True):
        p.add_argument("--group", required=True)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--max-len", type=int, default=1000)
        p.add_argument("--len", type=int)
        if tag:
            p.add_argument("--tag", required=True)

    p = sub.add_parser("send")
    stream(p)
    p.add_argument("--iface", required=True)
    p.add_argument("--src")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--rate", type=float, default=1000)
    p.add_argument("--ttl", type=int, default=8)
    p.add_argument("--no-udp-csum", action="store_true", help="IPv4: send UDP checksum 0")
    p.add_argument("--until", nargs="*", default=[])
    p.add_argument("--mark", type=mark, action="append", default=[])
    p.add_argument("--timeout", type=float, default=60)
    p = sub.add_parser("recv")
    stream(p)
    p.add_argument("--iface", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--expect", type=int, default=0)
    p.add_argument("--timeout", type=float, default=10)
    p.add_argument("--linger", type=float, default=0.3)
    p.add_argument("--ready")
    p = sub.add_parser("wan")
    p.add_argument("pcap")
    stream(p, tag=False)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--suite", type=int)
    p.add_argument("--clear", action="store_true")
    p.add_argument("--tag")
    p = sub.add_parser("same")
    p.add_argument("pcap_a")
    p.add_argument("pcap_b")
    stream(p)
    p = sub.add_parser("count")
    p.add_argument("pcap")
    p.add_argument("--group", required=True)
    p.add_argument("--port", type=int)
    p = sub.add_parser("grep")
    p.add_argument("pcap")
    p.add_argument("marker", nargs="+")
    a = ap.parse_args()
    if getattr(a, "tag", None) is not None and len(a.tag) != 16:
        ap.error("--tag must be 16 characters")
    if a.cmd == "wan" and (a.clear == (a.suite is not None) or (a.clear and not a.tag)):
        ap.error("wan: --suite S, or --clear --tag TAG")
    return {"send": cmd_send, "recv": cmd_recv, "wan": cmd_wan, "same": cmd_same,
            "count": cmd_count, "grep": cmd_grep}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
