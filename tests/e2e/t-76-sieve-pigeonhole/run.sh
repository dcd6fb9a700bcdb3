#!/bin/bash
# Differential test of brev's Sieve interpreter against Pigeonhole, the
# reference implementation (Debian's dovecot-sieve ships sieve-test): every
# script in scripts/ (except inc-*, which 23-include includes) runs on every
# message in msgs/ with the envelope in msgs/NAME.env, through
# `sieve-test` and through `brev sieve test`; compare.py reduces both to
# one normal form and every pair must be equal. Differences the RFCs allow
# are listed in docs/sieve.md; the corpus avoids them (unit tests in
# tests/unit/test_sieve.c pin brev's side of each).
. ../lib.sh

command -v sieve-test >/dev/null || fail "sieve-test missing: tools/deps.sh test installs dovecot-sieve"
HERE=$(cd "$(dirname "$0")" && pwd)
W=$T/pigeonhole
# dates without :zone are in the server's zone for Pigeonhole, UTC for brev
export TZ=UTC
O=$T/out
mkdir -p "$W/mail" "$W/sieve" "$O"
cp "$HERE"/scripts/*.sieve "$HERE"/msgs/*.eml "$W/sieve/"
# Pigeonhole refuses to run as root; as root it runs as nobody, who must
# read the scripts and messages and write its mail location.
if [ "$(id -u)" = 0 ]; then uid=65534 gid=65534; else uid=$(id -u) gid=$(id -g); fi
cat >"$W/dovecot.conf" <<CONF
first_valid_uid = 0
first_valid_gid = 0
mail_uid = $uid
mail_gid = $gid
mail_location = maildir:$W/mail
plugin {
  sieve = file:$W/sieve;active=$W/sieve/.active
  sieve_extensions = +vacation-seconds +editheader
  # the account's own address (brev: struct sieve_msg.user), which
  # vacation counts as the user's besides the envelope recipient
  sieve_user_email = user@example.test
}
CONF
chmod -R a+rwX "$W"
chmod a+rx "$T"

for s in "$W"/sieve/*.sieve; do
	name=$(basename "$s" .sieve)
	case $name in inc-*) continue ;; esac
	for m in "$HERE"/msgs/*.eml; do
		mn=$(basename "$m" .eml)
		msg=$W/sieve/$mn.eml
		read -r from to <"${m%.eml}.env"
		p=$O/$name.$mn
		# exit 1 is a script that failed at run time: the report says so
		sieve-test -c "$W/dovecot.conf" -f "$from" -a "$to" -r "$to" "$s" "$msg" >"$p.ph" 2>&1 || true
		case $name in *vacation*)
			sieve-test -e -c "$W/dovecot.conf" -f "$from" -a "$to" -r "$to" "$s" "$msg" >"$p.phx" 2>&1 || true ;;
		esac
		rc=0
		"$BREV" sieve test "$s" "$msg" --from "$from" --to "$to" --user user@example.test \
			>"$p.br" 2>"$p.err" || rc=$?
		if [ $rc = 1 ]; then
			grep -Eq ': line [0-9]+: ' "$p.err" || fail "$name: compile error without 'line N:': $(cat "$p.err")"
			echo compile-error >"$p.br"
		elif [ $rc != 0 ]; then
			fail "$name x $mn: brev sieve test exit $rc: $(cat "$p.err")"
		fi
	done
done
python3 "$HERE/compare.py" "$O" || fail "brev and Pigeonhole differ (above)"

# ---- `brev sieve test` itself (docs/sieve.md) ----
msg=$W/sieve/plain.eml
printf 'require ["fileinto", "mailbox"];\nif mailboxexists "Lists" { fileinto "Lists"; }\n' >"$T/mb.sieve"
out=$("$BREV" sieve test "$T/mb.sieve" "$msg") || fail "sieve test: exit $?"
[ "$out" = "store INBOX" ] || fail "mailboxexists without --mailbox: $out"
out=$("$BREV" sieve test "$T/mb.sieve" "$msg" --mailbox Lists) || fail "sieve test --mailbox: exit $?"
[ "$out" = "store Lists" ] || fail "mailboxexists with --mailbox: $out"
printf 'require ["date", "fileinto", "variables"];\nif currentdate :matches "date" "*" { fileinto "${1}"; }\n' >"$T/now.sieve"
out=$("$BREV" sieve test "$T/now.sieve" "$msg" --now 1796688000) || fail "sieve test --now: exit $?"
[ "$out" = "store 2026-12-08" ] || fail "currentdate with --now: $out"
rc=0
"$BREV" sieve test "$HERE/scripts/25-compile-error.sieve" "$msg" >"$T/o" 2>"$T/e" || rc=$?
[ $rc = 1 ] && grep -q '25-compile-error.sieve: line 2: header: expected 2 arguments, got 1' "$T/e" ||
	fail "compile error: exit $rc, $(cat "$T/e")"
rc=0
"$BREV" sieve test "$HERE/scripts/24-errors-runtime.sieve" "$W/sieve/bcc.eml" >"$T/o" 2>"$T/e" || rc=$?
[ $rc = 0 ] && [ "$(cat "$T/o")" = "store INBOX" ] && grep -q 'run-time error, implicit keep: line 2: reject conflicts' "$T/e" ||
	fail "run-time error: exit $rc, $(cat "$T/o" "$T/e")"
rc=0
"$BREV" sieve test "$T/mb.sieve" >"$T/o" 2>"$T/e" || rc=$?
[ $rc = 2 ] && grep -q '^usage: brev sieve test' "$T/e" || fail "usage: exit $rc"
rc=0
"$BREV" sieve >"$T/o" 2>"$T/e" || rc=$?
[ $rc = 1 ] && grep -q 'usage: brev sieve test' "$T/e" || fail "brev sieve without a subcommand: exit $rc $(cat "$T/e")"
# docs/sieve.md's spam example: X-Spam-Score, as brev's filter writes it
printf 'require ["fileinto", "relational", "comparator-i;ascii-numeric"];\nif header :value "ge" :comparator "i;ascii-numeric" "X-Spam-Score" "5" { fileinto "Junk"; }\n' >"$T/spam.sieve"
printf 'X-Spam-Score: 15.0\r\nX-Spam-Status: score=15.0 tests=GTUBE(15.0)\r\nSubject: s\r\n\r\nb\r\n' >"$T/spam.eml"
printf 'X-Spam-Score: 0.0\r\nX-Spam-Status: score=0.0 tests=none\r\nSubject: h\r\n\r\nb\r\n' >"$T/ham.eml"
[ "$("$BREV" sieve test "$T/spam.sieve" "$T/spam.eml")" = "store Junk" ] || fail "the spam example: spam not filed"
[ "$("$BREV" sieve test "$T/spam.sieve" "$T/ham.eml")" = "store INBOX" ] || fail "the spam example: ham filed"
