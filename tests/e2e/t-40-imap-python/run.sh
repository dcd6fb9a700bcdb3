#!/bin/bash
# IMAP with Python's imaplib (an independent client): login forms,
# CAPABILITY, LIST/LSUB/NAMESPACE/STATUS, CREATE/RENAME/DELETE, APPEND with
# flags and APPENDUID, FETCH of every item, STORE, SEARCH/ESEARCH, COPY/MOVE
# with COPYUID, EXPUNGE, ENABLE, IDLE, and mail delivered over SMTP.
. ../lib.sh
brev_init imap
brev_user alice@example.test 'pw-alice'
brev_start
python3 "$ROOT/tests/e2e/t-40-imap-python/client.py" || fail "imaplib session"
grep -q 'imap session end .*reason=logout' "$D/serve.log" || fail "no session end log line"
brev_stop
! grep -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$D/serve.log" || fail "sanitizer report in the log"
echo ok
