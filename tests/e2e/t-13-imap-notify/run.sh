#!/bin/bash
# NOTIFY (RFC 5465), driven by notify.py: a watching session on a raw socket
# and other sessions (smtplib, imaplib) changing the account. STATUS for a
# non-selected mailbox after an SMTP delivery (during IDLE, between commands
# with nothing sent, at NOOP), with HIGHESTMODSEQ after ENABLE CONDSTORE, on a
# flag change and an expunge; EXISTS with the MessageNew fetch-att, FETCH
# FLAGS and EXPUNGE for the selected mailbox with no command in progress;
# LIST on CREATE, RENAME (OLDNAME), DELETE (\NonExistent), SUBSCRIBE and
# UNSUBSCRIBE by another session; NO [BADEVENT (...)] and BAD for the RFC's
# invalid combinations and syntax; SELECTED-DELAYED holding EXPUNGE through
# UID FETCH until NOOP; NOTIFY NONE; and a client that stops reading
# (a 4 KiB receive buffer) getting NOTIFICATIONOVERFLOW, then nothing more.
. ../lib.sh
command -v python3 >/dev/null || fail "python3 missing"
brev_init notify
brev_user alice@example.test 'pw-notify'
brev_user bob@example.test 'pw-notify'
brev_start
python3 "$ROOT/tests/e2e/t-13-imap-notify/notify.py" || {
	tail -20 "$D/serve.log"
	fail "NOTIFY"
}
brev_stop
echo ok
