"""imapt.py — helpers for brev's IMAP real-client tests (t-45..t-47):
deliver test messages over SMTP and read the server's side back with
imaplib over IMAPS. Environment: D, P_SMTP, P_IMAPS (tests/e2e/lib.sh)."""
import imaplib
import os
import re
import smtplib
import ssl
import sys
import time

D = os.environ["D"]
P_SMTP = int(os.environ["P_SMTP"])
P_IMAPS = int(os.environ["P_IMAPS"])
USER, PASSWORD = "alice@example.test", os.environ.get("PW", "pw-alice")


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def messages(tag):
    """A few real-world-shaped messages (bytes, CRLF): plain, a dotted line and
    an mbox-style 'From ' line, multipart with base64, 8-bit UTF-8, and one of
    about 300 KB so that the server's literal spans many TLS records."""
    ts = time.time_ns()
    def head(n, extra=b""):
        return (b"From: Sender <sender@example.test>\r\nTo: alice@example.test\r\n"
                b"Subject: %s %d\r\nMessage-ID: <%s.%d.%d@example.test>\r\n"
                b"Date: Tue, 1 Jul 2025 10:00:0%d +0000\r\n" % (tag.encode(), n, tag.encode(), n, ts, n)) + extra
    out = [
        head(1) + b"\r\nplain body\r\n.a dotted line\r\nFrom the start of a line\r\n\r\nend\r\n",
        head(2, b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n") +
        b"\r\npreamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\ngr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\r\n"
        b"--b1\r\nContent-Type: application/octet-stream; name=\"x.bin\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nAAECAwQFBgcICQ==\r\n--b1--\r\n",
        head(3) + b"\r\n" + b"".join(b"line %06d of a long message %s\r\n" % (i, b"x" * 40)
                                     for i in range(4000)),
    ]
    return out


def deliver(msgs, rcpt=USER):
    """Deliver through brev's SMTP listener (the port 25 role), one
    transaction per message."""
    with smtplib.SMTP("127.0.0.1", P_SMTP, timeout=20) as s:
        s.ehlo("client.example.test")
        for m in msgs:
            s.sendmail("sender@example.test", [rcpt], m)


def connect():
    ctx = ssl.create_default_context(cafile=os.path.join(D, "cert.pem"))
    m = imaplib.IMAP4_SSL("localhost", P_IMAPS, ssl_context=ctx, timeout=20)
    m.login(USER, PASSWORD)
    return m


def stored(mailbox="INBOX"):
    """[(uid, flags, raw bytes)] of a mailbox, read without setting \\Seen."""
    m = connect()
    typ, _ = m.select(mailbox, readonly=True)
    check(typ == "OK", "select " + mailbox)
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
    out = []
    for item in data:
        if isinstance(item, tuple):
            meta = item[0]
            uid = int(re.search(rb"UID (\d+)", meta).group(1))
            # \Recent is per session (IMAP4rev1), not a stored flag.
            flags = [f for f in re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).decode().split()
                     if f != "\\Recent"]
            out.append((uid, flags, item[1]))
    m.logout()
    return out


def wait_count(n, mailbox="INBOX", secs=10):
    end = time.time() + secs
    while time.time() < end:
        if len(stored(mailbox)) == n:
            return
        time.sleep(0.1)
    fail("expected %d messages in %s, have %d" % (n, mailbox, len(stored(mailbox))))
