"""Raw IMAP dialogues against brev; each step checks the exact reply shape."""
import os, re, socket, time

PORT = int(os.environ["P_IMAP"])

class C:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        self.buf = b""
        self.greeting = self.line()

    def line(self):
        while b"\r\n" not in self.buf:
            try:
                d = self.s.recv(65536)
            except ConnectionResetError:  # closed with our bytes unread
                d = b""
            if not d:
                r, self.buf = self.buf, b""
                return r
            self.buf += d
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def send(self, b):
        self.s.sendall(b)

    def until(self, tag):
        lines = []
        while True:
            l = self.line()
            lines.append(l)
            if l.startswith(tag + b" ") or l == b"":
                return lines

    def cmd(self, text):
        tag = text.split(b" ", 1)[0]
        self.send(text + b"\r\n")
        return self.until(tag)

def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)

def status(lines):
    return lines[-1].split(b" ")[1] if lines and b" " in lines[-1] else b""

c = C()
check(c.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 IMAP4rev2"), "greeting %r" % c.greeting)
r = c.cmd(b"a0 SELECT INBOX")
check(status(r) == b"BAD", "select before login %r" % r)
r = c.cmd(b"a1 FROBNICATE")
check(status(r) == b"BAD" and b"Unknown" in r[-1], "unknown command %r" % r)

# A synchronizing literal that is too large: BAD, and no "+" is sent.
c.send(b"b1 LOGIN {999999}\r\n")
l = c.line()
check(l.startswith(b"b1 BAD"), "big sync literal %r" % l)
# LITERAL+ too large before login: BAD, BYE and the connection closes
# (RFC 7888 4): nothing unauthenticated makes the server swallow 70 KB.
x = C()
x.send(b"b2 LOGIN {70000+}\r\n" + b"x" * 70000 + b" pw\r\n")
l = x.line()
check(l.startswith(b"b2 BAD") and b"too large" in l, "big nonsync literal %r" % l)
l = x.line()
check(l.startswith(b"* BYE") or l == b"", "bye after refused literal+ %r" % l)
check(l == b"" or x.line() == b"", "closed after refused literal+")
r = c.cmd(b"b3 NOOP")
check(status(r) == b"OK", "other session unaffected %r" % r)
# A line longer than the limit: its end (a literal?) was never seen, so the
# server answers and closes rather than read on out of step.
x = C()
x.send(b"b4 NOOP " + b"y" * 70000 + b"\r\n")
l = x.line()
check(l.startswith(b"* BAD") or l.startswith(b"b4 BAD"), "long line %r" % l)
l = x.line()
check(l.startswith(b"* BYE") or l == b"", "bye after long line %r" % l)
check(l == b"" or x.line() == b"", "closed after long line")
r = c.cmd(b"b5 NOOP")
check(status(r) == b"OK", "after long line %r" % r)
r = c.cmd(b"b6 LOGIN " + b"(" * 40 + b"x")
check(status(r) == b"BAD", "deep nesting %r" % r)
r = c.cmd(b'b7 LOGIN "unterminated')
check(status(r) == b"BAD", "unterminated quoted %r" % r)

# Login with a synchronizing literal password.
c.send(b"c1 LOGIN alice@example.test {8}\r\n")
l = c.line()
check(l.startswith(b"+ "), "literal continuation %r" % l)
c.send(b"pw-alice\r\n")
r = c.until(b"c1")
check(status(r) == b"OK" and b"[CAPABILITY" in r[-1], "login %r" % r)
# APPEND with a synchronizing literal.
msg = b"Subject: dlg\r\n\r\nbody\r\n"
c.send(b"c2 APPEND INBOX (\\Seen) {%d}\r\n" % len(msg))
check(c.line().startswith(b"+ "), "append continuation")
c.send(msg + b"\r\n")
r = c.until(b"c2")
check(status(r) == b"OK" and b"[APPENDUID " in r[-1], "append %r" % r)
c.send(b"c3 APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
r = c.until(b"c3")
check(status(r) == b"OK", "append literal+ %r" % r)
r = c.cmd(b"c4 APPEND Nope {1+}\r\nx")
check(status(r) == b"NO" and b"TRYCREATE" in r[-1], "append to missing %r" % r)
r = c.cmd(b"c5 SELECT INBOX")
check(status(r) == b"OK" and any(l == b"* 2 EXISTS" for l in r), "select %r" % r)

# Sequence sets.
for s, want in ((b"0", b"BAD"), (b"*:1", b"OK"), (b"3", b"BAD"), (b"1:4294967296", b"BAD"),
                (b"1,,2", b"BAD"), (b"2:1", b"OK"), (b"a", b"BAD")):
    r = c.cmd(b"d FETCH " + s + b" FLAGS")
    check(status(r) == want, "FETCH %r -> %r" % (s, r))
r = c.cmd(b"d UID FETCH 1:4294967295 (UID)")
check(status(r) == b"OK" and len(r) == 3, "uid fetch huge range %r" % r)
r = c.cmd(b"d UID FETCH 99:* (UID)")
check(status(r) == b"OK" and len(r) == 2, "uid 99:* gives the last message %r" % r)
r = c.cmd(b"d FETCH 1 (BODY[1.2.3.MIME] BODY[0])")
check(status(r) == b"BAD", "body[0] %r" % r)
r = c.cmd(b"d FETCH 1 (BODY.PEEK[5])")
check(status(r) == b"OK" and b"BODY[5] NIL" in r[0], "missing part %r" % r)
r = c.cmd(b"d SEARCH " + b"NOT " * 100 + b"ALL")
check(status(r) == b"BAD", "search depth %r" % r)
r = c.cmd(b"d SEARCH CHARSET KOI8-R ALL")
check(status(r) == b"NO" and b"BADCHARSET" in r[-1], "charset %r" % r)

# EXPUNGE shrinks the mailbox by itself: no EXISTS after it when nothing
# arrived (RFC 9051 5.2, 7.5.1). fetchmail in IDLE takes every EXISTS for new
# mail and polls again; a second session, in IDLE or after NOOP, sees only the
# EXPUNGE too.
w = C()
check(status(w.cmd(b"w1 LOGIN alice@example.test pw-alice")) == b"OK", "w login")
check(status(w.cmd(b"w2 SELECT INBOX")) == b"OK", "w select")
for i in range(2):
    r = c.cmd(b"x%d APPEND INBOX {%d+}\r\n" % (i, len(msg)) + msg)
    check(status(r) == b"OK", "append for expunge %r" % r)
check(b"* 4 EXISTS" in r, "the appends show up in the selected session %r" % r)
r = w.cmd(b"w3 NOOP")
check(b"* 4 EXISTS" in r, "w noop sees the appends %r" % r)
w.send(b"w4 IDLE\r\n")
check(w.line().startswith(b"+ "), "w idle continuation")
r = c.cmd(b"x3 STORE 4 +FLAGS.SILENT (\\Deleted)")
check(status(r) == b"OK", "store deleted %r" % r)
r = c.cmd(b"x4 EXPUNGE")
check(status(r) == b"OK" and b"* 4 EXPUNGE" in r, "expunge %r" % r)
check(not any(l.endswith(b" EXISTS") for l in r), "EXISTS after EXPUNGE %r" % r)
w.s.settimeout(5)
seen = []
while not any(l.endswith(b" EXPUNGE") for l in seen):
    seen.append(w.line())
w.send(b"DONE\r\n")
seen += w.until(b"w4")
check(status(seen) == b"OK" and b"* 4 EXPUNGE" in seen, "w idle saw the expunge %r" % seen)
check(not any(l.endswith(b" EXISTS") for l in seen), "EXISTS after EXPUNGE in IDLE %r" % seen)
r = w.cmd(b"w5 LOGOUT")
check(status(r) == b"OK", "w logout %r" % r)

# IDLE then DONE.
c.send(b"e1 IDLE\r\n")
check(c.line().startswith(b"+ "), "idle continuation")
time.sleep(0.2)
c.send(b"DONE\r\n")
r = c.until(b"e1")
check(status(r) == b"OK", "idle done %r" % r)
r = c.cmd(b"e2 LOGOUT")
check(r[0].startswith(b"* BYE") and status(r) == b"OK", "logout %r" % r)

# An unterminated literal and a vanished client must not wedge the server.
u = C()
u.send(b"f1 LOGIN {50}\r\nabc")
check(u.line().startswith(b"+ "), "continuation before cut")
u.s.close()

# Too many errors in a row: BYE.
z = C()
for i in range(20):  # exactly the limit: nothing of ours is left unread
    z.send(b"z BOGUS\r\n")
got = b""
z.s.settimeout(5)
try:
    while True:
        d = z.s.recv(65536)
        if not d:
            break
        got += d
except (socket.timeout, ConnectionResetError):
    pass
check(b"* BYE" in got, "bye after errors %r" % got[-200:])

# STARTTLS injection (needs TLS on the server).
if b"STARTTLS" in C().greeting:
    t = C()
    t.send(b"g1 STARTTLS\r\ng2 NOOP\r\n")
    l = t.line()
    check(l.startswith(b"g1 BAD"), "starttls with pipelined plaintext %r" % l)
    check(t.line() == b"", "connection not closed after injection")

# The server still answers.
n = C()
r = n.cmd(b"h1 CAPABILITY")
check(status(r) == b"OK", "server alive %r" % r)
print("dialogue: all checks passed")
