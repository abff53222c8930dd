#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_nat_pptp: PPTP control conversations and their
GRE in the target's record format
  [what: bit 0 server, bit 1 client B, bit 2 GRE, bit 3 expire, bits 2+3 an ICMP
   error from that end quoting GRE as it got it, bits 4-7 seconds]
  [length: 1] [payload: TCP data of a control segment, or the GRE header and data]
Run from the source tree: python3 tests/fuzz/gen_pptp_seeds.py"""
import os
import struct

CORPUS = os.path.join(os.path.dirname(__file__), "corpus", "fuzz_nat_pptp")
LEN = {1: 156, 2: 156, 3: 16, 4: 16, 5: 16, 6: 20, 7: 168, 8: 32, 9: 220, 10: 24,
       11: 28, 12: 16, 13: 148, 14: 40, 15: 24}


def msg(t, f12=0, f14=0, length=None):
    n = LEN[t]
    b = struct.pack("!HHIHHHH", length or n, 1, 0x1A2B3C4D, t, 0, f12, f14)
    if t in (8, 10):
        b += b"\x01"     # Result Code: connected
    return b + bytes(n - len(b))


def rec(what, payload):
    out = b""
    while True:	# a record holds at most 255 bytes: longer data goes as several segments
        out += bytes([what, min(len(payload), 255)]) + payload[:255]
        payload = payload[255:]
        if not payload:
            return out


def gre(cid, data=b"\xff\x03\x00\x21" + bytes(16)):
    return struct.pack("!BBHHHI", 0x30, 0x01, 0x880B, len(data), cid, 1) + data


A, B, SRV = 0, 2, 1
seeds = {
    "two-clients-same-id":
        rec(A, msg(1, 0x0100)) + rec(A | SRV, msg(2, 0x0100)) +
        rec(B, msg(1, 0x0100)) + rec(B | SRV, msg(2, 0x0100)) +
        rec(A, msg(7, 1)) + rec(B, msg(7, 1)) +
        rec(A | SRV, msg(8, 100, 1)) + rec(B | SRV, msg(8, 100, 2)) +
        rec(A | 4, gre(100)) + rec(A | SRV | 4, gre(1)) + rec(B | SRV | 4, gre(2)) +
        rec(B | 4, gre(100)),
    "two-calls-teardown":
        rec(A, msg(1, 0x0100)) + rec(A, msg(7, 1)) + rec(A, msg(7, 2)) +
        rec(A | SRV, msg(8, 100, 1) + msg(8, 101, 2)) + rec(A | SRV, msg(14, 2) + msg(11, 1)) +
        rec(A, msg(15, 100)) + rec(A, msg(12, 1)) + rec(A | SRV, msg(13, 101)) +
        rec(A | SRV | 4, gre(2)) + rec(A | 8 | 0xf0, b""),
    "incoming-call":
        rec(A, msg(1, 0x0100)) + rec(A | SRV, msg(9, 300)) + rec(A, msg(10, 5, 300)) +
        rec(A | SRV, msg(11, 5)) + rec(A | SRV | 4, gre(5)) + rec(A | 4, gre(300)),
    "version-2": rec(A, msg(1, 0x0200)) + rec(A, msg(7, 1)) + rec(A | SRV, msg(8, 100, 1)),
    "short-and-cut":
        rec(A, msg(7, 1, length=8)[:16]) + rec(A, msg(7, 1)[:100]) +
        rec(A, msg(7, 1)[100:] + msg(5)) + rec(A, msg(8, 1, length=13)[:32]),
    "icmp-error-quoting-gre":
        rec(A, msg(1, 0x0100)) + rec(A | SRV, msg(2, 0x0100)) + rec(A, msg(7, 1)) +
        rec(A | SRV, msg(8, 100, 1)) + rec(A | 4, gre(100)) +
        rec(A | SRV | 12, gre(100)) + rec(A | SRV | 12, gre(100)[:8]) +
        rec(A | SRV | 4, gre(1)) + rec(A | 12, gre(1)) + rec(A | SRV | 12, gre(7)),
    "gre-v0": rec(A | 4, bytes([0x20, 0x00, 0x08, 0x00, 0, 0, 0, 1]) + bytes(8)),
}
os.makedirs(CORPUS, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(CORPUS, name), "wb") as f:
        f.write(data)
