#!/bin/bash
# Moderation (issue 21, docs/lists.md "Held posts"), two brevs over
# nsd-resolved MX as t-78-list-post: news@alice.test (members only, owner
# ann@alice.test) with carol@bob.test as its member, and a moderated list.
#  - a non-member's post is taken (250) and held: nobody gets it, the
#    owner gets a notice naming `brev list approve news@alice.test 1`,
#    `brev list held` shows it;
#  - approved, carol gets it with the list's headers, and it is no longer
#    held; approving it again is refused;
#  - a second one rejected: nobody ever gets it;
#  - on a moderated list even a member's post waits for approval.
. ../lib.sh
. ../queue/lib.sh
nsd_start
mta_init alice alice.test 127.0.0.2
DA=$D; PA_IMAPS=$P_IMAPS
brev_user ann@alice.test ann-password
mta_start
PID_A=$BREV_PID
mta_init bob bob.test 127.0.0.3
DB=$D; PB_IMAPS=$P_IMAPS
brev_user carol@bob.test carol-password
mta_start
export P25 PA_IMAPS PB_IMAPS
L() { "$BREV" -d "$DA" list "$@"; }
L add news@alice.test --owner ann@alice.test >/dev/null || fail "list add"
L add mod@alice.test --owner ann@alice.test --posting moderated >/dev/null || fail "list add mod"
L sub news@alice.test carol@bob.test >/dev/null && L sub mod@alice.test carol@bob.test >/dev/null ||
	fail "list sub"

post() { # FROM RCPT SUBJECT: straight to alice's MX
	python3 - "$@" <<'PY'
import os, smtplib, sys
frm, rcpt, subj = sys.argv[1:]
s = smtplib.SMTP("127.0.0.2", int(os.environ["P25"]), timeout=30)
s.sendmail(frm, [rcpt], ("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nbody\r\n" % (frm, rcpt, subj)).encode())
s.quit()
print("250")
PY
}
count() { # PORT USER PASSWORD SUBJECT
	python3 - "$@" <<'PY'
import imaplib, ssl, sys
port, user, pw, subj = sys.argv[1:]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", int(port), ssl_context=ctx)
m.login(user, pw); m.select("INBOX")
print(len(m.search(None, "SUBJECT", '"%s"' % subj)[1][0].split()))
m.logout()
PY
}
wait_count() { # PORT USER PASSWORD SUBJECT N
	local i=0
	until [ "$(count "$1" "$2" "$3" "$4")" -ge "$5" ]; do
		i=$((i + 1)); [ $i -le 150 ] || fail "$2: fewer than $5 '$4'"
		sleep 0.2
	done
}

out=$(post mallory@bob.test news@alice.test "from mallory") || fail "post"
[ "$out" = 250 ] || fail "held post not taken: $out"
wait_count "$PA_IMAPS" ann@alice.test ann-password "post 1 from mallory@bob.test held" 1
out=$(L held news@alice.test) || fail "list held"
grep -Eq '^1  [0-9-]+ [0-9:]+  from <mallory@bob.test>  from mallory$' <<<"$out" || fail "held: $out"
sleep 1
[ "$(count "$PB_IMAPS" carol@bob.test carol-password "from mallory")" = 0 ] || fail "sent before approval"
out=$(L approve news@alice.test 1) || fail "approve: $out"
grep -qx 'post 1 sent to the members of news@alice.test' <<<"$out" || fail "approve: $out"
wait_count "$PB_IMAPS" carol@bob.test carol-password "from mallory" 1
out=$(L held news@alice.test) || fail "list held"
[ -z "$out" ] || fail "still held after approval: $out"
rc=0; L approve news@alice.test 1 2>"$T/err" >/dev/null || rc=$?
[ $rc = 1 ] && grep -q 'no such held post' "$T/err" || fail "approved twice: $rc $(cat "$T/err")"

# ---- rejected: never sent ----
post mallory@bob.test news@alice.test "spam from mallory" >/dev/null || fail "post"
until_true 20 eval 'L held news@alice.test | grep -q "^2 "' || fail "second post not held"
L reject news@alice.test 2 | grep -qx 'post 2 to news@alice.test dropped' || fail "reject"
[ -z "$(L held news@alice.test)" ] || fail "still held after reject"
rc=0; L reject news@alice.test 2 2>/dev/null || rc=$?
[ $rc = 1 ] || fail "rejected twice"

# ---- moderated: a member's post waits too ----
post carol@bob.test mod@alice.test "member on mod" >/dev/null || fail "post"
until_true 20 eval 'L held mod@alice.test | grep -q "from <carol@bob.test>  member on mod"' ||
	fail "member's post on a moderated list not held"
id=$(L held mod@alice.test | cut -d' ' -f1)
L approve mod@alice.test "$id" >/dev/null || fail "approve on mod"
wait_count "$PB_IMAPS" carol@bob.test carol-password "member on mod" 1
sleep 2
[ "$(count "$PB_IMAPS" carol@bob.test carol-password "spam from mallory")" = 0 ] || fail "a rejected post was sent"
[ "$(count "$PB_IMAPS" carol@bob.test carol-password "from mallory")" = 1 ] || fail "not exactly one approved copy"

brev_stop "$PID_A"
brev_stop
note ok
