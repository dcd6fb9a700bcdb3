#!/bin/bash
# Outbound MTA-STS (issue 20, RFC 8461, docs/delivery.md), in a network
# namespace of the test's own (the policy host must answer on port 443).
# brev "a" sends; brev "b" (MX mx.b.test, certificate from the test's CA)
# receives and serves the enforce policy for b.test, c.test and d.test on
# 127.0.0.1:443; brev "b2" serves a testing policy for e.test on
# 127.0.0.2:443; nsd serves the zones.
#   - b.test (enforce, MX listed, certificate verifies): delivered over
#     verified TLS, and the policy is cached in DATADIR/mta-sts;
#   - c.test (enforce, MX other.c.test not listed): deferred with the reason;
#   - e.test (testing, MX not listed, certificate not for it): delivered,
#     both problems logged;
#   - a restarted "a" that no longer trusts the test CA: b.test's cached
#     policy still applies (the TXT id is unchanged), so the certificate
#     that no longer verifies defers the message, and nothing reaches b in
#     plaintext; d.test (no _mta-sts record) still gets opportunistic TLS;
#   - f.test's policy host answers with 1 MiB: no policy, logged, delivered.
if [ -z "${T76_IN_NS:-}" ]; then
	[ "$(id -u)" = 0 ] && NS=(unshare --net) || NS=(unshare --map-root-user --net)
	T76_IN_NS=1 exec "${NS[@]}" bash "$0" "$@"
fi
. ../lib.sh
ip link set lo up
ip addr add 127.0.0.2/8 dev lo 2>/dev/null || true
ip addr add 127.0.0.3/8 dev lo 2>/dev/null || true

read -r -d '' P_NSD <<<"$(free_ports 1)" || true
for z in b c d e f; do
	cat >"$T/$z.zone" <<ZONE
\$TTL 60
@ IN SOA ns.$z.test. hostmaster.$z.test. 1 3600 600 86400 60
@ IN NS ns.$z.test.
ns IN A 127.0.0.1
ZONE
done
cat >>"$T/b.zone" <<'ZONE'
@ IN MX 10 mx.b.test.
mx IN A 127.0.0.1
mta-sts IN A 127.0.0.1
_mta-sts IN TXT "v=STSv1; id=1;"
ZONE
cat >>"$T/c.zone" <<'ZONE'
@ IN MX 10 other.c.test.
other IN A 127.0.0.1
mta-sts IN A 127.0.0.1
_mta-sts IN TXT "v=STSv1; id=7;"
ZONE
cat >>"$T/d.zone" <<'ZONE'
@ IN MX 10 mx.b.test.
ZONE
cat >>"$T/e.zone" <<'ZONE'
@ IN MX 10 other.e.test.
other IN A 127.0.0.1
mta-sts IN A 127.0.0.2
_mta-sts IN TXT "v=STSv1; id=x1;"
ZONE
cat >>"$T/f.zone" <<'ZONE'
@ IN MX 10 mx.b.test.
mta-sts IN A 127.0.0.3
_mta-sts IN TXT "v=STSv1; id=f1;"
ZONE
NSD_PORT=$P_NSD
nsd_run 127.0.0.1 "$P_NSD" "b.test=$T/b.zone" "c.test=$T/c.zone" "d.test=$T/d.zone" "e.test=$T/e.zone" \
	"f.test=$T/f.zone"
at_exit "kill $NSD_PID"
nsd_wait _mta-sts.e.test TXT STSv1

# the test's CA and the receivers' certificate
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=t76-ca \
	-keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null || fail "test CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=mx.b.test \
	-keyout "$T/b.key" -out "$T/b.csr" 2>/dev/null || fail "b key"
printf 'subjectAltName=DNS:mx.b.test,DNS:mta-sts.b.test,DNS:mta-sts.c.test,DNS:mta-sts.e.test,DNS:mta-sts.f.test\n' >"$T/b.ext"
openssl x509 -req -in "$T/b.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
	-extfile "$T/b.ext" -out "$T/b.pem" 2>/dev/null || fail "b cert"

# ---- the receivers ----
brev_init b b.test
DB=$D
PB_SMTP=$P_SMTP
cp "$T/b.pem" "$DB/sts-cert.pem"
cp "$T/b.key" "$DB/sts-key.pem"
cat >>"$DB/brev.conf" <<CONF
hostname = mx.b.test
domains = b.test c.test d.test e.test f.test
tls.cert = sts-cert.pem
tls.key = sts-key.pem
tls.mta_sts = enforce
listen.https = 127.0.0.1:443
dns.resolver = 127.0.0.1:$P_NSD
CONF
for u in bob@b.test carol@c.test dave@d.test erin@e.test frank@f.test; do brev_user "$u" password-1; done
brev_start
PID_B=$BREV_PID
wait_port 443

brev_init b2 b.test
DB2=$D
cp "$T/b.pem" "$DB2/sts-cert.pem"
cp "$T/b.key" "$DB2/sts-key.pem"
cat >>"$DB2/brev.conf" <<CONF
hostname = mx.b.test
tls.cert = sts-cert.pem
tls.key = sts-key.pem
tls.mta_sts = testing
listen.https = 127.0.0.2:443
CONF
brev_start
PID_B2=$BREV_PID
curl -sS --max-time 20 --cacert "$T/ca.pem" --resolve mta-sts.e.test:443:127.0.0.2 \
	https://mta-sts.e.test/.well-known/mta-sts.txt | grep -q 'mode: testing' || fail "b2 policy"

# a hostile policy host for f.test: a policy of 1 MiB
cat >"$T/big.py" <<'PY'
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = b"version: STSv1\r\nmode: enforce\r\nmx: nowhere.f.test\r\nmax_age: 86400\r\n" + b"x" * (1 << 20)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.3", 443), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
python3 "$T/big.py" "$T/b.pem" "$T/b.key" >"$T/big.log" 2>&1 &
BIG_PID=$!
at_exit "kill $BIG_PID 2>/dev/null"

# ---- the sender ----
brev_init a a.test
DA=$D
cp "$T/ca.pem" "$DA/test-ca.pem"
cat >>"$DA/brev.conf" <<CONF
dns.resolver = 127.0.0.1:$P_NSD
delivery.port = $PB_SMTP
delivery.retry = 1h
delivery.tls_ca = test-ca.pem
CONF
brev_start
PID_A=$BREV_PID

send() { # send RCPT SUBJECT
	printf 'From: alice@a.test\nTo: %s\nSubject: %s\n\nhello\n' "$1" "$2" |
		"$BREV" -d "$DA" sendmail -f alice@a.test "$1" || fail "sendmail to $1"
}
# wait_result RCPT RESULT: A's log line for RCPT with result=RESULT (at least N=${3:-1})
wait_result() {
	local i=0
	until [ "$(grep -c "rcpt=$1 .*result=$2" "$DA/serve.log")" -ge "${3:-1}" ]; do
		i=$((i + 1))
		[ $i -lt 300 ] || { tail -20 "$DA/serve.log"; fail "no result=$2 for $1"; }
		sleep 0.1
	done
	grep "rcpt=$1 .*result=$2" "$DA/serve.log" | tail -1
}

send bob@b.test one
line=$(wait_result bob@b.test delivered)
case $line in *"mx=mx.b.test"*"tls=TLSv1.2/verified"*) ;; *) fail "b.test: $line" ;; esac
grep -q 'mode: enforce' "$DA/mta-sts/b.test" || fail "b.test's policy not cached: $(cat "$DA/mta-sts/b.test" 2>&1)"
head -1 "$DA/mta-sts/b.test" | grep -Eq '^[0-9]+ 1$' || fail "cache head: $(head -1 "$DA/mta-sts/b.test")"

send carol@c.test two
line=$(wait_result carol@c.test deferred)
case $line in *"MTA-STS policy of c.test (enforce): none of its MX hosts (other.c.test) is in the policy"*) ;;
*) fail "c.test: $line" ;; esac
"$BREV" -d "$DA" queue list >"$T/q" 2>&1 || true
grep -q 'carol@c.test' "$T/q" || fail "carol's message is not in the queue: $(cat "$T/q")"

send erin@e.test three
line=$(wait_result erin@e.test delivered)
grep -q 'mta-sts: e.test (testing): MX other.e.test is not in the policy; delivering anyway' "$DA/serve.log" ||
	fail "testing mode: MX not logged"
grep -q 'mta-sts: e.test (testing): other.e.test certificate not verified' "$DA/serve.log" ||
	fail "testing mode: certificate not logged"

# f.test's policy is too large: not used (and not cached), delivery as without one
send frank@f.test six
line=$(wait_result frank@f.test delivered)
grep -q 'mta-sts: f.test: policy fetch failed (GET https://mta-sts.f.test/.well-known/mta-sts.txt: response larger than 65536 bytes); no policy applies' \
	"$DA/serve.log" || fail "f.test: $(grep 'f.test' "$DA/serve.log" | tail -3)"
[ ! -e "$DA/mta-sts/f.test" ] || fail "f.test's oversized policy was cached"

# ---- a restart without the test CA: the cached policy still applies ----
brev_stop "$PID_A"
sed -i '/^delivery.tls_ca = /d' "$DA/brev.conf"
brev_start
PID_A=$BREV_PID
got_before=$(grep -c 'smtp session end.*msgs=1' "$DB/serve.log" || true)
send bob@b.test four
line=$(wait_result bob@b.test deferred)
case $line in *"MTA-STS policy of b.test (enforce): mx.b.test certificate not verified"*) ;;
*) fail "cached enforce: $line" ;; esac
send dave@d.test five
line=$(wait_result dave@d.test delivered)
case $line in *"tls=TLSv1.2/unverified"*) ;; *) fail "d.test (no policy): $line" ;; esac
# b got dave's message and nothing else since the restart (no plaintext retry for bob)
sleep 1
got_after=$(grep -c 'smtp session end.*msgs=1' "$DB/serve.log" || true)
[ "$got_after" -eq $((got_before + 1)) ] || fail "b received $((got_after - got_before)) messages, want 1 (dave's)"
grep -q 'rcpt=bob@b.test .*tls=no.*result=' <(grep 'four\|rcpt=bob' "$DA/serve.log" | tail -3) &&
	fail "bob's message went without TLS"
brev_stop "$PID_A"
brev_stop "$PID_B2"
brev_stop "$PID_B"
echo ok
