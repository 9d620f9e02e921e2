#!/usr/bin/env python3
"""Holds abusive connections open against a TLS server until SIGTERM or SIGINT.

  abuse.py PORT [--tcp 80] [--idle 70] [--slow 50] [--deep 0] [--deep-mib 6] [--deep-levels 3000000]

  --tcp    TCP connections that never start TLS
  --idle   TLS connections that finish the handshake and then send nothing
  --slow   TLS connections that dribble a request's headers, one byte every 50 ms
  --deep   threads each sending, over and over, a review of --deep-mib MiB nested
           --deep-levels arrays deep to /validate/secrets (alternating with one of 1.4 MB,
           nested 700,000 deep, which is under the route's 1.5 MiB cap and so is read)

A connection the server closes is opened again at once, so the counts hold for the whole
run. Everything is non-blocking on one epoll loop (the deep senders are threads). Prints
"held N" once every connection has been opened, and on stop one line of counts:
"reopened N ...". Used by bench/webhook/run.sh to measure latency under abuse (the
integration tests webhook_server/slow_and_idle_connections_do_not_starve_the_server and
webhook_limits/* check the behaviour).
"""
import argparse
import errno
import resource
import selectors
import signal
import socket
import ssl
import sys
import threading
import time

DRIBBLE_EVERY = 0.05  # seconds between bytes: slow enough to hold a thread for minutes
HEAD = b"POST /mutate/pods HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Slow: "


def deep_review(levels, size):
    prefix = (b'{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"abuse",'
              b'"operation":"CREATE","object":{"type":"nodeboot.io/bootstrap","data":')
    levels = min(levels, (size - len(prefix) - 3) // 2)
    return prefix + b"[" * levels + b"]" * levels + b"}}}"


class Abuser:
    def __init__(self, args):
        self.port = args.port
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE
        self.sel = selectors.DefaultSelector()
        self.conns = {}  # fd -> conn dict
        self.targets = {"tcp": args.tcp, "idle": args.idle, "slow": args.slow}
        self.open_counts = {k: 0 for k in self.targets}
        self.reopened = 0
        self.connect_errors = 0
        self.stop = False

    def open(self, kind):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        rc = s.connect_ex(("127.0.0.1", self.port))
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            self.connect_errors += 1
            return False
        c = {"kind": kind, "sock": s, "fd": s.fileno(), "state": "connecting", "sent": 0}
        self.conns[s.fileno()] = c
        self.sel.register(s, selectors.EVENT_WRITE, c)
        self.open_counts[kind] += 1
        return True

    def drop(self, c):
        try:
            self.sel.unregister(c["sock"])
        except (KeyError, ValueError):
            pass
        self.conns.pop(c["fd"], None)
        try:
            c["sock"].close()
        except OSError:
            pass
        self.open_counts[c["kind"]] -= 1

    def handshake(self, c):
        try:
            c["sock"].do_handshake()
        except ssl.SSLWantReadError:
            self.sel.modify(c["sock"], selectors.EVENT_READ, c)
            return True
        except ssl.SSLWantWriteError:
            self.sel.modify(c["sock"], selectors.EVENT_WRITE, c)
            return True
        except (OSError, ValueError):
            return False
        c["state"] = "up"
        self.sel.modify(c["sock"], selectors.EVENT_READ, c)
        return True

    def event(self, c, mask):
        s = c["sock"]
        if c["state"] == "connecting":
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                return False
            if c["kind"] == "tcp":
                c["state"] = "up"
                self.sel.modify(s, selectors.EVENT_READ, c)
                return True
            c["sock"] = self.ctx.wrap_socket(s, do_handshake_on_connect=False)
            c["state"] = "tls"
            return self.handshake(c)
        if c["state"] == "tls":
            return self.handshake(c)
        # Anything readable on an established abuser is the server giving up on it (EOF,
        # an error answer, close_notify).
        try:
            s.recv(4096)
            return False
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            return True
        except OSError:
            return False

    def dribble(self):
        for c in list(self.conns.values()):
            if c["kind"] != "slow" or c["state"] != "up":
                continue
            byte = HEAD[c["sent"]:c["sent"] + 1] if c["sent"] < len(HEAD) else b"a"
            try:
                c["sock"].send(byte)
                c["sent"] += 1
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                pass
            except OSError:
                self.drop(c)

    def top_up(self, limit):
        opened = 0
        for kind, want in self.targets.items():
            while self.open_counts[kind] < want and opened < limit:
                if not self.open(kind):
                    return
                opened += 1
        return opened

    def run(self):
        # Open everything (a burst at a time, so handshakes proceed meanwhile). A server that
        # sheds closes some while others open, so this ends once as many were opened as are
        # held, not when all are open at one instant.
        opened = 0
        while not self.stop and opened < sum(self.targets.values()):
            opened += self.top_up(500) or 0
            self.poll(0.01)
        print(f"held {sum(self.targets.values())}", flush=True)
        next_dribble = time.monotonic()
        while not self.stop:
            self.poll(0.01)
            if time.monotonic() >= next_dribble:
                self.dribble()
                next_dribble = time.monotonic() + DRIBBLE_EVERY
            before = sum(self.open_counts.values())
            self.top_up(1000)
            self.reopened += sum(self.open_counts.values()) - before

    def poll(self, timeout):
        for key, mask in self.sel.select(timeout):
            c = key.data
            if not self.event(c, mask):
                self.drop(c)


def deep_sender(port, bodies, stop, counts, lock):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    i = 0
    while not stop.is_set():
        body = bodies[i % len(bodies)]
        i += 1
        outcome = "error"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=15) as raw:
                with ctx.wrap_socket(raw) as s:
                    s.sendall(b"POST /validate/secrets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                              b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
                    # A refusal by size comes before the body is sent (and closes the
                    # connection): wait for it briefly, then send the body.
                    s.settimeout(0.5)
                    answer = b""
                    try:
                        answer = s.recv(65536)
                    except (socket.timeout, ssl.SSLWantReadError):
                        s.settimeout(15)
                        s.sendall(body)
                    s.settimeout(15)
                    while b"\r\n\r\n" not in answer or answer.count(b"}") < 3:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        answer += chunk
                    if b'"code":413' in answer:
                        outcome = "413"
                    elif b'levels deep' in answer:
                        outcome = "400-depth"
                    elif answer:
                        outcome = "other"
        except OSError:
            pass
        with lock:
            counts[outcome] = counts.get(outcome, 0) + 1
            counts[f"bytes{len(body)}"] = counts.get(f"bytes{len(body)}", 0) + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--tcp", type=int, default=80)
    ap.add_argument("--idle", type=int, default=70)
    ap.add_argument("--slow", type=int, default=50)
    ap.add_argument("--deep", type=int, default=0)
    ap.add_argument("--deep-mib", type=float, default=6)
    ap.add_argument("--deep-levels", type=int, default=3_000_000)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    abuser = Abuser(args)

    def on_signal(*_):
        abuser.stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stop = threading.Event()
    counts, lock = {}, threading.Lock()
    bodies = [deep_review(args.deep_levels, int(args.deep_mib * 1024 * 1024)), deep_review(700_000, 1_400_100)]
    senders = [threading.Thread(target=deep_sender, args=(args.port, bodies, stop, counts, lock), daemon=True)
               for _ in range(args.deep)]
    for t in senders:
        t.start()
    abuser.run()
    stop.set()
    deep = " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    print(f"reopened {abuser.reopened} connect_errors={abuser.connect_errors} deep: {deep or 'none'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
