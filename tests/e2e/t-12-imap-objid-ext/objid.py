"""OBJECTID, PREVIEW, REPLACE and CATENATE against brev over a raw socket.

Commands are sent whole with LITERAL+ ({n+}) literals; responses are read
up to the tagged line, with their literals. Every check runs even when an
earlier one failed; failures are listed and the exit status is 1.
"""
import os, re, socket, sys

PORT = int(os.environ["P_IMAP"])
LIMIT = int(os.environ["LIMIT"])
QUOTA = int(os.environ["QUOTA"])
FAILED = []
ID_RE = re.compile(rb"^[A-Za-z0-9_-]{1,255}$")


def check(cond, what):
    if not cond:
        FAILED.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


class Imap:
    def __init__(self, user, pw):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=20)
        self.f = self.s.makefile("rb")
        self.n = 0
        self.f.readline()
        typ, _, _ = self.cmd(b'LOGIN %s %s' % (user.encode(), pw.encode()))
        assert typ == b"OK", "login"

    def cmd(self, *parts):
        """parts: bytes (sent as they are) or ("lit", data) / ("lit8", data)."""
        self.n += 1
        tag = b"T%d" % self.n
        out = tag + b" "
        for p in parts:
            if isinstance(p, tuple):
                pre = b"~" if p[0] == "lit8" else b""
                out += pre + b"{%d+}\r\n" % len(p[1]) + p[1]
            else:
                out += p
        self.s.sendall(out + b"\r\n")
        untagged = []
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError("connection closed")
            while True:
                m = re.search(rb"\{(\d+)\}\r\n$", line)
                if not m:
                    break
                line += self.f.read(int(m.group(1)))
                line += self.f.readline()
            if line.startswith(tag + b" "):
                rest = line[len(tag) + 1:].rstrip(b"\r\n")
                return rest.split(b" ", 1)[0], rest, untagged
            untagged.append(line.rstrip(b"\r\n"))

    def close(self):
        try:
            self.cmd(b"LOGOUT")
        except Exception:
            pass
        self.s.close()


def msg(subject, body="hello\r\n", extra=""):
    return ("From: bob@example.test\r\nTo: alice@example.test\r\nSubject: %s\r\n%s\r\n%s"
            % (subject, extra, body)).encode()


class Missing(str):
    """A UID that was not answered: "0" in later commands, false in checks,
    so every check still runs (and fails) against a server without the
    extension."""
    def __bool__(self):
        return False


def appenduid(rest_or_lines):
    blob = rest_or_lines if isinstance(rest_or_lines, bytes) else b"\n".join(rest_or_lines)
    m = re.search(rb"APPENDUID (\d+) ([\d:,]+)", blob)
    return (int(m.group(1)), m.group(2).decode()) if m else (0, Missing("0"))


def one(untagged, pat):
    for l in untagged:
        m = re.search(pat, l)
        if m:
            return m
    return None


def count(c, mbox):
    typ, rest, u = c.cmd(b'STATUS "%s" (MESSAGES)' % mbox.encode())
    m = one(u, rb"MESSAGES (\d+)")
    return int(m.group(1)) if m else None


a = Imap("alice@example.test", "pw-alice")
typ, rest, u = a.cmd(b"CAPABILITY")
caps = b" ".join(u).upper().split()
for cap in (b"OBJECTID", b"PREVIEW", b"REPLACE", b"CATENATE"):
    check(cap in caps, "CAPABILITY lacks %r" % cap)

# ---------------------------------------------------------------- OBJECTID
typ, rest, u = a.cmd(b"CREATE Proj")
m = re.search(rb"\[MAILBOXID \(([^)]*)\)\]", rest)
check(typ == b"OK" and m and ID_RE.match(m.group(1)), "CREATE MAILBOXID: %r" % rest)
proj = m.group(1) if m else b"?"
typ, rest, u = a.cmd(b"STATUS Proj (MAILBOXID MESSAGES)")
check(one(u, rb"MAILBOXID \(" + re.escape(proj) + rb"\)"), "STATUS MAILBOXID: %r" % u)
typ, rest, u = a.cmd(b"EXAMINE Proj")
check(one(u, rb"^\* OK \[MAILBOXID \(" + re.escape(proj) + rb"\)\]"), "EXAMINE MAILBOXID: %r" % u)
typ, rest, u = a.cmd(b"SELECT INBOX")
m = one(u, rb"^\* OK \[MAILBOXID \(([^)]*)\)\]")
inbox = m.group(1) if m else None
check(inbox and inbox != proj, "SELECT INBOX MAILBOXID %r vs Proj %r" % (inbox, proj))
a.cmd(b"UNSELECT")
typ, rest, u = a.cmd(b"RENAME Proj Proj2")
typ, rest, u = a.cmd(b"STATUS Proj2 (MAILBOXID)")
check(one(u, rb"MAILBOXID \(" + re.escape(proj) + rb"\)"), "RENAME keeps MAILBOXID: %r" % u)
a.cmd(b"DELETE Proj2")
typ, rest, u = a.cmd(b"CREATE Proj2")
m = re.search(rb"MAILBOXID \(([^)]*)\)", rest)
check(m and m.group(1) != proj, "re-created Proj2 reuses MAILBOXID %r" % rest)
typ, rest, u = a.cmd(b'LIST "" "Proj2" RETURN (STATUS (MAILBOXID))')
check(one(u, rb"^\* STATUS .*MAILBOXID \(M\d+\)"), "LIST-STATUS MAILBOXID: %r" % u)
typ, rest, u = a.cmd(b"STATUS Proj2 (MAILBOXID")
check(typ == b"BAD", "STATUS (MAILBOXID without ) not BAD: %r" % rest)

typ, rest, u = a.cmd(b"APPEND INBOX ", ("lit", msg("objid")))
_, uid1 = appenduid(rest)
a.cmd(b"SELECT INBOX")
typ, rest, u = a.cmd(b"UID FETCH %s (EMAILID THREADID)" % uid1.encode())
m = one(u, rb"EMAILID \(([^)]*)\)")
eid = m.group(1) if m else None
check(eid and ID_RE.match(eid), "EMAILID: %r" % u)
check(one(u, rb"THREADID NIL"), "THREADID NIL: %r" % u)
typ, rest, u = a.cmd(b"UID COPY %s Proj2" % uid1.encode())
b_ = Imap("alice@example.test", "pw-alice")
b_.cmd(b"SELECT Proj2")
typ, rest, u = b_.cmd(b"FETCH 1 (EMAILID)")
check(one(u, rb"EMAILID \(" + re.escape(eid or b"?") + rb"\)"), "COPY keeps EMAILID: %r" % u)
typ, rest, u = b_.cmd(b"MOVE 1 Archive")
b_.cmd(b"SELECT Archive")
typ, rest, u = b_.cmd(b"FETCH 1 (EMAILID)")
check(one(u, rb"EMAILID \(" + re.escape(eid or b"?") + rb"\)"), "MOVE keeps EMAILID: %r" % u)
b_.close()
typ, rest, u = a.cmd(b"APPEND INBOX ", ("lit", msg("objid")))
_, uid2 = appenduid(rest)
a.cmd(b"NOOP")
typ, rest, u = a.cmd(b"UID FETCH %s (EMAILID)" % uid2.encode())
m = one(u, rb"EMAILID \(([^)]*)\)")
check(m and m.group(1) != eid, "same bytes appended again share EMAILID: %r" % u)
typ, rest, u = a.cmd(b"UID SEARCH EMAILID " + (eid or b"E0"))
check(one(u, rb"^\* SEARCH %s$" % uid1.encode()), "SEARCH EMAILID: %r" % u)
typ, rest, u = a.cmd(b"UID SEARCH THREADID T1")
check(typ == b"OK" and one(u, rb"^\* SEARCH$"), "SEARCH THREADID: %r %r" % (rest, u))
typ, rest, u = a.cmd(b"UID SEARCH EMAILID E99999")
check(typ == b"OK" and one(u, rb"^\* SEARCH$"), "SEARCH EMAILID unknown: %r" % u)
typ, rest, u = a.cmd(b"UID SEARCH EMAILID bad!id")
check(typ == b"BAD", "SEARCH EMAILID bad!id not BAD: %r" % rest)
typ, rest, u = a.cmd(b"UID SEARCH EMAILID " + b"A" * 256)
check(typ == b"BAD", "SEARCH EMAILID of 256 chars not BAD: %r" % rest)
typ, rest, u = a.cmd(b"UID SEARCH THREADID")
check(typ == b"BAD", "SEARCH THREADID without id not BAD: %r" % rest)

# ----------------------------------------------------------------- PREVIEW
long_text = "\u00e9" * 150 + " " + "x" * 100
mails = {
    "plain": msg("p1", "  Hello,\r\n\r\n   this is\tthe   body.  \r\n"),
    "qp": msg("p2", "Gr=FC=DFe aus K=F6ln\r\n",
              "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
              "Content-Transfer-Encoding: quoted-printable\r\n"),
    "html": msg("p3", "<html><head><title>T</title><style>p{color:red}</style></head>"
                "<body><p>Tom &amp; Jerry</p><!-- hidden --><p>say&nbsp;&lt;hi&gt; &#233;</p>"
                "</body></html>\r\n",
                "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n"),
    "alt": msg("p4", "--b\r\nContent-Type: text/html\r\n\r\n<b>html part</b>\r\n"
               "--b\r\nContent-Type: text/plain\r\n\r\nplain part\r\n--b--\r\n",
               "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n"),
    "long": msg("p5", long_text + "\r\n",
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: 8bit\r\n"),
    "image": msg("p6", "--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
                 "\r\niVBORw0KGgo=\r\n--b--\r\n",
                 "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n"),
}
want = {
    "plain": "Hello, this is the body.".encode(),
    "qp": "Gr\u00fc\u00dfe aus K\u00f6ln".encode(),
    "html": "Tom & Jerry say <hi> \u00e9".encode(),
    "alt": b"plain part",
    "long": ("\u00e9" * 150 + " " + "x" * 49).encode(),
    "image": b"",
}
puid = {}
for k, data in mails.items():
    typ, rest, u = a.cmd(b"APPEND INBOX ", ("lit", data))
    puid[k] = appenduid(rest)[1]
a.cmd(b"NOOP")


def preview_of(line):
    m = re.search(rb"PREVIEW (NIL|\"((?:[^\"\\]|\\.)*)\"|\{(\d+)\}\r\n)", line, re.S)
    if not m:
        return None
    if m.group(1) == b"NIL":
        return "NIL"
    if m.group(2) is not None:
        return re.sub(rb"\\(.)", rb"\1", m.group(2))
    start = m.end()
    return line[start:start + int(m.group(3))]


for k in mails:
    typ, rest, u = a.cmd(b"UID FETCH %s (PREVIEW)" % puid[k].encode())
    got = preview_of(b"\n".join(u)) if u else None
    check(typ == b"OK" and got == want[k], "PREVIEW %s: got %r want %r" % (k, got, want[k]))
got = preview_of(b"\n".join(a.cmd(b"UID FETCH %s (PREVIEW)" % puid["long"].encode())[2]))
check(got is not None and len(got.decode("utf-8")) == 200, "PREVIEW long is not 200 characters")
typ, rest, u = a.cmd(b"UID FETCH %s (UID PREVIEW (LAZY))" % puid["plain"].encode())
check(typ == b"OK" and preview_of(b"\n".join(u)) == want["plain"], "PREVIEW (LAZY): %r" % u)
typ, rest, u = a.cmd(b"UID FETCH %s PREVIEW (LAZY)" % puid["plain"].encode())
check(typ == b"OK" and preview_of(b"\n".join(u)) == want["plain"], "bare PREVIEW (LAZY): %r" % u)
typ, rest, u = a.cmd(b"UID FETCH %s (PREVIEW (FOO))" % puid["plain"].encode())
check(typ == b"BAD", "PREVIEW (FOO) not BAD: %r" % rest)
typ, rest, u = a.cmd(b"UID FETCH %s (PREVIEW ())" % puid["plain"].encode())
check(typ == b"BAD", "PREVIEW () not BAD: %r" % rest)
# RFC 8970 3.1's example: A1 FETCH 1 (PREVIEW)
typ, rest, u = a.cmd(b"FETCH 1 (PREVIEW)")
check(typ == b"OK" and one(u, rb"^\* 1 FETCH \(PREVIEW "), "RFC 8970 example: %r" % u)

# ----------------------------------------------------------------- REPLACE
typ, rest, u = a.cmd(b"SELECT Drafts")
typ, rest, u = a.cmd(b"APPEND Drafts (\\Draft) ", ("lit", msg("draft v1")))
_, d1 = appenduid(rest)
a.cmd(b"NOOP")
# RFC 8508 3's example shape: REPLACE n Drafts (\Seen \Draft) {..}
typ, rest, u = a.cmd(b"REPLACE 1 Drafts (\\Seen \\Draft) ", ("lit", msg("draft v2")))
uv, d2 = appenduid(u)
check(typ == b"OK" and d2, "REPLACE: %r %r" % (rest, u))
iu = [i for i, l in enumerate(u) if re.match(rb"^\* OK \[APPENDUID", l)]
# RFC 8508 3.3: APPENDUID first; the EXPUNGE and the EXISTS may come in
# either order as long as the numbers agree (brev: EXPUNGE 1, then EXISTS 1).
ie = [i for i, l in enumerate(u) if re.match(rb"^\* \d+ EXISTS", l)]
ix = [i for i, l in enumerate(u) if re.match(rb"^\* 1 EXPUNGE", l)]
check(iu and ie and ix and iu[0] < min(ie[0], ix[0]), "REPLACE: APPENDUID, EXISTS, EXPUNGE: %r" % u)
check(ie and u[ie[-1]] == (b"* 1 EXISTS" if ix[0] < ie[-1] else b"* 2 EXISTS"),
      "REPLACE EXISTS count: %r" % u)
typ, rest, u = a.cmd(b"UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
subj = b"\n".join(u)
check(b"draft v2" in subj and b"draft v1" not in subj and b"\\Seen" in subj,
      "after REPLACE: %r" % subj)
# UID REPLACE into another mailbox
before_sent = count(a, "Sent")
typ, rest, u = a.cmd(b"UID REPLACE %s Sent " % d2.encode(), ("lit", msg("sent v3")))
check(typ == b"OK" and one(u, rb"^\* 1 EXPUNGE") and count(a, "Sent") == before_sent + 1
      and count(a, "Drafts") == 0, "UID REPLACE into Sent: %r %r" % (rest, u))
typ, rest, u = a.cmd(b"APPEND Drafts ", ("lit", msg("draft w1")))
_, w1 = appenduid(rest)
a.cmd(b"NOOP")
typ, rest, u = a.cmd(b"REPLACE 1:2 Drafts ", ("lit", msg("x")))
check(typ == b"BAD", "REPLACE 1:2 not BAD: %r" % rest)
typ, rest, u = a.cmd(b"REPLACE 7 Drafts ", ("lit", msg("x")))
check(typ == b"BAD", "REPLACE of number 7 (1 message) not BAD: %r" % rest)
typ, rest, u = a.cmd(b"REPLACE 1 Drafts")
check(typ == b"BAD", "REPLACE without message not BAD: %r" % rest)
typ, rest, u = a.cmd(b"UID REPLACE 99999 Drafts ", ("lit", msg("x")))
check(typ == b"NO", "UID REPLACE of a missing UID not NO: %r" % rest)
typ, rest, u = a.cmd(b"REPLACE 1 NoSuchBox ", ("lit", msg("x")))
check(typ == b"NO" and b"TRYCREATE" in rest and count(a, "Drafts") == 1,
      "REPLACE into a missing mailbox: %r" % rest)
typ, rest, u = a.cmd(b"REPLACE 1 Drafts ", ("lit", b"X" * (LIMIT + 1)))
check(typ == b"NO" and b"TOOBIG" in rest and count(a, "Drafts") == 1,
      "REPLACE too big: %r" % rest)
# a UTF8 (literal8) message (RFC 6855 4) in REPLACE too
typ, rest, u = a.cmd(b"REPLACE 1 Drafts UTF8 (", ("lit8", msg("draft w2 \u00fc".encode().decode("latin-1"))), b")")
check(typ == b"OK", "REPLACE with UTF8 (~{n}): %r" % rest)
# with QRESYNC: the old one is VANISHED
q = Imap("alice@example.test", "pw-alice")
q.cmd(b"ENABLE QRESYNC")
q.cmd(b"SELECT Drafts")
typ, rest, u = q.cmd(b"UID FETCH 1:* (UID)")
m = one(u, rb"UID (\d+)")
old = m.group(1) if m else b"0"
typ, rest, u = q.cmd(b"UID REPLACE %s Drafts " % old, ("lit", msg("draft w3")))
check(typ == b"OK" and one(u, rb"^\* VANISHED " + old + rb"$"), "UID REPLACE with QRESYNC: %r" % u)
q.cmd(b"EXAMINE Drafts")
typ, rest, u = q.cmd(b"REPLACE 1 Drafts ", ("lit", msg("x")))
check(typ == b"NO" and count(q, "Drafts") == 1, "REPLACE in EXAMINE: %r" % rest)
q.close()

# REPLACE under a quota: refused, the old message stays (bob's own quota)
bob = Imap("bob@example.test", "pw-bob-secret")
bob.cmd(b"APPEND INBOX ", ("lit", msg("filler", "f" * 35000 + "\r\n")))
typ, rest, u = bob.cmd(b"APPEND Drafts ", ("lit", msg("small draft", "d" * 4000 + "\r\n")))
bob.cmd(b"SELECT Drafts")
typ, rest, u = bob.cmd(b"REPLACE 1 Drafts ", ("lit", msg("big draft", "B" * 30000 + "\r\n")))
check(typ == b"NO" and b"OVERQUOTA" in rest, "REPLACE over quota not NO [OVERQUOTA]: %r" % rest)
typ, rest, u = bob.cmd(b"FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
check(len([l for l in u if b"FETCH" in l]) == 1 and b"small draft" in b"\n".join(u),
      "old draft not kept after the quota refusal: %r" % u)
# the old message's bytes count as freed: 35000 + 20000 fits, + 4000 would not
typ, rest, u = bob.cmd(b"REPLACE 1 Drafts ", ("lit", msg("mid draft", "M" * 20000 + "\r\n")))
check(typ == b"OK", "REPLACE within quota once the old is freed: %r" % rest)
bob.close()

# ---------------------------------------------------------------- CATENATE
a.cmd(b"SELECT INBOX")
base = ("From: bob@example.test\r\nTo: alice@example.test\r\nSubject: base\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n"
        "--zz\r\nContent-Type: text/plain\r\n\r\nfirst part text\r\n"
        "--zz\r\nContent-Type: text/plain\r\n\r\nsecond part\r\n--zz--\r\n").encode()
typ, rest, u = a.cmd(b"APPEND INBOX ", ("lit", base))
uidv, buid = appenduid(rest)
a.cmd(b"NOOP")
typ, rest, u = a.cmd(b"UID FETCH %s (BODY.PEEK[1] BODY.PEEK[HEADER])" % buid.encode())
joined = b"\n".join(u)
part1 = b"first part text"  # BODY[1] without the CRLF before the boundary
hdr = base[:base.index(b"\r\n\r\n") + 4]


def fetch_body(c, mbox, uid):
    c.cmd(b"EXAMINE " + mbox.encode())
    typ, rest, u = c.cmd(b"UID FETCH %s (BODY.PEEK[])" % uid.encode())
    m = re.search(rb"BODY\[\] \{(\d+)\}\r\n", b"\n".join(u))
    if not m:
        return None
    j = b"\n".join(u)
    return j[m.end():m.end() + int(m.group(1))]


c2 = Imap("alice@example.test", "pw-alice")
# RFC 4469 5's example shape: TEXT, URL of a section, TEXT
t1 = b"From: alice@example.test\r\nSubject: forward\r\n\r\nSee:\r\n"
url = b'"/INBOX;UIDVALIDITY=%d/;UID=%s/;SECTION=1"' % (uidv, buid.encode())
typ, rest, u = c2.cmd(b"APPEND Drafts CATENATE (TEXT ", ("lit", t1), b" URL " + url + b" TEXT ", ("lit", b"\r\nbye\r\n"), b")")
_, cu = appenduid(rest)
check(typ == b"OK" and cu, "CATENATE TEXT URL TEXT: %r" % rest)
if cu:
    body = fetch_body(c2, "Drafts", cu)
    check(body == t1 + part1 + b"\r\nbye\r\n", "CATENATE result: %r" % body)
# absolute URL, whole message, and HEADER section
absu = b'"imap://alice%%40example.test@localhost/INBOX;UIDVALIDITY=%d/;UID=%s"' % (uidv, buid.encode())
typ, rest, u = c2.cmd(b"APPEND Drafts CATENATE (URL " + absu + b")")
_, cu = appenduid(rest)
check(typ == b"OK" and cu and fetch_body(c2, "Drafts", cu) == base, "CATENATE absolute URL: %r" % rest)
typ, rest, u = c2.cmd(b'APPEND Drafts CATENATE (URL "/INBOX/;UID=%s/;SECTION=HEADER" TEXT ' % buid.encode(), ("lit", b"new body\r\n"), b")")
_, cu = appenduid(rest)
check(typ == b"OK" and cu and fetch_body(c2, "Drafts", cu) == hdr + b"new body\r\n",
      "CATENATE SECTION=HEADER: %r" % rest)
# relative URL against the selected mailbox
c2.cmd(b"SELECT INBOX")
typ, rest, u = c2.cmd(b'APPEND Drafts CATENATE (URL ";UID=%s")' % buid.encode())
_, cu = appenduid(rest)
check(typ == b"OK" and cu and fetch_body(c2, "Drafts", cu) == base, "CATENATE relative URL: %r" % rest)
# the UTF8 form inside CATENATE (RFC 6855 4)
typ, rest, u = c2.cmd(b"APPEND Drafts CATENATE (UTF8 (", ("lit8", t1), b") TEXT ", ("lit", b"tail\r\n"), b")")
_, cu = appenduid(rest)
check(typ == b"OK" and cu and fetch_body(c2, "Drafts", cu) == t1 + b"tail\r\n", "CATENATE UTF8: %r" % rest)
# MULTIAPPEND with CATENATE
n0 = count(c2, "Drafts")
typ, rest, u = c2.cmd(b"APPEND Drafts CATENATE (TEXT ", ("lit", t1), b") (\\Seen) ", ("lit", msg("second")))
uv, us = appenduid(rest)
check(typ == b"OK" and us and count(c2, "Drafts") == n0 + 2, "MULTIAPPEND + CATENATE: %r" % rest)
# refusals: nothing stored
n0 = count(c2, "Drafts")
c2.cmd(b"UNSELECT")
bad = [
    (b'"/INBOX;UIDVALIDITY=%d/;UID=99999"' % uidv, "missing UID"),
    (b'"/INBOX;UIDVALIDITY=%d/;UID=%s"' % (uidv + 1, buid.encode()), "wrong UIDVALIDITY"),
    (b'"/NoSuchBox/;UID=1"', "missing mailbox"),
    (b'"imap://bob%40example.test@localhost/INBOX/;UID=1"', "another user"),
    (b'"imap://elsewhere.test/INBOX/;UID=1"', "another server"),
    (b'";UID=%s"' % buid.encode(), "relative URL with nothing selected"),
    (b'"/INBOX/;UID=%s/;URLAUTH=anonymous"' % buid.encode(), "URLAUTH"),
    (b'"/INBOX/;UID=%s/;SECTION=9"' % buid.encode(), "missing section"),
    (b'"not a url"', "garbage"),
]
for u_, why in bad:
    typ, rest, u = c2.cmd(b"APPEND Drafts CATENATE (TEXT ", ("lit", t1), b" URL " + u_ + b")")
    check(typ == b"NO" and b"[BADURL " in rest, "BADURL for %s: %r" % (why, rest))
# MULTIAPPEND: a bad URL in the second message stores neither
typ, rest, u = c2.cmd(b"APPEND Drafts ", ("lit", msg("ok one")), b' CATENATE (URL "/INBOX/;UID=99999")')
check(typ == b"NO" and b"BADURL" in rest, "MULTIAPPEND with a BADURL: %r" % rest)
# TOOBIG: URL parts that are small alone but too big together
typ, rest, u = c2.cmd(b"APPEND INBOX ", ("lit", msg("big", "b" * 25000 + "\r\n")))
_, bigu = appenduid(rest)
bu = b' URL "/INBOX/;UID=%s"' % bigu.encode()
typ, rest, u = c2.cmd(b"APPEND Drafts CATENATE (" + bu[1:] + bu + b")")
check(typ == b"NO" and b"[TOOBIG]" in rest, "CATENATE of 2 x 25000 octets not TOOBIG: %r" % rest)
typ, rest, u = c2.cmd(b"APPEND Drafts CATENATE (TEXT ", ("lit", b"t" * 30000), b" TEXT ", ("lit", b"u" * 20000), b")")
check(typ == b"NO" and b"[TOOBIG]" in rest, "CATENATE of TEXT parts over the limit not TOOBIG: %r" % rest)
check(count(c2, "Drafts") == n0, "refused CATENATEs stored something: %r -> %r" % (n0, count(c2, "Drafts")))
for cmd_, why in ((b"APPEND Drafts CATENATE ()", "empty"),
                  (b'APPEND Drafts CATENATE (FOO "x")', "unknown part"),
                  (b'APPEND Drafts CATENATE (TEXT "quoted")', "TEXT without literal"),
                  (b"APPEND Drafts CATENATE (URL)", "URL without string")):
    typ, rest, u = c2.cmd(cmd_)
    check(typ == b"BAD", "CATENATE %s not BAD: %r" % (why, rest))
typ, rest, u = c2.cmd(b'APPEND Drafts CATENATE (URL "/INBOX/;UID=' + b"1" * 5000 + b'")')
check(typ == b"NO" and b"[BADURL " in rest, "URL of 5000 octets not BADURL: %r" % rest)
many = []
for i in range(257):
    many += [b" TEXT " if i else b"TEXT ", ("lit", b"x\r\n")]
typ, rest, u = c2.cmd(b"APPEND Drafts CATENATE (", *many, b")")
check(typ == b"NO" and b"[LIMIT]" in rest, "257 CATENATE parts not NO [LIMIT]: %r" % rest)
check(count(c2, "Drafts") == n0, "refused CATENATEs stored something (2)")
typ, rest, u = c2.cmd(b"NOOP")
check(typ == b"OK", "session unusable after the refusals: %r" % rest)
# RENAME INBOX: the record (and id) goes with the messages, INBOX gets a new one
typ, rest, u = c2.cmd(b"RENAME INBOX OldInbox")
typ, rest, u = c2.cmd(b"STATUS OldInbox (MAILBOXID)")
check(one(u, rb"MAILBOXID \(" + re.escape(inbox or b"?") + rb"\)"), "RENAME INBOX moves its id: %r" % u)
typ, rest, u = c2.cmd(b"STATUS INBOX (MAILBOXID)")
m = one(u, rb"MAILBOXID \(([^)]*)\)")
check(m and m.group(1) != inbox, "new INBOX reuses the old id: %r" % u)
c2.close()
a.close()

if FAILED:
    print("%d check(s) failed" % len(FAILED), file=sys.stderr)
    sys.exit(1)
print("all checks passed")
