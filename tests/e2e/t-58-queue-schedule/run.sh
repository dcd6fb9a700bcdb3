#!/bin/bash
# The retry schedule and delivery.max_age against a receiver that always
# answers 451 (the scripted sink, which logs the time of every RCPT):
# with delivery.retry = 2s 5s the first retry comes after about 2 s and
# every later one after about 5 s (the last interval repeats); at
# delivery.max_age = 60s the message bounces: a DSN in alice's INBOX
# (read over IMAP, parsed by Python's email package) with Action failed,
# Status 4.4.7, the receiver's last answer, and the real time waited in
# words ("after 1 minute", never "after 0 days": issue 23). With
# delivery.delay_notice = 10s, one delay notice comes first (Action
# delayed, Will-Retry-Until at max_age, the time waited so far). Takes
# about 65 s; bounds are generous for a loaded machine.
. ../lib.sh
. ../queue/lib.sh
nsd_start
mkdir -p "$T/sink"
sink_start 127.0.0.4 "$T/sink"
mta_init alice alice.test 127.0.0.2
cat >>"$D/brev.conf" <<CONF
delivery.retry = 2s 5s
delivery.max_age = 60s
delivery.delay_notice = 10s
CONF
brev_user alice@alice.test alice-pw
mta_start

printf 'From: alice@alice.test\r\nSubject: never\r\nMessage-ID: <never@alice.test>\r\n\r\nwaits\r\n' |
	"$BREV" -d "$D" sendmail -f alice@alice.test defer1@sink.test || fail "sendmail"
until_true 100 sh -c "[ \"\$('$BREV' -d '$D' queue list | tail -1 | cut -d' ' -f1)\" = 0 ]" ||
	{ "$BREV" -d "$D" queue list; fail "the message did not leave the queue by max_age"; }
grep -q 'rcpt=defer1@sink.test .*reply="expired" result=bounced' "$D/serve.log" || fail "no expired line"

python3 - "$T/sink.log" <<'PY' || fail "retry schedule"
import sys
t = [float(l.split()[2]) for l in open(sys.argv[1]) if l.startswith("rcpt defer1@sink.test ")]
gaps = [b - a for a, b in zip(t, t[1:])]
print("attempts %d, gaps %s" % (len(t), " ".join("%.1f" % g for g in gaps)))
assert len(t) >= 8, "too few attempts"
assert 1.5 <= gaps[0] < 4.5, "first interval not about 2 s"
assert all(4.5 <= g < 9 for g in gaps[1:-1]), "later intervals not about 5 s (the last repeats)"
assert gaps[-1] < 9, "the last try came late"
assert 57 <= t[-1] - t[0] < 75, "first to last attempt not about max_age"
PY

python3 - <<'PY' || fail "the bounce"
import os, imaplib, ssl, email
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", int(os.environ["P_IMAPS"]), ssl_context=ctx)
m.login("alice@alice.test", "alice-pw")
m.select("INBOX")
import re
from email.utils import parsedate_to_datetime
nums = m.search(None, "ALL")[1][0].split()
assert len(nums) == 2, "want one delay notice and one bounce, got %d messages" % len(nums)
dsn = {}
for n in nums:
    msg = email.message_from_bytes(m.fetch(n, "(RFC822)")[1][0][1])
    assert msg.get_content_type() == "multipart/report"
    b = msg.get_payload()[1].get_payload()[1]
    dsn[b["Action"]] = (msg, b)
assert sorted(dsn) == ["delayed", "failed"], sorted(dsn)
# the delay notice: once, after 10 s, saying how long so far and until when
msg, block = dsn["delayed"]
human = " ".join(msg.get_payload()[0].get_payload().split())
print(human)
assert msg["Subject"] == "Delayed Mail (still being retried)", msg["Subject"]
w = re.search(r"after (\d+) seconds of trying", human)
assert w and 10 <= int(w.group(1)) < 40, "delay notice: time so far not in words"
assert block["Status"] == "4.3.0", block["Status"]
until = parsedate_to_datetime(block["Will-Retry-Until"])
arrival = parsedate_to_datetime(msg.get_payload()[1].get_payload()[0]["Arrival-Date"])
assert 59 <= (until - arrival).total_seconds() <= 61, (until, arrival)
# the bounce at max_age
msg, block = dsn["failed"]
human = msg.get_payload()[0].get_payload()
print(human)
assert block["Action"] == "failed", block["Action"]
assert block["Status"] == "4.4.7", block["Status"]
assert block["Diagnostic-Code"] == "smtp; 451 4.3.0 not now", block["Diagnostic-Code"]
assert "gave up after 1 minute of retrying" in " ".join(human.split()), "waited time not in words"
assert " 0 days" not in human
PY
note ok
