#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_nat_translate: hand-built packet sequences
(a flow and its replies, ICMP errors quoting them, fragments, forwards, hairpin,
malformed headers) in the target's record format:
  [side: 0 inside / 1 outside] [time step, 10 ms] [length: 2, big endian] [packet]
Run from the source tree: python3 tests/fuzz/gen_nat_seeds.py"""
import os
import socket
import struct

CORPUS = os.path.join(os.path.dirname(__file__), "corpus", "fuzz_nat_translate")
GW, R = "203.0.113.1", "198.18.0.7"


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ip(src, dst, proto, payload, ident=0x1234, frag=0):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def pseudo(src, dst, proto, n):
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, n)


def tcp(src, sp, dst, dp, flags, seq=1, ack=0, win=65535, opts=b"", data=b""):
    off = (20 + len(opts)) // 4
    t = struct.pack("!HHIIBBHHH", sp, dp, seq, ack, off << 4, flags, win, 0, 0) + opts + data
    c = csum(pseudo(src, dst, 6, len(t)) + t)
    return ip(src, dst, 6, t[:16] + struct.pack("!H", c) + t[18:])


def udp(src, sp, dst, dp, data=b"x" * 20, frag=0, ident=0x1234):
    u = struct.pack("!HHHH", sp, dp, 8 + len(data), 0) + data
    c = csum(pseudo(src, dst, 17, len(u)) + u) or 0xffff
    return ip(src, dst, 17, u[:6] + struct.pack("!H", c) + u[8:], ident, frag)


def icmp(src, dst, typ, code, rest, body):
    m = struct.pack("!BBH", typ, code, 0) + rest + body
    c = csum(m)
    return ip(src, dst, 1, m[:2] + struct.pack("!H", c) + m[4:])


def echo(src, dst, typ, ident, seq=1):
    return icmp(src, dst, typ, 0, struct.pack("!HH", ident, seq), b"p" * 32)


def err(src, dst, typ, code, quoted):
    rest = struct.pack("!HH", 0, 1400) if (typ, code) == (3, 4) else b"\0" * 4
    return icmp(src, dst, typ, code, rest, quoted)


def ike(src, dst, spi_i):
    return udp(src, 500, dst, 500, spi_i + b"\0" * 8 + b"\x21\x20\x22\x08" + b"\0" * 8)


def esp(src, dst, spi):
    return ip(src, dst, 50, struct.pack("!II", spi, 1) + b"e" * 40)


def l2tp(src, dst, tunnel, tid):
    avps = struct.pack("!HHHH", 0x8008, 0, 0, 1) + struct.pack("!HHHH", 0x8008, 0, 9, tid)
    msg = struct.pack("!HHHHHH", 0xc802, 12 + len(avps), tunnel, 0, 0, 0) + avps
    return udp(src, 1701, dst, 1701, msg)


def rec(side, pkt, dt=1):
    return struct.pack("!BBH", side, dt, len(pkt)) + pkt


IN, OUT = 0, 1
syn = tcp("10.1.0.10", 40000, R, 443, 0x02, opts=bytes([1, 3, 3, 7]))
syn2 = tcp("10.1.0.11", 40000, R, 443, 0x02)
synack = tcp(R, 443, GW, 40000, 0x12, 5000, 2, opts=bytes([1, 3, 3, 7]))
ack = tcp("10.1.0.10", 40000, R, 443, 0x10, 2, 5001, data=b"GET / HTTP/1.0\r\n\r\n")
rst = tcp(R, 443, GW, 40000, 0x04, 5001 + 30000)
fin = tcp("10.1.0.10", 40000, R, 443, 0x11, 20, 5001)
u = udp("10.1.0.10", 500, R, 500)
first = udp("10.1.0.10", 7777, R, 9999, b"f" * 1472, frag=0x2000, ident=0x4242)
first = first[:2] + struct.pack("!H", 1500) + first[4:1500]
first = first[:10] + b"\0\0" + first[12:]
first = first[:10] + struct.pack("!H", csum(first[:20])) + first[20:]
later = ip("10.1.0.10", R, 17, b"l" * 600, 0x4242, 185)

seeds = {
    "tcp-handshake": rec(IN, syn) + rec(OUT, synack) + rec(IN, ack) + rec(IN, fin),
    "tcp-two-hosts-rst": rec(IN, syn) + rec(IN, syn2) + rec(OUT, synack) + rec(OUT, rst),
    "udp-ike-ports": rec(IN, u) + rec(IN, udp("10.1.0.10", 4500, R, 4500)) +
        rec(OUT, udp(R, 500, GW, 500)),
    "icmp-echo": rec(IN, echo("10.1.0.10", R, 8, 77)) + rec(IN, echo("10.1.0.11", R, 8, 77)) +
        rec(OUT, echo(R, GW, 0, 77)) + rec(OUT, echo(R, GW, 8, 5)),
    "icmp-frag-needed": rec(IN, syn) + rec(OUT, err("192.0.2.99", GW, 3, 4, tcp(
        GW, 40000, R, 443, 0x02))),
    "icmp-port-unreach-8": rec(IN, u) + rec(OUT, err(R, GW, 3, 3, udp(GW, 1024, R, 500)[:28])),
    "icmp-time-exceeded-echo": rec(IN, echo("10.1.0.10", R, 8, 900)) +
        rec(OUT, err("192.0.2.1", GW, 11, 0, echo(GW, R, 8, 900))),
    "icmp-error-from-inside": rec(OUT, udp(R, 7000, "198.51.100.7", 161)) +
        rec(IN, err("10.1.9.7", R, 3, 3, udp(R, 7000, "198.51.100.7", 161))),
    "forward": rec(OUT, tcp(R, 5555, GW, 8080, 0x02)) + rec(IN, tcp("10.1.0.5", 80, R, 5555, 0x12)),
    "hairpin": rec(IN, tcp("10.1.0.20", 33000, GW, 8080, 0x02)) +
        rec(IN, tcp("10.1.0.5", 80, GW, 1024, 0x12)),
    "static-gre": rec(OUT, udp(R, 4000, "198.51.100.7", 69)) + rec(IN, ip("10.1.9.8", R, 47, b"g" * 40)),
    "dynamic": rec(IN, udp("10.1.3.5", 500, R, 500)) + rec(IN, udp("10.1.3.6", 500, R, 500)) +
        rec(IN, udp("10.1.3.7", 500, R, 500)) + rec(OUT, udp(R, 500, "192.0.2.10", 500)),
    "exempt": rec(IN, tcp("10.1.0.10", 1, "10.99.0.1", 22, 0x02)),
    "fragments": rec(IN, first) + rec(IN, later) + rec(IN, later, 255),
    "malformed": rec(IN, b"\x46" + syn[1:]) + rec(IN, syn[:30]) + rec(IN, b"\x45") +
        rec(OUT, err(R, GW, 3, 3, b"\x4f" + u[1:30])),
    "expire": rec(IN, u) + struct.pack("!BBH", 0, 255, 0) + b"" + rec(OUT, udp(R, 500, GW, 1024), 0xee),
    # IKE/ESP pass-through (nat/ipsec_pt.c): two clients' IKE from 500 to one server,
    # answers by initiator SPI, raw ESP learned both ways, an ICMP error about ESP.
    "ipsec-passthrough": rec(IN, ike("10.1.0.10", R, b"A" * 8)) + rec(IN, ike("10.1.0.11", R, b"B" * 8)) +
        rec(OUT, ike(R, GW, b"B" * 8)) + rec(OUT, ike(R, GW, b"C" * 8)) +
        rec(IN, esp("10.1.0.10", R, 0xc0000001)) + rec(OUT, esp(R, GW, 0xa0000002)) +
        rec(IN, ike("10.1.0.10", R, b"D" * 8)) + rec(OUT, esp(R, GW, 0xa0000001)) +
        rec(OUT, err("192.0.2.99", GW, 3, 4, esp(GW, R, 0xc0000001)[:28])) +
        rec(OUT, err("192.0.2.99", GW, 3, 3, ike(GW, R, b"A" * 8)[:44])) +
        rec(IN, esp("10.1.0.11", R, 7)),
    # L2TP pass-through (nat/l2tp_pt.c): two SCCRQs to one LNS, its answers by tunnel ID.
    "l2tp-passthrough": rec(IN, l2tp("10.1.0.10", R, 0, 0x1111)) + rec(IN, l2tp("10.1.0.11", R, 0, 0x2222)) +
        rec(OUT, l2tp(R, GW, 0x2222, 0x0a0a)) + rec(OUT, l2tp(R, GW, 0x1111, 0x0b0b)) +
        rec(OUT, udp(R, 1701, GW, 1701, struct.pack("!HHH", 2, 0x3333, 7) + b"d" * 20)) +
        rec(IN, l2tp("10.1.0.12", R, 0, 0x1111)),
}
os.makedirs(CORPUS, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(CORPUS, name), "wb") as f:
        f.write(data)
print("wrote %d seeds to %s" % (len(seeds), CORPUS))
