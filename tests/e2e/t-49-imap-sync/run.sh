#!/bin/bash
# How a selected IMAP session follows its mailbox while other sessions
# change it: several concurrent connections to one brev, raw sockets
# (sync.py). Flag changes reach other sessions once and the session that
# made them not again; EXPUNGE never during FETCH/STORE/SEARCH by number,
# highest number first, no EXISTS for an expunge alone; arrivals during
# IDLE; more expunges than the store's expunge log keeps (the stale path)
# and fewer; seeded random runs, sequential and concurrent, where every
# session's model of the mailbox, built from nothing but the responses it
# got, must equal a fresh session's; rev1 SELECT's [UNSEEN n]; a selected
# mailbox renamed away or deleted.
. ../lib.sh
brev_init sync
brev_user alice@example.test 'pw-alice'
brev_start
if ! T49_SUMMARY=$T/summary python3 "$ROOT/tests/e2e/t-49-imap-sync/sync.py"; then
	echo "--- brev log ($D/serve.log), last lines:"
	tail -10 "$D/serve.log"
	D= # the log is shown; what failed comes last, where tests/run.sh looks
	echo "--- what failed:"
	cat "$T/summary" 2>/dev/null
	fail "IMAP sync checks"
fi
brev_stop
! grep -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$D/serve.log" || fail "sanitizer report in the log"
echo ok
