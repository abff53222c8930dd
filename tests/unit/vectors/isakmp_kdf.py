#!/usr/bin/env python3
"""Known answers for tests/unit/test_isakmp_crypto.c, computed independently of
ike/v1/isakmp_crypto.c with nothing but hashlib and hmac, straight from RFC 2409:
  SKEYID   = prf(PSK, Ni_b | Nr_b)                             (5.4, pre-shared keys)
  SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)
  SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)
  SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)
  Ka = K1 | K2 ..., K1 = prf(SKEYID_e, 0), Kn = prf(SKEYID_e, Kn-1)   (Appendix B)
  HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b)  (5)
  HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)
  IV1 = hash(g^xi | g^xr), IV2 = hash(last phase 1 block | M-ID)     (Appendix B)
  HASH(1) = prf(SKEYID_a, M-ID | rest), HASH(2) = prf(SKEYID_a, M-ID | Ni_b | rest),
  HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b)                     (5.5)
  KEYMAT = K1 | K2 ..., K1 = prf(SKEYID_d, [g^xy |] proto | SPI | Ni_b | Nr_b),
           Kn = prf(SKEYID_d, Kn-1 | [g^xy |] proto | SPI | Ni_b | Nr_b)
Run: python3 tests/unit/vectors/isakmp_kdf.py   (prints the hex the test compares)."""
import hashlib
import hmac


def pattern(n, mul, add):
    return bytes((i * mul + add) & 0xff for i in range(n))


PSK = b"tsunagi-test-psk"
NI = pattern(16, 1, 0)
NR = pattern(32, 1, 100)
GXY = pattern(128, 7, 3)
GXI = pattern(128, 5, 1)
GXR = pattern(128, 11, 2)
CKY_I = bytes(range(1, 9))
CKY_R = bytes(range(0x11, 0x19))
SA_B = pattern(52, 3, 9)
IDII_B = bytes([1, 17, 1, 244, 192, 0, 2, 1])     # IPV4_ADDR, UDP, 500, 192.0.2.1
IDIR_B = bytes([1, 17, 1, 244, 192, 0, 2, 2])
MSGID = bytes.fromhex("12345678")
REST = pattern(40, 13, 5)
GQM = pattern(128, 3, 77)
SPI = bytes.fromhex("c0ffee01")
P1_LAST = pattern(16, 17, 8)


def run(name, hashname, key_len, block):
    prf = lambda k, d: hmac.new(k, d, hashname).digest()
    skeyid = prf(PSK, NI + NR)
    d = prf(skeyid, GXY + CKY_I + CKY_R + b"\0")
    a = prf(skeyid, d + GXY + CKY_I + CKY_R + b"\1")
    e = prf(skeyid, a + GXY + CKY_I + CKY_R + b"\2")
    if key_len <= len(e):
        ek = e[:key_len]
    else:
        ks, k = b"", b"\0"
        while len(ks) < key_len:
            k = prf(e, k)
            ks += k
        ek = ks[:key_len]
    out = {
        "skeyid": skeyid, "skeyid_d": d, "skeyid_a": a, "skeyid_e": e, "ek": ek,
        "hash_i": prf(skeyid, GXI + GXR + CKY_I + CKY_R + SA_B + IDII_B),
        "hash_r": prf(skeyid, GXR + GXI + CKY_R + CKY_I + SA_B + IDIR_B),
        "iv1": hashlib.new(hashname, GXI + GXR).digest()[:block],
        "iv2": hashlib.new(hashname, P1_LAST[:block] + MSGID).digest()[:block],
        "qm1": prf(a, MSGID + REST),
        "qm2": prf(a, MSGID + NI + REST),
        "qm3": prf(a, b"\0" + MSGID + NI + NR),
    }
    for pfs, g in (("keymat", b""), ("keymat_pfs", GQM)):
        ks, k = b"", b""
        while len(ks) < 100:
            k = prf(d, k + g + b"\3" + SPI + NI + NR)
            ks += k
        out[pfs] = ks[:100]
    for k, v in out.items():
        print(f"{name} {k} {v.hex()}")


run("sha1_aes256", "sha1", 32, 16)
run("sha256_aes128", "sha256", 16, 16)
run("md5_3des", "md5", 24, 8)
run("sha512_aes256", "sha512", 32, 16)
