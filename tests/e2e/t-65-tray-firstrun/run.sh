#!/bin/bash
# brev-tray beside a brev set up by `brev serve`'s first run (issue 23):
# - zero configuration logs in as the account that first run created,
#   $USER@localhost (lower-cased), even when the process runs as another
#   Unix user (here USER=Alice whoever runs the test, root in CI);
# - no Gdk-CRITICAL / Gtk-CRITICAL on stderr while its XEmbed icon is
#   embedded in a tray (trayer) and updated (three starts: the cause, a
#   realized icon renamed while the tray embedded it, lost a race);
# - a self-signed server without --fingerprint: one attempt, then a message
#   with the exact command and the fingerprint first run printed, no retries;
#   that command then works;
# - --password on the command line is refused with a pointer to
#   --password-file.
. ../lib.sh
. ../t-60-tray-notify/tray-lib.sh
tray_requirements
command -v trayer >/dev/null || fail "trayer missing (tools/deps.sh test installs it)"

# --- brev serve's first run on an empty DATADIR, as USER=Alice -------------
F=$T/first
ports=$(free_ports 11) || exit 1
read -r -d '' P_SMTP P_SUB P_SUBS P_IMAP P_IMAPS P_POP3 P_POP3S P_DEAD P_HTTP P_HTTPS P_SIEVE <<<"$ports" || true
LISTEN=(-o listen.smtp=127.0.0.1:$P_SMTP -o listen.submission=127.0.0.1:$P_SUB
	-o listen.submissions=127.0.0.1:$P_SUBS -o listen.imap=127.0.0.1:$P_IMAP
	-o listen.imaps=127.0.0.1:$P_IMAPS -o listen.pop3=127.0.0.1:$P_POP3
	-o listen.pop3s=127.0.0.1:$P_POP3S -o listen.http=127.0.0.1:$P_HTTP
	-o listen.https=127.0.0.1:$P_HTTPS -o listen.managesieve=127.0.0.1:$P_SIEVE -o dns.resolver=127.0.0.1:$P_DEAD -o delivery.port=$P_DEAD)
USER=Alice "$BREV" -d "$F" "${AS_USER[@]}" "${LISTEN[@]}" serve >"$T/first.out" 2>"$T/first.err" &
pid=$!
wait_until 20 "first run's settings" grep -q 'SHA-256' "$T/first.out"
grep -q 'user name *alice@localhost' "$T/first.out" || fail "first run's account: $(cat "$T/first.out")"
PW=$(sed -n 's/^ *password *\([^ ]*\) .*/\1/p' "$T/first.out")
# the last SHA-256 is the server certificate's (the one before is the local CA's)
FIRST_FP=$(sed -n 's/^ *SHA-256 \([0-9A-F:]*\).*/\1/p' "$T/first.out" | tail -1)
[ -n "$PW" ] && [ ${#FIRST_FP} -eq 95 ] || fail "first run's password/fingerprint: $(cat "$T/first.out")"
kill -TERM $pid
wait $pid || fail "first run's serve exit status"
# the same ports from brev.conf from now on: brev-tray reads them there
printf '%s\n' "${LISTEN[@]}" | grep -v '^-o$' >>"$F/brev.conf"
[ "$(id -u)" != 0 ] || echo "user = nobody" >>"$F/brev.conf" # as brev_init does
D=$F
brev_start

tray_x
tray_bus
trayer --edge bottom --align right --widthtype request --height 24 >"$T/trayer.log" 2>&1 &
embedded() { xwininfo -root -tree | grep -qE "^ {8,}0x[0-9a-f]+ \"$1\""; }
wait_until 10 "trayer's panel" bash -c 'xwininfo -root -tree | grep -q "\"panel\""'

export HOME=$T/home BREV_HOME=$F USER=Alice
unset XDG_CONFIG_HOME XDG_DATA_HOME
# brev-tray's own store for a password typed once (t-63 types it in the
# dialog): the name carries the login, so a wrong login would ask again
mkdir -p "$HOME/.config/brev"
SAVED=$HOME/.config/brev/tray-alice@localhost@127.0.0.1_$P_IMAPS.password
printf '%s' "$PW" >"$SAVED"; chmod 600 "$SAVED"

for n in 1 2 3; do
	tray_start zero$n.log
	wait_until 20 "start $n: zero-config account online" grep -q 'connected (IDLE)' "$T/zero$n.log"
	grep -q "watching alice@localhost at 127.0.0.1:$P_IMAPS (certificate pinned by SHA-256)" "$T/zero$n.log" ||
		fail "zero-config login name: $(cat "$T/zero$n.log")"
	wait_until 10 "start $n: the icon inside trayer" embedded "brev: $((n - 1)) unread"
	# a change of count redraws the embedded icon
	"$SYSPY" - "$P_SUBS" "$PW" <<'PY' || fail "send"
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP_SSL("127.0.0.1", int(sys.argv[1]), timeout=30, context=ctx) as s:
    s.login("alice@localhost", sys.argv[2])
    s.sendmail("alice@localhost", ["alice@localhost"],
               b"From: alice@localhost\r\nTo: alice@localhost\r\nSubject: count\r\n\r\nhi\r\n")
PY
	wait_until 10 "start $n: the icon says $n unread" embedded "brev: $n unread"
	sleep 1
	kill -TERM "$TRAY_PID"; wait "$TRAY_PID" || fail "brev-tray exit status"
	if grep -E 'G[dt]k-CRITICAL|G[dt]k-WARNING' "$T/zero$n.log"; then
		fail "start $n: GTK complained on stderr"
	fi
done

# --- a self-signed server and no pin: one attempt, the exact command -------
printf '%s\n' "$PW" >"$T/pw"; chmod 600 "$T/pw"
tray_start selfsigned.log --server "localhost:$P_IMAPS" --user alice@localhost --password-file "$T/pw"
wait_until 10 "the message on how to pin" grep -q 'pin it:' "$T/selfsigned.log"
cat "$T/selfsigned.log"
grep -qF "self-signed certificate with SHA-256 $FIRST_FP" "$T/selfsigned.log" ||
	fail "not the fingerprint first run printed ($FIRST_FP)"
CMD=$(sed -n 's/.*pin it: \(brev-tray [^(]*\) (or.*/\1/p' "$T/selfsigned.log")
[ "$CMD" = "brev-tray --server localhost:$P_IMAPS --user alice@localhost --fingerprint $FIRST_FP" ] ||
	fail "the command to pin: '$CMD'"
sleep 4 # the backoff would have retried at 1 and 3 s
kill -0 "$TRAY_PID" || fail "brev-tray exited"
[ "$(grep -c 'certificate not trusted' "$T/selfsigned.log")" -eq 1 ] || fail "retried: $(cat "$T/selfsigned.log")"
if grep -q 'retrying' "$T/selfsigned.log"; then fail "it retries: $(cat "$T/selfsigned.log")"; fi
grep -q 'stays offline until its certificate is pinned' "$T/selfsigned.log" || fail "no final line"
kill -TERM "$TRAY_PID"; wait "$TRAY_PID" || true
# the printed command (plus the password file) works
read -r -a args <<<"${CMD#brev-tray }"
tray_start pinned.log "${args[@]}" --password-file "$T/pw"
wait_until 15 "the printed command connects" grep -q 'connected (IDLE)' "$T/pinned.log"
kill -TERM "$TRAY_PID"; wait "$TRAY_PID" || true

# --- --password is refused, pointing to --password-file --------------------
for form in "--password secret" "--password=secret"; do
	rc=0
	# shellcheck disable=SC2086
	"$TRAY_BIN" --server "localhost:$P_IMAPS" --user alice@localhost $form >"$T/pwarg.log" 2>&1 || rc=$?
	[ $rc -eq 1 ] || fail "$form: exit status $rc"
	grep -q -- 'use --password-file FILE' "$T/pwarg.log" || fail "$form: $(cat "$T/pwarg.log")"
	if grep -q secret "$T/pwarg.log"; then fail "$form: the password echoed"; fi
done
echo ok
