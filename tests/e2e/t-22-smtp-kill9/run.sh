#!/bin/bash
# Durability: a 250 after DATA (and after BDAT LAST) is a promise. The
# client reads the 250 and kills the server with SIGKILL at once, its
# session still open (it never sends QUIT); the server starts again. Six
# rounds, three ways: right after a DATA 250, right after a BDAT LAST 250,
# and with the next message half-way through DATA (never acknowledged).
# Read back over POP3: every acknowledged message is there exactly once
# (docs/store.md: the 250 comes after the commit, and the client never
# sends an acknowledged message again, so a copy more is a bug too), and
# the half-sent one is not there at all (no end of data, no message).
. ../lib.sh
brev_init smtpk
brev_user alice@example.test alice-pw
brev_start
: >"$T/acked"
for i in 1 2 3 4 5 6; do
	python3 -u - "$i" "$T/acked" <<'PY' || fail "round $i"
import os, signal, socket, sys
i, acked = int(sys.argv[1]), sys.argv[2]
mode = ("data", "bdat", "partial")[i % 3]
s = socket.create_connection(("127.0.0.1", int(os.environ["P_SMTP"])), timeout=20)
f = s.makefile("rb")
def reply():
    while True:
        l = f.readline()
        assert l, "connection closed"
        if l[3:4] != b"-":
            return l
def kill():
    # At once, the session open: the 250 just read is all the client has.
    os.kill(int(os.environ["BREV_PID"]), signal.SIGKILL)
    print(f"round {i} ({mode}): killed with the session open")
def acknowledged(subject):
    with open(acked, "a") as a:
        a.write(subject + "\n")
assert reply().startswith(b"220")
s.sendall(b"EHLO k.test\r\nMAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
for want in (b"250", b"250", b"250", b"354"):
    r = reply()
    assert r.startswith(want), r
s.sendall(b"Subject: durable-%d\r\n\r\nbody\r\n.\r\n" % i)
r = reply()
assert r.startswith(b"250 2.0.0"), r
acknowledged(f"durable-{i}")
if mode == "data":
    kill()
    sys.exit(0)
s.sendall(b"MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\n")
assert reply().startswith(b"250") and reply().startswith(b"250")
data = b"Subject: chunked-%d\r\n\r\nbody\r\n" % i
s.sendall(b"BDAT %d LAST\r\n" % len(data) + data)
r = reply()
assert r.startswith(b"250 2.0.0"), r
acknowledged(f"chunked-{i}")
if mode == "bdat":
    kill()
    sys.exit(0)
s.sendall(b"MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
for want in (b"250", b"250", b"354"):
    r = reply()
    assert r.startswith(want), r
s.sendall(b"Subject: partial-%d\r\n\r\nthe end of data never comes\r\n" % i)
kill()
PY
	brev_kill9
	brev_start
done
python3 -u - "$T/acked" <<'PY' || fail "read back"
import collections, os, poplib, sys
want = collections.Counter(open(sys.argv[1]).read().split())
p = poplib.POP3("127.0.0.1", int(os.environ["P_POP3"]), timeout=20)
p.user("alice@example.test"); p.pass_("alice-pw")
n = len(p.list()[1])
got = collections.Counter()
for k in range(n):
    for l in p.retr(k + 1)[1]:
        if l.startswith(b"Subject: "):
            got[l[9:].decode()] += 1
p.quit()
assert len(want) == 10, want  # 6 DATA, 4 BDAT
assert got == want and n == sum(want.values()), (
    f"{n} stored; missing {sorted((want - got).elements())}, extra {sorted((got - want).elements())}")
print("all", n, "acknowledged messages survived kill -9, each once; no half-sent message was stored")
PY
brev_stop
