#!/usr/bin/env python3
"""Seeds for fuzz_eap (see tests/fuzz/fuzz_eap.c for the input format): the responses
of a peer to an authenticator of each method, and the requests of an authenticator to a
peer. Writes tests/fuzz/corpus/fuzz_eap/."""
import os
import struct
import sys

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_eap")
os.makedirs(out, exist_ok=True)


def eap(code, ident, typ=None, data=b""):
    if typ is None:
        return struct.pack("!BBH", code, ident, 4)
    return struct.pack("!BBHB", code, ident, 5 + len(data), typ) + data


def chunk(pkt, flags=3):
    return bytes([len(pkt), flags]) + pkt


def ms(op, ms_id, body):
    return struct.pack("!BBH", op, ms_id, 4 + len(body)) + body


identity = eap(2, 0, 1, b"alice")
ms_resp = eap(2, 0, 26, ms(2, 0, bytes([49]) + bytes(range(16)) + bytes(8) + bytes(range(24)) + b"\0" + b"alice"))
ms_ack = eap(2, 0, 26, bytes([3]))
ms_fail_ack = eap(2, 0, 26, bytes([4]))
md5_resp = eap(2, 0, 4, bytes([16]) + bytes(range(16)))
nak_md5 = eap(2, 0, 3, bytes([4]))
seeds = {
    "server-mschapv2": bytes([0]) + chunk(identity) + chunk(ms_resp) + chunk(ms_fail_ack),
    "server-mschapv2-known-id": bytes([4]) + chunk(ms_resp) + chunk(ms_ack),
    "server-md5": bytes([1]) + chunk(identity) + chunk(md5_resp),
    "server-nak": bytes([2]) + chunk(identity) + chunk(nak_md5) + chunk(md5_resp),
    "server-garbage": bytes([0]) + chunk(b"\x02\x00\x00", 0) + chunk(eap(1, 0, 1), 1) + chunk(identity, 0),
    "peer": bytes([3]) + chunk(eap(1, 1, 1), 0)
    + chunk(eap(1, 2, 26, ms(1, 2, bytes([16]) + bytes(range(16)) + b"srv")), 0)
    + chunk(eap(1, 3, 26, ms(3, 2, b"S=" + b"0" * 40 + b" M=hi")), 0),
    "peer-md5": bytes([3]) + chunk(eap(1, 1, 4, bytes([16]) + bytes(16)), 0) + chunk(eap(3, 1), 0),
    "peer-failure": bytes([3]) + chunk(eap(1, 2, 26, ms(4, 2, b"E=691 R=0 C=00 V=3 M=no")), 0)
    + chunk(eap(4, 2), 0),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}", file=sys.stderr)
