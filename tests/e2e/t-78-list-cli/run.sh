#!/bin/bash
# Mailing lists from the command line (issue 21, docs/lists.md): `brev list
# add|del|show|members|sub|unsub`, the defaults, the refusals (a name that
# is an account, a distribution alias, or one of another list's addresses;
# a list's addresses taken later by `user add` / `alias add`), and members
# kept across processes.
. ../lib.sh

X=$T/x
"$BREV" -d "$X" init --domain club.test >/dev/null || fail "init"
echo "ann-long-password" | "$BREV" -d "$X" user add ann@club.test >/dev/null || fail "user add"
"$BREV" -d "$X" alias add family@club.test ann@club.test >/dev/null || fail "alias add"
L() { "$BREV" -d "$X" list "$@"; }
# refused: exit status 1 and the one line on stderr matching $1
refused() {
	local want=$1 rc=0
	shift
	"$BREV" -d "$X" "$@" >"$T/out" 2>"$T/err" || rc=$?
	[ $rc = 1 ] || fail "brev $*: exit $rc, expected 1: $(cat "$T/out" "$T/err")"
	[ "$(wc -l <"$T/err")" = 1 ] || fail "brev $*: not one line: $(cat "$T/err")"
	grep -qF -- "$want" "$T/err" || fail "brev $*: '$(cat "$T/err")' lacks '$want'"
}

out=$("$BREV" help) || fail "help"
grep -qF 'list add LIST@DOMAIN' <<<"$out" || fail "usage lacks list add"

# ---- add: defaults (owner postmaster@, confirm, members) and options ----
out=$(L add news@club.test) || fail "list add news"
grep -qF 'list news@club.test created: owner postmaster@club.test, policy confirm, posting members' \
	<<<"$out" || fail "list add defaults: $out"
out=$(L add Talk@Club.test --owner ann@club.test --policy open --posting announce) || fail "add talk"
out=$(L show talk@club.test) || fail "show talk"
grep -Eq '^talk@club.test +owner ann@club.test  policy open  posting announce  0 members$' <<<"$out" ||
	fail "show talk: $out"

# ---- refusals, nothing changed ----
refused 'family@club.test is already an alias' list add family@club.test
refused 'nothing changed' list add family@club.test
out=$("$BREV" -d "$X" alias list) || fail "alias list"
grep -qx 'family@club.test -> ann@club.test' <<<"$out" || fail "the alias changed: $out"
refused 'ann@club.test is already an account' list add ann@club.test
refused 'news-request@club.test is already a mailing list' list add news-request@club.test
refused 'a list must be name@domain of a local domain' list add x@elsewhere.test
refused "no '+' in a list's name" list add a+b@club.test
refused '--policy maybe is not one of open, confirm, closed' list add y@club.test --policy maybe
refused '--posting all is not one of members, moderated, anyone, announce' list add y@club.test --posting all
refused 'unknown option' list add y@club.test --frob 1
# a list's addresses cannot become an account or alias afterwards
echo "xx-long-password" >"$T/pw"
rc=0; "$BREV" -d "$X" user add news-bounces@club.test <"$T/pw" >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -qF 'already exists (as an account, an alias or a mailing list)' "$T/err" ||
	fail "user add over a list address: $rc $(cat "$T/err")"
refused "an alias cannot have its name" alias add news@club.test ann@club.test
refused "an alias cannot have its name" alias add news-request@club.test ann@club.test
refused 'list sub: there is no list nope@club.test' list sub nope@club.test bob@b.test
refused 'is not an address' list sub news@club.test bob

# ---- members: each its own process; order, duplicates, case ----
L sub news@club.test Carol@C.test | grep -qx 'subscribed Carol@C.test to news@club.test' || fail "sub carol"
L sub news@club.test bob@b.test >/dev/null || fail "sub bob"
out=$(L sub news@club.test BOB@b.test) || fail "sub bob again"
grep -qF 'bob@b.test is already a member' <<<"$out" || grep -qF 'BOB@b.test is already a member' <<<"$out" ||
	fail "second sub: $out"
out=$(L members news@club.test) || fail "members"
[ "$(cut -d' ' -f1 <<<"$out" | tr '\n' ' ')" = "bob@b.test carol@c.test " ] || fail "members: $out"
out=$(L show) || fail "show all"
grep -Eq '^news@club.test .* 2 members$' <<<"$out" && grep -q '^talk@club.test ' <<<"$out" ||
	fail "show: $out"
L unsub news@club.test bob@b.test | grep -qx 'unsubscribed bob@b.test from news@club.test' || fail "unsub"
refused 'bob@b.test is not a member of news@club.test' list unsub news@club.test bob@b.test
out=$(L members news@club.test) || fail "members after unsub"
[ "$out" = "$(grep '^carol@c.test  since ' <<<"$out")" ] && [ -n "$out" ] || fail "members after unsub: $out"

# ---- del: the list and its members go; its names are free again ----
L del news@club.test | grep -qx 'list news@club.test deleted with its members' || fail "del"
refused 'there is no list news@club.test' list del news@club.test
refused 'there is no list news@club.test' list members news@club.test
L add news@club.test >/dev/null || fail "re-add"
out=$(L members news@club.test) || fail "members of the new list"
[ -z "$out" ] || fail "a deleted list's members came back: $out"
L del news@club.test >/dev/null || fail "del again"
"$BREV" -d "$X" user add news-bounces@club.test <"$T/pw" >/dev/null || fail "name not freed"
echo ok
