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
#  - on a moderated list even a member's post waits for approval;
#  - by mail: the owner's reply to the notice ("Re: confirm aTOKEN")
#    approves, "confirm rTOKEN" from the notice's text rejects; the same
#    token from someone else, or a second time, does nothing.
. ../lib.sh
. ../queue/lib.sh
nsd_start
mta_init alice alice.test 127.0.0.2
DA=$D; PA_IMAPS=$P_IMAPS; PA_SUB=$P_SUB
brev_user ann@alice.test ann-password
mta_start
PID_A=$BREV_PID
mta_init bob bob.test 127.0.0.3
DB=$D; PB_IMAPS=$P_IMAPS
brev_user carol@bob.test carol-password
mta_start
export P25 PA_IMAPS PB_IMAPS PA_SUB
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
wait_count "$PA_IMAPS" ann@alice.test ann-password "approve post 1 to news@alice.test from mallory@bob.test" 1
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

# ---- by mail: the owner replies to the notice ----
# notice N: (approve-token reject-token) of the notice about held post N
notice() {
	python3 - "$1" <<'PY'
import os, imaplib, ssl, sys, re, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
for _ in range(150):
    m = imaplib.IMAP4_SSL("127.0.0.1", int(os.environ["PA_IMAPS"]), ssl_context=ctx)
    m.login("ann@alice.test", "ann-password"); m.select("INBOX")
    ids = m.search(None, "SUBJECT", '"approve post %s to"' % sys.argv[1])[1][0].split()
    if ids:
        raw = m.fetch(ids[0], "(RFC822)")[1][0][1].decode()
        a = re.search(r"Subject: confirm (a[a-z0-9]{28}) ", raw).group(1)
        r = re.search(r"\n  confirm (r[a-z0-9]{28})\r", raw).group(1)
        print(a, r)
        sys.exit(0)
    m.logout(); time.sleep(0.2)
sys.exit("no notice for post %s" % sys.argv[1])
PY
}
mailreq() { # FROM-USER PASSWORD SUBJECT: through alice's submission to news-request@
	python3 - "$@" <<'PY' || fail "mail $*"
import os, smtplib, ssl, sys
user, pw, subj = sys.argv[1:]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", int(os.environ["PA_SUB"]), timeout=20)
s.starttls(context=ctx); s.login(user, pw)
s.sendmail(user, ["news-request@alice.test"],
           ("From: %s\r\nTo: news-request@alice.test\r\nSubject: %s\r\n\r\nok\r\n" % (user, subj)).encode())
s.quit()
PY
}
echo mallory-password | "$BREV" -d "$DA" user add mallory@alice.test >/dev/null || fail "user add mallory"
post mallory@bob.test news@alice.test "third from mallory" >/dev/null || fail "post"
read -r ta tr <<<"$(notice 4)" || fail "no notice for post 4"
# someone else (a local user who is not the owner) with the owner's token: nothing
mailreq mallory@alice.test mallory-password "Re: confirm $ta (approve post 4)"
until_true 20 grep -q 'from=<mallory@alice.test> moderation token refused: forged, not the owner' \
	"$DA/serve.log" || fail "a token from another address was not refused"
L held news@alice.test | grep -q '^4 ' || fail "post 4 left the queue of held posts"
mailreq ann@alice.test ann-password "Re: confirm $ta (approve post 4 to news@alice.test)"
wait_count "$PB_IMAPS" carol@bob.test carol-password "third from mallory" 1
[ -z "$(L held news@alice.test)" ] || fail "post 4 still held after the owner's reply"
mailreq ann@alice.test ann-password "Re: confirm $ta (approve post 4 to news@alice.test)"
until_true 20 grep -q 'from=<ann@alice.test> moderation token refused' "$DA/serve.log" ||
	fail "a replayed approval was not refused"
post mallory@bob.test news@alice.test "fourth from mallory" >/dev/null || fail "post"
read -r ta tr <<<"$(notice 5)" || fail "no notice for post 5"
mailreq ann@alice.test ann-password "confirm $tr"
until_true 20 grep -q 'held post 5 rejected by <ann@alice.test>' "$DA/serve.log" || fail "reject by mail"
[ -z "$(L held news@alice.test)" ] || fail "post 5 still held after the owner's reject"
sleep 2
[ "$(count "$PB_IMAPS" carol@bob.test carol-password "third from mallory")" = 1 ] || fail "not one copy of post 4"
[ "$(count "$PB_IMAPS" carol@bob.test carol-password "fourth from mallory")" = 0 ] || fail "a rejected post was sent"

brev_stop "$PID_A"
brev_stop
note ok
