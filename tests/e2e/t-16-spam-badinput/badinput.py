"""Hostile input through the spam filter (issue 14): every message is either
accepted (250) and then found, byte for byte, in INBOX or Junk with its
X-Spam fields, or refused with a clear 5xx reply and stored nowhere.

Every check runs even when an earlier one failed; the exit status is 1 if
any failed.
"""
import os, random, re, smtplib, sys, imaplib, time

P_SMTP, P_IMAP = int(os.environ["P_SMTP"]), int(os.environ["P_IMAP"])
USER, PW = "alice@example.test", "pw-secret-1"
GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
FAILED = []
rnd = random.Random(16)


def check(cond, what):
    if not cond:
        FAILED.append(what)
        print("FAIL:", what, file=sys.stderr)


def send(data):
    s = smtplib.SMTP("127.0.0.1", P_SMTP, "client.test", timeout=120)
    try:
        s.ehlo()
        s.mail("bob@sender.test")
        s.rcpt(USER)
        code, text = s.data(data)
        return code, text.decode("utf-8", "replace")
    except smtplib.SMTPDataError as e:
        return e.smtp_code, e.smtp_error.decode("utf-8", "replace")
    finally:
        try:
            s.quit()
        except Exception:
            pass


def stored():
    """{mailbox: [raw, ...]} for INBOX and Junk."""
    m = imaplib.IMAP4("127.0.0.1", P_IMAP, timeout=60)
    m.login(USER, PW)
    out = {}
    for box in ("INBOX", "Junk"):
        m.select(box, readonly=True)
        typ, d = m.uid("SEARCH", "ALL")
        out[box] = []
        for u in d[0].split():
            typ, f = m.uid("FETCH", u, "(BODY.PEEK[])")
            out[box].append(f[0][1])
    m.logout()
    return out


def smtp_bytes(data):
    """What a server stores of data sent by smtplib: CRLF line ends, a final CRLF."""
    data = re.sub(rb"(?:\r\n|\n|\r)", b"\r\n", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def case(name, data, want_box=None, want_refused=None):
    before = stored()
    t0 = time.time()
    code, text = send(data)
    after = stored()
    new = {b: after[b][len(before[b]):] for b in after}
    n = sum(len(v) for v in new.values())
    if want_refused:
        check(code == want_refused and re.match(r"\d\.\d\.\d \S", text) is not None,
              "%s: reply %s %r, wanted %s with a reason" % (name, code, text, want_refused))
        check(n == 0, "%s: refused but %d stored" % (name, n))
        return
    check(code == 250, "%s: reply %s %r" % (name, code, text))
    check(n == 1, "%s: %d copies stored, wanted 1 (%r)" % (name, n, {b: len(v) for b, v in new.items()}))
    for box, msgs in new.items():
        for raw in msgs:
            check(raw.endswith(smtp_bytes(data)), "%s: stored bytes differ from those sent" % name)
            check(re.search(rb"(?m)^X-Spam-Score: -?\d+\.\d\r$", raw.split(b"\r\n\r\n", 1)[0]) is not None,
                  "%s: no X-Spam-Score field" % name)
            if want_box:
                check(box == want_box, "%s: in %s, wanted %s" % (name, box, want_box))
    print("%s: %s in %.1fs" % (name, code, time.time() - t0))


HDR = b"From: bob@sender.test\r\nTo: alice@example.test\r\nSubject: bad input\r\n"

case("broken MIME", HDR + b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"zz\r\n"
     b"Content-Transfer-Encoding: base64\r\n\r\n--zz\r\nContent-Type: multipart/alternative; "
     b"boundary=\r\n\r\n--\r\n=?utf-8?B?!!!?= \r\n--zz\r\nContent-Type: text/html; charset=\"\r\n"
     b"\r\n<html><body><a href=\"http://\r\n" + b"--zz\r\n" * 3000)
case("broken MIME with GTUBE", HDR + b"Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n"
     b"Content-Type: text/plain; charset=x-unknown\r\nContent-Transfer-Encoding: quoted-printable\r\n"
     b"\r\n=ZZ=\r\n" + GTUBE + b"\r\n--q", want_box="Junk")
lines = b"".join(b"X-Junk-%d: %s\r\n" % (i, b"v" * (i % 60)) for i in range(100000))
case("100,000 header lines", lines + HDR + b"\r\nbody\r\n")
case("100,000 header lines, then GTUBE", HDR + lines + b"\r\n" + GTUBE + b"\r\n")
token = "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
                for _ in range(998)).encode()
big = HDR + b"\r\n" + b"\r\n".join(token for _ in range(20000)) + b"\r\n"
case("one 20 MB token in 998-octet lines", big)
case("GTUBE after the examined prefix", big + GTUBE + b"\r\n", want_box="INBOX")
case("one 1 MB line", HDR + b"\r\n" + b"x" * (1 << 20) + b"\r\n", want_refused=554)
junk = bytes(rnd.choice([b for b in range(1, 256) if b not in (10, 13)]) for _ in range(200000))
case("binary junk", HDR + b"\r\n" + b"\r\n".join(junk[i:i + 900] for i in range(0, len(junk), 900)))
case("binary junk, no header", b"\r\n".join(junk[i:i + 900] for i in range(0, len(junk), 900)))
case("NUL octets", HDR + b"\r\nx\x00y\r\n", want_refused=554)

if FAILED:
    print("%d check(s) failed" % len(FAILED), file=sys.stderr)
    sys.exit(1)
print("all checks passed")
