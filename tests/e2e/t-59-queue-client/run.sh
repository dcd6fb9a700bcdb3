#!/bin/bash
# The SMTP client's promises (docs/delivery.md, "The SMTP client"), each
# against a scripted receiver that records what it got (queue/sink.py,
# queue/relay.py: Python, raw sockets and the ssl module):
#  - bare CR (issue 22): a message with bare CRs and "\r.\r" given to
#    `brev sendmail` reaches the receiver with CRLF line ends only and
#    whole (sendmail normalises too, as its own fix, and -i keeps the
#    lone dot that a bare CR then makes from ending the input there; the
#    writer alone is checked by the unit test below);
#  - a message over the receiver's SIZE bounces 5.3.4 and no MAIL is sent;
#  - BODY=8BITMIME on MAIL for an 8-bit message when offered, not for a
#    7-bit one, not to a server without 8BITMIME (which gets the bytes);
#  - a STARTTLS handshake that fails is retried in plaintext (direct MX),
#    but never towards the relay;
#  - at most 3 connections at a time to one MX host (6 messages queued
#    while brev was down, a receiver that holds each transaction 2 s);
#  - AUTH LOGIN to a relay that offers no PLAIN;
#  - delivery.delay_notice = 0: no delay notice, however long it waits
#    (not "at once");
#  - at most 16 entries in flight: 20 queued while brev is down for a host
#    that never greets; once its 3 connections hang, kill -9, and the next
#    start finds exactly 16 entries left leased.
# tests/unit/test_queue.c (dot_bare_cr_through_reader) checks the bare-CR
# writer against brev's strict DATA reader whatever the entry point does.
. ../lib.sh
. ../queue/lib.sh
nsd_start
cat >"$T/zone" <<'Z'
small   MX 10 mx.small
mx.small A 127.0.0.11
eight   MX 10 mx.eight
mx.eight A 127.0.0.12
seven   MX 10 mx.seven
mx.seven A 127.0.0.13
badtls  MX 10 mx.badtls
mx.badtls A 127.0.0.14
slow    MX 10 mx.slow
mx.slow A 127.0.0.15
hang    MX 10 mx.hang
mx.hang A 127.0.0.18
Z
nsd_add "$T/zone" mx.hang.test A 127.0.0.18
mkdir -p "$T/sink"
sink_start 127.0.0.4 "$T/sink"

mta_init alice alice.test 127.0.0.2
DA=$D
brev_user alice@alice.test alice-pw

relay_start() { # relay_start NAME ADDR PORT ARGS...: a scripted receiver
	mkdir -p "$T/$1"
	python3 -u "$Q/relay.py" "$2" "$3" "$T/$1/out" --transcript "$T/$1/transcript" "${@:4}" \
		>>"$T/$1/relay.log" 2>&1 &
	wait_addr_port "$2" "$3"
}
relay_start small 127.0.0.11 "$P25" --tls none --auth "" --size 1000
relay_start eight 127.0.0.12 "$P25" --tls none --auth ""
relay_start seven 127.0.0.13 "$P25" --tls none --auth "" --no-8bitmime
relay_start badtls 127.0.0.14 "$P25" --auth "" --cert "$DA/cert.pem" --key "$DA/key.pem" --broken-tls
relay_start slow 127.0.0.15 "$P25" --tls none --auth "" --delay-data 2

send() { # send SUBJECT BODY RCPT
	printf 'From: alice@alice.test\r\nSubject: %s\r\nMessage-ID: <%s@alice.test>\r\n\r\n%b' "$1" "$1" "$2" |
		"$BREV" -d "$DA" sendmail -f alice@alice.test "$3" || fail "sendmail $1"
}
# queued while brev is down: all six are due at once when it starts
for i in 1 2 3 4 5 6; do send "slow$i" 'held\r\n' "r$i@slow.test"; done
mta_start

printf 'From: alice@alice.test\r\nSubject: bare cr\r\n\r\nline1\r.\rMAIL FROM:<evil@evil.test>\rline3\r\n.lead\rend' |
	"$BREV" -d "$DA" sendmail -i -f alice@alice.test someone@sink.test || fail "sendmail"
send big "$(head -c 1500 /dev/zero | tr '\0' x)\r\n" big@small.test
send eightbit 'gr\xc3\xbc\xc3\x9fe\r\n' x@eight.test
send sevenbit 'plain\r\n' y@eight.test
send eightbit-to-7 'gr\xc3\xbc\xc3\x9fe\r\n' x@seven.test
send badtls 'hello\r\n' x@badtls.test

until_true 40 sh -c "[ \"\$('$BREV' -d '$DA' queue list | tail -1 | cut -d' ' -f1)\" = 0 ]" ||
	{ "$BREV" -d "$DA" queue list; grep 'queue id' "$DA/serve.log"; fail "the queue did not drain"; }

# bare CR
python3 - "$T/sink/1.eml" <<'PY' || fail "the receiver got bare CR or a cut message"
import re, sys
b = open(sys.argv[1], "rb").read()
want = b"line1\r\n.\r\nMAIL FROM:<evil@evil.test>\r\nline3\r\n.lead\r\nend\r\n"
if re.search(rb"\r(?!\n)|(?<!\r)\n", b):
    print("bare CR or LF in what the receiver got:", repr(b)); sys.exit(1)
if b"\r\nSubject: bare cr\r\n" not in b or b.split(b"\r\n\r\n", 1)[1] != want:
    print("got", repr(b)); sys.exit(1)
PY
[ "$(ls "$T/sink" | grep -c eml)" = 1 ] || fail "more than one message arrived at the sink"

# SIZE: bounced, never sent
grep -q 'rcpt=big@small.test mx=mx.small.test .*reply="too big" result=bounced' "$DA/serve.log" || fail "no 5.3.4 bounce line"
grep -q '^C: EHLO' "$T/small/transcript" || fail "small: no EHLO"
! grep -q '^C: MAIL' "$T/small/transcript" || fail "small: MAIL sent for a message over SIZE"

# 8BITMIME
python3 - "$T/eight/out" "$T/seven/out" <<'PY' || fail "8BITMIME"
import glob, os, sys
def env(d, rcpt):
    for f in glob.glob(os.path.join(d, "*.env")):
        lines = open(f).read().split("\n")
        if rcpt in lines[1:]:
            return lines[0], open(f[:-4] + ".eml", "rb").read()
    raise SystemExit("no message for %s in %s" % (rcpt, d))
mail, body = env(sys.argv[1], "x@eight.test")
assert mail.endswith(" BODY=8BITMIME"), mail
mail, body = env(sys.argv[1], "y@eight.test")
assert "BODY=" not in mail, mail
mail, body = env(sys.argv[2], "x@seven.test")
assert "BODY=" not in mail, mail
assert "grüße".encode() in body, body
PY

# a failed STARTTLS: the same host again, in plaintext, delivered
[ "$(grep -c '^C: STARTTLS' "$T/badtls/transcript")" = 1 ] || fail "badtls: not exactly one STARTTLS"
[ "$(grep -c '^C: EHLO' "$T/badtls/transcript")" = 2 ] || fail "badtls: no second (plaintext) session"
[ "$(ls "$T/badtls/out" | grep -c eml)" = 1 ] || fail "badtls: not delivered in plaintext"
grep -q 'rcpt=x@badtls.test mx=mx.badtls.test addr=127.0.0.14 tls=no .*result=delivered' "$DA/serve.log" ||
	fail "badtls: no plaintext delivery line"

# at most 3 connections to one host
[ "$(ls "$T/slow/out" | grep -c eml)" = 6 ] || fail "slow: not 6 messages"
MAXC=$(sed -n 's/^-- open //p' "$T/slow/transcript" | sort -n | tail -1)
[ "$MAXC" = 3 ] || { cat "$T/slow/transcript"; fail "slow: at most $MAXC connections at once, want 3"; }

# the bounce for SIZE
python3 - <<'PY' || fail "the SIZE bounce"
import os, imaplib, ssl, email
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", int(os.environ["P_IMAPS"]), ssl_context=ctx)
m.login("alice@alice.test", "alice-pw")
m.select("INBOX")
nums = m.search(None, "ALL")[1][0].split()
assert len(nums) == 1, nums
msg = email.message_from_bytes(m.fetch(nums[0], "(RFC822)")[1][0][1])
block = msg.get_payload()[1].get_payload()[1]
assert block["Final-Recipient"] == "rfc822; big@small.test", block["Final-Recipient"]
assert block["Status"] == "5.3.4", block["Status"]
assert "larger than mx.small.test accepts (1000)" in msg.get_payload()[0].get_payload()
PY
kill -TERM "$BREV_PID"; wait "$BREV_PID" || fail "alice did not stop cleanly"

# ---- through a relay (loopback, so no certificate rule applies) ----
brev_init carol carol.test
printf 'relay-secret\n' >"$D/relay.pw"
cat >>"$D/brev.conf" <<CONF
dns.resolver = 127.0.0.1:$NSD_PORT
delivery.retry = 1s
delivery.relay_user = carol
delivery.relay_password_file = relay.pw
delivery.delay_notice = 0
CONF
brev_user carol@carol.test carol-pw
RP=($(free_ports 2))
relay_start login 127.0.0.16 "${RP[0]}" --tls none --auth LOGIN
relay_start relaytls 127.0.0.17 "${RP[1]}" --auth "PLAIN" --cert "$DA/cert.pem" --key "$DA/key.pem" --broken-tls
csend() {
	printf 'From: carol@carol.test\r\nSubject: %s\r\n\r\nhi\r\n' "$1" |
		"$BREV" -d "$D" sendmail -f carol@carol.test "$2" || fail "sendmail $1"
}
brev_start -o "delivery.relay=127.0.0.16:${RP[0]}"
csend login one@sink.test
until_true 20 sh -c "ls '$T/login/out' 2>/dev/null | grep -q eml" || { grep 'queue id' "$D/serve.log"; fail "LOGIN relay got nothing"; }
grep -q '^C: AUTH LOGIN$' "$T/login/transcript" || fail "no AUTH LOGIN"
! grep -q '^C: AUTH PLAIN' "$T/login/transcript" || fail "AUTH PLAIN to a relay without PLAIN"
grep -q '^S: 235' "$T/login/transcript" || fail "LOGIN not accepted"
brev_stop

brev_start -o "delivery.relay=127.0.0.17:${RP[1]}"
csend relaytls two@sink.test
until_true 20 grep -q 'rcpt=two@sink.test .*TLS handshake with 127.0.0.17 failed.*result=deferred' "$D/serve.log" ||
	{ grep 'queue id' "$D/serve.log"; fail "broken relay TLS not deferred"; }
# let it retry a few times (delivery.retry = 1s): never in plaintext
until_true 20 sh -c "[ \$(grep -c '^C: STARTTLS' '$T/relaytls/transcript') -ge 3 ]" || fail "relay: no retries"
python3 - <<'PY' || fail "a delay notice with delivery.delay_notice = 0"
import os, imaplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", int(os.environ["P_IMAPS"]), ssl_context=ctx)
m.login("carol@carol.test", "carol-pw")
m.select("INBOX")
assert m.search(None, "ALL")[1][0].split() == []
PY
brev_stop
[ "$(grep -c '^C: EHLO' "$T/relaytls/transcript")" = "$(grep -c '^C: STARTTLS' "$T/relaytls/transcript")" ] ||
	{ cat "$T/relaytls/transcript"; fail "relay: a session without STARTTLS (plaintext retry)"; }
! grep -qE '^C: (AUTH|MAIL)' "$T/relaytls/transcript" || fail "relay: AUTH or MAIL after a failed handshake"

# ---- the in-flight cap ----
relay_start hang 127.0.0.18 "$P25" --tls none --auth "" --hang
mta_init dave dave.test 127.0.0.19
for i in $(seq 1 20); do
	printf 'From: dave@dave.test\r\nSubject: hang %s\r\n\r\nhi\r\n' "$i" |
		"$BREV" -d "$D" sendmail -f dave@dave.test "r$i@hang.test" || fail "sendmail hang $i"
done
mta_start
until_true 20 grep -q '^-- open 3$' "$T/hang/transcript" || fail "hang: no 3 connections at once"
sleep 1
brev_kill9
mta_start
until_true 20 grep -q 'queue: .* left leased by a previous run' "$D/serve.log" ||
	fail "no leases left by the killed run"
grep -q 'queue: 16 entries left leased by a previous run, due now' "$D/serve.log" ||
	{ grep 'left leased' "$D/serve.log"; fail "not 16 entries in flight"; }
brev_stop
note ok
