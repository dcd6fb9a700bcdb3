"""FETCH in two sessions while a third appends and expunges (issue 18 bug 2).

Two rounds: small messages (answered from one read of the store) and
messages over 1 MiB (streamed; one that goes while its literal is being
written ends the connection, which a reader here then opens again, and
counts).

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
LINES = 300         # body lines of a message (about 58 bytes each)
BOX = b"INBOX"
stop = threading.Event()
errors = []
stats = {"fetches": 0, "answers": 0, "expunged": 0, "skipped": 0, "closed": 0}


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
                    for i in range(LINES))
    return (b"From: Writer <w@example.test>\r\nTo: r@example.test\r\n"
            b"Subject: race %06d\r\nMessage-ID: <%06d@example.test>\r\n"
            b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" % (serial, serial) + body)


def writer():
    c = Conn()
    c.cmd(b"SELECT " + BOX)
    serial = 0
    try:
        while not stop.is_set():
            serial += 1
            m = message(serial)
            c.cmd(b"APPEND %s {%d+}\r\n" % (BOX, len(m)) + m)
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
    if (b" %d %d)" % (body_len, LINES)) not in l:
        return "BODY without its size and lines"
    if b"BODY[HEADER.FIELDS (SUBJECT)] {%d}\r\n" % len(hdr) + hdr not in l:
        return "wrong HEADER.FIELDS literal"
    if b"BODY[] {%d}\r\n" % len(want) + want not in l:
        return "wrong BODY[] literal"
    return None


def reader(k, may_close):
    c = Conn()
    c.cmd(b"SELECT " + BOX)
    try:
        while not stop.is_set():
            try:
                r = c.cmd(b"FETCH 1:* (UID ENVELOPE BODY BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[])")
            except EOFError:
                if not may_close:
                    raise
                # A message over 1 MiB went while its literal was written:
                # brev closed rather than finish it wrong. Start again.
                stats["closed"] += 1
                c = Conn()
                c.cmd(b"SELECT " + BOX)
                continue
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


def round_(name, box, keep, lines, seconds, min_answers, min_expunged):
    global BOX, KEEP, LINES
    BOX, KEEP, LINES = box, keep, lines
    stop.clear()
    for key in stats:
        stats[key] = 0
    c = Conn()
    if box != b"INBOX":
        c.cmd(b"CREATE " + box)
    # Fill the mailbox first, so both readers start with KEEP messages.
    for i in range(KEEP):
        m = message(900000 + i)
        c.cmd(b"APPEND %s {%d+}\r\n" % (box, len(m)) + m)
    big = len(message(1)) > 1024 * 1024
    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader, args=(k, big)) for k in range(2)]
    for t in threads:
        t.start()
    deadline = time.time() + seconds
    while time.time() < deadline and not stop.is_set():
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join(60)
    print("%s: %d-byte messages, stats: %r" % (name, len(message(1)), stats))
    if errors:
        print("FAIL: " + "; ".join(errors))
        sys.exit(1)
    if stats["answers"] < min_answers or stats["expunged"] < min_expunged:
        print("FAIL: the race did not run (too few answers or expunges)")
        sys.exit(1)


round_("small", b"INBOX", 40, 300, SECONDS, 100, 10)
round_("big", b"Big", 4, 20000, SECONDS * 0.6, 10, 3)
print("ok")
