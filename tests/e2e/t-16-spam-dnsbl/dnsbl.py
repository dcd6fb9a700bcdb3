"""DNS/URI blocklists and the greeting pause (issue 14) through real
clients: smtplib connects from a chosen loopback source address, a raw
socket talks before the banner, imaplib reads where each message landed.

argv[1] is run.sh's phase:
  lists     nsd answers: 127.0.0.2 listed in bl.test (6 points), evil.test
            in uri.test (6 points); strength normal (Junk from 5)
  timeout   the resolver swallows every query
  loopback  spam.check_loopback off: nothing is looked up
  nopause   spam.pregreet = 0: no pause, no PREGREET
"""
import email.utils, imaplib, os, re, smtplib, socket, sys, time

P_SMTP, P_SUB, P_IMAP = (int(os.environ[k]) for k in ("P_SMTP", "P_SUB", "P_IMAP"))
FAILED = []
SEQ = [0]


def check(cond, what):
    if not cond:
        FAILED.append(what)
        print("FAIL:", what, file=sys.stderr)


def msg(body):
    """A message with every field a real mail program writes (no other
    test fires), tagged so that it can be found again."""
    SEQ[0] += 1
    tag = "t16dnsbl-%d-%d" % (os.getpid(), SEQ[0])
    return tag, ("From: Bob <bob@sender.test>\r\nTo: alice@example.test\r\n"
                 "Subject: %s\r\nMessage-ID: <%s@sender.test>\r\nDate: %s\r\n\r\n%s\r\n"
                 % (tag, tag, email.utils.formatdate(), body)).encode()


def send(src, data):
    """Returns the seconds the banner took."""
    t0 = time.monotonic()
    s = smtplib.SMTP("::1" if ":" in src else "127.0.0.1", P_SMTP, "client.test", timeout=60,
                     source_address=(src, 0))
    banner = time.monotonic() - t0
    try:
        s.sendmail("bob@sender.test", ["alice@example.test"], data)
    finally:
        s.quit()
    return banner


def landed(tag):
    """(mailbox, raw message) of the message whose Subject is tag."""
    m = imaplib.IMAP4("127.0.0.1", P_IMAP, timeout=20)
    m.login("alice@example.test", "pw-secret-1")
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


def status(raw):
    """The unfolded X-Spam-Status value, or None."""
    m = re.search(r"^X-Spam-Status: (.*?)\r\n(?![ \t])", raw, re.M | re.S)
    return re.sub(r"\r\n[ \t]+", " ", m.group(1)) if m else None


def expect(tag, box, tests, absent=()):
    got, raw = landed(tag)
    st = status(raw) or ""
    check(got == box, "%s: in %s, wanted %s (%s)" % (tag, got, box, st))
    for t in tests:
        check(t in st, "%s: no %s in X-Spam-Status: %s" % (tag, t, st))
    for t in absent:
        check(t not in st, "%s: %s in X-Spam-Status: %s" % (tag, t, st))


def pregreet(src, data):
    """A client that sends EHLO before the banner, then goes on (the
    session must still work). Returns the replies it read."""
    c = socket.create_connection(("127.0.0.1", P_SMTP), timeout=30, source_address=(src, 0))
    c.sendall(b"EHLO early.test\r\n")  # at once, before any 220
    f = c.makefile("rb")

    def replies():
        out = []
        while True:
            line = f.readline()
            if not line:
                raise EOFError("connection closed")
            out.append(line)
            if line[3:4] != b"-":
                return out
    got = [replies(), replies()]  # the 220, then the EHLO answer
    for cmd in (b"MAIL FROM:<bob@sender.test>", b"RCPT TO:<alice@example.test>", b"DATA"):
        c.sendall(cmd + b"\r\n")
        got.append(replies())
    c.sendall(data.replace(b"\r\n.", b"\r\n..") + b".\r\n")
    got.append(replies())
    c.sendall(b"QUIT\r\n")
    got.append(replies())
    c.close()
    return got


phase = sys.argv[1]
if phase == "lists":
    tag, m = msg("a listed client")
    send("127.0.0.2", m)
    expect(tag, "Junk", ["DNSBL_BL_TEST(6.0)"])
    tag, m = msg("a listed IPv6 client")
    send("::1", m)
    expect(tag, "Junk", ["DNSBL_BL_TEST(6.0)"])
    tag, m = msg("an answer outside 127.0.0.0/8")
    send("127.0.0.5", m)
    expect(tag, "INBOX", [], ["DNSBL"])
    s = smtplib.SMTP("127.0.0.1", P_SUB, "client.test", timeout=30,
                     source_address=("127.0.0.2", 0))  # submission: not looked up
    s.ehlo()
    s.quit()
    tag, m = msg("an unlisted client")
    send("127.0.0.3", m)
    expect(tag, "INBOX", [], ["DNSBL", "URIBL", "PREGREET"])
    # 19 hosts under good.test, good.test itself: 20; the listed one is 21st
    tag, m = msg(" ".join("http://a%d.good.test/" % i for i in range(19)) +
                 " http://www.evil.test/late")
    send("127.0.0.3", m)
    expect(tag, "INBOX", [], ["URIBL"])
    tag, m = msg("see http://www.evil.test/offer and https://good.test/")
    send("127.0.0.3", m)
    expect(tag, "Junk", ["URIBL_URI_TEST(6.0)"], ["DNSBL"])
    tag, m = msg("see https://good.test/page and http://192.0.2.7/x")
    send("127.0.0.3", m)
    expect(tag, "INBOX", [], ["URIBL"])
    tag, m = msg("an early talker")
    r = pregreet("127.0.0.3", m)
    check(r[0][0].startswith(b"220 "), "pregreet: no banner: %r" % r[0])
    check(r[-2][-1].startswith(b"250 "), "pregreet: message not accepted: %r" % r[-2])
    expect(tag, "INBOX", ["PREGREET(3.0)"], ["DNSBL"])
elif phase == "timeout":
    tag, m = msg("a listed client while the blocklist is silent")
    banner = send("127.0.0.2", m)
    # its own time-out (1.5 s, one try), then the reverse DNS's (1.5 s), not
    # the 2 x 3 s of other look-ups
    check(banner < 6, "a silent blocklist held the banner %.1f s" % banner)
    expect(tag, "INBOX", [], ["DNSBL"])
    tag, m = msg("links: http://a.good.test/ http://b.good.test/ http://c.good.test/")
    send("127.0.0.3", m)
    expect(tag, "INBOX", [], ["URIBL"])
elif phase == "loopback":
    tag, m = msg("a listed client, loopback not checked")
    send("127.0.0.2", m)
    expect(tag, "INBOX", [], ["DNSBL"])
elif phase == "nopause":
    tag, m = msg("an early talker, no pause")
    r = pregreet("127.0.0.3", m)
    check(r[-2][-1].startswith(b"250 "), "message not accepted: %r" % r[-2])
    expect(tag, "INBOX", [], ["PREGREET"])
else:
    sys.exit("unknown phase " + phase)
if FAILED:
    sys.exit(1)
print("ok", phase)
