#!/bin/bash
# The Debian package (issue 20): `make deb` builds it; dpkg installs it on
# this machine's own root, seen through overlays (/usr, /etc, /var) in a
# private mount namespace, so nothing outside this test changes:
#   - dpkg -i: installed, the system user brev made, /var/lib/brev (0700,
#     owned by brev) initialised; no systemd here (its /run directory is
#     hidden), so the postinst says how to start it by hand;
#   - the unit's ExecStart, run as brev with only CAP_NET_BIND_SERVICE (as
#     the unit grants), takes mail on port 25 and serves it on 993; stopped
#     and started again (a restart of the unit) the mail is still there;
#   - dpkg -r removes the program and keeps /var/lib/brev; dpkg --purge
#     removes /var/lib/brev too.
if [ -z "${IN_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (dpkg, mount namespace)" >&2; exit 77; }
	exec unshare --mount --propagation private --net --fork env IN_NS=1 bash "$0" "$@"
fi
. ../lib.sh
ip link set lo up
make -s -C "$ROOT" deb >"$T/deb.log" 2>&1 || { cat "$T/deb.log"; fail "make deb"; }
deb=$(ls "$ROOT"/build/brev_*.deb | head -1)
[ -f "$deb" ] || fail "no .deb in build/"
cp "$deb" "$T/brev.deb"
dpkg-deb -f "$T/brev.deb" Package | grep -qx brev || fail "package name"

# ---- this machine, through overlays that vanish with the namespace ----
for d in usr etc var; do
	mkdir -p "$T/ov/$d/up" "$T/ov/$d/work"
	mount -t overlay overlay -o "lowerdir=/$d,upperdir=$T/ov/$d/up,workdir=$T/ov/$d/work" "/$d" || fail "overlay on /$d"
done
# a systemd on this machine must not see (or start) anything of ours
[ -d /run/systemd ] && mount -t tmpfs tmpfs /run/systemd
dpkg -s brev >/dev/null 2>&1 && fail "brev is already installed here"

dpkg -i "$T/brev.deb" >"$T/dpkg-i.log" 2>&1 || { cat "$T/dpkg-i.log"; fail "dpkg -i"; }
dpkg -s brev | grep -qx 'Status: install ok installed' || fail "not installed: $(dpkg -s brev 2>&1 | head -3)"
grep -q 'systemd is not running; start it with: runuser -u brev' "$T/dpkg-i.log" || fail "postinst: $(cat "$T/dpkg-i.log")"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd brev) || fail "no user brev"
[ "$uid" -lt 1000 ] && [ "$shell" = /usr/sbin/nologin ] && [ "$home" = /var/lib/brev ] || fail "user brev: uid $uid home $home shell $shell"
[ "$(stat -c '%U %a' /var/lib/brev)" = "brev 700" ] || fail "/var/lib/brev: $(stat -c '%U %a' /var/lib/brev)"
[ "$(stat -c %U /var/lib/brev/brev.conf)" = brev ] || fail "brev.conf not brev's"
for f in /usr/sbin/brev /usr/lib/systemd/system/brev.service /usr/share/man/man8/brev.8 /usr/share/man/man5/brev.conf.5; do
	[ -f "$f" ] || fail "not installed: $f"
done
D=/var/lib/brev
# what a person does next: listeners on the standard ports, an account
DEAD=$(free_port); DPORT=$(free_port)
cat >>"$D/brev.conf" <<CONF
domains = example.test
listen.smtp = 127.0.0.1:25
listen.imaps = 127.0.0.1:993
dns.resolver = 127.0.0.1:$DEAD
delivery.port = $DPORT
CONF
printf 'packaged-pass-1\n' | runuser -u brev -- /usr/sbin/brev -d "$D" user add alice@example.test >/dev/null || fail "user add"

exec_start=$(sed -n 's/^ExecStart=//p' /usr/lib/systemd/system/brev.service)
unit_start() { # the unit's ExecStart with the unit's user and capabilities
	(umask 077; exec setpriv --reuid=brev --regid=brev --init-groups \
		--bounding-set=-all,+net_bind_service --inh-caps=+net_bind_service \
		--ambient-caps=+net_bind_service --no-new-privs $exec_start) >>"$T/serve.log" 2>&1 &
	PID=$!
	brev_track "$PID"
	wait_port 25
	wait_port 993
}
unit_stop() {
	kill -TERM "$PID"
	rc=0; wait "$PID" || rc=$?
	brev_untrack "$PID"
	[ $rc = 0 ] || { tail "$T/serve.log"; fail "stop: exit $rc"; }
}
imap_count() {
	python3 - "$1" <<'PY'
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", 993, ssl_context=ctx, timeout=10)
m.login("alice@example.test", "packaged-pass-1")
m.select("INBOX")
typ, d = m.search(None, 'SUBJECT "%s"' % sys.argv[1])
print(len(d[0].split()))
m.logout()
PY
}
unit_start
grep -q '^Uid:[[:space:]]*'"$uid"'[[:space:]]' "/proc/$PID/status" || fail "not running as brev: $(grep Uid "/proc/$PID/status")"
python3 - <<'PY' || fail "SMTP to the packaged brev"
import smtplib
s = smtplib.SMTP("127.0.0.1", 25, timeout=10)
s.sendmail("bob@elsewhere.test", ["alice@example.test"],
           b"From: bob@elsewhere.test\r\nSubject: packaged\r\nMessage-ID: <p1@elsewhere.test>\r\n\r\nhello\r\n")
s.quit()
PY
[ "$(imap_count packaged)" = 1 ] || fail "the message is not in the INBOX"
unit_stop
unit_start
[ "$(imap_count packaged)" = 1 ] || fail "the message is gone after a restart"
unit_stop

dpkg -r brev >"$T/dpkg-r.log" 2>&1 || { cat "$T/dpkg-r.log"; fail "dpkg -r"; }
[ ! -e /usr/sbin/brev ] || fail "dpkg -r left /usr/sbin/brev"
[ -f "$D/brev.conf" ] || fail "dpkg -r removed the mail and settings"
dpkg --purge brev >"$T/dpkg-p.log" 2>&1 || { cat "$T/dpkg-p.log"; fail "dpkg --purge"; }
[ ! -e "$D" ] || fail "purge left $D"
dpkg -s brev >/dev/null 2>&1 && fail "still known to dpkg after purge"
D=$T  # lib.sh looks for serve.log in $D on failure; /var/lib/brev is gone
echo ok
