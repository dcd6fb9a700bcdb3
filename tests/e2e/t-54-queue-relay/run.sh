#!/bin/bash
# delivery.relay: carol.test's brev sends everything through a smarthost
# (bob.test's brev, its submission listeners on the real ports 587 with
# STARTTLS and 465 with implicit TLS) with AUTH as carol@carol.test (an account on the smarthost); the
# smarthost then delivers by MX to a scripted receiver. Real ports, so it
# runs in a private network namespace like t-53.
if [ -z "${IN_NS:-}" ]; then
	exec unshare --net --mount --fork env IN_NS=1 bash "$0" "$@"
fi
. ../lib.sh
. ../queue/lib.sh
ip link set lo up
for a in 2 3 4 7; do ip addr add 127.0.0.$a/8 dev lo; done
P25=25
nsd_start
mkdir -p "$T/sink"
sink_start 127.0.0.4 "$T/sink"

mta_init bob bob.test 127.0.0.3
DB=$D; PB_IMAPS=$P_IMAPS
cat >>"$D/brev.conf" <<CONF
listen.submission = 127.0.0.3:587
listen.submissions = 127.0.0.3:465
domains = bob.test carol.test
CONF
brev_user bob@bob.test bob-pass
# the smarthost account is the sender's own address (it checks sender ownership)
brev_user carol@carol.test relay-secret
mta_start
wait_addr_port 127.0.0.3 587
wait_addr_port 127.0.0.3 465

mta_init carol carol.test 127.0.0.7
DC=$D
printf 'relay-secret\n' >"$D/relay.pw"
chmod 600 "$D/relay.pw"
cat >>"$D/brev.conf" <<CONF
delivery.relay = 127.0.0.3:587
delivery.relay_user = carol@carol.test
delivery.relay_password_file = relay.pw
CONF
mta_start
CAROL=$BREV_PID

send() { # send SUBJECT RCPT
	printf 'From: carol@carol.test\r\nSubject: %s\r\nMessage-ID: <%s@carol.test>\r\n\r\nvia the relay\r\n' "$1" "$1" |
		"$BREV" -d "$DC" sendmail -f carol@carol.test "$2" || fail "sendmail $1"
}
send starttls-out someone@sink.test
send starttls-bob bob@bob.test
until_true 20 sh -c "ls '$T/sink' | grep -q eml" || { grep "queue id" "$DC/serve.log" "$DB/serve.log"; fail "relay (587) did not deliver"; }
grep -q 'rcpt=someone@sink.test mx=127.0.0.3 addr=127.0.0.3 tls=TLSv1.[23]/unverified .*result=delivered' "$DC/serve.log" ||
	{ grep "queue id" "$DC/serve.log"; fail "no STARTTLS relay log line"; }
grep -q 'user=carol@carol.test' "$DB/serve.log" || fail "the smarthost saw no AUTH"
grep -q 'rcpt=someone@sink.test mx=mx.sink.test addr=127.0.0.4 .*result=delivered' "$DB/serve.log" ||
	fail "the smarthost did not deliver onward"

# 465: implicit TLS
brev_stop "$CAROL"
D=$DC
sed -i 's/^delivery.relay = .*/delivery.relay = 127.0.0.3:465/' "$D/brev.conf"
mta_start
send implicit-out other@sink.test
until_true 20 sh -c "[ \$(ls '$T/sink' | grep -c eml) -ge 2 ]" || { grep "queue id" "$DC/serve.log"; fail "relay (465) did not deliver"; }
grep -q 'rcpt=other@sink.test mx=127.0.0.3 addr=127.0.0.3 tls=TLSv1.[23]/unverified .*result=delivered' "$DC/serve.log" ||
	fail "no implicit-TLS relay log line"

# wrong password: nothing bounces, the message waits
printf 'wrong\n' >"$DC/relay.pw"
send badauth third@sink.test
until_true 20 grep -q 'rcpt=third@sink.test .*refused our login\|rcpt=third@sink.test .*535.*result=deferred' "$DC/serve.log" ||
	{ grep "queue id" "$DC/serve.log"; fail "bad password not deferred"; }
out=$("$BREV" -d "$DC" queue list) || fail "queue list: exit $?"
grep -q third@sink.test <<<"$out" || fail "message dropped after a refused login: $out"

python3 - "$PB_IMAPS" <<'PY' || fail "bob did not get the relayed message"
import sys, imaplib, ssl, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
for _ in range(100):
    m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx)
    m.login("bob@bob.test", "bob-pass"); m.select("INBOX")
    if m.search(None, "SUBJECT", "starttls-bob")[1][0]:
        sys.exit(0)
    m.logout(); time.sleep(0.1)
sys.exit(1)
PY
note ok
