"""Greylisting (docs/spam.md "Greylisting") with real clients: smtplib on
the inbound and submission ports from chosen 127.0.x.y source addresses
(each a /24 of its own), imaplib to see that what was accepted arrived.
Usage: grey.py main|lenient|known DELAY"""
import imaplib, os, re, smtplib, sys, time

P_SMTP, P_SUB, P_IMAP = (int(os.environ[k]) for k in ("P_SMTP", "P_SUB", "P_IMAP"))
PW = "pw-secret-1"
DELAY = float(sys.argv[2])


def fail(why):
    print("FAIL:", why)
    sys.exit(1)


def attempt(src, frm, rcpt, subject, port=P_SMTP, login=None, plain=True):
    """One session from src: MAIL, RCPT and, if RCPT got 250, DATA; plain:
    a message with Message-ID and Date, else a doubtful one (no Message-ID,
    no Date, a From name that is another domain's address: 5 points, Junk
    at normal). Returns (rcpt code, rcpt text, data code)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30, source_address=(src, 0)) as s:
        s.ehlo("client.remote.test")
        if login:
            s.login(login, PW)
        code, text = s.mail(frm)
        if code != 250:
            fail(f"MAIL FROM <{frm}> from {src}: {code} {text!r}")
        rc, rt = s.rcpt(rcpt)
        if rc != 250:
            s.rset()
            return rc, rt.decode(), None
        msg = (f"From: <{frm}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\n"
               f"Message-ID: <{subject}@remote.test>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
               f"\r\nhello\r\n")
        if not plain:
            msg = (f"From: \"service@bank.test\" <{frm}>\r\nTo: <{rcpt}>\r\n"
                   f"Subject: {subject}\r\n\r\nhello\r\n")
        dc, dt = s.data(msg.encode())
        return rc, rt.decode(), dc


def expect_grey(src, frm, rcpt, what):
    rc, rt, _ = attempt(src, frm, rcpt, "never")
    if rc != 451 or not rt.startswith("4.7.1"):
        fail(f"{what}: wanted 451 4.7.1 at RCPT, got {rc} {rt!r}")


def expect_ok(src, frm, rcpt, subject, what, **kw):
    rc, rt, dc = attempt(src, frm, rcpt, subject, **kw)
    if rc != 250 or dc != 250:
        fail(f"{what}: wanted 250 at RCPT and DATA, got RCPT {rc} {rt!r}, DATA {dc}")


def subjects(user):
    m = imaplib.IMAP4("127.0.0.1", P_IMAP, timeout=20)
    m.login(user, PW)
    m.select("INBOX")
    _, d = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    m.logout()
    return b" ".join(x[1] for x in d if isinstance(x, tuple)).decode()


def main():
    A = "alice@example.test"
    # first attempt and an immediate retry: 451 4.7.1
    expect_grey("127.0.1.5", "s1@remote.test", A, "first attempt")
    expect_grey("127.0.1.5", "s1@remote.test", A, "immediate retry")
    # another /24 is a triplet of its own; the same /24 shares it
    expect_grey("127.0.2.5", "s1@remote.test", A, "first attempt from another /24")
    time.sleep(DELAY + 1.5)
    expect_ok("127.0.1.5", "s1@remote.test", A, "grey-retried", "retry after the delay")
    # a second message of the passed triplet: at once, also from the same /24
    expect_ok("127.0.1.77", "S1@remote.test", A, "grey-second", "second message, same triplet")
    # the other /24 waited as long and passes on its own retry, not before
    expect_grey("127.0.3.5", "s1@remote.test", A, "a third /24 after the first passed")
    # the null sender (bounces) is greylisted like any sender
    expect_grey("127.0.1.5", "", A, "null sender")
    # mail from the machine itself (127.0.0.1) is never delayed
    expect_ok("127.0.0.1", "local@remote.test", A, "grey-localhost", "from 127.0.0.1")
    # lenient and off accounts: never greylisted
    expect_ok("127.0.4.5", "s1@remote.test", "lena@example.test", "grey-lenient", "lenient account")
    expect_ok("127.0.4.5", "s1@remote.test", "otto@example.test", "grey-off", "off account")
    # submission never: a new source, sender and local recipient at normal
    expect_ok("127.0.5.5", A, "bob@example.test", "grey-sub", "submission", port=P_SUB, login=A)
    # known-good: alice writes to friend@remote.test (submission); friend's
    # mail to alice is then accepted at once, from any network; a stranger
    # on the same network and friend writing to bob still wait
    expect_grey("127.0.6.5", "friend@remote.test", A, "friend before alice wrote")
    expect_ok("127.0.5.5", A, "friend@remote.test", "to-friend", "submission to friend",
              port=P_SUB, login=A)
    expect_ok("127.0.7.5", "Friend@Remote.test", A, "grey-friend", "known-good sender")
    expect_grey("127.0.7.5", "stranger@remote.test", A, "stranger beside the friend")
    expect_grey("127.0.7.5", "friend@remote.test", "bob@example.test", "friend to bob")
    got = subjects(A)
    for s in ("grey-retried", "grey-second", "grey-localhost", "grey-friend"):
        if s not in got:
            fail(f"{s} not in alice's INBOX: {got!r}")
    if "never" in got:
        fail(f"a greylisted attempt was delivered: {got!r}")
    for u, s in (("lena", "grey-lenient"), ("otto", "grey-off"), ("bob", "grey-sub")):
        if s not in subjects(u + "@example.test"):
            fail(f"{s} not delivered to {u}")


def lenient():
    # brev.conf at lenient (and bob without a setting follows it): nothing waits
    expect_ok("127.0.8.5", "new@remote.test", "bob@example.test", "len-1", "brev.conf lenient")
    expect_ok("127.0.9.5", "new2@remote.test", "bob@example.test", "len-2", "brev.conf lenient")


def landed(user, subject):
    """(mailbox, X-Spam-Status) of the message with this subject."""
    m = imaplib.IMAP4("127.0.0.1", P_IMAP, timeout=20)
    m.login(user, PW)
    try:
        for box in ("INBOX", "Junk"):
            m.select(box, readonly=True)
            _, d = m.uid("SEARCH", "HEADER", "Subject", subject)
            if d[0]:
                _, f = m.uid("FETCH", d[0].split()[0], "(BODY.PEEK[HEADER])")
                h = f[0][1].decode()
                st = re.search(r"^X-Spam-Status: (.*?)\r\n(?![ \t])", h, re.M | re.S)
                return box, re.sub(r"\r\n[ \t]+", " ", st.group(1)) if st else ""
        return None, ""
    finally:
        m.logout()


def known():
    """Greylisting off (spam.greylist_delay = 0): a sender alice wrote to is
    still known and gets KNOWN_SENDER (-3), per account and per address."""
    A = "alice@example.test"
    expect_ok("127.0.5.5", A, "pal@remote.test", "to-pal", "submission to pal", port=P_SUB,
              login=A)
    for frm, subj, box, has in (("pal@remote.test", "from-pal", "INBOX", True),
                                ("other@remote.test", "from-other", "Junk", False)):
        expect_ok("127.0.10.5", frm, A, subj, "doubtful mail from " + frm, plain=False)
        got, st = landed(A, subj)
        if got != box or ("KNOWN_SENDER(-3.0)" in st) != has:
            fail(f"{subj}: in {got} with {st!r}, wanted {box}, KNOWN_SENDER {has}")
    # pal wrote to alice, not to bob: bob's copy has no bias
    expect_ok("127.0.10.5", "pal@remote.test", "bob@example.test", "pal-to-bob", "pal to bob",
              plain=False)
    got, st = landed("bob@example.test", "pal-to-bob")
    if got != "Junk" or "KNOWN_SENDER" in st:
        fail(f"pal-to-bob: in {got} with {st!r}, wanted Junk without KNOWN_SENDER")


def lists_grey():
    """Greylisting on (1 minute): alice's allow list (friend.test) lets its
    senders through at once, from a new network; bob has no list."""
    A = "alice@example.test"
    expect_ok("127.0.11.5", "x@mail.friend.test", A, "allowed-sub", "allowed subdomain sender")
    expect_grey("127.0.11.5", "x@mail.friend.test", "bob@example.test", "bob has no list")
    expect_grey("127.0.11.5", "x@notfriend.test", A, "a domain that only ends alike")


def lists():
    """Greylisting off: allow and block lists decide whatever the content."""
    A = "alice@example.test"
    expect_ok("127.0.12.5", "x@mail.friend.test", A, "allowed-doubtful", "allowed sender",
              plain=False)
    got, st = landed(A, "allowed-doubtful")
    if got != "INBOX" or "ALLOW_LIST(-100.0)" not in st:
        fail(f"allowed-doubtful: in {got} with {st!r}, wanted INBOX and ALLOW_LIST")
    # blocked at normal: 550 after DATA, nothing stored
    rc, rt, dc = attempt("127.0.12.5", "Bad@Remote.test", A, "blocked-plain")
    if rc != 250 or dc != 550:
        fail(f"blocked sender: RCPT {rc} {rt!r}, DATA {dc}, wanted 550 at DATA")
    # the address beats its domain: friend.test is allowed, spy@friend.test blocked
    rc, rt, dc = attempt("127.0.12.5", "spy@friend.test", A, "blocked-addr")
    if dc != 550:
        fail(f"spy@friend.test: DATA {dc}, wanted 550 (address before domain)")
    # lena (lenient) blocks bad@remote.test too: Junk, not refused
    expect_ok("127.0.12.5", "bad@remote.test", "lena@example.test", "bad-to-lena", "lena")
    got, st = landed("lena@example.test", "bad-to-lena")
    if got != "Junk" or "BLOCK_LIST(100.0)" not in st:
        fail(f"bad-to-lena: in {got} with {st!r}, wanted Junk with BLOCK_LIST")
    # bob's copy is not on alice's lists
    expect_ok("127.0.12.5", "bad@remote.test", "bob@example.test", "bad-to-bob", "bob")
    got, st = landed("bob@example.test", "bad-to-bob")
    if got != "INBOX" or "LIST" in st:
        fail(f"bad-to-bob: in {got} with {st!r}, wanted INBOX without a list test")


{"main": main, "lenient": lenient, "known": known, "lists": lists,
 "lists-grey": lists_grey}[sys.argv[1]]()
