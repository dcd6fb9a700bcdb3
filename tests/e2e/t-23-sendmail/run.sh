#!/bin/bash
# brev sendmail: local delivery with the server stopped and running (the
# running one sees it at once over POP3), -t with Bcc removed, a remote
# recipient queued, errors exit 1 with nothing stored.
. ../lib.sh
brev_init sendm
brev_user alice@example.test alice-pw
brev_user bob@example.test bob-pass
SM() { "$BREV" -d "$D" sendmail "$@"; }

# server not running
printf 'Subject: offline\n\nwritten while no server ran\n' | SM alice || fail "sendmail offline"
brev_start
printf 'Subject: online\n\nwith the server up\n.\nnot part of it\n' | SM -oi alice@example.test ||
	fail "sendmail online"
printf 'To: alice\nCc: "Far, Away" <far@remote.test>\nBcc: bob@example.test\nSubject: dash-t\n\nhi\n' |
	SM -t -f alice@example.test || fail "sendmail -t"
printf 'Subject: cron\n\nstdout of a job\n' | SM -FCronDaemon -i -B8BITMIME -oem -odi bob ||
	fail "sendmail as cron calls it"
# errors: unknown local user, no recipient, bad option
rc=0; printf 'Subject: x\n\nx\n' | SM nobody@example.test 2>"$T/err" || rc=$?
[ $rc -eq 1 ] && grep -q "no such local user" "$T/err" || fail "unknown user: rc=$rc $(cat "$T/err")"
rc=0; printf 'Subject: x\n\nx\n' | SM 2>/dev/null || rc=$?
[ $rc -eq 1 ] || fail "no recipients: rc=$rc"
rc=0; printf 'Subject: x\n\nx\n' | SM -bs 2>/dev/null || rc=$?
[ $rc -eq 1 ] || fail "-bs: rc=$rc"
out=$("$BREV" -d "$D" queue list) || fail "queue list: exit $?"
grep -q "far@remote.test" <<<"$out" || fail "remote recipient not queued: $out"

python3 -u - <<'PY' || fail "read back"
import os, poplib
def fetch(user, pw):
    p = poplib.POP3("127.0.0.1", int(os.environ["P_POP3"]), timeout=20)
    p.user(user); p.pass_(pw)
    n = len(p.list()[1])
    msgs = [b"\r\n".join(p.retr(k + 1)[1]) for k in range(n)]
    p.quit()
    return msgs
def subj(m):
    return [l[9:].decode() for l in m.split(b"\r\n") if l.startswith(b"Subject: ")][0]
a = {subj(m): m for m in fetch("alice@example.test", "alice-pw")}
b = {subj(m): m for m in fetch("bob@example.test", "bob-pass")}
assert set(a) == {"offline", "online", "dash-t"}, set(a)
assert set(b) == {"dash-t", "cron"}, set(b)
assert b"not part of it" in a["online"]            # -oi: a lone dot is text
assert b"Bcc" not in a["dash-t"] and b"Bcc" not in b["dash-t"]
assert a["dash-t"].startswith(b"Return-Path: <alice@example.test>\r\nReceived: by ")
for m in list(a.values()) + list(b.values()):
    assert b"\r\nDate: " in m and b"\r\nMessage-ID: <" in m, m
assert b'From: "CronDaemon" <' in b["cron"], b["cron"]
print("sendmail ok")
PY
brev_stop
