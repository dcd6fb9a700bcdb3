#!/bin/bash
# WITHIN (RFC 5032) and APPENDLIMIT (RFC 7889), driven with Python's imaplib
# (within.py): messages APPENDed with chosen INTERNALDATEs (3 days old, 2 days
# old, now) found by UID SEARCH OLDER/YOUNGER alone and under NOT/OR/AND;
# an interval of 0, over 4294967295 or not a number is BAD; CAPABILITY names WITHIN and APPENDLIMIT=N with N the
# configured limits.message_size in octets, STATUS (APPENDLIMIT) and
# LIST-STATUS return the same N, and an APPEND one octet over N is
# NO [TOOBIG] and stores nothing.
# Margins are hours against days, so a loaded machine cannot move a message
# across a cutoff.
. ../lib.sh
command -v python3 >/dev/null || fail "python3 missing"
LIMIT=123456
brev_init within
brev_user alice@example.test 'pw-alice'
brev_start -o limits.message_size=$LIMIT
export BREV D LIMIT
python3 "$ROOT/tests/e2e/t-36-imap-within/within.py" || {
	tail -15 "$D/serve.log"
	fail "WITHIN / APPENDLIMIT"
}
brev_stop
echo ok
