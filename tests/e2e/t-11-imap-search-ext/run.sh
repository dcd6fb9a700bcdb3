#!/bin/bash
# IMAP search extensions (issue 18) as golden dialogues over a raw socket
# (raw.py: imaplib cannot send "$" or pipeline), one script per extension:
#   searchres.py  SEARCHRES (RFC 5182): SEARCH RETURN (SAVE), "$" in FETCH,
#                 STORE, COPY, MOVE, UID EXPUNGE, SEARCH keys and QRESYNC's
#                 UID FETCH, SAVE with MIN/MAX, the RFC's examples, what
#                 resets or keeps "$", expunged messages leaving it, BADs.
#   savedate.py   SAVEDATE (RFC 8514): FETCH SAVEDATE and SAVEDBEFORE/ON/SINCE,
#                 SAVEDATESUPPORTED after APPEND (old INTERNALDATE), SMTP
#                 delivery, COPY, MOVE and STORE; BADs.
#   uidonly.py    UIDONLY (RFC 9586): BAD [UIDREQUIRED] for every command and
#                 key taking message numbers, UIDFETCH, VANISHED for all
#                 expunges, no [UNSEEN n].
#   multisearch.py MULTISEARCH (RFC 7377): ESEARCH IN (...) over every
#                 mailbox filter, MAILBOX and UIDVALIDITY, the RFC's example.
. ../lib.sh
command -v python3 >/dev/null || fail "python3 missing"
brev_init searchext
brev_user alice@example.test 'pw-alice'
brev_user bob@example.test 'pw-bob-1'
brev_start
export BREV D
cd "$ROOT/tests/e2e/t-11-imap-search-ext" || fail "no test dir"
# Every script runs, also after one failed, so one run shows them all.
bad=
for t in searchres savedate uidonly multisearch; do
	python3 "$t.py" || bad="$bad $t"
done
[ -z "$bad" ] || {
	tail -15 "$D/serve.log"
	fail "failed:$bad"
}
brev_stop
echo ok
