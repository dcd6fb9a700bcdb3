"""SORT, ESORT, SORT=DISPLAY and THREAD against brev (see run.sh).

Every expected order below was worked out by hand from the RFCs (RFC 5256
sections 2 and 3, RFC 5957 section 3, RFC 5267 section 3), not computed by
code. Every check runs even when an earlier one failed; failures are listed
at the end and the exit status is 1 if there was any.
"""
import imaplib, os, re, socket, sys

PORT = int(os.environ["P_IMAP"])
USER, PW = "alice@example.test", "pw-alice"
FAILED = []


def check(cond, what):
    if not cond:
        FAILED.append(what)
        print("FAIL:", what, file=sys.stderr)


def msg(headers, size):
    """A message of exactly size octets: headers, then a body of x's."""
    head = "".join("%s: %s\r\n" % h for h in headers) + "\r\n"
    pad = size - len(head.encode()) - 2
    assert pad >= 0, (headers, size)
    return head.encode() + b"x" * pad + b"\r\n"


# ---- the sort set: hand-worked keys per message (seq: UID is seq + 1) ----
#   seq  ARRIVAL        DATE (UTC)          SIZE  SUBJECT  FROM  TO    CC     DISPLAYFROM  DISPLAYTO
#   1    10 Mar 12:00   2 Mar 10:00         900   apple    zed   bob   carl   Zed Zulu     Bob
#   2    5 Mar 12:00    2 Mar 01:00 (-0200) 500   Banana   amy   zack  ""     amy@a.test   Anna
#   3    1 Mar 08:00    (none: 1 Mar 08:00) 700   cherry   mike  anna  bert   Émile        Carl
#   4    2 Mar 09:00    3 Mar 08:00 (+0100) 500   apple    Amy   eve   ""     amy          eve@e.test
#   5    2 Mar 09:00    2 Mar 10:00         300   banana   bob   dave  ALICE  Bob          dave@d.test
#   6    3 Mar 00:00    (bad: 3 Mar 00:00)  1000  ""       ""    ""    ""     ""           ""
SORTSET = [
    ([("From", '"Zed Zulu" <zed@z.test>'), ("To", "Bob <bob@b.test>"), ("Cc", "carl@c.test"),
      ("Subject", "Re: apple"), ("Date", "Mon, 2 Mar 2026 10:00:00 +0000")],
     "10-Mar-2026 12:00:00 +0000", 900),
    ([("From", "amy@a.test"), ("To", "Anna <zack@b.test>"), ("Subject", "[list] Banana"),
      ("Date", "Sun, 1 Mar 2026 23:00:00 -0200")],
     "05-Mar-2026 12:00:00 +0000", 500),
    ([("From", "=?UTF-8?Q?=C3=89mile?= <mike@m.test>"), ("To", '"Carl" <anna@b.test>'),
      ("Cc", "X <bert@c.test>"), ("Subject", "=?UTF-8?Q?Fwd=3A_cherry?=")],
     "01-Mar-2026 08:00:00 +0000", 700),
    ([("From", '"amy" <Amy@a.test>'), ("To", "eve@e.test"), ("Subject", "apple (fwd)"),
      ("Date", "Tue, 3 Mar 2026 09:00:00 +0100")],
     "02-Mar-2026 09:00:00 +0000", 500),
    ([("From", "Bob <bob@b.test>"), ("To", "dave@d.test"), ("Cc", "Alice <ALICE@c.test>"),
      ("Subject", "banana"), ("Date", "Mon, 2 Mar 2026 10:00:00 +0000")],
     "02-Mar-2026 09:00:00 +0000", 300),
    ([("Date", "not a date at all")], "03-Mar-2026 00:00:00 +0000", 1000),
]

SORTS = {
    "(ARRIVAL)": "3 4 5 6 2 1",           # 4 and 5 arrived together: by number
    "(DATE)": "3 2 1 5 6 4",              # zones applied; 3 and 6 use INTERNALDATE
    "(SIZE)": "5 2 4 3 1 6",
    "(SUBJECT)": "6 1 4 2 5 3",           # base subjects, i;ascii-casemap
    "(FROM)": "6 2 4 5 3 1",              # amy = Amy
    "(TO)": "6 3 1 5 4 2",
    "(CC)": "2 4 6 5 3 1",                # no Cc sorts as ""
    "(DISPLAYFROM)": "6 4 2 5 1 3",       # "amy" < "amy@a.test" < "Bob" < "Zed Zulu" < "Émile"
    "(DISPLAYTO)": "6 2 1 3 5 4",
    "(REVERSE SIZE)": "6 1 3 2 4 5",      # REVERSE does not turn the number tie-break
    "(REVERSE ARRIVAL)": "1 2 6 4 5 3",
    "(SUBJECT REVERSE DATE)": "6 4 1 5 2 3",
    "(CC REVERSE SIZE)": "6 2 4 5 3 1",
    "(reverse subject from)": "3 2 5 4 1 6",  # lower case; equal subjects by FROM: 2 amy, 5 bob; 4 Amy, 1 zed
}


def login():
    m = imaplib.IMAP4("127.0.0.1", PORT, timeout=30)
    m.login(USER, PW)
    return m


def fill(m, box, msgs):
    """APPEND after one throwaway message that is expunged, so UIDs are
    message numbers + 1."""
    if box != "INBOX":
        m.create(box)
    m.append(box, None, None, b"Subject: gone\r\n\r\ngone\r\n")
    for headers, idate, size in msgs:
        typ, _ = m.append(box, None, '"%s"' % idate, msg(headers, size))
        assert typ == "OK"
    m.select(box)
    m.store("1", "+FLAGS", "\\Deleted")
    m.expunge()


def call(fn, *args):
    """fn(*args), with a BAD/NO answer as ("ERR", text) instead of raising."""
    try:
        return fn(*args)
    except imaplib.IMAP4.error as e:
        return "ERR", [str(e)]


def seqs(data):
    return " ".join(x.decode() if isinstance(x, bytes) else x for x in data if x).strip()


def esearch(m, *args):
    typ, dat = call(m._simple_command, *args)
    if typ != "OK":
        return "%s %s" % (typ, dat)
    _, e = m._untagged_response(typ, dat, "ESEARCH")
    return (e[0] or b"").decode() if e and e[0] else ""


def raw_dialogue(box, lines):
    """Send each "C:" line raw, collect the server's lines up to the tagged
    answer; returns them without the CRLF."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
    f = s.makefile("rb")
    f.readline()
    out = []

    def cmd(line):
        s.sendall(line.encode() + b"\r\n")
        tag = line.split(" ", 1)[0]
        got = []
        while True:
            r = f.readline().decode().rstrip("\r\n")
            got.append(r)
            if r.startswith(tag + " "):
                return got

    cmd('a LOGIN %s %s' % (USER, PW))
    cmd('b SELECT %s' % box)
    for line in lines:
        out.append(cmd(line))
    cmd("z LOGOUT")
    s.close()
    return out


def golden(box, dialogue, what):
    """dialogue: [(command, [expected lines...])]; the expected lines are
    the RFC's, tagged OK text included."""
    got = raw_dialogue(box, [c for c, _ in dialogue])
    for (c, want), g in zip(dialogue, got):
        check(g == want, "%s: %s -> %r, want %r" % (what, c, g, want))


m = login()
typ, data = m.capability()
caps = data[0].decode().upper().split()
for c in ("SORT", "SORT=DISPLAY", "ESORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES"):
    check(c in caps, "CAPABILITY lacks %s: %r" % (c, caps))
# CONTEXT=SEARCH and CONTEXT=SORT: t-29-imap-context
for c in ("CONTEXT=SEARCH", "CONTEXT=SORT"):
    check(c in caps, "CAPABILITY lacks %s: %r" % (c, caps))

# SORT before SELECT is BAD (selected state only)
try:
    typ, _ = m.sort("(DATE)", "UTF-8", "ALL")
    check(False, "SORT in the authenticated state answered %s" % typ)
except imaplib.IMAP4.error:
    pass

fill(m, "INBOX", SORTSET)

# ---- every criterion, REVERSE, several keys ----
for crit, want in SORTS.items():
    try:
        typ, data = m.sort(crit, "UTF-8", "ALL")
        check(typ == "OK" and seqs(data) == want, "SORT %s -> %s %r, want %s" % (crit, typ, data, want))
    except imaplib.IMAP4.error as e:
        check(False, "SORT %s: %s" % (crit, e))

# ---- search keys after the charset; US-ASCII ----
for args, want in [(("(SIZE)", "UTF-8", "FROM", "amy"), "2 4"),
                   (("(DATE)", "US-ASCII", "2:5"), "3 2 5 4"),
                   (("(SUBJECT)", "UTF-8", "OR", "SUBJECT", "cherry", "LARGER", "950"), "6 3"),
                   (("(ARRIVAL)", "UTF-8", "SUBJECT", '"no such subject"'), "")]:
    try:
        typ, data = m.sort(*args)
        check(typ == "OK" and seqs(data) == want, "SORT %r -> %s %r, want %r" % (args, typ, data, want))
    except imaplib.IMAP4.error as e:
        check(False, "SORT %r: %s" % (args, e))

# ---- UID SORT: UIDs are message numbers + 1 here ----
typ, data = call(m.uid, "SORT", "(ARRIVAL)", "UTF-8", "ALL")
check(seqs(data) == "4 5 6 7 3 2", "UID SORT (ARRIVAL) -> %r" % data)
typ, data = call(m.uid, "SORT", "(DISPLAYFROM)", "UTF-8", "UID", "3:6")
check(seqs(data) == "5 3 6 4", "UID SORT (DISPLAYFROM) UID 3:6 -> %r" % data)

# ---- ESORT (RFC 5267 3.2): MIN/MAX are first/last in sort order ----
for args, want in [
    (("UID", "SORT", "RETURN", "(MIN MAX COUNT ALL)", "(DATE)", "UTF-8", "ALL"),
     "UID MIN 4 MAX 5 COUNT 6 ALL 4,3,2,6:7,5"),
    (("SORT", "RETURN", "(MIN)", "(SIZE)", "UTF-8", "ALL"), "MIN 5"),
    (("SORT", "RETURN", "(MAX)", "(SIZE)", "UTF-8", "ALL"), "MAX 6"),
    (("SORT", "RETURN", "(COUNT)", "(SIZE)", "UTF-8", "LARGER", "600"), "COUNT 3"),
    (("SORT", "RETURN", "()", "(SIZE)", "UTF-8", "ALL"), "ALL 5,2,4,3,1,6"),
    (("SORT", "RETURN", "(ALL)", "(REVERSE ARRIVAL)", "UTF-8", "ALL"), "ALL 1:2,6,4:5,3"),
    (("SORT", "RETURN", "(MIN MAX COUNT)", "(SIZE)", "UTF-8", "SUBJECT", "nothing"), "COUNT 0"),
]:
    got = esearch(m, *args)
    got = re.sub(r'^\(TAG "[^"]*"\) ?', "", got)
    check(got == want, "%s -> %r, want %r" % (" ".join(args), got, want))

# ---- refused: BAD syntax, NO [BADCHARSET] ----
def answer(line):
    """The tagged answer's condition (and text) for a raw command."""
    got = raw_dialogue("INBOX", ["x " + line])[0]
    return got[-1][2:]

for line in ["SORT DATE UTF-8 ALL", "SORT () UTF-8 ALL", "SORT (REVERSE) UTF-8 ALL",
             "SORT (DATE REVERSE) UTF-8 ALL", "SORT (REVERSE REVERSE DATE) UTF-8 ALL",
             "SORT (BOGUS) UTF-8 ALL", "SORT (DATE) UTF-8", "SORT (DATE) UTF-8 BOGUSKEY",
             "SORT (DATE (SIZE)) UTF-8 ALL", "SORT RETURN (PARTIAL 1:10 ALL) (DATE) UTF-8 ALL",
             "SORT RETURN (DATE) UTF-8 ALL", "SORT RETURN ALL (DATE) UTF-8 ALL",
             "SORT (" + " ".join(["DATE"] * 17) + ") UTF-8 ALL",
             "UID SORT (DATE) UTF-8 UID", "THREAD BOGUS UTF-8 ALL", "THREAD REFERENCES UTF-8",
             "THREAD (REFERENCES) UTF-8 ALL", "THREAD ORDEREDSUBJECT UTF-8 NOT",
             "UID THREAD REFERENCES"]:
    a = answer(line)
    check(a.startswith("BAD"), "%s -> %r, want BAD" % (line, a))
for line in ["SORT (DATE) ISO-8859-1 ALL", "UID SORT (DATE) KOI8-R ALL",
             "THREAD REFERENCES ISO-8859-1 ALL", "SORT RETURN (COUNT) (DATE) BIG5 ALL"]:
    a = answer(line)
    check(a.startswith("NO [BADCHARSET (UTF-8 US-ASCII)]"), "%s -> %r, want NO [BADCHARSET]" % (line, a))
a = answer("SORT (DATE) us-ascii ALL")
check(a.startswith("OK"), "charset names are case-insensitive: %r" % a)

# ---- RFC 5256 section 3's empty answers, RFC 5267's ESORT form ----
golden("INBOX", [
    ('A284 SORT (SUBJECT) US-ASCII TEXT "not in mailbox"', ["* SORT", "A284 OK SORT completed"]),
    ('A284 THREAD ORDEREDSUBJECT US-ASCII TEXT "gewp"', ["* THREAD", "A284 OK THREAD completed"]),
    ("E01 UID SORT RETURN (ALL) (DATE) UTF-8 UNDELETED UNKEYWORD $Junk",
     ['* ESEARCH (TAG "E01") UID ALL 4,3,2,6:7,5', "E01 OK UID SORT completed"]),
], "RFC dialogue")

# ---- THREAD on a crafted set ----
#   seq  Message-ID  References / In-Reply-To   Subject       Date (1 Mar 2026)
#   1    a           -                          hello         10:00
#   2    b           References a               Re: hello     11:00
#   3    c           In-Reply-To a              Re: hello     12:00
#   4    d           References a gone          Re: hello     13:00  (gone: a dummy under a, promoted)
#   5    e           References lost            lost          14:00  (lost: a dummy kept at the top)
#   6    f           References lost            lost          15:00
#   7    g           -                          Re: hello     16:00  (subject only: a reply of 1)
#   8    h           -                          other         17:00
#   9    i           -                          [x] other     09:00  (two originals: a new dummy)
#   10   (none)      In-Reply-To h              Re: other     18:00
def tmsg(mid, refs, irt, subj, hour):
    h = [("From", "t@t.test"), ("Subject", subj), ("Date", "Sun, 1 Mar 2026 %02d:00:00 +0000" % hour)]
    if mid:
        h.append(("Message-ID", "<%s@t.test>" % mid))
    if refs:
        h.append(("References", " ".join("<%s@t.test>" % r for r in refs)))
    if irt:
        h.append(("In-Reply-To", "<%s@t.test>" % irt))
    return (h, "01-Mar-2026 20:00:00 +0000", 400)

THREADSET = [tmsg("a", None, None, "hello", 10), tmsg("b", ["a"], None, "Re: hello", 11),
             tmsg("c", None, "a", "Re: hello", 12), tmsg("d", ["a", "gone"], None, "Re: hello", 13),
             tmsg("e", ["lost"], None, "lost", 14), tmsg("f", ["lost"], None, "lost", 15),
             tmsg("g", None, None, "Re: hello", 16), tmsg("h", None, None, "other", 17),
             tmsg("i", None, None, "[x] other", 9), tmsg(None, None, "h", "Re: other", 18)]
fill(m, "Threads", THREADSET)
for args, want in [
    (("REFERENCES", "UTF-8", "ALL"), "((9)(8 10))(1 (2)(3)(4)(7))((5)(6))"),
    (("ORDEREDSUBJECT", "UTF-8", "ALL"), "(9 (8)(10))(1 (2)(3)(4)(7))(5 6)"),
    (("REFERENCES", "US-ASCII", "SUBJECT", "lost"), "((5)(6))"),
    (("REFERENCES", "UTF-8", "SUBJECT", "nothing"), ""),
]:
    typ, data = call(m.thread, *args)
    check(typ == "OK" and seqs(data) == want, "THREAD %r -> %s %r, want %r" % (args, typ, data, want))
typ, data = call(m.uid, "THREAD", "REFERENCES", "UTF-8", "ALL")
check(seqs(data) == "((10)(9 11))(2 (3)(4)(5)(8))((6)(7))", "UID THREAD REFERENCES -> %r" % data)
typ, data = call(m.uid, "THREAD", "ORDEREDSUBJECT", "UTF-8", "ALL")
check(seqs(data) == "(10 (9)(11))(2 (3)(4)(5)(8))(6 7)", "UID THREAD ORDEREDSUBJECT -> %r" % data)

# ---- RFC 5256 section 4's examples, rebuilt: (3 6 (4 23)(44 7 96)) and ((3)(5)) ----
chain = {3: [], 6: [3], 4: [3, 6], 23: [3, 6, 4], 44: [3, 6], 7: [3, 6, 44], 96: [3, 6, 44, 7]}
rfc = []
for n in range(1, 97):
    h = [("Subject", "rfc %d" % n if n not in chain else "thread"), ("Message-ID", "<m%d@r.test>" % n),
         ("Date", "Sun, 1 Mar 2026 %02d:%02d:00 +0000" % (n // 60, n % 60))]
    if chain.get(n):
        h.append(("References", " ".join("<m%d@r.test>" % r for r in chain[n])))
    rfc.append((h, "01-Mar-2026 20:00:00 +0000", 300))
m.create("Rfc")
for h, d, size in rfc:
    m.append("Rfc", None, '"%s"' % d, msg(h, size))
rfc2 = []
for n in range(1, 6):
    h = [("Subject", "two" if n in (3, 5) else "s%d" % n), ("Message-ID", "<n%d@r.test>" % n),
         ("Date", "Sun, 1 Mar 2026 10:%02d:00 +0000" % n)]
    if n in (3, 5):
        h.append(("References", "<never-seen@r.test>"))
    rfc2.append((h, "01-Mar-2026 20:00:00 +0000", 300))
m.create("Rfc2")
for h, d, size in rfc2:
    m.append("Rfc2", None, '"%s"' % d, msg(h, size))
golden("Rfc", [("A1 THREAD REFERENCES US-ASCII 3,4,6,7,23,44,96",
                ["* THREAD (3 6 (4 23)(44 7 96))", "A1 OK THREAD completed"])], "RFC 5256 4")
golden("Rfc2", [("A2 THREAD REFERENCES US-ASCII 3,5", ["* THREAD ((3)(5))", "A2 OK THREAD completed"])],
       "RFC 5256 4")

# ---- a string key compares its first 512 bytes: beyond them, by number ----
m.create("Long")
for subj in ("a" * 600 + "z", "a" * 600 + "b", "b" * 500 + "z", "b" * 500 + "b"):
    m.append("Long", None, None, msg([("Subject", subj)], 1200))
m.select("Long")
typ, data = call(m.sort, "(SUBJECT)", "UTF-8", "ALL")
check(seqs(data) == "1 2 4 3", "SORT (SUBJECT) of long subjects -> %r, want 1 2 4 3" % data)

# ---- a MODSEQ search key: the highest MODSEQ rides along (RFC 7162 3.1.5) ----
got = raw_dialogue("INBOX", ["m1 SORT (SIZE) UTF-8 MODSEQ 1",
                             "m2 SORT RETURN (COUNT) (SIZE) UTF-8 MODSEQ 1"])
check(any(re.fullmatch(r"\* SORT 5 2 4 3 1 6 \(MODSEQ \d+\)", l) for l in got[0]),
      "SORT with MODSEQ -> %r" % got[0])
check(any(re.fullmatch(r'\* ESEARCH \(TAG "m2"\) COUNT 6 MODSEQ \d+', l) for l in got[1]),
      "ESORT with MODSEQ -> %r" % got[1])

# ---- no EXPUNGE after SORT or THREAD (RFC 9051 7.5.1), but after UID SORT ----
m.create("Exp")
for i in range(3):
    m.append("Exp", None, None, msg([("Subject", "e%d" % i)], 300))
a = socket.create_connection(("127.0.0.1", PORT), timeout=30)
af = a.makefile("rb")
af.readline()


def acmd(line):
    a.sendall(line.encode() + b"\r\n")
    got = []
    while True:
        r = af.readline().decode().rstrip("\r\n")
        got.append(r)
        if r.startswith(line.split(" ", 1)[0] + " "):
            return got


acmd("a LOGIN %s %s" % (USER, PW))
acmd("b SELECT Exp")
m.select("Exp")
m.store("1", "+FLAGS", "\\Deleted")
m.expunge()
r1 = acmd("c SORT (ARRIVAL) UTF-8 ALL")
r2 = acmd("d THREAD ORDEREDSUBJECT UTF-8 ALL")
r3 = acmd("e UID SORT (ARRIVAL) UTF-8 ALL")
check(not any("EXPUNGE" in l for l in r1 + r2), "EXPUNGE sent during SORT/THREAD: %r %r" % (r1, r2))
check("* SORT 2 3" in r1, "SORT after another session's expunge -> %r" % r1)
check("* 1 EXPUNGE" in r3 and "* SORT 2 3" in r3, "UID SORT did not bring the EXPUNGE: %r" % r3)
acmd("z LOGOUT")
a.close()

m.logout()
if FAILED:
    print("%d check(s) failed" % len(FAILED), file=sys.stderr)
    sys.exit(1)
print("all SORT/THREAD checks passed")
