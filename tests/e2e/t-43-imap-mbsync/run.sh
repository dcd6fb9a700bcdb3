#!/bin/bash
# mbsync (isync): two-way sync with a local Maildir. Mail arrives over SMTP,
# mbsync pulls it (over STARTTLS); local flag changes, a new local message
# (LITERAL+ APPEND, APPENDUID) and a local deletion (expunge) go back; a
# server-side flag change comes down (over IMAPS). After every sync both
# sides hold each message exactly once (a duplicated APPEND or fetch
# fails), counted from the server with imaplib and in the Maildir; the UID
# brev gave the appended message in APPENDUID is the one mbsync recorded
# for the file (its ",U=" name) and the one the server has.
. ../lib.sh
command -v mbsync >/dev/null || fail "mbsync not installed (apt-get install isync)"
brev_init mbs
brev_user alice@example.test 'pw-alice'
brev_start
# TLS is not optional: a brev whose certificate failed to load still runs,
# without STARTTLS, and must fail here rather than sync in plaintext.
greeting=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$P_IMAP; head -1 <&3") || fail "no IMAP greeting"
grep -q STARTTLS <<<"$greeting" || fail "no STARTTLS in the greeting: $greeting"
mkdir -p "$T/mail"
# rc MODE: the config for a sync over STARTTLS (port $P_IMAP) or IMAPS.
rc() {
	local port=$P_IMAPS
	[ "$1" = STARTTLS ] && port=$P_IMAP
	cat <<RC
IMAPAccount brev
Host localhost
Port $port
User alice@example.test
Pass pw-alice
AuthMechs PLAIN
SSLType $1
CertificateFile $D/cert.pem

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
}
# sync NAME MODE: one mbsync run; its IMAP traffic (-Dn) in $T/NAME.log.
sync() {
	rc "$2" >"$T/mbsyncrc"
	mbsync -Dn -c "$T/mbsyncrc" -a >"$T/$1.log" 2>&1 || { tail -40 "$T/$1.log"; fail "mbsync $1"; }
}
# local_count SUBJECT...: the local INBOX holds exactly these messages,
# each SUBJECT in one file.
local_count() {
	python3 - "$T/mail/INBOX" "$@" <<'PY' || fail "local INBOX after $SYNC_NAME"
import collections, glob, re, sys
got = collections.Counter()
for f in glob.glob(sys.argv[1] + "/new/*") + glob.glob(sys.argv[1] + "/cur/*"):
    s = re.search(rb"^Subject: (.*?)\r?$", open(f, "rb").read(), re.M)
    got[s.group(1).decode() if s else None] += 1
assert got == collections.Counter(sys.argv[2:]), ("local INBOX", dict(got), sys.argv[2:])
PY
}
# server_count SUBJECT...: the same on the server's INBOX (imaplib).
server_count() {
	python3 - "$@" <<'PY' || fail "server INBOX after $SYNC_NAME"
import collections, imaplib, os, re, sys
m = imaplib.IMAP4("127.0.0.1", int(os.environ["P_IMAP"]))
m.login("alice@example.test", "pw-alice")
typ, data = m.select("INBOX")
exists = int(data[0])
got = collections.Counter()
if exists:
    typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    for item in data:
        if isinstance(item, tuple):
            got[re.search(rb"Subject: (.*)\r\n", item[1]).group(1).decode()] += 1
m.logout()
want = collections.Counter(sys.argv[1:])
assert exists == len(sys.argv) - 1 and got == want, ("server INBOX", exists, dict(got), dict(want))
PY
}
python3 - <<PY || fail "smtp"
import smtplib
for i in range(3):
    s = smtplib.SMTP("127.0.0.1", $P_SMTP)
    s.sendmail("far@remote.test", ["alice@example.test"], b"Subject: m%d\r\nFrom: far@remote.test\r\n\r\nbody %d\r\n" % (i, i))
    s.quit()
PY
SYNC_NAME=first
sync first STARTTLS
grep -q '^>>> [0-9]* STARTTLS' "$T/first.log" && grep -q '^Connection is now encrypted' "$T/first.log" ||
	fail "the first sync did not go through STARTTLS: $(head -20 "$T/first.log")"
local_count m0 m1 m2
server_count m0 m1 m2
# Local changes: m0 seen, m1 trashed, a new message.
f0=$(grep -rl '^Subject: m0' "$T/mail/INBOX/new" "$T/mail/INBOX/cur" | head -1)
f1=$(grep -rl '^Subject: m1' "$T/mail/INBOX/new" "$T/mail/INBOX/cur" | head -1)
mv "$f0" "$T/mail/INBOX/cur/$(basename "${f0%%:*}"):2,S"
mv "$f1" "$T/mail/INBOX/cur/$(basename "${f1%%:*}"):2,T"
printf 'From: me@example.test\r\nSubject: local new\r\n\r\nwritten locally\r\n' >"$T/mail/INBOX/new/$(date +%s).local.1"
sleep 1 # mbsync skips a Maildir touched within the same second
SYNC_NAME=second
sync second IMAPS
local_count m0 m2 'local new'
server_count m0 m2 'local new'
# APPENDUID: brev's answer to mbsync's APPEND names the UID the server
# holds "local new" under, and mbsync recorded that UID for the local file
# (its ",U=" number is the Maildir's own UID, paired with the server's in
# the sync state).
python3 - "$T/second.log" "$T/mail/INBOX" <<'PY' || fail "APPENDUID"
import glob, imaplib, os, re, sys
log = open(sys.argv[1], errors="replace").read()
ok = re.findall(r"OK \[APPENDUID (\d+) (\d+)\]", log)
assert len(ok) == 1, ("one APPEND, one APPENDUID", ok)
uidvalidity, uid = map(int, ok[0])
m = imaplib.IMAP4("127.0.0.1", int(os.environ["P_IMAP"]))
m.login("alice@example.test", "pw-alice")
typ, data = m.select("INBOX")
assert int(m.response("UIDVALIDITY")[1][0]) == uidvalidity, "UIDVALIDITY"
typ, data = m.uid("SEARCH", "SUBJECT", '"local new"')
assert data[0].split() == [str(uid).encode()], ("server UID of 'local new'", data, uid)
m.logout()
files = [f for f in glob.glob(sys.argv[2] + "/*/*") if "Subject: local new" in open(f, errors="replace").read()]
assert len(files) == 1, files
near = re.search(r",U=(\d+)", os.path.basename(files[0]))
assert near, ("no ,U= in the file name", files[0])
state = open(os.path.join(sys.argv[2], ".mbsyncstate")).read().splitlines()
pairs = [l.split()[:2] for l in state if re.match(r"\d+ \d+", l)]
assert [str(uid), near.group(1)] in pairs, ("sync state lacks far %d near %s" % (uid, near.group(1)), pairs)
print("APPENDUID %d %d = the server's UID = near UID %s in the sync state" % (uidvalidity, uid, near.group(1)))
PY
python3 - <<PY || fail "server state after the second sync"
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
assert b"\\\\Seen" in subj[b"m0"], subj
assert b"\\\\Seen" not in subj[b"m2"], subj
# A server-side change for the next sync.
typ, data = m.search(None, "SUBJECT", "m2")
m.store(data[0].split()[0], "+FLAGS", "\\\\Flagged")
m.logout()
PY
sleep 1
SYNC_NAME=third
sync third IMAPS
f2=$(grep -rl '^Subject: m2' "$T/mail/INBOX/new" "$T/mail/INBOX/cur" | head -1)
case "$f2" in *:2,*F*) ;; *) fail "server flag did not reach the Maildir: $f2" ;; esac
local_count m0 m2 'local new'
server_count m0 m2 'local new'
brev_stop
! grep -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$D/serve.log" || fail "sanitizer report in the log"
echo ok
