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
