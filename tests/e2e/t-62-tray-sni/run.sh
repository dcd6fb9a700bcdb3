#!/bin/bash
# brev-tray's tray item (issue 8): on a session bus with a StatusNotifierWatcher
# (a python3-gi stand-in) and NO notification service (the bus can activate
# nothing), brev-tray registers a StatusNotifierItem whose Title carries the
# unread count, follows deliveries and \Seen changes made by another client,
# shows "disconnected" when brev goes away, keeps running, and logs the
# missing notification service exactly once.
. ../lib.sh
. ../t-60-tray-notify/tray-lib.sh
tray_requirements

brev_init sni
brev_user alice@example.test 'pw-alice'
brev_start
printf 'pw-alice\n' >"$T/alice.pw"; chmod 600 "$T/alice.pw"

tray_x
tray_bus noservices
"$SYSPY" "$ROOT/tests/e2e/t-62-tray-sni/watcher.py" "$T/items" 2>"$T/watcher.log" &
wait_until 10 "the watcher stand-in on the bus" tray_bus_has org.kde.StatusNotifierWatcher
tray_bus_has org.freedesktop.Notifications && fail "a notification service is on the bus"

tray_start tray.log --server "localhost:$P_IMAPS" --user alice@example.test \
	--password-file "$T/alice.pw" --ca "$D/cert.pem" --open "touch $T/opened"
wait_until 10 "the item registered with the watcher" test -s "$T/items"
read -r SVC OBJ <"$T/items"
prop() {
	gdbus call --session --dest "$SVC" --object-path "$OBJ" \
		--method org.freedesktop.DBus.Properties.Get org.kde.StatusNotifierItem "$1" 2>/dev/null
}
title_is() { prop Title | grep -qF "'$1'"; }
wait_until 15 "Title 'brev: 0 unread'" title_is "brev: 0 unread"
prop Status | grep -q Active || fail "Status: $(prop Status)"

smtp_send alice@example.test "Counted" 2
wait_until 10 "Title 'brev: 2 unread'" title_is "brev: 2 unread"
prop IconName | grep -q mail-unread || fail "IconName: $(prop IconName)"
# the count beside the icon, where the host shows the label (issue 23)
label_is() { prop XAyatanaLabel | grep -qF "<'$1'>"; }
wait_until 5 "XAyatanaLabel '2'" label_is 2

# another client reads one message: the count follows
"$SYSPY" - "$P_IMAPS" <<'PY' || fail "imaplib STORE"
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx)
m.login("alice@example.test", "pw-alice"); m.select("INBOX")
m.store("1", "+FLAGS", "\\Seen"); m.logout()
PY
wait_until 10 "Title 'brev: 1 unread'" title_is "brev: 1 unread"
wait_until 5 "XAyatanaLabel '1'" label_is 1

# no notification service: still running, one log line for all of it (also
# after the new mail was folded and had nowhere to go)
wait_until 10 "the folded batch in the log" grep -q '2 new messages' "$T/tray.log"
[ "$(grep -c 'no notification service' "$T/tray.log")" -eq 1 ] ||
	fail "want exactly one 'no notification service' line: $(cat "$T/tray.log")"

# the menu (com.canonical.dbusmenu behind the item's Menu property): the
# account with its count, "Open mail client" running the configured command,
# and "Quit"
MENU=$(prop Menu | sed -n "s/.*objectpath '\([^']*\)'.*/\1/p")
[ -n "$MENU" ] || fail "no Menu property: $(prop Menu)"
layout() {
	gdbus call --session --dest "$SVC" --object-path "$MENU" \
		--method com.canonical.dbusmenu.GetLayout -- 0 -1 '@as []' 2>/dev/null
}
menu_has() { layout | grep -qF "$1"; }
wait_until 5 "menu entry 'alice@example.test: 1 unread'" menu_has "'alice@example.test: 1 unread'"
menu_has "'Open mail client'" || fail "menu: $(layout)"
menu_has "'Quit'" || fail "menu: $(layout)"
item_id() { layout | grep -oE "\(([0-9]+), \{[^}]*'label': <'$1'>" | grep -oE '^\([0-9]+' | tr -d '('; }
click() {
	gdbus call --session --dest "$SVC" --object-path "$MENU" --method com.canonical.dbusmenu.Event \
		"$1" clicked '<int32 0>' 0 >/dev/null
}
OPEN_ID=$(item_id 'Open mail client'); QUIT_ID=$(item_id 'Quit')
[ -n "$OPEN_ID" ] && [ -n "$QUIT_ID" ] || fail "menu item ids: $(layout)"
click "$OPEN_ID"
wait_until 5 "the open command run" test -f "$T/opened"

brev_stop
wait_until 10 "Title 'brev: disconnected'" title_is "brev: disconnected"
prop IconName | grep -q network-offline || fail "IconName while disconnected: $(prop IconName)"
wait_until 5 "menu entry saying why" menu_has "'alice@example.test: server said: [UNAVAILABLE] Server shutting down; retrying in 1 s'"
sleep 1
kill -0 "$TRAY_PID" || fail "brev-tray exited"
click "$QUIT_ID" || true # the reply may race with the exit
rc=0
timeout 10 tail --pid="$TRAY_PID" -f /dev/null || fail "Quit did not end brev-tray"
wait "$TRAY_PID" || rc=$?
[ $rc -eq 0 ] || fail "brev-tray exit status $rc after Quit"
grep -q 'brev-tray: quit' "$T/tray.log" || fail "no quit line"
cat "$T/tray.log"
echo ok
