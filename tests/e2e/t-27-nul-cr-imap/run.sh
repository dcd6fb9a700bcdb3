#!/bin/bash
# Issue 22, the small items, against a real `brev serve` with Python's
# smtplib and imaplib:
#  - brev sendmail normalises bare CR (and bare LF) to CRLF: "\r.\r" never
#    leaves brev; read back over IMAP byte for byte;
#  - NUL octets: SMTP DATA gets 554 5.6.0, IMAP APPEND gets NO, nothing
#    stored;
#  - STORE past the keyword limit gets NO [LIMIT] and changes nothing;
#    SELECT "/INBOX" (a permanent error) gets NO without [UNAVAILABLE].
. ../lib.sh
brev_init nulcr
brev_user alice@example.test alice-pw
brev_start

# sendmail: CR line ends throughout, "\r.\r" among them, and -i
printf 'Subject: cr\r\rone\r.\rtwo\nthree\r\n' | "$BREV" -d "$D" sendmail -i alice ||
	fail "sendmail"

python3 -u - <<'PY' || fail "smtplib/imaplib"
import os, re, smtplib, imaplib
P = lambda k: int(os.environ[k])

# SMTP: a NUL in DATA
s = smtplib.SMTP("127.0.0.1", P("P_SMTP"), timeout=30)
s.ehlo("client.test")
try:
    s.sendmail("x@remote.test", ["alice@example.test"], b"Subject: nul\r\n\r\nbefore\x00after\r\n")
    raise SystemExit("NUL accepted over SMTP")
except smtplib.SMTPDataError as e:
    assert e.smtp_code == 554 and e.smtp_error.startswith(b"5.6.0"), e
s.quit()

m = imaplib.IMAP4("127.0.0.1", P("P_IMAP"))
m.login("alice@example.test", "alice-pw")

# APPEND with a NUL
typ, data = m.append("INBOX", None, None, b"Subject: nul2\r\n\r\nbefore\x00after\r\n")
assert typ == "NO", (typ, data)

typ, data = m.select("INBOX")
assert typ == "OK" and data == [b"1"], (typ, data)  # only the sendmail message
typ, data = m.fetch("1", "(BODY.PEEK[])")
raw = data[0][1]
assert re.search(rb"\r(?!\n)|(?<!\r)\n", raw) is None, raw
assert b"\r\nSubject: cr\r\n" in raw, raw
assert raw.endswith(b"\r\n\r\none\r\n.\r\ntwo\r\nthree\r\n"), raw
assert b"\x00" not in raw

# keywords: 64 fit a mailbox, the 65th is refused and nothing changes
for i in range(64):
    typ, data = m.store("1", "+FLAGS", "(kw%d)" % i)
    assert typ == "OK", (i, typ, data)
typ, data = m.store("1", "+FLAGS", "(\\Flagged kw64)")
assert typ == "NO" and b"[LIMIT]" in data[0], (typ, data)
typ, data = m.fetch("1", "(FLAGS)")
flags = data[0].decode()
assert "kw63" in flags and "kw64" not in flags and "\\Flagged" not in flags, flags

# permanent errors are not [UNAVAILABLE]
for name in ('"/INBOX"', '"no/such"'):
    typ, data = m._simple_command("SELECT", name)
    text = m.untagged_responses.pop("NO", [b""])[-1] if typ != "NO" else data[-1]
    assert typ == "NO", (name, typ, data)
    assert b"UNAVAILABLE" not in text and b"[NONEXISTENT]" in text, (name, text)
m.logout()
print("ok")
PY
brev_stop
