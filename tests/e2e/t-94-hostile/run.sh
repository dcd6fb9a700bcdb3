#!/bin/bash
# Slow and hostile peers, each bounded and cheap for the server:
#  - slowloris: with limits.connections = 40, 30 SMTP clients (the SMTP
#    family may hold three quarters: 30) dribble one byte every 0.3 s for a
#    few seconds; one more SMTP client gets "421 Too many connections";
#    IMAP still serves a normal client; each slow connection costs the
#    server well under 256 KiB of RSS. (The total per-command deadline that
#    ends such a session is tested in tests/unit/test_conn_deadline.c: the
#    real timeouts are minutes long.)
#  - a client that sends 2 MB of commands and never reads a reply: the
#    server's memory does not grow with it, other clients are served.
#  - oversized input: a 1 MiB SMTP command line, a 1 MiB IMAP line, a
#    100 MB IMAP literal announced (synchronizing and LITERAL+), a 1 MiB
#    POP3 line: each is refused or the connection closed, memory stays flat.
# Afterwards: the descriptor count is back to idle and brev stops cleanly.
. ../lib.sh
brev_init hostile
brev_user alice@example.test alice-pw
brev_start -o limits.connections=40
# Under the sanitizers (brev-san) ASan's quarantine and shadow memory make
# RSS meaningless: the memory bounds are checked on the normal build only.
case "$BREV" in *-san) MEMCHECK=0 ;; *) MEMCHECK=1 ;; esac
export BREV_PID MEMCHECK
python3 -u - <<'PY' || fail "hostile"
import imaplib, os, socket, threading, time

PID = int(os.environ["BREV_PID"])
MEMCHECK = os.environ.get("MEMCHECK") == "1"
SMTP, IMAP, POP3 = (int(os.environ[k]) for k in ("P_SMTP", "P_IMAP", "P_POP3"))

def fds():
    return len(os.listdir(f"/proc/{PID}/fd"))

def rss():
    for l in open(f"/proc/{PID}/status"):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])

def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s

def greeting(s):
    got = b""
    while not got.endswith(b"\n"):
        d = s.recv(1)
        assert d, "closed before the greeting"
        got += d
    return got

def imap_ok():
    c = imaplib.IMAP4("127.0.0.1", IMAP, timeout=10)
    c.login("alice@example.test", "alice-pw")
    assert c.select("INBOX")[0] == "OK"
    c.logout()

time.sleep(0.3)
fd0, rss0 = fds(), rss()
print(f"idle: {fd0} fds, {rss0} kB")

# --- slowloris ---
slow = []
for _ in range(30):
    s = connect(SMTP)
    assert greeting(s).startswith(b"220")
    slow.append(s)
time.sleep(0.2)
over = connect(SMTP)
r = greeting(over)
assert r.startswith(b"421"), f"31st SMTP connection: {r!r}"
over.close()
imap_ok()  # another protocol still has room
msg = b"EHLO slowloris.example\r\n"
for k in range(10):  # 3 s: one byte per client every 0.3 s
    for s in slow:
        s.send(msg[k:k + 1])
    time.sleep(0.3)
peak = rss()
per = (peak - rss0) / 30
print(f"30 slow clients: {peak} kB RSS, {per:.0f} kB each")
assert not MEMCHECK or per < 256, f"{per:.0f} kB per slow connection"
for s in slow:
    s.close()

# --- never reads its replies ---
s = connect(SMTP)
greeting(s)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
sent, blob = 0, b"NOOP\r\n" * 10000
s.setblocking(False)
end = time.time() + 5
while sent < 2_000_000 and time.time() < end:
    try:
        sent += s.send(blob)
    except BlockingIOError:
        time.sleep(0.01)
    except (ConnectionResetError, BrokenPipeError):
        break  # the junk-command limit (100 NOOPs, issue 22) closed it: fine too
time.sleep(0.5)
r1 = rss()
print(f"non-reader: pushed {sent} bytes of NOOPs; server RSS {r1} kB")
assert not MEMCHECK or r1 < rss0 + 8 * 1024, "memory grew with the unread replies"
imap_ok()
s.close()

# --- oversized input ---
def smtp_long_line():
    s = connect(SMTP)
    greeting(s)
    s.sendall(b"EHLO " + b"a" * (1 << 20) + b"\r\nNOOP\r\n")
    s.settimeout(10)
    got = b""
    while b"\n" not in got:
        d = s.recv(4096)
        if not d:
            break
        got += d
    assert got.startswith(b"5"), got[:100]
    s.close()

def imap_long_line():
    s = connect(IMAP)
    greeting(s)
    s.sendall(b"a1 NOOP " + b"x" * (1 << 20) + b"\r\n")
    s.settimeout(10)
    got = s.recv(200)
    assert got == b"" or b"BAD" in got or b"BYE" in got, got[:100]
    s.close()

def imap_big_literal():
    c = imaplib.IMAP4("127.0.0.1", IMAP, timeout=10)
    c.login("alice@example.test", "alice-pw")
    c.send(b"a2 APPEND INBOX {100000000}\r\n")
    r = c.readline()
    assert r.startswith(b"a2 NO") or r.startswith(b"a2 BAD"), r
    assert b"TOOBIG" in r or b"large" in r.lower(), r
    # LITERAL+: the client sends anyway; the server may read and drop it
    # or hang up, but must not keep it. Send 2 MB of it, then give up.
    c.send(b"a3 APPEND INBOX {100000000+}\r\n")
    try:
        c.sock.settimeout(5)
        for _ in range(32):
            c.sock.sendall(b"y" * 65536)
    except OSError:
        pass
    c.sock.close()

def pop_long_line():
    s = connect(POP3)
    greeting(s)
    s.sendall(b"USER " + b"u" * (1 << 20) + b"\r\n")
    s.settimeout(10)
    got = s.recv(200)
    assert got == b"" or got.startswith(b"-ERR"), got[:100]
    s.close()

for f in (smtp_long_line, imap_long_line, imap_big_literal, pop_long_line):
    f()
    print(f"{f.__name__}: refused; RSS {rss()} kB")
r2 = rss()
assert not MEMCHECK or r2 < rss0 + 8 * 1024, f"memory after oversized input: {rss0} -> {r2} kB"
imap_ok()

for _ in range(100):
    if fds() <= fd0:
        break
    time.sleep(0.05)
print(f"after: {fds()} fds, {rss()} kB")
assert fds() <= fd0, f"descriptors: {fd0} before, {fds()} after"
PY
kill -0 "$BREV_PID" || fail "brev died"
brev_stop
if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$D/serve.log"; then fail "sanitizer report in the server log"; fi
