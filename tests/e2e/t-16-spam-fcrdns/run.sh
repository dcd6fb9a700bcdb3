#!/bin/bash
# Forward-confirmed reverse DNS at connect (issue 14, docs/spam.md "The
# tests"), with nsd on loopback serving 0.0.127.in-addr.arpa and good.test,
# and real clients (fcrdns.py: smtplib from different loopback source
# addresses, imaplib to see where each message landed and what it carries):
#   - 127.0.0.2, PTR mail.good.test whose A is 127.0.0.2: no test, and the
#     Received field names it;
#   - 127.0.0.3, no PTR: RDNS_NONE(1.5); 127.0.0.4, PTR to a name whose A is
#     another address, and 127.0.0.5, PTR to a name that does not exist:
#     RDNS_MISMATCH(1.0); each only a score: delivered to INBOX at normal;
#   - a score that counts: at strict (Junk from 3), a message without
#     Message-ID and Date (2 points) goes to Junk from 127.0.0.3 only;
#   - a resolver that swallows every query: delivered, no points, a log
#     line, and the banner waits for the look-up's own 1.5 s time-out, not
#     the 2 x 3 s of delivery's look-ups.
. ../lib.sh
command -v python3 >/dev/null || fail "python3 missing"
command -v nsd >/dev/null || fail "nsd missing (tools/deps.sh)"
NSD_PORT=$(free_port)
mkdir -p "$T/nsd"
cat >"$T/nsd/rev.zone" <<'ZONE'
$ORIGIN 0.0.127.in-addr.arpa.
$TTL 60
@  SOA ns.good.test. admin.good.test. 1 3600 600 86400 60
@  NS  ns.good.test.
2  PTR mail.good.test.
4  PTR liar.good.test.
5  PTR gone.good.test.
ZONE
cat >"$T/nsd/good.zone" <<'ZONE'
$ORIGIN good.test.
$TTL 60
@     SOA ns.good.test. admin.good.test. 1 3600 600 86400 60
@     NS  ns
ns    A   127.0.0.53
mail  A   127.0.0.2
liar  A   127.0.0.9
ZONE
nsd_run 127.0.0.1 "$NSD_PORT" 0.0.127.in-addr.arpa="$T/nsd/rev.zone" good.test="$T/nsd/good.zone"
nsd_wait 2.0.0.127.in-addr.arpa PTR mail.good.test
nsd_wait mail.good.test A 127.0.0.2

brev_init fcrdns
brev_user alice@example.test 'pw-secret-1'
brev_user carol@example.test 'pw-secret-3'
"$BREV" -d "$D" user set carol@example.test spam=strict >/dev/null || fail "user set spam=strict"
cat >>"$D/brev.conf" <<CONF
dns.resolver = 127.0.0.1:$NSD_PORT
spam.check_loopback = yes
CONF
export P_SMTP P_IMAP
FCRDNS_PY=$ROOT/tests/e2e/t-16-spam-fcrdns/fcrdns.py

brev_start
python3 "$FCRDNS_PY" dns || fail "reverse DNS"
grep -q "smtp rdns peer=127.0.0.3: no PTR record" "$D/serve.log" || fail "no log line for 127.0.0.3"
grep -q "smtp rdns peer=127.0.0.4: its PTR name does not point back to it" "$D/serve.log" ||
	fail "no log line for 127.0.0.4"
if grep -q "smtp rdns peer=127.0.0.2" "$D/serve.log"; then fail "a log line for the confirmed 127.0.0.2"; fi
brev_stop

# A resolver that reads queries and says nothing.
HOLE=$(free_port)
python3 -c 'import socket,sys,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",int(sys.argv[1])))
end=time.time()+300
while time.time()<end: s.recv(4096)' "$HOLE" &
brev_start -o dns.resolver=127.0.0.1:"$HOLE"
python3 "$FCRDNS_PY" timeout || fail "a resolver that times out"
grep -q "smtp rdns peer=127.0.0.3: no answer, not counted" "$D/serve.log" ||
	fail "no log line for the time-out"
brev_stop
echo ok
