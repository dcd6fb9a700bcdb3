#!/bin/bash
# Issue 22, forged From on submission: an authenticated user may put only
# addresses they own in the header From and Sender (and MAIL FROM), else
# 553 5.7.1 after the data and nothing is queued or stored;
# submission.shared_senders lists exceptions. Driven by swaks (STARTTLS,
# AUTH PLAIN) and Python's smtplib (implicit TLS, AUTH LOGIN).
. ../lib.sh
brev_init from
brev_user alice@example.test alice-pw
brev_user bob@example.test bob-pass
"$BREV" -d "$D" alias add sales@example.test alice@example.test >/dev/null || fail "alias add"
echo "submission.shared_senders = news@example.test @lists.test" >>"$D/brev.conf"
brev_start

queued() { "$BREV" -d "$D" queue list | head -1 | awk '{print $1}'; }
SW() {
	swaks --server "127.0.0.1:$P_SUB" -tls \
		--auth PLAIN --auth-user alice@example.test --auth-password alice-pw \
		--to bob@example.test,far@remote.test --hide-all "$@"
}

q0=$(queued)
# The forgery of the issue: envelope hers, header bob's.
rc=0; SW --from alice@example.test --header "From: The Boss <bob@example.test>" 2>"$T/swaks.err" || rc=$?
[ $rc = 26 ] || fail "forged From: swaks exit $rc (26 = refused after DATA)"
# The MAIL FROM of someone else is refused at MAIL.
rc=0; SW --from bob@example.test --header "From: bob@example.test" || rc=$?
[ $rc = 23 ] || fail "forged MAIL FROM: swaks exit $rc (23 = MAIL refused)"
[ "$(queued)" = "$q0" ] || fail "a refused message was queued"
grep -q "header sender refused .*user=alice@example.test from=<bob@example.test>" "$D/serve.log" ||
	fail "no log line for the refusal"
# Her own address, an alias of hers, a shared address: accepted.
SW --from alice@example.test --header "From: Alice <alice@example.test>" || fail "own From"
SW --from sales@example.test --header "From: =?utf-8?q?Sales?= <sales@example.test>" || fail "alias From"
SW --from alice@example.test --header "From: news@example.test" \
	--add-header "Sender: alice@example.test" || fail "shared From"

python3 -u - <<'PY' || fail "smtplib"
import os, smtplib, ssl
ctx = ssl.create_default_context(cafile=os.environ["D"] + "/cert.pem")
def send(hdr, env="alice@example.test"):
    s = smtplib.SMTP_SSL("localhost", int(os.environ["P_SUBS"]), context=ctx, timeout=30)
    s.ehlo("client.test")
    s.esmtp_features["auth"] = "LOGIN"
    s.login("alice@example.test", "alice-pw")
    try:
        s.sendmail(env, ["bob@example.test"], hdr + "Subject: t\r\n\r\nbody\r\n")
        return 250, ""
    except smtplib.SMTPDataError as e:
        return e.smtp_code, e.smtp_error.decode()
    finally:
        s.close()
ok = [
    "From: alice@example.test (The Boss)\r\n",
    "From: Team: alice@example.test, Sales <sales@example.test>;\r\n",
    "From: \"Boss, The\" <alice+x@example.test>\r\n",
    "From: anyone@lists.test\r\n",
]
bad = [
    ("From: alice@example.test, bob@example.test\r\n", "<bob@example.test>"),
    ("From: Team: alice@example.test, bob@example.test;\r\n", "<bob@example.test>"),
    ("From: alice@example.test\r\nSender: bob@example.test\r\n", "<bob@example.test>"),
    ("From: =?utf-8?q?bob=40example=2Etest?= <bob@example.test>\r\n", "<bob@example.test>"),
    ("From: bob@example.test <alice@example.test>\r\n", "The From field"),
    ("From: <alice@example.test> <bob@example.test>\r\n", "The From field"),
]
# a From far down the header is still found; past 1 MiB of header: 552
pad = "".join("X-Pad-%d: %s\r\n" % (i, "a" * 980) for i in range(1000))
code, text = send(pad + "From: bob@example.test\r\n")
assert code == 553 and "<bob@example.test>" in text, (code, text[:200])
pad = "".join("X-Pad-%d: %s\r\n" % (i, "a" * 980) for i in range(1100))
code, text = send(pad + "From: alice@example.test\r\n")
assert code == 552 and text.startswith("5.3.4"), (code, text[:200])
for h in ok:
    code, text = send(h)
    assert code == 250, (h, code, text)
for h, why in bad:
    code, text = send(h)
    assert code == 553 and text.startswith("5.7.1") and why in text, (h, code, text)
print("smtplib ok")
PY

# What bob got: the accepted ones only, DKIM-signed or not, never the forgeries.
python3 -u - <<'PY' || fail "bob's mailbox"
import os, imaplib, ssl
ctx = ssl.create_default_context(cafile=os.environ["D"] + "/cert.pem")
m = imaplib.IMAP4_SSL("localhost", int(os.environ["P_IMAPS"]), ssl_context=ctx)
m.login("bob@example.test", "bob-pass")
m.select("INBOX")
typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (FROM)])")
froms = [d[1].decode().strip() for d in data if isinstance(d, tuple)]
assert len(froms) == 7, froms
assert not any("bob@example.test" in f for f in froms), froms
m.logout()
print("mailbox ok")
PY
[ -z "${KEEP:-}" ] || sleep 600
brev_stop
