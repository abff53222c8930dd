#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/fuzz_ikev1_input.c
(tests/fuzz/corpus/fuzz_ikev1_input/): record lists (see the target's header) that
drive two tsunagi cores through Main Mode answers, Quick Mode and Informational
messages encrypted with the SA's keys (the target writes the right HASH(1)), NAT-T,
another Quick Mode and the timers; and strongSwan's own unencrypted IKEv1 messages
(tests/fuzz/corpus/fuzz_isakmp/strongswan-v1-*, from tests/interop/capture-seeds.sh
with IKEV=1) sent to the matching stage. Run from the top of the tree."""
import glob
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_isakmp_seeds as g  # noqa: E402  (the ISAKMP layout helpers)

OUT = "tests/fuzz/corpus/fuzz_ikev1_input"
PRF_LEN = 32    # the harness configs: aes128-sha256-modp2048, ESP aes128-sha1


def rec(op, data=b""):
    return struct.pack("!BH", op, len(data)) + data


def enc(exchange, ivsel, msgid, items):
    """An op-4/5 body: exchange selector, IV selector, message ID, first, chain."""
    first, body = g.chain(items)
    return bytes([exchange, ivsel]) + struct.pack("!I", msgid) + bytes([first]) + body


HASH = (8, bytes(PRF_LEN))      # zeros: the target writes HASH(1)
mm_sa = g.sa([g.proposal(True, 1, 1, b"", [(1, g.p1_attrs(7, 128, 4, 14, 10800))])])
esp = lambda encap: g.sa([g.proposal(True, 1, 3, b"\xc1\x2b\x00\x11",  # noqa: E731
                                     [(12, g.p2_attrs(2, 128, encap))])])
ids = [(5, bytes([4, 0, 0, 0, 10, 1, 0, 0, 255, 255, 255, 0])),
       (5, bytes([4, 0, 0, 0, 10, 2, 0, 0, 255, 255, 255, 0]))]
nonce = bytes(range(32))
cookies = bytes(16)

seeds = {}
seeds["s0-mm1"] = bytes([0]) + rec(0, g.seeds["mm1"]) + rec(6)
seeds["s0-mm1-natt-port"] = bytes([8]) + rec(8, g.seeds["mm1"]) + rec(6)
f, b = g.chain([(1, mm_sa), (13, bytes.fromhex("4a131c81070358455c5728f20e95452f"))])
seeds["s1-mm2"] = bytes([1]) + rec(3, g.header(f, 2, 0, 0, b, cky_r=bytes(range(9, 17)))) + rec(6)
seeds["s2-mm5-to-b"] = bytes([2]) + rec(4, enc(2, 2, 0, [
    (5, bytes([1, 17, 1, 244, 192, 0, 2, 1])), HASH])) + rec(6)
seeds["s2-mm6-to-a"] = bytes([2]) + rec(5, enc(2, 2, 0, [
    (5, bytes([1, 17, 1, 244, 198, 51, 100, 2])), HASH])) + rec(6)
qm1 = [HASH, (1, esp(1)), (10, nonce)] + ids
seeds["s3-qm1-to-b"] = bytes([3]) + rec(4, enc(0, 0, 0x01020304, qm1)) + rec(6)
seeds["s3-qm1-to-a"] = bytes([3]) + rec(5, enc(0, 0, 0x0a0b0c0d, qm1)) + rec(6)
seeds["s3-qm1-natt"] = bytes([11]) + rec(4, enc(0, 0, 0x01020305, [
    HASH, (1, esp(3)), (10, nonce)] + ids + [
    (21, bytes([1, 0, 0, 0, 192, 0, 2, 1])), (21, bytes([1, 0, 0, 0, 198, 51, 100, 2]))])) + rec(6)
seeds["s3-qm-pfs-ke"] = bytes([3]) + rec(4, enc(0, 0, 0x01020306, [
    HASH, (1, esp(1)), (10, nonce), (4, bytes(256))] + ids)) + rec(6)
seeds["s3-info-delete"] = bytes([3]) + rec(4, enc(1, 0, 0x11223344, [
    HASH, (12, struct.pack("!IBBH", 1, 3, 4, 1) + b"\xa0\x00\x00\x01"),
    (12, struct.pack("!IBBH", 1, 1, 16, 1) + cookies)])) + rec(6)
seeds["s3-info-notify"] = bytes([3]) + rec(4, enc(1, 0, 0x55667788, [
    HASH, (11, struct.pack("!IBBH", 1, 1, 16, 24578) + cookies),
    (11, struct.pack("!IBBH", 1, 1, 16, 36136) + cookies + struct.pack("!I", 7))])) + rec(6)
seeds["s3-qm3-active"] = bytes([3]) + rec(7, bytes([2])) + rec(4, enc(0, 1, 0, [HASH])) + rec(6)
seeds["s3-timers"] = bytes([3]) + rec(7, bytes([2])) + rec(7, bytes([1, 60])) + rec(6)
# Remote access (bit 4 of the first byte): XAuth and Mode Config Transaction messages.
RA = 0x10
def cfg(kind, ident, attrs):
    return (14, struct.pack("!BBH", kind, 0, ident) + attrs)
xauth_reply = cfg(2, 0, g.var(16521, b"alice") + g.var(16522, b"alice-pw"))
seeds["ra2-xauth-reply-to-b"] = bytes([2 | RA]) + rec(4, enc(6, 3, 0, [HASH, xauth_reply])) + rec(6)
seeds["ra2-xauth-reply-wrong"] = bytes([2 | RA]) + rec(4, enc(6, 3, 0, [
    HASH, cfg(2, 0, g.var(16521, b"alice") + g.var(16522, b"nope") + g.var(0x3f00, b"?"))])) + rec(6)
seeds["ra2-xauth-request-to-a"] = bytes([2 | RA]) + rec(5, enc(6, 0, 0x21222324, [
    HASH, cfg(1, 77, g.basic(16520, 0) + g.var(16521, b"") + g.var(16522, b""))])) + rec(6)
seeds["ra3-modecfg-request-to-b"] = bytes([3 | RA]) + rec(4, enc(6, 0, 0x31323334, [
    HASH, cfg(1, 5, g.var(1, b"") + g.var(3, b"") + g.var(28676, b"") + g.var(1, b""))])) + rec(6)
seeds["ra3-modecfg-set-to-a"] = bytes([3 | RA]) + rec(5, enc(6, 0, 0x41424344, [
    HASH, cfg(3, 6, g.var(1, bytes([10, 3, 0, 9])) + g.var(3, bytes([10, 2, 0, 53])))])) + rec(6)
seeds["ra3-timers"] = bytes([3 | RA]) + rec(7, bytes([1, 200])) + rec(6)

# strongSwan's own clear messages (captured): Main Mode to the stage that waits for it.
for path in sorted(glob.glob("tests/fuzz/corpus/fuzz_isakmp/strongswan-v1-*.bin")):
    msg = open(path, "rb").read()
    if len(msg) < 28 or msg[19] & 1 or msg[18] != 2:
        continue
    name = os.path.basename(path)[:-4]
    zero_r = msg[8:16] == bytes(8)
    if zero_r:    # an MM1: to b, bare
        seeds["s0-" + name] = bytes([0]) + rec(0, msg) + rec(6)
    else:         # an answer or MM3: to a waiting for MM2, and to b (cookies its SA's)
        seeds["s1-" + name] = bytes([1]) + rec(3, msg) + rec(6)

if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as fh:
            fh.write(data)
    print(f"wrote {len(seeds)} seeds to {OUT}")
