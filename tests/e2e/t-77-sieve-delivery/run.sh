#!/bin/bash
# Sieve at delivery (issue 19), end to end: a script uploaded with
# sieve-connect (ManageSieve over STARTTLS) runs on mail that swaks sends to
# alice's MX, and imaplib shows where each message landed:
#   fileinto :create -> Lists; addflag + keep -> INBOX \Flagged + keyword;
#   discard -> nowhere; reject -> 550 5.7.1 at SMTP time, nothing stored;
#   redirect -> bob's brev (bob.test MX through nsd), with Delivered-To;
#   a message that carries Delivered-To: alice is not redirected again;
#   fileinto a missing mailbox -> INBOX + log line; a script over the
#   redirect limit (a run-time error) -> INBOX + log line;
#   X-Spam-Status (the spam verdict) is visible to the script; envelope
#   :detail sees the +detail of RCPT TO;
#   vacation: exactly one reply per sender per period, from <> with
#   Auto-Submitted, In-Reply-To and a DKIM signature; none to a list
#   message or to Auto-Submitted mail; a :from naming another account is
#   replaced by the account's own address.
. ../lib.sh
. ../queue/lib.sh
command -v sieve-connect >/dev/null || fail "sieve-connect missing (tools/deps.sh test installs it)"
command -v swaks >/dev/null || fail "swaks missing (tools/deps.sh test installs it)"
nsd_start
mta_init alice alice.test 127.0.0.2
DA=$D; PA_IMAP=$P_IMAP; PA_SIEVE=$P_SIEVE
brev_user alice@alice.test alice-pass
brev_user ann@alice.test ann-pass-1
mta_start
PID_A=$BREV_PID
mta_init bob bob.test 127.0.0.3
DB=$D; PB_IMAP=$P_IMAP
brev_user bob@bob.test bob-pass
mta_start
sink_start 127.0.0.4 "$T/sink"
export DA DB PA_IMAP PB_IMAP

# upload and activate with sieve-connect (STARTTLS, brev's local CA)
sc() {
	local out
	out=$(timeout 30 sieve-connect -s 127.0.0.1 -p "$PA_SIEVE" -u alice@alice.test --passwordfd 3 \
		--tlscafile "$DA/ca.pem" --tlshostname localhost "$@" 3<<<"alice-pass" 2>&1) ||
		fail "sieve-connect $*: $out"
}
sc --upload --localsieve "$PWD/script.sieve" --remotesieve rules
sc --activate --remotesieve rules

# send SUBJECT [FROM] [extra swaks args...]: the SMTP reply lines in $T/swaks.out
send() {
	local subj=$1 from=${2:-carol@sink.test}
	shift 2 || shift $#
	swaks --server 127.0.0.2 --port "$P25" --from "$from" --to alice@alice.test \
		--header "Subject: $subj" --header "To: alice@alice.test" \
		--header "Message-Id: <$(echo "$subj$from" | md5sum | cut -c1-16)@sink.test>" \
		"$@" >"$T/swaks.out" 2>&1 || true
}
for s in "[file] one" "[flag] two" "[drop] three" "[fwd] five" "[missing] six" "[err] seven" \
	"[spam] eight" "plain nine"; do
	send "$s"
	grep -q "^<- *250 " "$T/swaks.out" || fail "$s: not accepted: $(tail -5 "$T/swaks.out")"
done
# a redirect loop: alice has passed this message on before (Delivered-To)
send "[fwd] loop" carol@sink.test --header "Delivered-To: alice@alice.test"
grep -q "^<- *250 " "$T/swaks.out" || fail "loop: not accepted: $(tail -5 "$T/swaks.out")"
# the envelope "to" is the RCPT TO address, +detail included
swaks --server 127.0.0.2 --port "$P25" --from carol@sink.test --to alice+news@alice.test \
	--header "Subject: detail ten" >"$T/swaks.out" 2>&1 || fail "alice+news: $(tail -5 "$T/swaks.out")"
send "[nope] four"
grep -q "^<\*\* *550 5.7.1 no thanks, not here" "$T/swaks.out" ||
	fail "reject: no 550 5.7.1 at SMTP time: $(tail -5 "$T/swaks.out")"
# with another recipient (ann, no script) the message is taken, ann gets
# it, alice does not, and the sender gets a DSN with alice's reason
swaks --server 127.0.0.2 --port "$P25" --from hank@sink.test --to alice@alice.test,ann@alice.test \
	--header "Subject: [nope] shared" >"$T/swaks.out" 2>&1 || fail "reject shared: $(tail -5 "$T/swaks.out")"
# editheader: alice's copy is the edited message, ann's (no script) is not
swaks --server 127.0.0.2 --port "$P25" --from carol@sink.test --to alice@alice.test,ann@alice.test \
	--header "Subject: [edit] eleven" >"$T/swaks.out" 2>&1 || fail "edit: $(tail -5 "$T/swaks.out")"
# brev sendmail: exit 1 with the reason, nothing stored
rc=0
printf 'Subject: [nope] by sendmail\n\nhi\n' | "$BREV" -d "$DA" sendmail alice@alice.test 2>"$T/sm.err" || rc=$?
[ $rc = 1 ] && grep -q "no thanks, not here" "$T/sm.err" || fail "sendmail reject: rc=$rc $(cat "$T/sm.err")"

# vacation: twice from dave (one reply), a list message and an
# Auto-Submitted one from others (none), then erin (a reply)
send "[away] a" dave@sink.test
send "[away] b" dave@sink.test
send "[away] list" frank@sink.test --header "List-Id: <l.sink.test>"
send "[away] auto" gina@sink.test --header "Auto-Submitted: auto-generated"
send "[away] c" erin@sink.test
# :from naming another account is not used (brev would sign it)
send "[away2] d" ivan@sink.test

python3 - <<'PY' || fail "mailboxes"
import imaplib, os, sys, time
def box(port, user, pw, name):
    m = imaplib.IMAP4("127.0.0.1", int(port)); m.login(user, pw)
    typ, _ = m.select('"%s"' % name, readonly=True)
    out = {}
    if typ == "OK":
        typ, d = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT DELIVERED-TO)])")
        for x in d:
            if isinstance(x, tuple):
                h = x[1].decode()
                subj = [l[9:] for l in h.split("\r\n") if l.lower().startswith("subject: ")][0]
                out[subj] = (x[0].decode(), h)
    m.logout()
    return out
A = ("alice@alice.test", "alice-pass")
inbox = box(os.environ["PA_IMAP"], *A, "INBOX")
lists = box(os.environ["PA_IMAP"], *A, "Lists")
scored = box(os.environ["PA_IMAP"], *A, "Scored")
news = box(os.environ["PA_IMAP"], *A, "News")
def check(cond, what):
    if not cond:
        print("FAIL:", what, "inbox:", sorted(inbox), "lists:", sorted(lists), file=sys.stderr)
        sys.exit(1)
check("[file] one" in lists and "[file] one" not in inbox, "fileinto :create Lists")
check("[flag] two" in inbox and "\\Flagged" in inbox["[flag] two"][0] and "urgent" in inbox["[flag] two"][0],
      "addflag + keep")
check("\\Flagged" not in inbox["plain nine"][0], "no flag on the implicit keep")
check("[drop] three" not in inbox and "[drop] three" not in lists, "discard")
check("[nope] four" not in inbox, "reject stored nothing")
check("[nope] shared" not in inbox and "[nope] by sendmail" not in inbox, "reject with others / sendmail")
check("[nope] shared" in box(os.environ["PA_IMAP"], "ann@alice.test", "ann-pass-1", "INBOX"),
      "the other recipient of a rejected message got it")
check("[fwd] five" not in inbox, "redirect cancels the implicit keep")
check("[fwd] loop" in inbox, "a looping redirect is kept instead")
check("[missing] six" in inbox, "fileinto a missing mailbox without :create -> INBOX")
check("[err] seven" in inbox, "run-time error (too many redirects) -> INBOX")
check("[spam] eight" in scored, "X-Spam-Status visible to the script")
check("plain nine" in inbox, "implicit keep")
check("detail ten" in news, "envelope :detail sees RCPT TO's +detail")
def header(user, pw, mbox, subj):
    m = imaplib.IMAP4("127.0.0.1", int(os.environ["PA_IMAP"])); m.login(user, pw)
    m.select('"%s"' % mbox, readonly=True)
    typ, d = m.search(None, "SUBJECT", '"%s"' % subj)
    h = m.fetch(d[0].split()[0], "(BODY.PEEK[HEADER])")[1][0][1].decode() if d[0] else ""
    m.logout()
    return h
h = header(*A, "Edited", "[edit] eleven")
check("X-Filtered: by alice" in h and "X-Spam-Status" not in h, "editheader: alice's copy " + h)
h = header("ann@alice.test", "ann-pass-1", "INBOX", "[edit] eleven")
check("X-Filtered" not in h and "X-Spam-Status" in h, "editheader: ann's copy " + h)
for s in ("[away] a", "[away] b", "[away] list", "[away] auto", "[away] c"):
    check(s in inbox, "vacation keeps the message: " + s)
# bob got the redirected copy, marked Delivered-To alice
B = ("bob@bob.test", "bob-pass")
for _ in range(150):
    b = box(os.environ["PB_IMAP"], *B, "INBOX")
    if "[fwd] five" in b:
        break
    time.sleep(0.1)
check("[fwd] five" in b, "bob did not get the redirect")
check("Delivered-To: alice@alice.test" in b["[fwd] five"][1], "redirect without Delivered-To")
check(not any(k.startswith("[err]") for k in b), "redirects of the failed run went out")
check("[fwd] loop" not in b, "a looping redirect went out")
PY
grep -q 'fileinto "NoSuchFolder": no such mailbox; kept in INBOX' "$DA/serve.log" || fail "no log line for the missing mailbox"
grep -q 'user=alice@alice.test script "rules": .*implicit keep' "$DA/serve.log" || fail "no log line for the run-time error"
grep -q 'redirect to <bob@bob.test> refused: mail loop' "$DA/serve.log" || fail "no log line for the redirect loop"

# the vacation replies reach the sink: exactly dave and erin, once each
until_true 20 bash -c '[ "$(grep -l "Out of office" '"$T"'/sink/*.eml 2>/dev/null | wc -l)" -ge 2 ]' ||
	fail "vacation replies did not arrive: $(ls "$T/sink" 2>&1)"
sleep 1
n=$(grep -l "Out of office" "$T"/sink/*.eml | wc -l)
[ "$n" = 2 ] || fail "$n vacation replies, want 2 (dave once, erin once)"
for who in dave erin; do
	f=$(grep -l "Out of office" "$T"/sink/*.eml | while read -r e; do
		if grep -q "$who@sink.test" "${e%.eml}.env"; then echo "$e"; fi; done)
	[ -n "$f" ] || fail "no vacation reply to $who"
	env=${f%.eml}.env
	[ "$(head -1 "$env")" = "" ] || fail "vacation reply to $who not from <>: $(cat "$env")"
	tr -d '\r' <"$f" | grep -qx "Auto-Submitted: auto-replied" || fail "no Auto-Submitted in the reply"
	tr -d '\r' <"$f" | grep -q "^In-Reply-To: <.*@sink.test>" || fail "no In-Reply-To in the reply"
	tr -d '\r' <"$f" | grep -q "^References: <.*@sink.test>" || fail "no References in the reply"
	grep -q "^DKIM-Signature: .*d=alice.test" "$f" || fail "vacation reply not DKIM-signed"
	tr -d '\r' <"$f" | grep -qx "I am away until Monday." || fail "reply text"
done
# the DSN for alice's reject reached hank: 5.7.1 with the script's reason
until_true 20 bash -c 'grep -l "^hank@sink.test" '"$T"'/sink/*.env >/dev/null 2>&1' || fail "no DSN to hank"
f=$(grep -l "^hank@sink.test" "$T"/sink/*.env | head -1)
f=${f%.env}.eml
grep -q "5.7.1" "$f" && grep -q "no thanks, not here" "$f" && grep -qi "alice@alice.test" "$f" ||
	fail "DSN for the reject: $(cat "$f")"
until_true 20 bash -c 'grep -l "Other reply" '"$T"'/sink/*.eml >/dev/null 2>&1' || fail "no [away2] reply"
f=$(grep -l "Other reply" "$T"/sink/*.eml | head -1)
tr -d '\r' <"$f" | grep -qx "From: alice@alice.test" || fail "vacation :from another account was used: $(grep -i '^From:' "$f")"
grep -q 'vacation :from "The Boss <ann@alice.test>" does not reach this account' "$DA/serve.log" ||
	fail "no log line for the refused :from"
for who in frank gina; do
	! grep -l "$who@sink.test" "$T"/sink/*.env >/dev/null 2>&1 || fail "vacation answered $who (list / auto-submitted)"
done
brev_stop "$PID_A"
brev_stop
