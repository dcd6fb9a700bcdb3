#!/bin/bash
# fetchmail over IMAPS (implicit TLS, certificate checked against the test
# certificate for "localhost") against brev. Mail is delivered over SMTP; the
# bytes fetchmail hands its MDA must be the stored message (CRLF -> LF). Keep
# mode (messages stay, now \Seen; a second run finds nothing new: exit 1),
# IDLE (an EXPUNGE elsewhere must not wake it, a delivery must), delete mode
# with LOGIN (only unseen), then fetchall, empty mailbox (exit 1), wrong
# password (exit 3), STARTTLS with two folders and a size limit. fetchmail's
# IMAP: CAPABILITY, AUTHENTICATE CRAM-MD5 or LOGIN, SELECT, SEARCH UNSEEN
# UNDELETED, FETCH n:m RFC822.SIZE, FETCH n RFC822.HEADER / BODY.PEEK[TEXT],
# STORE +FLAGS (\Seen) / (\Deleted), EXPUNGE, IDLE/DONE.
. ../lib.sh
command -v fetchmail >/dev/null || fail "fetchmail is not installed"
brev_init imapfm
brev_user alice@example.test pw-alice
brev_start
export PYTHONPATH=$ROOT/tests/e2e/t-45-imap-fetchmail
python3 - <<'PY' || fail "delivery"
from imapt import deliver, messages, wait_count
deliver(messages("fm"))
wait_count(3)
PY

# As root fetchmail locks /var/run/fetchmail.pid whatever FETCHMAILHOME says:
# --pidfile keeps parallel test runs apart.
export FETCHMAILHOME=$T/fmhome
mkdir -p "$FETCHMAILHOME" "$T/got"
chmod 700 "$FETCHMAILHOME"
# The MDA stores each message in its own file, numbered in arrival order.
cat >"$T/mda.sh" <<'SH'
#!/bin/sh
n=$(ls "$1" | wc -l)
exec cat >"$1/$(printf %03d $((n + 1)))"
SH
chmod 755 "$T/mda.sh"

fetchmail_rc() { # NAME OPTIONS... -> path of an rc file (mode 600)
	local rc=$T/$1.rc
	shift
	printf 'set no bouncemail\nset invisible\npoll localhost %s\n' "$*" >"$rc"
	chmod 600 "$rc"
	echo "$rc"
}
run_fetchmail() { # RC -> exit status; output in $T/fm.out
	local rc=0
	timeout 20 fetchmail --nosyslog --pidfile "$T/fetchmail.pid" -v -f "$1" >"$T/fm.out" 2>&1 || rc=$?
	echo $rc
}
got() { ls "$T/got" | wc -l; }
server_count() { python3 -c 'from imapt import stored; print(len(stored()))'; }

# set invisible: no Received header of fetchmail's own; no rewrite: addresses
# left alone. Both so that the MDA sees the stored bytes.
COMMON="protocol imap user \"alice@example.test\" password \"pw-alice\" ssl sslproto 'TLS1.2+' sslcertck sslcertfile \"$D/cert.pem\" no rewrite mda \"$T/mda.sh $T/got\""

# Snapshot of the server's copies before fetchmail marks anything.
python3 - <<PY || fail "snapshot"
from imapt import stored
for uid, flags, raw in stored():
    open("$T/stored.%d" % uid, "wb").write(raw)
PY

# 1. keep: all three arrive, stay on the server, now \Seen.
RC=$(fetchmail_rc keep "service $P_IMAPS $COMMON keep")
st=$(run_fetchmail "$RC")
[ "$st" = 0 ] || { cat "$T/fm.out"; fail "fetchmail keep exited $st"; }
[ "$(got)" = 3 ] || { cat "$T/fm.out"; fail "keep: the MDA got $(got) messages"; }
python3 - <<PY || { cat "$T/fm.out"; fail "fetched messages differ from the stored ones"; }
import glob
from imapt import check, stored
want = sorted(open(f, "rb").read().replace(b"\r\n", b"\n") for f in glob.glob("$T/stored.*"))
got = sorted(open(f, "rb").read() for f in glob.glob("$T/got/*"))
check(len(want) == 3 and len(got) == 3, "counts %d %d" % (len(want), len(got)))
for w, g in zip(want, got):
    check(w == g, "bytes differ:\n--- stored\n%r\n--- fetched\n%r" % (w[:600], g[:600]))
left = stored()
check(len(left) == 3, "keep mode removed messages: %d left" % len(left))
check(all("\\\\Seen" in f for _, f, _ in left), "not all \\\\Seen after keep: %r" % [f for _, f, _ in left])
PY

# 2. keep again: nothing unseen, exit 1, nothing delivered.
st=$(run_fetchmail "$RC")
[ "$st" = 1 ] || { cat "$T/fm.out"; fail "second keep run exited $st (want 1: no mail)"; }
[ "$(got)" = 3 ] || fail "second keep run delivered again"

# 3. IDLE: fetchmail (keep, idle) waits in IDLE after its poll. Another
#    session expunging a message must not wake it (brev once sent EXISTS after
#    EXPUNGE, which fetchmail takes for new mail: DONE and a new poll); a
#    delivery over SMTP must wake it and reach the MDA within seconds.
python3 - <<'PY' || fail "append a seen message"
from imapt import check, connect
m = connect()
check(m.append("INBOX", "(\\Seen)", None, b"Subject: gone soon\r\n\r\nx\r\n")[0] == "OK", "append")
m.logout()
PY
RC=$(fetchmail_rc idle "service $P_IMAPS $COMMON keep idle")
fetchmail --nosyslog --pidfile "$T/fetchmail.pid" -v -f "$RC" >"$T/fm-idle.out" 2>&1 &
FM_PID=$!
for i in $(seq 100); do grep -q 'IMAP> A[0-9]* IDLE' "$T/fm-idle.out" && break; sleep 0.1; done
grep -q 'IMAP> A[0-9]* IDLE' "$T/fm-idle.out" || { cat "$T/fm-idle.out"; fail "fetchmail did not enter IDLE"; }
python3 - <<'PY' || fail "expunge during IDLE"
from imapt import check, connect
m = connect()
m.select("INBOX")
typ, data = m.search(None, "SUBJECT", '"gone soon"')
check(typ == "OK" and len(data[0].split()) == 1, "search %r" % data)
m.store(data[0], "+FLAGS", "\\Deleted")
check(m.expunge()[0] == "OK", "expunge")
m.logout()
PY
for i in $(seq 50); do grep -q 'IMAP< \* [0-9]* EXPUNGE' "$T/fm-idle.out" && break; sleep 0.1; done
grep -q 'IMAP< \* [0-9]* EXPUNGE' "$T/fm-idle.out" || { cat "$T/fm-idle.out"; fail "fetchmail in IDLE did not see the EXPUNGE"; }
sleep 0.5
! grep -q 'IMAP> DONE' "$T/fm-idle.out" || { cat "$T/fm-idle.out"; fail "an EXPUNGE woke fetchmail out of IDLE"; }
python3 - <<'PY' || fail "delivery during IDLE"
from imapt import deliver, messages
deliver(messages("idle")[:1])
PY
for i in $(seq 100); do [ "$(got)" = 4 ] && break; sleep 0.1; done
[ "$(got)" = 4 ] || { cat "$T/fm-idle.out"; fail "IDLE: the delivery did not reach the MDA (have $(got))"; }
grep -q '^Subject: idle 1' "$T/got/004" || fail "IDLE fetched the wrong message"
kill -TERM $FM_PID 2>/dev/null || true
wait $FM_PID 2>/dev/null || true

# 4. delete without fetchall, LOGIN instead of SASL: only the one new
#    (unseen) message goes.
python3 - <<'PY' || fail "delivery 2"
from imapt import deliver, messages, wait_count
deliver(messages("fresh")[:1])
wait_count(5)
PY
RC=$(fetchmail_rc del "service $P_IMAPS auth password $COMMON nokeep")
st=$(run_fetchmail "$RC")
[ "$st" = 0 ] || { cat "$T/fm.out"; fail "fetchmail delete exited $st"; }
grep -q 'IMAP> A0001 LOGIN' "$T/fm.out" || { cat "$T/fm.out"; fail "auth password did not LOGIN"; }
[ "$(got)" = 5 ] || { cat "$T/fm.out"; fail "delete: the MDA has $(got) messages"; }
grep -q '^Subject: fresh 1' "$T/got/005" || fail "delete run fetched the wrong message"
[ "$(server_count)" = 4 ] || fail "delete run: $(server_count) left on the server (want 4)"

# 5. delete with fetchall: the four seen ones go too; the mailbox is empty.
RC=$(fetchmail_rc delall "service $P_IMAPS $COMMON nokeep fetchall")
st=$(run_fetchmail "$RC")
[ "$st" = 0 ] || { cat "$T/fm.out"; fail "fetchmail delete+fetchall exited $st"; }
[ "$(got)" = 9 ] || { cat "$T/fm.out"; fail "fetchall: the MDA has $(got) messages"; }
[ "$(server_count)" = 0 ] || fail "fetchall delete left $(server_count) messages"

# 6. empty mailbox: exit 1.
st=$(run_fetchmail "$RC")
[ "$st" = 1 ] || { cat "$T/fm.out"; fail "fetchmail on an empty mailbox exited $st"; }

# 7. wrong password: exit 3 (authentication failed).
RC=$(fetchmail_rc bad "service $P_IMAPS protocol imap user \"alice@example.test\" password \"wrong\" ssl sslcertck sslcertfile \"$D/cert.pem\" mda \"$T/mda.sh $T/got\"")
st=$(run_fetchmail "$RC")
[ "$st" = 3 ] || { cat "$T/fm.out"; fail "fetchmail with a wrong password exited $st"; }

# 8. STARTTLS on the plain port (sslproto without ssl: TLS required in-band),
#    two folders, a size limit: the big message is skipped and stays unseen.
python3 - <<'PY' || fail "delivery 3"
from imapt import check, connect, deliver, messages, wait_count
deliver(messages("tls"))
wait_count(3)
m = connect()
check(m.append("Archive", None, None, b"Subject: tls archived\r\n\r\nx\r\n")[0] == "OK", "append")
m.logout()
PY
RC=$(fetchmail_rc stls "service $P_IMAP protocol imap user \"alice@example.test\" password \"pw-alice\" sslproto 'TLS1.2+' sslcertck sslcertfile \"$D/cert.pem\" no rewrite mda \"$T/mda.sh $T/got\" folder INBOX,Archive limit 5000 keep")
st=$(run_fetchmail "$RC")
[ "$st" = 0 ] || { cat "$T/fm.out"; fail "fetchmail STARTTLS exited $st"; }
grep -q 'IMAP> A0001 STARTTLS' "$T/fm.out" || { cat "$T/fm.out"; fail "fetchmail did not use STARTTLS"; }
[ "$(got)" = 12 ] || { cat "$T/fm.out"; fail "STARTTLS run: the MDA has $(got) messages (want 12)"; }
grep -q '^Subject: tls archived' "$T/got/012" || fail "the Archive message was not fetched last"
grep -q 'oversized' "$T/fm.out" || { cat "$T/fm.out"; fail "no oversized message skipped"; }
python3 - <<'PY' || fail "server state after the STARTTLS run"
from imapt import check, stored
flags = {raw.split(b"Subject: ")[1].split(b"\r\n")[0]: f for _, f, raw in stored()}
check(flags == {b"tls 1": ["\\Seen"], b"tls 2": ["\\Seen"], b"tls 3": []}, "flags %r" % flags)
PY

brev_stop
! grep -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$D/serve.log" || fail "sanitizer report in the log"
echo ok
