#!/bin/bash
# Outbound retries and bounces against scripted receivers and a real DNS
# server (nsd, behind a scripted responder that answers SERVFAIL for
# servfail.test). brev for alice.test on 127.0.0.2 sends with
# delivery.retry = 1s 2s:
#   451 then 250 -> delivered on the retry; 550 -> a DSN in alice's INBOX
#   that Python's email parser reads as multipart/report with the right
#   Final-Recipient and Status; null MX and NXDOMAIN bounce at once;
#   SERVFAIL stays queued; a UTF-8 header to a server without SMTPUTF8
#   bounces (5.6.7); no MX -> the implicit MX; a dead first MX -> the second.
#   Every DSN is DKIM-signed (RSA and Ed25519): dkimpy verifies it with the
#   public keys of the private keys in DATADIR/dkim.
. ../lib.sh
. ../queue/lib.sh
nsd_start
DNSP=$(free_port)
python3 -u "$Q/dnsproxy.py" "$DNSP" "$NSD_PORT" >"$T/dnsproxy.log" 2>&1 &
RESOLVER=127.0.0.1:$DNSP
mkdir -p "$T/sink4" "$T/sink5"
sink_start 127.0.0.4 "$T/sink4"
sink_start 127.0.0.5 "$T/sink5" --no-utf8

mta_init alice alice.test 127.0.0.2
brev_user alice@alice.test alice-pw
mta_start

send() { # send SUBJECT RCPT...
	local subj=$1
	shift
	printf 'From: alice@alice.test\r\nSubject: %s\r\nMessage-ID: <%s@alice.test>\r\n\r\nhello %s\r\n.dot line\r\n' \
		"$subj" "$subj" "$subj" | "$BREV" -d "$D" sendmail -f alice@alice.test "$@" || fail "sendmail $subj"
}
send retry tempfail1@sink.test ok1@sink.test
send reject reject1@sink.test
send nullmx someone@nullmx.test
send nxdomain someone@nxdomain.test
send servfail someone@servfail.test
send implicit someone@nomx.test
send backup someone@backup.test
printf 'From: alice@alice.test\r\nSubject: gr\xc3\xbc\xc3\x9fe\r\nMessage-ID: <utf8@alice.test>\r\n\r\nhi\r\n' |
	"$BREV" -d "$D" sendmail -f alice@alice.test someone@utf8.test || fail "sendmail utf8"

# Everything but servfail leaves the queue (the retry after 1 s included).
until_true 30 sh -c "[ \"\$('$BREV' -d '$D' queue list | tail -1 | cut -d' ' -f1)\" = 1 ]" || {
	"$BREV" -d "$D" queue list
	fail "queue did not drain to the SERVFAIL entry"
}
out=$("$BREV" -d "$D" queue list) || fail "queue list: exit $?"
grep -q "someone@servfail.test" <<<"$out" || fail "servfail entry not queued: $out"
grep -qi "servfail\|SERVFAIL\|server fail" <<<"$out" || fail "no reason recorded for the SERVFAIL entry: $out"
grep -q 'rcpt=tempfail1@sink.test.*result=deferred' "$D/serve.log" || fail "no deferred line for the 451"
grep -q 'rcpt=tempfail1@sink.test mx=mx.sink.test addr=127.0.0.4 tls=no .*result=delivered' "$D/serve.log" ||
	fail "no delivered line for the retry"
[ -z "$(ls "$T/sink5")" ] || fail "the non-SMTPUTF8 server got the UTF-8 message"

python3 - "$T/sink4" <<'PY' || fail "sink contents"
import os, sys, email
d = sys.argv[1]
got = {}
for f in os.listdir(d):
    if f.endswith(".env"):
        env = open(os.path.join(d, f)).read().split("\n")
        msg = email.message_from_binary_file(open(os.path.join(d, f[:-4] + ".eml"), "rb"))
        for r in filter(None, env[1:]):
            got.setdefault(r, []).append(msg["Message-ID"])
        assert env[0] == "alice@alice.test", env
        assert ".dot line" in msg.get_payload(), msg.get_payload()
want = {"ok1@sink.test": ["<retry@alice.test>"], "tempfail1@sink.test": ["<retry@alice.test>"],
        "someone@nomx.test": ["<implicit@alice.test>"], "someone@backup.test": ["<backup@alice.test>"]}
assert got == want, got
PY

# DSNs in alice's INBOX, read over IMAP.
python3 - <<'PY' || fail "DSNs"
import os, imaplib, ssl, email, email.utils
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", int(os.environ["P_IMAPS"]), ssl_context=ctx)
m.login("alice@alice.test", "alice-pw")
m.select("INBOX")
typ, data = m.search(None, "ALL")
status = {}
for n in data[0].split():
    raw = m.fetch(n, "(RFC822)")[1][0][1]
    msg = email.message_from_bytes(raw)
    assert msg.get_content_type() == "multipart/report", msg.get_content_type()
    assert msg.get_param("report-type") == "delivery-status"
    assert msg["Auto-Submitted"] == "auto-replied"
    # docs/delivery.md: from MAILER-DAEMON@hostname
    assert email.utils.parseaddr(msg["From"])[1].lower() == "mailer-daemon@mx.alice.test", msg["From"]
    parts = msg.get_payload()
    assert parts[0].get_content_type() == "text/plain"
    human = parts[0].get_payload()
    ds = parts[1]
    assert ds.get_content_type() == "message/delivery-status"
    blocks = ds.get_payload()
    assert blocks[0]["Reporting-MTA"] == "dns; mx.alice.test", blocks[0]["Reporting-MTA"]
    assert blocks[0]["Arrival-Date"], blocks[0]
    assert parts[2].get_content_type() == "text/rfc822-headers"
    for b in blocks[1:]:
        assert b["Action"] == "failed", b["Action"]
        fr = b["Final-Recipient"]
        assert b["Last-Attempt-Date"], b  # docs/delivery.md's per-recipient fields
        if fr == "rfc822; reject1@sink.test":
            assert b["Remote-MTA"], b
        status[fr] = (b["Status"], b["Diagnostic-Code"], human)
print(sorted(status))
s = status["rfc822; reject1@sink.test"]
assert s[0] == "5.1.1" and s[1].startswith("smtp; 550 5.1.1"), s
assert "answered: 550 5.1.1" in s[2], s[2]
assert status["rfc822; someone@nullmx.test"][0] == "5.1.10"
assert status["rfc822; someone@nxdomain.test"][0] == "5.1.2"
assert status["rfc822; someone@utf8.test"][0] == "5.6.7"
assert "SMTPUTF8" in status["rfc822; someone@utf8.test"][2]
assert len(status) == 4, status
PY

# Each DSN carries brev's DKIM signatures (d=alice.test: the host name
# mx.alice.test lies in alice.test), and dkimpy verifies them with the
# public halves of the keys in DATADIR/dkim.
export T
/usr/bin/python3 - "$D/dkim" <<'PY' || fail "DSN signatures"
import base64, glob, imaplib, os, re, ssl, subprocess, sys, dkim
recs = {}
for f in glob.glob(os.path.join(sys.argv[1], "*.key")):
    dom, sel = re.match(r"(.*)\.([^.]+)\.key$", os.path.basename(f)).groups()
    der = subprocess.run(["openssl", "pkey", "-in", f, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    if sel.endswith("-ed"):
        rec = b"v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:])
    else:
        rec = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
    recs[("%s._domainkey.%s." % (sel, dom)).encode()] = rec
assert len(recs) == 2, recs
def dnsfunc(name, timeout=5):
    return recs.get(name if name.endswith(b".") else name + b".")
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", int(os.environ["P_IMAPS"]), ssl_context=ctx)
m.login("alice@alice.test", "alice-pw")
m.select("INBOX")
nums = m.search(None, "ALL")[1][0].split()
assert len(nums) == 4, nums
for n in nums:
    raw = m.fetch(n, "(RFC822)")[1][0][1]
    assert raw.startswith(b"DKIM-Signature:"), raw[:200]
    assert b"\0" not in raw, "a NUL byte in the DSN"
    d = dkim.DKIM(raw)
    for i in range(2):
        assert d.verify(idx=i, dnsfunc=dnsfunc), (n, i, raw[:600])
    # and an altered body fails
    bad = raw.replace(b"could not be delivered", b"could not be deliverd", 1)
    assert bad != raw
    try:
        ok = dkim.DKIM(bad).verify(idx=0, dnsfunc=dnsfunc)
    except dkim.ValidationError:  # dkimpy raises on a body hash mismatch
        ok = False
    assert not ok, "an altered DSN still verifies"
print("DSN signatures verified:", len(nums))
PY

# queue flush reaches the server; the SERVFAIL entry is tried again.
out=$("$BREV" -d "$D" queue flush) || fail "queue flush: exit $?"
grep -q "flush sent" <<<"$out" || fail "queue flush did not reach the server: $out"
until_true 10 grep -q "queue: flush" "$D/serve.log" || fail "no flush in the log"
brev_stop
note "ok"
