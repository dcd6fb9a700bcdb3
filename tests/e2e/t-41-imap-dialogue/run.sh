#!/bin/bash
# IMAP protocol edges spoken byte by byte: literal overflow (synchronizing
# and LITERAL+), an unterminated literal, an over-long line, bad sequence
# sets, deep nesting, commands in the wrong state, STARTTLS command
# injection, IDLE ended by DONE, and the BYE after too many errors.
. ../lib.sh
brev_init dlg
brev_user alice@example.test 'pw-alice'
brev_start
python3 "$ROOT/tests/e2e/t-41-imap-dialogue/dialogue.py" || fail "dialogue"
brev_stop
! grep -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$D/serve.log" || fail "sanitizer report in the log"
echo ok
