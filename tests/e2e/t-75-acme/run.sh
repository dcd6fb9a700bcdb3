#!/bin/bash
# ACME (issue 20, docs/tls.md): brev obtains its certificate from pebble
# (Let's Encrypt's test CA, Debian's package) with a real http-01
# validation: pebble resolves brev's host name through the test's nsd and
# fetches the key authorization from brev's http listener. IMAPS then
# serves the chain, and openssl s_client and Python verify it against
# pebble's root; `brev cert renew` replaces it; a restarted server keeps
# serving it; one two thirds through its lifetime is renewed unasked; a
# challenge pebble cannot validate, and a hostile ACME
# server (a directory that is not JSON, a response of 8 MB, one of 8 MB
# without a length, a nonce that is not base64url), each give a clear
# error in the log while the certificate in use stays.
. ../lib.sh
brev_init acme acme.test
sed -i 's/^hostname = .*/hostname = mail.acme.test/' "$D/brev.conf"
grep -q '^hostname = mail.acme.test' "$D/brev.conf" || fail "hostname not set"
read -r -d '' P_NSD P_PEB P_PEBM P_BAD <<<"$(free_ports 4)" || true

# ---- DNS: brev's host name and the ACME server's, both on loopback ----
cat >"$T/acme.zone" <<ZONE
\$TTL 60
@ IN SOA ns.acme.test. hostmaster.acme.test. 1 3600 600 86400 60
@ IN NS ns.acme.test.
ns IN A 127.0.0.1
mail IN A 127.0.0.1
pebble IN A 127.0.0.1
hostile IN A 127.0.0.1
down IN A 127.0.0.9
ZONE
NSD_PORT=$P_NSD
nsd_run 127.0.0.1 "$P_NSD" "acme.test=$T/acme.zone"
at_exit "kill $NSD_PID"
nsd_wait mail.acme.test A 127.0.0.1

# ---- a CA of the test's own for pebble's (and the hostile server's) HTTPS ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=t75-ca \
	-keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null || fail "test CA"
for h in pebble hostile; do
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$h.acme.test" \
		-keyout "$T/$h.key" -out "$T/$h.csr" 2>/dev/null || fail "$h key"
	printf 'subjectAltName=DNS:%s.acme.test\n' "$h" >"$T/$h.ext"
	openssl x509 -req -in "$T/$h.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
		-extfile "$T/$h.ext" -out "$T/$h.pem" 2>/dev/null || fail "$h cert"
done

cat >"$T/pebble.json" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:$P_PEB", "managementListenAddress": "127.0.0.1:$P_PEBM",
 "certificate": "$T/pebble.pem", "privateKey": "$T/pebble.key",
 "httpPort": $P_HTTP, "tlsPort": $P_DEAD, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
JSON
PEBBLE_VA_NOSLEEP=1 PEBBLE_VA_ALWAYS_VALID=0 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
	pebble -config "$T/pebble.json" -dnsserver "127.0.0.1:$P_NSD" >"$T/pebble.log" 2>&1 &
PEBBLE_PID=$!
at_exit "kill $PEBBLE_PID"
wait_port "$P_PEB"
wait_port "$P_PEBM"

cp "$T/ca.pem" "$D/acme-ca.pem"
cat >>"$D/brev.conf" <<CONF
dns.resolver = 127.0.0.1:$P_NSD
tls.acme = https://pebble.acme.test:$P_PEB/dir
tls.acme_email = postmaster@acme.test
tls.acme_ca = acme-ca.pem
CONF

# wait_log N TEXT: until the server log holds TEXT N times (60 s at most)
wait_log() {
	local i=0
	until [ "$(grep -c -- "$2" "$D/serve.log")" -ge "$1" ]; do
		i=$((i + 1))
		[ $i -lt 600 ] || { tail -30 "$D/serve.log"; tail -20 "$T/pebble.log"; fail "no '$2' (x$1) in the log"; }
		sleep 0.1
	done
}

# served_cert: the certificate IMAPS presents, verified against pebble's
# root for the name mail.acme.test; prints its serial
served_cert() {
	timeout 20 openssl s_client -connect "127.0.0.1:$P_IMAPS" -servername mail.acme.test \
		-CAfile "$T/root.pem" -verify_return_error -verify_hostname mail.acme.test \
		</dev/null >"$T/sc.out" 2>&1 || { cat "$T/sc.out"; fail "IMAPS certificate does not verify against pebble's root"; }
	grep -q 'Verify return code: 0 (ok)' "$T/sc.out" || fail "s_client: $(grep Verify "$T/sc.out")"
	openssl x509 -noout -serial <"$T/sc.out"
}

"$BREV" -d "$D" cert status >"$T/st0" 2>&1 || fail "cert status: $(cat "$T/st0")"
grep -q '^no ACME certificate' "$T/st0" || fail "cert status before: $(cat "$T/st0")"
brev_start
wait_log 1 'acme: new certificate installed'
grep -q 'acme: account https://pebble.acme.test' "$D/serve.log" || fail "no account line"
# pebble's root (made at its start), from its management interface
curl -sS --max-time 20 --cacert "$T/ca.pem" --resolve "pebble.acme.test:$P_PEBM:127.0.0.1" \
	"https://pebble.acme.test:$P_PEBM/roots/0" -o "$T/root.pem" || fail "pebble root"
grep -q 'BEGIN CERTIFICATE' "$T/root.pem" || fail "no pebble root"
S1=$(served_cert)
grep -q 'issuer=.*Pebble Intermediate CA' "$T/sc.out" || fail "issuer: $(grep issuer= "$T/sc.out")"
grep -q 'subject=CN = mail.acme.test' "$T/sc.out" || fail "subject: $(grep subject= "$T/sc.out")"
python3 - "$P_IMAPS" "$T/root.pem" <<'PY' || fail "Python does not verify the ACME certificate"
import imaplib, ssl, sys, socket
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
t = ctx.wrap_socket(s, server_hostname="mail.acme.test")
assert t.recv(100).startswith(b"* OK"), "no greeting"
t.close()
PY
# the challenge was answered on brev's http listener, and nothing is left there
grep -q 'acme: 1 authorization(s) valid' "$D/serve.log" || fail "authorization line"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P_HTTP/.well-known/acme-challenge/abc")" = 404 ] ||
	fail "a token that is not pending is not 404"

# ---- renewal on request ----
"$BREV" -d "$D" cert renew >"$T/renew.out" 2>&1 || { cat "$T/renew.out"; fail "brev cert renew"; }
wait_log 2 'acme: new certificate installed'
S2=$(served_cert)
[ "$S1" != "$S2" ] || fail "renewal did not replace the certificate ($S1)"
grep -q 'issuer=.*Pebble Intermediate CA' "$T/sc.out" || fail "renewed issuer"

# ---- a restart serves the ACME certificate at once, without a new order ----
brev_stop
brev_start
wait_log 1 'tls: serving the ACME certificate'
[ "$(served_cert)" = "$S2" ] || fail "restart: another certificate"
[ "$(grep -c 'acme: order' "$D/serve.log")" = 2 ] || fail "restart made a new order"
brev_stop

# ---- a challenge that fails (a name whose address nothing answers on) ----
echo "tls.acme_names = down.acme.test" >>"$D/brev.conf"
brev_start
"$BREV" -d "$D" cert renew >/dev/null 2>&1 || fail "brev cert renew (failing challenge)"
wait_log 1 'keeping the current certificate'
grep 'keeping the current certificate' "$D/serve.log" | grep -q 'authorization: status invalid' ||
	fail "failing challenge: $(grep 'keeping the current' "$D/serve.log")"
[ "$(served_cert)" = "$S2" ] || fail "failing challenge: the certificate in use changed"
brev_stop
sed -i '/^tls.acme_names = /d' "$D/brev.conf"

# ---- renewal by itself at two thirds of the lifetime ----
# An ACME certificate (the test CA's: brev does not care who issued the
# pair it serves) valid from 20 days ago until tomorrow: two thirds have
# passed, so brev serves it at start and renews it without being asked.
mkdir -p "$T/oldca/db"
touch "$T/oldca/db/index"
echo 01 >"$T/oldca/db/serial"
printf '[ca]\ndefault_ca = c\n[c]\ndatabase = %s/db/index\nnew_certs_dir = %s/db\nserial = %s/db/serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n' \
	"$T/oldca" "$T/oldca" "$T/oldca" >"$T/oldca/ca.cnf"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=mail.acme.test \
	-keyout "$T/oldca/key.pem" -out "$T/oldca/req.csr" 2>/dev/null || fail "old key"
openssl ca -batch -config "$T/oldca/ca.cnf" -cert "$T/ca.pem" -keyfile "$T/ca.key" -in "$T/oldca/req.csr" \
	-out "$T/oldca/cert.pem" -notext -startdate "$(date -u -d '-20 days' +%Y%m%d%H%M%SZ)" \
	-enddate "$(date -u -d '+1 day' +%Y%m%d%H%M%SZ)" >"$T/oldca/ca.log" 2>&1 || { cat "$T/oldca/ca.log"; fail "old cert"; }
cp "$T/oldca/cert.pem" "$D/acme/cert.pem"
cp "$T/oldca/key.pem" "$D/acme/key.pem"
OLD=$(openssl x509 -noout -serial -in "$T/oldca/cert.pem")
brev_start
wait_log 3 'tls: serving the ACME certificate'
wait_log 3 'acme: new certificate installed'
S3=$(served_cert)
[ "$S3" != "$OLD" ] && [ "$S3" != "$S2" ] || fail "not renewed at two thirds of its lifetime ($S3)"
brev_stop
S2=$S3
# brev cert status: the dates, the renewal time at two thirds, the fingerprint, as openssl sees them
"$BREV" -d "$D" cert status >"$T/st" 2>&1 || fail "cert status: $(cat "$T/st")"
nb=$(date -u -d "$(openssl x509 -in "$D/acme/cert.pem" -noout -startdate | cut -d= -f2)" +%s)
na=$(date -u -d "$(openssl x509 -in "$D/acme/cert.pem" -noout -enddate | cut -d= -f2)" +%s)
due=$((nb + (na - nb) / 3 * 2))
fp=$(openssl x509 -in "$D/acme/cert.pem" -noout -fingerprint -sha256 | cut -d= -f2)
grep -q "valid until $(date -u -d "@$na" '+%Y-%m-%d %H:%M:%S UTC')" "$T/st" || fail "cert status until: $(cat "$T/st")"
grep -q "renewal due $(date -u -d "@$due" '+%Y-%m-%d %H:%M:%S UTC')" "$T/st" || fail "cert status due: $(cat "$T/st")"
grep -q "SHA-256 $fp" "$T/st" || fail "cert status fingerprint: $(cat "$T/st")"

# ---- a hostile ACME server: the old certificate stays ----
cat >"$T/hostile.py" <<'PY'
import http.server, ssl, sys
port, cert, key, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
base = "https://hostile.acme.test:%d" % port
class H(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):
        # a nonce that is not base64url (nor UTF-8)
        self.send_response(200)
        self.send_header("Replay-Nonce", "\xff\xfe\"x")
        self.send_header("Content-Length", "0")
        self.end_headers()
    def do_GET(self):
        if mode == "nonce":
            body = ('{"newNonce": "%s/nonce", "newAccount": "%s/acct", "newOrder": "%s/order"}'
                    % (base, base, base)).encode()
        elif mode == "json":
            body = b'{"newNonce": "https://hostile.acme.test/n", "newAccount": '  # cut short
        else:
            body = b"{" + b" " * (8 << 20) + b"}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if mode != "nolength":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
n=1
for mode in json huge nolength nonce; do
	python3 "$T/hostile.py" "$P_BAD" "$T/hostile.pem" "$T/hostile.key" "$mode" &
	HPID=$!
	at_exit "kill $HPID 2>/dev/null"
	wait_port "$P_BAD"
	sed -i "s|^tls.acme = .*|tls.acme = https://hostile.acme.test:$P_BAD/dir|" "$D/brev.conf"
	brev_start
	"$BREV" -d "$D" cert renew >/dev/null 2>&1 || fail "brev cert renew ($mode)"
	n=$((n + 1))
	wait_log $n 'keeping the current certificate'
	case $mode in
	json) want='directory: not a JSON object' ;;
	huge) want='response larger than 262144 bytes' ;;
	nolength) want='response without Content-Length' ;;
	nonce) want='newNonce: no Replay-Nonce' ;;
	esac
	grep 'keeping the current certificate' "$D/serve.log" | tail -1 | grep -q "$want" ||
		fail "$mode: $(grep 'keeping the current' "$D/serve.log" | tail -1)"
	[ "$(served_cert)" = "$S2" ] || fail "$mode: the certificate in use changed"
	brev_stop
	kill "$HPID"
	wait "$HPID" 2>/dev/null || true
done
echo ok
