#!/bin/bash
# OBJECTID (RFC 8474), PREVIEW (RFC 8970), REPLACE (RFC 8508) and CATENATE
# (RFC 4469) driven over a raw socket by objid.py (LITERAL+ dialogues, the
# RFC examples, bad syntax as BAD): MAILBOXID from CREATE/SELECT/STATUS,
# kept by RENAME and never reused; EMAILID shared by COPY and kept by MOVE;
# THREADID NIL; SEARCH EMAILID/THREADID; previews of plain, quoted-printable
# Latin-1, HTML and multipart mail cut at 200 characters; REPLACE with
# APPENDUID and EXPUNGE/VANISHED, into another mailbox, and refusals (size,
# quota, missing mailbox, read-only) that keep the old message; CATENATE
# with absolute, path and relative URLs, sections, the UTF8 form, MULTIAPPEND,
# [BADURL] and [TOOBIG] with nothing stored.
. ../lib.sh
command -v python3 >/dev/null || fail "python3 missing"
LIMIT=40000
QUOTA=60000
brev_init objid
brev_user alice@example.test 'pw-alice'
brev_user bob@example.test 'pw-bob-secret'
brev_start -o limits.message_size=$LIMIT -o quota.default=$QUOTA
export BREV D LIMIT QUOTA
python3 "$ROOT/tests/e2e/t-12-imap-objid-ext/objid.py" || {
	tail -15 "$D/serve.log"
	fail "OBJECTID / PREVIEW / REPLACE / CATENATE"
}
brev_stop
echo ok
