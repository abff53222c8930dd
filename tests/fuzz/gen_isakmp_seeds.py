#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/fuzz_isakmp.c (tests/fuzz/corpus/fuzz_isakmp/):
IKEv1 messages laid out by hand after RFC 2408/2409/3947, shaped like strongSwan's
(Main Mode 1/3/5 in the clear, Aggressive Mode 1, Informational DPD and DELETE), and
a decrypted Quick Mode body (first byte = first payload type, padding at the end).
Captures from strongSwan will join them. Run from the top of the tree."""
import os
import struct

OUT = "tests/fuzz/corpus/fuzz_isakmp"
CKY_I, CKY_R = bytes(range(1, 9)), bytes(8)


def payload(next_pl, body):
    return struct.pack("!BBH", next_pl, 0, len(body) + 4) + body


def chain(items):
    """items: [(type, body)] -> (first type, bytes)"""
    out = b""
    for i, (t, body) in enumerate(items):
        nxt = items[i + 1][0] if i + 1 < len(items) else 0
        out += payload(nxt, body)
    return items[0][0] if items else 0, out


def header(first, exch, flags, msgid, body, cky_r=CKY_R):
    return CKY_I + cky_r + struct.pack("!BBBBII", first, 0x10, exch, flags, msgid,
                                       28 + len(body)) + body


def basic(t, v):
    return struct.pack("!HH", 0x8000 | t, v)


def var(t, data):
    return struct.pack("!HH", t, len(data)) + data


def transform(last, num, tid, attrs):
    return payload(0 if last else 3, struct.pack("!BBH", num, tid, 0) + attrs)


def proposal(last, num, proto, spi, xforms):
    body = struct.pack("!BBBB", num, proto, len(spi), len(xforms)) + spi + b"".join(
        transform(i + 1 == len(xforms), i + 1, t[0], t[1]) for i, t in enumerate(xforms))
    return payload(0 if last else 2, body)


def sa(props):
    return struct.pack("!II", 1, 1) + b"".join(props)


def p1_attrs(encr, keylen, hash_, group, life):
    a = basic(1, encr) + (basic(14, keylen) if keylen else b"") + basic(2, hash_)
    return a + basic(3, 1) + basic(4, group) + basic(11, 1) + var(12, struct.pack("!I", life))


def p2_attrs(auth, keylen, encap, group=None):
    a = basic(1, 1) + basic(2, 3600) + basic(4, encap)
    if auth:
        a += basic(5, auth)
    if keylen:
        a += basic(6, keylen)
    if group:
        a += basic(3, group)
    return a


VIDS = [bytes.fromhex(h) for h in (
    "afcad71368a1f1c96b8696fc77570100",            # DPD (RFC 3706)
    "4a131c81070358455c5728f20e95452f",            # RFC 3947
    "cd60464335df21f87cfdb2fc68b6a448",            # draft-ietf-ipsec-nat-t-ike-02
    "4048b7d56ebce88525e7de7f00d6c2d3",            # FRAGMENTATION
    "09002689dfd6b712",                            # XAUTH
)]
ike_sa = sa([proposal(True, 1, 1, b"", [
    (1, p1_attrs(7, 128, 4, 14, 10800)),
    (1, p1_attrs(7, 256, 2, 19, 10800)),
    (1, p1_attrs(5, 0, 1, 2, 86400)),
])])
esp_sa = sa([proposal(False, 1, 3, b"\xc1\x2b\x00\x11", [
    (12, p2_attrs(5, 128, 3, 14)), (3, p2_attrs(2, 0, 61443, 14))]),
    proposal(True, 2, 3, b"\xc1\x2b\x00\x11", [(20, p2_attrs(0, 256, 1))])])
ke = bytes((i * 7) & 0xff for i in range(256))
nonce = bytes(range(32))
natd = bytes(range(20))
seeds = {}
f, b = chain([(1, ike_sa)] + [(13, v) for v in VIDS])
seeds["mm1"] = header(f, 2, 0, 0, b)
f, b = chain([(4, ke), (10, nonce), (20, natd), (20, natd[::-1])])
seeds["mm3"] = header(f, 2, 0, 0, b, cky_r=bytes(range(9, 17)))
f, b = chain([(4, ke), (10, nonce), (130, natd), (130, natd[::-1])])
seeds["mm3-draft-natd"] = header(f, 2, 0, 0, b, cky_r=bytes(range(9, 17)))
f, b = chain([(5, bytes([1, 17, 1, 244, 192, 0, 2, 1])), (8, bytes(range(20))),
              (11, struct.pack("!IBBH", 1, 1, 16, 24578) + CKY_I + bytes(range(9, 17)))])
seeds["mm5-clear"] = header(f, 2, 0, 0, b, cky_r=bytes(range(9, 17)))
f, b = chain([(1, ike_sa), (4, ke), (10, nonce), (5, bytes([2, 0, 0, 0]) + b"moon.example"),
              (13, VIDS[0])])
seeds["am1"] = header(f, 4, 0, 0, b)
f, b = chain([(8, bytes(20)), (11, struct.pack("!IBBH", 1, 1, 16, 36136) + CKY_I +
                               bytes(range(9, 17)) + struct.pack("!I", 7))])
seeds["info-dpd"] = header(f, 5, 0, 0x11223344, b, cky_r=bytes(range(9, 17)))
f, b = chain([(8, bytes(20)), (12, struct.pack("!IBBH", 1, 3, 4, 2) + b"\xc1\x2b\x00\x11"
                               + b"\xc1\x2b\x00\x12"),
              (12, struct.pack("!IBBH", 1, 1, 16, 1) + CKY_I + bytes(range(9, 17)))])
seeds["info-delete"] = header(f, 5, 0, 0x55667788, b, cky_r=bytes(range(9, 17)))
f, b = chain([(8, bytes(20)), (1, esp_sa), (10, nonce), (4, ke),
              (5, bytes([4, 0, 0, 0, 10, 1, 0, 0, 255, 255, 0, 0])),
              (5, bytes([7, 6, 0, 80, 10, 2, 0, 1, 10, 2, 0, 9])),
              (21, bytes([1, 0, 0, 0, 192, 168, 1, 2])),
              (21, bytes([5, 0, 0, 0]) + bytes(15) + b"\1")])
seeds["qm1-decrypted"] = bytes([f]) + b + bytes(7) + b"\x07"   # RFC 2409 padding
seeds["mm1-encrypted-flag"] = header(1, 2, 1, 0, bytes(32))
# Transaction exchange (6): XAuth and Mode Config Attribute payloads (14).
xauth_req = struct.pack("!BBH", 1, 0, 0x1234) + basic(16520, 0) + var(16521, b"") + var(16522, b"")
f, b = chain([(8, bytes(20)), (14, xauth_req)])
seeds["xauth-request"] = header(f, 6, 0, 0x0badcafe, b, cky_r=bytes(range(9, 17)))
xauth_rep = struct.pack("!BBH", 2, 0, 0x1234) + var(16521, b"alice") + var(16522, b"pwd1")
f, b = chain([(8, bytes(20)), (14, xauth_rep)])
seeds["xauth-reply-decrypted"] = bytes([f]) + b + bytes(3) + b"\x03"
f, b = chain([(8, bytes(20)), (14, struct.pack("!BBH", 3, 0, 7) + basic(16527, 1))])
seeds["xauth-set-status"] = header(f, 6, 0, 0x01020304, b, cky_r=bytes(range(9, 17)))
mcfg = (struct.pack("!BBH", 2, 0, 9) + var(1, bytes([10, 3, 0, 1])) +
        var(2, bytes([255, 255, 255, 0])) + var(3, bytes([10, 2, 0, 53])) +
        var(3, bytes([10, 2, 0, 54])) + var(28674, b"example.org") +
        var(28676, bytes([10, 2, 0, 0, 255, 255, 255, 0]) + bytes(6)) + var(1, b"") +
        var(0x3f00, b"?"))
f, b = chain([(8, bytes(20)), (14, mcfg)])
seeds["modecfg-reply"] = header(f, 6, 0, 0x0a0b0c0d, b, cky_r=bytes(range(9, 17)))

if __name__ == "__main__":   # (tests/fuzz/gen_ikev1_input_seeds.py imports the layout)
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as fh:
            fh.write(data)
    print(f"wrote {len(seeds)} seeds to {OUT}")
