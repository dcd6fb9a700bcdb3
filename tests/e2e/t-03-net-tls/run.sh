#!/bin/bash
# The listener and TLS layer as clients see it (issue 3):
# - every implicit-TLS port handshakes with openssl s_client and Python's ssl
#   module trusting DATADIR/cert.pem; TLS 1.1 is refused; only ECDHE+AEAD
#   suites are chosen by a modern client;
# - STARTTLS on every plain port with openssl s_client;
# - SIGHUP swaps the certificate for new handshakes without dropping a live
#   session;
# - limits.connections: the connection over the cap gets the protocol's
#   "too busy" line;
# - an IPv6 listener ([::1]:PORT);
# - started as root with `user = nobody` (lib.sh's brev_init), brev binds and then runs as nobody.
. ../lib.sh
brev_init x
P6=$(free_port)
sed -i "s/^listen.imap = .*/listen.imap = 127.0.0.1:$P_IMAP [::1]:$P6/" "$D/brev.conf"
echo "limits.connections = 4" >>"$D/brev.conf"
brev_user alice@example.test pw-alice
brev_start
CA=$D/cert.pem

# -- implicit TLS: openssl verifies the chain and the name
for port in $P_SUBS $P_IMAPS $P_POP3S; do
	out=$(echo | timeout 10 openssl s_client -connect 127.0.0.1:$port -servername localhost \
		-verify_hostname localhost -CAfile "$CA" -verify_return_error 2>&1) ||
		fail "s_client to $port: $out"
	grep -q "Verify return code: 0 (ok)" <<<"$out" || fail "port $port did not verify"
	grep -Eq "Cipher is ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)" <<<"$out" ||
		fail "port $port negotiated a suite that is not ECDHE+AEAD: $(grep Cipher <<<"$out")"
	if echo | timeout 10 openssl s_client -connect 127.0.0.1:$port -tls1_1 -CAfile "$CA" \
		>/dev/null 2>&1; then
		fail "port $port accepted TLS 1.1"
	fi
done

# -- STARTTLS / STLS on the plain ports
for spec in "smtp $P_SUB" "smtp $P_SMTP" "imap $P_IMAP" "pop3 $P_POP3"; do
	set -- $spec
	out=$(echo | timeout 10 openssl s_client -connect 127.0.0.1:$2 -starttls $1 \
		-verify_hostname localhost -CAfile "$CA" -verify_return_error 2>&1) ||
		fail "STARTTLS $1 on $2: $(tail -3 <<<"$out")"
	grep -q "Verify return code: 0 (ok)" <<<"$out" || fail "STARTTLS $1 on $2 did not verify"
done

# -- Python's ssl module with the same CA file, hostname checked
python3 - "$CA" "$P_IMAPS" "$P_POP3S" "$P_SUBS" <<'PY' || fail "python ssl"
import socket, ssl, sys
ca, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
ctx = ssl.create_default_context(cafile=ca)
for port in ports:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            assert s.version() == "TLSv1.2", s.version()
            greeting = s.recv(200)
            assert greeting[:1] in (b"*", b"+", b"2"), greeting
# a client that insists on TLS 1.3 only is refused
ctx13 = ssl.create_default_context(cafile=ca)
ctx13.minimum_version = ssl.TLSVersion.TLSv1_3
try:
    with socket.create_connection(("127.0.0.1", ports[0]), timeout=10) as raw:
        ctx13.wrap_socket(raw, server_hostname="localhost")
    sys.exit("TLS 1.3-only client was accepted by a TLS 1.2 server?")
except ssl.SSLError:
    pass
PY

# -- IPv6 listener
python3 - "$P6" <<'PY' || fail "IPv6 listener"
import socket, sys
s = socket.create_connection(("::1", int(sys.argv[1])), timeout=5)
assert s.recv(100).startswith(b"* OK"), "no IMAP greeting on [::1]"
PY

# -- SIGHUP: new certificate for new handshakes, live session unharmed
fp() { echo | timeout 10 openssl s_client -connect 127.0.0.1:$P_IMAPS 2>/dev/null |
	openssl x509 -noout -fingerprint -sha256 | cut -d= -f2; }
old=$(fp)
[ -n "$old" ] || fail "no fingerprint"
coproc LIVE { timeout 30 openssl s_client -quiet -connect 127.0.0.1:$P_IMAPS -CAfile "$CA" 2>/dev/null; }
read -r -t 10 greet <&"${LIVE[0]}" || fail "live session: no greeting"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost -keyout "$T/k2.pem" -out "$T/c2.pem" 2>/dev/null
cp "$T/k2.pem" "$D/key.pem"; cp "$T/c2.pem" "$D/cert.pem"
kill -HUP "$BREV_PID"
for i in $(seq 50); do new=$(fp); [ "$new" != "$old" ] && break; sleep 0.1; done
[ "$new" != "$old" ] || fail "SIGHUP did not switch the certificate"
echo "a1 NOOP" >&"${LIVE[1]}"
read -r -t 10 reply <&"${LIVE[0]}" || fail "live session died on SIGHUP"
grep -q "^a1 OK" <<<"$reply" || fail "live session after SIGHUP: $reply"
echo "a2 LOGOUT" >&"${LIVE[1]}"
# a broken certificate file is refused and the old one stays
echo garbage >"$D/cert.pem"
kill -HUP "$BREV_PID"
sleep 0.5
[ "$(fp)" = "$new" ] || fail "a bad certificate replaced the good one"
grep -q "keeping the old certificate" "$D/serve.log" || fail "no log line for the failed reload"
cp "$T/c2.pem" "$D/cert.pem"

# -- connection cap (4 here): a protocol may take 3 slots, the 4th is left
# for the others; over the total every protocol says "busy" its own way.
python3 - "$P_IMAP" "$P_POP3" "$P_SMTP" <<'PY' || fail "connection cap"
import socket, sys, time
imap, pop3, smtp = (int(p) for p in sys.argv[1:])
def greet(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s, s.recv(200)
held = []
for i in range(3):
    s, g = greet(imap)
    assert g.startswith(b"* OK"), g
    held.append(s)
s, g = greet(imap)
assert g.startswith(b"* BYE"), ("IMAP over its share", g)
s.close()
s, g = greet(smtp)
assert g.startswith(b"220"), ("the MX must still get a slot", g)
held.append(s)
for port, want in ((pop3, b"-ERR"), (smtp, b"421"), (imap, b"* BYE")):
    s, g = greet(port)
    assert g.startswith(want), (port, g)
    s.close()
held.pop(0).close()
time.sleep(0.3)
s, g = greet(imap)
assert g.startswith(b"* OK"), ("a freed slot is not reused", g)
PY
grep -q "share of the connection limit reached" "$D/serve.log" || fail "no log line for the share"
grep -q "connection limit reached" "$D/serve.log" || fail "no log line for the cap"

# -- per-address limit: with 100 slots one address (127.0.0.2 here; only
# 127.0.0.1 and ::1 are exempt) gets 12; 127.0.0.1 still gets in.
brev_stop
sed -i 's/^limits.connections = 4/limits.connections = 100/' "$D/brev.conf"
brev_start
python3 - "$P_IMAP" <<'PY' || fail "per-address limit"
import socket, sys
port = int(sys.argv[1])
def greet(src):
    s = socket.socket()
    s.settimeout(5)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s, s.recv(200)
held = []
for i in range(12):
    s, g = greet("127.0.0.2")
    assert g.startswith(b"* OK"), (i, g)
    held.append(s)
s, g = greet("127.0.0.2")
assert g.startswith(b"* BYE"), ("13th from one address", g)
s, g = greet("127.0.0.1")
assert g.startswith(b"* OK"), ("local client refused", g)
PY
grep -q "per-address connection limit reached" "$D/serve.log" || fail "no log line for the per-address limit"

# -- privilege drop
if [ "$(id -u)" = 0 ]; then
	uid=$(awk '/^Uid:/ {print $2}' /proc/$BREV_PID/status)
	[ "$uid" = "$(id -u nobody)" ] || fail "brev runs as uid $uid, not nobody"
	[ "$(stat -c %U "$D/store")" = nobody ] || fail "DATADIR not handed to nobody"
fi
brev_stop
# Everything else passed; the privilege drop was not seen without root.
[ "$(id -u)" = 0 ] || skip "the privilege drop needs root (everything else passed)"
