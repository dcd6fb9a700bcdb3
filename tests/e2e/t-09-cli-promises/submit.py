# submit.py P_SUB P_IMAP SUBJECT OUT: tty1 sends itself a message through
# submission (STARTTLS, AUTH); the copy IMAP shows is written to OUT.
import imaplib, smtplib, ssl, sys, time

psub, pimap, subj, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", psub, timeout=20)
s.starttls(context=c)
s.login("tty1@example.test", "Tty-pw-1")
s.sendmail("tty1@example.test", ["tty1@example.test"],
           ("From: tty1@example.test\r\nTo: tty1@example.test\r\nSubject: %s\r\n\r\nhello\r\n"
            % subj).encode())
s.quit()
for _ in range(100):
    m = imaplib.IMAP4("127.0.0.1", pimap)
    m.login("tty1@example.test", "Tty-pw-1")
    m.select("INBOX")
    n = m.search(None, "SUBJECT", subj)[1][0].split()
    if n:
        open(out, "wb").write(m.fetch(n[-1], "(BODY.PEEK[])")[1][0][1])
        m.logout()
        sys.exit(0)
    m.logout()
    time.sleep(0.1)
sys.exit("message %r did not arrive" % subj)
