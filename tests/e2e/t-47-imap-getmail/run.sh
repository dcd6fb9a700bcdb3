#!/bin/bash
# getmail6 (SimpleIMAPSSLRetriever: implicit TLS, certificate checked against
# the test certificate) against brev, delivering into a Maildir. Mail arrives
# over SMTP; what getmail writes must be the stored bytes (modulo CRLF and
# header folding). Keep mode (nothing removed, nothing marked \Seen: getmail
# reads with BODY.PEEK); a second keep run fetches nothing (it remembers
# UIDVALIDITY/UID); delete mode (retrieves the new message, deletes all,
# copying to Trash first); RFC822 (no use_peek) in an EXAMINEd mailbox sets no
# \Seen; read_all with delete (retrieves again what it has seen); two
# mailboxes, INBOX and Archive; getmail --idle woken by a delivery; a wrong
# password fails. getmail's IMAP: LOGIN, SELECT/EXAMINE, FETCH 1:n (UID
# RFC822.SIZE FLAGS), UID FETCH n (BODY.PEEK[]), UID STORE n +FLAGS
# (\Deleted), EXPUNGE, CLOSE, IDLE/DONE.
. ../lib.sh
command -v getmail >/dev/null || fail "getmail6 is not installed"
brev_init imapgm
brev_user alice@example.test pw-alice
brev_start
export PYTHONPATH=$ROOT/tests/e2e/t-45-imap-fetchmail
python3 - <<'PY' || fail "delivery"
from imapt import check, connect, deliver, messages, wait_count
deliver(messages("gm"))
wait_count(3)
m = connect()
check(m.append("Archive", None, None, b"Return-Path: <me@example.test>\r\nFrom: me@example.test\r\nSubject: gm archived\r\n\r\nkept\r\n")[0] == "OK", "append")
m.logout()
PY

# getmail refuses to deliver as root: the Maildir belongs to nobody.
GM=$T/getmail
MD=$T/Maildir
mkdir -p "$GM" "$MD/cur" "$MD/new" "$MD/tmp"
chmod 755 "$T"
[ "$(id -u)" = 0 ] && chown -R nobody "$MD"
getmail_rc() { # DELETE READ_ALL [RETRIEVER-LINE]
	cat >"$GM/getmailrc" <<RC
[retriever]
type = SimpleIMAPSSLRetriever
server = localhost
port = $P_IMAPS
username = alice@example.test
password = pw-alice
ca_certs = $D/cert.pem
mailboxes = ("INBOX", "Archive")
record_mailbox = false
${3:-}

[destination]
type = Maildir
path = $MD/
$([ "$(id -u)" = 0 ] && echo "user = nobody")

[options]
read_all = $2
delete = $1
delivered_to = false
received = false
verbose = 2
RC
}
run_getmail() { # WHAT
	timeout 20 getmail --getmaildir="$GM" --rcfile="$GM/getmailrc" >"$T/gm.$1.out" 2>&1 ||
		{ cat "$T/gm.$1.out"; fail "getmail $1 exited $?"; }
}
got() { find "$MD/new" "$MD/cur" -type f | wc -l; }
server() { python3 -c "from imapt import stored; print(len(stored('$1')))"; }

# 1. keep: all four arrive, byte for byte; the server is untouched.
getmail_rc false false
run_getmail keep
[ "$(got)" = 4 ] || { cat "$T/gm.keep.out"; fail "keep: $(got) messages in the Maildir"; }
python3 - <<PY || { cat "$T/gm.keep.out"; fail "retrieved messages differ from the stored ones"; }
import glob
from imapt import check, stored
srv = stored("INBOX") + stored("Archive")
import re
def norm(raw):
    # getmail (Python's email package) may refold long header fields:
    # compare the header unfolded, the body byte for byte.
    raw = raw.replace(b"\r\n", b"\n")
    head, sep, body = raw.partition(b"\n\n")
    return re.sub(rb"\s+", b" ", head) + sep + body
def key(raw):
    return re.search(rb"Subject: ([^\n]*)", raw).group(1)
want = {key(r): r for r in (norm(raw) for _, _, raw in srv)}
got = {key(r): r for r in (norm(open(f, "rb").read())
                           for f in glob.glob("$MD/new/*") + glob.glob("$MD/cur/*"))}
check(len(want) == 4 and sorted(want) == sorted(got), "subjects %r %r" % (sorted(want), sorted(got)))
for k in want:
    check(want[k] == got[k], "bytes differ:\n--- stored\n%r\n--- retrieved\n%r" % (want[k][:600], got[k][:600]))
check(all(f == [] for _, f, _ in srv), "keep mode changed flags: %r" % [f for _, f, _ in srv])
PY

# 2. keep again: getmail remembers what it has seen; nothing new.
run_getmail keep2
[ "$(got)" = 4 ] || { cat "$T/gm.keep2.out"; fail "second keep run: $(got) messages"; }

# 3. delete, not read_all: the new message is retrieved, and (getmail's
#    rule) the ones it retrieved before are deleted too.
python3 - <<'PY' || fail "delivery 2"
from imapt import deliver, messages, wait_count
deliver(messages("fresh")[:1])
wait_count(4)
PY
getmail_rc true false "move_on_delete = Trash"
run_getmail delete
[ "$(got)" = 5 ] || { cat "$T/gm.delete.out"; fail "delete: $(got) messages in the Maildir"; }
grep -q '^Subject: fresh 1' $(find "$MD/new" "$MD/cur" -type f) || fail "delete run missed the new message"
[ "$(grep -c 'not retrieved (seen), deleted' "$T/gm.delete.out")" = 4 ] || { cat "$T/gm.delete.out"; fail "delete run: old ones not deleted"; }
[ "$(server INBOX)" = 0 ] || { cat "$T/gm.delete.out"; fail "delete run: $(server INBOX) left in INBOX"; }
[ "$(server Archive)" = 0 ] || fail "delete run: $(server Archive) left in Archive"
# move_on_delete: UID COPY to Trash before the \Deleted flag.
[ "$(server Trash)" = 5 ] || { cat "$T/gm.delete.out"; fail "move_on_delete: $(server Trash) in Trash (want 5)"; }

# 4. two more messages, a keep run takes them; read_all with delete takes
#    them again and empties the mailbox.
python3 - <<'PY' || fail "delivery 3"
from imapt import deliver, messages, wait_count
deliver(messages("late")[:2])
wait_count(2)
PY
getmail_rc false false "use_peek = false"
run_getmail keep3
[ "$(got)" = 7 ] || { cat "$T/gm.keep3.out"; fail "keep3: $(got) messages in the Maildir"; }
# without use_peek getmail reads RFC822, but in keep mode it EXAMINEs: a
# read-only mailbox gets no implicit \Seen (RFC 9051 6.3.3).
grep -q ' cmd EXAMINE' "$D/serve.log" || fail "getmail did not EXAMINE in keep mode"
python3 - <<'PY' || fail "RFC822 in an EXAMINEd mailbox set flags"
from imapt import check, stored
check([f for _, f, _ in stored()] == [[], []], "flags %r" % [f for _, f, _ in stored()])
PY
getmail_rc true true
run_getmail delete-all
[ "$(got)" = 9 ] || { cat "$T/gm.delete-all.out"; fail "read_all: $(got) messages in the Maildir"; }
[ "$(server INBOX)" = 0 ] || fail "read_all delete left $(server INBOX) in INBOX"

# 5. getmail --idle: it stays connected in IDLE; a delivery over SMTP wakes
#    it, and the message is retrieved and deleted within seconds.
getmail_rc true false
idles=$(grep -c ' cmd IDLE' "$D/serve.log" || true)
getmail --getmaildir="$GM" --rcfile="$GM/getmailrc" --idle=INBOX >"$T/gm.idle.out" 2>&1 &
GM_PID=$!
for i in $(seq 100); do [ "$(grep -c ' cmd IDLE' "$D/serve.log")" -gt "$idles" ] && break; sleep 0.1; done
[ "$(grep -c ' cmd IDLE' "$D/serve.log")" -gt "$idles" ] || { cat "$T/gm.idle.out"; fail "getmail --idle never sent IDLE"; }
python3 - <<'PY' || fail "delivery during IDLE"
from imapt import deliver, messages
deliver(messages("idle")[:1])
PY
for i in $(seq 100); do [ "$(got)" = 10 ] && break; sleep 0.1; done
[ "$(got)" = 10 ] || { cat "$T/gm.idle.out"; fail "IDLE: $(got) messages in the Maildir (want 10)"; }
grep -q '^Subject: idle 1' $(find "$MD/new" "$MD/cur" -type f) || fail "IDLE retrieved the wrong message"
for i in $(seq 50); do [ "$(server INBOX)" = 0 ] && break; sleep 0.1; done
[ "$(server INBOX)" = 0 ] || fail "IDLE run did not delete"
kill -TERM $GM_PID 2>/dev/null || true
wait $GM_PID 2>/dev/null || true

# 6. a wrong password is an error, not a silent success.
sed -i 's/^password = .*/password = wrong/' "$GM/getmailrc"
rc=0
timeout 20 getmail --getmaildir="$GM" --rcfile="$GM/getmailrc" >"$T/gm.bad.out" 2>&1 || rc=$?
[ $rc -ne 0 ] || { cat "$T/gm.bad.out"; fail "getmail with a wrong password succeeded"; }
grep -qi 'login\|auth' "$T/gm.bad.out" || { cat "$T/gm.bad.out"; fail "wrong password: no login error"; }

brev_stop
! grep -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$D/serve.log" || fail "sanitizer report in the log"
echo ok
