#!/bin/bash
# Full-text index (issue 18), driven with Python's imaplib and smtplib
# (fts.py): a varied mailbox (quoted-printable, base64, ISO-8859-1,
# windows-1252, UTF-8, RFC 2047 headers, HTML, an attachment, a forwarded
# message/rfc822, a word longer than the index keeps) delivered over SMTP
# and APPENDed; UID SEARCH BODY and TEXT for needles that are whole words,
# begin or end inside words, span words, differ in case or accents, or have
# no letter at all, must give exactly what an independent byte scan
# (Python's email package, ASCII case folding, as RFC 9051 6.4.4 and
# docs/imap.md say) gives, in INBOX, after COPY in the copy, after
# EXPUNGE, and after a restart (which merges the pending words into the
# word table: SEARCH then narrows with it) with one more message pending.
# The index itself is looked at with mdb_stat (lmdb-utils): pending words
# after delivery, merged after the restart, nothing once every message is
# gone.
. ../lib.sh
command -v python3 >/dev/null || fail "python3 missing"
command -v mdb_stat >/dev/null || fail "mdb_stat missing (tools/deps.sh test: lmdb-utils)"
brev_init fts
brev_user alice@example.test 'pw-alice'
brev_start
export BREV D
python3 "$ROOT/tests/e2e/t-14-imap-fts/fts.py" fill || {
	tail -15 "$D/serve.log"
	fail "SEARCH BODY/TEXT with the index"
}
entries() { mdb_stat -s "$1" "$D/store" | sed -n 's/^ *Entries: //p'; }
# Nine messages' words, pending (merged every 256, or at the next start).
[ "$(entries ftb)" = 9 ] || fail "index has $(entries ftb) message entries after delivery, not 9"
[ "$(entries ftq)" = 9 ] || fail "$(entries ftq) messages pending after delivery, not 9"
brev_stop
brev_start
[ "$(entries ftq)" = 0 ] || fail "$(entries ftq) messages still pending after a restart"
[ "$(entries ftw)" -gt 100 ] || fail "index has $(entries ftw) word entries after a restart"
python3 "$ROOT/tests/e2e/t-14-imap-fts/fts.py" again || {
	tail -15 "$D/serve.log"
	fail "SEARCH BODY/TEXT after restart and expunge of everything"
}
[ "$(entries ftw)" = 0 ] || fail "$(entries ftw) word entries left once every message is gone"
[ "$(entries ftb)" = 0 ] || fail "$(entries ftb) message entries left once every message is gone"
[ "$(entries ftq)" = 0 ] || fail "$(entries ftq) pending entries left once every message is gone"
brev_stop
echo ok
