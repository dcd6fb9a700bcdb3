#!/bin/bash
# Bounces of a mailing list's members (issue 21, docs/lists.md "Bounces"),
# two brevs over nsd-resolved MX as t-78-list-post, lists.bounce_limit = 2:
#  - dead@bob.test is a member but no account: bob's server answers 550;
#    after two posts the member is disabled, the owner (ann) gets one
#    notice, and a third post is not even tried for it;
#  - a DSN (multipart/report, Action: failed) sent to carol's VERP address
#    counts one bounce for carol; a delay report (Action: delayed), a
#    plain reply and a bounce without a member do not count.
. ../lib.sh
. ../queue/lib.sh
nsd_start
mta_init alice alice.test 127.0.0.2
DA=$D; PA_IMAPS=$P_IMAPS
echo "lists.bounce_limit = 2" >>"$DA/brev.conf"
brev_user ann@alice.test ann-password
mta_start
PID_A=$BREV_PID
mta_init bob bob.test 127.0.0.3
DB=$D; PB_IMAPS=$P_IMAPS
brev_user carol@bob.test carol-password
mta_start
export P25 PA_IMAPS PB_IMAPS

L() { "$BREV" -d "$DA" list "$@" || fail "list $*"; }
L add news@alice.test --owner ann@alice.test --posting anyone >/dev/null
L sub news@alice.test carol@bob.test >/dev/null
L sub news@alice.test dead@bob.test >/dev/null

post() { # SUBJECT: a post straight to alice's MX
	python3 - "$1" <<'PY' || fail "post $1"
import os, smtplib, sys
s = smtplib.SMTP("127.0.0.2", int(os.environ["P25"]), timeout=30)
s.sendmail("x@bob.test", ["news@alice.test"],
           ("From: x@bob.test\r\nTo: news@alice.test\r\nSubject: %s\r\n\r\nbody\r\n" % sys.argv[1]).encode())
s.quit()
PY
}
members() { "$BREV" -d "$DA" list members news@alice.test || fail "list members"; }
# until the queue has tried dead@ N times (each attempt bounces at once)
tried() { [ "$(grep -c 'rcpt=dead@bob.test .*result=bounced' "$DA/serve.log")" -ge "$1" ]; }

post "one"
until_true 30 tried 1 || fail "dead@ not tried: $(grep 'dead@' "$DA/serve.log")"
until_true 10 grep -q 'bounce 1 of 2 for <dead@bob.test>' "$DA/serve.log" || fail "first bounce not counted"
out=$(members)
grep -qx 'dead@bob.test  since [0-9-]*  bounces 1' <<<"$out" || fail "after one bounce: $out"
post "two"
until_true 30 tried 2 || fail "dead@ not tried again"
until_true 10 grep -q 'bounce 2 of 2 for <dead@bob.test>, disabled' "$DA/serve.log" || fail "not disabled"
out=$(members)
grep -qx 'dead@bob.test  since [0-9-]*  bounces 2  disabled' <<<"$out" || fail "after two bounces: $out"
grep -qx 'carol@bob.test  since [0-9-]*' <<<"$out" || fail "carol changed: $out"
# the owner is told once
python3 - <<'PY' || fail "ann's notice"
import os, imaplib, ssl, time, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
for _ in range(300):
    m = imaplib.IMAP4_SSL("127.0.0.1", int(os.environ["PA_IMAPS"]), ssl_context=ctx)
    m.login("ann@alice.test", "ann-password"); m.select("INBOX")
    ids = m.search(None, "SUBJECT", '"dead@bob.test disabled"')[1][0].split()
    if ids:
        raw = m.fetch(ids[0], "(RFC822)")[1][0][1].decode()
        assert "brev list sub news@alice.test dead@bob.test" in raw, raw
        assert "550" in raw, raw
        time.sleep(2)
        ids = m.search(None, "SUBJECT", '"dead@bob.test disabled"')[1][0].split()
        assert len(ids) == 1, "%d notices" % len(ids)
        sys.exit(0)
    m.logout(); time.sleep(0.1)
sys.exit("no notice")
PY
post "three"
python3 - <<'PY' || fail "carol's third post"
import os, imaplib, ssl, time, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
for _ in range(300):
    m = imaplib.IMAP4_SSL("127.0.0.1", int(os.environ["PB_IMAPS"]), ssl_context=ctx)
    m.login("carol@bob.test", "carol-password"); m.select("INBOX")
    if m.search(None, "SUBJECT", '"three"')[1][0]:
        sys.exit(0)
    m.logout(); time.sleep(0.1)
sys.exit("no third post")
PY
sleep 1
tried 3 && fail "a disabled member was sent the third post"

# ---- bounces arriving by mail at a VERP address ----
dsn() { # ACTION RCPT
	python3 - "$@" <<'PY' || fail "dsn $*"
import os, smtplib, sys
action, rcpt = sys.argv[1:]
msg = ("From: MAILER-DAEMON@bob.test\r\nTo: %s\r\nSubject: report\r\nMIME-Version: 1.0\r\n"
       "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
       "--b\r\nContent-Type: text/plain\r\n\r\nsorry\r\n"
       "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.bob.test\r\n\r\n"
       "Final-Recipient: rfc822; carol@bob.test\r\nAction: %s\r\nStatus: 5.2.2\r\n"
       "Diagnostic-Code: smtp; 552 mailbox full\r\n\r\n--b--\r\n" % (rcpt, action)).encode()
s = smtplib.SMTP("127.0.0.2", int(os.environ["P25"]), timeout=30)
s.sendmail("", [rcpt], msg)
s.quit()
PY
}
dsn delayed news-bounces+carol=bob.test@alice.test
dsn failed news-bounces@alice.test
python3 - <<'PY' || fail "plain reply"
import os, smtplib
s = smtplib.SMTP("127.0.0.2", int(os.environ["P25"]), timeout=30)
s.sendmail("", ["news-bounces+carol=bob.test@alice.test"], b"Subject: out of office\r\n\r\nAction: failed\r\n")
s.quit()
PY
out=$(members)
grep -qx 'carol@bob.test  since [0-9-]*' <<<"$out" || fail "a delay, a plain reply or a memberless bounce counted: $out"
dsn failed news-bounces+carol=bob.test@alice.test
out=$(members)
grep -qx 'carol@bob.test  since [0-9-]*  bounces 1' <<<"$out" || fail "carol's DSN not counted: $out"
grep -q 'bounce 1 of 2 for <carol@bob.test>: Diagnostic-Code: smtp; 552 mailbox full' "$DA/serve.log" ||
	fail "the reason was not logged: $(grep 'carol@bob.test' "$DA/serve.log" | grep bounce)"

brev_stop "$PID_A"
brev_stop
note ok
