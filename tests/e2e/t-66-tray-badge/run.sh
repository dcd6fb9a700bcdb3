#!/bin/bash
# The unread count on brev-tray's XEmbed icon (issue 23): inside an XEmbed
# tray (trayer; no StatusNotifierWatcher on this bus) the icon carries a red
# badge with the count, drawn into the icon's pixels: none at 0 unread, a
# badge at 3, different pixels at 2 (another client read one), none again
# when everything is read. Read back from screenshots of the tray
# (`import -window root`, cropped to the icon's window as xwininfo places it).
# Its clicks: a middle click and the menu's account line run --open.
# The StatusNotifierItem side (its label) is checked by t-62.
. ../lib.sh
. ../t-60-tray-notify/tray-lib.sh
tray_requirements
command -v trayer >/dev/null || fail "trayer missing (tools/deps.sh test installs it)"
command -v import >/dev/null || fail "imagemagick missing (tools/deps.sh test installs it)"
command -v xdotool >/dev/null || fail "xdotool missing (tools/deps.sh test installs it)"

brev_init badge
brev_user alice@example.test 'pw-alice'
brev_start
printf 'pw-alice\n' >"$T/alice.pw"; chmod 600 "$T/alice.pw"

tray_x
tray_bus
trayer --edge bottom --align right --widthtype request --height 24 >"$T/trayer.log" 2>&1 &
wait_until 10 "trayer's panel" bash -c 'xwininfo -root -tree | grep -q "\"panel\""'
tray_start tray.log --server "localhost:$P_IMAPS" --user alice@example.test \
	--password-file "$T/alice.pw" --ca "$D/cert.pem" --open "touch $T/opened"

# the icon's window: 0x400003 "brev: 3 unread": ("brev-tray" "Brev-tray")  22x22+0+0  +1001+745
icon_line() { xwininfo -root -tree | grep -E "^ {8,}0x[0-9a-f]+ \"$1\"" | head -1; }
embedded() { [ -n "$(icon_line "$1")" ]; }
# shot NAME TITLE: the icon's pixels, as the screen shows them, in $T/NAME.png
shot() {
	local geo
	geo=$(icon_line "$2" | grep -oE '[0-9]+x[0-9]+\+-?[0-9]+\+-?[0-9]+ +\+-?[0-9]+\+-?[0-9]+') ||
		fail "no icon window titled '$2'"
	local wh=${geo%%+*} abs=${geo##* }
	import -window root "$T/root.png"
	convert "$T/root.png" -crop "$wh$abs" +repage "$T/$1.png"
}
# red NAME: how many of the icon's pixels are badge red
red() {
	convert "$T/$1.png" txt:- | "$SYSPY" -c '
import re, sys
n = 0
for line in sys.stdin:
    m = re.search(r"\((\d+),(\d+),(\d+)", line)
    if m and not line.startswith("#"):
        r, g, b = (int(x) for x in m.groups())
        n += r >= 170 and g <= 90 and b <= 90
print(n)'
}
# badge_shows NAME TITLE MIN: a badge of at least MIN red pixels (a redraw
# follows the title by a frame or two, so the tests poll)
badge_shows() { shot "$1" "$2" && [ "$(red "$1")" -ge "$3" ]; }
seen() {
	"$SYSPY" - "$P_IMAPS" "$1" <<'PY' || fail "imaplib STORE"
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx)
m.login("alice@example.test", "pw-alice"); m.select("INBOX")
m.store(sys.argv[2], "+FLAGS", "\\Seen"); m.logout()
PY
}

wait_until 15 "the icon in trayer, 'brev: 0 unread'" embedded "brev: 0 unread"
sleep 1
shot zero "brev: 0 unread"
[ "$(red zero)" -eq 0 ] || fail "a badge at 0 unread: $(red zero) red pixels"

smtp_send alice@example.test "Badge" 3
wait_until 10 "the icon titled 'brev: 3 unread'" embedded "brev: 3 unread"
wait_until 5 "a badge on the icon at 3 unread" badge_shows three "brev: 3 unread" 20
note "3 unread: $(red three) badge pixels"

seen 1
wait_until 10 "the icon titled 'brev: 2 unread'" embedded "brev: 2 unread"
changed() { badge_shows two "brev: 2 unread" 20 && ! compare -metric AE "$T/three.png" "$T/two.png" null: 2>/dev/null; }
wait_until 5 "the badge redrawn for 2 unread" changed
note "2 unread: $(red two) badge pixels, $(compare -metric AE "$T/three.png" "$T/two.png" null: 2>&1 || true) pixels differ from 3"

seen 2:3
wait_until 10 "the icon titled 'brev: 0 unread' again" embedded "brev: 0 unread"
gone() { shot none "brev: 0 unread" && [ "$(red none)" -eq 0 ]; }
wait_until 5 "the badge gone at 0 unread" gone

# the icon is brev-tray's own (not the library's): its clicks still work.
# A middle click opens the mail client; a left or right click opens the
# menu, whose first line (the account) does the same
click() {
	local geo
	geo=$(icon_line "brev: 0 unread" | grep -oE '[0-9]+x[0-9]+\+-?[0-9]+\+-?[0-9]+ +\+-?[0-9]+\+-?[0-9]+')
	local wh=${geo%%+*} abs=${geo##* }
	local w=${wh%x*} h=${wh#*x} x=${abs#+} y
	y=${x#*+}; x=${x%%+*}
	xdotool mousemove $((x + w / 2)) $((y + h / 2)) click "$1"
}
click 2
wait_until 5 "a middle click running --open" test -f "$T/opened"
for b in 1 3; do
	rm -f "$T/opened"
	click $b
	sleep 0.5
	xdotool key Down Return
	wait_until 5 "button $b: the menu's account line running --open" test -f "$T/opened"
done

kill -0 "$TRAY_PID" || fail "brev-tray exited"
if grep -E 'G[dt]k-CRITICAL' "$T/tray.log"; then fail "GTK complained"; fi
echo ok
