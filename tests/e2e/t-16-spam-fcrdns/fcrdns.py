"""Forward-confirmed reverse DNS at connect (issue 14) through real
clients: smtplib connects from a chosen loopback source address, imaplib
reads where each message landed and its X-Spam-Status and Received fields.

argv[1] is run.sh's phase:
  dns      nsd answers: 127.0.0.2 confirmed (mail.good.test), 127.0.0.3 no
           PTR, 127.0.0.4 PTR to another address's name, 127.0.0.5 PTR to a
           name that does not exist; alice at normal, carol at strict
  timeout  the resolver swallows every query
"""
import email.utils, imaplib, os, re, smtplib, sys, time

P_SMTP, P_IMAP = (int(os.environ[k]) for k in ("P_SMTP", "P_IMAP"))
USERS = {"alice@example.test": "pw-secret-1", "carol@example.test": "pw-secret-3"}
FAILED = []
SEQ = [0]


def check(cond, what):
    if not cond:
        FAILED.append(what)
        print("FAIL:", what, file=sys.stderr)


def msg(body, to="alice@example.test", plain=True):
    """A tagged message; plain: with every field a real mail program writes
    (no content test fires), else without Message-ID and Date (2 points)."""
    SEQ[0] += 1
    tag = "t16fcrdns-%d-%d" % (os.getpid(), SEQ[0])
    extra = ("Message-ID: <%s@sender.test>\r\nDate: %s\r\n" % (tag, email.utils.formatdate())
             if plain else "")
    return tag, ("From: Bob <bob@sender.test>\r\nTo: %s\r\nSubject: %s\r\n%s\r\n%s\r\n"
                 % (to, tag, extra, body)).encode()


def send(src, data, to="alice@example.test"):
    """Returns the seconds the banner took."""
    t0 = time.monotonic()
    s = smtplib.SMTP("127.0.0.1", P_SMTP, "client.test", timeout=60, source_address=(src, 0))
    banner = time.monotonic() - t0
    try:
        s.sendmail("bob@sender.test", [to], data)
    finally:
        s.quit()
    return banner


def landed(tag, user="alice@example.test"):
    """(mailbox, raw message) of the message whose Subject is tag."""
    m = imaplib.IMAP4("127.0.0.1", P_IMAP, timeout=20)
    m.login(user, USERS[user])
    try:
        for box in ("INBOX", "Junk"):
            if m.select(box, readonly=True)[0] != "OK":
                continue
            typ, data = m.uid("SEARCH", "HEADER", "Subject", tag)
            uids = data[0].split() if typ == "OK" and data[0] else []
            if uids:
                typ, d = m.uid("FETCH", uids[0], "(BODY.PEEK[])")
                return box, d[0][1].decode("utf-8", "replace")
        return None, ""
    finally:
        m.logout()


def field(raw, name):
    """The unfolded value of the first field name, or ""."""
    m = re.search(r"^%s: (.*?)\r\n(?![ \t])" % name, raw, re.M | re.S)
    return re.sub(r"\r\n[ \t]+", " ", m.group(1)) if m else ""


def expect(tag, box, tests, absent=(), user="alice@example.test", received=None):
    got, raw = landed(tag, user)
    st = field(raw, "X-Spam-Status")
    check(got == box, "%s: in %s, wanted %s (%s)" % (tag, got, box, st))
    for t in tests:
        check(t in st, "%s: no %s in X-Spam-Status: %s" % (tag, t, st))
    for t in absent:
        check(t not in st, "%s: %s in X-Spam-Status: %s" % (tag, t, st))
    if received:
        rc = field(raw, "Received")
        check(received in rc, "%s: Received without %r: %s" % (tag, received, rc))


phase = sys.argv[1]
if phase == "dns":
    tag, m = msg("from a confirmed name")
    send("127.0.0.2", m)
    expect(tag, "INBOX", [], ["RDNS"], received="(mail.good.test [127.0.0.2])")
    tag, m = msg("from an address without PTR")
    send("127.0.0.3", m)
    expect(tag, "INBOX", ["RDNS_NONE(1.5)"], ["RDNS_MISMATCH"],
           received="(unknown [127.0.0.3])")
    tag, m = msg("from a PTR name that points elsewhere")
    send("127.0.0.4", m)
    expect(tag, "INBOX", ["RDNS_MISMATCH(1.0)"], ["RDNS_NONE"],
           received="(unknown [127.0.0.4])")
    tag, m = msg("from a PTR name that does not exist")
    send("127.0.0.5", m)
    expect(tag, "INBOX", ["RDNS_MISMATCH(1.0)"], ["RDNS_NONE"])
    # the same doubtful message (no Message-ID, no Date: 2 points) for an
    # account at strict (Junk from 3): only the client without PTR tips it
    tag, m = msg("doubtful, confirmed client", "carol@example.test", plain=False)
    send("127.0.0.2", m, "carol@example.test")
    expect(tag, "INBOX", ["MISSING_MID"], ["RDNS"], user="carol@example.test")
    tag, m = msg("doubtful, client without PTR", "carol@example.test", plain=False)
    send("127.0.0.3", m, "carol@example.test")
    expect(tag, "Junk", ["MISSING_MID", "RDNS_NONE(1.5)"], user="carol@example.test")
elif phase == "timeout":
    tag, m = msg("while the resolver is silent")
    banner = send("127.0.0.3", m)
    # its own time-out (1.5 s, one try), not the 2 x 3 s of other look-ups
    check(banner < 4.5, "a silent resolver held the banner %.1f s" % banner)
    expect(tag, "INBOX", [], ["RDNS"], received="(unknown [127.0.0.3])")
else:
    sys.exit("unknown phase " + phase)
if FAILED:
    sys.exit(1)
print("ok", phase)
