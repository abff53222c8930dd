#!/usr/bin/env python3
"""Both ends of PPTP (RFC 2637) without PPP, for t-nat-pptp.sh: these kernels have
no PPP, so the control messages go over a real TCP connection and the "data" is
enhanced GRE (version 1) carried by raw sockets, echoed by the server.

  pptp_peer.py server ADDR
      A PAC on ADDR:1723: answers Start-Control-Connection-Request, each
      Outgoing-Call-Request (its own call IDs from 100 up, the Peer's Call ID as it
      came), Call-Clear-Request (with a Call-Disconnect-Notify) and Echo-Request;
      echoes every GRE packet whose key is one of its calls back to the call's
      peer, with the key set to the Peer's Call ID that the peer gave; a packet
      whose data begins "icmp-" is answered instead by an ICMP error
      (fragmentation needed) quoting it as it arrived.

  pptp_peer.py client SERVER
      A PNS driven by commands on stdin, one answer line each ("ok ..." or
      "fail ..."):
        open [V]         control connection, Start-Control-Connection-Request/Reply
                         (protocol version V, default 0x0100)
        call N           Outgoing-Call-Request with call ID N; the Reply must name
                         N as the Peer's Call ID
        gre N            a GRE packet to the server with its call ID of call N; the
                         echo must come back with key N and the same data
        icmp N           a GRE packet of call N that the server answers with an
                         ICMP error: it must come back to this client quoting the
                         packet as the client sent it (its own address, the
                         server's call ID, the data), every checksum right
        clear N          Call-Clear-Request for call N, and its Disconnect-Notify
        close            closes the control connection
"""
import os
import select
import socket
import struct
import sys
import threading
import time

MAGIC = 0x1A2B3C4D
LEN = {1: 156, 2: 156, 5: 16, 6: 20, 7: 168, 8: 32, 12: 16, 13: 148}


def msg(t, f12=0, f14=0, extra=b""):
    b = struct.pack("!HHIHHHH", LEN[t], 1, MAGIC, t, 0, f12, f14) + extra
    return b + bytes(LEN[t] - len(b))


def recv_msg(s, timeout=5.0):
    """One whole control message (type, bytes), None at EOF."""
    s.settimeout(timeout)
    hdr = b""
    while len(hdr) < 12:
        d = s.recv(12 - len(hdr))
        if not d:
            return None
        hdr += d
    n, _, magic, t = struct.unpack("!HHIH", hdr[:10])
    if magic != MAGIC or n < 12:
        raise ValueError("bad message header %r" % hdr)
    body = hdr
    while len(body) < n:
        d = s.recv(n - len(body))
        if not d:
            return None
        body += d
    return t, body


def gre(key, seq, data):
    return struct.pack("!BBHHHI", 0x30, 0x01, 0x880B, len(data), key, seq) + data


def parse_gre(pkt):
    """(src, key, data) of an IPv4 packet holding enhanced GRE, or None."""
    hl = (pkt[0] & 15) * 4
    g = pkt[hl:]
    if len(g) < 8 or g[1] & 7 != 1 or struct.unpack("!H", g[2:4])[0] != 0x880B:
        return None
    off = 8 + (4 if g[0] & 0x10 else 0) + (4 if g[1] & 0x80 else 0)
    key = struct.unpack("!H", g[6:8])[0]
    return socket.inet_ntoa(pkt[12:16]), key, g[off:]


def csum(b):
    if len(b) & 1:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def icmp_error(quoted):
    """Fragmentation needed (next-hop MTU 1400) quoting a packet."""
    m = struct.pack("!BBHHH", 3, 4, 0, 0, 1400) + quoted
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]


def check_icmp_error(pkt, me, srv, key, data):
    """None when pkt is the ICMP error about our GRE (key, data) sent from me to srv,
    with right checksums; else why not (or "" when it is about something else)."""
    hl = (pkt[0] & 15) * 4
    icmp = pkt[hl:]
    if len(icmp) < 8 + 20 or icmp[0] != 3:
        return ""
    q = icmp[8:]
    qhl = (q[0] & 15) * 4
    if q[9] != 47 or len(q) < qhl + 8 or not q[qhl + 8:].endswith(data):
        return ""
    why = []
    if csum(icmp) != 0:
        why.append("ICMP checksum")
    if csum(q[:qhl]) != 0:
        why.append("quoted IP checksum")
    if socket.inet_ntoa(q[12:16]) != me or socket.inet_ntoa(q[16:20]) != srv:
        why.append("quoted %s -> %s" % (socket.inet_ntoa(q[12:16]), socket.inet_ntoa(q[16:20])))
    qkey = struct.unpack("!H", q[qhl + 6:qhl + 8])[0]
    if qkey != key:
        why.append("quoted key %d, sent %d" % (qkey, key))
    return ", ".join(why) or None


# --- server ------------------------------------------------------------------------

calls = {}          # own call ID -> (peer address, Peer's Call ID)
lock = threading.Lock()
next_id = [100]


def log(*a):
    print(*a, flush=True)


def serve_conn(c, peer):
    mine = []
    try:
        while True:
            m = recv_msg(c, timeout=600)
            if m is None:
                break
            t, b = m
            if t == 1:
                c.sendall(msg(2, 0x0100, 0x0101))     # version 1.0, result 1, no error
            elif t == 5:
                c.sendall(msg(6, *struct.unpack("!HH", b[12:16])))
            elif t == 7:
                pcid = struct.unpack("!H", b[12:14])[0]
                with lock:
                    own = next_id[0]
                    next_id[0] += 1
                    calls[own] = (peer, pcid)
                mine.append(own)
                log("call", own, "from", peer, "peer call id", pcid)
                c.sendall(msg(8, own, pcid, struct.pack("!BB", 1, 0)))
            elif t == 12:
                pcid = struct.unpack("!H", b[12:14])[0]
                with lock:
                    own = [k for k, v in calls.items() if v == (peer, pcid) and k in mine]
                    for k in own:
                        del calls[k]
                log("clear", own, "peer call id", pcid)
                for k in own:
                    c.sendall(msg(13, k))
    except (OSError, ValueError) as e:
        log("control", peer, "error", e)
    with lock:
        for k in mine:
            calls.pop(k, None)
    c.close()


def gre_echo(addr):
    r = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
    r.bind((addr, 0))
    icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    while True:
        pkt, _ = r.recvfrom(65535)
        g = parse_gre(pkt)
        if not g:
            continue
        src, key, data = g
        with lock:
            call = calls.get(key)
        if not call or call[0] != src:
            log("gre with unknown key", key, "from", src)
            continue
        if data.startswith(b"icmp-"):
            log("icmp error to", src, "about key", key)
            icmp.sendto(icmp_error(pkt), (src, 0))
            continue
        r.sendto(gre(call[1], 1, data), (src, 0))


def server(addr):
    threading.Thread(target=gre_echo, args=(addr,), daemon=True).start()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 1723))
    s.listen(8)
    log("listening")
    while True:
        c, a = s.accept()
        threading.Thread(target=serve_conn, args=(c, a[0]), daemon=True).start()


# --- client ------------------------------------------------------------------------

def client(srv):
    ctl = None
    pac = {}        # my call ID -> the server's
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
    icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    seq = 0
    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        try:
            if w[0] == "open":
                ctl = socket.create_connection((srv, 1723), timeout=5)
                ctl.sendall(msg(1, int(w[1], 0) if len(w) > 1 else 0x0100))
                t, b = recv_msg(ctl)
                ok = t == 2 and struct.unpack("!H", b[12:14])[0] == 0x0100
                print("ok open" if ok else "fail open: type %d" % t, flush=True)
            elif w[0] == "call":
                n = int(w[1])
                ctl.sendall(msg(7, n, n))
                t, b = recv_msg(ctl)
                own, peer = struct.unpack("!HH", b[12:16])
                if t == 8 and peer == n:
                    pac[n] = own
                    print("ok call %d: server's call ID %d" % (n, own), flush=True)
                else:
                    print("fail call %d: type %d, Peer's Call ID %d" % (n, t, peer), flush=True)
            elif w[0] == "gre":
                n = int(w[1])
                seq += 1
                data = os.urandom(8).hex().encode() + b"-%d" % n
                raw.sendto(gre(pac[n], seq, data), (srv, 0))
                end, got = time.time() + 3, None
                while time.time() < end and got is None:
                    rd, _, _ = select.select([raw], [], [], max(0, end - time.time()))
                    if rd:
                        g = parse_gre(raw.recv(65535))
                        if g and g[2] == data:
                            got = g
                if got is None:
                    print("fail gre %d: no echo" % n, flush=True)
                elif got[1] != n:
                    print("fail gre %d: echo with key %d" % (n, got[1]), flush=True)
                else:
                    print("ok gre %d" % n, flush=True)
            elif w[0] == "icmp":
                n = int(w[1])
                seq += 1
                data = b"icmp-" + os.urandom(8).hex().encode()
                raw.sendto(gre(pac[n], seq, data), (srv, 0))
                me = ctl.getsockname()[0]
                end, why = time.time() + 3, ""
                while time.time() < end and why == "":
                    rd, _, _ = select.select([icmp], [], [], max(0, end - time.time()))
                    if rd:
                        why = check_icmp_error(icmp.recv(65535), me, srv, pac[n], data)
                if why is None:
                    print("ok icmp %d" % n, flush=True)
                else:
                    print("fail icmp %d: %s" % (n, why or "no ICMP error"), flush=True)
            elif w[0] == "clear":
                n = int(w[1])
                ctl.sendall(msg(12, n))
                t, b = recv_msg(ctl)
                ok = t == 13 and struct.unpack("!H", b[12:14])[0] == pac[n]
                print("ok clear %d" % n if ok else "fail clear %d: type %d" % (n, t), flush=True)
            elif w[0] == "close":
                ctl.close()
                print("ok close", flush=True)
            else:
                print("fail unknown command", flush=True)
        except Exception as e:      # every failure is an answer line, never a hang
            print("fail %s: %r" % (w[0], e), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2])
    else:
        client(sys.argv[2])
