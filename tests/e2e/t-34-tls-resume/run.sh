#!/bin/bash
# TLS session resumption across a certificate reload (issue 24, "Limits";
# docs/tls.md promises it): openssl s_client saves a TLS 1.2 session from
# IMAPS, resumes it once (the cache works at all), then brev gets a new
# certificate and SIGHUP; new full handshakes see the new certificate, and
# the saved session is still resumed ("Reused") on IMAPS and on POP3S (one
# cache for every listener).
. ../lib.sh
brev_init resume
brev_start
CA=$D/cert.pem
hs() { # hs PORT [s_client options...]: one handshake, s_client's report
	local port=$1
	shift
	echo | timeout 20 openssl s_client -connect "127.0.0.1:$port" -tls1_2 "$@" 2>&1 || true
}
fp() { hs "$P_IMAPS" | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2; }

hs "$P_IMAPS" -CAfile "$CA" -sess_out "$T/sess.pem" >"$T/first.txt"
grep -q "^New, TLSv1.2" "$T/first.txt" || fail "first handshake: $(grep -E '^(New|Reused)|error' "$T/first.txt")"
[ -s "$T/sess.pem" ] || fail "no session saved"
hs "$P_IMAPS" -sess_in "$T/sess.pem" >"$T/again.txt"
grep -q "^Reused, TLSv1.2" "$T/again.txt" || fail "no resumption before the reload: $(grep -E '^(New|Reused)' "$T/again.txt")"

old=$(fp)
[ -n "$old" ] || fail "no fingerprint"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost -keyout "$T/k2.pem" -out "$T/c2.pem" 2>/dev/null ||
	fail "openssl req"
cp "$T/k2.pem" "$D/key.pem"   # cp keeps the files' owner (brev's user) and mode
cp "$T/c2.pem" "$D/cert.pem"
kill -HUP "$BREV_PID"
for i in $(seq 50); do new=$(fp); [ -n "$new" ] && [ "$new" != "$old" ] && break; sleep 0.1; done
[ "$new" != "$old" ] || fail "SIGHUP did not switch the certificate"
grep -q "SIGHUP: certificate reloaded" "$D/serve.log" || fail "no reload log line"

for port in "$P_IMAPS" "$P_POP3S"; do
	hs "$port" -sess_in "$T/sess.pem" >"$T/after.txt"
	grep -q "^Reused, TLSv1.2" "$T/after.txt" ||
		fail "session not resumed on port $port after the reload: $(grep -E '^(New|Reused)' "$T/after.txt")"
done
brev_stop
echo ok
