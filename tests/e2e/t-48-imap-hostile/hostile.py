"""Hostile IMAP clients against brev: each block is one finding of the
security review, checked on the wire and, where it is about resources, in
/proc of the server."""
import os, re, socket, threading, time

PORT = int(os.environ["P_IMAP"])
PID = int(os.environ["BREV_PID"])


class C:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=20)
        self.buf = b""
        self.greeting = self.line()

    def line(self):
        while b"\r\n" not in self.buf:
            try:
                d = self.s.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
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
        self.send(text + b"\r\n")
        return self.until(text.split(b" ", 1)[0])

    def closed(self):
        """The server hung up (after at most a BYE)."""
        self.s.settimeout(10)
        got = b""
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
                got += d
                if len(got) > 4096:
                    return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)


def status(lines):
    return lines[-1].split(b" ")[1] if lines and b" " in lines[-1] else b""


def rss_kb():
    for l in open("/proc/%d/status" % PID):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])
    return 0


def nfds():
    return len(os.listdir("/proc/%d/fd" % PID))


def login(c):
    r = c.cmd(b"L LOGIN alice@example.test pw-alice")
    check(status(r) == b"OK", "login %r" % r)


# ---- 1. literals before login: refused before a byte is read ----
rss0, fd0 = rss_kb(), nfds()
c = C()
c.send(b"a0 APPEND INBOX {10}\r\n")
l = c.line()
check(l.startswith(b"a0 BAD") and b"before login" in l, "sync literal before login %r" % l)
r = c.cmd(b"a1 NOOP")
check(status(r) == b"OK", "still usable after a refused sync literal %r" % r)
# The PoC: APPEND with LITERAL+ before login, 3000 x 64 KiB, from a thread
# (the server hangs up at the first one, so the sends fail early).
def flood(sock):
    chunk = b"x" * 65536
    try:
        sock.sendall(b"a2 APPEND INBOX {65536+}\r\n")
        for _ in range(3000):
            sock.sendall(chunk + b" {65536+}\r\n")
    except OSError:
        pass
t = threading.Thread(target=flood, args=(c.s,))
t.start()
l = c.line()
check(l.startswith(b"a2 BAD"), "literal+ APPEND before login %r" % l)
l = c.line()
check(l.startswith(b"* BYE") or l == b"", "BYE after refused literal+ %r" % l)
t.join(30)
check(not t.is_alive(), "flood still being accepted")
c.s.close()
# Many clients at once, each trying: the server does not grow.
cs = []
for i in range(50):
    x = C()
    x.send(b"f%d LOGIN {8192}\r\n" % i)     # allowed size: gets "+"
    cs.append(x)
for x in cs:
    check(x.line().startswith(b"+ "), "small LOGIN literal continues")
    x.send(b"y" * 8192 + b" {9000}\r\n")      # second one too large: BAD, no "+"
    l = x.line()
    check(b"BAD" in l, "large LOGIN literal %r" % l)
for x in cs:
    x.s.close()
time.sleep(0.5)
rss1, fd1 = rss_kb(), nfds()
check(rss1 - rss0 < 20000, "RSS grew from %d to %d kB" % (rss0, rss1))
check(fd1 - fd0 < 10, "descriptors grew from %d to %d" % (fd0, fd1))

# ---- 7. LITERAL+ after a syntax error earlier in its line ----
c = C()
c.send(b'i1 LOGIN "unterminated {12+}\r\nb DELETE Foo\r\n')
l = c.line()
check(l.startswith(b"i1 BAD"), "syntax error %r" % l)
l = c.line()
check(l.startswith(b"* BYE") or l == b"", "closed before login, not read as a command %r" % l)
c.s.close()
c = C()
login(c)
c.cmd(b"i2 CREATE Foo")
c.send(b'i3 LOGIN "unterminated {12+}\r\ni4 DELETE Foo\r\n')
l = c.line()
check(l.startswith(b"i3 BAD"), "syntax error after login %r" % l)
r = c.cmd(b"i5 LIST \"\" Foo")
check(status(r) == b"OK" and any(b"Foo" in x for x in r), "literal bytes ran as a command %r" % r)
check(not any(x.startswith(b"i4 ") for x in r), "i4 answered %r" % r)

# ---- 6. MULTIAPPEND is all or nothing ----
def exists(c, box):
    r = c.cmd(b"s STATUS " + box + b" (MESSAGES)")
    m = re.search(rb"MESSAGES (\d+)", b" ".join(r))
    return int(m.group(1))
n0 = exists(c, b"INBOX")
r = c.cmd(b"g2 APPEND INBOX {3+}\r\nabc {0+}\r\n")
check(status(r) == b"NO", "empty second message %r" % r)
check(exists(c, b"INBOX") == n0, "first message stored anyway")
r = c.cmd(b"g3 APPEND INBOX {3+}\r\nabc (\\Bogus) {3+}\r\ndef")
check(status(r) == b"BAD", "bad flag in second message %r" % r)
check(exists(c, b"INBOX") == n0, "first message stored despite BAD")

# ---- 5. COPYUID and MOVE for 300 messages: whole lines, ranges ----
msgs = b""
for i in range(300):
    m = b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i)
    msgs += b" {%d+}\r\n" % len(m) + m
r = c.cmd(b"h1 APPEND INBOX" + msgs)
check(status(r) == b"OK", "MULTIAPPEND of 300 %r" % r[-1][:200])
m = re.search(rb"\[APPENDUID (\d+) ([0-9:,]+)\]", r[-1])
check(m is not None, "APPENDUID %r" % r[-1][:200])
def expand(s):
    out = []
    for part in s.split(b","):
        a, _, b = part.partition(b":")
        lo, hi = int(a), int(b or a)
        out += list(range(lo, hi + 1)) if lo <= hi else list(range(lo, hi - 1, -1))
    return out
check(len(expand(m.group(2))) == 300, "APPENDUID set %r" % m.group(2))
check(len(m.group(2)) < 40, "APPENDUID not as a range %r" % m.group(2)[:80])
c.cmd(b"h2 CREATE Dst")
r = c.cmd(b"h3 SELECT INBOX")
check(status(r) == b"OK", "select")
r = c.cmd(b"h4 COPY 1:* Dst")
m = re.match(rb"h4 OK \[COPYUID (\d+) ([0-9:,]+) ([0-9:,]+)\] ", r[-1])
check(m is not None, "COPYUID line %r" % r[-1][:300])
src, dst = expand(m.group(2)), expand(m.group(3))
check(len(src) == 300 + n0 and len(dst) == len(src), "COPYUID sets %d %d" % (len(src), len(dst)))
check(len(r[-1]) < 200, "COPYUID not written as ranges: %d bytes" % len(r[-1]))
r = c.cmd(b"h5 MOVE 1:* Dst")
cu = [x for x in r if x.startswith(b"* OK [COPYUID ")]
check(len(cu) == 1, "MOVE COPYUID %r" % r[:3])
m = re.match(rb"\* OK \[COPYUID (\d+) ([0-9:,]+) ([0-9:,]+)\] ", cu[0])
check(m is not None and len(expand(m.group(3))) == len(src), "MOVE COPYUID sets %r" % cu[0][:200])
check(status(r) == b"OK", "move %r" % r[-1])

# ---- 4. LIST patterns are not exponential ----
r = c.cmd(b"j1 CREATE " + b"a" * 200)
check(status(r) == b"OK", "create long name %r" % r)
t0 = time.time()
r = c.cmd(b'j2 LIST "" "*a*a*a*a*a*a*a*a*ab"')
dt = time.time() - t0
check(status(r) == b"OK" and len(r) == 1, "LIST %r" % r)
check(dt < 2, "LIST took %.1f s" % dt)
r = c.cmd(b'j3 LIST "" "%a%a%a%a%a%a%a%a%a"')
check(status(r) == b"OK" and any(b"a" * 200 in x for x in r), "LIST %% %r" % r[:2])
# Deep hierarchies: at most 16 levels; many deep names list in O(n log n)
# (parents were deduplicated by a linear search, children found likewise).
r = c.cmd(b"j4 CREATE " + b"/".join([b"d"] * 17))
check(status(r) == b"NO" and b"[LIMIT]" in r[-1], "17 levels %r" % r)
deep = b"/".join([b"x" * 20] * 15)
# (The store creates the parents as mailboxes: 60 chains are 960 of the
# 1000 allowed.)
c.send(b"".join(b"j5 CREATE d%03d/%s\r\n" % (i, deep) for i in range(60)))
for i in range(60):
    r = c.until(b"j5")
    check(status(r) == b"OK", "create deep %d %r" % (i, r))
t0 = time.time()
r = c.cmd(b'j6 LIST "" "*"')
dt = time.time() - t0
check(status(r) == b"OK", "LIST * %r" % r[-1])
check(len([x for x in r if x.startswith(b"* LIST ")]) >= 60 * 16, "LIST count %d" % len(r))
check(len([x for x in r if x.startswith(b"* LIST (\\HasChildren) ")]) == 60 * 15,
      "HasChildren %r" % r[:3])
check(dt < 3, "LIST of deep hierarchies took %.1f s" % dt)
c.cmd(b"z LOGOUT")

# ---- 2. failed logins: 3 per connection, then NO and BYE ----
c = C()
for i in range(3):
    r = c.cmd(b"k%d LOGIN alice@example.test wrong" % i)
    check(status(r) == b"NO", "failed login %d %r" % (i, r))
l = c.line()
check(l.startswith(b"* BYE") or l == b"", "BYE after 3 failures %r" % l)
check(l == b"" or c.closed(), "closed after 3 failures")

# ---- 2. the throttle is per address, not per connection ----
# 3 failures so far: each attempt from 127.0.0.1 now takes its own turn
# (1 s apart), so 3 parallel connections finish about 3 s after the
# start, not all together after 1 s.
done = []
def attempt(i):
    x = C()
    r = x.cmd(b"p%d LOGIN alice@example.test wrong" % i)
    done.append((time.time(), status(r)))
t0 = time.time()
ts = [threading.Thread(target=attempt, args=(i,)) for i in range(3)]
for t in ts:
    t.start()
for t in ts:
    t.join(60)
check(len(done) == 3 and all(s == b"NO" for _, s in done), "parallel attempts %r" % done)
spread = max(d for d, _ in done) - t0
check(spread >= 2.5, "parallel attempts not serialised: all done after %.2f s" % spread)
print("hostile: all checks passed")
