#!/bin/bash
# Issue 14, viruses: a real clamd (Debian's clamav-daemon) started by the
# test, offline, with only a signature database the test writes (the EICAR
# test string as an .ndb body signature), scans every message brev takes
# over SMTP before the 250:
#  - EICAR in a plain body and in a base64 attachment, on port 25 and on
#    submission, with DATA (smtplib) and BDAT (a raw socket): 554 5.7.1
#    with the signature name, nothing stored, the verdict logged with the
#    message's id;
#  - clean mail, also a 3 MB one, delivered with "X-Virus-Scanned: clamd";
#  - a message over clamd's StreamMaxLength and a stopped clamd: 451 4.7.1
#    with virus.on_error = tempfail, nothing stored, and the same message
#    delivered when retried once clamd is back; with on_error = accept
#    delivered with "X-Virus-Scanned: no (REASON)";
#  - clamd over TCP (virus.clamd = 127.0.0.1:PORT);
#  - brev's X-Virus-Scanned comes before one the sender wrote.
. ../lib.sh
command -v clamd >/dev/null || skip "clamd missing (tools/deps.sh test installs clamav-daemon)"

CL=$T/clamd
mkdir -p "$CL/db"
chmod 755 "$T" "$CL"
CLAMD_PORT=$(free_port)
export CL CLAMD_PORT
EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
# Name:TargetType(0 = any):Offset(* = anywhere):hex of the string
printf 'Brev.Test.EICAR:0:*:%s\n' "$(printf '%s' "$EICAR" | od -An -tx1 | tr -d ' \n')" \
	>"$CL/db/brev.ndb"
cat >"$CL/clamd.conf" <<CONF
LocalSocket $CL/clamd.sock
LocalSocketMode 666
TCPSocket $CLAMD_PORT
TCPAddr 127.0.0.1
Foreground yes
DatabaseDirectory $CL/db
TemporaryDirectory $CL
LogFile $CL/clamd.log
PidFile $CL/clamd.pid
StreamMaxLength 4M
CONF

CLAMD_PID=
clamd_start() {
	clamd -c "$CL/clamd.conf" >>"$CL/out.log" 2>&1 &
	CLAMD_PID=$!
	# PING/PONG on the unix socket, then on TCP: it serves both.
	python3 - <<'PY' || { cat "$CL/out.log" "$CL/clamd.log" 2>/dev/null | tail -20; fail "clamd did not start"; }
import os, socket, time
def ping(fam, addr):
    s = socket.socket(fam, socket.SOCK_STREAM); s.settimeout(5)
    s.connect(addr); s.sendall(b"zPING\0")
    r = s.recv(100); s.close()
    return r == b"PONG\0"
for i in range(600):
    try:
        if ping(socket.AF_UNIX, os.environ["CL"] + "/clamd.sock") and \
           ping(socket.AF_INET, ("127.0.0.1", int(os.environ["CLAMD_PORT"]))):
            raise SystemExit(0)
    except OSError:
        pass
    time.sleep(0.1)
raise SystemExit(1)
PY
}
clamd_stop() {
	kill -TERM "$CLAMD_PID" 2>/dev/null || true
	wait "$CLAMD_PID" 2>/dev/null || true
	rm -f "$CL/clamd.sock"
	CLAMD_PID=
}
at_exit '[ -z "$CLAMD_PID" ] || kill -KILL "$CLAMD_PID" 2>/dev/null || true'
clamd_start

brev_init virus
brev_user alice@example.test alice-pw
export EICAR

# send.py MODE PORT WHAT [EXPECT]: one message (WHAT: eicar, eicar-b64,
# clean-N (N: a tag in its Subject), big-N (3 MB), huge-N (5 MB, over
# StreamMaxLength)) over MODE (mx / sub with AUTH / bdat on the MX);
# prints the final reply "CODE TEXT".
cat >"$T/send.py" <<'PY'
import base64, os, smtplib, socket, sys
mode, port, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
E = os.environ["EICAR"].encode()
subj = what
if what == "eicar":
    body = b"Hello,\r\n" + E + b"\r\n"
elif what == "eicar-b64":
    b64 = base64.encodebytes(E).replace(b"\n", b"\r\n")
    assert E not in b64
    body = (b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BB\r\n\r\n"
            b"--BB\r\nContent-Type: text/plain\r\n\r\nsee the attachment\r\n"
            b"--BB\r\nContent-Type: application/octet-stream; name=t.com\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + b64 + b"--BB--\r\n")
elif what.startswith("big") or what.startswith("huge"):
    n = (3 if what.startswith("big") else 5) << 20
    line = b"0123456789abcdefghijklmnopqrstuvwxyz" * 2 + b"\r\n"
    body = b"\r\n" + line * (n // len(line))
else:
    body = b"\r\nnothing to see here\r\n"
if not body.startswith(b"MIME") and not body.startswith(b"\r\n"):
    body = b"\r\n" + body
# a sender's own claim, below brev's header
fake = b"X-Virus-Scanned: clamd\r\n" if what.startswith("forged") else b""
msg = (fake + b"From: someone@remote.test\r\nTo: alice@example.test\r\nSubject: " + subj.encode() +
       b"\r\nMessage-ID: <" + subj.encode() + b"@remote.test>\r\n" + body)
if mode == "bdat":
    s = socket.create_connection(("127.0.0.1", port), timeout=180)
    f = s.makefile("rb")
    def rd():
        while True:
            l = f.readline().decode()
            if l[3:4] != "-":
                return l.strip()
    rd()
    s.sendall(b"EHLO client.test\r\n"); r = rd(); assert r.startswith("250"), r
    s.sendall(b"MAIL FROM:<someone@remote.test>\r\n"); r = rd(); assert r.startswith("250"), r
    s.sendall(b"RCPT TO:<alice@example.test>\r\n"); r = rd(); assert r.startswith("250"), r
    half = len(msg) // 2
    s.sendall(b"BDAT %d\r\n" % half + msg[:half]); r = rd(); assert r.startswith("250"), r
    s.sendall(b"BDAT %d LAST\r\n" % (len(msg) - half) + msg[half:]); r = rd()
    s.sendall(b"QUIT\r\n"); s.close()
    print(r)
    sys.exit(0)
s = smtplib.SMTP("127.0.0.1", port, timeout=180)
s.ehlo("client.test")
frm = "someone@remote.test"
if mode == "sub":
    s.login("alice@example.test", "alice-pw")
    frm = "alice@example.test"
    msg = msg.replace(b"From: someone@remote.test", b"From: alice@example.test")
s.mail(frm)
code, text = s.rcpt("alice@example.test")
assert code == 250, (code, text)
if mode == "sub" and what == "eicar":
    # a remote recipient too: a refused message is not queued either
    code, text = s.rcpt("far@remote.test")
    assert code == 250, (code, text)
try:
    code, text = s.data(msg)
except smtplib.SMTPDataError as e:
    code, text = e.smtp_code, e.smtp_error
print(code, text.decode())
s.quit()
PY
# expect MODE PORT WHAT CODE [TEXT]: send and check the reply.
expect() {
	local out
	out=$(python3 "$T/send.py" "$1" "$2" "$3") || fail "send $1 $3"
	note "$1 $3: $out"
	[[ $out == "$4"* ]] || fail "$1 $3: expected $4, got: $out"
	[ -z "${5:-}" ] || [[ $out == *"$5"* ]] || fail "$1 $3: expected '$5' in: $out"
}
# inbox: "SUBJECT|X-Virus-Scanned value" for each message in alice's INBOX.
inbox() {
	python3 - <<'PY'
import email, imaplib, os
m = imaplib.IMAP4("127.0.0.1", int(os.environ["P_IMAP"]))
m.login("alice@example.test", "alice-pw")
m.select("INBOX", readonly=True)
typ, data = m.search(None, "ALL")
for n in data[0].split():
    typ, d = m.fetch(n, "(RFC822)")
    raw = d[0][1]
    assert os.environ["EICAR"].encode() not in raw, "EICAR stored"
    msg = email.message_from_bytes(raw)
    print("%s|%s" % (msg["Subject"], msg.get_all("X-Virus-Scanned")))
m.logout()
PY
}
SIG="554 5.7.1 message refused: virus found (Brev.Test.EICAR.UNOFFICIAL)"

# --- unix socket, on_error = tempfail (the default) ---
brev_start -o "virus.clamd=unix:$CL/clamd.sock"
expect mx "$P_SMTP" eicar "$SIG"
expect mx "$P_SMTP" eicar-b64 "$SIG"
expect sub "$P_SUB" eicar "$SIG"
expect bdat "$P_SMTP" eicar "$SIG"
expect mx "$P_SMTP" clean-1 250
expect sub "$P_SUB" clean-2 250
expect bdat "$P_SMTP" clean-3 250
expect mx "$P_SMTP" big-1 250
expect mx "$P_SMTP" huge-1 "451 4.7.1" "INSTREAM size limit exceeded"
grep -Eq "virus id=[0-9A-Z]{16} found=Brev.Test.EICAR.UNOFFICIAL refused" "$D/serve.log" ||
	fail "no log line for the virus"
[ "$(grep -c 'virus id=.* found=Brev.Test.EICAR.UNOFFICIAL refused' "$D/serve.log")" = 4 ] ||
	fail "expected four refusals in the log"
grep -Eq "virus id=[0-9A-Z]{16} clean " "$D/serve.log" || fail "no log line for a clean message"
out=$(inbox) || fail "inbox"
note "$out"
[ "$(sort <<<"$out")" = "$(printf '%s\n' "big-1|['clamd']" "clean-1|['clamd']" "clean-2|['clamd']" "clean-3|['clamd']")" ] ||
	fail "INBOX should hold exactly the four clean messages, each with X-Virus-Scanned: clamd"
"$BREV" -d "$D" log >"$T/journal" || fail "brev log"
grep -q "clean-1@remote.test" "$T/journal" || fail "brev log does not show the Message-ID: $(cat "$T/journal")"
! grep -qi "eicar" "$T/journal" || fail "a refused message is in the delivery journal: $(cat "$T/journal")"
q=$("$BREV" -d "$D" queue list) || fail "queue list"
! grep -q "remote.test" <<<"$q" || fail "a refused message was queued: $q"

# clamd stops: the sender is told to retry, and nothing is stored
clamd_stop
expect mx "$P_SMTP" clean-4 "451 4.7.1" "cannot connect to clamd"
expect bdat "$P_SMTP" clean-5 "451 4.7.1"
grep -q "virus id=.* not scanned: cannot connect to clamd.*451" "$D/serve.log" || fail "no log line for the tempfail"
out=$(inbox) || fail "inbox"
! grep -q "clean-4\|clean-5" <<<"$out" || fail "a tempfailed message was stored"
# ... and the retry once clamd is back is delivered
clamd_start
expect mx "$P_SMTP" clean-4 250
expect bdat "$P_SMTP" clean-5 250
expect mx "$P_SMTP" eicar "$SIG"
out=$(inbox) || fail "inbox"
grep -qx "clean-4|\['clamd'\]" <<<"$out" || fail "the retried message is missing: $out"
grep -qx "clean-5|\['clamd'\]" <<<"$out" || fail "the retried BDAT message is missing: $out"
brev_stop

# --- TCP, on_error = accept ---
brev_start -o "virus.clamd=127.0.0.1:$CLAMD_PORT" -o virus.on_error=accept
expect mx "$P_SMTP" eicar "$SIG"
expect bdat "$P_SMTP" eicar-b64 "$SIG"
expect mx "$P_SMTP" clean-6 250
expect mx "$P_SMTP" huge-2 250
clamd_stop
expect mx "$P_SMTP" clean-7 250
expect sub "$P_SUB" clean-8 250
expect mx "$P_SMTP" forged-9 250
out=$(inbox) || fail "inbox"
note "$out"
grep -qx "clean-6|\['clamd'\]" <<<"$out" || fail "clean-6 not scanned over TCP: $out"
grep -qx "huge-2|\['no (clamd: INSTREAM size limit exceeded. ERROR)'\]" <<<"$out" ||
	fail "the message over StreamMaxLength lacks the not-scanned header: $out"
grep -qx "clean-7|\['no (cannot connect to clamd: Connection refused)'\]" <<<"$out" ||
	fail "clean-7 lacks the not-scanned header: $out"
grep -q "^clean-8|\['no (cannot connect" <<<"$out" || fail "clean-8 (submission) lacks the not-scanned header: $out"
grep -qx "forged-9|\['no (cannot connect to clamd: Connection refused)', 'clamd'\]" <<<"$out" ||
	fail "brev's X-Virus-Scanned is not above the sender's: $out"
[ "$(wc -l <<<"$out")" = 11 ] || fail "expected 11 messages in the INBOX: $out"
grep -q "virus id=.* not scanned: .*delivered (virus.on_error = accept)" "$D/serve.log" ||
	fail "no log line for the accepted unscanned message"
brev_stop
echo "ok"
