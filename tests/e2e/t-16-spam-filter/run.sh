#!/bin/bash
# The spam filter's framework (issue 14, docs/spam.md), with real clients
# (filter.py: smtplib on the inbound and submission ports, imaplib to see
# where each copy landed):
#   - every filtered message gets X-Spam-Score / X-Spam-Status naming the
#     tests that fired; GTUBE is refused (550 5.7.1, nothing stored) at
#     strict and filed to Junk at normal and lenient; `off` delivers the
#     message untouched (no fields, same bytes);
#   - per-recipient strengths: refused only when every recipient would
#     refuse, otherwise each copy goes to that account's INBOX or Junk; a
#     copy forwarded out through an alias counts at brev.conf's strength;
#   - the heuristics: no Message-ID, no Date, a From display name posing as
#     another domain's address, executable attachments;
#   - submission is not filtered; the \Junk mailbox is found by its
#     special use and made when the account has none;
#   - `brev user set ADDRESS spam=...` (bad values and unknown accounts
#     refused with exit status 1), `user list` shows it; brev.conf's
#     spam.strength is the default of every account without a setting, and
#     a bad value stops `brev serve`.
. ../lib.sh
command -v python3 >/dev/null || fail "python3 missing"
brev_init spam
for u in alice sam lena otto bob; do brev_user "$u@example.test" 'pw-secret-1'; done

"$BREV" -d "$D" alias add fwd@example.test far@remote.test >/dev/null || fail "alias add"

# ---- brev user set ----
out=$("$BREV" -d "$D" user set sam@example.test spam=strict) || fail "user set spam=strict: $out"
[ "$out" = "sam@example.test: spam=strict" ] || fail "user set said: $out"
"$BREV" -d "$D" user set lena@example.test spam=lenient >/dev/null || fail "user set lenient"
"$BREV" -d "$D" user set otto@example.test spam=off >/dev/null || fail "user set off"
for bad in "sam@example.test spam=max" "sam@example.test colour=red" "nobody@example.test spam=off" \
	"sam@example.test"; do
	rc=0
	# shellcheck disable=SC2086 # the words are the arguments
	err=$("$BREV" -d "$D" user set $bad 2>&1) || rc=$?
	[ $rc -eq 1 ] || fail "user set $bad: exit status $rc, wanted 1 ($err)"
	[ "$bad" = sam@example.test ] || [ "$(wc -l <<<"$err")" -le 2 ] || fail "user set $bad: $err"
done
grep -q "not one of off, lenient, normal, strict" <<<"$("$BREV" -d "$D" user set sam@example.test spam=max 2>&1)" ||
	fail "user set spam=max does not name the values"
out=$("$BREV" -d "$D" user list) || fail "user list"
grep -Eq '^sam@example\.test .* spam strict$' <<<"$out" || fail "user list: $out"
grep -Eq '^alice@example\.test .*quota none$' <<<"$out" || fail "user list (alice, no setting): $out"
# default: back to brev.conf's
"$BREV" -d "$D" user set bob@example.test spam=strict >/dev/null || fail "user set bob"
"$BREV" -d "$D" user set bob@example.test spam=default >/dev/null || fail "user set bob default"
out=$("$BREV" -d "$D" user list) || fail "user list"
grep -Eq '^bob@example\.test .*quota none$' <<<"$out" || fail "spam=default kept a setting: $out"

# ---- a bad spam.strength stops serve with a clear line ----
rc=0
err=$("$BREV" -d "$D" -o spam.strength=extreme serve 2>&1) || rc=$?
[ $rc -eq 1 ] || fail "serve with spam.strength=extreme: exit status $rc"
grep -q "spam.strength.*not one of off, lenient, normal, strict" <<<"$err" || fail "bad strength: $err"

export P_SMTP P_SUB P_IMAP
brev_start
python3 "$ROOT/tests/e2e/t-16-spam-filter/filter.py" main || {
	tail -20 "$D/serve.log"
	fail "spam filter (brev.conf default)"
}
grep -q "spam score=15.0 tests=GTUBE(15.0)" "$D/serve.log" || fail "no spam log line"
"$BREV" -d "$D" user set alice@example.test spam=strict >/dev/null || fail "user set alice"
python3 "$ROOT/tests/e2e/t-16-spam-filter/filter.py" live || fail "user set on a running server"
"$BREV" -d "$D" user set alice@example.test spam=default >/dev/null || fail "user set alice default"
brev_stop

brev_start -o spam.strength=strict
python3 "$ROOT/tests/e2e/t-16-spam-filter/filter.py" strict || fail "spam filter (brev.conf strict)"
brev_stop

echo "spam.strength = off" >>"$D/brev.conf"
brev_start
python3 "$ROOT/tests/e2e/t-16-spam-filter/filter.py" off || fail "spam filter (brev.conf off)"
brev_stop
echo ok
