#!/usr/bin/env python3
"""Holds 200 abusive connections open against a TLS server until SIGTERM or SIGINT.

  abuse.py PORT [--tcp 80] [--idle 70] [--slow 50]

  --tcp   TCP connections that never start TLS
  --idle  TLS connections that finish the handshake and then send nothing
  --slow  TLS connections that dribble a request's headers, one byte every 50 ms

A connection the server closes is opened again at once, so the count stays at 200 for the
whole run. Prints "held N" once all are open, and "reopened N" when it stops. Used by
bench/webhook/run.sh to measure latency under abuse (the integration test
webhook_server/slow_and_idle_connections_do_not_starve_the_server checks the behaviour).
"""
import argparse
import signal
import socket
import ssl
import sys
import time

DRIBBLE_EVERY = 0.05  # seconds between bytes: slow enough to hold a thread for minutes
HEAD = b"POST /mutate/pods HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Slow: "


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--tcp", type=int, default=80)
    ap.add_argument("--idle", type=int, default=70)
    ap.add_argument("--slow", type=int, default=50)
    args = ap.parse_args()

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    def open_conn(kind):
        s = socket.create_connection(("127.0.0.1", args.port))
        if kind != "tcp":
            s = ctx.wrap_socket(s)
        s.setblocking(False)
        return {"kind": kind, "sock": s, "sent": 0}

    conns = [open_conn(k) for k, n in (("tcp", args.tcp), ("idle", args.idle), ("slow", args.slow)) for _ in range(n)]
    print(f"held {len(conns)}", flush=True)

    stop = False

    def on_signal(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    reopened = 0
    while not stop:
        for i, c in enumerate(conns):
            s = c["sock"]
            try:
                if c["kind"] == "slow":
                    byte = HEAD[c["sent"]:c["sent"] + 1] if c["sent"] < len(HEAD) else b"a"
                    s.send(byte)
                    c["sent"] += 1
                # Anything readable is the server giving up on us (EOF or an error answer).
                s.recv(4096)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                continue
            except OSError:  # ConnectionError included: closed under us
                pass
            try:
                s.close()
            except OSError:
                pass
            conns[i] = open_conn(c["kind"])
            reopened += 1
        time.sleep(DRIBBLE_EVERY)
    print(f"reopened {reopened}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
