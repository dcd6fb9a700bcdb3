#!/bin/bash
# POP3 dialogue edge cases with exact bytes over raw sockets: dot-stuffing,
# TOP, LIST sizes == RETR octets, DELE/RSET/QUIT/drop, [IN-USE], wrong
# states, long lines, pipelining, STLS injection, AUTH, failed logins.
. ../lib.sh
brev_init pop3d
brev_user alice@example.test alice-pw
brev_user bob@example.test bob-pass
brev_start
PYTHONPATH=$ROOT/tests/e2e/t-30-pop3-poplib python3 -u dialogue.py || fail "dialogue"
grep -q 'pop3 session end .*reason=quit' "$D/serve.log" || fail "no session end log line"
grep -q 'pop3 login failed peer=127.0.0.1' "$D/serve.log" || fail "failed login not logged"
brev_stop
