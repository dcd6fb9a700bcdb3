#!/bin/bash
# Issue 18 bug 2: a FETCH racing another session's EXPUNGE must never hand
# out wrong data under OK. One session appends and expunges in a loop while
# two others loop FETCH 1:* (UID ENVELOPE BODY BODY.PEEK[HEADER.FIELDS
# (SUBJECT)] BODY.PEEK[]); every message they are answered for must carry its
# own subject, structure and bytes (race.py). Two rounds: 18 KB messages
# (answered from one read of the store) and 1.2 MB ones (streamed; a reader
# whose connection brev closes mid-literal opens a new one). Bounded:
# RACE_SECONDS (5) and 0.6 of that, stopping at the first wrong answer.
. ../lib.sh
brev_init race
brev_user alice@example.test 'pw-alice'
brev_start
python3 "$ROOT/tests/e2e/t-38-imap-race/race.py" || fail "FETCH racing EXPUNGE"
brev_stop
! grep -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$D/serve.log" || fail "sanitizer report in the log"
echo ok
