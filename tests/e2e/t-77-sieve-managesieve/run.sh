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

PORT=$P_SIEVE python3 -u "$PWD/dialogue.py" || fail "dialogue"
brev_stop
