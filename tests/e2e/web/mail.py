#!/usr/bin/env python3
"""tests/e2e/web/mail.py — the independent mail clients the web UI tests
(t-81-web-*) check the browser against: smtplib delivers, imaplib reads
back where a message is and its flags.

  mail.py send SMTPPORT TO SUBJECT FILE    deliver FILE's body (a whole
                                            message if it starts with a
                                            header line, else text/plain)
  mail.py where IMAPPORT USER PASS SUBJECT  print "FOLDER FLAGS" for each
                                            copy of the message
  mail.py fetch IMAPPORT USER PASS SUBJECT  print the first such message in
                                            INBOX (BODY.PEEK[])
"""
import imaplib, re, smtplib, sys
from email.message import EmailMessage
from email.utils import make_msgid

cmd = sys.argv[1]
if cmd == "send":
    port, to, subject, path = int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    raw = open(path, "rb").read()
    if re.match(rb"^[A-Za-z-]+:", raw):
        data = raw
    else:
        m = EmailMessage()
        m["From"] = "Bob Sender <bob@sender.test>"
        m["To"] = to
        m["Subject"] = subject
        m["Message-ID"] = make_msgid(domain="sender.test")
        m.set_content(raw.decode())
        data = m.as_bytes()
    data = re.sub(rb"\r?\n", b"\r\n", data)  # SMTP wants CRLF (brev refuses bare LF)
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.sendmail("bob@sender.test", [to], data)
elif cmd == "where":
    port, user, pw, subject = int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    im = imaplib.IMAP4("127.0.0.1", port)
    im.login(user, pw)
    _, boxes = im.list()
    for line in boxes:
        name = line.decode().rsplit(' "/" ', 1)[-1].strip('"')
        im.select('"%s"' % name, readonly=True)
        _, nums = im.search(None, "SUBJECT", '"%s"' % subject)
        for n in nums[0].split():
            _, d = im.fetch(n, "(FLAGS)")
            flags = re.search(rb"FLAGS \(([^)]*)\)", d[0]).group(1).decode()
            print(name, flags or "-")
    im.logout()
elif cmd == "fetch":
    port, user, pw, subject = int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    im = imaplib.IMAP4("127.0.0.1", port)
    im.login(user, pw)
    im.select("INBOX", readonly=True)
    _, nums = im.search(None, "SUBJECT", '"%s"' % subject)
    for n in nums[0].split()[:1]:
        _, d = im.fetch(n, "(BODY.PEEK[])")
        sys.stdout.write(d[0][1].decode("utf-8", "replace"))
    im.logout()
else:
    sys.exit("usage: mail.py send|where ...")
