#!/usr/bin/env python3
"""Seeds for fuzz_cert (tests/fuzz/fuzz_cert.c): data[0] flags, data[1] the first
payload type, then a payload chain. Usage: gen_cert_seeds.py OUTDIR [CERT.der]
(a DER certificate from another CA, e.g. made by tests/interop/mkcerts.sh, adds a
seed that reaches chain validation)."""
import os
import struct
import sys

PL_IDI, PL_CERT, PL_CERTREQ, PL_AUTH = 35, 37, 38, 39


def payloads(items):
    """items: [(type, body)] -> bytes of the chain (each header names the next)."""
    out = b""
    for i, (_, body) in enumerate(items):
        nxt = items[i + 1][0] if i + 1 < len(items) else 0
        out += struct.pack("!BBH", nxt, 0, 4 + len(body)) + body
    return out


def seed(flags, items, first=None):
    if not items:
        return bytes([flags, first or 0])
    return bytes([flags, first if first is not None else items[0][0]]) + payloads(items)


AID_ECDSA256 = bytes.fromhex("300a06082a8648ce3d040302")
AID_ED25519 = bytes.fromhex("300506032b6570")
AID_PSS = bytes.fromhex("304106092a864886f70d01010a3034a00f300d06096086480165030402010500"
                        "a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120")
def der(tag, body):
    n = len(body)
    length = bytes([n]) if n < 128 else bytes([0x81, n])
    return bytes([tag]) + length + body


def rdn(oid_last, tag, value):
    """One RDN of an id-at attribute (2.5.4.oid_last)."""
    return der(0x31, der(0x30, der(0x06, bytes([0x55, 0x04, oid_last])) + der(tag, value)))


# "C=CH, O=tsunagi test, CN=a.example.net", as the test certificates have it
DN = der(0x30, rdn(6, 0x13, b"CH") + rdn(10, 0x0c, b"tsunagi test") +
         rdn(3, 0x0c, b"a.example.net"))


def auth(method, data):
    return (PL_AUTH, bytes([method, 0, 0, 0]) + data)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    s = {
        # our valid certificate first (flags & 1), then fuzzed AUTH data
        "valid-auth-7427-ecdsa": seed(3, [auth(14, bytes([len(AID_ECDSA256)]) + AID_ECDSA256 +
                                               bytes.fromhex("3006020101020101"))]),
        "valid-auth-7427-pss": seed(3, [auth(14, bytes([len(AID_PSS)]) + AID_PSS + b"\x00" * 256)]),
        "valid-auth-7427-ed25519": seed(1, [auth(14, bytes([len(AID_ED25519)]) + AID_ED25519 +
                                                 b"\x11" * 64)]),
        "valid-auth-method9": seed(3, [auth(9, b"\x01" * 64)]),
        "valid-auth-method9-short": seed(3, [auth(9, b"\x01" * 63)]),
        "valid-auth-method1": seed(3, [auth(1, b"\x02" * 256)]),
        "valid-auth-aid-overrun": seed(3, [auth(14, b"\xff" + AID_ECDSA256)]),
        "valid-auth-unknown-method": seed(3, [auth(200, b"\x00")]),
        "valid-auth-psk": seed(3, [auth(2, b"\x00" * 32)]),
        "valid-idi-dn": seed(7, [(PL_IDI, bytes([9, 0, 0, 0]) + DN), auth(9, b"\x01" * 64)]),
        "valid-idi-other": seed(7, [(PL_IDI, bytes([2, 0, 0, 0]) + b"b.example.net"),
                                    auth(9, b"\x01" * 64)]),
        # no valid certificate
        "cert-unsupported-encoding": seed(2, [(PL_CERT, b"\x01" + b"\x30\x03\x02\x01\x01"),
                                              auth(9, b"\x00" * 64)]),
        "cert-garbage-der": seed(2, [(PL_CERT, b"\x04" + b"\x30\x82\x01\x00" + b"\xab" * 40),
                                     auth(9, b"\x00" * 64)]),
        "cert-empty": seed(2, [(PL_CERT, b"\x04"), auth(9, b"\x00" * 64)]),
        "cert-many": seed(2, [(PL_CERT, b"\x04" + b"\x30\x00")] * 9 + [auth(9, b"\x00" * 64)]),
        "certreq": seed(3, [(PL_CERTREQ, b"\x04" + b"\x5a" * 40), auth(9, b"\x00" * 64)]),
        "certreq-many": seed(2, [(PL_CERTREQ, b"\x04" + b"\x5a" * 20)] * 6),
        "no-cert": seed(2, [auth(9, b"\x00" * 64)]),
        "truncated-cert-payload": bytes([2, PL_CERT]) + struct.pack("!BBH", 0, 0, 200) + b"\x04",
        "blob-pem": bytes([0, 0]) + b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        "blob-key-pem": bytes([0, 0]) + b"-----BEGIN PRIVATE KEY-----\nMC4CAQAw\n-----END PRIVATE KEY-----\n",
        "blob-dn": bytes([0, 0]) + DN,
    }
    if len(sys.argv) > 2:
        der = open(sys.argv[2], "rb").read()
        s["cert-other-ca"] = seed(2, [(PL_CERT, b"\x04" + der), auth(9, b"\x00" * 64)])
        s["cert-other-ca-behind-valid"] = seed(3, [(PL_CERT, b"\x04" + der), auth(9, b"\x00" * 64)])
    for name, data in s.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
