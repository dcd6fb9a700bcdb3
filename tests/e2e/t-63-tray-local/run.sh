#!/bin/bash
# brev-tray with no arguments (issue 8): it finds the local brev through
# $BREV_HOME (brev.conf's listen.imaps, the certificate pinned by its
# SHA-256), logs in as $USER@<first domain>, asks for the password once in a
# GTK dialog (typed here with xdotool), keeps it in a 0600 file when no
# Secret Service runs, and uses the saved password on the next start without
# asking; its icon sits in an XEmbed tray (trayer). Also: a wrong password stops that account without a retry storm, a
# wrong pin is refused, brev's own fingerprint format (AA:BB:...) is accepted,
# and without --ca/--fingerprint the system trust store decides.
. ../lib.sh
. ../t-60-tray-notify/tray-lib.sh
tray_requirements
command -v xdotool >/dev/null || skip "xdotool missing (tools/deps.sh test installs it)"
command -v trayer >/dev/null || skip "trayer missing (tools/deps.sh test installs it)"

ME=$(id -un)
brev_init local
brev_user "$ME@example.test" 'pw-local'
brev_user alice@example.test 'pw-alice'
brev_start

tray_x
tray_bus
tray_dunst
tray_monitor
# an XEmbed tray (no StatusNotifierWatcher on this bus): the icon falls back
# to it and must sit inside trayer's panel with the count in its title
trayer --edge bottom --align right --widthtype request --height 24 >"$T/trayer.log" 2>&1 &
embedded() { xwininfo -root -tree | grep -qE "^ {8,}0x[0-9a-f]+ \"$1\""; }

# --- zero configuration: the dialog, then the saved password ----------------
export HOME=$T/home BREV_HOME=$D
unset XDG_CONFIG_HOME XDG_DATA_HOME
mkdir -p "$HOME"
tray_start local1.log
# the dialog by its own title (the icon's XEmbed window is named "brev-tray"
# until its first count, and trayer unmaps it while embedding)
dialog() { xdotool search --onlyvisible --name '^brev-tray: log in$' 2>/dev/null | head -1 || true; }
win=
has_dialog() { win=$(dialog); [ -n "$win" ]; }
wait_until 15 "the password dialog" has_dialog
xdotool windowfocus --sync "$win" 2>/dev/null || true
xdotool type --delay 20 'pw-local'
xdotool key Return
wait_until 15 "zero-config account online" grep -q 'connected (IDLE)' "$T/local1.log"
grep -q "watching $ME@example.test at 127.0.0.1:$P_IMAPS (certificate pinned by SHA-256)" "$T/local1.log" ||
	fail "local discovery: $(cat "$T/local1.log")"
saved=$HOME/.config/brev/tray-${ME}@example.test@127.0.0.1_$P_IMAPS.password
wait_until 5 "the password saved" test -f "$saved"
[ "$(stat -c %a "$saved")" = 600 ] || fail "saved password mode $(stat -c %a "$saved")"
smtp_send "$ME@example.test" "Zero config works"
wait_until 10 "notification for the local account" bash -c '[ "$(grep -c member=Notify "$T/notify.log")" -ge 1 ]'
notify_last | grep 'Zero config works' || fail "local notification: $(notify_last)"
wait_until 10 "the XEmbed icon 'brev: 1 unread' inside trayer" embedded "brev: 1 unread"
kill -TERM "$TRAY_PID"; wait "$TRAY_PID" || fail "brev-tray exit status"

# second start: no dialog, the saved password is used
tray_start local2.log
wait_until 15 "second start online" grep -q 'connected (IDLE)' "$T/local2.log"
[ -z "$(dialog)" ] || fail "asked for the password again"
kill -TERM "$TRAY_PID"; wait "$TRAY_PID" || true

# --- a wrong password: one failed login, the account stays offline ----------
printf 'wrong\n' >"$T/wrong.pw"; chmod 600 "$T/wrong.pw"
tray_start wrong.log --server "localhost:$P_IMAPS" --user alice@example.test \
	--password-file "$T/wrong.pw" --ca "$D/cert.pem"
WRONG_PID=$TRAY_PID
wait_until 20 "the login failure" grep -q 'login failed' "$T/wrong.log"

# --- a wrong pin is refused; brev's AA:BB:.. form of the right one works ----
tray_start pin.log --server "127.0.0.1:$P_IMAPS" --user alice@example.test \
	--password-file "$T/wrong.pw" --fingerprint "$(printf '%064d' 0)"
PIN_PID=$TRAY_PID
wait_until 10 "the pin mismatch" grep -q 'fingerprint mismatch' "$T/pin.log"
FP=$("$SYSPY" -c 'import ssl,hashlib,sys; h=hashlib.sha256(ssl.PEM_cert_to_DER_cert(open(sys.argv[1]).read().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----")).hexdigest().upper(); print(":".join(h[i:i+2] for i in range(0,64,2)))' "$D/cert.pem")
printf 'pw-alice\n' >"$T/alice.pw"; chmod 644 "$T/alice.pw"
"$TRAY_BIN" --server "127.0.0.1:$P_IMAPS" --user alice@example.test --password-file "$T/alice.pw" \
	--fingerprint "$FP" >"$T/mode.log" 2>&1 &
wait_until 10 "refusal of a 0644 password file" grep -q 'mode 0600' "$T/mode.log"
chmod 600 "$T/alice.pw"
tray_start colon.log --server "127.0.0.1:$P_IMAPS" --user alice@example.test \
	--password-file "$T/alice.pw" --fingerprint "$FP"
wait_until 15 "pinned by brev's fingerprint form" grep -q 'connected (IDLE)' "$T/colon.log"

# --- the system trust store (OpenSSL's default paths; SSL_CERT_FILE stands
# in for /etc/ssl/certs): untrusted without it, trusted with brev's cert in it
tray_start system1.log --server "localhost:$P_IMAPS" --user alice@example.test --password-file "$T/alice.pw"
wait_until 10 "the untrusted certificate refused" grep -q 'certificate not trusted' "$T/system1.log"
SSL_CERT_FILE=$D/cert.pem tray_start system2.log --server "localhost:$P_IMAPS" --user alice@example.test \
	--password-file "$T/alice.pw"
wait_until 15 "trusted through the system store" grep -q 'connected (IDLE)' "$T/system2.log"
grep -q 'checked against the system store' "$T/system2.log" || fail "system store: $(cat "$T/system2.log")"

sleep 3
kill -0 "$WRONG_PID" || fail "brev-tray exited after a wrong password"
kill -0 "$PIN_PID" || fail "brev-tray exited after a pin mismatch"
[ "$(grep -c 'login failed' "$T/wrong.log")" -eq 1 ] || fail "retried a refused password: $(cat "$T/wrong.log")"
# No retry storm, seen from the server too (a tray that retried without a
# word would pass the check above): of all the trays above only the one
# with the wrong password ever sent alice's password, once.
n=$(grep -c 'imap auth failed user=alice@example.test' "$D/serve.log" || true)
[ "$n" -eq 1 ] || fail "brev saw $n failed logins for alice, want 1: $(grep 'imap auth failed' "$D/serve.log")"
cat "$T/wrong.log" "$T/pin.log"
echo ok
