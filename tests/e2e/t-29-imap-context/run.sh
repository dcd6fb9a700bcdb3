#!/bin/bash
# CONTEXT=SEARCH (RFC 5267 4) as raw dialogues (context.py): a watching
# session on a raw socket, changes made by another session (imaplib), by
# SMTP delivery (smtplib) and by the watcher itself:
#  - PARTIAL: windows inside, across the end of and beyond the results,
#    reversed ranges, message numbers and UIDs; the BAD forms;
#  - UPDATE: ADDTO after EXISTS for SMTP arrivals (also during IDLE),
#    REMOVEFROM/ADDTO for flag changes by the other session and by the
#    watcher's own STORE, REMOVEFROM before EXPUNGE, in UIDs and in message
#    numbers; nothing for changes that leave a result alone; tag reuse BAD;
#    NOUPDATE for message-number keys and past 8 contexts; CANCELUPDATE;
#    contexts ending with UNSELECT;
#  - a seeded random run: many rounds of concurrent flag changes, appends,
#    deliveries and expunges while the watcher IDLEs, each ending with the
#    result kept from the updates alone compared with a fresh SEARCH, for a
#    UID context and a message-number context.
. ../lib.sh
command -v python3 >/dev/null || fail "python3 missing"
brev_init context
brev_user alice@example.test 'pw-alice'
brev_start
export BREV D
python3 "$ROOT/tests/e2e/t-29-imap-context/context.py" || {
	tail -15 "$D/serve.log"
	fail "CONTEXT=SEARCH"
}
brev_stop
echo ok
