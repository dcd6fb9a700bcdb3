#!/bin/bash
# Issue 18's protocol bugs, each pinned by a raw dialogue (compliance.py):
# Thunderbird's RFC 6855 APPEND "UTF8 (~{n+})" to Sent (and the synchronizing
# form, and MULTIAPPEND), the refused command in the log, nothing between
# LOGOUT's BYE and its OK, '[' in atoms, SEARCH FROM/TO/CC/BCC on the
# address as ENVELOPE shows it, BINARY of a whole message and of a
# message/rfc822 part, quoted-printable trailing white space, LIST-EXTENDED
# and LSUB edges, CREATE-SPECIAL-USE and [USEATTR], EXAMINE's empty
# PERMANENTFLAGS, SEARCH RETURN (SAVE) now that SEARCHRES is offered, and \Recent for
# IMAP4rev1 sessions. A failing check names itself; all checks run.
. ../lib.sh
brev_init cmp
brev_user alice@example.test 'pw-alice'
brev_start
if ! python3 "$ROOT/tests/e2e/t-39-imap-compliance/compliance.py"; then
	echo "--- brev log ($D/serve.log), last lines:"
	tail -15 "$D/serve.log"
	fail "IMAP compliance checks"
fi
# The refused command of the check "refused_logged" is in the log, with
# the session's id (issue 18: a failed save to Sent was invisible).
grep -Eq 'imap refused id=[0-9]+ user=alice@example.test cmd=APPEND answer=BAD' "$D/serve.log" ||
	fail "refused APPEND not logged at info level with the session id"
brev_stop
! grep -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$D/serve.log" || fail "sanitizer report in the log"
echo ok
