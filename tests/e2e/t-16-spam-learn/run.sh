#!/bin/bash
# The per-account classifier learning (issue 14, docs/spam.md "Learning"):
#   - `brev spam learn --spam|--ham` from an mbox and a Maildir, each message
#     once (learning the same files again trains nothing), `brev spam
#     status` with the counts and whether the classifier scores yet;
#   - through imaplib (learn.py): MOVE into Junk trains spam and the next
#     similar message gets a higher BAYES in X-Spam-Status; MOVE back out
#     trains ham and reverses it (BAYES lower again); COPY into Junk twice
#     trains once; $Junk / NonJunk keywords do the same; Junk -> Trash
#     trains nothing; one MOVE of 501 messages trains 500;
#   - through imapflow (flow.js, npm, installed as t-44 does): MOVE into
#     Junk raises the next similar message's BAYES, MOVE back lowers it; the
#     $Junk keyword raises it, $NotJunk lowers it again;
#   - `brev spam why ADDRESS UID` shows the probability and the tokens;
#   - bad arguments exit 1.
. ../lib.sh
command -v python3 >/dev/null || fail "python3 missing"
command -v node >/dev/null && command -v npm >/dev/null || fail "node/npm missing (tools/deps.sh)"
CACHE=${IMAPFLOW_CACHE:-/tmp/brev-imapflow-cache}
if [ ! -d "$CACHE/node_modules/imapflow" ]; then
	mkdir -p "$CACHE"
	(cd "$CACHE" && npm install imapflow@1 --no-audit --no-fund >npm.log 2>&1) ||
		fail "npm install imapflow failed: $(tail -5 "$CACHE/npm.log")"
fi
brev_init learn
brev_user alice@example.test 'pw-secret-1'
brev_user bob@example.test 'pw-secret-1'
brev_user carol@example.test 'pw-secret-1'

status() { "$BREV" -d "$D" spam status alice@example.test || fail "spam status"; }
out=$(status)
grep -q "^trained spam     0 " <<<"$out" || fail "fresh status: $out"
grep -q "classifier       learning" <<<"$out" || fail "fresh status: $out"

# an mbox of spam (mboxrd: ">From " escaped) and a Maildir of ham
for i in 1 2 3 4 5 6; do
	printf 'From spammer@x.test Mon Dec  7 10:00:00 2026\nFrom: Deals <deals@cheap.test>\nSubject: cheap pills %d\n\ncheap pills discount pharmacy casino winner bargain\n>From the best shop, offer %d\n\n' "$i" "$i"
done >"$T/spam.mbox"
mkdir -p "$T/ham/cur" "$T/ham/new" "$T/ham/tmp"
for i in 1 2 3 4 5 6; do
	printf 'From: Carol <carol@work.test>\nSubject: meeting agenda %d\n\nthe project team meeting agenda lunch schedule report %d\n' "$i" "$i" >"$T/ham/cur/$i.host:2,S"
done
out=$("$BREV" -d "$D" spam learn --spam alice@example.test "$T/spam.mbox") || fail "learn spam: $out"
[ "$out" = "alice@example.test: trained 6 messages as spam (0 were already)" ] || fail "learn spam said: $out"
out=$("$BREV" -d "$D" spam learn --ham alice@example.test "$T/ham") || fail "learn ham: $out"
[ "$out" = "alice@example.test: trained 6 messages as ham (0 were already)" ] || fail "learn ham said: $out"
out=$("$BREV" -d "$D" spam learn --ham alice@example.test "$T/ham") || fail "learn ham again: $out"
[ "$out" = "alice@example.test: trained 0 messages as ham (6 were already)" ] || fail "learn again said: $out"
out=$(status)
grep -q "^trained spam     6 " <<<"$out" && grep -q "^trained ham      6 " <<<"$out" &&
	grep -q "classifier       active" <<<"$out" || fail "status after learn: $out"
# carol's classifier starts from the same files (imapflow below)
"$BREV" -d "$D" spam learn --spam carol@example.test "$T/spam.mbox" >/dev/null || fail "learn carol spam"
"$BREV" -d "$D" spam learn --ham carol@example.test "$T/ham" >/dev/null || fail "learn carol ham"
# a single message file
printf 'From: A <a@one.test>\nSubject: lone message\n\nsingle file words\n' >"$T/one.eml"
out=$("$BREV" -d "$D" spam learn --ham bob@example.test "$T/one.eml") || fail "learn one file: $out"
[ "$out" = "bob@example.test: trained 1 messages as ham (0 were already)" ] || fail "learn one said: $out"
# bob's database is his own
grep -q "^trained spam     0 " <<<"$("$BREV" -d "$D" spam status bob@example.test)" || fail "bob trained too"

for bad in "status nobody@example.test" "learn --maybe alice@example.test $T/ham" "why alice@example.test x" \
	"learn --spam alice@example.test $T/missing" "frobnicate"; do
	rc=0
	# shellcheck disable=SC2086 # the words are the arguments
	"$BREV" -d "$D" spam $bad >/dev/null 2>&1 || rc=$?
	[ $rc -eq 1 ] || fail "spam $bad: exit status $rc, wanted 1"
done

export P_SMTP P_IMAP T
brev_start
py() { python3 "$ROOT/tests/e2e/t-16-spam-learn/learn.py" "$1" || { tail -20 "$D/serve.log"; fail "learn.py $1"; }; }
py before
out=$(status)
grep -q "^trained spam     7 " <<<"$out" || fail "MOVE to Junk did not train spam: $out"
py after-junk
out=$(status)
grep -q "^trained spam     6 " <<<"$out" && grep -q "^trained ham      7 " <<<"$out" ||
	fail "MOVE out of Junk did not reverse the training: $out"
py after-back
out=$(status)
grep -q "^trained spam     7 " <<<"$out" && grep -q "^trained ham      7 " <<<"$out" ||
	fail "COPY to Junk twice: $out"
py keywords
out=$(status)
grep -q "^trained spam     7 " <<<"$out" && grep -q "^trained ham      8 " <<<"$out" ||
	fail "after \$Junk, NonJunk and a move to Trash: $out"
grep -q "spam learn user=.* as=spam trained=1" "$D/serve.log" || fail "no learn log line"

py cap
grep -q "^trained spam     500 " <<<"$("$BREV" -d "$D" spam status bob@example.test)" ||
	fail "MOVE of 501: $("$BREV" -d "$D" spam status bob@example.test)"
grep -q "spam learn user=.*: 501 messages, training the first 500" "$D/serve.log" || fail "no cap log line"

export D
NODE_PATH="$CACHE/node_modules" timeout 120 node "$ROOT/tests/e2e/t-16-spam-learn/flow.js" ||
	{ tail -20 "$D/serve.log"; fail "training through imapflow"; }
# y0: spam then ham (taken back); y2: spam then ham (taken back)
out=$("$BREV" -d "$D" spam status carol@example.test)
grep -q "^trained spam     6 " <<<"$out" && grep -q "^trained ham      8 " <<<"$out" ||
	fail "carol after imapflow: $out"

uid=$(sed -n 's/.*x5uid=\([0-9]*\).*/\1/p' "$T/learn.state")
out=$("$BREV" -d "$D" spam why alice@example.test "$uid") || fail "spam why: $out"
grep -Eq '^at delivery +score=.*BAYES' <<<"$out" || fail "spam why (delivery): $out"
grep -Eq '^bayes +probability 0\.[0-9]{3} -> BAYES' <<<"$out" || fail "spam why (bayes): $out"
grep -Eq '^  gizmoflux +0\.[0-9]{3}' <<<"$out" || fail "spam why (tokens): $out"
brev_stop
echo ok
