#!/usr/bin/env python3
"""crash.py — the client side of the kill -9 tests (t-90 SMTP, t-91 APPEND).

  crash.py send smtp|append N ACKFILE   20 sessions store N messages, each
        with its own Message-ID; every one that got 250 / APPEND OK is
        written to ACKFILE (one id a line, flushed at once). A session that
        loses its server (kill -9) reconnects and goes on with the next id;
        an id whose answer was lost is not sent again, so no id can
        legitimately be in the mailbox twice.
  crash.py verify ACKFILE smtp|append [term]   over IMAP: every
        acknowledged id is in INBOX exactly once, and no id is there twice;
        with "term" (the server was stopped, never killed) also no id is
        there that was not acknowledged.
  crash.py idle     until SIGTERM: holds 8 IMAP and 3 IMAPS sessions in
        IDLE, 2 IMAP sessions sending NOOPs without pause, 5 POP3 sessions
        in the TRANSACTION state and 5 SMTP sessions stopped half-way
        through DATA, each reopened when a stop ends it; prints how many a
        stop ended and how many of those ended without their protocol's
        last line.
Environment: P_SMTP, P_IMAP (ports), USER_, PASS_, PACE (a session waits
a random 0..PACE s between messages, default 0.15, so that sending spans
the kills whatever the server's speed).
"""
import imaplib
import os
import random
import socket
import ssl
import sys
import threading
import time

SESSIONS = 20
PACE = float(os.environ.get("PACE", "0.15"))
USER = os.environ.get("USER_", "alice@example.test")
PW = os.environ.get("PASS_", "alice-pw")
lock = threading.Lock()
next_id = [0]


def take(n):
    with lock:
        if next_id[0] >= n:
            return None
        next_id[0] += 1
        return next_id[0]


def message(i, tag):
    body = ("line of text for message %d\r\n" % i) * 30
    return (f"From: crash <crash@remote.test>\r\nTo: {USER}\r\n"
            f"Subject: crash {tag} {i}\r\nMessage-ID: <crash.{tag}.{i}@test>\r\n\r\n{body}")


class Smtp:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", int(os.environ["P_SMTP"])), timeout=20)
        self.f = self.s.makefile("rb")
        self.expect(b"220")
        self.s.sendall(b"EHLO crash.test\r\n")
        self.expect(b"250")

    def reply(self):
        while True:
            line = self.f.readline()
            if not line:
                raise ConnectionError("closed")
            if line[3:4] != b"-":
                return line

    def expect(self, code):
        r = self.reply()
        if not r.startswith(code):
            raise ConnectionError(r)

    def store(self, i):
        self.s.sendall(f"MAIL FROM:<crash@remote.test>\r\nRCPT TO:<{USER}>\r\nDATA\r\n".encode())
        self.expect(b"250")
        self.expect(b"250")
        self.expect(b"354")
        self.s.sendall(message(i, "smtp").encode() + b".\r\n")
        return self.reply().startswith(b"250")

    def close(self):
        self.s.close()


class Append:
    def __init__(self):
        self.c = imaplib.IMAP4("127.0.0.1", int(os.environ["P_IMAP"]), timeout=20)
        self.c.login(USER, PW)

    def store(self, i):
        typ, _ = self.c.append("INBOX", None, None, message(i, "append").encode())
        return typ == "OK"

    def close(self):
        try:
            self.c.shutdown()
        except Exception:
            pass


def session(kind, n, ack, stats):
    conn = None
    deadline = time.time() + 120
    while time.time() < deadline:
        if conn is None:
            try:
                conn = Smtp() if kind == "smtp" else Append()
            except (OSError, ConnectionError, imaplib.IMAP4.error, EOFError):
                time.sleep(0.05)  # the server is being restarted
                continue
        i = take(n)
        if i is None:
            break
        try:
            ok = conn.store(i)
        except (OSError, ConnectionError, imaplib.IMAP4.error, imaplib.IMAP4.abort, EOFError):
            ok = None
        with lock:
            if ok:
                ack.write(f"{i}\n")
                ack.flush()
                stats["ok"] += 1
            else:
                stats["lost" if ok is None else "refused"] += 1
        if ok is None:
            conn.close()
            conn = None
        else:
            time.sleep(random.random() * PACE)
    if conn:
        conn.close()


def send(kind, n, path):
    stats = {"ok": 0, "lost": 0, "refused": 0}
    with open(path, "a") as ack:
        th = [threading.Thread(target=session, args=(kind, n, ack, stats)) for _ in range(SESSIONS)]
        for t in th:
            t.start()
        for t in th:
            t.join()
    print(f"{kind}: {stats['ok']} acknowledged, {stats['lost']} answers lost to a kill, "
          f"{stats['refused']} refused, of {n}")
    if next_id[0] < n:
        sys.exit("the sessions gave up before sending everything")


no_bye = []


def idler(kind, stop, ended):
    while not stop.is_set():
        try:
            last = b""
            if kind in ("imap", "imaps", "busy"):
                # By hand: what arrives after IDLE's "+" must not be
                # left in a client library's buffer.
                if kind == "imaps":
                    ctx = ssl.create_default_context(cafile=os.environ["D"] + "/cert.pem")
                    f = ctx.wrap_socket(socket.create_connection(
                        ("localhost", int(os.environ["P_IMAPS"])), timeout=60),
                        server_hostname="localhost")
                else:
                    f = socket.create_connection(("127.0.0.1", int(os.environ["P_IMAP"])), timeout=60)
                if kind == "busy":
                    # NOOPs without pause: a session that always has a
                    # next command must still end at a stop, with its BYE.
                    f.sendall(f"a LOGIN {USER} {PW}\r\n".encode())
                    buf = b""
                    while b"a OK" not in buf or not buf.endswith(b"\r\n"):
                        got = f.recv(4096)
                        assert got
                        buf += got
                    last = buf[buf.index(b"a OK"):]
                    last = last[last.index(b"\r\n") + 2:]  # a stop's BYE may follow
                    # Batches of 50 pipelined NOOPs, the next sent before
                    # the replies are all read: the session always has
                    # input waiting, so shutting the reading side of its
                    # socket alone would not end it.
                    f.settimeout(5)
                    n = 0
                    while not stop.is_set():
                        n += 1
                        try:
                            if b"* BYE" not in last:  # as a client does: no more after BYE
                                f.sendall(b"".join(b"n%d.%d NOOP\r\n" % (n, k) for k in range(50)))
                            got = f.recv(65536)
                        except socket.timeout:
                            continue
                        except OSError:
                            break
                        if got == b"":
                            break
                        last = (last + got)[-200:]
                    else:
                        break
                    with lock:
                        ended[0] += 1
                        if not last.endswith(b"* BYE [UNAVAILABLE] Server shutting down\r\n"):
                            no_bye.append(f"busy: {last[-80:]!r}")
                    time.sleep(0.1)
                    continue
                f.sendall(f"a LOGIN {USER} {PW}\r\nb SELECT INBOX\r\nc IDLE\r\n".encode())
                buf = b""
                while b"\r\n+ " not in buf:
                    got = f.recv(4096)
                    assert got
                    buf += got
                last = buf[buf.index(b"\r\n+ ") + 2:]
                last = last[last.index(b"\r\n") + 2:] if b"\r\n" in last else b""
            else:
                port = int(os.environ["P_POP3" if kind == "pop3" else "P_SMTP"])
                f = socket.create_connection(("127.0.0.1", port), timeout=60)
                buf = b""
                while b"\r\n" not in buf:  # the greeting; a stop's line may follow
                    got = f.recv(512)
                    assert got
                    buf += got
                last = buf[buf.index(b"\r\n") + 2:]
                if kind == "pop3":
                    f.sendall(f"USER {USER}\r\nPASS {PW}\r\n".encode())
                else:
                    f.sendall(b"EHLO idle.test\r\nMAIL FROM:<i@remote.test>\r\n"
                              + f"RCPT TO:<{USER}>\r\nDATA\r\nSubject: half\r\n\r\nhalf".encode())
        except (OSError, AssertionError, imaplib.IMAP4.error, imaplib.IMAP4.abort, EOFError):
            time.sleep(0.1)  # the server is being restarted
            continue
        # Held open until the server ends it (a stop) or the test does;
        # a stop must say so in the protocol's own words first.
        f.settimeout(0.5)
        while not stop.is_set():
            try:
                got = f.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                break
            if got == b"":
                break
            last = (last + got)[-200:]
        else:
            break
        bye = {"imap": b"* BYE [UNAVAILABLE] Server shutting down\r\n",
               "imaps": b"* BYE [UNAVAILABLE] Server shutting down\r\n",
               "pop3": b"-ERR [SYS/TEMP] Server shutting down\r\n",
               "smtp": b"421 4.3.2 Service shutting down, try again later\r\n"}[kind]
        with lock:
            ended[0] += 1
            if not last.endswith(bye):
                no_bye.append(f"{kind}: {last[-80:]!r}")
        time.sleep(0.1)


def idle():
    import signal
    stop = threading.Event()
    ended = [0]
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    kinds = ["imap"] * 8 + ["imaps"] * 3 + ["busy"] * 2 + ["pop3"] * 5 + ["smtp"] * 5
    th = [threading.Thread(target=idler, args=(k, stop, ended), daemon=True) for k in kinds]
    for t in th:
        t.start()
    deadline = time.time() + 180
    while not stop.is_set() and time.time() < deadline:
        time.sleep(0.2)
    stop.set()
    for t in th:
        t.join(5)
    print(f"idle sessions ended by a stop: {ended[0]}, without the last line: {len(no_bye)}")
    for x in no_bye[:10]:
        print("  ended without its last line:", x)


def verify(path, tag, graceful=False):
    acked = [int(x) for x in open(path).read().split()]
    c = imaplib.IMAP4("127.0.0.1", int(os.environ["P_IMAP"]), timeout=60)
    c.login(USER, PW)
    c.select("INBOX", readonly=True)
    typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    assert typ == "OK", data
    seen = {}
    for item in data:
        if isinstance(item, tuple):
            h = item[1].decode().strip()
            if "<crash." in h:
                mid = h[h.index("<"):h.index(">") + 1]
                seen[mid] = seen.get(mid, 0) + 1
    c.logout()
    twice = [m for m, k in seen.items() if k > 1]
    assert not twice, f"in the mailbox more than once: {twice[:10]}"
    missing = [i for i in acked if f"<crash.{tag}.{i}@test>" not in seen]
    assert not missing, f"acknowledged but missing: {missing[:20]} ({len(missing)} in all)"
    assert len(set(acked)) == len(acked), "an id acknowledged twice"
    if graceful:
        # A stop lets a commit in progress send its reply: nothing is
        # stored without its client having been told.
        extra = [m for m in seen if m.startswith(f"<crash.{tag}.")
                 and int(m.split(".")[2].split("@")[0]) not in set(acked)]
        assert not extra, f"stored but never acknowledged: {extra[:10]} ({len(extra)} in all)"
    print(f"verify: {len(acked)} acknowledged, all present once; "
          f"{len(seen)} crash messages in INBOX")


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "idle":
        idle()
    elif sys.argv[1] == "verify":
        verify(sys.argv[2], sys.argv[3], len(sys.argv) > 4 and sys.argv[4] == "term")
    else:
        sys.exit("usage: crash.py send smtp|append N ACKFILE | verify ACKFILE smtp|append")
