"""SEARCH BODY / TEXT over the full-text index against an independent byte
scan (see run.sh). `fts.py fill`: deliver and append the mailbox, compare
in INBOX, COPY to Archive and compare there, EXPUNGE some and compare.
`fts.py again` (after a restart): compare, append one more and compare,
then expunge everything.

The oracle decodes with Python's email package and matches as RFC 9051
6.4.4 and docs/imap.md put it: a substring of the decoded text, case
folded for ASCII only (bytes.lower()). TEXT adds every message header's
fields as "name: decoded value" lines. Every check runs even when an
earlier one failed; failures are listed and the exit status is 1.
"""
import base64, email, email.header, imaplib, os, smtplib, sys

PORT, SMTP = int(os.environ["P_IMAP"]), int(os.environ["P_SMTP"])
USER, PW = "alice@example.test", "pw-alice"
FAILED = []


def check(cond, what):
    if not cond:
        FAILED.append(what)
        print("FAIL:", what, file=sys.stderr)


def b64(s, cs="utf-8"):
    return base64.encodebytes(s.encode(cs)).decode().replace("\n", "\r\n")


LONG = "supercalifragilisticexpialidocious" * 3  # 102 letters: not indexed whole
MSGS = [
    # 0 plain ASCII
    "From: bob@example.test\r\nSubject: plain\r\n\r\n"
    "The quick brown fox jumps over the lazy dog.\r\nfoobar baz, FOOBAR again\r\n",
    # 1 quoted-printable ISO-8859-1
    "From: bob@example.test\r\nSubject: qp\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    "Gr=FC=DFe aus K=F6ln, der =C4rger ist vorbei. Stra=DFe und Mei=DFen=\r\n"
    "kirche, soft=\r\nbreak inside a word.\r\n",
    # 2 base64 UTF-8
    "From: bob@example.test\r\nSubject: b64\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + b64("\u00c4rger im B\u00fcro; na\u00efve caf\u00e9 \u00fcber STRASSE 42x\r\n"),
    # 3 multipart/alternative with HTML
    "From: bob@example.test\r\nSubject: html\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=AA\r\n\r\n"
    "--AA\r\nContent-Type: text/plain\r\n\r\nZanzibar meeting moved\r\n"
    "--AA\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    "<html><body><p>The <b>Zanzibar</b>&nbsp;meeting</p></body></html>\r\n--AA--\r\n",
    # 4 attachment: its words are not text
    "From: bob@example.test\r\nSubject: attachment\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=BB\r\n\r\n"
    "--BB\r\nContent-Type: text/plain\r\n\r\nsee the attached report\r\n"
    "--BB\r\nContent-Type: application/octet-stream; name=x.bin\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n" + b64("hiddenword in the attachment") +
    "--BB--\r\n",
    # 5 RFC 2047 subject, windows-1252 body
    "From: =?utf-8?q?J=C3=B6rg_Sch=C3=A4fer?= <j@example.test>\r\n"
    "Subject: =?utf-8?b?w5xiZXJyYXNjaHVuZyBmw7xyIGRpY2g=?=\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=windows-1252\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    "=93smart quotes=94 =96 na=EFve r=E9sum=E9\r\n",
    # 6 forwarded message/rfc822
    "From: carol@example.test\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=CC\r\n\r\n"
    "--CC\r\nContent-Type: text/plain\r\n\r\nforwarding this\r\n"
    "--CC\r\nContent-Type: message/rfc822\r\n\r\n"
    "From: dave@example.test\r\nSubject: innersubject\r\n\r\ninnerword body text\r\n"
    "--CC--\r\n",
    # 7 a word longer than the index keeps
    "From: bob@example.test\r\nSubject: long\r\n\r\nword " + LONG + " end\r\n",
    # 8 numbers and punctuation
    "From: bob@example.test\r\nSubject: numbers\r\n\r\n"
    "Invoice #2024-0042: total 1,234.56 EUR -- due 2025/01/31.\r\n",
]
NEEDLES = [
    "oob", "foobar", "OOBA", "fooba", "obar", "quick brown", "ick bro", "own fox jum",
    "the lazy", " lazy ", "LAZY DOG.", "arger", "\u00c4rger", "\u00c4RGER", "rger",
    "gr\u00fc\u00dfe", "GR\u00dcSSE", "stra\u00dfe", "strasse", "STRASSE", "mei\u00dfenkirche",
    "softbreak", "zanzibar", "<b>", "b>Zan", "&nbsp;meet", "hiddenword", "attached",
    "\u00fcberraschung", "berrasch", "j\u00f6rg", "sch\u00e4fer", "innerword", "innersubject",
    "Subject", "subject: q", "ragilisticexpi", LONG, LONG + " end", "calif",
    "caf\u00e9", "na\u00efve", "\u00e9", "r\u00e9sum\u00e9", "\u201csmart", "quotes\u201d",
    "2024-0042", "1,234.56", "0042", "--", ".", " ", "e", "x", "42x", "nothinglikethis",
    "from: bob", "dave@example", "multipart",
]


def oracle_texts(raw, headers):
    """The texts SEARCH looks at, as bytes, after Python's decoding."""
    out = []

    def walk(msg):
        if headers:
            lines = []
            for name, value in msg.items():
                parts = email.header.decode_header(value)
                dec = "".join(p.decode(c or "ascii") if isinstance(p, bytes) else p
                              for p, c in parts)
                lines.append("%s: %s\n" % (name, dec.replace("\r", "").replace("\n", "")))
            out.append("".join(lines).encode())
        if msg.get_content_maintype() == "multipart":
            for p in msg.get_payload():
                walk(p)
        elif msg.get_content_type() == "message/rfc822":
            for p in msg.get_payload():
                walk(p)
        elif msg.get_content_maintype() in ("text", "message"):
            cs = msg.get_content_charset() or "us-ascii"
            body = msg.get_payload(decode=True) or b""
            if cs in ("us-ascii", "utf-8"):
                out.append(body.decode("utf-8").encode())
            else:
                out.append(body.decode(cs).encode())
    walk(email.message_from_bytes(raw))
    return out


def oracle(mailbox, key, needle):
    n = needle.encode().lower()
    return sorted(uid for uid, raw in mailbox.items()
                  if any(n in t.lower() for t in oracle_texts(raw, key == "TEXT")))


def uid_search(m, key, needle):
    m.literal = needle.encode()
    try:
        typ, data = m.uid("SEARCH", "CHARSET", "UTF-8", key)
    except imaplib.IMAP4.error as e:
        return "error %s" % e
    if typ != "OK":
        return "%s %r" % (typ, data)
    return sorted(int(x) for x in data[0].split())


def contents(m, box):
    """uid -> raw bytes of every message in box (selects it)."""
    typ, _ = m.select(box)
    check(typ == "OK", "SELECT %s" % box)
    typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[])")
    out = {}
    for item in data:
        if isinstance(item, tuple):
            head = item[0].decode()
            uid = int(head.split("UID ")[1].split()[0].rstrip(")"))
            out[uid] = item[1]
    return out


def compare(m, box, when):
    mailbox = contents(m, box)
    for key in ("BODY", "TEXT"):
        for needle in NEEDLES:
            want, got = oracle(mailbox, key, needle), uid_search(m, key, needle)
            check(got == want, "%s %s %s %r: got %s, byte scan %s" % (when, box, key, needle,
                                                                   got, want))
    return mailbox


def by_subject(mailbox, subject):
    return [u for u, raw in mailbox.items() if email.message_from_bytes(raw)["Subject"] == subject]


def fill(m):
    # Three of them over SMTP (one delivery path), the rest by APPEND.
    with smtplib.SMTP("127.0.0.1", SMTP, timeout=15) as s:
        for raw in MSGS[:3]:
            s.sendmail("bob@example.test", [USER], raw.encode())
    for raw in MSGS[3:]:
        typ, _ = m.append("INBOX", None, None, raw.encode())
        check(typ == "OK", "APPEND")
    inbox = compare(m, "INBOX", "stored")
    check(len(inbox) == len(MSGS), "INBOX holds %d of %d" % (len(inbox), len(MSGS)))
    # Spot checks that do not lean on the oracle.
    check(uid_search(m, "BODY", "oob") == sorted(by_subject(inbox, "plain")), "BODY oob")
    check(uid_search(m, "BODY", "arger") == [], "BODY arger is bytes: no Ärger")
    check(uid_search(m, "BODY", "\u00c4RGER") == sorted(by_subject(inbox, "qp") +
                                                         by_subject(inbox, "b64")), "BODY ÄRGER")
    check(uid_search(m, "BODY", "ragilisticexpi") == by_subject(inbox, "long"), "long word")
    check(uid_search(m, "BODY", "hiddenword") == [], "attachment is not text")
    check(uid_search(m, "TEXT", "innersubject") == by_subject(inbox, "fwd"), "inner header")
    # COPY: the copies share the bytes, and their words.
    m.select("INBOX")
    typ, _ = m.uid("COPY", "1:*", "Archive")
    check(typ == "OK", "COPY")
    compare(m, "Archive", "copied")
    # EXPUNGE some in INBOX: the copies still match in Archive.
    m.select("INBOX")
    gone = by_subject(inbox, "plain") + by_subject(inbox, "qp") + by_subject(inbox, "html")
    m.uid("STORE", ",".join(map(str, gone)), "+FLAGS.SILENT", r"(\Deleted)")
    m.expunge()
    compare(m, "INBOX", "expunged")
    compare(m, "Archive", "after INBOX expunge")


def again(m):
    compare(m, "INBOX", "restarted")
    compare(m, "Archive", "restarted")
    # One more, pending beside the merged ones.
    typ, _ = m.append("INBOX", None, None, MSGS[0].replace("plain", "plain again").encode())
    check(typ == "OK", "APPEND after restart")
    compare(m, "INBOX", "one pending")
    for box in ("INBOX", "Archive"):
        m.select(box)
        m.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
        m.expunge()
        check(uid_search(m, "TEXT", "subject") == [], "%s empty" % box)


m = imaplib.IMAP4("127.0.0.1", PORT, timeout=30)
m.login(USER, PW)
{"fill": fill, "again": again}[sys.argv[1]](m)
m.logout()
if FAILED:
    print("%d check(s) failed" % len(FAILED), file=sys.stderr)
    sys.exit(1)
