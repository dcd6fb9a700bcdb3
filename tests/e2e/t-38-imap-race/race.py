"""FETCH in two sessions while a third appends and expunges (issue 18 bug 2).

Every message body names its UID-independent serial in the subject and in
a body of known length, so a FETCH answer can be checked on its own: the
ENVELOPE's subject, BODY's size and lines, the HEADER.FIELDS literal and
BODY[] must all be this message's. A message expunged meanwhile may be
left out (with OK [EXPUNGEISSUED]); it may not come back empty or padded.
"""
import os, re, socket, sys, threading, time

PORT = int(os.environ["P_IMAP"])
SECONDS = float(os.environ.get("RACE_SECONDS", "5"))
KEEP = 40           # messages the writer keeps in the mailbox
stop = threading.Event()
errors = []
stats = {"fetches": 0, "answers": 0, "expunged": 0, "skipped": 0}


class Conn:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
        self.buf = b""
        self.n = 0
        self.rawline()
        r = self.cmd(b"LOGIN alice@example.test pw-alice")
        assert r[-1].split()[1] == b"OK", r

    def fill(self):
        d = self.s.recv(262144)
        if not d:
            raise EOFError("closed")
        self.buf += d

    def rawline(self):
        while b"\r\n" not in self.buf:
            self.fill()
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def line(self):
        l = self.rawline()
        while True:
            m = re.search(rb"~?\{(\d+)\}$", l)
            if not m:
                return l
            l += b"\r\n" + self.take(int(m.group(1))) + self.rawline()

    def cmd(self, text):
        self.n += 1
        t = b"x%d" % self.n
        self.s.sendall(t + b" " + text + b"\r\n")
        out = []
        while True:
            l = self.line()
            out.append(l)
            if l.startswith(t + b" "):
                return out


def message(serial):
    body = b"".join(b"line %05d of message %06d, some text to make it longer\r\n" % (i, serial)
                    for i in range(300))
    return (b"From: Writer <w@example.test>\r\nTo: r@example.test\r\n"
            b"Subject: race %06d\r\nMessage-ID: <%06d@example.test>\r\n"
            b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" % (serial, serial) + body)


def writer():
    c = Conn()
    c.cmd(b"SELECT INBOX")
    serial = 0
    try:
        while not stop.is_set():
            serial += 1
            m = message(serial)
            c.cmd(b"APPEND INBOX {%d+}\r\n" % len(m) + m)
            r = c.cmd(b"SEARCH ALL")
            nums = [int(x) for x in r[-2].split()[2:]] if len(r) > 1 and r[-2].startswith(b"* SEARCH") else []
            if len(nums) > KEEP:
                drop = b",".join(b"%d" % n for n in nums[: len(nums) - KEEP])
                c.cmd(b"STORE " + drop + b" +FLAGS.SILENT (\\Deleted)")
                c.cmd(b"EXPUNGE")
    except Exception as e:  # noqa: BLE001 - any failure ends the run
        errors.append("writer: %r" % e)
        stop.set()


def check_answer(l):
    m = re.search(rb"Subject: race (\d{6})", l)
    if not m:
        return "no subject in HEADER.FIELDS / BODY[]"
    serial = int(m.group(1))
    want = message(serial)
    hdr = b"Subject: race %06d\r\n\r\n" % serial
    env = b'"race %06d"' % serial
    if env not in l:
        return "ENVELOPE without its subject"
    body_len = len(want) - want.index(b"\r\n\r\n") - 4
    if (b" %d 300)" % body_len) not in l:
        return "BODY without its size and lines"
    if b"BODY[HEADER.FIELDS (SUBJECT)] {%d}\r\n" % len(hdr) + hdr not in l:
        return "wrong HEADER.FIELDS literal"
    if b"BODY[] {%d}\r\n" % len(want) + want not in l:
        return "wrong BODY[] literal"
    return None


def reader(k):
    c = Conn()
    c.cmd(b"SELECT INBOX")
    try:
        while not stop.is_set():
            r = c.cmd(b"FETCH 1:* (UID ENVELOPE BODY BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[])")
            stats["fetches"] += 1
            if r[-1].split()[1] != b"OK":
                if b"No messages" in r[-1] or b"Invalid sequence" in r[-1]:
                    c.cmd(b"NOOP")
                    continue
                errors.append("reader %d: %r" % (k, r[-1][:200]))
                stop.set()
                return
            if b"EXPUNGEISSUED" in r[-1]:
                stats["skipped"] += 1
            for l in r[:-1]:
                if not re.match(rb"\* \d+ FETCH \(UID ", l):
                    continue  # a flag update (FETCH (FLAGS ...)), not an answer
                stats["answers"] += 1
                why = check_answer(l)
                if why:
                    errors.append("reader %d: %s: %r" % (k, why, l[:300]))
                    stop.set()
                    return
            r = c.cmd(b"NOOP")
            stats["expunged"] += sum(1 for l in r if l.endswith(b" EXPUNGE"))
    except Exception as e:  # noqa: BLE001
        errors.append("reader %d: %r" % (k, e))
        stop.set()


# Fill the mailbox first, so both readers start with KEEP messages.
c = Conn()
for i in range(KEEP):
    m = message(900000 + i)
    c.cmd(b"APPEND INBOX {%d+}\r\n" % len(m) + m)
threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader, args=(k,)) for k in range(2)]
for t in threads:
    t.start()
deadline = time.time() + SECONDS
while time.time() < deadline and not stop.is_set():
    time.sleep(0.1)
stop.set()
for t in threads:
    t.join(60)
print("stats: %r" % stats)
if errors:
    print("FAIL: " + "; ".join(errors))
    sys.exit(1)
if stats["answers"] < 100 or stats["expunged"] < 10:
    print("FAIL: the race did not run (too few answers or expunges)")
    sys.exit(1)
print("ok")
