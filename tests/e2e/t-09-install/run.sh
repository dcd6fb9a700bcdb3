#!/bin/bash
# `make install` and the systemd unit (issue 20, "a service and a package").
#   - make install DESTDIR=... puts the binary, the unit, the man pages and
#     the docs where the unit expects them; brev(8) and brev.conf(5), made
#     from README.md, render without a groff warning and name every key
#     `brev init` writes and every command `brev help` lists;
#   - systemd-analyze verify accepts the unit without a warning;
#   - the unit's service runs as systemd would start it: its ExecStart as an
#     unprivileged user with only the capabilities the unit grants
#     (AmbientCapabilities / CapabilityBoundingSet), NoNewPrivileges and its
#     UMask, in the unit's StateDirectory. systemd is not PID 1 here, so
#     setpriv(1) applies those settings, and the user is `nobody` because a
#     test must not add a system user to the machine (the unit says brev).
#     It binds the standard ports (25, 993) without root, takes a message on
#     25 and serves it over IMAPS, has exactly CAP_NET_BIND_SERVICE
#     effective, and stops cleanly on SIGTERM.
# What this cannot show: systemd's own sandboxing (ProtectSystem=strict,
# PrivateTmp, ...) around brev; docs/install.md says so.
if [ -z "${IN_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespace, setpriv)" >&2; exit 77; }
	exec unshare --net --fork env IN_NS=1 bash "$0" "$@"
fi
. ../lib.sh
ip link set lo up
R=$T/root
make -s -C "$ROOT" install DESTDIR="$R" >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install"; }
for f in usr/sbin/brev usr/lib/systemd/system/brev.service usr/share/doc/brev/README.md usr/share/doc/brev/docs/delivery.md; do
	[ -f "$R/$f" ] || fail "make install: no /$f"
done
[ "$(stat -c %a "$R/usr/sbin/brev")" = 755 ] || fail "binary mode $(stat -c %a "$R/usr/sbin/brev")"

# ---- the man pages, made from README.md: they render without a warning and
# name every key `brev init` writes and every command `brev help` lists ----
M5=$R/usr/share/man/man5/brev.conf.5 M8=$R/usr/share/man/man8/brev.8
for m in "$M5" "$M8"; do
	[ -f "$m" ] || fail "make install: no $m"
	w=$(groff -man -ww -z "$m" 2>&1) || fail "groff $m: $w"
	[ -z "$w" ] || fail "groff warns on $m: $w"
done
plain() { sed 's/\\-/-/g; s/\\f[BRI]//g; s/\\e/\\/g' "$1"; }
plain "$M5" >"$T/m5.txt"; plain "$M8" >"$T/m8.txt"   # files: grep -q on a pipe races pipefail
"$BREV" -d "$T/keys" init >/dev/null 2>&1 || fail "init for the key list"
nkeys=0
for k in $(sed -nE 's/^#?([a-z0-9_.]+) *=.*/\1/p' "$T/keys/brev.conf" | sort -u); do
	grep -qF "$k" "$T/m5.txt" || fail "brev.conf(5) does not describe $k"
	nkeys=$((nkeys + 1))
done
[ "$nkeys" -ge 30 ] || fail "only $nkeys keys in brev init's brev.conf"
ncmds=0
for c in $("$BREV" help | sed -nE 's/^  ([a-z]+).*/\1/p' | sort -u); do
	grep -qE "^ *$c( |$)" "$T/m8.txt" || fail "brev(8) does not list the command $c"
	ncmds=$((ncmds + 1))
done
[ "$ncmds" -ge 10 ] || fail "only $ncmds commands in brev help"
note "man pages: $nkeys keys, $ncmds commands"
U=$R/usr/lib/systemd/system/brev.service
# The build under test runs, whichever pass this is.
install -m 0755 "$BREV" "$R/usr/sbin/brev"

# ---- the unit, as systemd reads it ----
sed "s#/usr/sbin/brev#$R/usr/sbin/brev#" "$U" >"$T/brev.service"
systemd-analyze verify "$T/brev.service" >"$T/verify.out" 2>&1 || { cat "$T/verify.out"; fail "systemd-analyze verify"; }
[ ! -s "$T/verify.out" ] || { cat "$T/verify.out"; fail "systemd-analyze verify warns"; }
key() { sed -n "s/^$1=//p" "$U"; }
[ "$(key User)" = brev ] || fail "User=$(key User)"
[ "$(key CapabilityBoundingSet)" = CAP_NET_BIND_SERVICE ] || fail "CapabilityBoundingSet=$(key CapabilityBoundingSet)"
[ "$(key AmbientCapabilities)" = CAP_NET_BIND_SERVICE ] || fail "AmbientCapabilities=$(key AmbientCapabilities)"
[ "$(key NoNewPrivileges)" = yes ] || fail "NoNewPrivileges"
[ "$(key ProtectSystem)" = strict ] || fail "ProtectSystem=$(key ProtectSystem)"
[ "$(key StateDirectory)" = brev ] || fail "StateDirectory=$(key StateDirectory)"
exec_start=$(key ExecStart)
[ "$exec_start" = "/usr/sbin/brev -d /var/lib/brev serve" ] || fail "ExecStart=$exec_start"

# ---- run it the way the unit says ----
DD=$R/var/lib/brev          # StateDirectory=brev, StateDirectoryMode=0700
chmod 711 "$T"              # the service user must reach /var/lib below it
install -d -m 0755 "$R/var/lib"
install -d -m "$(key StateDirectoryMode)" -o nobody -g nogroup "$DD"
as_unit() {
	(umask "$(key UMask)"; setpriv --reuid=nobody --regid=nogroup --clear-groups \
		--bounding-set=-all,+net_bind_service --inh-caps=+net_bind_service \
		--ambient-caps=+net_bind_service --no-new-privs "$@")
}
as_unit "$R/usr/sbin/brev" -d "$DD" init --public --domain example.test --hostname mx.example.test >"$T/init.log" 2>&1 ||
	{ cat "$T/init.log"; fail "init as the service user"; }
grep -q '^listen.smtp *= *.*:25$' "$DD/brev.conf" || fail "init --public: $(grep listen.smtp "$DD/brev.conf")"
DEAD=$(free_port); DPORT=$(free_port)
printf 'dns.resolver = 127.0.0.1:%s\ndelivery.port = %s\n' "$DEAD" "$DPORT" >>"$DD/brev.conf"
printf 'installed-pass-1\n' | as_unit "$R/usr/sbin/brev" -d "$DD" user add alice@example.test >/dev/null 2>&1 || fail "user add"
D=$DD  # lib.sh prints serve.log on failure
cmd=${exec_start//\/usr\/sbin\/brev/$R/usr/sbin/brev}
cmd=${cmd//\/var\/lib\/brev/$DD}
as_unit $cmd >>"$DD/serve.log" 2>&1 &
PID=$!
brev_track "$PID"
wait_port 25
wait_port 993
# the running server: not root, exactly CAP_NET_BIND_SERVICE (bit 10), no new privileges
ps -eo pid,ppid,user,comm,args >"$T/ps.txt" || true
SPID=$(pgrep -u nobody -f "$R/usr/sbin/brev -d $DD serve" | head -1)
[ -n "$SPID" ] || { cat "$T/ps.txt"; fail "no brev serve running as nobody"; }
st=/proc/$SPID/status
grep -q '^Uid:[[:space:]]*65534' "$st" || fail "not running as the service user: $(grep Uid "$st")"
grep -q '^CapEff:[[:space:]]*0000000000000400$' "$st" || fail "effective capabilities: $(grep Cap "$st")"
grep -q '^NoNewPrivs:[[:space:]]*1$' "$st" || fail "NoNewPrivs not set"
python3 - <<'PY' || fail "mail through the installed service"
import imaplib, smtplib, ssl, time
s = smtplib.SMTP("127.0.0.1", 25, timeout=10)
s.sendmail("bob@elsewhere.test", ["alice@example.test"],
           b"From: bob@elsewhere.test\r\nSubject: installed\r\nMessage-ID: <i1@elsewhere.test>\r\n\r\nhello\r\n")
s.quit()
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", 993, ssl_context=ctx, timeout=10)
m.login("alice@example.test", "installed-pass-1")
m.select("INBOX")
typ, d = m.search(None, 'SUBJECT "installed"')
assert typ == "OK" and d[0].split(), d
m.logout()
PY
kill -TERM "$SPID"
rc=0; wait "$PID" || rc=$?
brev_untrack "$PID"
[ $rc = 0 ] || fail "stop on SIGTERM: exit $rc"
# nothing in DATADIR readable by others (UMask=0077) but the public
# certificates brev makes world-readable on purpose (and this test's log)
bad=$(find "$DD" -perm /077 ! -type s ! -type l ! -name cert.pem ! -name ca.pem ! -name serve.log | head -3)
[ -z "$bad" ] || fail "readable by others: $bad"
echo ok
