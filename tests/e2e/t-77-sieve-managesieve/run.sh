#!/bin/bash
# ManageSieve (RFC 5804, issue 19) with sieve-connect, an independent client,
# over STARTTLS against brev's local CA: a script with a syntax error is
# refused at upload with its line number; a good one is uploaded, listed,
# activated (LISTSCRIPTS shows ACTIVE) and downloaded byte for byte; then a
# raw-socket dialogue (dialogue.py) for what a client library would never
# send: commands before login, unknown and malformed commands, an oversize
# literal (dropped with NO (QUOTA/MAXSIZE), the session goes on), a huge one
# (BYE), the script count limit, DELETESCRIPT of the active script,
# RENAMESCRIPT, CHECKSCRIPT, UNAUTHENTICATE, and pipelining after STARTTLS.
# `brev sieve put|get|list|activate|check|delete` works on the same scripts.
. ../lib.sh
command -v sieve-connect >/dev/null || fail "sieve-connect missing (tools/deps.sh test installs it)"
brev_init ms
brev_user alice@example.test alice-pass
brev_start
wait_port "$P_SIEVE"

sc() {
	timeout 30 sieve-connect -s 127.0.0.1 -p "$P_SIEVE" -u alice@example.test --passwordfd 3 \
		--tlscafile "$D/ca.pem" --tlshostname localhost "$@" 3<<<"alice-pass"
}
printf 'require "fileinto";\n\nif header :contains "subject" "x" {\n  fileinto "A"\n}\n' >"$T/bad.sieve"
if sc --upload --localsieve "$T/bad.sieve" --remotesieve bad >"$T/bad.out" 2>&1; then
	fail "a script with a syntax error was accepted: $(cat "$T/bad.out")"
fi
grep -q "line [45]" "$T/bad.out" || fail "no line number in the PUTSCRIPT error: $(cat "$T/bad.out")"

printf 'require ["fileinto"];\r\n# caf\xc3\xa9\r\nif header :contains "subject" "x" {\r\n  fileinto "A";\r\n}\r\n' >"$T/good.sieve"
sc --upload --localsieve "$T/good.sieve" --remotesieve good >"$T/up.out" 2>&1 || fail "upload: $(cat "$T/up.out")"
sc --list >"$T/list1.out" 2>&1 || fail "list: $(cat "$T/list1.out")"
grep -qx '"good"' "$T/list1.out" || fail "list before activate: $(cat "$T/list1.out")"
sc --activate --remotesieve good >"$T/act.out" 2>&1 || fail "activate: $(cat "$T/act.out")"
sc --list >"$T/list2.out" 2>&1 || fail "list: $(cat "$T/list2.out")"
grep -qx '"good" ACTIVE' "$T/list2.out" || fail "list after activate: $(cat "$T/list2.out")"
sc --download --remotesieve good --localsieve "$T/back.sieve" >"$T/down.out" 2>&1 || fail "download: $(cat "$T/down.out")"
cmp "$T/good.sieve" "$T/back.sieve" || fail "GETSCRIPT round trip differs"
grep -q "managesieve login peer=127.0.0.1 user=alice@example.test .*tls=yes" "$D/serve.log" ||
	fail "sieve-connect did not log in over TLS"

# `brev sieve` on the same store: what one writes the other reads
rc=0
printf 'if true {\n  stop\n}\nfrob;\n' | "$BREV" -d "$D" sieve put alice@example.test cli 2>"$T/cli.err" || rc=$?
[ $rc = 1 ] && grep -q "^brev: sieve put: line [1-4]: " "$T/cli.err" || fail "sieve put of a bad script: rc=$rc $(cat "$T/cli.err")"
printf 'keep;\n' >"$T/cli.sieve"
"$BREV" -d "$D" sieve put alice@example.test cli "$T/cli.sieve" >/dev/null || fail "sieve put"
"$BREV" -d "$D" sieve check alice@example.test "$T/cli.sieve" >/dev/null || fail "sieve check FILE"
sc --list >"$T/list3.out" 2>&1 || fail "list: $(cat "$T/list3.out")"
grep -qx '"cli"' "$T/list3.out" || fail "a script put with the CLI is not listed over ManageSieve: $(cat "$T/list3.out")"
"$BREV" -d "$D" sieve list alice@example.test >"$T/cli.list" || fail "sieve list"
grep -qx "good  (active)" "$T/cli.list" && grep -qx "cli" "$T/cli.list" || fail "sieve list: $(cat "$T/cli.list")"
"$BREV" -d "$D" sieve get alice@example.test good >"$T/cli.good" || fail "sieve get"
cmp "$T/good.sieve" "$T/cli.good" || fail "sieve get differs from what sieve-connect uploaded"
"$BREV" -d "$D" sieve check alice@example.test >/dev/null || fail "sieve check (the active script)"
rc=0; "$BREV" -d "$D" sieve delete alice@example.test good 2>"$T/cli.err" || rc=$?
[ $rc = 1 ] && grep -q "active script" "$T/cli.err" || fail "deleting the active script: rc=$rc"
"$BREV" -d "$D" sieve activate alice@example.test cli >/dev/null || fail "sieve activate"
sc --list >"$T/list4.out" 2>&1 || fail "list: $(cat "$T/list4.out")"
grep -qx '"cli" ACTIVE' "$T/list4.out" || fail "activate with the CLI not seen over ManageSieve: $(cat "$T/list4.out")"
"$BREV" -d "$D" sieve activate alice@example.test >/dev/null || fail "sieve activate (none)"
"$BREV" -d "$D" sieve delete alice@example.test cli >/dev/null || fail "sieve delete"

PORT=$P_SIEVE python3 -u "$PWD/dialogue.py" || fail "dialogue"
brev_stop
