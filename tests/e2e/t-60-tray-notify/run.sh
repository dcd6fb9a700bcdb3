#!/bin/bash
# brev-tray end to end (issue 8): under a private Xvfb and session bus with
# dunst started explicitly, brev-tray watches two accounts of a real brev over
# IMAPS (certificate trusted through --ca / pinned by fingerprint, passwords in
# 0600 files, settings in tray.conf). Delivered over SMTP: one message (the
# Notify call carries sender name, address, subject and first line), a burst
# of five (one folded notification), and mail for the privacy-mode account
# ("New mail" and a count, nothing else); a click on a bubble runs the
# "open" command from tray.conf. Also the unit test of the text
# helpers, and refusals that must not start (password on the command line,
# a password file readable by others).
. ../lib.sh
. ./tray-lib.sh
tray_requirements
"$(dirname "$TRAY_BIN")/test_msgparse" || fail "test_msgparse"

brev_init tray
brev_user alice@example.test 'pw-alice'
brev_user bob@example.test 'pw-bobby'
brev_start
FP=$("$SYSPY" -c 'import ssl,hashlib,sys; print(hashlib.sha256(ssl.PEM_cert_to_DER_cert(open(sys.argv[1]).read().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----")).hexdigest())' "$D/cert.pem")

printf 'pw-alice\n' >"$T/alice.pw"; chmod 600 "$T/alice.pw"
printf 'pw-bobby' >"$T/bob.pw"; chmod 600 "$T/bob.pw"
cat >"$T/tray.conf" <<CONF
# two accounts: alice checked against the certificate as a CA, bob pinned
open = touch $T/opened

[alice]
server = localhost:$P_IMAPS
user = alice@example.test
password-file = $T/alice.pw
ca = $D/cert.pem

[bob]
server = 127.0.0.1:$P_IMAPS
user = bob@example.test
password-file = $T/bob.pw
fingerprint = $FP
privacy = yes
CONF

# Refusals: an extra argument (a password?) and a world-readable password file.
"$TRAY_BIN" --server localhost:$P_IMAPS --user alice@example.test pw-alice >"$T/refuse1.log" 2>&1 &&
	fail "brev-tray accepted a stray argument"
grep -q 'passwords never go on the command line' "$T/refuse1.log" || fail "no clear refusal: $(cat "$T/refuse1.log")"

tray_x
tray_bus
tray_dunst
tray_monitor

tray_start tray.log --config "$T/tray.conf"
wait_until 15 "both accounts online" \
	bash -c "grep -q 'alice: connected' '$T/tray.log' && grep -q 'bob: connected' '$T/tray.log'"

# --- one message: sender name and address, subject, first line -------------
smtp_send alice@example.test "Lunch on Friday?" 1 "Carol Sender <carol@remote.test>" \
	$'\nLet us meet at noon.\nMore text.\n'
wait_until 10 "a Notify call for the first message" bash -c '[ "$(grep -c member=Notify "$T/notify.log")" -ge 1 ]'
n=$(notify_last)
echo "$n"
grep -q '^Carol Sender <carol@remote.test>$' <<<"$(sed -n 3p <<<"$n")" || fail "summary lacks sender: $n"
grep -q 'Lunch on Friday?' <<<"$(sed -n 4p <<<"$n")" || fail "body lacks subject: $n"
grep -q 'Let us meet at noon.' <<<"$(sed -n 4p <<<"$n")" || fail "body lacks first line: $n"
# clicking the bubble (dunst's default action) opens the mail client
dunstctl action 0 >/dev/null 2>&1 || dunstctl action >/dev/null 2>&1 || true
wait_until 5 "the open command after a click on the notification" test -f "$T/opened"
if [ -n "${TRAY_SCREENSHOT:-}" ]; then
	sleep 1
	import -window root "$TRAY_SCREENSHOT" || fail "screenshot"
fi

# --- a burst of five: one folded notification -------------------------------
before=$(notify_count)
smtp_send alice@example.test "Report" 5 "Dave Burst <dave@remote.test>"
wait_until 10 "the folded notification" bash -c '[ "$(grep -c member=Notify "$T/notify.log")" -gt '"$before"' ]'
sleep 2.5 # any further (unfolded) notification would show up by now
after=$(notify_count)
[ "$after" -eq $((before + 1)) ] || fail "burst gave $((after - before)) notifications, want 1"
n=$(notify_last)
echo "$n"
grep -q '^5 new messages from Dave Burst$' <<<"$(sed -n 3p <<<"$n")" || fail "folded summary: $n"
grep -q 'Report 5' <<<"$(sed -n 4p <<<"$n")" || fail "folded body lacks the newest subject: $n"

# --- privacy mode: "New mail" and the count only ----------------------------
before=$(notify_count)
smtp_send bob@example.test "Secret plans" 1 "Eve Private <eve@remote.test>"
wait_until 10 "the privacy notification" bash -c '[ "$(grep -c member=Notify "$T/notify.log")" -gt '"$before"' ]'
n=$(notify_last)
echo "$n"
[ "$(sed -n 3p <<<"$n")" = "New mail" ] || fail "privacy summary: $n"
[ "$(sed -n 4p <<<"$n")" = "1 new message" ] || fail "privacy body: $n"
! grep -qE 'Eve|eve@|Secret' "$T/notify.log" || fail "privacy mode leaked sender or subject"
! grep -qE 'Eve|eve@|Secret' "$T/tray.log" || fail "privacy mode leaked sender or subject into the log"

kill -0 "$TRAY_PID" || fail "brev-tray died"
grep -q 'pw-alice\|pw-bobby' "$T/tray.log" && fail "a password reached the log"
kill -TERM "$TRAY_PID"
wait "$TRAY_PID" || fail "brev-tray did not exit cleanly on SIGTERM"
brev_stop
echo ok
