"""Several concurrent IMAP sessions on one brev: does every selected session
learn exactly what changed in its mailbox (FETCH FLAGS, EXPUNGE, EXISTS),
once, with numbers that are right when sent? Raw sockets, so every
untagged line is seen. Each session keeps the model a client would (number
-> UID and flags, from nothing but the responses it received) and the
model is compared with a fresh session's SELECT + FETCH 1:* (UID FLAGS).

Every part runs in its own mailbox; a failed check ends its part, the
others still run. Exit status 1 if anything failed; then the failures are
written once more, short, to $T49_SUMMARY. Development aids: T49_ONLY=1,6
(parts), T49_SEED and T49_OPS (part 6), T49_COPS (part 8)."""
import collections, os, random, re, select, socket, sys, time, traceback

PORT = int(os.environ["P_IMAP"])
P_SMTP = int(os.environ["P_SMTP"])
USER, PW = "alice@example.test", "pw-alice"
ONLY = os.environ.get("T49_ONLY", "")


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def expect(got, want, what):
    if got != want:
        raise Fail("%s\n    expected: %r\n    got:      %r" % (what, want, got))


RE_NUM = re.compile(rb"^\* (\d+) (EXISTS|EXPUNGE|RECENT|FETCH)\b ?(.*)$", re.S)
RE_UID = re.compile(rb"\bUID (\d+)")
RE_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
RE_LIT = re.compile(rb"\{(\d+)\+?\}$")


def flagset(raw):
    # \Recent belongs to one IMAP4rev1 session (the first told of the
    # message), so no model compares it with a fresh session's: t-39 checks it.
    return frozenset(f for f in raw.decode().split() if f.lower() != "\\recent")


class Resp:
    """One untagged response: kind EXISTS/EXPUNGE/RECENT/FETCH/OTHER."""

    def __init__(self, line, lits):
        self.line, self.lits = line, lits
        self.kind, self.n, self.uid, self.flags = "OTHER", 0, None, None
        m = RE_NUM.match(line)
        if m:
            self.kind, self.n = m.group(2).decode(), int(m.group(1))
            if self.kind == "FETCH":
                rest = m.group(3)
                u = RE_UID.search(rest)
                f = RE_FLAGS.search(rest)
                self.uid = int(u.group(1)) if u else None
                self.flags = flagset(f.group(1)) if f else None

    def __repr__(self):
        return repr(self.line[:160])


LIVE = []  # open connections, whose last lines a failure shows


class Conn:
    """One IMAP connection; its model is the client's view of the selected
    mailbox: a list of [uid or None, flags or None], index = number - 1."""

    def __init__(self, name, rev2=False):
        self.name, self.rev2 = name, rev2
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=60)
        self.buf, self.pos = b"", 0  # unread input is buf[pos:]
        self.tagn = 0
        self.model = None
        self.mbox = None
        self.idling = None
        self.trace = collections.deque(maxlen=60)
        LIVE.append(self)
        g = self.line()
        check(g.startswith(b"* OK"), "%s: greeting %r" % (name, g))
        self.cmd("LOGIN %s %s" % (USER, PW))
        if rev2:
            r, t = self.cmd("ENABLE IMAP4rev2")
            check(any(x.line == b"* ENABLED IMAP4rev2" for x in r), "%s: ENABLE %r" % (name, r))

    def close(self):
        if self in LIVE:
            LIVE.remove(self)
        try:
            self.s.sendall(b"Z LOGOUT\r\n")
        except OSError:
            pass
        self.s.close()

    # --- reading
    def _more(self, deadline=None):
        if deadline is not None:
            left = deadline - time.time()
            if left <= 0 or not select.select([self.s], [], [], left)[0]:
                return False
        try:
            d = self.s.recv(1 << 20)
        except ConnectionResetError:
            d = b""
        if not d:
            raise Fail("%s: connection closed by the server" % self.name)
        self.buf = self.buf[self.pos:] + d
        self.pos = 0
        return True

    def line(self, deadline=None):
        """One response line, literals cut out (replaced by {n}) and kept
        apart; None when the deadline passes first."""
        lits = []
        out = b""
        while True:
            while True:
                e = self.buf.find(b"\r\n", self.pos)
                if e >= 0:
                    break
                if not self._more(deadline):
                    check(not out and not lits, "%s: timeout inside a response" % self.name)
                    return None
            l = self.buf[self.pos:e]
            self.pos = e + 2
            out += l
            m = RE_LIT.search(l)
            if not m:
                break
            n = int(m.group(1))
            while len(self.buf) - self.pos < n:
                self._more()
            lits.append(self.buf[self.pos:self.pos + n])
            self.pos += n
        self.lastlits = lits
        self.trace.append(b"S: " + out[:200])
        return out

    def resp(self, deadline=None):
        l = self.line(deadline)
        return None if l is None else Resp(l, self.lastlits)

    # --- commands
    def send(self, data):
        self.trace.append(b"C: " + data[:200].split(b"\r\n")[0])
        self.s.sendall(data)

    def cmd(self, text, raw=None, want="OK"):
        """Send a command (text, or raw bytes after the tag); return the
        untagged responses (each applied to the model) and the tagged line."""
        self.tagn += 1
        tag = b"%s%d" % (self.name.encode(), self.tagn)
        body = raw if raw is not None else text.encode()
        self.send(tag + b" " + body + b"\r\n")
        un = []
        while True:
            r = self.resp()
            if r.line.startswith(tag + b" "):
                break
            check(r.line.startswith(b"* ") or r.line.startswith(b"+ "),
                  "%s: unexpected line %r" % (self.name, r.line))
            self.apply(r)
            un.append(r)
        verb = (text or "").split(" ")[0].upper() if raw is None else "RAW"
        if verb in ("FETCH", "STORE", "SEARCH"):
            # RFC 9051 7.5.1: no EXPUNGE while answering these by number
            bad = [x for x in un if x.kind == "EXPUNGE"]
            check(not bad, "%s: EXPUNGE during %s: %r" % (self.name, text[:60], bad))
        st = r.line[len(tag) + 1:]
        if want:
            check(st.startswith(want.encode()),
                  "%s: %s -> %r (wanted %s)" % (self.name, (text or "RAW")[:80], st, want))
        return un, st

    def apply(self, r):
        """Apply one untagged response to the model, checking that it makes
        sense when it arrives."""
        m = self.model
        if m is None or r.kind in ("OTHER", "RECENT"):
            return
        if r.kind == "EXPUNGE":
            check(1 <= r.n <= len(m), "%s: * %d EXPUNGE with %d messages" % (self.name, r.n, len(m)))
            del m[r.n - 1]
        elif r.kind == "EXISTS":
            check(r.n >= len(m), "%s: * %d EXISTS below the %d messages known (EXISTS may not "
                  "shrink the mailbox)" % (self.name, r.n, len(m)))
            m.extend([None, None] for _ in range(r.n - len(m)))
        elif r.kind == "FETCH":
            check(1 <= r.n <= len(m), "%s: * %d FETCH with %d messages: %r" % (self.name, r.n, len(m), r))
            e = m[r.n - 1]
            if r.uid is not None:
                check(e[0] is None or e[0] == r.uid,
                      "%s: * %d FETCH says UID %d, the model has UID %s there" % (self.name, r.n, r.uid, e[0]))
                if e[0] is None:
                    # UIDs ascend: compare with the neighbours if known
                    lo = m[r.n - 2][0] if r.n > 1 else 0
                    hi = m[r.n][0] if r.n < len(m) else None
                    lo, hi = lo or 0, hi or 1 << 32
                    check(lo < r.uid < hi, "%s: * %d FETCH says UID %d, but the model has UIDs "
                          "up to %d before it and from %d after it" % (self.name, r.n, r.uid, lo, hi))
                e[0] = r.uid
            if r.flags is not None:
                e[1] = r.flags

    def select(self, mbox, examine=False):
        un, st = self.cmd("%s %s" % ("EXAMINE" if examine else "SELECT", mbox))
        ex = [x.n for x in un if x.kind == "EXISTS"]
        check(len(ex) == 1, "%s: SELECT gave EXISTS %r" % (self.name, ex))
        self.mbox = mbox
        self.model = [[None, None] for _ in range(ex[0])]
        self.resolve()
        return un

    def resolve(self):
        """Learn UID and flags of messages known only by number (new ones)
        the way a client does: UID FETCH above the highest UID known; flags
        of messages whose flags we never got, by number."""
        for _ in range(20):
            if self.model is None or all(e[0] is not None and e[1] is not None for e in self.model):
                return
            unknown = [i for i, e in enumerate(self.model) if e[0] is None]
            if unknown:
                # UIDs only grow: the first unknown one is above the one before it
                before = [e[0] for e in self.model[:unknown[0]]]
                self.cmd("UID FETCH %d:* (UID FLAGS)" % (before[-1] + 1 if before else 1))
            missing = [i + 1 for i, e in enumerate(self.model) if e[0] is not None and e[1] is None]
            if missing:
                self.cmd("UID FETCH %s (UID FLAGS)" % ",".join(str(self.model[i - 1][0]) for i in missing))
        raise Fail("%s: cannot learn the new messages' UIDs: %r" % (self.name, self.model[-5:]))

    def noop(self):
        un, _ = self.cmd("NOOP")
        return un

    # --- IDLE
    def idle(self):
        self.tagn += 1
        self.idling = b"%s%d" % (self.name.encode(), self.tagn)
        self.send(self.idling + b" IDLE\r\n")
        r = self.resp(time.time() + 10)
        while r is not None and not r.line.startswith(b"+"):
            self.apply(r)
            r = self.resp(time.time() + 10)
        check(r is not None, "%s: no continuation after IDLE" % self.name)

    def idle_wait(self, pred, secs=5.0):
        """Untagged responses during IDLE until pred(list) holds or secs pass."""
        got = []
        deadline = time.time() + secs
        while not pred(got):
            r = self.resp(deadline)
            if r is None:
                break
            self.apply(r)
            got.append(r)
        return got

    def done(self):
        self.send(b"DONE\r\n")
        un = []
        while True:
            r = self.resp(time.time() + 30)
            check(r is not None, "%s: no answer to DONE" % self.name)
            if r.line.startswith(self.idling + b" "):
                break
            self.apply(r)
            un.append(r)
        check(r.line.startswith(self.idling + b" OK"), "%s: DONE -> %r" % (self.name, r.line))
        self.idling = None
        return un

    def view(self):
        return [(e[0], e[1]) for e in self.model]


def truth(mbox):
    """What a fresh session sees: [(uid, flags)] by number."""
    c = Conn("fresh")
    un, _ = c.cmd("EXAMINE %s" % mbox)
    n = [x.n for x in un if x.kind == "EXISTS"][0]
    out = []
    if n:
        un, _ = c.cmd("FETCH 1:* (UID FLAGS)")
        f = [x for x in un if x.kind == "FETCH"]
        expect([x.n for x in f], list(range(1, n + 1)), "fresh FETCH 1:* numbers in %s" % mbox)
        out = [(x.uid, x.flags) for x in f]
    c.close()
    return out


def same_as_fresh(c, what):
    c.resolve()
    t = truth(c.mbox)
    if c.view() != t:
        diff = []
        for i in range(max(len(t), len(c.model))):
            a = c.view()[i] if i < len(c.model) else None
            b = t[i] if i < len(t) else None
            if a != b:
                diff.append("#%d model %r fresh %r" % (i + 1, a, b))
        raise Fail("%s: %s's view of %s differs from a fresh session's (%d vs %d messages):\n    %s"
                   % (what, c.name, c.mbox, len(c.model), len(t), "\n    ".join(diff[:12])))


def msg(i, size=0):
    body = b"Subject: m%d\r\nFrom: a@example.test\r\n\r\nbody %d\r\n" % (i, i)
    return body + b"x" * size


def append(c, mbox, msgs, flags=None):
    """One MULTIAPPEND of msgs (LITERAL+); returns the new UIDs."""
    parts = [b"APPEND " + mbox.encode()]
    for i, m in enumerate(msgs):
        f = flags[i] if flags else ""
        if f:
            parts.append(b" (" + f.encode() + b")")
        parts.append(b" {%d+}\r\n" % len(m) + m)
    un, st = c.cmd(None, raw=b"".join(parts))
    m = re.search(rb"APPENDUID \d+ ([0-9:,]+)", st)
    check(m, "APPENDUID in %r" % st)
    uids = []
    for part in m.group(1).split(b","):
        a, _, b = part.partition(b":")
        uids.extend(range(int(a), int(b or a) + 1))
    expect(len(uids), len(msgs), "APPENDUID count")
    return uids


def search_result(un):
    """The numbers (or UIDs) of a SEARCH or ESEARCH ALL answer."""
    out = []
    for x in un:
        m = re.match(rb"\* SEARCH ?([0-9 ]*)$", x.line) or \
            re.match(rb"\* ESEARCH \(TAG \"[^\"]*\"\)(?: UID)?(?: ALL ([0-9:,]+))?$", x.line)
        if not m:
            continue
        for part in re.split(rb"[ ,]", m.group(1) or b""):
            if part:
                a, _, b = part.partition(b":")
                out.extend(range(int(a), int(b or a) + 1))
    return sorted(out)


def fetches(un):
    return [x for x in un if x.kind == "FETCH"]


def kinds(un, k):
    return [x for x in un if x.kind == k]


def seqset(nums):
    """Numbers as a compact sequence set."""
    nums = sorted(nums)
    out, i = [], 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else "%d:%d" % (nums[i], nums[j]))
        i = j + 1
    return ",".join(out)


def mailbox(c, name, n, flags=None):
    c.cmd("DELETE %s" % name, want=None)  # (a development aid: reruns)
    c.cmd("CREATE %s" % name)
    uids = []
    for k in range(0, n, 1000):
        batch = list(range(k, min(n, k + 1000)))
        uids += append(c, name, [msg(i) for i in batch], [flags] * len(batch) if flags else None)
    return uids


# ------------------------------------------------------------------ parts

def part_flags():
    """1. Another session's flag change: one FETCH at the next NOOP (UID in
    it for IMAP4rev2), not again at the one after."""
    b = Conn("B1", rev2=True)
    uids = mailbox(b, "p1", 5)
    a2, a1 = Conn("A2", rev2=True), Conn("A1")
    for c in (a2, a1, b):
        c.select("p1")
    un, _ = b.cmd("STORE 3 +FLAGS (\\Flagged)")
    expect([(x.n, x.flags) for x in fetches(un)], [(3, frozenset({"\\Flagged"}))], "B's STORE answer")
    expect(b.noop(), [], "B's NOOP after its own STORE")
    un = a2.noop()
    expect([x.line for x in un], [b"* 3 FETCH (UID %d FLAGS (\\Flagged))" % uids[2]],
           "rev2 session's NOOP after another session's STORE")
    expect(a2.noop(), [], "rev2 session's second NOOP")
    un = a1.noop()
    expect([(x.kind, x.n, x.flags) for x in un], [("FETCH", 3, frozenset({"\\Flagged"}))],
           "rev1 session's NOOP after another session's STORE")
    expect(a1.noop(), [], "rev1 session's second NOOP")

    # Several changes to one message and a new keyword: one FETCH each
    # with the final flags (the FLAGS announcement of the keyword may come).
    b.cmd("STORE 1 +FLAGS (\\Seen)")
    b.cmd("STORE 1 -FLAGS (\\Seen)")
    b.cmd("STORE 1 +FLAGS ($Label1 \\Answered)")
    b.cmd("UID STORE %d,%d +FLAGS.SILENT (\\Draft)" % (uids[3], uids[4]))
    for c in (a2, a1):
        un = c.noop()
        expect(sorted((x.n, x.flags) for x in fetches(un)),
               [(1, frozenset({"$Label1", "\\Answered"})), (4, frozenset({"\\Draft"})),
                (5, frozenset({"\\Draft"}))], "%s: NOOP after several changes" % c.name)
        if c.rev2:
            expect([x.uid for x in fetches(un)], [uids[0], uids[3], uids[4]],
                   "UIDs in the rev2 FETCHes")
        check(any(x.line.startswith(b"* FLAGS (") and b"$Label1" in x.line for x in un),
              "%s: new keyword $Label1 not announced in * FLAGS: %r" % (c.name, un))
        expect(fetches(c.noop()), [], "%s: NOOP after that" % c.name)
        same_as_fresh(c, "part 1")
    for c in (a2, a1, b):
        c.close()


def part_own():
    """2. The session's own changes are told once: STORE answers and the
    NOOP after is silent; FLAGS.SILENT tells nothing, NOOP neither; FETCH
    BODY[] shows the new \\Seen once."""
    a = Conn("A", rev2=True)
    uids = mailbox(a, "p2", 6)
    o = Conn("O")
    for c in (a, o):
        c.select("p2")
    un, _ = a.cmd("STORE 2 +FLAGS (\\Answered)")
    expect([(x.n, x.uid, x.flags) for x in un], [(2, None, frozenset({"\\Answered"}))],
           "STORE 2 +FLAGS answer")
    expect(a.noop(), [], "NOOP after own STORE")
    un, _ = a.cmd("UID STORE %d FLAGS ($Work \\Flagged)" % uids[2])
    expect([(x.n, x.uid, x.flags) for x in fetches(un)],
           [(3, uids[2], frozenset({"$Work", "\\Flagged"}))], "UID STORE answer")
    expect(fetches(a.noop()), [], "NOOP after own UID STORE")
    un, _ = a.cmd("STORE 2 +FLAGS.SILENT (\\Draft)")
    expect(un, [], "STORE FLAGS.SILENT answer")
    expect(a.noop(), [], "NOOP after own STORE FLAGS.SILENT")
    a.model[1][1] = a.model[1][1] | {"\\Draft"}  # a client applies its silent change
    un, _ = a.cmd("FETCH 4 BODY[]")
    f = fetches(un)
    expect(len(f), 1, "FETCH 4 BODY[] answers")
    expect(f[0].flags, frozenset({"\\Seen"}), "FETCH BODY[] shows the implicit \\Seen")
    check(f[0].lits and f[0].lits[0].startswith(b"Subject: m3"), "BODY[] content %r" % f[0].lits)
    expect(a.noop(), [], "NOOP after FETCH BODY[]")
    un, _ = a.cmd("FETCH 4 BODY[]")
    check(len(fetches(un)) == 1 and fetches(un)[0].flags in (None, frozenset({"\\Seen"})),
          "second FETCH BODY[] (\\Seen already set): %r" % un)
    expect(a.noop(), [], "NOOP after the second FETCH BODY[]")
    un, _ = a.cmd("UID FETCH %d BODY[TEXT]" % uids[4])
    expect([(x.n, x.uid, x.flags) for x in fetches(un)], [(5, uids[4], frozenset({"\\Seen"}))],
           "UID FETCH BODY[TEXT] with implicit \\Seen")
    expect(a.noop(), [], "NOOP after UID FETCH BODY[TEXT]")
    # Another session changes what we then FETCH ourselves: whatever
    # comes, the NOOP after adds nothing.
    pre, _ = o.cmd("STORE 6 +FLAGS (\\Flagged)")
    un, _ = a.cmd("FETCH 6 (FLAGS)")
    check(all(x.flags == frozenset({"\\Flagged"}) for x in fetches(un)) and fetches(un),
          "FETCH 6 FLAGS after another's change: %r" % un)
    expect(a.noop(), [], "NOOP after FETCH FLAGS of another's change")
    # The other session hears each of A's changes once (some before its
    # own STORE's answer).
    un = [x for x in pre if x.n != 6] + o.noop()
    expect(sorted((x.n, x.flags) for x in fetches(un)),
           [(2, frozenset({"\\Answered", "\\Draft"})), (3, frozenset({"$Work", "\\Flagged"})),
            (4, frozenset({"\\Seen"})), (5, frozenset({"\\Seen"}))],
           "the other session's NOOP after A's changes")
    expect(fetches(o.noop()), [], "the other session's second NOOP")
    same_as_fresh(a, "part 2")
    same_as_fresh(o, "part 2")
    # EXAMINE: FETCH BODY[] sets no \\Seen, tells no FLAGS, and nobody
    # hears of a change.
    e = Conn("E")
    e.select("p2", examine=True)
    un, _ = e.cmd("FETCH 1 BODY[]")
    expect([x.flags for x in fetches(un)], [None], "FETCH BODY[] in EXAMINE")
    expect(e.noop(), [], "NOOP after FETCH BODY[] in EXAMINE")
    expect(a.noop(), [], "other session's NOOP after FETCH BODY[] in EXAMINE")
    same_as_fresh(e, "part 2 (EXAMINE)")
    e.close()
    for c in (a, o):
        c.close()


def part_expunge():
    """3. Expunges at the start, in the middle and at the end: none told
    during FETCH/STORE/SEARCH by number; at NOOP exactly the right numbers,
    highest first, no EXISTS; then numbers map to the same UIDs as a fresh
    SELECT."""
    b = Conn("B", rev2=True)
    uids = mailbox(b, "p3", 10)
    a2, a1 = Conn("A2", rev2=True), Conn("A1")
    for c in (a2, a1, b):
        c.select("p3")
    b.cmd("STORE 1,5,6,10 +FLAGS.SILENT (\\Deleted)")
    un, _ = b.cmd("EXPUNGE")
    expect([(x.kind, x.n) for x in un], [("EXPUNGE", 10), ("EXPUNGE", 6), ("EXPUNGE", 5),
                                         ("EXPUNGE", 1)], "B's own EXPUNGE answer")
    # A2: commands by number see the old numbers and no EXPUNGE
    un, st = a2.cmd("FETCH 1:* (UID FLAGS)")
    got = sorted(x.n for x in fetches(un))
    check(got == list(range(1, 11)) or got == [2, 3, 4, 7, 8, 9],
          "FETCH 1:* during pending expunges: numbers %r" % got)
    for x in fetches(un):
        expect(x.uid, uids[x.n - 1], "FETCH %d during pending expunges: UID" % x.n)
    check(st.startswith(b"OK"), "FETCH 1:* -> %r" % st)
    if got != list(range(1, 11)):
        check(b"[EXPUNGEISSUED]" in st, "FETCH omitted expunged messages without [EXPUNGEISSUED]: %r" % st)
    un, st = a2.cmd("FETCH 5 BODY[]")
    check(not fetches(un) and b"[EXPUNGEISSUED]" in st or len(fetches(un)) == 1,
          "FETCH BODY[] of an expunged, unannounced message: %r %r" % (un, st))
    un, st = a2.cmd("STORE 6,7 +FLAGS (\\Seen)")
    expect([(x.n, x.flags) for x in fetches(un)], [(7, frozenset({"\\Seen"}))],
           "STORE 6,7 with 6 expunged, unannounced")
    un, st = a2.cmd("SEARCH ALL")
    got = search_result(un)
    check({2, 3, 4, 7, 8, 9} <= set(got) <= set(range(1, 11)),
          "SEARCH ALL with 1, 5, 6, 10 expunged, unannounced: %r" % got)
    un = a2.noop()
    expect([(x.kind, x.n) for x in un], [("EXPUNGE", 10), ("EXPUNGE", 6), ("EXPUNGE", 5),
                                         ("EXPUNGE", 1)], "NOOP after the expunges")
    expect(a2.noop(), [], "second NOOP")
    un, _ = a2.cmd("FETCH 1:* (UID FLAGS)")
    expect([(x.n, x.uid) for x in fetches(un)], list(enumerate([uids[i] for i in (1, 2, 3, 6, 7, 8)], 1)),
           "FETCH 1:* (UID FLAGS) after the EXPUNGEs")
    same_as_fresh(a2, "part 3")
    # A1 (rev1) learns them inside a UID FETCH, where EXPUNGE is allowed.
    un, _ = a1.cmd("UID FETCH 1:* (FLAGS)")
    ex = [x.n for x in kinds(un, "EXPUNGE")]
    check(ex in ([10, 6, 5, 1], []), "UID FETCH: EXPUNGEs %r" % ex)
    if not ex:
        expect([x.n for x in kinds(a1.noop(), "EXPUNGE")], [10, 6, 5, 1], "rev1 NOOP EXPUNGEs")
    check(not kinds(un, "EXISTS"), "EXISTS for an expunge alone: %r" % un)
    same_as_fresh(a1, "part 3 (rev1, UID FETCH)")
    # MOVE and COPY by number of expunged, unannounced messages: no crash,
    # nothing moved or copied that is gone (both may announce the
    # expunges: RFC 9051 7.5.1 forbids that only for FETCH, STORE, SEARCH).
    mailbox(b, "p3x", 0)
    b.cmd("STORE 5:6 +FLAGS.SILENT (\\Deleted)")
    b.cmd("EXPUNGE")
    un, st = a2.cmd("MOVE 5:6 p3x", want=None)
    check(st[:2] in (b"OK", b"NO"), "MOVE of expunged messages -> %r" % st)
    a2.noop()
    same_as_fresh(a2, "part 3 (MOVE of expunged messages)")
    b.cmd("STORE 4 +FLAGS.SILENT (\\Deleted)")
    b.cmd("EXPUNGE")
    un, st = a2.cmd("COPY 3:4 p3x", want=None)
    check(st[:2] in (b"OK", b"NO"), "COPY with an expunged message -> %r" % st)
    a2.noop()
    same_as_fresh(a2, "part 3 (COPY of an expunged message)")
    un, _ = b.cmd("STATUS p3x (MESSAGES)")
    check(b"MESSAGES 1)" in un[0].line or st.startswith(b"NO") and b"MESSAGES 0)" in un[0].line,
          "after MOVE of 2 expunged and COPY of 1 + 1 expunged: %r" % un[0].line)
    a1.noop()
    # Expunge everything left, and more arrives: the model keeps up.
    b.cmd("STORE 1:* +FLAGS.SILENT (\\Deleted)")
    b.cmd("EXPUNGE")
    expect(b.model, [], "B's model after expunging everything")
    un = a2.noop()
    expect([x.n for x in un], [3, 2, 1], "EXPUNGE numbers when all go")
    expect(kinds(un, "EXISTS"), [], "no EXISTS")
    append(b, "p3", [msg(20)])
    un = a2.noop()
    expect([(x.kind, x.n) for x in un], [("EXISTS", 1)], "arrival in an emptied mailbox")
    same_as_fresh(a2, "part 3 (emptied, then one new)")
    un = a1.noop()
    expect([(x.kind, x.n) for x in un if x.kind != "RECENT"],
           [("EXPUNGE", n) for n in (3, 2, 1)] + [("EXISTS", 1)],
           "rev1 NOOP after all went and one came")
    expect([x.n for x in kinds(un, "RECENT")], [1], "rev1 NOOP: the arrival is recent to A1, first to hear")
    same_as_fresh(a1, "part 3 (rev1, emptied, then one new)")
    for c in (a2, a1, b):
        c.close()


def smtp_deliver(n):
    s = socket.create_connection(("127.0.0.1", P_SMTP), timeout=20)
    f = s.makefile("rb")

    def rd():
        while True:
            l = f.readline()
            check(l[:1] in b"23" and l, "SMTP: %r" % l)
            if l[3:4] != b"-":
                return l
    rd()
    for c in (b"EHLO client.test", b"MAIL FROM:<far@remote.test>", b"RCPT TO:<alice@example.test>",
              b"DATA"):
        s.sendall(c + b"\r\n")
        rd()
    s.sendall(b"Subject: smtp %d\r\nFrom: far@remote.test\r\n\r\nhello\r\n.\r\n" % n)
    rd()
    s.sendall(b"QUIT\r\n")
    s.close()


def part_idle():
    """4. Arrivals during IDLE give * N EXISTS with the right N (SMTP, APPEND
    from another session, MOVE from another mailbox); expunges during IDLE;
    arrival and expunge between two syncs."""
    b = Conn("B", rev2=True)
    b.select("INBOX")
    have = len(b.model)
    a = Conn("A", rev2=True)
    a.select("INBOX")
    expect(len(a.model), have, "INBOX size")
    a.idle()
    smtp_deliver(1)
    un = a.idle_wait(lambda g: kinds(g, "EXISTS"))
    expect([(x.kind, x.n) for x in un], [("EXISTS", have + 1)], "IDLE: SMTP delivery")
    append(b, "INBOX", [msg(1), msg(2)])
    un = a.idle_wait(lambda g: kinds(g, "EXISTS"))
    expect([(x.kind, x.n) for x in un], [("EXISTS", have + 3)], "IDLE: MULTIAPPEND of 2")
    mailbox(b, "p4", 0)
    append(b, "p4", [msg(3)])
    c = Conn("C")
    c.select("p4")
    un, st = c.cmd("MOVE 1 INBOX")
    check(b"COPYUID" in st or any(b"COPYUID" in x.line for x in un), "MOVE answer %r %r" % (un, st))
    un = a.idle_wait(lambda g: kinds(g, "EXISTS"))
    expect([(x.kind, x.n) for x in un], [("EXISTS", have + 4)], "IDLE: MOVE into INBOX")
    b.noop()
    b.resolve()
    b.cmd("STORE 2 +FLAGS (\\Deleted)")
    b.cmd("EXPUNGE")
    un = a.idle_wait(lambda g: kinds(g, "EXPUNGE"))
    got = [(x.kind, x.n) for x in un if x.kind != "FETCH"]
    expect(got, [("EXPUNGE", 2)], "IDLE: expunge of message 2 (FETCH of its \\Deleted may come first)")
    b.cmd("STORE 1 +FLAGS (\\Flagged)")
    un = a.idle_wait(lambda g: fetches(g))
    expect([(x.n, x.uid, x.flags) for x in un], [(1, b.model[0][0], frozenset({"\\Flagged"}))],
           "IDLE: flag change")
    un = a.done()
    expect(un, [], "DONE with nothing pending")
    a.resolve()
    same_as_fresh(a, "part 4 (after IDLE)")
    # Arrival and expunge between two syncs: two arrive, one of them and
    # message 2 go again.
    n = len(a.model)
    new = append(b, "INBOX", [msg(4), msg(5)])
    b.resolve()
    b.cmd("UID STORE %d,%d +FLAGS.SILENT (\\Deleted)" % (b.model[1][0], new[0]))
    b.cmd("EXPUNGE")
    un = a.noop()
    expect([(x.kind, x.n) for x in un], [("EXPUNGE", 2), ("EXISTS", n)],
           "NOOP after 2 arrivals, expunge of message 2 and of one arrival")
    a.resolve()
    expect(a.model[-1][0], new[1], "the arrival that stayed")
    same_as_fresh(a, "part 4 (arrival + expunge)")
    # The same while A is in a FETCH by number: EXISTS may come, EXPUNGE not.
    new = append(b, "INBOX", [msg(6)])
    b.resolve()
    b.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.cmd("EXPUNGE")
    un, _ = a.cmd("FETCH 1 (UID)")
    expect([(x.kind, x.n) for x in un if x.kind != "FETCH"], [("EXISTS", n + 1)],
           "FETCH by number after arrival + expunge")
    un = a.noop()
    expect([(x.kind, x.n) for x in un], [("EXPUNGE", 1)], "NOOP after that FETCH")
    same_as_fresh(a, "part 4 (arrival + expunge around a FETCH)")
    for x in (a, b, c):
        x.close()


def big_expunge(name, total, keep_every, extra):
    """Mailbox of total messages; A2, A1 selected and silent; B deletes all
    but every keep_every-th, flags two kept ones, appends extra, expunges.
    A2/A1 must then hear exactly that."""
    b = Conn("B", rev2=True)
    t0 = time.time()
    uids = mailbox(b, name, total)
    a2, a1 = Conn("A2", rev2=True), Conn("A1")
    for c in (a2, a1, b):
        c.select(name)
    load = time.time() - t0
    gone = [i for i in range(1, total + 1) if i % keep_every]
    kept = [i for i in range(1, total + 1) if i % keep_every == 0]
    un, _ = b.cmd("STORE %s +FLAGS.SILENT (\\Deleted)" % seqset(gone))
    un, _ = b.cmd("STORE %d,%d +FLAGS.SILENT (\\Flagged)" % (kept[0], kept[-1]))
    if extra:
        append(b, name, [msg(100000 + i) for i in range(extra)])
    t1 = time.time()
    un, _ = b.cmd("EXPUNGE")
    expect([x.n for x in kinds(un, "EXPUNGE")], gone[::-1], "B's own EXPUNGE answer (%s)" % name)
    b.resolve()
    t2 = time.time()
    # A1 first runs a FETCH by number: none of the expunges may show (the
    # flag changes and the arrivals may).
    pre, st = a1.cmd("FETCH %d (UID)" % kept[0])
    expect(kinds(pre, "EXPUNGE"), [], "A1: EXPUNGE during FETCH")
    for c in (a2, a1):
        un = c.noop()
        ex = [x.n for x in kinds(un, "EXPUNGE")]
        expect(len(ex), len(gone), "%s: number of EXPUNGEs at NOOP (%s)" % (c.name, name))
        expect(ex, gone[::-1], "%s: EXPUNGE numbers (%s)" % (c.name, name))
        allun = (pre if c is a1 else []) + un
        f = [x for x in fetches(allun) if x.flags is not None]
        if c is a2:
            expect(sorted((x.n, x.uid, x.flags) for x in f),
                   [(1, uids[kept[0] - 1], frozenset({"\\Flagged"})),
                    (len(kept), uids[kept[-1] - 1], frozenset({"\\Flagged"}))],
                   "%s: FETCH FLAGS of the two flagged kept messages (%s)" % (c.name, name))
        else:
            expect(sorted(x.flags for x in f), [frozenset({"\\Flagged"})] * 2,
                   "%s: FETCH FLAGS of the two flagged kept messages (%s)" % (c.name, name))
        want_ex = [] if not extra else [total + extra] if c is a1 else [len(kept) + extra]
        expect([x.n for x in kinds(allun, "EXISTS")], want_ex,
               "%s: EXISTS (%d arrivals) (%s)" % (c.name, extra, name))
        c.resolve()
        expect([e[0] for e in c.model], [e[0] for e in b.model],
               "%s: UIDs after NOOP vs B's (%s)" % (c.name, name))
        same_as_fresh(c, "%s" % name)
        expect(fetches(c.noop()), [], "%s: second NOOP (%s)" % (c.name, name))
    for c in (a2, a1, b):
        c.close()
    print("# %s: %d messages loaded and selected in %.1fs, EXPUNGE of %d in %.2fs, NOOPs in %.2fs"
          % (name, total, load, len(gone), t2 - t1, time.time() - t2))


def part_stale():
    """5. More expunges than the store keeps (the session compares all UIDs)
    and fewer (it reads the expunge log)."""
    big_expunge("p5big", 9000, 15, 3)
    big_expunge("p5mid", 4000, 4, 0)


FL = ["\\Seen", "\\Flagged", "\\Answered", "\\Draft", "\\Deleted", "$k1", "$k2", "$Junk"]


class Actor:
    """Random commands by an acting session x in mailbox mbox; d is a
    session selected in other, the mailbox messages are copied and moved
    to and from. silent: may use FLAGS.SILENT (then the actor applies its
    change to its model itself, as a client does; only sound when nobody
    else changes the mailbox at the same time)."""

    def __init__(self, rnd, x, d, mbox, other, silent, counter):
        self.rnd, self.x, self.d, self.mbox, self.other = rnd, x, d, mbox, other
        self.silent, self.counter = silent, counter

    def pick(self, x, k):
        n = len(x.model)
        return sorted(self.rnd.sample(range(1, n + 1), min(k, n))) if n else []

    def act(self):
        rnd, x, d = self.rnd, self.x, self.d
        op = rnd.random()
        if op < 0.2:
            k = rnd.randint(1, 3)
            fl = [" ".join(rnd.sample(FL[:4] + FL[5:], rnd.randint(0, 2))) for _ in range(k)]
            self.counter += k
            append(x, self.mbox, [msg(self.counter + i) for i in range(k)], fl)
            return "append"
        if op < 0.55:
            nums = self.pick(x, rnd.randint(1, 4))
            if not nums:
                return "skip"
            sign = rnd.choice(["+", "+", "-", ""])
            fl = set(rnd.sample(FL, rnd.randint(1, 2)))
            silent = self.silent and rnd.random() < 0.3
            uids = set(x.model[i - 1][0] for i in nums)
            item = "%sFLAGS%s (%s)" % (sign, ".SILENT" if silent else "", " ".join(sorted(fl)))
            if rnd.random() < 0.5:
                x.cmd("UID STORE %s %s" % (",".join(str(x.model[i - 1][0]) for i in nums), item))
            else:
                x.cmd("STORE %s %s" % (seqset(nums), item))
            if silent:
                # by UID: a UID STORE may have announced EXPUNGEs first. (A
                # silent STORE to an expunged, unannounced message changes
                # nothing on the server; its EXPUNGE comes later.)
                for e in x.model:
                    if e[0] in uids and e[1] is not None:
                        e[1] = (frozenset(fl) if sign == "" else e[1] | fl if sign == "+"
                                else e[1] - fl)
            return "store"
        if op < 0.65:
            u = [e[0] for e in x.model if e[1] and "\\Deleted" in e[1]]
            if u and rnd.random() < 0.5:
                x.cmd("UID EXPUNGE %s" % ",".join(map(str, rnd.sample(u, (len(u) + 1) // 2))))
            else:
                x.cmd("EXPUNGE")
            return "expunge"
        if op < 0.75:
            nums = self.pick(x, rnd.randint(1, 3))
            if not nums:
                return "skip"
            verb = rnd.choice(["COPY", "MOVE", "COPY to itself"])
            to = self.mbox if verb == "COPY to itself" else self.other
            if rnd.random() < 0.5:
                x.cmd("UID %s %s %s" % (verb[:4], ",".join(str(x.model[i - 1][0]) for i in nums),
                                        to))
            else:
                x.cmd("%s %s %s" % (verb[:4], seqset(nums), to))
            return verb.lower()
        if op < 0.85:
            nums = self.pick(d, rnd.randint(1, 3))
            if nums:
                verb = rnd.choice(["COPY", "MOVE", "MOVE"])
                d.cmd("%s %s %s" % (verb, seqset(nums), self.mbox))
            if len(d.model) < 5:
                self.counter += 3
                append(d, self.other, [msg(self.counter + i) for i in range(3)])
            return "copy/move in"
        if op < 0.92:
            nums = self.pick(x, 2)
            if not nums:
                return "skip"
            x.cmd("FETCH %s (BODY[])" % seqset(nums) if rnd.random() < 0.5 else
                  "FETCH %s (UID FLAGS BODY.PEEK[HEADER])" % seqset(nums))
            return "fetch"
        crit = rnd.choice(["ALL", "UNSEEN", "DELETED", "KEYWORD $k1"])
        un, _ = x.cmd("SEARCH %s" % crit)
        got = search_result(un)
        before = len(x.model)  # (EXISTS may come during SEARCH; EXPUNGE not)
        check(all(1 <= n <= before for n in got), "%s: SEARCH %s gave %r with %d messages"
              % (x.name, crit, got, before))
        if self.silent:  # nobody else acts meanwhile: the answer is known
            t = dict(truth(self.mbox))
            ok = {"ALL": lambda f: True, "UNSEEN": lambda f: "\\Seen" not in f,
                  "DELETED": lambda f: "\\Deleted" in f, "KEYWORD $k1": lambda f: "$k1" in f}[crit]
            want = [i for i, e in enumerate(x.model, 1) if e[0] in t and ok(t[e[0]])]
            gone = [i for i, e in enumerate(x.model, 1) if e[0] not in t]
            extra = [n for n in got if n not in want]
            check(set(want) <= set(got) and set(extra) <= set(gone),
                  "%s: SEARCH %s\n    expected: %r (and maybe some of the expunged, unannounced "
                  "%r)\n    got:      %r" % (x.name, crit, want, gone, got))
        return "search"


def watch(rnd, w, idle_left):
    """One step of a watching session: NOOP, IDLE (ended some steps later),
    FETCH FLAGS by number, or nothing."""
    if w.idling:
        idle_left[w] -= 1
        if idle_left[w] <= 0:
            w.done()
            w.resolve()
    elif rnd.random() < 0.15:
        w.noop()
        w.resolve()
    elif rnd.random() < 0.05:
        w.idle()
        idle_left[w] = rnd.randint(1, 6)
    elif rnd.random() < 0.05 and w.model:
        w.cmd("FETCH %d (FLAGS)" % rnd.randint(1, len(w.model)))
        w.resolve()


def part_random():
    """6. A randomized run (fixed seed): B, C act in p6, D in p6b (COPY/MOVE
    into p6); A2 (rev2) and A1 (rev1) only watch, by NOOP or IDLE. Every
    model must equal a fresh session's at checkpoints."""
    rnd = random.Random(int(os.environ.get("T49_SEED", "4949")))
    ops = int(os.environ.get("T49_OPS", "300"))
    setup = Conn("S")
    mailbox(setup, "p6", 30)
    mailbox(setup, "p6b", 15)
    setup.close()
    a2, a1 = Conn("A2", rev2=True), Conn("A1")
    b, c = Conn("B", rev2=True), Conn("C")
    d = Conn("D", rev2=True)
    for x in (a2, a1, b, c):
        x.select("p6")
    d.select("p6b")
    watchers = [a2, a1]
    actors = [Actor(rnd, b, d, "p6", "p6b", True, 1000), Actor(rnd, c, d, "p6", "p6b", True, 5000)]
    stats = {}
    t0 = time.time()
    idle_left = {}
    for step in range(1, ops + 1):
        what = rnd.choice(actors).act()
        stats[what] = stats.get(what, 0) + 1
        for x in (b, c, d):
            x.resolve()
        for w in watchers:
            watch(rnd, w, idle_left)
        if step % 30 == 0 or step == ops:
            for w in watchers:
                if w.idling:
                    w.done()
            for x in watchers + [b, c, d]:
                x.noop()
                x.resolve()
                same_as_fresh(x, "part 6, step %d" % step)
    print("# part 6: %d operations in %.1fs %r; p6 has %d messages, p6b %d"
          % (ops, time.time() - t0, sorted(stats.items()), len(b.model), len(d.model)))
    for x in watchers + [b, c, d]:
        x.close()


def part_concurrent():
    """8. The same with real concurrency: B and C (each with its own session
    D1/D2 in p8b) act at the same time from two threads while A2 and A1 watch
    from a third; no FLAGS.SILENT (its effect on the model would race). Every
    response must make sense when it arrives, and once all is quiet every
    model must equal a fresh session's."""
    import threading
    ops = int(os.environ.get("T49_COPS", "150"))
    setup = Conn("S")
    mailbox(setup, "p8", 30)
    mailbox(setup, "p8b", 15)
    setup.close()
    a2, a1 = Conn("A2", rev2=True), Conn("A1")
    b, c = Conn("B", rev2=True), Conn("C")
    d1, d2 = Conn("D1", rev2=True), Conn("D2")
    for x in (a2, a1, b, c):
        x.select("p8")
    for x in (d1, d2):
        x.select("p8b")
    errors = []
    stop = threading.Event()

    def run_actor(seed, x, d, counter):
        try:
            a = Actor(random.Random(seed), x, d, "p8", "p8b", False, counter)
            for _ in range(ops):
                a.act()
                x.resolve()
                d.resolve()
        except BaseException as e:  # reported by the main thread
            errors.append((x.name, e))

    def run_watchers():
        try:
            rnd, idle_left = random.Random(88), {}
            while not stop.is_set():
                for w in (a2, a1):
                    watch(rnd, w, idle_left)
                time.sleep(0.002)
            for w in (a2, a1):
                if w.idling:
                    w.done()
        except BaseException as e:
            errors.append(("watchers", e))

    t0 = time.time()
    th = [threading.Thread(target=run_actor, args=(81, b, d1, 10000), daemon=True),
          threading.Thread(target=run_actor, args=(82, c, d2, 20000), daemon=True)]
    wt = threading.Thread(target=run_watchers, daemon=True)
    for t in th + [wt]:
        t.start()
    for t in th:
        t.join(60)
    stop.set()
    wt.join(60)
    check(not any(t.is_alive() for t in th + [wt]), "part 8: a thread hangs")
    if errors:
        name, e = errors[0]
        raise Fail("%s: %s" % (name, e))
    for x in (a2, a1, b, c, d1, d2):
        x.noop()
        x.resolve()
        same_as_fresh(x, "part 8 (after the concurrent run)")
    print("# part 8: 2 x %d concurrent operations in %.1fs; p8 has %d messages"
          % (ops, time.time() - t0, len(b.model)))
    for x in (a2, a1, b, c, d1, d2):
        x.close()


def part_unseen():
    """7. rev1 SELECT's [UNSEEN n]: the number of the first unseen message,
    absent when all are \\Seen; never for IMAP4rev2."""
    b = Conn("B", rev2=True)
    mailbox(b, "p7", 6, flags="\\Seen")
    mailbox(b, "p7b", 0)
    append(b, "p7b", [msg(70)])
    b.select("p7")

    def unseen_of(mbox="p7"):
        c = Conn("U")
        un = c.select(mbox)
        u = [int(m.group(1)) for m in (re.match(rb"\* OK \[UNSEEN (\d+)\]", x.line) for x in un) if m]
        check(len(u) <= 1, "several UNSEEN %r" % un)
        c.close()
        c2 = Conn("U2", rev2=True)
        un = c2.select(mbox)
        check(not any(b"UNSEEN" in x.line for x in un), "UNSEEN in a rev2 SELECT: %r" % un)
        c2.close()
        return u[0] if u else None

    def want():
        t = truth("p7")
        first = [i for i, (u, f) in enumerate(t, 1) if "\\Seen" not in f]
        return first[0] if first else None

    steps = [
        ("all seen", None),
        ("STORE 4 -FLAGS (\\Seen)", None),
        ("STORE 2 -FLAGS (\\Seen)", None),
        ("STORE 1 +FLAGS (\\Deleted)", "EXPUNGE"),
        ("STORE 1 FLAGS ()", None),               # was message 2: unseen still
        ("STORE 1 +FLAGS (\\Seen)", None),        # now message 3 (UID 4)
        ("APPEND", None),
        ("STORE 1:* +FLAGS (\\Seen)", None),      # all seen: no UNSEEN
        ("APPEND SEEN", None),
        ("STORE 5 -FLAGS (\\Seen)", None),        # below the newest, above unseen_low
        ("STORE 5 +FLAGS (\\Seen)", None),
        ("STORE 1 +FLAGS (\\Deleted)", "EXPUNGE"),
        ("STORE 2 FLAGS (\\Flagged)", None),
        ("MOVE 2 p7b", None),                     # the unseen one leaves
        ("MOVEIN", None),                         # an unseen one comes back
        ("STORE 1:* FLAGS (\\Seen)", None),
        ("STORE 3 -FLAGS (\\Seen)", None),
        ("STORE 1 -FLAGS (\\Seen)", None),
    ]
    for s, then in steps:
        if s == "APPEND":
            append(b, "p7", [msg(71)])
        elif s == "APPEND SEEN":
            append(b, "p7", [msg(72)], ["\\Seen"])
        elif s == "MOVEIN":
            c = Conn("M")
            c.select("p7b")
            c.cmd("MOVE 1:* p7")
            c.close()
        elif s != "all seen":
            b.cmd(s)
        if then:
            b.cmd(then)
        b.noop()
        b.resolve()
        expect(unseen_of(), want(), "[UNSEEN] after %s" % s)
    b.close()


def replaced_check(a, old, new, what):
    """a had selected a mailbox (UIDs old) that was replaced by another of
    the same name (UIDs new, a new UIDVALIDITY). a may end (BYE), follow
    the old mailbox, or stop being selected; it must not present the new
    mailbox's messages as the old one's."""
    try:
        un = a.noop()
        # brev ends the session (docs/imap.md), as Dovecot does.
        check(any(x.line.startswith(b"* BYE") for x in un),
              "after %s, no BYE at NOOP: %r" % (what, [x.line for x in un]))
        if any(x.line.startswith(b"* BYE") for x in un):
            return
        un2, st = a.cmd("UID FETCH 1:* (UID)", want=None)
    except Fail as e:  # the session ended: allowed
        check("closed" in str(e), str(e))
        return
    if any(x.line.startswith(b"* BYE") for x in un + un2):
        return
    seen = (set(x.uid for x in fetches(un + un2) if x.uid is not None) |
            set(e[0] for e in a.model if e[0] is not None))
    mixed = sorted(seen & set(new))
    check(not mixed and not kinds(un, "EXISTS"),
          "after %s, the session that had selected it (UIDs %r) got %r at NOOP and UIDs %r "
          "from UID FETCH 1:* (%r): the new mailbox's UIDs %r, of another UIDVALIDITY, "
          "presented as the old mailbox's" % (what, old, [x.line for x in un],
                                              [x.uid for x in fetches(un2)], st, mixed))


def part_renamed():
    """9. The selected mailbox is renamed away and a new one is created under
    its name, with a new UIDVALIDITY: see replaced_check."""
    b = Conn("B", rev2=True)
    old = mailbox(b, "p9", 5)
    b.cmd("DELETE p9old", want=None)
    a = Conn("A", rev2=True)
    a.select("p9")
    b.cmd("RENAME p9 p9old")
    b.cmd("CREATE p9")
    new = append(b, "p9", [msg(90 + i) for i in range(8)])
    replaced_check(a, old, new, "RENAME p9 p9old + CREATE p9 + APPEND of 8")
    a.close()
    b.close()


def part_deleted():
    """10. The selected mailbox is deleted: the session's next look ends it
    with BYE (brev goes on serving others); deleted and re-created under
    the same name between two looks: BYE too (another UIDVALIDITY)."""
    b = Conn("B", rev2=True)
    mailbox(b, "p10", 3)
    a = Conn("A", rev2=True)
    a.select("p10")
    b.cmd("DELETE p10")
    try:
        un = a.noop()
        check(any(x.line.startswith(b"* BYE") for x in un),
              "after DELETE p10, no BYE at NOOP: %r" % [x.line for x in un])
    except Fail as e:
        check(False, "after DELETE p10: %s (expected a BYE first)" % e)
    a.close()
    old = mailbox(b, "p10", 3)
    a = Conn("A", rev2=True)
    a.select("p10")
    b.cmd("DELETE p10")
    b.cmd("CREATE p10")
    new = append(b, "p10", [msg(100 + i) for i in range(6)])
    replaced_check(a, old, new, "DELETE p10 + CREATE p10 + APPEND of 6")
    a.close()
    b.cmd("NOOP")  # the other session is unharmed
    b.close()


def part_own_rename():
    """11. A session renames its own selected mailbox (and a superior of
    another's): it follows, same UIDs, and still sees arrivals."""
    b = Conn("B", rev2=True)
    b.cmd("DELETE p11new", want=None)
    uids = mailbox(b, "p11", 4)
    a = Conn("A", rev2=True)
    a.select("p11")
    a.cmd("RENAME p11 p11new")
    un = a.noop()
    check(not any(x.line.startswith(b"* BYE") for x in un), "own RENAME ended the session %r" %
          [x.line for x in un])
    un, _ = a.cmd("UID FETCH 1:* (UID)")
    check([x.uid for x in fetches(un)] == uids, "after own RENAME: UIDs %r, expected %r" %
          ([x.uid for x in fetches(un)], uids))
    new = append(b, "p11new", [msg(110)])
    un = a.noop()
    check(kinds(un, "EXISTS") and kinds(un, "EXISTS")[-1].n == 5,
          "after own RENAME, an arrival in the new name: %r" % [x.line for x in un])
    check(new and new[0] > uids[-1], "new UID %r" % new)
    # A superior of the selected mailbox renamed by the session itself.
    b.cmd("DELETE p11a/x", want=None)
    b.cmd("DELETE p11b/x", want=None)
    b.cmd("DELETE p11a", want=None)
    b.cmd("DELETE p11b", want=None)
    sub = mailbox(b, "p11a/x", 2)
    a.close()
    a = Conn("A", rev2=True)
    a.select("p11a/x")
    a.cmd("RENAME p11a p11b")
    un, _ = a.cmd("UID FETCH 1:* (UID)")
    check(not any(x.line.startswith(b"* BYE") for x in un) and
          [x.uid for x in fetches(un)] == sub,
          "after RENAME of the superior: %r" % [x.line for x in un])
    a.close()
    b.close()


PARTS = [("1 flags", part_flags), ("2 own changes", part_own), ("3 expunge", part_expunge),
         ("4 idle", part_idle), ("5 stale", part_stale), ("6 random", part_random),
         ("7 unseen", part_unseen), ("8 concurrent", part_concurrent),
         ("9 renamed", part_renamed), ("10 deleted", part_deleted),
         ("11 own rename", part_own_rename)]

failed = []
for name, fn in PARTS:
    if ONLY and not any(name.startswith(o) for o in ONLY.split(",")):
        continue
    t = time.time()
    for c in LIVE[:]:
        c.close()
    try:
        fn()
        print("ok   part %s (%.1fs)" % (name, time.time() - t))
    except Fail as e:
        failed.append("FAIL part %s: %s" % (name, e))
        print(failed[-1])
        for c in LIVE:
            print("    --- last lines of %s:" % c.name)
            for l in c.trace:
                print("      " + l.decode("utf-8", "replace"))
    except Exception:
        failed.append("FAIL part %s: exception %s" % (name, traceback.format_exc().splitlines()[-1]))
        print("FAIL part %s: exception" % name)
        traceback.print_exc(file=sys.stdout)
    sys.stdout.flush()
if failed:
    # Once more, short, at the end (run.sh prints this last).
    summary = "\n".join(l if len(l) < 700 else l[:700] + " ..."
                        for f in failed for l in f.splitlines()) + "\n"
    if os.environ.get("T49_SUMMARY"):
        with open(os.environ["T49_SUMMARY"], "w") as f:
            f.write(summary)
    sys.exit(1)
