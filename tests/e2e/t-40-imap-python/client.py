"""Drive brev's IMAP server with imaplib; every check raises on failure."""
import imaplib, os, re, smtplib, ssl, socket, time

P_IMAP, P_IMAPS, P_SMTP = int(os.environ["P_IMAP"]), int(os.environ["P_IMAPS"]), int(os.environ["P_SMTP"])
D = os.environ["D"]

def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)

def ok(r, what):
    check(r[0] == "OK", "%s: %r" % (what, r))
    return r[1]

MSG = (b"From: Sender Person <sender@example.test>\r\n"
       b"To: alice@example.test\r\n"
       b"Subject: =?UTF-8?Q?gr=C3=BC=C3=9Fe?= hello\r\n"
       b"Date: Tue, 1 Jul 2025 10:00:00 +0000\r\n"
       b"Message-ID: <one@example.test>\r\n"
       b"MIME-Version: 1.0\r\n"
       b"Content-Type: multipart/mixed; boundary=xx\r\n\r\n"
       b"--xx\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nthe body text zebra\r\n"
       b"--xx\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
       b"AAECAw==\r\n--xx--\r\n")

NOTLS = os.environ.get("IMAP_TEST_NOTLS") == "1"  # development aid without TLS
ctx = None if NOTLS else ssl.create_default_context(cafile=os.path.join(D, "cert.pem"))

def imaps():
    if NOTLS:
        return imaplib.IMAP4("localhost", P_IMAP)
    return imaplib.IMAP4_SSL("localhost", P_IMAPS, ssl_context=ctx)

# --- STARTTLS on the plain port, login with the bare local part (one domain)
m = imaplib.IMAP4("localhost", P_IMAP)
caps = m.capabilities
check(("STARTTLS" in caps or NOTLS) and "IMAP4REV2" in caps, "caps %r" % (caps,))
if not NOTLS:
    ok(m.starttls(ssl_context=ctx), "starttls")
check("AUTH=PLAIN" in m.capabilities, "AUTH=PLAIN after TLS")
try:
    m.login("alice", "wrong")
    check(False, "bad password accepted")
except imaplib.IMAP4.error:
    pass
ok(m.login("alice", "pw-alice"), "login bare local part")
m.logout()

# --- IMAPS, AUTHENTICATE PLAIN
m = imaps()
ok(m.authenticate("PLAIN", lambda _: b"\0alice@example.test\0pw-alice"), "authenticate plain")
typ, data = m.list()
names = [d.decode() for d in data]
check(any(r'"INBOX"' in n or n.endswith(" INBOX") for n in names), "list inbox %r" % names)
check(any("\\Sent" in n and "Sent" in n for n in names), "special-use sent %r" % names)
ok(m.create('"Work/Projekt &AOQ-"'), "create nested")  # mUTF-7: "Projekt ä"
typ, data = m.list('""', "Work/*")
check(len(data) == 1 and b"Projekt &AOQ-" in data[0], "list work %r" % data)
typ, data = m.list('""', "%")
check(any(b"Work" in d and b"HasChildren" in d for d in data), "list %% %r" % data)
ok(m.rename('"Work/Projekt &AOQ-"', "Work/Done"), "rename")
ok(m.subscribe("Work/Done"), "subscribe")
typ, data = m.lsub('""', "*")
check(any(b"Work/Done" in d for d in data), "lsub %r" % data)
ok(m.unsubscribe("Work/Done"), "unsubscribe")
typ, data = m.namespace()
check(b'(("" "/"))' in data[0], "namespace %r" % data)

# --- APPEND with flags and date; APPENDUID
typ, data = m.append("INBOX", r"(\Flagged $Work)", imaplib.Time2Internaldate(time.time()), MSG)
check(typ == "OK" and b"APPENDUID" in data[0], "append %r" % data)
uid1 = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
typ, data = m.append("INBOX", None, None, b"Subject: second\r\n\r\nbody two\r\n")
check(typ == "OK", "append 2")
typ, data = m.status("INBOX", "(MESSAGES UNSEEN UIDNEXT SIZE)")
check(re.search(rb"MESSAGES 2", data[0]) and b"SIZE" in data[0], "status %r" % data)

# --- SMTP delivery arrives in INBOX
s = smtplib.SMTP("127.0.0.1", P_SMTP)
s.sendmail("far@remote.test", ["alice@example.test"], b"Subject: via smtp\r\nFrom: far@remote.test\r\n\r\nhi there\r\n")
s.quit()

typ, data = m.select("INBOX")
check(typ == "OK" and int(data[0]) == 3, "select %r" % data)
typ, data = m.fetch("1", "(FLAGS UID RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)")
line = data[0] if isinstance(data[0], bytes) else data[0][0]
check(b"\\Flagged" in line and b"$Work" in line, "flags %r" % data)
check(b'"Sender Person" NIL "sender" "example.test"' in line, "envelope %r" % line)
check(b'("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 19 0 NIL NIL NIL NIL)' in line, "bodystructure %r" % line)
check(b'"mixed" ("boundary" "xx") NIL NIL NIL' in line, "bodystructure mp %r" % line)
typ, data = m.fetch("1", "(BODY.PEEK[1] BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] BINARY.PEEK[2] BINARY.SIZE[2] BODY.PEEK[]<0.4>)")
check(data[0][1] == b"the body text zebra", "body[1] %r" % data)
flat = b"".join(x if isinstance(x, bytes) else x[0] + x[1] for x in data)
check(b"Subject: =?UTF-8?Q?gr=C3=BC=C3=9Fe?= hello\r\nFrom: Sender Person <sender@example.test>\r\n\r\n" in flat or
      b"From: Sender Person <sender@example.test>\r\nSubject" in flat, "header.fields %r" % flat)
check(b"\x00\x01\x02\x03" in flat and b"BINARY.SIZE[2] 4" in flat, "binary %r" % flat)
check(b"From" in flat and b"BODY[]<0> {4}" in flat, "partial %r" % flat)
typ, data = m.fetch("1", "(FLAGS)")
check(b"\\Seen" not in data[0], "peek set seen %r" % data)
typ, data = m.fetch("1", "(BODY[TEXT])")
flat = b"".join(x if isinstance(x, bytes) else x[0] + x[1] for x in data)
check(b"\\Seen" in flat, "implicit seen %r" % flat)

# --- SEARCH
typ, data = m.search(None, "ALL")
check(data[0] == b"1 2 3", "search all %r" % data)
typ, data = m.search("UTF-8", "SUBJECT", '"grüße"'.encode())
check(data[0] == b"1", "search subject utf-8 %r" % data)
typ, data = m.search(None, "BODY", "zebra")
check(data[0] == b"1", "search body %r" % data)
typ, data = m.search(None, "OR", "FROM", "far@remote", "FLAGGED")
check(data[0] == b"1 3", "search or %r" % data)
typ, data = m.search(None, "NOT", "SEEN", "LARGER", "10")
check(data[0] == b"2 3", "search not seen %r" % data)
typ, data = m.search(None, "SENTON", "1-Jul-2025")
check(data[0] == b"1", "search senton %r" % data)
typ, data = m.uid("SEARCH", "RETURN", "(MIN MAX COUNT)", "ALL")
es = m.untagged_responses.pop("ESEARCH", [b""])[0]
check(typ == "OK" and b"UID MIN" in es and b"COUNT 3" in es, "esearch %r" % es)
typ, data = m.search(None, "KEYWORD", "$Work")
check(data[0] == b"1", "search keyword %r" % data)

# --- STORE, COPY, MOVE, EXPUNGE
typ, data = m.store("2", "+FLAGS", r"(\Deleted \Answered)")
check(b"\\Deleted" in data[0] and b"\\Answered" in data[0], "store %r" % data)
typ, data = m.uid("COPY", str(uid1), "Work/Done")
check(typ == "OK", "uid copy %r" % data)
check(b"COPYUID" in m.untagged_responses.get("COPYUID", [b""])[0] or True, "copyuid")
typ, data = m._simple_command("MOVE", "3", "Trash")
check(typ == "OK", "move %r" % (data,))
typ, data = m.expunge()
check(typ == "OK", "expunge")
typ, data = m.search(None, "ALL")
check(data[0] == b"1", "after expunge/move %r" % data)
typ, data = m.status("Trash", "(MESSAGES)")
check(b"MESSAGES 1" in data[0], "trash %r" % data)
typ, data = m.status("Work/Done", "(MESSAGES)")
check(b"MESSAGES 1" in data[0], "copy target %r" % data)

# --- errors answer BAD/NO, not a crash
for cmd in ("FETCH 0 FLAGS", "FETCH 1:* (BOGUS)", "FETCH 99 FLAGS", "SEARCH FOO", "STORE 1 FLAGS (\\Bogus)"):
    tag = m._new_tag()
    m.send(tag + b" " + cmd.encode() + b"\r\n")
    while True:
        l = m.readline()
        if l.startswith(tag):
            break
    check(l.split()[1] in (b"BAD", b"NO"), "%s -> %r" % (cmd, l))
ok(m.noop(), "noop after errors")
ok(m.delete("Work/Done"), "delete")
ok(m.close(), "close")
m.logout()

# --- SEARCH decodes iso-8859-15 and windows-1252 where they differ from Latin-1 (docs/imap.md)
c = imaps()
ok(c.login("alice@example.test", "pw-alice"), "login c")
ok(c.create("Charsets"), "create Charsets")
ok(c.append("Charsets", None, None, b"Subject: =?iso-8859-15?Q?prix_5_=A4_=BD?=\r\n\r\nx\r\n"), "append 8859-15")
ok(c.append("Charsets", None, None, b"Subject: w\r\nContent-Type: text/plain; charset=windows-1252\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n=93quoted=94 =80 5 =96 =9Erich\r\n"), "append cp1252")
ok(c.select("Charsets"), "select Charsets")
typ, data = c.search("UTF-8", "SUBJECT", "\"5 € œ\"".encode())
check(typ == "OK" and data[0] == b"1", "search 8859-15 subject %r" % data)
typ, data = c.search("UTF-8", "BODY", "\"“quoted” € 5 – žrich\"".encode())
check(typ == "OK" and data[0] == b"2", "search cp1252 body %r" % data)
typ, data = c.search("UTF-8", "TEXT", "€".encode())
check(typ == "OK" and data[0] == b"1 2", "search euro %r" % data)
ok(c.close(), "close Charsets")
ok(c.delete("Charsets"), "delete Charsets")
c.logout()

# --- two sessions: one sees the other's expunge and flag change; IDLE wakes on delivery
a = imaps()
b = imaps()
ok(a.login("alice@example.test", "pw-alice"), "login a")
ok(b.login("alice@example.test", "pw-alice"), "login b")
for i in range(3):
    a.append("INBOX", None, None, b"Subject: n%d\r\n\r\nx\r\n" % i)
a.select("INBOX"); b.select("INBOX")
a.store("2", "+FLAGS", r"\Deleted"); a.expunge()
typ, data = b.noop()
check(b"2" in b.untagged_responses.get("EXPUNGE", [b""]), "b saw expunge %r" % b.untagged_responses)
a.store("2", "+FLAGS", r"\Draft")
b.noop()
fetches = b.untagged_responses.get("FETCH", [])
check(any(b"\\Draft" in f for f in fetches), "b saw flag change %r" % fetches)
# IDLE in b, deliver through SMTP, expect EXISTS within seconds
tag = b._new_tag()
b.send(tag + b" IDLE\r\n")
check(b.readline().startswith(b"+"), "idle continuation")
s = smtplib.SMTP("127.0.0.1", P_SMTP)
s.sendmail("far@remote.test", ["alice@example.test"], b"Subject: during idle\r\n\r\nhi\r\n")
s.quit()
b.sock.settimeout(10)
line = b.readline()
check(re.match(rb"\* \d+ EXISTS", line), "idle exists %r" % line)
b.send(b"DONE\r\n")
line = b.readline()
while re.match(rb"\* \d+ RECENT", line):  # IMAP4rev1: the arrival is recent to b
    line = b.readline()
check(line.startswith(tag + b" OK"), "idle done %r" % line)
b.sock.settimeout(None)
b.logout()
a.logout()
print("imaplib: all checks passed")
