"""Issue 18's IMAP protocol bugs as raw dialogues against brev.

Every check runs even when an earlier one failed; the failures are listed
at the end and the exit status is 1 if there was any. Each check logs in
on its own connection(s), so one broken dialogue does not spoil the next.
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
        """One response, literals included."""
        l = self.rawline()
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


def case(fn):
    CHECKS.append(fn)
    return fn


# ---------------------------------------------------------------- bug 1
@case
def utf8_append_thunderbird():
    """Thunderbird after ENABLE UTF8=ACCEPT saves its sent copy with
    APPEND "Sent" (\\Seen) UTF8 (~{n+}...) (RFC 6855 4)."""
    c = C()
    r = c.cmd(b"ENABLE UTF8=ACCEPT")
    check(ok(r) and b"* ENABLED UTF8=ACCEPT" in r, "enable %r" % r)
    r = c.cmd(b'CREATE "Sent"')
    check(ok(r) or b"ALREADYEXISTS" in r[-1], "create Sent %r" % r)
    m = msg("Grüße aus Köln".encode(), b"Content-Type: text/plain; charset=UTF-8\r\n",
            "Ünïcödé body\r\n".encode())
    r = c.cmd(b'APPEND "Sent" (\\Seen) UTF8 (~{%d+}\r\n' % len(m) + m + b")")
    check(ok(r) and b"[APPENDUID " in r[-1], "UTF8 (~{n+}) append %r" % r)
    uid = int(re.search(rb"APPENDUID \d+ (\d+)", r[-1]).group(1))
    # The synchronizing form: "+" and then the bytes.
    t = c.tag()
    c.send(t + b' APPEND "Sent" UTF8 (~{%d}\r\n' % len(m))
    l = c.line()
    check(l.startswith(b"+ "), "continuation for UTF8 (~{n}) %r" % l)
    c.send(m + b")\r\n")
    r = c.until(t)
    check(ok(r) and b"[APPENDUID " in r[-1], "UTF8 (~{n}) append %r" % r)
    # MULTIAPPEND mixing both forms: two messages, one commit.
    r = c.cmd(b'APPEND "Sent" UTF8 (~{%d+}\r\n' % len(m) + m + b') (\\Flagged) {%d+}\r\n' % len(m) + m)
    check(ok(r) and re.search(rb"APPENDUID \d+ \d+:\d+", r[-1]), "multiappend with UTF8 %r" % r)
    r = c.cmd(b'SELECT "Sent"')
    check(ok(r) and b"* 4 EXISTS" in r, "four messages in Sent %r" % r)
    r = c.cmd(b"UID FETCH %d (FLAGS BODY.PEEK[])" % uid)
    check(ok(r) and m in r[0] and b"\\Seen" in r[0], "stored bytes and flags %r" % r)
    # Still an error: the list must hold exactly one literal.
    r = c.cmd(b'APPEND "Sent" UTF8 (x)')
    check(status(r) == b"BAD", "UTF8 (atom) %r" % r)
    c.close()


@case
def refused_logged():
    """A refused command is logged (run.sh greps serve.log for it)."""
    c = C()
    r = c.cmd(b"APPEND INBOX (\\Seen) NOTALITERAL")
    check(status(r) == b"BAD", "bad append %r" % r)
    c.close()


# ---------------------------------------------------------------- bug 8
@case
def nothing_after_bye():
    """LOGOUT: '* BYE' then the tagged OK, with no EXPUNGE/EXISTS/FETCH
    between them (RFC 9051 7.1.5; clients drop their state on BYE)."""
    c = C()
    o = C()
    r = c.cmd(b"CREATE bye")
    check(ok(r), "create %r" % r)
    for i in range(3):
        append(c, b"bye", msg(b"bye %d" % i))
    check(ok(c.cmd(b"SELECT bye")), "select")
    check(ok(o.cmd(b"SELECT bye")), "other select")
    check(ok(o.cmd(b"STORE 1 +FLAGS.SILENT (\\Deleted \\Flagged)")), "store")
    check(ok(o.cmd(b"STORE 2 +FLAGS.SILENT (\\Flagged)")), "store 2")
    check(ok(o.cmd(b"EXPUNGE")), "expunge")
    append(o, b"bye", msg(b"bye new"))
    r = c.cmd(b"LOGOUT")
    check(r[0].startswith(b"* BYE"), "BYE first %r" % r)
    check(len(r) == 2 and ok(r), "nothing between BYE and OK %r" % r)
    o.close()
    c.close()


# ---------------------------------------------------------------- bug 6
@case
def atom_with_bracket():
    """'[' is an ATOM-CHAR (RFC 9051 9): a mailbox name made of every
    ATOM-CHAR that is not a letter is a valid astring."""
    c = C()
    name = b"!#$&'+,-.0123456789:;<=>?@^_`|[}"
    r = c.cmd(b"CREATE " + name)
    check(ok(r), "create %r" % r)
    r = c.cmd(b"SELECT " + name)
    check(ok(r), "select %r" % r)
    r = c.cmd(b"STATUS a[b (MESSAGES)")
    check(status(r) == b"NO" and b"NONEXISTENT" in r[-1], "a[b is a name, not a syntax error %r" % r)
    r = c.cmd(b'LIST "" "*"')
    # Listed in modified UTF-7, where "&" is written "&-" (RFC 3501 5.1.3).
    shown = name.replace(b"&", b"&-")
    check(ok(r) and any(l.endswith(b' "/" "' + shown + b'"') for l in r), "listed %r" % r)
    # Sections with spaces still parse, and an unclosed one is still bad.
    append(c, name, msg(b"br"))
    r = c.cmd(b"FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)])")
    check(ok(r) and b"Subject: br" in r[0], "section %r" % r)
    r = c.cmd(b"FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject))")
    check(status(r) == b"BAD", "unclosed section %r" % r)
    c.close()


# ---------------------------------------------------------------- bug 7
@case
def search_address_as_envelope():
    """SEARCH FROM/TO/CC/BCC match the address as ENVELOPE presents it
    (RFC 9051 6.4.4): comments, folding and spaces inside it are gone."""
    c = C()
    check(ok(c.cmd(b"CREATE srch")), "create")
    m = (b"From: <user-from (comment)@ (comment) domain.org>\r\n"
         b"To: Some One <user-to@(c)domain.org>, \"Other\" <other@\r\n example.org>\r\n"
         b"Cc: team: cc-one@ domain.org, cc-two (x) @domain.org;\r\n"
         b"Bcc: =?utf-8?q?J=C3=B6rg?= <bcc@domain.org>\r\n"
         b"Subject: addr\r\n\r\nbody\r\n")
    append(c, b"srch", m)
    append(c, b"srch", msg(b"other"))
    check(ok(c.cmd(b"SELECT srch")), "select")
    for key, want in ((b"FROM user-from@domain.org", b"1"), (b"TO user-to@domain.org", b"1"),
                      (b"TO other@example.org", b"1"), (b"CC cc-one@domain.org", b"1"),
                      (b"CC cc-two@domain.org", b"1"), (b"BCC bcc@domain.org", b"1"),
                      ("BCC Jörg <bcc@".encode(), b"1"), (b"FROM alice@example.test", b"2"),
                      (b"FROM nobody@domain.org", b"")):
        if not key.isascii():
            key = key.split(b" ", 1)[0] + b" {%d+}\r\n" % len(key.split(b" ", 1)[1]) + key.split(b" ", 1)[1]
            r = c.cmd(b"SEARCH CHARSET UTF-8 " + key)
        else:
            r = c.cmd(b"SEARCH " + key)
        check(ok(r) and r[0] == (b"* SEARCH " + want).strip(), "SEARCH %r -> %r" % (key, r))
    c.close()


# ---------------------------------------------------------------- bug 4
INNER = (b"From: inner@example.test\r\nSubject: inner\r\n"
         b"Content-Transfer-Encoding: quoted-printable\r\n\r\nin=3Dner  \r\n")
QP = b"line one   \r\nline=20two \t\r\nsoft=  \r\nbreak\r\n"
QP_DECODED = b"line one\r\nline two\r\nsoftbreak\r\n"
MULTI = (b"From: a@example.test\r\nSubject: binary\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
         b"--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + QP +
         b"\r\n--XX\r\nContent-Type: message/rfc822\r\n\r\n" + INNER +
         b"\r\n--XX--\r\n")


@case
def binary_whole_and_rfc822():
    """BINARY[], BINARY.PEEK[] and BINARY of a message/rfc822 part are the
    message (RFC 3516, RFC 9051 6.4.5), with BINARY.SIZE to match."""
    c = C()
    check(ok(c.cmd(b"CREATE bin")), "create")
    append(c, b"bin", MULTI)
    check(ok(c.cmd(b"SELECT bin")), "select")
    r = c.cmd(b"FETCH 1 (BINARY.SIZE[] BINARY.PEEK[])")
    check(ok(r) and (b"BINARY.SIZE[] %d" % len(MULTI)) in r[0] and
          (b"BINARY[] {%d}\r\n" % len(MULTI) + MULTI) in r[0], "BINARY.PEEK[] %r" % r)
    r = c.cmd(b"FETCH 1 (BINARY.SIZE[2] BINARY.PEEK[2])")
    check(ok(r) and (b"BINARY.SIZE[2] %d" % len(INNER)) in r[0] and
          (b"BINARY[2] {%d}\r\n" % len(INNER) + INNER) in r[0], "BINARY[2] (message/rfc822) %r" % r)
    r = c.cmd(b"FETCH 1 (BINARY[])")
    check(ok(r) and (b"BINARY[] {%d}\r\n" % len(MULTI)) in r[0] and b"\\Seen" in r[0],
          "BINARY[] sets \\Seen %r" % r)
    c.close()


@case
def qp_trailing_space():
    """The quoted-printable decoder deletes white space at the end of an
    encoded line (RFC 2045 6.7 rule 3): in BINARY, BINARY.SIZE, partial
    BINARY and SEARCH."""
    c = C()
    check(ok(c.cmd(b"CREATE qp")), "create")
    append(c, b"qp", MULTI)
    check(ok(c.cmd(b"SELECT qp")), "select")
    r = c.cmd(b"FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1] BINARY.PEEK[1]<4.6>)")
    check(ok(r) and (b"BINARY.SIZE[1] %d" % len(QP_DECODED)) in r[0] and
          (b"BINARY[1] {%d}\r\n" % len(QP_DECODED) + QP_DECODED) in r[0] and
          b"BINARY[1]<4> {6}\r\n" + QP_DECODED[4:10] in r[0], "decoded QP %r" % r)
    r = c.cmd(b'SEARCH BODY "one "')
    check(ok(r) and r[0] == b"* SEARCH", "trailing white space is not text %r" % r)
    r = c.cmd(b"SEARCH BODY softbreak")
    check(ok(r) and r[0] == b"* SEARCH 1", "soft break joined %r" % r)
    c.close()


# ---------------------------------------------------------------- bug 5
@case
def list_extended_edges():
    """RFC 5258: RECURSIVEMATCH alone or with only REMOTE is BAD;
    (SUBSCRIBED RECURSIVEMATCH) returns a parent of a subscribed mailbox
    with CHILDINFO ("SUBSCRIBED"). RFC 3501 6.3.9: LSUB with '%' returns a
    parent whose child is subscribed as \\Noselect."""
    c = C()
    for n in (b"le", b"le/a", b"le/a/b", b"le/c"):
        check(ok(c.cmd(b"CREATE " + n)), "create %r" % n)
    for n in (b"le", b"le/a", b"le/a/b", b"le/c"):
        c.cmd(b"UNSUBSCRIBE " + n)  # CREATE may subscribe
    check(ok(c.cmd(b"SUBSCRIBE le/a/b")), "subscribe")
    check(ok(c.cmd(b"SUBSCRIBE le/c")), "subscribe c")
    for opts in (b"(RECURSIVEMATCH)", b"(RECURSIVEMATCH REMOTE)", b"(REMOTE RECURSIVEMATCH)"):
        r = c.cmd(b'LIST ' + opts + b' "" "le/%"')
        check(status(r) == b"BAD", "LIST %r %r" % (opts, r))
    r = c.cmd(b'LIST (SUBSCRIBED RECURSIVEMATCH) "" "le/%"')
    check(ok(r), "recursivematch %r" % r)
    check(set(r[:-1]) == {b'* LIST (\\HasChildren) "/" "le/a" ("CHILDINFO" ("SUBSCRIBED"))',
                          b'* LIST (\\HasNoChildren \\Subscribed) "/" "le/c"'},
          "(SUBSCRIBED RECURSIVEMATCH) %r" % r)
    r = c.cmd(b'LIST (SUBSCRIBED) "" "le/%"')
    check(ok(r) and r[:-1] == [b'* LIST (\\HasNoChildren \\Subscribed) "/" "le/c"'],
          "(SUBSCRIBED) alone has no parents %r" % r)
    r = c.cmd(b'LSUB "" "le/%"')
    check(ok(r) and set(r[:-1]) == {b'* LSUB (\\Noselect) "/" "le/a"', b'* LSUB () "/" "le/c"'},
          "LSUB le/%% %r" % r)
    r = c.cmd(b'LSUB "" "le/*"')
    check(ok(r) and set(r[:-1]) == {b'* LSUB () "/" "le/a/b"', b'* LSUB () "/" "le/c"'},
          "LSUB le/* %r" % r)
    c.close()


@case
def subscription_outlives_mailbox():
    """DELETE does not end a subscription (RFC 3501 6.3.6): the name stays
    in LSUB (\\Noselect) and LIST (SUBSCRIBED) (\\NonExistent, RFC 5258),
    not in a plain LIST; CREATE brings the mailbox back subscribed;
    UNSUBSCRIBE ends it."""
    c = C()
    check(ok(c.cmd(b"CREATE gone")), "create")
    check(ok(c.cmd(b"SUBSCRIBE gone")), "subscribe")
    check(ok(c.cmd(b"DELETE gone")), "delete")
    r = c.cmd(b'LIST (SUBSCRIBED) "" "gone"')
    check(ok(r) and r[:-1] == [b'* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "/" "gone"'],
          "LIST (SUBSCRIBED) after DELETE %r" % r)
    r = c.cmd(b'LSUB "" "gone"')
    check(ok(r) and r[:-1] == [b'* LSUB (\\Noselect) "/" "gone"'], "LSUB after DELETE %r" % r)
    r = c.cmd(b'LIST "" "gone"')
    check(ok(r) and len(r) == 1, "plain LIST after DELETE %r" % r)
    check(ok(c.cmd(b"CREATE gone")), "create again")
    r = c.cmd(b'LIST (SUBSCRIBED) "" "gone"')
    check(ok(r) and r[:-1] == [b'* LIST (\\HasNoChildren \\Subscribed) "/" "gone"'],
          "created again, still subscribed %r" % r)
    check(ok(c.cmd(b"DELETE gone")), "delete again")
    check(ok(c.cmd(b"UNSUBSCRIBE gone")), "unsubscribe the kept one")
    r = c.cmd(b'LSUB "" "gone"')
    check(ok(r) and len(r) == 1, "LSUB after UNSUBSCRIBE %r" % r)
    check(ok(c.cmd(b"CREATE gone")), "create a third time")
    r = c.cmd(b'LSUB "" "gone"')
    check(ok(r) and len(r) == 1, "not subscribed any more %r" % r)
    c.close()


# ---------------------------------------------------------------- bug 10
@case
def create_special_use():
    """RFC 6154 3: CREATE-SPECIAL-USE is advertised; a USE attribute the
    server cannot keep gets NO [USEATTR] and no mailbox."""
    c = C()
    r = c.cmd(b"CAPABILITY")
    check(ok(r) and b" CREATE-SPECIAL-USE" in r[0], "capability %r" % r)
    r = c.cmd(b"CREATE MyDrafts (USE (\\Drafts))")
    check(ok(r), "create with \\Drafts %r" % r)
    r = c.cmd(b'LIST "" MyDrafts')
    check(ok(r) and b"\\Drafts" in r[0], "role kept %r" % r)
    for use in (b"(\\All)", b"(\\Flagged)", b"(\\Important)", b"(\\Sent \\Trash)", b"(\\Bogus)"):
        r = c.cmd(b"CREATE Useless (USE " + use + b")")
        check(status(r) == b"NO" and b"[USEATTR]" in r[-1], "USE %r -> %r" % (use, r))
        r = c.cmd(b'LIST "" Useless')
        check(ok(r) and len(r) == 1, "nothing created for %r: %r" % (use, r))
    c.close()


@case
def examine_permanentflags():
    """EXAMINE: PERMANENTFLAGS () (nothing can be changed for good)."""
    c = C()
    r = c.cmd(b"EXAMINE INBOX")
    check(ok(r) and b"* OK [PERMANENTFLAGS ()] Read-only" in r, "examine %r" % r)
    r = c.cmd(b"SELECT INBOX")
    check(ok(r) and any(l.startswith(b"* OK [PERMANENTFLAGS (\\Answered") and b"\\*)]" in l
                        for l in r), "select %r" % r)
    c.close()


@case
def search_return_save():
    """SEARCH RETURN (SAVE) with SEARCHRES (RFC 5182), now offered: SAVE
    alone answers no ESEARCH; with MIN it answers MIN (t-11 has the rest)."""
    c = C()
    r = c.cmd(b"CAPABILITY")
    check(b"SEARCHRES" in r[0], "SEARCHRES not advertised %r" % r)
    check(ok(c.cmd(b"SELECT INBOX")), "select")
    r = c.cmd(b"SEARCH RETURN (SAVE) ALL")
    check(ok(r) and not any(l.startswith(b"* ESEARCH") for l in r), "RETURN (SAVE) -> %r" % r)
    r = c.cmd(b"SEARCH RETURN (MIN SAVE) ALL")
    check(ok(r), "RETURN (MIN SAVE) -> %r" % r)
    c.close()


# ---------------------------------------------------------------- bug 9
def search(c, key):
    r = c.cmd(b"SEARCH " + key)
    check(ok(r) and r[0].startswith(b"* SEARCH"), "SEARCH %r %r" % (key, r))
    return r[0][9:].split()


def recent_line(r):
    got = [l for l in r if l.endswith(b" RECENT")]
    return got[-1] if got else None


@case
def recent_rev1():
    """\\Recent for IMAP4rev1 sessions (RFC 3501 2.3.2): the first session
    told of a message has it as \\Recent (SELECT's and updates' RECENT,
    FETCH FLAGS, SEARCH NEW/OLD/RECENT); EXAMINE looks without taking it;
    IMAP4rev2 sessions neither see nor take it; STATUS RECENT counts the
    unclaimed; STORE (\\Recent) is BAD."""
    a = C()
    check(ok(a.cmd(b"CREATE rc")), "create")
    append(a, b"rc", msg(b"r1"))
    append(a, b"rc", msg(b"r2"))
    r = a.cmd(b"STATUS rc (RECENT MESSAGES)")
    check(ok(r) and b"RECENT 2" in r[0], "status before select %r" % r)
    b = C()
    r = b.cmd(b"SELECT rc")
    check(ok(r) and recent_line(r) == b"* 2 RECENT", "first select %r" % r)
    r = b.cmd(b"FETCH 1:* (FLAGS)")
    check(ok(r) and r[0] == b"* 1 FETCH (FLAGS (\\Recent))", "fetch flags %r" % r)
    check(search(b, b"RECENT") == [b"1", b"2"] and search(b, b"NEW") == [b"1", b"2"] and
          search(b, b"OLD") == [], "search in the first session")
    check(ok(b.cmd(b"STORE 1 +FLAGS.SILENT (\\Seen)")), "store seen")
    check(search(b, b"NEW") == [b"2"], "NEW is recent and unseen")
    r = b.cmd(b"STORE 1 +FLAGS (\\Recent)")
    check(status(r) == b"BAD", "store \\Recent %r" % r)
    r = b.cmd(b"FETCH 1 (FLAGS)")
    check(ok(r) and r[0] == b"* 1 FETCH (FLAGS (\\Recent \\Seen))", "flags after store %r" % r)
    c = C()
    r = c.cmd(b"SELECT rc")
    check(ok(r) and recent_line(r) == b"* 0 RECENT", "second select %r" % r)
    check(search(c, b"RECENT") == [] and search(c, b"OLD") == [b"1", b"2"], "second session: old")
    r = a.cmd(b"STATUS rc (RECENT)")
    check(ok(r) and b"RECENT 0" in r[0], "status after select %r" % r)
    # An arrival: the session that hears of it first has it.
    append(a, b"rc", msg(b"r3"))
    r = a.cmd(b"STATUS rc (RECENT)")
    check(ok(r) and b"RECENT 1" in r[0], "status with an unclaimed arrival %r" % r)
    r = b.cmd(b"NOOP")
    check(b"* 3 EXISTS" in r and recent_line(r) == b"* 3 RECENT", "first to hear %r" % r)
    r = c.cmd(b"NOOP")
    check(b"* 3 EXISTS" in r and recent_line(r) == b"* 0 RECENT", "second to hear %r" % r)
    # EXAMINE looks and leaves it.
    append(a, b"rc", msg(b"r4"))
    d = C()
    r = d.cmd(b"EXAMINE rc")
    check(ok(r) and recent_line(r) == b"* 1 RECENT", "examine %r" % r)
    check(search(d, b"RECENT") == [b"4"], "examine sees it recent")
    # IMAP4rev2: no RECENT, and nothing taken.
    e = C()
    check(ok(e.cmd(b"ENABLE IMAP4rev2")), "enable rev2")
    r = e.cmd(b"SELECT rc")
    check(ok(r) and recent_line(r) is None, "rev2 select %r" % r)
    r = e.cmd(b"FETCH 4 (FLAGS)")
    check(ok(r) and b"\\Recent" not in r[0], "rev2 flags %r" % r)
    r = b.cmd(b"NOOP")
    check(b"* 4 EXISTS" in r and recent_line(r) == b"* 4 RECENT", "still the first session's %r" % r)
    r = b.cmd(b"FETCH 4 (FLAGS)")
    check(ok(r) and b"\\Recent" in r[0], "fetch after claiming %r" % r)
    r = c.cmd(b"FETCH 4 (FLAGS)")
    check(ok(r) and b"* 4 EXISTS" in r and not any(b"\\Recent" in l for l in r),
          "not the other's %r" % r)
    for x in (a, b, c, d, e):
        x.close()


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
