#!/bin/bash
# SMTP policy from issues 22 and 23, against a real `brev serve` with
# Python's smtplib and swaks:
#  - postmaster@ works for every local domain with no set-up by hand: the
#    domain of the first account, <Postmaster> without a domain (RFC 5321
#    4.5.1, on the MX port), and a domain added to `domains` later;
#  - a refused RCPT is logged with the address and why;
#  - 100 commands without progress end the session with 421;
#  - submission refuses an address-literal recipient at RCPT;
#  - `brev sendmail` acceptances reach the server's log;
#  - the Received field names the client's forward-confirmed reverse DNS
#    name (nsd serves PTR and A records for 127.0.0.x).
. ../lib.sh
NSD_PORT=$(free_port)
mkdir -p "$T/nsd"
cat >"$T/nsd/fcr.zone" <<'ZONE'
$ORIGIN fcr.test.
$TTL 60
@       SOA ns.fcr.test. admin.fcr.test. 1 3600 600 86400 60
@       NS  ns
ns      A   127.0.0.53
client  A   127.0.0.2
liar    A   127.0.0.9
ZONE
cat >"$T/nsd/rev.zone" <<'ZONE'
$ORIGIN 127.in-addr.arpa.
$TTL 60
@       SOA ns.fcr.test. admin.fcr.test. 1 3600 600 86400 60
@       NS  ns.fcr.test.
2.0.0   PTR Client.FCR.test.
3.0.0   PTR liar.fcr.test.
ZONE
nsd_run 127.0.0.1 "$NSD_PORT" fcr.test="$T/nsd/fcr.zone" 127.in-addr.arpa="$T/nsd/rev.zone"
i=0
until timeout 2 drill -p "$NSD_PORT" @127.0.0.1 -x 127.0.0.2 2>/dev/null | grep -qi "client.fcr.test"; do
	i=$((i + 1)); [ $i -lt 100 ] || { cat "$T/nsd/out.log"; fail "nsd does not answer"; }
	sleep 0.05
done

brev_init pol
brev_user alice@example.test alice-pw
brev_user bob@example.test bob-pass
# a domain added after the accounts, with none of its own
sed -i 's/^domains = .*/domains = example.test later.test/' "$D/brev.conf"
grep -q '^domains = example.test later.test' "$D/brev.conf" || fail "could not set domains"
echo "dns.resolver = 127.0.0.1:$NSD_PORT" >>"$D/brev.conf"
brev_start

python3 -u - <<'PY' || fail "postmaster"
import os, smtplib
s = smtplib.SMTP("127.0.0.1", int(os.environ["P_SMTP"]), timeout=30)
s.ehlo("client.test")
assert s.mail("x@remote.test")[0] == 250
for r in ("Postmaster", "postmaster@example.test", "PostMaster@later.test"):
    code, text = s.rcpt(r)
    assert code == 250, (r, code, text)
code, text = s.rcpt("nobody@example.test")
assert code == 550, (code, text)
code, text = s.data(b"From: x@remote.test\r\nSubject: to the postmaster\r\n\r\nhi\r\n")
assert code == 250, (code, text)
s.quit()
print("postmaster ok")
PY
python3 -u - <<'PY' || fail "alice's mailbox"
import os, imaplib
m = imaplib.IMAP4("127.0.0.1", int(os.environ["P_IMAP"]))
m.login("alice@example.test", "alice-pw")
m.select("INBOX")
typ, data = m.search(None, "SUBJECT", '"to the postmaster"')
assert len(data[0].split()) == 1, data
m.logout()
PY
grep -q 'rcpt refused .*to=<nobody@example.test> reason=unknown: 550 5.1.1' "$D/serve.log" ||
	fail "no log line for the refused recipient"

python3 -u - <<'PY' || fail "junk limit"
import os, smtplib
s = smtplib.SMTP("127.0.0.1", int(os.environ["P_SMTP"]), timeout=30)
s.ehlo("client.test")
for i in range(99):
    code, _ = (s.noop, s.rset, lambda: s.verify("alice"), lambda: s.docmd("HELP"))[i % 4]()
    assert code in (250, 252, 214), (i, code)
code, text = s.noop()       # the 100th is answered, then the session ends
assert code == 250, code
try:
    code, text = s.getreply()
except smtplib.SMTPServerDisconnected:
    code, text = 0, b""
assert code == 421 and b"Too many commands" in text, (code, text)
try:
    s.noop()
    raise SystemExit("still open after 421")
except smtplib.SMTPServerDisconnected:
    pass
print("junk ok")
PY
grep -q 'smtp session end .* reason=junk' "$D/serve.log" || fail "session end reason"

q0=$("$BREV" -d "$D" queue list | head -1)
rc=0
swaks --server "127.0.0.1:$P_SUB" --auth PLAIN --auth-user alice@example.test \
	--auth-password alice-pw --from alice@example.test --to 'peer@[127.0.0.1]' \
	--hide-all >"$T/swaks.out" 2>&1 || rc=$?
[ $rc = 24 ] || fail "address literal: swaks exit $rc (24 = RCPT refused)"
grep -q 'reason=address-literal: 553 5.1.2' "$D/serve.log" || fail "literal: no log line"
[ "$("$BREV" -d "$D" queue list | head -1)" = "$q0" ] || fail "literal recipient queued"
rc=0; printf 'Subject: x\n\nx\n' | "$BREV" -d "$D" sendmail 'peer@[127.0.0.1]' 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -q "address literals are not accepted" "$T/err" || fail "sendmail literal: $rc $(cat "$T/err")"

# brev sendmail's acceptance in the server's log
printf 'Subject: by sendmail\n\nx\n' | "$BREV" -d "$D" sendmail -f alice@example.test bob ||
	fail "sendmail"
until_log() { local i=0; until grep -q "$1" "$D/serve.log"; do
	i=$((i + 1)); [ $i -lt 100 ] || return 1; sleep 0.05; done; }
until_log 'info sendmail id=[0-9A-Z]\{16\} user=[^ ]* from=<alice@example.test> rcpts=1 .*delivered=1' ||
	fail "no sendmail line in the server's log"

# Received: the verified name for 127.0.0.2, "unknown" for a PTR whose name
# does not point back (127.0.0.3) and for no PTR at all (127.0.0.4);
# "localhost" for the machine's own 127.0.0.1
python3 -u - <<'PY' || fail "Received"
import os, smtplib, imaplib, time
for src in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.1"):
    s = smtplib.SMTP("127.0.0.1", int(os.environ["P_SMTP"]), timeout=30,
                     source_address=(src, 0), local_hostname="client.test")
    s.sendmail("x@remote.test", ["bob@example.test"],
               ("Subject: from %s\r\n\r\nx\r\n" % src).encode())
    s.quit()
m = imaplib.IMAP4("127.0.0.1", int(os.environ["P_IMAP"]))
m.login("bob@example.test", "bob-pass")
m.select("INBOX")
want = {"127.0.0.2": "client.fcr.test", "127.0.0.3": "unknown", "127.0.0.4": "unknown",
        "127.0.0.1": "localhost"}
for src, name in want.items():
    typ, data = m.search(None, "SUBJECT", '"from %s"' % src)
    n = data[0].split()
    assert len(n) == 1, (src, data)
    typ, data = m.fetch(n[0], "(BODY.PEEK[HEADER.FIELDS (RECEIVED)])")
    rec = data[0][1].decode()
    line = "Received: from client.test (%s [%s])" % (name, src)
    assert rec.startswith(line), (src, rec)
m.logout()
print("received ok")
PY
brev_stop
