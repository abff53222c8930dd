#!/usr/bin/env python3
"""New TCP connections per second, for tests/bench/nat/run.

  nat_cps.py serve ADDR PORT                 accept, read one byte, close (the server
                                             closes first: TIME_WAIT stays on its side)
  nat_cps.py connect ADDR PORT SECONDS [N]   N processes (default 4) each connect, send
                                             one byte, wait for the close, again; prints
                                             the completed connections per second
"""
import multiprocessing
import socket
import sys
import threading
import time


def handle(c):
    try:
        c.recv(1)
    finally:
        c.close()


def serve(addr, port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(4096)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def worker(addr, port, seconds, out):
    end = time.monotonic() + seconds
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
    out.put(n)


def connect(addr, port, seconds, procs):
    out = multiprocessing.Queue()
    ps = [multiprocessing.Process(target=worker, args=(addr, port, seconds, out))
          for _ in range(procs)]
    start = time.monotonic()
    for p in ps:
        p.start()
    total = sum(out.get() for _ in ps)
    for p in ps:
        p.join()
    print(int(total / (time.monotonic() - start)))


if sys.argv[1] == "serve":
    serve(sys.argv[2], int(sys.argv[3]))
else:
    connect(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]),
            int(sys.argv[5]) if len(sys.argv) > 5 else 4)
