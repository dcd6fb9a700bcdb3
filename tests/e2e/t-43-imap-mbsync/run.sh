#!/bin/bash
# mbsync (isync): two-way sync with a local Maildir. Mail arrives over SMTP,
# mbsync pulls it; local flag changes, a new local message (LITERAL+ APPEND,
# APPENDUID) and a local deletion (expunge) go back; a server-side flag change
# comes down. Checked from the server side with imaplib.
. ../lib.sh
command -v mbsync >/dev/null || fail "mbsync not installed (apt-get install isync)"
brev_init mbs
brev_user alice@example.test 'pw-alice'
brev_start
if grep -q STARTTLS < <(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$P_IMAP; head -1 <&3"); then
	TLS="SSLType IMAPS
CertificateFile $D/cert.pem"
	PORT=$P_IMAPS
else
	TLS="SSLType None"
	PORT=$P_IMAP
	note "no TLS on this build: plaintext IMAP on loopback"
fi
mkdir -p "$T/mail"
cat >"$T/mbsyncrc" <<RC
IMAPAccount brev
Host localhost
Port $PORT
User alice@example.test
Pass pw-alice
AuthMechs PLAIN
$TLS

IMAPStore remote
Account brev

MaildirStore local
Path $T/mail/
Inbox $T/mail/INBOX
SubFolders Verbatim

Channel ch
Far :remote:
Near :local:
Patterns INBOX Archive
Create Both
Expunge Both
SyncState *
RC
sync() { mbsync -c "$T/mbsyncrc" -a >"$T/mbsync.log" 2>&1 || { cat "$T/mbsync.log"; fail "mbsync $1"; }; }
python3 - <<PY
import smtplib
for i in range(3):
    s = smtplib.SMTP("127.0.0.1", $P_SMTP)
    s.sendmail("far@remote.test", ["alice@example.test"], b"Subject: m%d\r\nFrom: far@remote.test\r\n\r\nbody %d\r\n" % (i, i))
    s.quit()
PY
sync first
n=$(find "$T/mail/INBOX" -type f -path '*/new/*' -o -type f -path '*/cur/*' | wc -l)
[ "$n" = 3 ] || fail "expected 3 local messages, got $n"
# Local changes: m0 seen, m1 trashed, a new message.
f0=$(grep -rl '^Subject: m0' "$T/mail/INBOX" | head -1)
f1=$(grep -rl '^Subject: m1' "$T/mail/INBOX" | head -1)
mv "$f0" "$T/mail/INBOX/cur/$(basename "${f0%%:*}"):2,S"
mv "$f1" "$T/mail/INBOX/cur/$(basename "${f1%%:*}"):2,T"
printf 'From: me@example.test\r\nSubject: local new\r\n\r\nwritten locally\r\n' >"$T/mail/INBOX/new/$(date +%s).local.1"
sleep 1 # mbsync skips a Maildir touched within the same second
sync second
python3 - <<PY
import imaplib, re
m = imaplib.IMAP4("127.0.0.1", $P_IMAP)
m.login("alice@example.test", "pw-alice")
m.select("INBOX")
typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
subj = {}
for item in data:
    if isinstance(item, tuple):
        s = re.search(rb"Subject: (.*)\r\n", item[1]).group(1)
        subj[s] = item[0]
assert set(subj) == {b"m0", b"m2", b"local new"}, subj
assert b"\\\\Seen" in subj[b"m0"], subj
assert b"\\\\Seen" not in subj[b"m2"], subj
# A server-side change for the next sync.
typ, data = m.search(None, "SUBJECT", "m2")
m.store(data[0].split()[0], "+FLAGS", "\\\\Flagged")
m.logout()
PY
[ $? = 0 ] || fail "server state after the second sync"
sleep 1
sync third
f2=$(grep -rl '^Subject: m2' "$T/mail/INBOX" | head -1)
case "$f2" in *:2,*F*) ;; *) fail "server flag did not reach the Maildir: $f2" ;; esac
! grep -rq "^Subject: m1" "$T/mail/INBOX" || fail "m1 still local"
brev_stop
! grep -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$D/serve.log" || fail "sanitizer report in the log"
echo ok
