#!/bin/bash
# offlineimap3 against brev over IMAPS: a two-way sync with a local Maildir.
# Mail delivered over SMTP comes down byte for byte (modulo CRLF); brev's
# default folders (Drafts Sent Junk Trash Archive) are listed, selected and
# mirrored; a local flag change, a new local message (APPEND with APPENDUID),
# a new local folder with a UTF-8 name (CREATE in modified UTF-7) and a local
# deletion go up; a server-side flag change, a server-side expunge and a new
# delivery come down; a further sync changes nothing; as a daemon with
# idlefolders, a delivery wakes its IDLE. offlineimap's IMAP: LIST "" "*",
# SELECT/EXAMINE of every folder, FETCH 1:* (FLAGS UID INTERNALDATE), UID
# FETCH n (BODY.PEEK[]), synchronizing-literal APPEND, UID STORE +/-FLAGS,
# EXPUNGE.
. ../lib.sh
command -v offlineimap >/dev/null || fail "offlineimap is not installed (apt-get install offlineimap3)"
brev_init oimap
brev_user alice@example.test pw-alice
brev_start
export PYTHONPATH=$ROOT/tests/e2e/t-45-imap-fetchmail
python3 - <<'PY' || fail "delivery"
from imapt import check, connect, deliver, messages, wait_count
deliver(messages("oi"))
wait_count(3)
# A nested folder whose parent is no mailbox (LIST shows it \NonExistent)
# and a folder with a non-ASCII name (modified UTF-7 on the wire: "Projekt ä").
m = connect()
for box in ("Work/Reports", '"Projekt &AOQ-"'):
    check(m.create(box)[0] == "OK", "create " + box)
check(m.append("Work/Reports", None, None, b"Subject: report\r\n\r\nnumbers\r\n")[0] == "OK", "append")
m.logout()
PY

L=$T/mail
mkdir -p "$L" "$T/meta"
cat >"$T/oirc" <<RC
[general]
accounts = brev
metadata = $T/meta
ui = basic

[Account brev]
localrepository = local
remoterepository = remote
# local folder names in UTF-8, modified UTF-7 on the wire
utf8foldernames = yes

[Repository local]
type = Maildir
localfolders = $L

[Repository remote]
type = IMAP
remotehost = localhost
remoteport = $P_IMAPS
ssl = yes
sslcacertfile = $D/cert.pem
remoteuser = alice@example.test
remotepass = pw-alice
maxconnections = 1
RC
sync() { # WHAT
	timeout 20 offlineimap -c "$T/oirc" -o -u basic >"$T/oi.$1.log" 2>&1 ||
		{ cat "$T/oi.$1.log"; fail "offlineimap $1 exited $?"; }
	! grep -Eq '^ *ERROR|WARNING:.*(Error|error)' "$T/oi.$1.log" ||
		{ cat "$T/oi.$1.log"; fail "offlineimap $1 reported errors"; }
}
local_files() { find "$L/$1/cur" "$L/$1/new" -type f 2>/dev/null; }
local_count() { local_files "$1" | wc -l; }
local_file() { grep -l "^Subject: $2\$" $(local_files "$1") /dev/null | head -1; }

# 1. first sync: everything comes down, every default folder is mirrored.
sync first
for f in INBOX Drafts Sent Junk Trash Archive Work.Reports "Projekt ä"; do
	[ -d "$L/$f/cur" ] || { cat "$T/oi.first.log"; fail "folder $f not mirrored"; }
done
[ "$(local_count INBOX)" = 3 ] || fail "first sync: $(local_count INBOX) local messages"
[ -n "$(local_file Work.Reports report)" ] || fail "Work/Reports did not come down"
python3 - <<PY || fail "downloaded messages differ from the stored ones"
import glob
from imapt import check, stored
want = sorted(raw.replace(b"\r\n", b"\n") for _, _, raw in stored())
got = sorted(open(f, "rb").read().replace(b"\r\n", b"\n")
             for f in glob.glob("$L/INBOX/cur/*") + glob.glob("$L/INBOX/new/*"))
check(len(want) == 3 and len(got) == 3, "counts %d %d" % (len(want), len(got)))
for w, g in zip(want, got):
    check(w == g, "bytes differ:\n--- stored\n%r\n--- synced\n%r" % (w[:600], g[:600]))
PY

# 2. local changes: oi 1 read and flagged, oi 2 deleted, a new message in
#    INBOX and one in Archive, a new folder with a message.
f1=$(local_file INBOX "oi 1"); f2=$(local_file INBOX "oi 2")
[ -n "$f1" ] && [ -n "$f2" ] || fail "local files for oi 1 / oi 2"
mv "$f1" "$L/INBOX/cur/$(basename "${f1%%:2,*}"):2,FS"
rm "$f2"
newmsg() { # DIR SUBJECT
	printf 'From: me@example.test\nTo: alice@example.test\nSubject: %s\nMessage-ID: <%s.%s@example.test>\n\nwritten locally\n' \
		"$2" "${2// /-}" "$(date +%s%N)" >"$1/new/$(date +%s).$RANDOM$RANDOM.local"
}
newmsg "$L/INBOX" "local new"
# 8-bit text and an old mtime: offlineimap APPENDs the mtime as INTERNALDATE.
printf 'gr\xc3\xbc\xc3\x9fe\n' >>"$L/INBOX/new/"*.local
touch -d '2024-03-04 05:06:07 UTC' "$L/INBOX/new/"*.local
newmsg "$L/Archive" "archived locally"
mkdir -p "$L/Büro/cur" "$L/Büro/new" "$L/Büro/tmp"
newmsg "$L/Büro" "in a new folder"
sync second
python3 - <<'PY' || { cat "$T/oi.second.log"; fail "server state after the second sync"; }
from imapt import check, connect, stored
def subjects(box):
    out = {}
    for uid, flags, raw in stored(box):
        s = [l for l in raw.split(b"\n") if l.startswith(b"Subject: ")][0]
        out[s[9:].strip().decode()] = flags
    return out
inbox = subjects("INBOX")
check(set(inbox) == {"oi 1", "oi 3", "local new"}, "INBOX %r" % inbox)
check(set(inbox["oi 1"]) == {"\\Seen", "\\Flagged"}, "oi 1 flags %r" % inbox["oi 1"])
check(inbox["oi 3"] == [], "oi 3 flags %r" % inbox["oi 3"])
check(set(subjects("Archive")) == {"archived locally"}, "Archive %r" % subjects("Archive"))
check(set(subjects('"B&APw-ro"')) == {"in a new folder"}, "new folder Büro")
# APPENDUID spared offlineimap its fallback (an X-OfflineIMAP header and a
# header search); the upload is what was written locally.
for box in ("INBOX", "Archive", '"B&APw-ro"'):
    for uid, flags, raw in stored(box):
        check(b"X-OfflineIMAP" not in raw, "X-OfflineIMAP header in %s" % box)
        if b"written locally" in raw:
            check(raw.count(b"\r\n") == raw.count(b"\n"), "bare LF stored in %s" % box)
m = connect()
m.select("INBOX", readonly=True)
typ, data = m.uid("SEARCH", "SUBJECT", '"local new"')
typ, data = m.uid("FETCH", data[0], "(INTERNALDATE BODY.PEEK[TEXT])")
check(b'INTERNALDATE "04-Mar-2024 05:06:07 +0000"' in data[0][0], "INTERNALDATE %r" % data)
check(data[0][1] == b"written locally\r\ngr\xc3\xbc\xc3\x9fe\r\n", "8-bit body %r" % data)
m.logout()
# the next round's server-side changes: oi 3 answered, "local new" expunged
m = connect()
m.select("INBOX")
for subj, op, flag in (("oi 3", "+FLAGS", "\\Answered"), ("local new", "+FLAGS", "\\Deleted")):
    typ, data = m.uid("SEARCH", "SUBJECT", '"%s"' % subj)
    check(typ == "OK" and len(data[0].split()) == 1, "search %s: %r" % (subj, data))
    check(m.uid("STORE", data[0], op, flag)[0] == "OK", "store")
check(m.expunge()[0] == "OK", "expunge")
m.logout()
PY
# offlineimap gave the uploaded message its UID in the file name (APPENDUID).
case "$(local_file INBOX "local new")" in *,U=[0-9]*) ;; *) fail "no UID in the uploaded file's name: $(local_file INBOX "local new")" ;; esac
python3 - <<'PY' || fail "delivery 2"
from imapt import deliver, messages
deliver(messages("late")[:1])
PY

# 3. the server's changes come down.
sync third
[ "$(local_count INBOX)" = 3 ] || fail "third sync: $(local_count INBOX) local messages"
[ -z "$(local_file INBOX "local new")" ] || fail "expunged message still local"
[ -n "$(local_file INBOX "late 1")" ] || fail "new delivery did not come down"
case "$(local_file INBOX "oi 3")" in *:2,*R*) ;; *) fail "\\Answered did not come down: $(local_file INBOX "oi 3")" ;; esac
case "$(local_file INBOX "oi 1")" in *:2,FS) ;; *) fail "oi 1 lost its flags: $(local_file INBOX "oi 1")" ;; esac

# 4. a further sync is a no-op on both sides.
before=$(python3 -c 'from imapt import stored; print(sorted((u, tuple(f)) for u, f, _ in stored()))')
sync fourth
after=$(python3 -c 'from imapt import stored; print(sorted((u, tuple(f)) for u, f, _ in stored()))')
[ "$before" = "$after" ] || fail "idle sync changed the server: $before -> $after"
[ "$(local_count INBOX)" = 3 ] || fail "idle sync changed the Maildir"

# 5. offlineimap as a daemon with idlefolders: it waits in IDLE on INBOX
#    (connection held open); a delivery over SMTP reaches the Maildir within
#    seconds, long before the next autorefresh.
sed -i 's/^maxconnections = 1$/maxconnections = 1\nidlefolders = ['"'INBOX'"']\nholdconnectionopen = yes\nkeepalive = 60/; s/^remoterepository = remote$/remoterepository = remote\nautorefresh = 5/' "$T/oirc"
idles=$(grep -c ' cmd IDLE' "$D/serve.log" || true)
offlineimap -c "$T/oirc" -u basic >"$T/oi.idle.log" 2>&1 &
OI_PID=$!
for i in $(seq 150); do [ "$(grep -c ' cmd IDLE' "$D/serve.log")" -gt "$idles" ] && break; sleep 0.1; done
[ "$(grep -c ' cmd IDLE' "$D/serve.log")" -gt "$idles" ] || { cat "$T/oi.idle.log"; fail "offlineimap never sent IDLE"; }
python3 - <<'PY' || fail "delivery during IDLE"
from imapt import deliver, messages
deliver(messages("idle")[:1])
PY
for i in $(seq 100); do [ -n "$(local_file INBOX "idle 1")" ] && break; sleep 0.1; done
[ -n "$(local_file INBOX "idle 1")" ] || { cat "$T/oi.idle.log"; fail "IDLE: the delivery did not reach the Maildir"; }
# offlineimap takes ~10 s to honour SIGTERM; a killed client is also a
# case brev must tidy up after (brev_stop below must still be clean).
kill -KILL $OI_PID 2>/dev/null || true
wait $OI_PID 2>/dev/null || true

brev_stop
! grep -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$D/serve.log" || fail "sanitizer report in the log"
echo ok
