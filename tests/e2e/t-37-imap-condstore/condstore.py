"""CONDSTORE and QRESYNC (RFC 7162) against brev, as raw dialogues.

The RFC's examples are followed where brev can reproduce them (the same
commands and the same shape of answers; modseqs are brev's own). Every check
runs even when an earlier one failed; failures are listed at the end and the
exit status is 1 if there was any. Each check uses its own mailbox.
"""
import os, re, socket, sys, time

PORT = int(os.environ["P_IMAP"])
USER, PW = b"alice@example.test", b"pw-alice"
FAILED = []


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


class C:
    """One raw connection. Response lines come back with their literals
    spliced in (b'* 1 FETCH (BODY[] {3}\\r\\nabc)'), so checks can match
    whole responses."""

    def __init__(self, login=True):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=15)
        self.buf = b""
        self.n = 0
        self.greeting = self.rawline()
        if login:
            r = self.cmd(b"LOGIN " + USER + b" " + PW)
            check(ok(r), "login %r" % r)

    def fill(self):
        d = self.s.recv(65536)
        if not d:
            raise Fail("connection closed; had %r" % self.buf[-200:])
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
        """One response, literals included; \\Recent (these are IMAP4rev1
        sessions) taken out of flag lists, which are not what is checked."""
        l = self.rawline().replace(b"\\Recent ", b"").replace(b" \\Recent", b"").replace(
            b"(\\Recent)", b"()")
        while True:
            m = re.search(rb"~?\{(\d+)\}$", l)
            if not m:
                return l
            l += b"\r\n" + self.take(int(m.group(1))) + self.rawline()

    def send(self, b):
        self.s.sendall(b)

    def until(self, tag):
        out = []
        while True:
            l = self.line()
            out.append(l)
            if l.startswith(tag + b" "):
                return out

    def tag(self):
        self.n += 1
        return b"t%d" % self.n

    def cmd(self, text):
        t = self.tag()
        self.send(t + b" " + text + b"\r\n")
        return self.until(t)

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def status(r):
    parts = r[-1].split(b" ", 2) if r else []
    return parts[1] if len(parts) > 1 else b""


def ok(r):
    return status(r) == b"OK"


def msg(subject, extra=b"", body=b"hello\r\n"):
    return (b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: " + subject +
            b"\r\n" + extra + b"\r\n" + body)


def append(c, mbox, m, flags=b""):
    r = c.cmd(b"APPEND %s %s{%d+}\r\n" % (mbox, flags + b" " if flags else b"", len(m)) + m)
    check(ok(r), "append %r" % r)
    u = re.search(rb"APPENDUID \d+ (\d+)", r[-1])
    return int(u.group(1)) if u else 0


CHECKS = []



CHECKS = []


def case(fn):
    CHECKS.append(fn)
    return fn


def modseq_of(line):
    m = re.search(rb"MODSEQ \((\d+)\)", line)
    check(m, "no MODSEQ in %r" % line)
    return int(m.group(1))


def hms(r):
    m = [re.search(rb"\[HIGHESTMODSEQ (\d+)\]", l) for l in r]
    m = [x for x in m if x]
    check(m, "no HIGHESTMODSEQ in %r" % r)
    return int(m[-1].group(1))


def box(c, name, n):
    """A fresh mailbox with n messages; returns (uidvalidity, [uids])."""
    r = c.cmd(b"CREATE " + name)
    check(ok(r), "create %r" % r)
    uids = [append(c, name, msg(b"m%d" % i)) for i in range(1, n + 1)]
    r = c.cmd(b"STATUS " + name + b" (UIDVALIDITY)")
    v = int(re.search(rb"UIDVALIDITY (\d+)", r[0]).group(1))
    return v, uids


def untagged(r, prefix):
    return [l for l in r[:-1] if l.startswith(prefix)]


@case
def capabilities():
    c = C()
    r = c.cmd(b"CAPABILITY")
    caps = r[0].split()
    check(b"CONDSTORE" in caps and b"QRESYNC" in caps, "capability %r" % r)


@case
def select_condstore_and_fetch_modseq():
    """RFC 7162 3.1.2.1, 3.1.4: HIGHESTMODSEQ on SELECT, MODSEQ in FETCH,
    every new message and every real flag change gets a higher one."""
    c = C()
    box(c, b"cs1", 3)
    r = c.cmd(b"SELECT cs1 (CONDSTORE)")
    check(ok(r), "select %r" % r)
    h = hms(r)
    r = c.cmd(b"FETCH 1:* (UID MODSEQ)")
    ms = [modseq_of(l) for l in untagged(r, b"* ")]
    check(ok(r) and len(ms) == 3 and ms == sorted(ms) and len(set(ms)) == 3 and ms[-1] <= h,
          "fetch modseq %r" % r)
    # A plain SELECT (no CONDSTORE) tells HIGHESTMODSEQ too: brev always
    # has modseqs, so NOMODSEQ never.
    d = C()
    r = d.cmd(b"SELECT cs1")
    check(hms(r) == h and not any(b"NOMODSEQ" in l for l in r), "plain select %r" % r)
    # STATUS HIGHESTMODSEQ (3.1.6) agrees.
    # It is CONDSTORE-enabling: the selected session is told HIGHESTMODSEQ.
    r = d.cmd(b"STATUS cs1 (HIGHESTMODSEQ MESSAGES)")
    check(ok(r) and r[0] == b"* OK [HIGHESTMODSEQ %d] Highest" % h and
          r[1].endswith(b"(HIGHESTMODSEQ %d MESSAGES 3)" % h), "status %r" % r)
    # A STORE that changes flags raises the modseq; its FETCH carries MODSEQ.
    r = c.cmd(b"STORE 2 +FLAGS (\\Seen)")
    check(ok(r) and len(r) == 2 and b"FLAGS (\\Seen)" in r[0], "store %r" % r)
    m2 = modseq_of(r[0])
    check(m2 > h, "modseq grew %d > %d" % (m2, h))
    # A STORE that changes nothing does not.
    r = c.cmd(b"STORE 2 +FLAGS (\\Seen)")
    check(ok(r) and modseq_of(r[0]) == m2, "no-op store %r" % r)
    # The other session (CONDSTORE on by STATUS HIGHESTMODSEQ) hears of
    # the change with its MODSEQ (3.1.4: every unsolicited FETCH).
    r = d.cmd(b"NOOP")
    f = untagged(r, b"* 2 FETCH")
    check(len(f) == 1 and b"\\Seen" in f[0] and modseq_of(f[0]) == m2, "noop %r" % r)
    r = c.cmd(b"STATUS cs1 (HIGHESTMODSEQ)")
    check(ok(r) and b"HIGHESTMODSEQ %d" % m2 in r[0], "status after store %r" % r)
    r = c.cmd(b'LIST "" cs1 RETURN (STATUS (HIGHESTMODSEQ))')
    check(ok(r) and b'* STATUS "cs1" (HIGHESTMODSEQ %d)' % m2 in r, "list-status %r" % r)


@case
def changedsince():
    """RFC 7162 3.1.4.1: FETCH ... (CHANGEDSINCE n) returns only what
    changed after n, with MODSEQ even when not asked for."""
    c = C()
    box(c, b"cs2", 4)
    r = c.cmd(b"SELECT cs2")
    h = hms(r)
    r = c.cmd(b"STORE 3 +FLAGS.SILENT (\\Flagged)")
    check(ok(r), "store %r" % r)
    r = c.cmd(b"FETCH 1:* (UID FLAGS) (CHANGEDSINCE %d)" % h)
    # CHANGEDSINCE turned CONDSTORE on: first the current HIGHESTMODSEQ.
    check(r[0].startswith(b"* OK [HIGHESTMODSEQ "), "condstore enabled %r" % r)
    f = untagged(r, b"* ")[1:]
    check(ok(r) and len(f) == 1 and f[0].startswith(b"* 3 FETCH (UID ") and
          b"\\Flagged" in f[0] and modseq_of(f[0]) > h, "changedsince %r" % r)
    r = c.cmd(b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE 0)")
    check(ok(r) and len(untagged(r, b"* ")) == 4, "changedsince 0 %r" % r)
    r = c.cmd(b"FETCH 1:* (FLAGS) (CHANGEDSINCE x)")
    check(status(r) == b"BAD", "bad modseq %r" % r)
    r = c.cmd(b"FETCH 1:* (FLAGS) (VANISHED)")
    check(status(r) == b"BAD", "VANISHED without QRESYNC %r" % r)


@case
def unchangedsince_rfc_example():
    """RFC 7162 3.1.3, example 6's shape:
    C: d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)
    S: * 5 FETCH (MODSEQ (320162350))
    S: d105 OK [MODIFIED 7,9] Conditional STORE failed"""
    c = C()
    box(c, b"cs3", 9)
    r = c.cmd(b"SELECT cs3")
    h = hms(r)
    other = C()
    r = other.cmd(b"SELECT cs3")
    r = other.cmd(b"STORE 7,9 +FLAGS (\\Answered)")
    check(ok(r), "other store %r" % r)
    r = c.cmd(b"STORE 7,5,9 (UNCHANGEDSINCE %d) +FLAGS.SILENT (\\Deleted)" % h)
    five = [l for l in r if l.startswith(b"* 5 FETCH")]
    check(len(five) == 1 and re.fullmatch(rb"\* 5 FETCH \(MODSEQ \(\d+\)\)", five[0]),
          "FETCH for 5 %r" % r)
    check(r[-1].split(b" ", 1)[1].startswith(b"OK [MODIFIED 7,9]"), "MODIFIED %r" % r)
    r = c.cmd(b"FETCH 5,7,9 (FLAGS)")
    fl = {int(l.split()[1]): l for l in untagged(r, b"* ") if b"FETCH (FLAGS" in l}
    check(b"\\Deleted" in fl[5] and b"\\Deleted" not in fl[7] and b"\\Deleted" not in fl[9],
          "only 5 deleted %r" % r)
    # UID STORE answers [MODIFIED] with UIDs; UNCHANGEDSINCE 0 fails all.
    r = c.cmd(b"FETCH 2 (UID)")
    u2 = int(re.search(rb"UID (\d+)", r[0]).group(1))
    r = c.cmd(b"UID STORE %d (UNCHANGEDSINCE 0) +FLAGS (\\Seen)" % u2)
    check(r[-1].split(b" ", 1)[1].startswith(b"OK [MODIFIED %d]" % u2) and
          not untagged(r, b"* 2 FETCH"), "UID STORE unchangedsince 0 %r" % r)
    # The current modseq passes, and the FETCH has UID FLAGS MODSEQ.
    r = c.cmd(b"FETCH 2 (MODSEQ)")
    m = modseq_of(r[0])
    r = c.cmd(b"UID STORE %d (UNCHANGEDSINCE %d) +FLAGS (\\Seen)" % (u2, m))
    check(ok(r) and b"MODIFIED" not in r[-1] and
          re.fullmatch(rb"\* 2 FETCH \(UID %d FLAGS \(\\Seen\) MODSEQ \(\d+\)\)" % u2, r[0]) and
          modseq_of(r[0]) > m, "UID STORE passes %r" % r)
    # imapflow 1.x sends the modifier last; taken as the same thing.
    m3 = modseq_of(c.cmd(b"FETCH 3 (MODSEQ)")[0])
    r = c.cmd(b"STORE 2,3 +FLAGS (\\Flagged) (UNCHANGEDSINCE %d)" % m3)
    check(r[-1].split(b" ", 1)[1].startswith(b"OK [MODIFIED 2]") and
          re.fullmatch(rb"\* 3 FETCH \(FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)", r[0]),
          "modifier last %r" % r)
    r = c.cmd(b"STORE 3 +FLAGS (\\Flagged) (UNCHANGEDSINCE 1) x")
    check(status(r) == b"BAD", "more after the flags %r" % r)
    r = c.cmd(b"STORE 1 (UNCHANGEDSINCE) +FLAGS (\\Seen)")
    check(status(r) == b"BAD", "bad modifier %r" % r)


@case
def search_modseq():
    """RFC 7162 3.1.5: SEARCH MODSEQ, and (MODSEQ n) in the result: the
    highest modseq of the messages found."""
    c = C()
    box(c, b"cs4", 5)
    r = c.cmd(b"SELECT cs4 (CONDSTORE)")
    h = hms(r)
    r = c.cmd(b"STORE 2,4 +FLAGS (\\Draft)")
    ms = sorted(modseq_of(l) for l in untagged(r, b"* "))
    r = c.cmd(b"SEARCH MODSEQ %d" % (h + 1))
    check(ok(r) and r[0] == b"* SEARCH 2 4 (MODSEQ %d)" % ms[-1], "search %r" % r)
    # With an entry name and type (RFC 7162 3.1.5 example).
    r = c.cmd(b'SEARCH MODSEQ "/flags/\\\\draft" all %d' % (h + 1))
    check(ok(r) and r[0] == b"* SEARCH 2 4 (MODSEQ %d)" % ms[-1], "search entry %r" % r)
    r = c.cmd(b"UID SEARCH RETURN (COUNT) MODSEQ %d" % (h + 1))
    check(ok(r) and r[0].endswith(b"UID COUNT 2 MODSEQ %d" % ms[-1]), "esearch %r" % r)
    r = c.cmd(b"SEARCH MODSEQ %d" % (ms[-1] + 1))
    check(ok(r) and r[0] == b"* SEARCH", "nothing found, no MODSEQ %r" % r)
    r = c.cmd(b"SEARCH MODSEQ")
    check(status(r) == b"BAD", "MODSEQ without a number %r" % r)


@case
def enable_condstore():
    c = C()
    box(c, b"cs5", 1)
    r = c.cmd(b"ENABLE CONDSTORE")
    check(ok(r) and b"* ENABLED CONDSTORE" in r, "enable %r" % r)
    r = c.cmd(b"SELECT cs5")
    r = c.cmd(b"STORE 1 +FLAGS (\\Seen)")
    check(ok(r) and b"MODSEQ (" in r[0], "store after ENABLE %r" % r)
    # Without any CONDSTORE-enabling command, no MODSEQ (RFC 7162 3.1).
    d = C()
    d.cmd(b"SELECT cs5")
    r = d.cmd(b"STORE 1 -FLAGS (\\Seen)")
    check(ok(r) and b"MODSEQ" not in r[0], "store without CONDSTORE %r" % r)


@case
def qresync_select():
    """RFC 7162 3.2.5: SELECT ... (QRESYNC (uidvalidity modseq [known-uids
    [seq-match]])) answers VANISHED (EARLIER) for what went and FETCH for
    what changed since the client's modseq."""
    c = C()
    v, uids = box(c, b"qr1", 6)
    r = c.cmd(b"SELECT qr1 (QRESYNC (%d 1))" % v)
    check(status(r) == b"BAD", "QRESYNC before ENABLE %r" % r)
    r = c.cmd(b"ENABLE QRESYNC")
    check(ok(r) and b"* ENABLED QRESYNC" in r, "enable %r" % r)
    r = c.cmd(b"SELECT qr1")
    h = hms(r)
    c.cmd(b"UNSELECT")
    # Another session changes the mailbox while the client is away.
    o = C()
    o.cmd(b"SELECT qr1")
    o.cmd(b"STORE 2 +FLAGS (\\Flagged)")
    o.cmd(b"STORE 3,5 +FLAGS (\\Deleted)")
    r = o.cmd(b"EXPUNGE")
    check(ok(r), "expunge %r" % r)
    o.close()
    r = c.cmd(b"SELECT qr1 (QRESYNC (%d %d))" % (v, h))
    van = untagged(r, b"* VANISHED")
    check(ok(r) and van == [b"* VANISHED (EARLIER) %d,%d" % (uids[2], uids[4])],
          "vanished %r" % r)
    f = untagged(r, b"* 2 FETCH")
    check(len(f) == 1 and re.fullmatch(
        rb"\* 2 FETCH \(UID %d FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)" % uids[1], f[0]),
        "changed message %r" % r)
    check(b"* 4 EXISTS" in r and len(untagged(r, b"* ")) >= 6, "exists %r" % r)
    # The RFC's order: VANISHED after the SELECT's own untagged OKs.
    i_h = [i for i, l in enumerate(r) if b"[HIGHESTMODSEQ" in l][0]
    i_v = r.index(van[0])
    check(i_h < i_v, "order %r" % r)
    # SELECT while selected: [CLOSED] first (RFC 7162 3.2.11).
    r = c.cmd(b"SELECT qr1 (QRESYNC (%d %d %d:%d))" % (v, h, uids[0], uids[3]))
    check(r[0].startswith(b"* OK [CLOSED]"), "closed %r" % r)
    # known-uids limit the report: only the first expunged one is known.
    check(untagged(r, b"* VANISHED") == [b"* VANISHED (EARLIER) %d" % uids[2]],
          "known uids %r" % r)
    # With seq-match data (ignored, but valid syntax).
    r = c.cmd(b"EXAMINE qr1 (QRESYNC (%d %d 1:* (1:6 %d:%d)))" % (v, h, uids[0], uids[5]))
    check(ok(r) and len(untagged(r, b"* VANISHED")) == 1, "seq-match %r" % r)
    # Another UIDVALIDITY: the client's cache is void; nothing reported.
    r = c.cmd(b"SELECT qr1 (QRESYNC (%d %d))" % (v + 1, h))
    check(ok(r) and not untagged(r, b"* VANISHED") and not untagged(r, b"* 2 FETCH"),
          "uidvalidity mismatch %r" % r)
    r = c.cmd(b"SELECT qr1 (QRESYNC (%d))" % v)
    check(status(r) == b"BAD", "short QRESYNC %r" % r)


@case
def qresync_vanished_updates():
    """RFC 7162 3.2.10: after ENABLE QRESYNC, own and others' expunges are
    VANISHED uid-set, never EXPUNGE; then OK [HIGHESTMODSEQ]."""
    c = C()
    v, uids = box(c, b"qr2", 5)
    c.cmd(b"ENABLE QRESYNC")
    r = c.cmd(b"SELECT qr2")
    r = c.cmd(b"STORE 2,3 +FLAGS.SILENT (\\Deleted)")
    r = c.cmd(b"EXPUNGE")
    check(ok(r) and untagged(r, b"* VANISHED") == [b"* VANISHED %d:%d" % (uids[1], uids[2])]
          and not any(b"EXPUNGE" in l for l in r[:-1]), "own expunge %r" % r)
    h = hms(r[:-1])
    r = c.cmd(b"STATUS qr2 (HIGHESTMODSEQ)")
    check(b"HIGHESTMODSEQ %d" % h in r[0], "HIGHESTMODSEQ after expunge %r" % r)
    o = C()
    o.cmd(b"SELECT qr2")
    o.cmd(b"STORE 3 +FLAGS.SILENT (\\Deleted)")
    o.cmd(b"EXPUNGE")
    r = c.cmd(b"NOOP")
    check(ok(r) and untagged(r, b"* VANISHED") == [b"* VANISHED %d" % uids[4]] and
          hms(r[:-1]) > h, "other's expunge %r" % r)
    # Flag changes by others come with UID and MODSEQ.
    o.cmd(b"STORE 1 +FLAGS (\\Seen)")
    r = c.cmd(b"NOOP")
    f = untagged(r, b"* 1 FETCH")
    check(len(f) == 1 and re.fullmatch(
        rb"\* 1 FETCH \(UID %d FLAGS \(\\Seen\) MODSEQ \(\d+\)\)" % uids[0], f[0]),
        "flags %r" % r)
    # Nothing during FETCH by number (RFC 9051 7.5.1 holds for VANISHED).
    o.cmd(b"STORE 2 +FLAGS.SILENT (\\Deleted)")
    o.cmd(b"EXPUNGE")
    r = c.cmd(b"FETCH 1 (FLAGS)")
    check(ok(r) and not untagged(r, b"* VANISHED"), "vanished during FETCH %r" % r)
    r = c.cmd(b"NOOP")
    check(untagged(r, b"* VANISHED") == [b"* VANISHED %d" % uids[3]], "later %r" % r)


@case
def highestmodseq_below_pending_expunge():
    """RFC 7162 3.2: MODSEQs sent while an expunge waits (no EXPUNGE during
    FETCH) come with an OK [HIGHESTMODSEQ] below that expunge's modseq."""
    c = C()
    box(c, b"cs6", 3)
    r = c.cmd(b"SELECT cs6 (CONDSTORE)")
    h = hms(r)
    o = C()
    o.cmd(b"SELECT cs6")
    o.cmd(b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    o.cmd(b"EXPUNGE")
    o.cmd(b"STORE 2 +FLAGS (\\Seen)")
    r = c.cmd(b"FETCH 1:* (FLAGS MODSEQ)")
    check(ok(r) and not any(l.endswith(b" EXPUNGE") for l in r), "no expunge during FETCH %r" % r)
    check(any(b"MODSEQ (" in l for l in r) and hms(r) == h, "HIGHESTMODSEQ %d below %r" % (h, r))
    r = c.cmd(b"NOOP")
    check(b"* 1 EXPUNGE" in r and hms(r) > h, "later %r" % r)


@case
def uid_fetch_vanished():
    """RFC 7162 3.2.6: UID FETCH set (FLAGS) (CHANGEDSINCE n VANISHED)."""
    c = C()
    v, uids = box(c, b"qr3", 6)
    c.cmd(b"ENABLE QRESYNC")
    r = c.cmd(b"SELECT qr3")
    h = hms(r)
    c.cmd(b"STORE 1,4 +FLAGS.SILENT (\\Deleted)")
    c.cmd(b"EXPUNGE")
    c.cmd(b"UID STORE %d +FLAGS.SILENT (\\Answered)" % uids[1])
    r = c.cmd(b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % h)
    van = untagged(r, b"* VANISHED")
    check(ok(r) and van == [b"* VANISHED (EARLIER) %d,%d" % (uids[0], uids[3])],
          "vanished %r" % r)
    f = untagged(r, b"* 1 FETCH")
    check(len(f) == 1 and b"UID %d" % uids[1] in f[0] and b"\\Answered" in f[0] and
          b"MODSEQ (" in f[0] and r.index(van[0]) < r.index(f[0]), "fetch %r" % r)
    # Only the UIDs of the set.
    r = c.cmd(b"UID FETCH %d:%d (FLAGS) (CHANGEDSINCE %d VANISHED)" % (uids[2], uids[5], h))
    check(ok(r) and untagged(r, b"* VANISHED") == [b"* VANISHED (EARLIER) %d" % uids[3]],
          "set limits %r" % r)
    r = c.cmd(b"FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % h)
    check(status(r) == b"BAD", "VANISHED with FETCH %r" % r)
    r = c.cmd(b"UID FETCH 1:* (FLAGS) (VANISHED)")
    check(status(r) == b"BAD", "VANISHED without CHANGEDSINCE %r" % r)


def uidset(lines):
    """The UIDs of "* VANISHED (EARLIER) set" lines, as a Python set."""
    out = set()
    for l in lines:
        for item in l.split(b" ")[-1].split(b","):
            lo, _, hi = item.partition(b":")
            out.update(range(int(lo), int(hi or lo) + 1))
    return out


@case
def qresync_stale():
    """More expunges than the store remembers (docs/store.md: 8,192):
    SELECT QRESYNC still reports every UID that went, as VANISHED
    (EARLIER) of every missing UID, in lines of at most about 8 KiB."""
    c = C()
    r = c.cmd(b"CREATE qr4")
    m = msg(b"x")
    for k in range(12):
        one = b"{%d+}\r\n" % len(m) + m
        r = c.cmd(b"APPEND qr4 " + b" ".join([one] * 1000))
        check(ok(r), "multiappend %r" % r[-1][:200])
    c.cmd(b"ENABLE QRESYNC")
    r = c.cmd(b"SELECT qr4")
    v = int(re.search(rb"UIDVALIDITY (\d+)", b"".join(r)).group(1))
    h = hms(r)
    # Keep the even UIDs up to 4000 and 12000: 2,000 holes, then a run.
    odd = b",".join(b"%d" % u for u in range(1, 4000, 2))
    for s_ in (odd, b"4001:11999"):
        c.cmd(b"UID STORE %s +FLAGS.SILENT (\\Deleted)" % s_)
        r = c.cmd(b"UID EXPUNGE %s" % s_)
        check(ok(r), "expunge %r" % r[-1])
        if s_ == odd:  # the session's own VANISHED, cut into lines too
            van = untagged(r, b"* VANISHED ")
            check(uidset(van) == set(range(1, 4000, 2)) and len(van) > 1 and
                  max(len(l) for l in van) <= 8100, "own vanished %r" % [len(l) for l in van])
    c.cmd(b"UID STORE 12000 +FLAGS.SILENT (\\Seen)")
    c.cmd(b"UNSELECT")
    r = c.cmd(b"SELECT qr4 (QRESYNC (%d %d))" % (v, h))
    van = untagged(r, b"* VANISHED (EARLIER) ")
    want = set(range(1, 4000, 2)) | set(range(4001, 12000))
    check(ok(r) and uidset(van) == want, "stale vanished %r" % [l[:80] for l in van])
    check(len(van) > 1 and max(len(l) for l in van) <= 8100, "line lengths %r" %
          [len(l) for l in van])
    f = untagged(r, b"* 2001 FETCH")
    check(len(f) == 1 and b"UID 12000 FLAGS (\\Seen)" in f[0], "stale fetch %r" % f)


def main():
    only = sys.argv[1:]
    for fn in CHECKS:
        if only and fn.__name__ not in only:
            continue
        try:
            fn()
            print("ok   %s" % fn.__name__)
        except (Fail, OSError) as e:
            FAILED.append(fn.__name__)
            print("FAIL %s: %s" % (fn.__name__, e))
    if FAILED:
        print("failed: " + " ".join(FAILED))
        sys.exit(1)


main()
