#!/bin/bash
# brev-tray against a hostile IMAPS server (a scripted fake, fakeimap.py):
# a quoted BODY[TEXT] with escapes and a NIL one still give correct
# notifications (RFC 2047 sender and subject decoded); ESEARCH with four
# billion new messages is counted, not expanded; a 20 MB literal and a
# 2.5 MiB line without an end are refused (the connection is dropped, nothing
# is buffered past the limits), a BYE after the greeting and a refused LOGIN
# are reported. brev-tray must survive all of it, reconnect after each of the
# first three, and stop (without retrying) after the refused password.
. ../lib.sh
. ../t-60-tray-notify/tray-lib.sh
tray_requirements

brev_init hostile # only for its certificate and key
P=$(free_port)
"$SYSPY" "$ROOT/tests/e2e/t-64-tray-hostile/fakeimap.py" "$P" "$D/cert.pem" "$D/key.pem" "$T/fake.log" \
	2>"$T/fakeimap.err" &
wait_port "$P"
printf 'pw\n' >"$T/pw"; chmod 600 "$T/pw"

tray_x
tray_bus
tray_dunst
tray_monitor
tray_start tray.log --server "localhost:$P" --user u@example.test --password-file "$T/pw" --ca "$D/cert.pem"

wait_until 15 "two notifications" bash -c '[ "$(grep -c member=Notify "$T/notify.log")" -ge 2 ]'
"$SYSPY" - "$T/notify.log" <<'PY' || fail "notification contents: $(cat "$T/notify.log")"
import html, re, sys
calls = open(sys.argv[1], encoding="utf-8").read().split("member=Notify")[1:]
s1 = re.findall(r'^   string "(.*?)"$', calls[0], re.S | re.M)
s2 = re.findall(r'^   string "(.*?)"$', calls[1], re.S | re.M)
assert s1[2] == "Zoë Quote <zoe@remote.test>", s1
assert "Quoted body" in s1[3] and 'Say "hi" to \\ everyone' in html.unescape(s1[3]), s1  # markup-escaped
assert s2[2] == "nil@remote.test", s2
assert "Nil body" in s2[3] and "NIL" not in s2[3], s2
PY
wait_until 20 "the huge literal refused" grep -q 'server sent a 20000000-byte literal' "$T/tray.log"
wait_until 20 "the ESEARCH notification" bash -c '[ "$(grep -c member=Notify "$T/notify.log")" -ge 3 ]'
notify_last | grep '^3999999985 new messages from Big Count$' || fail "ESEARCH count: $(notify_last)"
wait_until 20 "the endless line refused" grep -q 'server response longer than' "$T/tray.log"
wait_until 20 "the BYE reported" grep -q 'server refused: \* BYE fake server going away\|server said' "$T/tray.log"
wait_until 30 "the refused login" grep -q 'login failed: NO \[AUTHENTICATIONFAILED\]' "$T/tray.log"
sleep 3
kill -0 "$TRAY_PID" || fail "brev-tray died: $(cat "$T/tray.log")"
[ "$(grep -c 'session4' "$T/fake.log")" -eq 1 ] || fail "retried a refused password: $(cat "$T/fake.log")"
grep -q 'the password in .* was refused' "$T/tray.log" || fail "no stop line: $(cat "$T/tray.log")"
cat "$T/tray.log"
kill -TERM "$TRAY_PID"
wait "$TRAY_PID" || fail "brev-tray exit status"
echo ok
