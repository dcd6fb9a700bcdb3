#!/bin/bash
# Subscribing by mail (issue 21, docs/lists.md "Joining and leaving by
# mail"), two brevs over nsd-resolved MX as t-78-list-post: news@alice.test
# (policy confirm) on alice's brev, bob@ and carol@bob.test on bob's.
#  - bob mails "subscribe" to news-request@ through his own server, gets a
#    confirmation whose subject holds a token, replies to it ("Re: confirm
#    TOKEN") and is a member, welcomed;
#  - a forged token, and bob's token sent from carol's address, change
#    nothing; the same confirmation replayed after bob was removed does
#    not bring him back;
#  - any message to news+unsubscribe@ asks bob to confirm, and his reply
#    removes him;
#  - six requests naming carol get her three confirmations, not six
#    (LIST_REPLIES_MAX a day);
#  - an automatic message (Auto-Submitted) is never answered, nor one
#    from the null sender;
#  - an open list takes "join" at once with a welcome, a closed one
#    answers that it is closed, a message without a command gets help.
. ../lib.sh
. ../queue/lib.sh
nsd_start
mta_init alice alice.test 127.0.0.2
DA=$D
mta_start
PID_A=$BREV_PID
mta_init bob bob.test 127.0.0.3
DB=$D; PB_SUB=$P_SUB; PB_IMAPS=$P_IMAPS
brev_user bob@bob.test bob-password
brev_user carol@bob.test carol-password
mta_start
export P25 PB_SUB PB_IMAPS
"$BREV" -d "$DA" list add news@alice.test --policy confirm >/dev/null || fail "list add"

# submit FROM-USER PASSWORD RCPT SUBJECT: through bob's own server
submit() {
	python3 - "$@" <<'PY' || fail "submission $*"
import os, smtplib, ssl, sys
user, pw, rcpt, subj = sys.argv[1:]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", int(os.environ["PB_SUB"]), timeout=20)
s.starttls(context=ctx); s.login(user, pw)
s.sendmail(user, [rcpt], ("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nthanks\r\n" % (user, rcpt, subj)).encode())
s.quit()
PY
}
# direct FROM RCPT SUBJECT [EXTRA-HEADER]: straight to alice's MX, any From
direct() {
	python3 - "$@" <<'PY' || fail "direct $*"
import os, smtplib, sys
frm, rcpt, subj = sys.argv[1:4]
extra = sys.argv[4] + "\r\n" if len(sys.argv) > 4 else ""
s = smtplib.SMTP("127.0.0.2", int(os.environ["P25"]), timeout=20)
s.sendmail(frm, [rcpt], ("From: %s\r\nTo: %s\r\nSubject: %s\r\n%s\r\nhi\r\n" % (frm, rcpt, subj, extra)).encode())
s.quit()
PY
}
# count USER PASSWORD SUBJECT-WORDS: messages in INBOX whose subject has them
count() {
	python3 - "$@" <<'PY'
import os, imaplib, ssl, sys
user, pw, subj = sys.argv[1:]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", int(os.environ["PB_IMAPS"]), ssl_context=ctx)
m.login(user, pw); m.select("INBOX")
print(len(m.search(None, "SUBJECT", '"%s"' % subj)[1][0].split()))
m.logout()
PY
}
# wait_count USER PASSWORD SUBJECT N
wait_count() {
	local i=0
	until [ "$(count "$1" "$2" "$3")" -ge "$4" ]; do
		i=$((i + 1)); [ $i -le 150 ] || fail "$1: fewer than $4 '$3'"
		sleep 0.2
	done
}
# the token in the subject of the newest confirmation in USER's INBOX
token() {
	python3 - "$@" <<'PY'
import os, imaplib, ssl, sys, re
user, pw = sys.argv[1:]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", int(os.environ["PB_IMAPS"]), ssl_context=ctx)
m.login(user, pw); m.select("INBOX")
ids = m.search(None, "SUBJECT", '"confirm"')[1][0].split()
raw = m.fetch(ids[-1], "(BODY[HEADER.FIELDS (SUBJECT FROM)])")[1][0][1].decode()
assert "news-request@alice.test" in raw, raw
print(re.search(r"confirm ([a-z0-9]{29})", raw).group(1))
PY
}
members() { "$BREV" -d "$DA" list members news@alice.test || fail "list members"; }

# ---- subscribe, confirm by replying ----
submit bob@bob.test bob-password news-request@alice.test "subscribe"
wait_count bob@bob.test bob-password "confirm" 1
tok=$(token bob@bob.test bob-password) || fail "no token"
[ -z "$(members)" ] || fail "a member before confirming: $(members)"
# forged tokens: a changed MAC, and bob's token from carol
bad=${tok:0:28}$([ "${tok:28:1}" = a ] && echo b || echo a)
direct bob@bob.test news-request@alice.test "Re: confirm $bad"
direct carol@bob.test news-request@alice.test "Re: confirm $tok"
until_true 20 eval '[ "$(grep -c "token refused: forged" "$DA/serve.log")" -ge 2 ]' ||
	fail "forged tokens not refused: $(grep 'list id' "$DA/serve.log")"
[ -z "$(members)" ] || fail "a forged token subscribed: $(members)"
submit bob@bob.test bob-password news-request@alice.test "Re: confirm $tok"
until_true 20 eval 'members | grep -q "^bob@bob.test "' || fail "the confirmation did not subscribe bob"
wait_count bob@bob.test bob-password "Welcome to news@alice.test" 1
# ---- a replayed confirmation does not bring him back ----
"$BREV" -d "$DA" list unsub news@alice.test bob@bob.test >/dev/null || fail "unsub"
direct bob@bob.test news-request@alice.test "Re: confirm $tok"
until_true 20 grep -q 'token refused: used before (replay)' "$DA/serve.log" || fail "replay not refused"
[ -z "$(members)" ] || fail "a replayed token subscribed: $(members)"

# ---- leaving through LIST+unsubscribe@ ----
"$BREV" -d "$DA" list sub news@alice.test bob@bob.test >/dev/null || fail "sub"
submit bob@bob.test bob-password news+unsubscribe@alice.test "bye"
wait_count bob@bob.test bob-password "confirm" 2
tok2=$(token bob@bob.test bob-password) || fail "no second token"
[ "${tok2:0:1}" = u ] && [ "$tok2" != "$tok" ] || fail "not an unsubscribe token: $tok2"
members | grep -q '^bob@bob.test ' || fail "left before confirming"
submit bob@bob.test bob-password news-request@alice.test "Re: confirm $tok2"
until_true 20 eval '! members | grep -q "^bob@bob.test "' || fail "the confirmation did not remove bob"

# ---- no mail bomb: six requests for carol, three confirmations ----
for i in 1 2 3 4 5 6; do direct carol@bob.test news-request@alice.test "subscribe"; done
wait_count carol@bob.test carol-password "confirm" 3
until_true 20 eval '[ "$(grep -c "no reply to <carol@bob.test>" "$DA/serve.log")" -ge 3 ]' ||
	fail "requests over the limit were not refused"
sleep 2
n=$(count carol@bob.test carol-password "confirm")
[ "$n" = 3 ] || fail "carol got $n confirmations"
[ -z "$(members)" ] || fail "requests alone subscribed someone: $(members)"
# ---- an automatic message is never answered ----
direct bob@bob.test news-request@alice.test "subscribe" "Auto-Submitted: auto-replied"
until_true 20 grep -q 'automatic message from <bob@bob.test> dropped' "$DA/serve.log" ||
	fail "automatic message not dropped"

# ---- open and closed lists, help, the null sender ----
"$BREV" -d "$DA" list add open@alice.test --policy open >/dev/null || fail "list add open"
"$BREV" -d "$DA" list add shut@alice.test --policy closed >/dev/null || fail "list add shut"
direct bob@bob.test open-request@alice.test "join"
wait_count bob@bob.test bob-password "Welcome to open@alice.test" 1
"$BREV" -d "$DA" list members open@alice.test | grep -q '^bob@bob.test ' || fail "open list: not subscribed at once"
direct bob@bob.test shut-request@alice.test "subscribe"
wait_count bob@bob.test bob-password "shut@alice.test: closed list" 1
[ -z "$("$BREV" -d "$DA" list members shut@alice.test)" ] || fail "a closed list took a member"
direct bob@bob.test shut-request@alice.test "what is this?"
wait_count bob@bob.test bob-password "shut@alice.test: help" 1
python3 - <<'PY' || fail "null sender"
import os, smtplib
s = smtplib.SMTP("127.0.0.2", int(os.environ["P25"]), timeout=20)
s.sendmail("", ["open-request@alice.test"], b"From: bob@bob.test\r\nSubject: help\r\n\r\nhelp\r\n")
s.quit()
PY
until_true 20 grep -q 'list=<open@alice.test> request from the null sender dropped' "$DA/serve.log" ||
	fail "a request from the null sender was not dropped"

brev_stop "$PID_A"
brev_stop
note ok
