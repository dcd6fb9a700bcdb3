#!/bin/bash
# Two brev instances talk to each other through DNS: alice.test on
# 127.0.0.2 and bob.test on 127.0.0.3, both MX port $P25 (see
# ../queue/lib.sh for why no namespace is needed), nsd serving the zones.
# Alice submits to bob@bob.test over submission (STARTTLS + AUTH); bob's
# brev receives it over opportunistic STARTTLS (self-signed: unverified);
# bob reads it over IMAP and POP3 and answers with `brev sendmail`; alice
# reads the answer.
# Mail authentication (issue 9): alice's SPF, DKIM and DMARC records, as
# `brev dns alice.test` prints them, are appended verbatim to the zone;
# alice's queue sends from 127.0.0.2 (listen.smtp, docs/delivery.md), so
# bob's Authentication-Results says spf=pass dkim=pass dmarc=pass, and
# dkimpy verifies the same message with the same records.
. ../lib.sh
. ../queue/lib.sh
nsd_start
mta_init alice alice.test 127.0.0.2
DA=$D; PA_SUB=$P_SUB; PA_IMAPS=$P_IMAPS
brev_user alice@alice.test alice-pw
"$BREV" -d "$DA" dns alice.test >"$T/alice.records" || fail "brev dns"
grep -q '^_dmarc.alice.test.' "$T/alice.records" || fail "brev dns: no DMARC record"
nsd_add "$T/alice.records" _dmarc.alice.test TXT "v=DMARC1"
nsd_wait alice.test TXT "v=spf1"
mta_start
PID_A=$BREV_PID
mta_init bob bob.test 127.0.0.3
DB=$D; PB_IMAPS=$P_IMAPS; PB_POP3=$P_POP3
brev_user bob@bob.test bob-pass
mta_start
export DA DB PA_SUB PA_IMAPS PB_IMAPS PB_POP3

python3 - <<'PY' || fail "submission"
import os, smtplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", int(os.environ["PA_SUB"]), timeout=20)
s.starttls(context=ctx)
s.login("alice@alice.test", "alice-pw")
s.sendmail("alice@alice.test", ["bob@bob.test"],
           b"From: alice@alice.test\r\nTo: bob@bob.test\r\nSubject: hello bob\r\n"
           b"Message-ID: <first@alice.test>\r\n\r\nHi Bob,\r\n.\r\nsee you\r\n")
s.quit()
PY

fetch_imap() { # fetch_imap PORT USER PASS SUBJECT
	python3 - "$@" <<'PY'
import sys, imaplib, ssl, email, time
port, user, pw, subj = sys.argv[1:]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
for _ in range(100):
    m = imaplib.IMAP4_SSL("127.0.0.1", int(port), ssl_context=ctx)
    m.login(user, pw); m.select("INBOX")
    typ, d = m.search(None, "SUBJECT", '"%s"' % subj)
    if d[0]:
        raw = m.fetch(d[0].split()[0], "(RFC822)")[1][0][1]
        print(raw.decode())
        sys.exit(0)
    m.logout(); time.sleep(0.1)
sys.exit(1)
PY
}
fetch_imap "$PB_IMAPS" bob@bob.test bob-pass "hello bob" >"$T/bob.eml" || fail "bob did not get the message"
tr -d '\r' <"$T/bob.eml" | grep -qx "Hi Bob," || fail "body"
tr -d '\r' <"$T/bob.eml" | grep -qx "\." || fail "dot line not restored"
grep -q "by mx.bob.test (brev) with ESMTPS" "$T/bob.eml" || fail "bob's Received: does not show TLS"
# issue 9: bob checked alice's mail (from 127.0.0.2, not a local client)
# and everything passed; alice's DKIM signatures (RSA, Ed25519) arrive
# intact and dkimpy verifies them with the records `brev dns` printed
grep -q "^Received: from mx.alice.test (unknown \[127.0.0.2\])" "$T/bob.eml" ||
	fail "alice's mail did not come from 127.0.0.2"
tr -d '\r' <"$T/bob.eml" | awk '/^Authentication-Results: mx.bob.test;/ {p=1; print; next}
	p && /^[ \t]/ {print; next} {p=0}' >"$T/bob.ar"
[ -s "$T/bob.ar" ] || fail "no Authentication-Results at bob"
for v in "spf=pass" "dkim=pass" "dmarc=pass"; do
	grep -q "$v" "$T/bob.ar" || { cat "$T/bob.ar"; fail "bob's Authentication-Results lacks $v"; }
done
grep -q "dkim=fail\|dkim=neutral\|dkim=temperror\|dkim=permerror" "$T/bob.ar" &&
	{ cat "$T/bob.ar"; fail "a DKIM signature did not pass at bob"; }
/usr/bin/python3 - "$T/bob.eml" "$T/alice.records" <<'PY' || fail "dkimpy does not verify alice's signatures"
import re, sys, dkim
raw = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
recs = {}
for line in open(sys.argv[2]):
    m = re.match(r"(\S+)\s+\d+\s+IN\s+TXT\s+(.*)$", line)
    if m:
        recs[m.group(1).encode()] = b"".join(re.findall(rb'"([^"]*)"', m.group(2).encode()))
def dnsfunc(name, timeout=5):
    return recs.get(name if name.endswith(b".") else name + b".")
d = dkim.DKIM(raw)
assert d.verify(idx=0, dnsfunc=dnsfunc), "rsa"
assert d.verify(idx=1, dnsfunc=dnsfunc), "ed25519"
PY
grep -q 'rcpt=bob@bob.test mx=mx.bob.test addr=127.0.0.3 tls=TLSv1.[23]/unverified .*result=delivered' "$DA/serve.log" ||
	{ grep "queue id" "$DA/serve.log"; fail "no delivered log line with TLS"; }

python3 - <<'PY' || fail "POP3"
import os, poplib
p = poplib.POP3("127.0.0.1", int(os.environ["PB_POP3"]), timeout=20)
p.user("bob@bob.test"); p.pass_("bob-pass")
lines = p.retr(1)[1]
assert b"Subject: hello bob" in lines, lines
p.quit()
PY

printf 'From: bob@bob.test\r\nTo: alice@alice.test\r\nSubject: Re: hello bob\r\nIn-Reply-To: <first@alice.test>\r\n\r\nHi Alice!\r\n' |
	"$BREV" -d "$DB" sendmail -f bob@bob.test alice@alice.test || fail "bob's sendmail"
fetch_imap "$PA_IMAPS" alice@alice.test alice-pw "Re: hello bob" >"$T/alice.eml" || fail "alice did not get the answer"
grep -q "Hi Alice!" "$T/alice.eml" || fail "answer body"
out=$("$BREV" -d "$DA" queue list) || fail "alice's queue list: exit $?"
[ "$(tail -1 <<<"$out")" = "0 messages queued" ] || fail "alice's queue not empty: $out"
out=$("$BREV" -d "$DB" queue list) || fail "bob's queue list: exit $?"
[ "$(tail -1 <<<"$out")" = "0 messages queued" ] || fail "bob's queue not empty: $out"
out=$("$BREV" -d "$DA" status) || fail "status: exit $?"
grep -q "queue *0 messages" <<<"$out" || fail "status does not show the queue: $out"
brev_stop "$PID_A"
brev_stop
note ok
