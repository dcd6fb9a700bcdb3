#!/bin/bash
# JMAP push over EventSource (RFC 8620 7.3; docs/jmap.md "Push"): a raw
# HTTP client (Python's socket) reads /jmap/eventsource while smtplib
# delivers: a StateChange event with the new Email and Mailbox states
# arrives (the time it took is printed; the bound is generous for a loaded
# machine), pings come at the asked interval, types limits what is named,
# closeafter=state ends the stream after the first event, a change over
# IMAP (imaplib STORE) is pushed as well, bad arguments are 400 and no
# password is 401. Open streams count in limits.connections: past HTTP's
# share a new connection gets 503, and a closed stream frees its place.
. ../lib.sh
brev_init push
brev_user alice@example.test password-alice
# HTTP may hold 3/4 of the connections: 6 (net_limits.c)
echo "limits.connections = 8" >>"$D/brev.conf"
brev_start
wait_port "$P_HTTP"
PYTHONPATH="$ROOT/tests/e2e/jmap" python3 -u - "$P_HTTP" "$P_SMTP" "$P_IMAP" <<'PY' || fail "jmap push"
import imaplib, json, smtplib, socket, sys, time
port, sport, iport = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
from jmapc import MAIL, Jmap, auth
AUTH = auth()
jm = Jmap(port)
api = jm.api  # closes each connection: each one counts in limits.connections

sess = jm.session()
acc = sess["primaryAccounts"][MAIL]
url = sess["eventSourceUrl"]

class Stream:
    def __init__(self, query, auth=AUTH):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=20)
        path = url.split("?")[0] + "?" + query
        self.s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
                        "Authorization: %s\r\n\r\n" % (path, auth)).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            d = self.s.recv(4096)
            assert d, self.buf
            self.buf += d
        self.head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.status = int(self.head.split()[1])

    def event(self, timeout):
        """The next event as (name, data), or None at the end of the stream."""
        self.s.settimeout(timeout)
        while b"\n\n" not in self.buf:
            d = self.s.recv(4096)
            if not d:
                return None
            self.buf += d
        ev, self.buf = self.buf.split(b"\n\n", 1)
        f = dict(l.split(b": ", 1) for l in ev.split(b"\n"))
        return f[b"event"].decode(), json.loads(f[b"data"])

def state(name):
    r = api([["Email/get" if name == "Email" else "Mailbox/get", {"accountId": acc, "ids": []}, "g"]])
    return r[0][1]["state"]

# errors first
for q, a, want in (("types=*", "Basic eDp5", 401), ("types=*&ping=-1", AUTH, 400),
                   ("types=*&closeafter=maybe", AUTH, 400)):
    x = Stream(q, auth=a)
    assert x.status == want, (q, x.head)
    x.s.close()

# a delivery is pushed
st = Stream("types=*&closeafter=no&ping=1")
assert st.status == 200 and b"text/event-stream" in st.head.lower(), st.head
ev = st.event(10)
assert ev == ("ping", {"interval": 1}), ev
t0 = time.time()
s = smtplib.SMTP("127.0.0.1", sport, timeout=30)
s.sendmail("x@example.test", ["alice@example.test"], b"From: x@example.test\r\nSubject: push\r\n\r\nhi\r\n")
s.quit()
while True:
    ev = st.event(10)
    assert ev, "stream ended"
    if ev[0] == "state":
        break
took = time.time() - t0
assert ev[1]["@type"] == "StateChange", ev
ch = ev[1]["changed"][acc]
assert ch["Email"] == state("Email") and ch["Mailbox"] == state("Mailbox"), (ch, state("Email"))
print("ok StateChange %.3f s after the SMTP delivery (from before smtplib connected)" % took)
assert took < 5, took

# a flag set over IMAP is pushed too; types=Mailbox names only Mailbox;
# closeafter=state ends the stream after it
st2 = Stream("types=Mailbox&closeafter=state&ping=0")
st3 = Stream("types=Thread%2CEmail&closeafter=state&ping=99999")  # unknown type, ping lowered
assert st3.status == 200
m = imaplib.IMAP4("127.0.0.1", iport)
m.login("alice@example.test", "password-alice")
m.select("INBOX")
m.store("1", "+FLAGS", "(\\Seen)")
ev = st2.event(10)
assert ev[0] == "state" and list(ev[1]["changed"][acc]) == ["Mailbox"], ev
assert ev[1]["changed"][acc]["Mailbox"] == state("Mailbox")
assert st2.event(10) is None, "closeafter=state ends the stream"
st2.s.close()
ev = st3.event(10)
assert ev[0] == "state" and list(ev[1]["changed"][acc]) == ["Email"], ev
st3.s.close()
ev = st.event(10)
while ev[0] == "ping":
    ev = st.event(10)
assert ev[0] == "state" and ev[1]["changed"][acc]["Email"] == state("Email"), ev
print("ok IMAP change pushed, types and closeafter")
m.logout()

st.s.close()
time.sleep(1.5)  # the server sees the close at its next wait (at most 1 s)
streams = [Stream("types=*") for _ in range(6)]
assert all(x.status == 200 for x in streams), [x.status for x in streams]
over = socket.create_connection(("127.0.0.1", port), timeout=20)
over.sendall(b"GET /jmap/eventsource/ HTTP/1.1\r\nHost: x\r\n\r\n")
assert over.recv(4096).startswith(b"HTTP/1.1 503 "), "a 7th connection is over the share"
streams[0].s.close()
for i in range(50):
    time.sleep(0.2)
    x = Stream("types=*")
    if x.status == 200:
        break
    x.s.close()
assert x.status == 200, "a closed stream gives its place back"
print("ok streams count in limits.connections")
PY
brev_stop
echo ok
