# tests/e2e/t-60-tray-notify/tray-lib.sh — shared by the t-6N-tray-* tests
# (sourced after ../lib.sh). A private X server (Xvfb, display number picked
# by Xvfb itself with -displayfd), a private session bus (dbus-daemon in the
# foreground, so lib.sh's process-group trap ends it), an explicitly started
# notification daemon (dunst) and dbus-monitor capturing every Notify call.
# Nothing here touches the user's own desktop session.

# Under `make asan` (BREV is brev-san) brev-tray is built and run with the
# same sanitizers, from build-san/tray/; TRAY_BIN may name any build.
if [ -z "${TRAY_BIN:-}" ]; then
	case "$BREV" in
	*-san) TRAY_SAN=address,undefined TRAY_BIN=$ROOT/build-san/tray/brev-tray ;;
	*) TRAY_SAN= TRAY_BIN=$ROOT/tray/brev-tray ;;
	esac
fi
TRAY_SAN=${TRAY_SAN-}
SYSPY=/usr/bin/python3 # python3-gi lives in Debian's python, not a pyenv one
export NO_AT_BRIDGE=1  # no accessibility bus in a test session: no warning

tray_requirements() {
	local missing=""
	for c in Xvfb dbus-daemon dbus-monitor dunst gdbus; do
		command -v "$c" >/dev/null || missing="$missing $c"
	done
	"$SYSPY" -c 'import gi' 2>/dev/null || missing="$missing python3-gi"
	[ -z "$missing" ] || skip "no X server / desktop test tools (missing:$missing; tools/deps.sh test installs them)"
	env -u MAKEFLAGS -u MAKELEVEL make --no-print-directory -C "$ROOT" tray SANITIZE="$TRAY_SAN" \
		>"$T/make-tray.log" 2>&1 ||
		{ cat "$T/make-tray.log"; fail "make tray failed"; }
}

# tray_x: start Xvfb on a free display; exports DISPLAY.
tray_x() {
	exec 5>"$T/xvfb.display"
	Xvfb -displayfd 5 -screen 0 1024x768x24 -nolisten tcp >"$T/xvfb.log" 2>&1 &
	exec 5>&-
	local i=0
	while [ ! -s "$T/xvfb.display" ]; do
		i=$((i + 1)); [ $i -le 200 ] || fail "Xvfb did not start: $(cat "$T/xvfb.log")"
		sleep 0.05
	done
	DISPLAY=:$(head -1 "$T/xvfb.display")
	export DISPLAY
	# An X server that another test (or checkout) starts at the same moment
	# can take the display this one named: it then exits ("server already
	# running") while the display answers, from the other server, until that
	# one's test ends. So: ours must still run once the display answers.
	# Start another, a few times.
	local pid=$! n=0
	until xwininfo -root >/dev/null 2>&1 && sleep 0.5 && kill -0 "$pid" 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null; then
			TRAY_X_TRIES=$((${TRAY_X_TRIES:-0} + 1))
			[ "$TRAY_X_TRIES" -le 5 ] || fail "Xvfb did not start: $(cat "$T/xvfb.log")"
			note "Xvfb on $DISPLAY exited ($(tail -1 "$T/xvfb.log")); starting another"
			tray_x
			return
		fi
		n=$((n + 1)); [ $n -le 200 ] || fail "Xvfb does not answer on $DISPLAY: $(cat "$T/xvfb.log")"
		sleep 0.05
	done
}

# tray_bus [noservices]: a private session bus; exports DBUS_SESSION_BUS_ADDRESS.
# With "noservices" the bus can activate nothing, so no notification daemon
# can be started behind the test's back.
tray_bus() {
	local conf=(--session)
	if [ "${1:-}" = noservices ]; then
		cat >"$T/bus.conf" <<'CONF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
		conf=(--config-file="$T/bus.conf")
	fi
	dbus-daemon "${conf[@]}" --nofork --nopidfile --print-address=1 >"$T/bus.addr" 2>"$T/bus.log" &
	local i=0
	while [ ! -s "$T/bus.addr" ]; do
		i=$((i + 1)); [ $i -le 200 ] || fail "dbus-daemon did not start: $(cat "$T/bus.log")"
		sleep 0.05
	done
	DBUS_SESSION_BUS_ADDRESS=$(head -1 "$T/bus.addr")
	export DBUS_SESSION_BUS_ADDRESS
}

# tray_bus_has NAME: is NAME owned on the bus?
tray_bus_has() {
	gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
		--method org.freedesktop.DBus.NameHasOwner "$1" 2>/dev/null | grep -q true
}

# tray_dunst: the notification daemon, started explicitly.
tray_dunst() {
	dunst -config /etc/xdg/dunst/dunstrc >"$T/dunst.log" 2>&1 &
	DUNST_PID=$!
	local i=0
	until tray_bus_has org.freedesktop.Notifications; do
		i=$((i + 1)); [ $i -le 200 ] || fail "dunst did not take org.freedesktop.Notifications: $(cat "$T/dunst.log")"
		sleep 0.05
	done
}

# tray_monitor: capture Notify calls into $T/notify.log.
tray_monitor() {
	dbus-monitor --session "type='method_call',interface='org.freedesktop.Notifications',member='Notify'" \
		>"$T/notify.log" 2>&1 &
	sleep 0.3
}

# tray_start LOGNAME ARGS...: run brev-tray in the background (PID in TRAY_PID).
tray_start() {
	local log=$1
	shift
	"$TRAY_BIN" "$@" >"$T/$log" 2>&1 &
	TRAY_PID=$!
}

# notify_count: how many Notify calls were captured so far.
notify_count() {
	grep -c 'member=Notify' "$T/notify.log" 2>/dev/null || true
}

# notify_last: the string arguments of the last Notify call, one per line
# (app name, icon, summary, body), as dbus-monitor prints them.
notify_last() {
	"$SYSPY" - "$T/notify.log" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
calls = text.split("member=Notify")[1:]
if not calls:
    sys.exit(0)
# string "..." may span lines; dbus-monitor does not escape quotes
strings = re.findall(r'^   string "(.*?)"$', calls[-1], re.S | re.M)
for s in strings[:4]:
    print(s.replace("\n", "\\n"))
PY
}

# tray_dump: the test's own logs (brev-tray, dunst, Xvfb, captured calls).
tray_dump() {
	for f in "$T"/*.log; do
		[ -s "$f" ] || continue
		echo "--- $(basename "$f"), last lines:"
		tail -12 "$f"
	done
}

# wait_until SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.1 s.
wait_until() {
	local limit=$1 what=$2 i=0
	shift 2
	until "$@"; do
		i=$((i + 1))
		if [ $i -gt $((limit * 10)) ]; then
			tray_dump
			fail "timed out after ${limit}s waiting for: $what"
		fi
		sleep 0.1
	done
}

# smtp_send TO SUBJECT [COUNT] [FROM] [BODY]: COUNT messages in one SMTP
# session on the MX port, as mail from outside arrives. The client is
# 127.0.0.1, a local client, so SPF/DMARC are not checked (none (local
# client)) and nothing waits on the test's dead resolver; the tray does not
# care how mail arrived. The header From: is whatever the test wants the
# notification to show, and the envelope sender is its address.
smtp_send() {
	"$SYSPY" - "$P_SMTP" "$@" <<'PY'
import smtplib, sys
from email.message import EmailMessage
from email.utils import parseaddr
port, to, subject = int(sys.argv[1]), sys.argv[2], sys.argv[3]
count = int(sys.argv[4]) if len(sys.argv) > 4 else 1
frm = sys.argv[5] if len(sys.argv) > 5 else "Alice Sender <alice@remote.test>"
body = sys.argv[6] if len(sys.argv) > 6 else "Hello from the tray test.\nSecond line.\n"
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    for i in range(count):
        m = EmailMessage()
        m["From"] = frm
        m["To"] = to
        m["Subject"] = subject if count == 1 else "%s %d" % (subject, i + 1)
        m.set_content(body)
        s.send_message(m, from_addr=parseaddr(frm)[1] or "sender@remote.test")
PY
}
