#!/bin/bash
# Local copies refused for quota at the end of DATA bounce (docs/smtp.md):
# with quota.default = 20K, bob's mailbox is nearly full; carol submits one
# message to alice and bob without a SIZE= hint, so both RCPTs are taken
# and only the store, at the end of DATA, finds bob over quota. The client
# gets 250 (alice has it); carol gets a DKIM-signed DSN in her INBOX that
# Python's email parser reads as multipart/report with bob's
# Final-Recipient and Status 5.2.2. A message that every local account
# refused is not bounced (the client got 452 and keeps it); a remote
# sender's bounce is queued with the null sender.
. ../lib.sh
brev_init quota example.test
# delivery.relay on a dead loopback port: the remote bounce is deferred at
# once (no DNS time-out to wait for at shutdown)
cat >>"$D/brev.conf" <<CONF
quota.default = 20K
delivery.relay = 127.0.0.1:$P_DEAD
CONF
brev_user alice@example.test alice-pw
brev_user bob@example.test bob-pass
brev_user carol@example.test carol-pw
brev_start

python3 - <<'PY' || fail "SMTP dialogue"
import os, smtplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def msg(subj, n):
    return ("From: carol@example.test\r\nTo: alice@example.test, bob@example.test\r\n"
            "Subject: %s\r\nMessage-ID: <%s@example.test>\r\n\r\n" % (subj, subj)
            + ("x" * 70 + "\r\n") * n).encode()
s = smtplib.SMTP("127.0.0.1", int(os.environ["P_SUB"]), timeout=20)
s.starttls(context=ctx)
s.login("carol@example.test", "carol-pw")
# 1. fill bob's mailbox to ~15K of 20K
s.sendmail("carol@example.test", ["bob@example.test"], msg("filler", 200))
# 2. ~5K to alice and bob, no SIZE=: both RCPTs pass, bob's copy is refused
code, _ = s.mail("carol@example.test")
assert code == 250, code
for r in ("alice@example.test", "bob@example.test"):
    code, text = s.rcpt(r)
    assert code == 250, (r, code, text)
code, text = s.data(msg("twoway", 70))
assert code == 250, (code, text)
# 3. the same to bob alone: refused by every account -> 452, no DSN
code, _ = s.mail("carol@example.test")
code, text = s.rcpt("bob@example.test")
assert code == 250, (code, text)
code, text = s.data(msg("bobonly", 70))
assert code == 452 and b"4.2.2" in text, (code, text)
s.quit()
# 4. a remote sender on port 25: the bounce goes into the queue
s = smtplib.SMTP("127.0.0.1", int(os.environ["P_SMTP"]), timeout=20)
s.ehlo("remote.test")
code, _ = s.mail("someone@remote.test")
for r in ("alice@example.test", "bob@example.test"):
    code, text = s.rcpt(r)
    assert code == 250, (r, code, text)
code, text = s.data(msg("fromremote", 70).replace(b"carol@example.test", b"someone@remote.test"))
assert code == 250, (code, text)
s.quit()
PY

grep -q "rcpt=bob@example.test refused: " "$D/serve.log" || fail "no log line for bob's refused copy"
grep -q "bounced 1 refused recipient(s) to <carol@example.test>" "$D/serve.log" || fail "no bounce log line"

python3 - <<'PY' || fail "DSN"
import os, imaplib, ssl, email
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def box(user):
    m = imaplib.IMAP4_SSL("127.0.0.1", int(os.environ["P_IMAPS"]), ssl_context=ctx)
    m.login(user, {"bob": "bob-pass"}.get(user.split("@")[0], user.split("@")[0] + "-pw"))
    m.select("INBOX")
    out = [email.message_from_bytes(m.fetch(n, "(RFC822)")[1][0][1])
           for n in m.search(None, "ALL")[1][0].split()]
    m.logout()
    return out
subjects = lambda msgs: sorted(x["Subject"] for x in msgs)
assert subjects(box("alice@example.test")) == ["fromremote", "twoway"], subjects(box("alice@example.test"))
assert subjects(box("bob@example.test")) == ["filler"], subjects(box("bob@example.test"))
dsns = box("carol@example.test")
assert len(dsns) == 1, subjects(dsns)   # not for "bobonly" (452), not for the remote sender
d = dsns[0]
assert d["DKIM-Signature"] and "d=example.test" in d["DKIM-Signature"].replace(" ", ""), d["DKIM-Signature"]
assert d.get_content_type() == "multipart/report" and d.get_param("report-type") == "delivery-status"
assert d["To"] == "<carol@example.test>", d["To"]
human, status, hdrs = d.get_payload()
assert "mailbox is full" in human.get_payload(), human.get_payload()
blocks = status.get_payload()
assert len(blocks) == 2, blocks
assert blocks[1]["Final-Recipient"] == "rfc822; bob@example.test", blocks[1]["Final-Recipient"]
assert blocks[1]["Action"] == "failed" and blocks[1]["Status"] == "5.2.2", (blocks[1]["Action"], blocks[1]["Status"])
assert hdrs.get_content_type() == "text/rfc822-headers"
h = hdrs.get_payload()
assert "Subject: twoway" in h and "Received: from" in h and "x" * 70 not in h, h
PY

# the remote sender's bounce waits in the queue, with the null sender
"$BREV" -d "$D" queue list >"$T/queue.txt"
grep -q "someone@remote.test" "$T/queue.txt" || { cat "$T/queue.txt"; fail "remote bounce not queued"; }
grep -q "<>" "$T/queue.txt" || { cat "$T/queue.txt"; fail "remote bounce not from the null sender"; }
brev_stop
note ok
