#!/usr/bin/env python3
# cp_ping.py SRC DST [WAIT [PAYLOAD_HEX]]: one ICMP or ICMPv6 echo from SRC
# to DST (payload: PAYLOAD_HEX repeated to 56 bytes); exit 0 if the reply
# arrives within WAIT seconds (default 1).  cp_lib.sh uses it when iputils
# ping is not installed.
import os, socket, struct, sys, time

src, dst = sys.argv[1], sys.argv[2]
wait = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
v6 = ":" in dst
if v6:
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    req, rep = 128, 129
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    req, rep = 8, 0
s.bind((src, 0))
ident = os.getpid() & 0xffff
payload = b"gem-cp-test"
if len(sys.argv) > 4:
    pat = bytes.fromhex(sys.argv[4])
    payload = (pat * (56 // len(pat) + 1))[:56]
msg = struct.pack("!BBHHH", req, 0, 0, ident, 1) + payload
if not v6:  # the kernel computes the ICMPv6 checksum, not the ICMP one
    padded = msg + b"\0" * (len(msg) % 2)
    c = sum(struct.unpack("!%dH" % (len(padded) // 2), padded))
    c = (c >> 16) + (c & 0xffff)
    c += c >> 16
    msg = msg[:2] + struct.pack("!H", ~c & 0xffff) + msg[4:]
s.sendto(msg, (dst, 0))
end = time.time() + wait
while time.time() < end:
    s.settimeout(max(0.01, end - time.time()))
    try:
        data, _ = s.recvfrom(2048)
    except socket.timeout:
        break
    if not v6:
        data = data[(data[0] & 0x0f) * 4:]  # IPv4 raw sockets include the IP header
    if len(data) >= 8 and data[0] == rep and struct.unpack("!H", data[4:6])[0] == ident:
        sys.exit(0)
sys.exit(1)
