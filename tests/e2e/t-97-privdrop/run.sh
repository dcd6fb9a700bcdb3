#!/bin/bash
# Privilege drop (issue 22): started as root, brev serves only as an
# unprivileged user and never fails open.
# - no `user` key and no `brev` user in /etc/passwd: `brev serve` exits 1
#   with one line saying how to create one, binds nothing, and a first run
#   does not initialise the DATADIR;
# - `user = root` (uid 0) is refused the same way;
# - with a `brev` user in /etc/passwd and no `user` key, brev drops to it:
#   /proc/PID/status shows its uid and NoNewPrivs: 1, the DATADIR belongs to
#   it, and it serves (an IMAP login, an SMTP delivery) and reloads its
#   certificate on SIGHUP although the DATADIR sits below a root-only (0700)
#   directory.
# /etc/passwd is replaced by a bind mount inside a private mount namespace,
# so the machine's own users do not matter and nothing leaks.
if [ -z "${BREV_IN_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "FAIL: t-97 tests what brev does as root: run it as root" >&2; exit 1; }
	exec env BREV_IN_NS=1 unshare --mount --propagation private --fork bash "$0" "$@"
fi
. ../lib.sh
brev_init x
sed -i '/^user = /d' "$D/brev.conf"
brev_user alice@example.test pw-alice

# -- no user to drop to: refused
grep -v '^brev:' /etc/passwd >"$T/passwd.none"
mount --bind "$T/passwd.none" /etc/passwd
# (timeout: a brev that serves as root would never return)
rc=0; timeout 20 "$BREV" -d "$D" serve >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] || fail "served as root without a user to drop to (exit $rc): $(cat "$T/err")"
[ "$(wc -l <"$T/err")" = 1 ] || fail "not one line: $(cat "$T/err")"
grep -q "refusing to serve as root.*useradd.*brev.*user = NAME" "$T/err" || fail "unclear error: $(cat "$T/err")"
if (exec 3<>"/dev/tcp/127.0.0.1/$P_SMTP") 2>/dev/null; then fail "something listens on the SMTP port"; fi
# A first run is refused before it initialises anything.
rc=0; timeout 20 "$BREV" -d "$T/fresh" -o listen.smtp=127.0.0.1:$P_SMTP serve >/dev/null 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -q "refusing to serve as root" "$T/err" || fail "first run as root: exit $rc $(cat "$T/err")"
[ ! -e "$T/fresh" ] || fail "the refused first run created its DATADIR"
# uid 0 under another name is no drop.
rc=0; timeout 20 "$BREV" -d "$D" -o user=root serve >/dev/null 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -q "uid or gid 0" "$T/err" || fail "user = root: exit $rc $(cat "$T/err")"
umount /etc/passwd

# -- the default `brev` user
cp /etc/passwd "$T/passwd.brev"
echo "brev:x:64999:64999:brev test:/nonexistent:/usr/sbin/nologin" >>"$T/passwd.brev"
mount --bind "$T/passwd.brev" /etc/passwd
chmod 700 "$T"
brev_start
st=/proc/$BREV_PID/status
uid=$(awk '/^Uid:/ {print $2 " " $3 " " $4 " " $5}' "$st")
[ "$uid" = "64999 64999 64999 64999" ] || fail "uids after the drop: $uid"
gid=$(awk '/^Gid:/ {print $2}' "$st")
[ "$gid" = 64999 ] || fail "gid after the drop: $gid"
[ "$(awk '/^NoNewPrivs:/ {print $2}' "$st")" = 1 ] || fail "no PR_SET_NO_NEW_PRIVS: $(grep NoNewPrivs "$st")"
[ "$(awk '/^Groups:/ {print $2}' "$st")" = "" ] || fail "supplementary groups kept: $(grep Groups "$st")"
[ "$(stat -c %u "$D/store/data.mdb")" = 64999 ] || fail "store not handed to brev"
python3 - "$P_IMAP" "$P_SMTP" <<'PY' || fail "serving after the drop"
import imaplib, smtplib, sys, time
s = smtplib.SMTP("127.0.0.1", int(sys.argv[2]), timeout=30)
s.sendmail("x@remote.test", ["alice@example.test"], b"Subject: hi\r\n\r\nafter the drop\r\n")
s.quit()
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]), timeout=30)
m.login("alice@example.test", "pw-alice")
typ, d = m.select("INBOX")
assert typ == "OK" and int(d[0]) == 1, d
m.logout()
PY
kill -HUP "$BREV_PID"
for i in $(seq 100); do grep -q "SIGHUP:" "$D/serve.log" && break; sleep 0.1; done
grep -q "SIGHUP: certificate reloaded" "$D/serve.log" || fail "reload after the drop: $(grep SIGHUP "$D/serve.log")"
brev_stop
umount /etc/passwd
echo ok
