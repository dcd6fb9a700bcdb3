#!/bin/bash
# brev-tray survives its server (issue 8): settings on the command line
# (--server --user --password-file --ca), brev stopped with SIGTERM and later
# killed with SIGKILL while brev-tray sits in IDLE. brev-tray must stay up,
# report the disconnection (one line per state change, with the backoff),
# reconnect by itself when brev is back on the same ports, and notify the
# next message. Mail that arrived while it was away is announced on return.
. ../lib.sh
. ../t-60-tray-notify/tray-lib.sh
tray_requirements

brev_init restart
brev_user alice@example.test 'pw-alice'
brev_start
printf 'pw-alice\n' >"$T/alice.pw"; chmod 600 "$T/alice.pw"

tray_x
tray_bus
tray_dunst
tray_monitor
tray_start tray.log --server "localhost:$P_IMAPS" --user alice@example.test \
	--password-file "$T/alice.pw" --ca "$D/cert.pem"
online() { [ "$(grep -c 'connected (IDLE)' "$T/tray.log")" -ge "$1" ]; }
notified() { [ "$(notify_count)" -ge "$1" ]; }
wait_until 15 "brev-tray online" online 1

smtp_send alice@example.test "Before the restart"
wait_until 10 "first notification" notified 1
notify_last | grep 'Before the restart' || fail "first notification: $(notify_last)"

# --- SIGTERM: brev says BYE, brev-tray retries with backoff -----------------
brev_stop
wait_until 10 "the BYE in the log" grep -q 'server said: \[UNAVAILABLE\] Server shutting down; retrying in 1 s' "$T/tray.log"
# a second, refused attempt with a longer backoff (1 s, then 2 s)
wait_until 10 "a refused reconnect attempt" grep -q 'Connection refused; retrying in 2 s' "$T/tray.log"
kill -0 "$TRAY_PID" || fail "brev-tray exited while brev was down"
brev_start
wait_until 30 "reconnect after restart" online 2
smtp_send alice@example.test "After the restart"
wait_until 10 "notification after the restart" notified 2
notify_last | grep 'After the restart' || fail "after restart: $(notify_last)"

# --- SIGKILL: the connection just drops; a message is delivered while
# brev-tray is still away and must be announced when it comes back ---------
brev_kill9
wait_until 10 "the dropped connection" grep -q 'closed; retrying' "$T/tray.log"
brev_start
smtp_send alice@example.test "While you were away"
wait_until 30 "reconnect after kill -9" online 3
wait_until 10 "notification for the missed message" notified 3
notify_last | grep 'While you were away' || fail "missed message: $(notify_last)"
smtp_send alice@example.test "Back to normal"
wait_until 10 "notification after kill -9" notified 4
notify_last | grep 'Back to normal' || fail "after kill -9: $(notify_last)"

kill -0 "$TRAY_PID" || fail "brev-tray died"
cat "$T/tray.log"
kill -TERM "$TRAY_PID"
wait "$TRAY_PID" || fail "brev-tray did not exit cleanly"
brev_stop
echo ok
