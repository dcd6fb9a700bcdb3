#!/bin/bash
# The command line a newcomer tries first (issue 23): help in its three
# spellings, alias add/set/del with members and loops, the minimum password
# length.
. ../lib.sh

# ---- help: the usage on stdout, exit 0, with or without a DATADIR ----
for h in --help -h help; do
	rc=0; BREV_HOME=$T/nowhere "$BREV" $h >"$T/out" 2>"$T/err" || rc=$?
	[ $rc = 0 ] || fail "brev $h: exit $rc: $(cat "$T/err")"
	grep -q '^usage: brev ' "$T/out" || fail "brev $h: no usage on stdout: $(cat "$T/out" "$T/err")"
	grep -q 'alias set ADDRESS TARGET' "$T/out" || fail "brev $h: usage lacks alias set"
	[ ! -s "$T/err" ] || fail "brev $h wrote to stderr: $(cat "$T/err")"
done
[ ! -e "$T/nowhere" ] || fail "help created a DATADIR"
# An unknown option or command: the usage or one line on stderr, exit 1.
rc=0; "$BREV" --bogus >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] && [ ! -s "$T/out" ] && grep -q '^usage: brev' "$T/err" || fail "--bogus: exit $rc $(cat "$T/err")"
rc=0; BREV_HOME=$T/nowhere "$BREV" frob 2>"$T/err" || rc=$?
[ $rc = 1 ] && [ "$(cat "$T/err")" = "brev: unknown command 'frob' (try \`brev help\`)" ] ||
	fail "unknown command: exit $rc $(cat "$T/err")"

X=$T/x
"$BREV" -d "$X" init --domain example.test >/dev/null || fail "init"
for u in alice bob carol; do
	echo "$u-long-password" | "$BREV" -d "$X" user add $u@example.test >/dev/null || fail "user add $u"
done
al() { "$BREV" -d "$X" alias "$@"; }
listed() { al list | grep "^$1 -> " || true; }

# ---- alias add on an existing alias adds members and says so ----
al add team@example.test alice@example.test >"$T/out" || fail "alias add"
grep -q 'created with 1 member' "$T/out" || fail "alias add new: $(cat "$T/out")"
al add team@example.test bob@example.test alice@example.test >"$T/out" || fail "alias add more"
grep -q 'already existed: added 1 member, now 2' "$T/out" || fail "alias add existing: $(cat "$T/out")"
[ "$(listed team@example.test)" = "team@example.test -> alice@example.test bob@example.test" ] ||
	fail "members after add: $(listed team@example.test)"
al add team@example.test bob@example.test >"$T/out" || fail "alias add same"
grep -q 'nothing changed' "$T/out" || fail "alias add same member: $(cat "$T/out")"

# ---- alias set replaces ----
al set team@example.test carol@example.test friend@remote.test >"$T/out" || fail "alias set"
grep -q 'now has 2 members (it had 2)' "$T/out" || fail "alias set: $(cat "$T/out")"
[ "$(listed team@example.test)" = "team@example.test -> carol@example.test friend@remote.test" ] ||
	fail "members after set: $(listed team@example.test)"
al set new@example.test alice@example.test | grep -q 'created' || fail "alias set creates"

# ---- alias del ADDRESS MEMBER removes one member; the last one takes the alias ----
al del team@example.test friend@remote.test >"$T/out" || fail "alias del member"
grep -q '1 member left' "$T/out" || fail "alias del member: $(cat "$T/out")"
[ "$(listed team@example.test)" = "team@example.test -> carol@example.test" ] ||
	fail "members after del: $(listed team@example.test)"
rc=0; al del team@example.test bob@example.test 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -q 'bob@example.test is not a member of team@example.test' "$T/err" ||
	fail "del of a non-member: $rc $(cat "$T/err")"
al del team@example.test carol@example.test | grep -q 'the alias is deleted' || fail "del last member"
[ -z "$(listed team@example.test)" ] || fail "alias left after its last member"
rc=0; al del team@example.test carol@example.test 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -q 'there is no alias team@example.test' "$T/err" || fail "del on no alias: $(cat "$T/err")"

# ---- loops are refused when made, with the cycle shown, and nothing changes ----
al add a@example.test b@example.test >/dev/null && al add b@example.test c@example.test >/dev/null ||
	fail "alias chain"
rc=0; al add c@example.test alice@example.test a+tag@example.test 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -qF 'c@example.test -> a+tag@example.test -> b@example.test -> c@example.test' "$T/err" ||
	fail "loop through +tag: $rc $(cat "$T/err")"
[ -z "$(listed c@example.test)" ] || fail "a refused loop was stored"
rc=0; al set b@example.test a@example.test 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -qF 'b@example.test -> a@example.test -> b@example.test' "$T/err" ||
	fail "loop by set: $rc $(cat "$T/err")"
[ "$(listed b@example.test)" = "b@example.test -> c@example.test" ] || fail "refused set changed b"
rc=0; al add me@example.test me@example.test 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -qF 'me@example.test -> me@example.test' "$T/err" || fail "self loop: $(cat "$T/err")"
# the catch-all: a target that is nothing else would come back to it
rc=0; al add @example.test nobody@example.test 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -qF '@example.test -> nobody@example.test -> @example.test' "$T/err" ||
	fail "catch-all loop: $(cat "$T/err")"
al add @example.test alice@example.test >/dev/null || fail "a catch-all to an account"
[ "$(wc -l <"$T/err")" = 1 ] || fail "loop error is not one line"

# ---- passwords: at least 8 characters, the message points to --random ----
rc=0; echo 1234567 | "$BREV" -d "$X" user add dave@example.test 2>"$T/err" || rc=$?
[ $rc = 1 ] && [ "$(cat "$T/err")" = "brev: the password is too short: at least 8 characters (or use --random for a generated one)" ] ||
	fail "short password: $rc $(cat "$T/err")"
"$BREV" -d "$X" user list | grep -q '^dave@' && fail "an account was made with a short password"
rc=0; echo 1234567 | "$BREV" -d "$X" user passwd alice@example.test 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -q 'too short: at least 8 characters' "$T/err" || fail "short passwd: $(cat "$T/err")"
# 8 characters is enough, counted as characters (8 two-byte letters pass, 7 do not)
echo 12345678 | "$BREV" -d "$X" user add dave@example.test >/dev/null || fail "8-character password refused"
echo 'ååååååå' | "$BREV" -d "$X" user add erin@example.test 2>/dev/null && fail "7 characters (14 bytes) accepted"
echo 'åååååååå' | "$BREV" -d "$X" user add erin@example.test >/dev/null || fail "8 UTF-8 characters refused"
# passwd --random prints the new password once
"$BREV" -d "$X" user passwd alice@example.test --random >"$T/out" </dev/null || fail "passwd --random"
grep -Eq '^new password for alice@example.test: [A-Za-z0-9]{16,}$' "$T/out" || fail "passwd --random: $(cat "$T/out")"
echo ok
