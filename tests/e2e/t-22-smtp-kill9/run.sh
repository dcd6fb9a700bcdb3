#!/bin/bash
# Durability: a 250 after DATA (and after BDAT LAST) is a promise. Send,
# read the 250, kill -9 the server at once, start it again: the message is
# there (read back over POP3). Repeated a few times, with the kill racing
# the client's QUIT.
. ../lib.sh
brev_init smtpk
brev_user alice@example.test alice-pw
brev_start
for i in 1 2 3; do
	python3 -u - "$i" <<'PY' || fail "send $i"
import os, socket, sys
i = sys.argv[1].encode()
s = socket.create_connection(("127.0.0.1", int(os.environ["P_SMTP"])), timeout=20)
f = s.makefile("rb")
def reply():
    while True:
        l = f.readline()
        if l[3:4] != b"-":
            return l
assert reply().startswith(b"220")
s.sendall(b"EHLO k.test\r\nMAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
for want in (b"250", b"250", b"250", b"354"):
    r = reply()
    assert r.startswith(want), r
s.sendall(b"Subject: durable-" + i + b"\r\n\r\nbody\r\n.\r\n")
r = reply()
assert r.startswith(b"250 2.0.0"), r
# BDAT too
s.sendall(b"MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\n")
reply(); reply()
data = b"Subject: chunked-" + i + b"\r\n\r\nbody\r\n"
s.sendall(b"BDAT %d LAST\r\n" % len(data) + data)
r = reply()
assert r.startswith(b"250 2.0.0"), r
print("250 for", i.decode())
PY
	brev_kill9
	brev_start
done
python3 -u - <<'PY' || fail "read back"
import os, poplib
p = poplib.POP3("127.0.0.1", int(os.environ["P_POP3"]), timeout=20)
p.user("alice@example.test"); p.pass_("alice-pw")
n = len(p.list()[1])
subjects = set()
for k in range(n):
    for l in p.retr(k + 1)[1]:
        if l.startswith(b"Subject: "):
            subjects.add(l[9:].decode())
p.quit()
want = {f"{w}-{i}" for w in ("durable", "chunked") for i in (1, 2, 3)}
assert want <= subjects, (want, subjects)
print("all", len(want), "acknowledged messages survived kill -9")
PY
brev_stop
