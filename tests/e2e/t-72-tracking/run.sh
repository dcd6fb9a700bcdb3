#!/bin/bash
# Tracking (issue 23): one id follows a message from acceptance to final
# delivery or bounce, and `brev log` tells the story from the delivery
# journal in the store. alice.test (brev, 127.0.0.2) submits three messages
# over submission: one to bob@bob.test while bob's brev is not up yet
# (deferred; `brev queue` shows it with id, sender, recipients, subject;
# delivered over TLS after bob starts and a flush), one to a scripted
# receiver that answers 550 (bounced; the DSN names the original's id),
# one to a local account (stored, with its folder). Then `brev log` by
# address, by Message-ID and by id; nothing matching exits 1; IMAP/POP3
# session lines show TLS; with log.keep = 2s the journal is pruned in the
# background; log.file takes the log lines and SIGHUP reopens it.
. ../lib.sh
. ../queue/lib.sh
nsd_start
mkdir -p "$T/sink4"
sink_start 127.0.0.4 "$T/sink4"

mta_init alice alice.test 127.0.0.2
DA=$D; PA_SUB=$P_SUB; PA_IMAPS=$P_IMAPS; PA_POP3=$P_POP3
brev_user alice@alice.test alice-pw
brev_user carol@alice.test carol-pw
mta_start
PID_A=$BREV_PID
export DA PA_SUB PA_IMAPS PA_POP3

# submit SUBJECT RCPT: prints the id of "250 ... queued as ID"
submit() {
	python3 - "$@" <<'PY'
import os, smtplib, ssl, sys
subj, rcpt = sys.argv[1:]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", int(os.environ["PA_SUB"]), timeout=20)
s.starttls(context=ctx)
s.login("alice@alice.test", "alice-pw")
s.mail("alice@alice.test")
assert s.rcpt(rcpt)[0] == 250
code, msg = s.data(("From: alice@alice.test\r\nTo: %s\r\nSubject: %s\r\n"
                    "Message-ID: <%s@alice.test>\r\n\r\nhello\r\n" % (rcpt, subj, subj)).encode())
assert code == 250, (code, msg)
s.quit()
print(msg.decode().split()[-1])
PY
}
ID_BOB=$(submit to-bob bob@bob.test) || fail "submission to bob"
ID_REJ=$(submit to-reject reject1@sink.test) || fail "submission to the rejecting sink"
ID_LOC=$(submit to-carol carol@alice.test) || fail "local submission"
note "ids: bob $ID_BOB, reject $ID_REJ, local $ID_LOC"

# bob's brev is not running: the first attempt is deferred, the entry
# waits in the queue under the same id, with sender, recipient, subject
until_true 20 grep -q "queue id=$ID_BOB .*result=deferred" "$DA/serve.log" ||
	fail "no deferred attempt logged under id $ID_BOB"
"$BREV" -d "$DA" queue list >"$T/queue.txt" || fail "queue list"
cat "$T/queue.txt"
grep -q "^$ID_BOB .* <alice@alice.test> bob@bob.test$" "$T/queue.txt" || fail "queue: id, sender, recipient"
grep -q "^    subject: to-bob$" "$T/queue.txt" || fail "queue: subject"

# `brev queue del` takes the id, and the journal records the deletion
ID_DEL=$(submit to-delete bob@bob.test) || fail "submission to delete"
"$BREV" -d "$DA" queue del "$ID_DEL" | grep -q "^deleted $ID_DEL" || fail "queue del by id"
"$BREV" -d "$DA" queue del "$ID_DEL" 2>/dev/null && fail "queue del of a deleted entry succeeded"
"$BREV" -d "$DA" log "$ID_DEL" >"$T/log.del" || fail "brev log of the deleted message"
grep -q " $ID_DEL deleted   queue=[0-9a-f]* to=<bob@bob.test> by=\"brev queue del\"" "$T/log.del" ||
	{ cat "$T/log.del"; fail "no deleted event"; }

mta_init bob bob.test 127.0.0.3
brev_user bob@bob.test bob-pass
mta_start
D=$DA
"$BREV" -d "$DA" queue flush >/dev/null || fail "queue flush"
until_true 20 sh -c "[ \"\$('$BREV' -d '$DA' queue list | tail -1)\" = '0 messages queued' ]" ||
	{ "$BREV" -d "$DA" queue list; fail "alice's queue did not drain"; }

# every delivery line of the SMTP client carries the acceptance id
grep -q "smtp id=$ID_BOB from=<alice@alice.test>" "$DA/serve.log" || fail "acceptance log line"
grep -q "queue id=$ID_BOB .*rcpt=bob@bob.test mx=mx.bob.test addr=127.0.0.3 tls=TLSv1.[23]/unverified .*result=delivered" \
	"$DA/serve.log" || fail "delivery log line without the id"

# 1. by address: acceptance -> queued -> deferred -> delivered, in order, local time ISO 8601
TZ=UTC-2 "$BREV" -d "$DA" log bob@bob.test >"$T/log.bob" || fail "brev log bob@bob.test"
cat "$T/log.bob"
grep -qv "^[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]+02:00 [0-9A-Z]\{16\} " "$T/log.bob" &&
	fail "lines not in local time ISO 8601 with the id"
# both messages to bob: the delivered one and the deleted one
[ "$(awk '{print $2}' "$T/log.bob" | sort -u | tr '\n' ' ')" = "$(printf '%s\n' "$ID_BOB" "$ID_DEL" | sort | tr '\n' ' ')" ] ||
	fail "brev log bob@bob.test: not exactly the two messages to bob"
grep " $ID_BOB " "$T/log.bob" | awk '{print $3}' | uniq | tr '\n' ' ' >"$T/events.bob"
grep -q "^accepted queued deferred .*delivered $" "$T/events.bob" || fail "bob's story: $(cat "$T/events.bob")"
grep -q "accepted  from=<alice@alice.test> size=[0-9]* msgid=<to-bob@alice.test> rcpts=1 client=127.0.0.1 proto=ESMTPSA user=alice@alice.test" \
	"$T/log.bob" || fail "acceptance details"
grep -q "delivered to=<bob@bob.test> mx=mx.bob.test addr=127.0.0.3 tls=TLSv1.[23]/unverified reply=\"250 " \
	"$T/log.bob" || fail "delivery attempt details"

# 2. by Message-ID: the bounce, and the DSN that went back to alice
"$BREV" -d "$DA" log '<to-reject@alice.test>' >"$T/log.rej" || fail "brev log <message-id>"
cat "$T/log.rej"
grep -q " $ID_REJ bounced   to=<reject1@sink.test> mx=mx.sink.test addr=127.0.0.4 tls=no reply=\"550 5.1.1" \
	"$T/log.rej" || fail "bounced attempt"
grep -q " accepted  from=<> to=<alice@alice.test> proto=dsn bounce-of=$ID_REJ" "$T/log.rej" ||
	fail "the DSN's acceptance, linked to the original"
grep -q " stored    to=<alice@alice.test> folder=INBOX" "$T/log.rej" || fail "the DSN stored for alice"
"$BREV" -d "$DA" log to-reject@alice.test | cmp -s - "$T/log.rej" || fail "Message-ID without brackets"
# the bounce itself names the id
python3 - <<'PY' >"$T/dsn.eml" || fail "no DSN in alice's INBOX"
import imaplib, os, ssl, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
for _ in range(100):
    m = imaplib.IMAP4_SSL("127.0.0.1", int(os.environ["PA_IMAPS"]), ssl_context=ctx)
    m.login("alice@alice.test", "alice-pw"); m.select("INBOX")
    d = m.search(None, "SUBJECT", "Undelivered")[1][0]
    if d:
        print(m.fetch(d.split()[0], "(RFC822)")[1][0][1].decode())
        raise SystemExit(0)
    m.logout(); time.sleep(0.1)
raise SystemExit(1)
PY
grep -q "^X-Brev-Original-Id: $ID_REJ" "$T/dsn.eml" || fail "DSN header lacks the original id"
grep -q "The message's id at mx.alice.test is $ID_REJ" "$T/dsn.eml" || fail "DSN text lacks the original id"

# 3. by id: local delivery with its folder
"$BREV" -d "$DA" log "$ID_LOC" >"$T/log.loc" || fail "brev log ID"
cat "$T/log.loc"
grep -q " $ID_LOC accepted  from=<alice@alice.test> .*msgid=<to-carol@alice.test>" "$T/log.loc" || fail "local acceptance"
grep -q " $ID_LOC stored    to=<carol@alice.test> folder=INBOX" "$T/log.loc" || fail "local delivery"
[ "$(grep -vc " $ID_LOC " "$T/log.loc")" = 0 ] || fail "another message's events in brev log ID"
# alice's address matches all three (sender) and the DSN (recipient)
"$BREV" -d "$DA" log alice@alice.test >"$T/log.alice" || fail "brev log alice"
for id in "$ID_BOB" "$ID_REJ" "$ID_LOC"; do
	grep -q " $id accepted" "$T/log.alice" || fail "brev log alice@alice.test lacks $id"
done
# --since in the future: nothing
"$BREV" -d "$DA" log --since 2999-01-01 alice@alice.test 2>"$T/err" && fail "--since in the future matched"
"$BREV" -d "$DA" log nobody@nowhere.test >"$T/out" 2>"$T/err" && fail "no match should exit 1"
grep -q "nothing in the journal matches 'nobody@nowhere.test'" "$T/err" || fail "no clear line: $(cat "$T/err")"
[ -s "$T/out" ] && fail "output on no match"

# IMAP and POP3 session lines say whether TLS was used (the DSN was read
# over IMAPS above; carol reads over plaintext POP3 from loopback)
python3 - <<'PY' || fail "POP3 login"
import os, poplib
p = poplib.POP3("127.0.0.1", int(os.environ["PA_POP3"]), timeout=20)
p.user("carol@alice.test"); p.pass_("carol-pw"); p.quit()
PY
until_true 10 grep -q "imap session end id=[0-9]* peer=127.0.0.1 tls=TLSv1.[23] user=alice@alice.test" "$DA/serve.log" ||
	fail "IMAP session line without TLS"
until_true 10 grep -q "pop3 session end peer=127.0.0.1 tls=no user=carol@alice.test" "$DA/serve.log" ||
	fail "POP3 session line without TLS"

# retention: with log.keep = 2s the pruning thread empties the journal
kill -TERM "$PID_A"; wait "$PID_A" || fail "alice's brev did not stop cleanly"
"$BREV" -d "$DA" -o log.keep=2s -o log.file=brev.log serve >>"$DA/serve.log" 2>&1 &
PID_A=$!
# log.file: the lines go there, and SIGHUP lets a rotated file go
until_true 10 grep -q " info ready" "$DA/brev.log" 2>/dev/null || fail "log.file: no lines in it"
grep -q " info ready" "$DA/serve.log" && [ "$(grep -c " info ready" "$DA/serve.log")" != 1 ] &&
	fail "log.file: the lines still went to stderr"
mv "$DA/brev.log" "$DA/brev.log.1"
kill -HUP "$PID_A"
until_true 10 grep -q "SIGHUP: log file" "$DA/brev.log" 2>/dev/null || fail "log.file not reopened on SIGHUP"
grep -q "SIGHUP" "$DA/brev.log.1" && fail "log.file: the rotated file still written"
until_true 20 sh -c "! '$BREV' -d '$DA' log '$ID_LOC' >/dev/null 2>&1" || fail "log.keep=2s: events not pruned"
until_true 20 sh -c "! '$BREV' -d '$DA' log >/dev/null 2>&1" || fail "journal not empty after pruning"
"$BREV" -d "$DA" log 2>"$T/err" && fail "journal not empty after pruning"
grep -q "the journal has no events" "$T/err" || fail "empty journal line: $(cat "$T/err")"
kill -TERM "$PID_A"; wait "$PID_A" || fail "alice's brev did not stop cleanly (2)"
brev_stop
note ok
