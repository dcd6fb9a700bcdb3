"""The spam filter's framework (issue 14, docs/spam.md) through real clients:
smtplib sends on the inbound port (and on submission), imaplib reads where
each copy landed.

argv[1] picks the phase run.sh is in:
  main     brev.conf at its default (normal); alice default, sam strict,
           lena lenient, otto off, bob the submitting user
  strict   brev.conf spam.strength=strict: alice (default) now rejects
  off      brev.conf spam.strength=off: alice (default) untouched
  live     right after `user set alice spam=strict` on the running server

Every check runs even when an earlier one failed; failures are listed at
the end and the exit status is 1 if there was any.
"""
import email.utils, imaplib, os, re, smtplib, sys

P_SMTP, P_SUB, P_IMAP = (int(os.environ[k]) for k in ("P_SMTP", "P_SUB", "P_IMAP"))
PW = "pw-secret-1"
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
FAILED = []
SEQ = [0]


def check(cond, what):
    if not cond:
        FAILED.append(what)
        print("FAIL:", what, file=sys.stderr)


def addr(u):
    return u + "@example.test"


def msg(body, frm="Bob Sender <bob@sender.test>", mid=True, date=True, extra=""):
    SEQ[0] += 1
    h = "From: %s\r\nTo: someone@example.test\r\nSubject: t16 %d\r\n" % (frm, SEQ[0])
    if mid:
        h += "Message-ID: <t16.%d.%d@sender.test>\r\n" % (os.getpid(), SEQ[0])
    if date:
        h += "Date: %s\r\n" % email.utils.formatdate()
    return (h + extra + "\r\n" + body + "\r\n").encode()


def send(rcpts, data, port=P_SMTP, login=None):
    """(code, text) of the reply to the message (250, or the refusal)."""
    s = smtplib.SMTP("127.0.0.1", port, "client.test", timeout=30)
    try:
        s.ehlo()
        if login:
            s.login(addr(login), PW)
        s.mail(addr(login) if login else "bob@sender.test")
        for r in rcpts:
            code, text = s.rcpt(addr(r))
            if code != 250:
                return code, text.decode()
        code, text = s.data(data)
        return code, text.decode()
    except smtplib.SMTPDataError as e:
        return e.smtp_code, e.smtp_error.decode()
    finally:
        try:
            s.quit()
        except Exception:
            pass


def imap(user):
    m = imaplib.IMAP4("127.0.0.1", P_IMAP, timeout=20)
    m.login(addr(user), PW)
    return m


def messages(user, box):
    """Raw messages of a mailbox, oldest first; None if it does not exist."""
    m = imap(user)
    try:
        typ, _ = m.select('"%s"' % box, readonly=True)
        if typ != "OK":
            return None
        typ, data = m.uid("SEARCH", "ALL")
        out = []
        for u in data[0].split():
            typ, d = m.uid("FETCH", u, "(BODY.PEEK[])")
            out.append(d[0][1])
        return out
    finally:
        m.logout()


def counts(user):
    if user == "fwd":
        return {}
    return {b: len(messages(user, b) or []) for b in ("INBOX", "Junk")}


def newest(user, box):
    msgs = messages(user, box) or []
    return msgs[-1] if msgs else b""


def header(raw, name):
    """Unfolded value of the first field `name` in raw, or None."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    mt = re.search(r"(?im)^%s:[ \t]*([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)" % re.escape(name), head)
    return re.sub(r"\r\n[ \t]", " ", mt.group(1)) if mt else None


def landed(user, box, before, what):
    """One new message in user's box since `before` (counts()), none elsewhere."""
    now = counts(user)
    other = "Junk" if box == "INBOX" else "INBOX"
    check(now[box] == before[box] + 1 and now[other] == before[other],
          "%s: %s should be in %s: before %r, after %r" % (what, user, box, before, now))
    return newest(user, box)


def expect(rcpts, data, code, what):
    before = {u: counts(u) for u in rcpts}
    got, text = send(rcpts, data)
    check(got == code, "%s: reply %s %r, wanted %s" % (what, got, text, code))
    return before, text


phase = sys.argv[1]

if phase == "main":
    # ham: INBOX, the fields always there, no test fired
    b, _ = expect(["alice"], msg("Hello Alice,\r\nlunch on Friday?"), 250, "ham")
    raw = landed("alice", "INBOX", b["alice"], "ham")
    check(header(raw, "X-Spam-Score") == "0.0", "ham X-Spam-Score: %r" % header(raw, "X-Spam-Score"))
    check(header(raw, "X-Spam-Status") == "score=0.0 tests=none",
          "ham X-Spam-Status: %r" % header(raw, "X-Spam-Status"))

    # GTUBE at each strength
    b, _ = expect(["alice"], msg("test " + GTUBE), 250, "GTUBE at normal")
    raw = landed("alice", "Junk", b["alice"], "GTUBE at normal")
    st = header(raw, "X-Spam-Status") or ""
    check("GTUBE(15.0)" in st and header(raw, "X-Spam-Score") == "15.0",
          "GTUBE at normal: fields %r / %r" % (header(raw, "X-Spam-Score"), st))
    b, text = expect(["sam"], msg(GTUBE), 550, "GTUBE at strict")
    check(text.startswith("5.7.1"), "GTUBE at strict: reply text %r" % text)
    check(counts("sam") == b["sam"], "GTUBE at strict stored something: %r" % counts("sam"))
    b, _ = expect(["lena"], msg(GTUBE), 250, "GTUBE at lenient")
    landed("lena", "Junk", b["lena"], "GTUBE at lenient")
    body = "x " + GTUBE
    data = msg(body)
    b, _ = expect(["otto"], data, 250, "GTUBE at off")
    raw = landed("otto", "INBOX", b["otto"], "GTUBE at off")
    check(b"X-Spam-" not in raw, "off: X-Spam fields added: %r" % raw[:600])
    check(raw.endswith(data), "off: the message was changed: %r" % raw[-300:])

    # BDAT (RFC 3030) is judged like DATA
    import socket
    data = msg(GTUBE)
    b = counts("sam")
    c = socket.create_connection(("127.0.0.1", P_SMTP), timeout=30)
    f = c.makefile("rb")

    def line():
        l = b""
        while True:
            l = f.readline()
            if l[3:4] != b"-":
                return l

    line()
    c.sendall(b"EHLO client.test\r\n")
    line()
    c.sendall(b"MAIL FROM:<bob@sender.test>\r\nRCPT TO:<sam@example.test>\r\n")
    line(), line()
    c.sendall(b"BDAT %d LAST\r\n" % len(data) + data)
    r = line()
    c.sendall(b"QUIT\r\n")
    c.close()
    check(r.startswith(b"550 5.7.1"), "BDAT GTUBE at strict: %r" % r)
    check(counts("sam") == b, "BDAT GTUBE at strict stored something")

    # several recipients: reject only if all would
    b, _ = expect(["sam", "alice"], msg(GTUBE), 250, "GTUBE to strict+normal")
    landed("sam", "Junk", b["sam"], "GTUBE to strict+normal")
    landed("alice", "Junk", b["alice"], "GTUBE to strict+normal")
    b, _ = expect(["sam", "otto"], msg(GTUBE), 250, "GTUBE to strict+off")
    landed("sam", "Junk", b["sam"], "GTUBE to strict+off")
    landed("otto", "INBOX", b["otto"], "GTUBE to strict+off")
    b, _ = expect(["sam", "lena"], msg(GTUBE), 250, "GTUBE to strict+lenient")
    landed("sam", "Junk", b["sam"], "GTUBE to strict+lenient")

    # a display name posing as an address: 3 points, Junk at strict only
    data = msg("Your account is locked.", frm='"service@paypal.com" <x@mx.phish.test>')
    b, _ = expect(["sam", "alice", "lena"], data, 250, "FROM_NAME_ADDR")
    raw = landed("sam", "Junk", b["sam"], "FROM_NAME_ADDR at strict")
    landed("alice", "INBOX", b["alice"], "FROM_NAME_ADDR at normal")
    landed("lena", "INBOX", b["lena"], "FROM_NAME_ADDR at lenient")
    check("FROM_NAME_ADDR(3.0)" in (header(raw, "X-Spam-Status") or ""),
          "FROM_NAME_ADDR: %r" % header(raw, "X-Spam-Status"))
    # ... but a name that is the same domain's address is fine
    b, _ = expect(["sam"], msg("hi", frm='"bob@sender.test" <bob@sender.test>'), 250, "same-domain name")
    raw = landed("sam", "INBOX", b["sam"], "same-domain name")
    check(header(raw, "X-Spam-Status") == "score=0.0 tests=none",
          "same-domain name: %r" % header(raw, "X-Spam-Status"))

    # no Message-ID, no Date: named, 2 points, still INBOX at strict
    b, _ = expect(["sam"], msg("script output", mid=False, date=False), 250, "no mid/date")
    raw = landed("sam", "INBOX", b["sam"], "no mid/date")
    st = header(raw, "X-Spam-Status") or ""
    check("MISSING_MID(1.0)" in st and "MISSING_DATE(1.0)" in st and "score=2.0" in st,
          "no mid/date: %r" % st)
    # with a posing name too: 5 points, Junk at normal
    data = msg("x", frm='"ceo@bigbank.test" <a@b.phish.test>', mid=False, date=False)
    b, _ = expect(["alice"], data, 250, "three heuristics")
    raw = landed("alice", "Junk", b["alice"], "three heuristics")

    # executable attachments: Junk at normal
    for name, ctype in (("invoice.exe", "application/octet-stream"),
                        ("=?utf-8?Q?rechnung=2Epdf=2Escr?=", "application/octet-stream"),
                        ("setup.bin", "application/x-msdownload")):
        att = ("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n")
        body = ("--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
                "--b1\r\nContent-Type: %s; name=\"%s\"\r\n"
                "Content-Disposition: attachment; filename=\"%s\"\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--b1--" %
                (ctype, name, name))
        b, _ = expect(["alice"], msg(body, extra=att), 250, "attachment " + name)
        raw = landed("alice", "Junk", b["alice"], "attachment " + name)
        check("EXE_ATTACHMENT(5.0)" in (header(raw, "X-Spam-Status") or ""),
              "attachment %s: %r" % (name, header(raw, "X-Spam-Status")))
    # a PDF is not a program
    att = "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n"
    body = ("--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b1\r\n"
            "Content-Type: application/pdf; name=\"report.exe.pdf\"\r\n\r\n%PDF-1.4\r\n--b1--")
    b, _ = expect(["alice"], msg(body, extra=att), 250, "pdf attachment")
    landed("alice", "INBOX", b["alice"], "pdf attachment")

    # submission is not filtered
    b = counts("alice")
    code, text = send(["alice"], msg(GTUBE, frm="Bob <bob@example.test>"), port=P_SUB, login="bob")
    check(code == 250, "submission: %s %r" % (code, text))
    raw = landed("alice", "INBOX", b, "GTUBE on submission")
    check(b"X-Spam-" not in raw, "submission: X-Spam fields: %r" % raw[:500])

    # the account's \Junk mailbox, whatever its name; made when missing
    m = imap("alice")
    check(m.delete("Junk")[0] == "OK", "DELETE Junk")
    typ, d = m._simple_command("CREATE", '"Spam folder"', "(USE (\\Junk))")
    check(typ == "OK", "CREATE USE \\Junk: %r" % d)
    m.logout()
    before = len(messages("alice", "Spam folder") or [])
    expect(["alice"], msg(GTUBE), 250, "GTUBE, \\Junk renamed")
    check(len(messages("alice", "Spam folder") or []) == before + 1,
          "GTUBE did not go to the \\Junk mailbox named 'Spam folder'")
    check(messages("alice", "Junk") is None, "a Junk mailbox appeared beside 'Spam folder'")
    m = imap("alice")
    check(m.delete('"Spam folder"')[0] == "OK", "DELETE Spam folder")
    m.logout()
    expect(["alice"], msg(GTUBE), 250, "GTUBE, no \\Junk")
    check(len(messages("alice", "Junk") or []) == 1, "no Junk made for GTUBE")
    m = imap("alice")
    typ, d = m.list('""', "Junk")
    check(typ == "OK" and d[0] and b"\\Junk" in d[0], "the new Junk is not \\Junk: %r" % d)
    m.logout()

elif phase == "live":
    # `user set` on a running server: the next message already sees it
    b, text = expect(["alice"], msg(GTUBE), 550, "GTUBE after user set alice spam=strict")

elif phase == "strict":
    b, text = expect(["alice"], msg(GTUBE), 550, "GTUBE at brev.conf strict")
    check(counts("alice") == b["alice"], "brev.conf strict stored GTUBE")
    # a copy forwarded through an alias counts at brev.conf's strength
    expect(["fwd"], msg(GTUBE), 550, "GTUBE to an alias forwarding out, brev.conf strict")
    b, _ = expect(["fwd", "lena"], msg(GTUBE), 250, "GTUBE to forward + lenient")
    landed("lena", "Junk", b["lena"], "GTUBE to forward + lenient")
    # a per-account setting wins over brev.conf's
    b, _ = expect(["lena"], msg(GTUBE), 250, "lenient account under strict brev.conf")
    landed("lena", "Junk", b["lena"], "lenient account under strict brev.conf")

elif phase == "off":
    data = msg(GTUBE)
    b, _ = expect(["alice"], data, 250, "GTUBE at brev.conf off")
    raw = landed("alice", "INBOX", b["alice"], "GTUBE at brev.conf off")
    check(b"X-Spam-" not in raw, "brev.conf off: X-Spam fields: %r" % raw[:500])
    b, text = expect(["sam"], msg(GTUBE), 550, "strict account under brev.conf off")

if FAILED:
    print("%d check(s) failed" % len(FAILED), file=sys.stderr)
    sys.exit(1)
print("all checks passed (%s)" % phase)
