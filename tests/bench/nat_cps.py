#!/usr/bin/env python3
"""New TCP connections per second, for tests/bench/nat.

  nat_cps.py serve ADDR PORT             accept, read one byte, close (the server
                                         closes first: TIME_WAIT stays on its side)
  nat_cps.py connect ADDR PORT SECONDS   connect, send one byte, wait for the close;
                                         prints the completed connections per second
"""
import socket
import sys
import time


def serve(addr, port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1024)
    while True:
        c, _ = s.accept()
        c.recv(1)
        c.close()


def connect(addr, port, seconds):
    end = time.monotonic() + seconds
    start = time.monotonic()
    n = 0
    while time.monotonic() < end:
        c = socket.socket()
        c.settimeout(2)
        try:
            c.connect((addr, port))
            c.send(b"x")
            c.recv(1)
            n += 1
        except OSError:
            pass
        c.close()
    print(int(n / (time.monotonic() - start)))


if sys.argv[1] == "serve":
    serve(sys.argv[2], int(sys.argv[3]))
else:
    connect(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
