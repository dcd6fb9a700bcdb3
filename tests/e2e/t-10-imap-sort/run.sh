#!/bin/bash
# SORT, ESORT, SORT=DISPLAY (RFC 5256, 5267, 5957) and THREAD=ORDEREDSUBJECT,
# THREAD=REFERENCES (RFC 5256), driven by sort.py with Python's imaplib and,
# for the RFC examples, a raw socket dialogue compared line by line:
# every sort criterion on six crafted messages (encoded words, Re/Fwd/[blob]
# subjects, a Date: in another zone, a missing and an unparsable Date:,
# equal sizes and dates broken by sequence number), REVERSE, several keys,
# search keys after the charset, UID SORT on UIDs that differ from message
# numbers, every ESORT RETURN form; both THREAD algorithms on a crafted set
# (References, In-Reply-To only, a missing parent kept as a dummy, one
# promoted, subject-only grouping) and UID THREAD; RFC 5256 section 4's
# thread examples rebuilt in real mailboxes; bad syntax is BAD, another
# charset NO [BADCHARSET]; CONTEXT=SEARCH and CONTEXT=SORT are advertised
# (t-29-imap-context tests them).
. ../lib.sh
command -v python3 >/dev/null || fail "python3 missing"
brev_init sort
brev_user alice@example.test 'pw-alice'
brev_start
export BREV D
python3 "$ROOT/tests/e2e/t-10-imap-sort/sort.py" || {
	tail -15 "$D/serve.log"
	fail "SORT / THREAD"
}
brev_stop
echo ok
