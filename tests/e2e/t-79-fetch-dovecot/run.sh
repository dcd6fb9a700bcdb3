#!/bin/bash
# brev fetch (issue 17) from a private Dovecot over IMAPS, IMAP+STARTTLS and
# POP3S: the certificate is checked (refused until its fingerprint is
# given), every folder is copied with flags, keywords, dates and bytes as
# Dovecot serves them, a second run copies only what is new, a run killed
# with -9 in the middle and run again stores each message exactly once,
# POP3 with --delete empties the maildrop and dates messages by their
# Received: field, and a source with --every is fetched by brev serve on
# its own.
. ../lib.sh
command -v dovecot >/dev/null || fail "dovecot not installed (apt-get install dovecot-imapd dovecot-pop3d)"
[ -x /usr/lib/dovecot/pop3-login ] || fail "dovecot-pop3d not installed"
[ "$(id -u)" = 0 ] || skip "a private Dovecot needs root here (mail_uid nobody)"
HERE=$(cd "$(dirname "$0")" && pwd)
CMP="$HERE/../t-73-import-export/imapcmp.py"
PW=pw-fetch-1
brev_init fetch
for a in alice bob carol dave erin frank; do brev_user "$a@example.test" "$PW"; done
brev_start

DC=$T/dc
read -r -d "" DC_IMAP DC_IMAPS DC_POP3S <<<"$(free_ports 3)" || true
chmod 711 "$T"
mkdir -p "$DC/run" "$DC/state" "$DC/mail"
chmod 755 "$DC"
chown 65534:65534 "$DC/mail"
for u in alice bob carol dave erin frank; do echo "$u@old.test:{PLAIN}$PW"; done >"$DC/passwd"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$DC/key.pem" -out "$DC/cert.pem" -days 2 \
	-subj "/CN=old.test" >/dev/null 2>&1 || fail "openssl req"
chmod 644 "$DC/key.pem"
FP=$(openssl x509 -in "$DC/cert.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
cat >"$DC/dovecot.conf" <<CONF
base_dir = $DC/run
state_dir = $DC/state
instance_name = brev-t79-dovecot
protocols = imap pop3
listen = 127.0.0.1
log_path = $DC/dovecot.log
ssl = yes
ssl_cert = <$DC/cert.pem
ssl_key = <$DC/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:$DC/mail/%u
mail_uid = 65534
mail_gid = 65534
first_valid_uid = 1
pop3_uidl_format = %g
namespace inbox {
  inbox = yes
  separator = .
  mailbox Old-Archive {
    special_use = \\Archive
  }
}
passdb {
  driver = passwd-file
  args = username_format=%u $DC/passwd
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$DC/mail/%u allow_all_users=yes
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DC_IMAP
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $DC_IMAPS
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $DC_POP3S
  }
}
CONF
dovecot -F -c "$DC/dovecot.conf" >>"$DC/dovecot.out" 2>&1 &
DC_PID=$!
at_exit "kill $DC_PID 2>/dev/null; wait $DC_PID 2>/dev/null"
wait_port "$DC_IMAP"
wait_port "$DC_POP3S"

# fill USER N [BOX] [FIRST]: N messages appended to Dovecot over IMAP.
fill() {
	python3 - "$DC_IMAP" "$PW" "$@" <<'PY' || fail "filling Dovecot: $(tail -5 "$DC/dovecot.log")"
import imaplib, sys
port, pw, user, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
box = sys.argv[5] if len(sys.argv) > 5 else "INBOX"
first = int(sys.argv[6]) if len(sys.argv) > 6 else 0
m = imaplib.IMAP4("127.0.0.1", port)
m.login(user, pw)
if box != "INBOX":
    m.create('"%s"' % box)
for i in range(first, first + n):
    msg = (f"Received: from mx.old.test by old.test; Tue, 3 Mar 2026 10:{i % 60:02d}:00 +0000\r\n"
           f"From: ann@old.test\r\nTo: {user}\r\nSubject: {box} {i}\r\n"
           f"Message-ID: <{user}.{box}.{i}@old.test>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0000\r\n\r\n"
           f"body {i}\r\n" + "x" * (i % 300) + "\r\n").encode()
    fl = [r"(\Seen)", r"(\Answered \Flagged $Important)", "(project)", "()"][i % 4]
    assert m.append('"%s"' % box, fl, imaplib.Time2Internaldate(1767000000 + 3600 * i), msg)[0] == "OK"
m.logout()
PY
}
fill alice@old.test 5
fill alice@old.test 2 Work
fill alice@old.test 1 "Sent Items"
fill alice@old.test 1 Work.Reports
fill alice@old.test 1 Old-Archive

# 1. A certificate nobody vouched for is refused, and nothing is stored.
printf '%s\n' "$PW" | "$BREV" -d "$D" fetch add alice@example.test "imaps://alice@old.test@127.0.0.1:$DC_IMAPS" \
	>"$T/add.out" 2>&1 || fail "fetch add: $(cat "$T/add.out")"
grep -q "^fetch 1: alice@example.test from imaps://alice@old.test@127.0.0.1:$DC_IMAPS" "$T/add.out" ||
	fail "fetch add said: $(cat "$T/add.out")"
[ "$(stat -c %a "$D/fetch/1.src")" = 600 ] || fail "the source file (with its password) is not mode 600"
out=$("$BREV" -d "$D" fetch run 2>&1) && fail "an untrusted certificate was accepted: $out"
grep -q "not trusted" <<<"$out" || fail "no clear certificate error: $out"
"$BREV" -d "$D" fetch del 1 >/dev/null || fail "fetch del"

# 2. With its fingerprint: every folder, as Dovecot serves it.
printf '%s\n' "$PW" | "$BREV" -d "$D" fetch add alice@example.test "imaps://alice@old.test@127.0.0.1:$DC_IMAPS" \
	--fingerprint "$FP" >/dev/null || fail "fetch add --fingerprint"
out=$("$BREV" -d "$D" fetch run 2>&1) || fail "fetch run: $out"
grep -q "fetch 1: 10 stored, 0 already there, 0 refused" <<<"$out" || fail "first run: $out"
python3 "$CMP" "$DC_IMAP" "$PW" dump alice@old.test "$T/dc.json"
python3 - "$T/dc.json" "$T/expect.json" <<'PY'
import json, sys
dc = json.load(open(sys.argv[1]))
names = {"INBOX": "INBOX", "Work": "Work", "Sent Items": "Sent", "Work.Reports": "Work/Reports",
         "Old-Archive": "Archive"}
json.dump({"a": {names[k]: v for k, v in dc.items()}}, open(sys.argv[2], "w"))
PY
python3 "$CMP" "$P_IMAP" "$PW" "$T/expect.json" a=alice@example.test ||
	fail "what brev fetched differs from what Dovecot serves"
python3 - "$P_IMAP" "$PW" <<'PY' || fail "Sent is not the \\Sent mailbox"
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.login("alice@example.test", sys.argv[2])
typ, l = m.list('""', "Sent")
assert any(b"\\Sent" in x for x in l), l
PY

# 3. Only what is new, and nothing twice.
fill alice@old.test 2 INBOX 5
out=$("$BREV" -d "$D" fetch run 2>&1) || fail "second run: $out"
grep -q "fetch 1: 2 stored" <<<"$out" || fail "second run: $out"
out=$("$BREV" -d "$D" fetch run 2>&1) || fail "third run: $out"
grep -q "fetch 1: 0 stored" <<<"$out" || fail "third run stored again: $out"
python3 "$CMP" "$DC_IMAP" "$PW" dump alice@old.test "$T/dc.json"
python3 - "$T/dc.json" "$T/expect.json" <<'PY'
import json, sys
dc = json.load(open(sys.argv[1]))
names = {"INBOX": "INBOX", "Work": "Work", "Sent Items": "Sent", "Work.Reports": "Work/Reports",
         "Old-Archive": "Archive"}
json.dump({"a": {names[k]: v for k, v in dc.items()}}, open(sys.argv[2], "w"))
PY
python3 "$CMP" "$P_IMAP" "$PW" "$T/expect.json" a=alice@example.test || fail "after the incremental run"

# 3b. A backup takes the source (with its password) but not its progress;
# restored, the next run stores nothing twice.
"$BREV" -d "$D" backup "$T/b.tar" >/dev/null 2>&1 || fail "backup"
tar tf "$T/b.tar" >"$T/b.list"
grep -qx "fetch/1.src" "$T/b.list" || fail "the fetch source is not in the backup: $(cat "$T/b.list")"
grep -q "fetch/1.state" "$T/b.list" && fail "the fetch progress is in the backup"
"$BREV" restore "$T/b.tar" "$T/restored" >/dev/null 2>&1 || fail "restore"
out=$("$BREV" -d "$T/restored" fetch run 1 2>&1) || fail "run in the restored DATADIR: $out"
grep -q "fetch 1: 0 stored, 12 already there" <<<"$out" || fail "restored run: $out"

# 4. Killed with -9 in the middle of 10,000 messages, then run again: each
# message exactly once (IMAP+STARTTLS this time). The messages are written
# into Dovecot's Maildir directly (APPENDing them one by one takes minutes).
python3 - "$DC/mail/bob@old.test" <<'PY' || fail "writing bob's Maildir"
import os, sys
d = sys.argv[1]
for sub in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(d, sub), exist_ok=True)
for i in range(10000):
    with open(os.path.join(d, "cur", "%d.M%dP1.old.test:2,S" % (1767000000 + i, i)), "wb") as f:
        f.write(b"From: ann@old.test\nTo: bob@old.test\nSubject: bulk %d\nMessage-ID: <bulk.%d@old.test>\n\nbody %d\n" % (i, i, i))
PY
chown -R 65534:65534 "$DC/mail/bob@old.test"
printf '%s\n' "$PW" | "$BREV" -d "$D" fetch add bob@example.test "imap://bob@old.test@127.0.0.1:$DC_IMAP" \
	--folders INBOX --fingerprint "$FP" >/dev/null || fail "fetch add bob"
"$BREV" -d "$D" fetch run 2 >"$T/kill.out" 2>&1 &
KP=$!
count() {
	python3 - "$P_IMAP" "$PW" "$1" <<'PY'
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.login(sys.argv[3], sys.argv[2])
print(int(m.select("INBOX", readonly=True)[1][0]))
PY
}
for _ in $(seq 1 200); do
	n=$(count bob@example.test)
	[ "$n" -ge 256 ] && break
	sleep 0.05
done
kill -9 $KP 2>/dev/null
wait $KP 2>/dev/null || true
n=$(count bob@example.test)
[ "$n" -gt 0 ] && [ "$n" -lt 10000 ] || fail "the kill did not land mid-fetch ($n stored)"
# (on a terminal, as script(1) gives it one: the progress line)
script -qec "\"$BREV\" -d \"$D\" fetch run 2" /dev/null >"$T/resume.out" 2>&1 || fail "resumed run: $(tail -3 "$T/resume.out")"
grep -aq 'fetch: INBOX [0-9]*/[0-9]* messages, [0-9.]* MB' "$T/resume.out" || fail "no progress line on a terminal: $(head -c 300 "$T/resume.out")"
grep -aq 'fetch 2: [0-9]* stored' "$T/resume.out" || fail "resumed run: $(tail -3 "$T/resume.out")"
python3 - "$P_IMAP" "$PW" <<'PY' || fail "after kill -9 and a second run, not each message exactly once"
import collections, imaplib, re, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.login("bob@example.test", sys.argv[2])
m.select("INBOX", readonly=True)
typ, d = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
ids = collections.Counter(re.search(rb"<([^>]+)>", x[1]).group(1) for x in d if isinstance(x, tuple))
assert len(ids) == 10000 and set(ids.values()) == {1}, (len(ids), [k for k, v in ids.items() if v != 1][:5])
PY
note "killed after $n of 10000; the second run completed it with each message once"

# 5. POP3S with --delete: the maildrop is emptied, dates from Received:.
fill carol@old.test 3
printf '%s\n' "$PW" | "$BREV" -d "$D" fetch add carol@example.test "pop3s://carol@old.test@127.0.0.1:$DC_POP3S" \
	--delete --fingerprint "$FP" >/dev/null || fail "fetch add carol"
out=$("$BREV" -d "$D" fetch run 3 2>&1) || fail "pop3 run: $out"
grep -q "fetch 3: 3 stored" <<<"$out" || fail "pop3 run: $out"
python3 - "$P_IMAP" "$PW" "$DC_IMAP" <<'PY' || fail "POP3 fetch"
import imaplib, sys, time, calendar
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.login("carol@example.test", sys.argv[2])
assert int(m.select("INBOX", readonly=True)[1][0]) == 3
typ, d = m.fetch("1:*", "(INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
got = sorted(int(calendar.timegm(time.gmtime(time.mktime(imaplib.Internaldate2tuple(x[0]))))) for x in d if isinstance(x, tuple))
want = sorted(calendar.timegm((2026, 3, 3, 10, i, 0)) for i in range(3))
assert got == want, (got, want)
o = imaplib.IMAP4("127.0.0.1", int(sys.argv[3])); o.login("carol@old.test", sys.argv[2])
assert int(o.select("INBOX", readonly=True)[1][0]) == 0, "the maildrop was not emptied"
PY
out=$("$BREV" -d "$D" fetch run 3 2>&1) || fail "pop3 second run: $out"
grep -q "fetch 3: 0 stored" <<<"$out" || fail "pop3 second run: $out"

# 5b. IMAP with --delete: stored, then expunged on the old server; a second
# run of the same source (taken by another run) is refused by the lock.
fill erin@old.test 2
printf '%s\n' "$PW" | "$BREV" -d "$D" fetch add erin@example.test "imaps://erin@old.test@127.0.0.1:$DC_IMAPS" \
	--folders INBOX --delete --fingerprint "$FP" >/dev/null || fail "fetch add erin"
flock "$D/fetch/4.lock" sleep 3 &
LP=$!
sleep 0.3
out=$("$BREV" -d "$D" fetch run 4 2>&1) && fail "a second run of a locked source went ahead: $out"
grep -q "already running" <<<"$out" || fail "no clear error for a locked source: $out"
wait $LP
out=$("$BREV" -d "$D" fetch run 4 2>&1) || fail "imap --delete run: $out"
grep -q "fetch 4: 2 stored" <<<"$out" || fail "imap --delete run: $out"
[ "$(count erin@example.test)" = 2 ] || fail "erin has $(count erin@example.test) messages"
python3 - "$DC_IMAP" "$PW" <<'PY' || fail "IMAP --delete left the messages on the old server"
import imaplib, sys
o = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); o.login("erin@old.test", sys.argv[2])
assert int(o.select("INBOX", readonly=True)[1][0]) == 0
PY
out=$(printf 'x\n' | "$BREV" -d "$D" fetch add erin@example.test "imaps://e@127.0.0.1:1" --every 10s 2>&1) &&
	fail "--every 10s was taken: $out"

# 6. A source with --every is run by brev serve itself, and its INBOX
# arrives as new mail: through the spam filter (GTUBE to Junk, never
# refused: the old server took it long ago) and the account's Sieve script.
fill dave@old.test 1
python3 - "$DC_IMAP" "$PW" <<'PY' || fail "filling dave's old INBOX"
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.login("dave@old.test", sys.argv[2])
gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
for subj, body in (("spammy", gtube), ("sieve-me", "for the Filed folder")):
    msg = (f"Return-Path: <ann@old.test>\r\nFrom: ann@old.test\r\nTo: dave@old.test\r\nSubject: {subj}\r\n"
           f"Message-ID: <{subj}@old.test>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0000\r\n\r\n{body}\r\n").encode()
    assert m.append("INBOX", "()", None, msg)[0] == "OK"
PY
cat >"$T/dave.sieve" <<'SIEVE'
require ["fileinto", "mailbox"];
if header :is "subject" "sieve-me" { fileinto :create "Filed"; }
SIEVE
"$BREV" -d "$D" sieve put dave@example.test filter "$T/dave.sieve" >/dev/null || fail "sieve put"
"$BREV" -d "$D" sieve activate dave@example.test filter >/dev/null || fail "sieve activate"
printf '%s\n' "$PW" | "$BREV" -d "$D" fetch add dave@example.test "imaps://dave@old.test@127.0.0.1:$DC_IMAPS" \
	--folders INBOX --every 1m --fingerprint "$FP" >/dev/null || fail "fetch add dave"
for _ in $(seq 1 150); do
	[ "$(count dave@example.test)" = 1 ] && break
	sleep 0.2
done
[ "$(count dave@example.test)" = 1 ] || fail "brev serve did not fetch the --every source: $(grep fetch "$D/serve.log" | tail -5)"
python3 - "$P_IMAP" "$PW" <<'PY' || fail "the continuous source's mail was not filtered: $(grep 'fetch id=' "$D/serve.log" | tail -5)"
import imaplib, sys, time
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.login("dave@example.test", sys.argv[2])
def subjects(box):
    typ, d = m.select(box, readonly=True)
    if typ != "OK" or int(d[0]) == 0:
        return []
    typ, d = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT X-SPAM-STATUS RECEIVED)])")
    return [x[1].decode() for x in d if isinstance(x, tuple)]
for _ in range(50):
    if subjects("Junk") and subjects("Filed"):
        break
    time.sleep(0.2)
inbox, junk, filed = subjects("INBOX"), subjects("Junk"), subjects("Filed")
assert len(inbox) == 1 and "INBOX 0" in inbox[0] and "X-Spam-Status: score=0.0" in inbox[0], inbox
assert "(brev fetch)" in inbox[0], inbox
assert len(junk) == 1 and "spammy" in junk[0] and "GTUBE" in junk[0], junk
assert len(filed) == 1 and "sieve-me" in filed[0], filed
PY
# the same for a POP3 source: its GTUBE message in Junk
python3 - "$DC_IMAP" "$PW" <<'PY' || fail "filling frank's old INBOX"
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.login("frank@old.test", sys.argv[2])
msg = (b"From: ann@old.test\r\nTo: frank@old.test\r\nSubject: spammy pop\r\n\r\n"
       b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n")
assert m.append("INBOX", "()", None, msg)[0] == "OK"
PY
printf '%s\n' "$PW" | "$BREV" -d "$D" fetch add frank@example.test "pop3s://frank@old.test@127.0.0.1:$DC_POP3S" \
	--every 1m --fingerprint "$FP" >/dev/null || fail "fetch add frank"
python3 - "$P_IMAP" "$PW" <<'PY' || fail "the POP3 continuous source's mail is not in Junk"
import imaplib, sys, time
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.login("frank@example.test", sys.argv[2])
for _ in range(100):
    if int(m.select("Junk", readonly=True)[1][0]) == 1:
        break
    time.sleep(0.2)
assert int(m.select("Junk", readonly=True)[1][0]) == 1 and int(m.select("INBOX", readonly=True)[1][0]) == 0
PY
"$BREV" -d "$D" fetch list | grep -q "^5  dave@example.test  imaps://dave@old.test@127.0.0.1:$DC_IMAPS  folders=INBOX  keep  every=60s" ||
	fail "fetch list: $("$BREV" -d "$D" fetch list)"

# 7. Hostile servers: a line without end; STARTTLS refused.
HP=$(free_port)
python3 - "$HP" >"$T/hostile.log" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
c, _ = s.accept(); c.close()  # wait_port's probe
c, _ = s.accept()
try:
    c.sendall(b"* OK " + b"x" * 200000 + b"\r\n")
except OSError:
    pass
c.close()
c, _ = s.accept()
c.sendall(b"* OK hello\r\n")
c.recv(1000)
c.sendall(b"f1 BAD no TLS here\r\n")
c.recv(1000)
c.close()
PY
HPID=$!
at_exit "kill $HPID 2>/dev/null"
wait_port "$HP"
out=$(printf 'x\n' | "$BREV" -d "$D" fetch add alice@example.test "imap://evil@127.0.0.1:$HP" --insecure 2>&1)
grep -q "certificate NOT checked" <<<"$out" || fail "--insecure not said loudly at add: $out"
out=$("$BREV" -d "$D" fetch run 7 2>&1) && fail "a hostile server's run succeeded: $out"
grep -q "sent a line over" <<<"$out" || fail "no clear error for an endless line: $out"
grep -q "NOT checked" <<<"$out" || fail "--insecure not said loudly at run: $out"
out=$("$BREV" -d "$D" fetch run 7 2>&1) && fail "a run without STARTTLS succeeded: $out"
grep -q "STARTTLS: BAD no TLS here" <<<"$out" || fail "no clear error for a refused STARTTLS: $out"
brev_stop
