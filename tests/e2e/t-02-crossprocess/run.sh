#!/bin/bash
# Changes made by another process reach a running server's sessions: an IMAP
# client in IDLE sees EXISTS when `brev sendmail` (a separate process writing
# the store directly and poking control.sock) delivers. Also: a second
# `brev serve` on the same DATADIR is refused while the first runs.
. ../lib.sh
brev_init x
brev_user alice@example.test pw-alice
brev_start

python3 - "$P_IMAP" "$BREV" "$D" <<'PY' || fail "IDLE did not see the other process's delivery"
import imaplib, socket, subprocess, sys, time
port, brev, datadir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
m = imaplib.IMAP4("127.0.0.1", port)
m.login("alice@example.test", "pw-alice")
typ, data = m.select("INBOX")
assert typ == "OK" and int(data[0]) == 0, data
tag = m._new_tag().decode()
m.send(f"{tag} IDLE\r\n".encode())
assert m.readline().startswith(b"+"), "no IDLE continuation"
msg = b"From: cron@example.test\r\nSubject: nightly\r\n\r\nbackup done\r\n"
p = subprocess.run([brev, "-d", datadir, "sendmail", "alice@example.test"], input=msg)
assert p.returncode == 0, "sendmail failed"
m.sock.settimeout(10)
line = m.readline()
print("idle got:", line)
assert line.strip() == b"* 1 EXISTS", line
m.send(b"DONE\r\n")
while True:
    l = m.readline()
    if l.startswith(tag.encode()):
        assert b"OK" in l, l
        break
typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
assert b"nightly" in data[0][1], data
m.logout()
PY

# A second server on the same DATADIR must not start.
rc=0
timeout 10 "$BREV" -d "$D" -o listen.smtp=127.0.0.1:$(free_port) -o listen.submission= \
	-o listen.submissions= -o listen.imap= -o listen.imaps= -o listen.pop3= -o listen.pop3s= -o listen.http= -o listen.https= -o listen.managesieve= \
	serve 2>"$T/second.err" || rc=$?
[ $rc = 1 ] && grep -q "already running" "$T/second.err" || fail "second serve: rc=$rc $(cat "$T/second.err")"
brev_stop
