#!/bin/bash
# SMTP with independent clients against a real `brev serve`: swaks over the
# MX port (plain, STARTTLS), submission (STARTTLS + PLAIN/LOGIN/CRAM-MD5)
# and submissions (implicit TLS); curl smtp:// and smtps:// verifying the
# server's certificate; Python's smtplib with STARTTLS, each AUTH mechanism
# (SCRAM-SHA-256 by hand) and SMTPUTF8. Every message is read back through
# POP3 and `brev queue list` shows what went to the outbound queue.
. ../lib.sh
brev_init smtpc
brev_user alice@example.test alice-pw
brev_user bob@example.test bob-pass
"$BREV" -d "$D" alias add "jörg@example.test" alice@example.test >/dev/null || fail "utf-8 alias"
brev_start

sw() { swaks --hide-all --server "127.0.0.1:$1" "${@:2}"; }

# MX, plain and STARTTLS
sw "$P_SMTP" --from x@remote.test --to alice@example.test --header "Subject: swaks-mx-plain" ||
	fail "swaks mx plain: $?"
sw "$P_SMTP" -tls --from x@remote.test --to alice@example.test --header "Subject: swaks-mx-tls" ||
	fail "swaks mx starttls: $?"
sw "$P_SMTP" --pipeline --from x@remote.test --to alice@example.test,bob@example.test \
	--header "Subject: swaks-mx-pipeline" || fail "swaks mx pipeline: $?"
# MX refuses relaying (exit 24: RCPT failed) and AUTH (28)
rc=0; sw "$P_SMTP" --from x@remote.test --to bob@remote.test || rc=$?
[ $rc -eq 24 ] || fail "relay through MX: swaks exit $rc, want 24"
rc=0; sw "$P_SMTP" -tls --auth PLAIN --auth-user alice@example.test --auth-password alice-pw \
	--from alice@example.test --to bob@remote.test || rc=$?
[ $rc -eq 28 ] || fail "AUTH on MX: swaks exit $rc, want 28"

# submission: STARTTLS + each mechanism; and implicit TLS
for mech in PLAIN LOGIN CRAM-MD5; do
	sw "$P_SUB" -tls --auth "$mech" --auth-user alice@example.test --auth-password alice-pw \
		--from alice@example.test --to bob@example.test --header "Subject: swaks-sub-$mech" ||
		fail "swaks submission $mech: $?"
done
sw "$P_SUBS" --tls-on-connect --auth PLAIN --auth-user alice@example.test --auth-password alice-pw \
	--from alice@example.test --to bob@example.test --header "Subject: swaks-subs" ||
	fail "swaks submissions: $?"
# wrong password (28), no AUTH (23 at MAIL), someone else's sender (23)
rc=0; sw "$P_SUB" -tls --auth PLAIN --auth-user alice@example.test --auth-password nope \
	--from alice@example.test --to bob@example.test || rc=$?
[ $rc -eq 28 ] || fail "bad password: swaks exit $rc, want 28"
rc=0; sw "$P_SUB" -tls --from alice@example.test --to bob@example.test || rc=$?
[ $rc -eq 23 ] || fail "MAIL without AUTH: swaks exit $rc, want 23"
rc=0; sw "$P_SUB" -tls --auth PLAIN --auth-user alice@example.test --auth-password alice-pw \
	--from bob@example.test --to bob@example.test || rc=$?
[ $rc -eq 23 ] || fail "foreign sender: swaks exit $rc, want 23"
# a remote recipient from submission is queued
sw "$P_SUB" -tls --auth LOGIN --auth-user alice --auth-password alice-pw \
	--from alice@example.test --to carol@remote.test --header "Subject: swaks-remote" ||
	fail "swaks submission to remote: $?"
out=$("$BREV" -d "$D" queue list) || fail "queue list: exit $?"
grep -q "carol@remote.test" <<<"$out" || fail "remote recipient not queued: $out"

# curl, verifying the certificate (CN/SAN localhost)
printf 'From: x@remote.test\r\nTo: alice@example.test\r\nSubject: curl-mx\r\n\r\nhello\r\n' >"$T/m1"
curl -sS --max-time 20 "smtp://localhost:$P_SMTP/client.test" --ssl-reqd --cacert "$D/cert.pem" \
	--mail-from x@remote.test --mail-rcpt alice@example.test -T "$T/m1" || fail "curl mx: $?"
printf 'From: alice@example.test\r\nTo: bob@example.test\r\nSubject: curl-subs\r\n\r\nhi\r\n' >"$T/m2"
curl -sS --max-time 20 "smtps://localhost:$P_SUBS/client.test" --cacert "$D/cert.pem" \
	--user alice@example.test:alice-pw --mail-from alice@example.test \
	--mail-rcpt bob@example.test -T "$T/m2" || fail "curl smtps: $?"
rc=0; curl -sS --max-time 20 "smtps://localhost:$P_SUBS/client.test" --cacert "$D/cert.pem" \
	--user alice@example.test:wrong --mail-from alice@example.test \
	--mail-rcpt bob@example.test -T "$T/m2" 2>/dev/null || rc=$?
[ $rc -eq 67 ] || fail "curl bad password: exit $rc, want 67"

python3 -u clients.py || fail "smtplib"

# read back: alice got 3 (swaks mx) + 1 (curl) + python's; bob the submissions
python3 -u - <<'PY' || fail "read back"
import os, poplib
def fetch(user, pw):
    p = poplib.POP3("127.0.0.1", int(os.environ["P_POP3"]), timeout=20)
    p.user(user); p.pass_(pw)
    n = len(p.list()[1])
    msgs = [b"\r\n".join(p.retr(i + 1)[1]) for i in range(n)]
    p.quit()
    return msgs
def subjects(msgs):
    out = []
    for m in msgs:
        for line in m.split(b"\r\n"):
            if line.startswith(b"Subject: "):
                out.append(line[9:].decode())
    return out
a, b = fetch("alice@example.test", "alice-pw"), fetch("bob@example.test", "bob-pass")
sa, sb = subjects(a), subjects(b)
for want in ["swaks-mx-plain", "swaks-mx-tls", "swaks-mx-pipeline", "curl-mx", "py-mx-tls",
             "py-utf8"]:
    assert want in sa, (want, sa)
for want in ["swaks-mx-pipeline", "swaks-sub-PLAIN", "swaks-sub-LOGIN", "swaks-sub-CRAM-MD5",
             "swaks-subs", "curl-subs", "py-PLAIN", "py-LOGIN", "py-CRAM-MD5", "py-SCRAM-SHA-256"]:
    assert want in sb, (want, sb)
assert "swaks-remote" not in sa + sb
for m in a + b:
    assert m.startswith(b"Return-Path: <"), m[:80]
    assert b"\r\nReceived: from " in m[:200], m[:200]
def one(subject, msgs):
    return [m for m in msgs if b"Subject: " + subject.encode() in m][0]
assert b"with ESMTPS id" in one("swaks-mx-tls", a)
assert b"(using TLSv1." in one("swaks-mx-tls", a)
assert b"with ESMTP id" in one("swaks-mx-plain", a)
assert b"for <alice@example.test>" in one("swaks-mx-plain", a)
assert b"for <" not in one("swaks-mx-pipeline", a)    # two recipients
assert b"with ESMTPSA id" in one("swaks-subs", b)
assert b"with UTF8SMTPS" in one("py-utf8", a)
print("read back ok:", len(a), "for alice,", len(b), "for bob")
PY
brev_stop
