#!/bin/bash
# Make docs/tray-notification.png: a real brev, brev-tray as an XEmbed icon
# in trayer (no StatusNotifierWatcher on this bus, so libayatana-appindicator
# falls back to XEmbed) and one notification shown by dunst, on a small Xvfb
# screen, taken with `import -window root`. Not part of `make test`; run:
#   cd tests/e2e/t-60-tray-notify && BREV=$PWD/../../../brev ./screenshot.sh OUT.png
. ../lib.sh
. ./tray-lib.sh
[ -n "${TRACE:-}" ] && set -x
OUT=$(realpath -m "${1:?usage: screenshot.sh OUT.png}")
tray_requirements
brev_init shot
brev_user alice@example.test 'pw-alice'
brev_start
printf 'pw-alice\n' >"$T/alice.pw"; chmod 600 "$T/alice.pw"
exec 5>"$T/xvfb.display"
Xvfb -displayfd 5 -screen 0 520x260x24 -nolisten tcp >"$T/xvfb.log" 2>&1 &
exec 5>&-
wait_until 10 "Xvfb" test -s "$T/xvfb.display"
export DISPLAY=:$(head -1 "$T/xvfb.display")
convert -size 520x260 gradient:'#5b7fa6-#2d3e50' "$T/bg.png"
display -window root "$T/bg.png" 2>/dev/null || true # sets the background, then exits 1
tray_bus
trayer --edge bottom --align right --widthtype request --height 26 --tint 0x222222 \
	--transparent true --alpha 0 >"$T/trayer.log" 2>&1 &
sleep 1
tray_dunst
tray_start tray.log --server "localhost:$P_IMAPS" --user alice@example.test \
	--password-file "$T/alice.pw" --ca "$D/cert.pem"
wait_until 10 "online" grep -q 'connected' "$T/tray.log"
smtp_send alice@example.test "Lunch on Friday?" 1 "Carol Sender <carol@remote.test>" \
	$'\nLet us meet at noon, the usual place?\n\nCarol\n'
wait_until 10 "the notification" grep -q '1 new message' "$T/tray.log"
sleep 1.5
import -window root "$OUT"
echo "wrote $OUT"
