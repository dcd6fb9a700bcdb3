#!/bin/bash
# The local CA (issue 23, docs/tls.md): init makes a CA (CA:TRUE,
# keyCertSign) and a server certificate it signs (CA:FALSE, serverAuth, the
# names brev serves), so a device trusts the CA once; OpenSSL verifies the
# chain and a running brev's IMAPS with only ca.pem as its trust; `brev
# cert new` renews under the same CA and moves a DATADIR that has only an
# old self-signed certificate to a CA.
. ../lib.sh
brev_init ca
ext() { openssl x509 -in "$1" -noout -ext "$2" 2>/dev/null | tail -n +2 | sed 's/^ *//'; }

# ---- the files init made ----
[ -f "$D/ca.pem" ] && [ -f "$D/ca-key.pem" ] || fail "init made no local CA"
[ "$(stat -c %a "$D/ca-key.pem")" = 600 ] || fail "ca-key.pem is not mode 600"
openssl verify -CAfile "$D/ca.pem" "$D/cert.pem" >"$T/v" 2>&1 || fail "openssl verify: $(cat "$T/v")"
[ "$(ext "$D/ca.pem" basicConstraints)" = "CA:TRUE, pathlen:0" ] || fail "CA basicConstraints: $(ext "$D/ca.pem" basicConstraints)"
ext "$D/ca.pem" keyUsage | grep -q 'Certificate Sign' || fail "CA keyUsage: $(ext "$D/ca.pem" keyUsage)"
[ "$(ext "$D/cert.pem" basicConstraints)" = "CA:FALSE" ] || fail "server cert basicConstraints: $(ext "$D/cert.pem" basicConstraints)"
openssl x509 -in "$D/cert.pem" -noout -ext basicConstraints | grep -q critical || fail "CA:FALSE not critical"
[ "$(ext "$D/cert.pem" extendedKeyUsage)" = "TLS Web Server Authentication" ] || fail "EKU: $(ext "$D/cert.pem" extendedKeyUsage)"
ext "$D/cert.pem" keyUsage | grep -q 'Certificate Sign' && fail "the server certificate can sign certificates"
SAN=$(ext "$D/cert.pem" subjectAltName)
for n in DNS:localhost "IP Address:127.0.0.1" "IP Address:0:0:0:0:0:0:0:1"; do
	case "$SAN" in *"$n"*) ;; *) fail "SAN lacks $n: $SAN" ;; esac
done
[ "$(openssl x509 -in "$D/cert.pem" -noout -issuer | sed 's/^issuer=//')" = "$(openssl x509 -in "$D/ca.pem" -noout -subject | sed 's/^subject=//')" ] ||
	fail "the server certificate's issuer is not the CA"
# Apple's limit for server certificates: at most 825 days
end=$(date -d "$(openssl x509 -in "$D/cert.pem" -noout -enddate | cut -d= -f2)" +%s)
[ $(( (end - $(date +%s)) / 86400 )) -le 825 ] || fail "server certificate valid longer than 825 days"
CA_FP=$(openssl x509 -in "$D/ca.pem" -noout -fingerprint -sha256 | cut -d= -f2)

# ---- a running brev, verified with nothing but ca.pem ----
brev_user alice@example.test alice-password
brev_start
tls_ok() { # PORT [STARTTLS-PROTO]: a verified handshake with the CA alone, for the name localhost
	local extra=()
	[ -z "${2:-}" ] || extra=(-starttls "$2")
	echo Q | openssl s_client -connect 127.0.0.1:$1 "${extra[@]}" -CAfile "$D/ca.pem" \
		-verify_return_error -verify_hostname localhost >"$T/sc" 2>&1 &&
		grep -q 'Verify return code: 0 (ok)' "$T/sc"
}
tls_ok "$P_IMAPS" || fail "s_client IMAPS with ca.pem: $(grep -i verif "$T/sc" | head -3)"
tls_ok "$P_IMAP" imap || fail "s_client IMAP STARTTLS with ca.pem"
tls_ok "$P_SUBS" || fail "s_client submissions with ca.pem"
tls_ok "$P_POP3S" || fail "s_client POP3S with ca.pem"
# Python's imaplib (OpenSSL, default hostname checks) with only the CA
P_IMAPS=$P_IMAPS CA=$D/ca.pem python3 - <<'PY' || fail "imaplib with the CA"
import imaplib, os, ssl
ctx = ssl.create_default_context(cafile=os.environ["CA"])
m = imaplib.IMAP4_SSL("localhost", int(os.environ["P_IMAPS"]), ssl_context=ctx, timeout=20)
m.login("alice@example.test", "alice-password")
m.logout()
PY
# The CA cannot stand in for the server: a handshake that names another host fails
if echo Q | openssl s_client -connect 127.0.0.1:$P_IMAPS -CAfile "$D/ca.pem" -verify_return_error \
	-verify_hostname other.test >/dev/null 2>&1; then fail "verified for a name not in the certificate"; fi
"$BREV" -d "$D" status >"$T/status.out" || fail "status"
grep -q "signed by brev's local CA $D/ca.pem" "$T/status.out" || fail "status: $(grep -A4 certificate "$T/status.out")"
grep -q "SHA-256 $CA_FP\$" "$T/status.out" || fail "status lacks the CA's fingerprint"

# ---- renewal: brev cert new keeps the CA; SIGHUP serves the new certificate ----
OLD_FP=$(openssl x509 -in "$D/cert.pem" -noout -fingerprint -sha256 | cut -d= -f2)
"$BREV" -d "$D" cert new >"$T/new.out" || fail "cert new"
grep -q 'new server certificate' "$T/new.out" || fail "cert new: $(cat "$T/new.out")"
grep -q 'created the local CA' "$T/new.out" && fail "cert new made a second CA"
[ "$(openssl x509 -in "$D/ca.pem" -noout -fingerprint -sha256 | cut -d= -f2)" = "$CA_FP" ] || fail "the CA changed"
NEW_FP=$(openssl x509 -in "$D/cert.pem" -noout -fingerprint -sha256 | cut -d= -f2)
[ "$NEW_FP" != "$OLD_FP" ] || fail "cert new did not make a new certificate"
openssl verify -CAfile "$D/ca.pem" "$D/cert.pem" >/dev/null || fail "renewed certificate does not verify"
kill -HUP "$BREV_PID"
served() { echo Q | openssl s_client -connect 127.0.0.1:$P_IMAPS 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2; }
for i in $(seq 50); do [ "$(served)" = "$NEW_FP" ] && break; sleep 0.1; done
[ "$(served)" = "$NEW_FP" ] || fail "after SIGHUP brev does not serve the renewed certificate"
tls_ok "$P_IMAPS" || fail "renewed certificate does not verify with the same ca.pem"
brev_stop

# ---- a DATADIR from before the CA: one self-signed CA:TRUE cert.pem, as
# older brev init wrote; it keeps working, and cert new moves it to a CA ----
O=$T/old
"$BREV" -d "$O" init --domain example.test --hostname localhost >/dev/null || fail "init old"
rm -f "$O/ca.pem" "$O/ca-key.pem"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost -keyout "$O/key.pem" -out "$O/cert.pem" 2>/dev/null || fail "openssl req"
"$BREV" -d "$O" status >"$T/old.out" || fail "status on the old DATADIR"
grep -q 'certificate  self-signed' "$T/old.out" && grep -q 'brev cert new' "$T/old.out" ||
	fail "old DATADIR status: $(grep -A4 certificate "$T/old.out")"
"$BREV" -d "$O" cert new >"$T/mig.out" || fail "cert new on the old DATADIR"
grep -q 'created the local CA' "$T/mig.out" || fail "migration: $(cat "$T/mig.out")"
openssl verify -CAfile "$O/ca.pem" "$O/cert.pem" >/dev/null || fail "migrated certificate does not verify"
[ "$(ext "$O/cert.pem" basicConstraints)" = "CA:FALSE" ] || fail "migrated certificate is not CA:FALSE"
echo ok
