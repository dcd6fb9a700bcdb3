#!/bin/bash
# delivery.relay on a NON-loopback address (192.0.2.25, inside a network
# namespace this test makes), where brev's loopback exception cannot apply:
# the password goes only over TLS whose certificate verified (issue 22).
# The smarthost is tests/e2e/queue/relay.py (Python's ssl, i.e. OpenSSL),
# which writes a transcript of every line it receives. Certificates come
# from openssl here: a test CA, leaves it signed for the right and for a
# wrong name, a self-signed leaf.
#   self-signed, no relay_ca         deferred, no AUTH, reason in log + queue
#   CA-signed for another name       deferred, no AUTH
#   CA-signed, delivery.relay_ca     delivered, AUTH PLAIN inside TLS, verified
#   self-signed, its fingerprint     delivered (pin); another pin: deferred
#   a bad relay_fingerprint value    deferred with the reason, logged at start
#   no STARTTLS, non-loopback        deferred, no AUTH (issue 24, t-54 item)
#   STARTTLS refused (454)           deferred, no AUTH
#   no STARTTLS, loopback            AUTH sent: the documented exception
if [ -z "${IN_NS:-}" ]; then
	exec unshare --net --fork env IN_NS=1 bash "$0" "$@"
fi
. ../lib.sh
. ../queue/lib.sh
ip link set lo up
ip addr add 192.0.2.25/32 dev lo
nsd_start
cat >"$T/relay.zone" <<'Z'
smtp.relay A 192.0.2.25
local.relay A 127.0.0.9
Z
nsd_add "$T/relay.zone" smtp.relay.test A 192.0.2.25

# ---- certificates ----
C=$T/certs; mkdir -p "$C"
(
	cd "$C"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -subj '/CN=t57 test CA' -days 2
	for n in smtp.relay.test other.relay.test; do
		printf 'subjectAltName=DNS:%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' "$n" >"$n.ext"
		openssl req -new -newkey rsa:2048 -nodes -keyout "$n.key" -out "$n.csr" -subj "/CN=$n"
		openssl x509 -req -in "$n.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$n.pem" -days 2 -extfile "$n.ext"
	done
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout self.key -out self.pem \
		-subj /CN=smtp.relay.test -addext subjectAltName=DNS:smtp.relay.test -days 2
) >"$T/openssl.log" 2>&1 || { cat "$T/openssl.log"; fail "openssl"; }
FP_SELF=$(openssl x509 -in "$C/self.pem" -noout -fingerprint -sha256 | cut -d= -f2)
FP_OTHER=$(openssl x509 -in "$C/smtp.relay.test.pem" -noout -fingerprint -sha256 | cut -d= -f2)
[ ${#FP_SELF} -eq 95 ] || fail "fingerprint: $FP_SELF"

# ---- the sender ----
brev_init carol carol.test
printf 'relay-secret\n' >"$D/relay.pw"
chmod 600 "$D/relay.pw"
cp "$C/ca.pem" "$D/relay-ca.pem"
cat >>"$D/brev.conf" <<CONF
dns.resolver = 127.0.0.1:$NSD_PORT
delivery.retry = 1s
delivery.relay_user = carol
delivery.relay_password_file = relay.pw
CONF

RP=($(free_ports 9))
relay_start() { # relay_start NAME ADDR PORT ARGS...: a scripted smarthost
	mkdir -p "$T/$1"
	python3 -u "$Q/relay.py" "$2" "$3" "$T/$1/out" --transcript "$T/$1/transcript" "${@:4}" \
		>>"$T/$1/relay.log" 2>&1 &
	echo $! >"$T/$1/pid"
	wait_addr_port "$2" "$3"
}
relay_stop() { kill "$(cat "$T/$1/pid")"; wait "$(cat "$T/$1/pid")" 2>/dev/null || true; }
send() { # send SUBJECT RCPT
	printf 'From: carol@carol.test\r\nSubject: %s\r\nMessage-ID: <%s@carol.test>\r\n\r\nvia the relay\r\n' "$1" "$1" |
		"$BREV" -d "$D" sendmail -f carol@carol.test "$2" || fail "sendmail $1"
}
# wait_log PATTERN WHAT: until serve.log has a line matching PATTERN.
wait_log() {
	until_true 20 grep -qE "$1" "$D/serve.log" || { grep 'queue' "$D/serve.log" | tail; fail "$2"; }
}
no_auth() { # no_auth NAME: the relay never saw AUTH (nor MAIL)
	[ -f "$T/$1/transcript" ] || fail "$1: the relay saw no connection"
	grep -q '^C: EHLO' "$T/$1/transcript" || fail "$1: no EHLO in the transcript"
	! grep -qE '^C: (AUTH|MAIL)' "$T/$1/transcript" || { cat "$T/$1/transcript"; fail "$1: brev sent AUTH or MAIL"; }
	! grep -q 'relay-secret\|cmVsYXktc2VjcmV0' "$T/$1/transcript" || fail "$1: the password reached the relay"
}

# 1. self-signed certificate, checked against the system store: refused.
relay_start self 192.0.2.25 "${RP[0]}" --cert "$C/self.pem" --key "$C/self.key"
brev_start -o "delivery.relay=smtp.relay.test:${RP[0]}"
send selfsigned one@sink.test
wait_log 'rcpt=one@sink.test mx=smtp.relay.test addr=192.0.2.25 tls=TLSv1.2/unverified reply="relay smtp.relay.test: certificate not verified \(not issued by a trusted authority.*not sending the password" result=deferred' \
	"self-signed relay not deferred with the reason"
"$BREV" -d "$D" queue list >"$T/q1" || fail "queue list"
grep -q 'certificate not verified' "$T/q1" || { cat "$T/q1"; fail "brev queue does not show the reason"; }
brev_stop
relay_stop self
no_auth self
grep -q '^-- tls' "$T/self/transcript" || fail "self: brev did not even start TLS"

# 2. a certificate from the trusted CA, issued for another name: refused.
relay_start wrongname 192.0.2.25 "${RP[1]}" --cert "$C/other.relay.test.pem" --key "$C/other.relay.test.key"
brev_start -o "delivery.relay=smtp.relay.test:${RP[1]}" -o delivery.relay_ca=relay-ca.pem
send wrongname two@sink.test
wait_log 'rcpt=two@sink.test .*certificate not verified \(issued for another host name\); not sending the password" result=deferred' \
	"wrong-name relay not deferred"
brev_stop
relay_stop wrongname
no_auth wrongname

# 3. not offering STARTTLS on a non-loopback address: refused (issue 24).
relay_start plain 192.0.2.25 "${RP[2]}" --tls none
brev_start -o "delivery.relay=smtp.relay.test:${RP[2]}"
send plaintext three@sink.test
wait_log 'rcpt=three@sink.test .*tls=no reply="relay smtp.relay.test did not offer TLS \(STARTTLS\); not sending the password" result=deferred' \
	"plaintext non-loopback relay not deferred"
brev_stop
relay_stop plain
no_auth plain
grep -q '^S: 250 AUTH PLAIN LOGIN' "$T/plain/transcript" || fail "plain: the relay did not offer AUTH (test broken)"

# 3b. STARTTLS announced, then refused (454): the same.
relay_start refused 192.0.2.25 "${RP[8]}" --tls none --refuse-starttls
brev_start -o "delivery.relay=smtp.relay.test:${RP[8]}"
send refused threeb@sink.test
wait_log 'rcpt=threeb@sink.test .*tls=no reply="relay smtp.relay.test did not offer TLS \(STARTTLS\); not sending the password" result=deferred' \
	"relay refusing STARTTLS not deferred"
brev_stop
relay_stop refused
no_auth refused
grep -q '^S: 454' "$T/refused/transcript" || fail "refused: no 454 (test broken)"
grep -q '^S: 250 AUTH PLAIN LOGIN' "$T/refused/transcript" || fail "refused: the relay did not offer AUTH (test broken)"

# 4. a bad fingerprint value: nothing goes to the relay, the reason is logged.
relay_start badpin 192.0.2.25 "${RP[3]}" --cert "$C/self.pem" --key "$C/self.key"
brev_start -o "delivery.relay=smtp.relay.test:${RP[3]}" -o "delivery.relay_fingerprint=AB:CD"
wait_log "error queue: delivery.relay_fingerprint: 'AB:CD' is not a SHA-256 fingerprint" "bad pin not logged at start"
send badpin four@sink.test
wait_log "rcpt=four@sink.test .*reply=\"delivery.relay_fingerprint: 'AB:CD' is not a SHA-256 fingerprint.*result=deferred" \
	"bad pin value not deferred"
brev_stop
relay_stop badpin
! grep -q "^C: " "$T/badpin/transcript" 2>/dev/null || fail "badpin: brev spoke to the relay"

# 5. pinned to another certificate than the one served: refused.
relay_start wrongpin 192.0.2.25 "${RP[4]}" --cert "$C/self.pem" --key "$C/self.key"
brev_start -o "delivery.relay=smtp.relay.test:${RP[4]}" -o "delivery.relay_fingerprint=$FP_OTHER"
send wrongpin five@sink.test
wait_log 'rcpt=five@sink.test .*certificate not verified \(its fingerprint is not the one in delivery.relay_fingerprint\)' \
	"wrong pin not deferred"
brev_stop
relay_stop wrongpin
no_auth wrongpin
[ "$("$BREV" -d "$D" queue list | tail -1 | awk '{print $1}')" = 6 ] || fail "not 6 messages waiting"

# 6. the right CA and name: everything waiting goes out, AUTH inside TLS.
relay_start good 192.0.2.25 "${RP[5]}" --cert "$C/smtp.relay.test.pem" --key "$C/smtp.relay.test.key"
brev_start -o "delivery.relay=smtp.relay.test:${RP[5]}" -o delivery.relay_ca=relay-ca.pem
until_true 30 sh -c "[ \$(ls '$T/good/out' 2>/dev/null | grep -c eml) -ge 6 ]" ||
	{ grep queue "$D/serve.log" | tail; fail "the verified relay did not get the 6 waiting messages"; }
grep -q 'rcpt=one@sink.test mx=smtp.relay.test addr=192.0.2.25 tls=TLSv1.2/verified .*result=delivered' "$D/serve.log" ||
	fail "no verified delivery line"
awk '/^-- tls/{t=1} /^C: AUTH PLAIN /{print (t ? "tls" : "plain"); exit}' "$T/good/transcript" | grep -qx tls ||
	{ cat "$T/good/transcript"; fail "good: AUTH PLAIN not sent inside TLS"; }
grep -q '^S: 235' "$T/good/transcript" || fail "good: login not accepted"
brev_stop
relay_stop good

# 7. the self-signed certificate pinned by its fingerprint (lower case,
#    without colons also parses), second in a list of two (a certificate
#    change): delivered with AUTH.
PIN=$(echo "$FP_SELF" | tr -d : | tr 'A-F' 'a-f')
relay_start pinned 192.0.2.25 "${RP[6]}" --cert "$C/self.pem" --key "$C/self.key"
brev_start -o "delivery.relay=smtp.relay.test:${RP[6]}" -o "delivery.relay_fingerprint=$FP_OTHER, $PIN"
send pinned six@sink.test
until_true 20 sh -c "ls '$T/pinned/out' 2>/dev/null | grep -q eml" || { grep queue "$D/serve.log" | tail; fail "pinned relay got nothing"; }
grep -q 'rcpt=six@sink.test .*tls=TLSv1.2/verified .*result=delivered' "$D/serve.log" || fail "no pinned delivery line"
grep -q '^C: AUTH PLAIN ' "$T/pinned/transcript" || fail "pinned: no AUTH"
brev_stop
relay_stop pinned

# 8. the loopback exception: a relay on 127.0.0.9 without STARTTLS gets the
#    password (it never leaves the machine), as docs/tls.md says.
relay_start loop 127.0.0.9 "${RP[7]}" --tls none
brev_start -o "delivery.relay=local.relay.test:${RP[7]}"
send loopback seven@sink.test
until_true 20 sh -c "ls '$T/loop/out' 2>/dev/null | grep -q eml" || { grep queue "$D/serve.log" | tail; fail "loopback relay got nothing"; }
grep -q '^C: AUTH PLAIN ' "$T/loop/transcript" || fail "loopback: no AUTH"
brev_stop
relay_stop loop
note ok
