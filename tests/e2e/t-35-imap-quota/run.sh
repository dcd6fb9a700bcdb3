#!/bin/bash
# QUOTA (RFC 9208) over the per-account storage quota (docs/imap.md "QUOTA"),
# driven with Python's imaplib (getquotaroot, getquota, setquota, status)
# and raw dialogues for the RFC's own examples (quota.py):
#  - an account without a limit (quota.default = 0): QUOTA and
#    QUOTA=RES-STORAGE advertised, no RES-MESSAGE, no QUOTASET; the mailbox
#    has no quota root and GETQUOTA "" is NO;
#  - with quota.default = 100K: one root "" for every mailbox, STORAGE in
#    KiB (usage rounded up, equal to `brev user list`'s bytes), following
#    APPEND, COPY, MOVE, \Deleted and EXPUNGE; STATUS DELETED and DELETED-STORAGE
#    (also as LIST-STATUS); APPEND and COPY over the limit NO [OVERQUOTA]
#    with the usage unchanged; SETQUOTA NO, malformed ones BAD;
#  - with quota.messages = 5 (QUOTA=RES-MESSAGE), alone and with
#    quota.default = 100K (fresh accounts): MESSAGE usage equal to `brev
#    user list`'s count, APPEND, COPY, MULTIAPPEND and SMTP delivery (452)
#    refused at the limit, MOVE allowed, EXPUNGE frees, STATUS DELETED.
. ../lib.sh
command -v python3 >/dev/null || fail "python3 missing"
brev_init quota
brev_user alice@example.test 'pw-alice'
brev_start
export BREV D
python3 "$ROOT/tests/e2e/t-35-imap-quota/quota.py" none || {
	tail -15 "$D/serve.log"
	fail "QUOTA without a limit"
}
brev_stop
brev_start -o quota.default=100K
python3 "$ROOT/tests/e2e/t-35-imap-quota/quota.py" limit || {
	tail -15 "$D/serve.log"
	fail "QUOTA with quota.default = 100K"
}
brev_stop
"$BREV" -d "$D" user del alice@example.test >/dev/null || fail "user del"
brev_user alice@example.test 'pw-alice'
brev_start -o quota.messages=5
python3 "$ROOT/tests/e2e/t-35-imap-quota/quota.py" messages || {
	tail -15 "$D/serve.log"
	fail "QUOTA with quota.messages = 5"
}
brev_stop
"$BREV" -d "$D" user del alice@example.test >/dev/null || fail "user del"
brev_user alice@example.test 'pw-alice'
brev_start -o quota.messages=5 -o quota.default=100K
python3 "$ROOT/tests/e2e/t-35-imap-quota/quota.py" both || {
	tail -15 "$D/serve.log"
	fail "QUOTA with quota.messages = 5 and quota.default = 100K"
}
brev_stop
echo ok
