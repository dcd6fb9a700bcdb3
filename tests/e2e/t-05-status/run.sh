#!/bin/bash
# `brev status` (issue 23): what the running server serves, asked over
# control.sock — a brev started with -o overrides shows those, not
# brev.conf's — with uptime, connections, queue, mailbox sizes and the
# client settings block (server, ports, security, certificate
# fingerprint); with no server: says so and prints brev.conf's settings.
. ../lib.sh
brev_init status
brev_user alice@example.test alice-password
read -r Q_IMAP Q_IMAPS Q_SUB <<<"$(free_ports 3 | tr '\n' ' ')"
# brev.conf's values for comparison
grep -q "^listen.imap = 127.0.0.1:$P_IMAP\$" "$D/brev.conf" || fail "setup"

# brev_start waits for brev.conf's IMAPS port: start it here
"$BREV" -d "$D" -o listen.imap=127.0.0.1:$Q_IMAP -o listen.imaps=127.0.0.1:$Q_IMAPS \
	-o listen.submission=127.0.0.1:$Q_SUB -o listen.submissions= -o listen.pop3= \
	serve >>"$D/serve.log" 2>&1 &
BREV_PID=$!
wait_port "$P_SMTP"
wait_port "$Q_IMAPS"
# one message in, and one client connection held open while status asks
swaks --hide-all --server 127.0.0.1:$P_SMTP --from x@remote.test --to alice@example.test \
	--header "Subject: status" --body "hello" || fail "swaks"
exec 3<>/dev/tcp/127.0.0.1/$Q_IMAP
read -r -t 10 greeting <&3 || fail "no IMAP greeting"
sleep 1.2 # uptime shows whole seconds

"$BREV" -d "$D" status >"$T/status.out" 2>"$T/err" || fail "status: $(cat "$T/err")"
cat "$T/status.out"
g() { grep -E "$1" "$T/status.out" >/dev/null || fail "status lacks /$1/"; }
g "^server +running: pid $BREV_PID, brev [0-9.]+, up [0-9]+s, 1 connection\$"
g "^  imap +127\.0\.0\.1:$Q_IMAP\$"
g "^  imaps +127\.0\.0\.1:$Q_IMAPS\$"
g "^  submission +127\.0\.0\.1:$Q_SUB\$"
g "^  submissions +\(off\)\$"
g "^  pop3 +\(off\)\$"
g "^  pop3s +127\.0\.0\.1:$P_POP3S\$"
g "^  smtp +127\.0\.0\.1:$P_SMTP\$"
grep -q ":$P_IMAP\b" "$T/status.out" && fail "status shows brev.conf's IMAP port, not the running one"
g "^alice@example\.test +1 messages +[1-9][0-9]* bytes"
g "^queue +0 messages\$"
# the client settings block, from the running server's values
g "^  server +localhost\$"
g "^  IMAP +port $Q_IMAP STARTTLS, or port $Q_IMAPS SSL/TLS\$"
g "^  POP3 +port $P_POP3S SSL/TLS\$"
g "^  SMTP \(send\) +port $Q_SUB STARTTLS; authentication: normal password\$"
FP=$(openssl x509 -in "$D/cert.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
g "SHA-256 $FP\$"
exec 3>&-

# no server: said so, and brev.conf's settings
brev_stop
"$BREV" -d "$D" status >"$T/status.out" 2>"$T/err" || fail "status without a server: $(cat "$T/err")"
g "^server +not running; the settings below are brev.conf's\$"
g "^  imap +127\.0\.0\.1:$P_IMAP\$"
g "^  IMAP +port $P_IMAP STARTTLS, or port $P_IMAPS SSL/TLS\$"
g "SHA-256 $FP\$"
echo ok
