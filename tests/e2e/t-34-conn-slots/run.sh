#!/bin/bash
# Connection slots and pre-login time-outs (issue 22, issue 24 "Limits"):
# - with limits.connections = 40, one address may hold 8 connections (the
#   per-address minimum; 40/8 would be 5) and the 9th is refused;
# - idle IMAP and POP3 clients from many addresses take at most what is not
#   kept for the MX and submission: afterwards the MX and submission still
#   greet with 220 on their reserved slots (before, IMAP and POP3 filled
#   every slot and the MX answered 421);
# - before login a client gets limits.timeout_preauth (here 2 s) to send a
#   command or start TLS: IMAP, IMAPS (no handshake), POP3, the MX (no
#   first command, or STARTTLS and no handshake) and submission (EHLO but
#   no AUTH) are closed; after login (or the MX's first command, again after
#   STARTTLS) the longer time-outs apply, and POP3's own
#   (limits.timeout_pop3, here 4 s) then ends an idle session.
. ../lib.sh
brev_init slots
brev_user alice@example.test pw-alice
brev_start -o limits.connections=40 -o limits.timeout_preauth=60s
python3 -u - <<'PY' || fail "slots"
import os, smtplib, socket

P = {k: int(os.environ[k]) for k in ("P_SMTP", "P_SUB", "P_IMAP", "P_POP3")}
held = []

def greet(port, src):
    s = socket.create_connection(("127.0.0.1", port), 30, (src, 0))
    g = s.makefile("rb").readline()
    held.append(s)
    return g

# One address: 8 connections, not 40/8 = 5; the 9th is refused.
g = [greet(P["P_IMAP"], "127.1.1.1") for _ in range(9)]
assert all(x.startswith(b"* OK") for x in g[:8]), g
assert g[8].startswith(b"* BYE"), ("9th from one address", g[8])
for s in held:
    s.close()
held.clear()

# Idle IMAP, then POP3, from many addresses (6 each, under the per-address cap).
imap = [greet(P["P_IMAP"], "127.1.2.%d" % (1 + i // 6)) for i in range(42)]
pop = [greet(P["P_POP3"], "127.1.3.%d" % (1 + i // 6)) for i in range(24)]
n_imap = sum(x.startswith(b"* OK") for x in imap)
n_pop = sum(x.startswith(b"+OK") for x in pop)
print("idle IMAP accepted %d of 42, POP3 %d of 24" % (n_imap, n_pop))
assert n_imap + n_pop == 30, (n_imap, n_pop)  # 40 minus 5 + 5 kept
# The MX and submission still get their own slots.
for port, name in ((P["P_SMTP"], "MX"), (P["P_SUB"], "submission")):
    for i in range(5):
        s = smtplib.SMTP("127.0.0.1", port, timeout=30, source_address=("127.1.4.%d" % (i + 1), 0))
        code, msg = s.ehlo("slots.test")
        assert code == 250, (name, code, msg)
        held.append(s.sock)
print("the MX and submission greeted on their reserved slots")
PY
grep -q "kept for the MX and submission" "$D/serve.log" || fail "no log line for the reserve"
grep -q "per-address connection limit reached" "$D/serve.log" || fail "no log line for the per-address limit"
brev_stop

brev_start -o limits.timeout_preauth=2s -o limits.timeout_pop3=4s
python3 -u - "$D/cert.pem" <<'PY' || fail "time-outs"
import imaplib, os, poplib, smtplib, socket, sys, time

P = {k: int(os.environ[k]) for k in ("P_SMTP", "P_SUB", "P_IMAP", "P_IMAPS", "P_POP3")}

def closed_after(s, what):
    """Seconds until the server closes s (reading whatever it says last)."""
    t = time.monotonic()
    s.settimeout(30)
    while True:
        try:
            d = s.recv(4096)
        except ConnectionResetError:
            d = b""
        if not d:
            dt = time.monotonic() - t
            print("%-34s closed after %.1f s" % (what, dt))
            assert 1.5 <= dt < 25, (what, dt)
            return

def raw(port, greet=True):
    s = socket.create_connection(("127.0.0.1", port), 30)
    if greet:
        s.settimeout(30)
        assert s.recv(4096), "no greeting"
    return s

closed_after(raw(P["P_IMAP"]), "IMAP, no command")
closed_after(raw(P["P_POP3"]), "POP3, no command")
closed_after(raw(P["P_SMTP"]), "SMTP MX, no command")
closed_after(raw(P["P_IMAPS"], greet=False), "IMAPS, no TLS handshake")

# After the MX's first command, RFC 5321's 5 minutes.
s = smtplib.SMTP("127.0.0.1", P["P_SMTP"], timeout=30)
s.ehlo("slots.test")
time.sleep(3.5)
assert s.noop()[0] == 250, "MX session ended after its first command"
s.quit()
# STARTTLS starts over: the handshake (and the first command over TLS) get
# the pre-auth wait again, not the 5 minutes the EHLO before it earned ...
s = raw(P["P_SMTP"])
s.sendall(b"EHLO slots.test\r\n")
f = s.makefile("rb")
while not f.readline().startswith(b"250 "):
    pass
s.sendall(b"STARTTLS\r\n")
assert f.readline().startswith(b"220 "), "no 220 to STARTTLS"
closed_after(s, "SMTP MX, STARTTLS and no handshake")
# ... and a session that completed it and spoke has its 5 minutes back.
import ssl
s = smtplib.SMTP("127.0.0.1", P["P_SMTP"], timeout=30)
s.ehlo("slots.test")
s.starttls(context=ssl.create_default_context(cafile=sys.argv[1]))
s.ehlo("slots.test")
time.sleep(3.5)
assert s.noop()[0] == 250, "MX session over TLS ended after its first command"
s.quit()
# Submission keeps the short wait until AUTH, then the 5 minutes.
s = smtplib.SMTP("127.0.0.1", P["P_SUB"], timeout=30)
s.ehlo("slots.test")
closed_after(s.sock, "submission, EHLO and no AUTH")
s = smtplib.SMTP("127.0.0.1", P["P_SUB"], timeout=30)
s.ehlo("slots.test")
s.login("alice@example.test", "pw-alice")
time.sleep(3.5)
assert s.noop()[0] == 250, "submission session ended after AUTH"
s.quit()

# After login: IMAP's autologout (30 min) and POP3's own time-out.
m = imaplib.IMAP4("127.0.0.1", P["P_IMAP"], timeout=30)
m.login("alice@example.test", "pw-alice")
time.sleep(3.5)
assert m.noop()[0] == "OK", "IMAP session ended after login"
m.logout()
p = poplib.POP3("127.0.0.1", P["P_POP3"], timeout=30)
p.user("alice@example.test")
p.pass_("pw-alice")
time.sleep(3)
assert p.noop().startswith(b"+OK"), "POP3 session ended after login"
t = time.monotonic()
p.sock.settimeout(30)
last = b""
while True:
    d = p.sock.recv(4096)
    if not d:
        break
    last += d
dt = time.monotonic() - t
print("POP3 idle after login closed after %.1f s: %r" % (dt, last))
assert 3 <= dt < 25, dt
PY
brev_stop
echo ok
