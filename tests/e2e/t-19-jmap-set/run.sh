#!/bin/bash
# JMAP Email/set (RFC 8621 4.6; docs/jmap.md) against IMAP (Python's
# imaplib) on the same messages: keywords both ways ($seen, $flagged,
# $answered, $draft <-> IMAP system flags, other keywords <-> IMAP
# keywords), mailboxIds as COPY and MOVE (the EMAILID stays, the flags go
# along), destroy as EXPUNGE of every copy, ifInState and stateMismatch,
# the SetErrors; and an IMAP session in IDLE is told of an Email/set at
# once.
. ../lib.sh
brev_init set
brev_user alice@example.test password-alice
brev_start
wait_port "$P_HTTP"
PYTHONPATH="$ROOT/tests/e2e/jmap" python3 -u - "$P_HTTP" "$P_IMAP" <<'PY' || fail "jmap email/set"
import imaplib, re, select, sys, time
port, iport = int(sys.argv[1]), int(sys.argv[2])
from jmapc import MAIL, Jmap
jm = Jmap(port)
api = jm.api

acc = jm.account()

def eset(args):
    a = {"accountId": acc}
    a.update(args)
    r = api([["Email/set", a, "s"]])[0]
    assert r[0] == "Email/set", r
    return r[1]

def eget(ids):
    return {e["id"]: e for e in api([["Email/get", {"accountId": acc, "ids": ids,
                                      "properties": ["keywords", "mailboxIds"]}, "g"]])[0][1]["list"]}

m = imaplib.IMAP4("127.0.0.1", iport)
m.login("alice@example.test", "password-alice")
for b in ("Work", "Keep"):
    assert m.create(b)[0] == "OK"
for i in range(3):
    assert m.append("INBOX", None, None, b"From: b@example.test\r\nSubject: m%d\r\n\r\nbody\r\n" % i)[0] == "OK"

def fetch(box):
    m.select(box)
    typ, d = m.uid("FETCH", "1:*", "(EMAILID FLAGS)")
    out = {}
    for x in d:
        if isinstance(x, bytes) and b"EMAILID" in x:
            eid = re.search(rb"EMAILID \(([^)]+)\)", x).group(1).decode()
            fl = set(re.search(rb"FLAGS \(([^)]*)\)", x).group(1).decode().split()) - {"\\Recent"}  # a copy is \Recent
            out[eid] = (int(re.search(rb"UID (\d+)", x).group(1)), fl)
    return out

def mbid(box):
    typ, d = m.status(box, "(MAILBOXID)")
    return re.search(rb"MAILBOXID \(([^)]+)\)", d[0]).group(1).decode()

inbox = fetch("INBOX")
e1, e2, e3 = sorted(inbox, key=lambda e: inbox[e][0])
MI, MW, MA = mbid("INBOX"), mbid("Work"), mbid("Keep")

# JMAP -> IMAP: keywords replace the flags; other keywords are IMAP keywords
r = eset({"update": {e1: {"keywords": {"$seen": True, "$flagged": True, "$draft": True, "project-x": True}}}})
assert r["updated"] == {e1: None} and r["notUpdated"] == {} and r["oldState"] != r["newState"], r
assert fetch("INBOX")[e1][1] == {"\\Seen", "\\Flagged", "\\Draft", "project-x"}, fetch("INBOX")
r = eset({"update": {e1: {"keywords/$draft": None, "keywords/$answered": True}}})
assert r["updated"] == {e1: None}, r
assert fetch("INBOX")[e1][1] == {"\\Seen", "\\Flagged", "\\Answered", "project-x"}, fetch("INBOX")
print("ok JMAP keywords -> IMAP flags")

# IMAP -> JMAP: system flags and keywords (lower-cased) are keywords
m.select("INBOX")
m.uid("STORE", str(inbox[e2][0]), "+FLAGS", "(\\Answered \\Draft Urgent)")
assert eget([e2])[e2]["keywords"] == {"$answered": True, "$draft": True, "urgent": True}, eget([e2])
# \Deleted has no keyword: replacing the keywords keeps it
m.uid("STORE", str(inbox[e2][0]), "+FLAGS", "(\\Deleted)")
assert eset({"update": {e2: {"keywords": {}}}})["updated"] == {e2: None}
assert fetch("INBOX")[e2][1] == {"\\Deleted"}, fetch("INBOX")
m.uid("STORE", str(inbox[e2][0]), "-FLAGS", "(\\Deleted)")
print("ok IMAP flags -> JMAP keywords")

# mailboxIds: add a mailbox (IMAP COPY), then replace them (IMAP MOVE);
# the EMAILID stays and the flags go along
r = eset({"update": {e1: {"mailboxIds/" + MW: True}}})
assert r["updated"] == {e1: None}, r
assert e1 in fetch("INBOX") and fetch("Work")[e1][1] == {"\\Seen", "\\Flagged", "\\Answered", "project-x"}
assert eget([e1])[e1]["mailboxIds"] == {MI: True, MW: True}
r = eset({"update": {e1: {"mailboxIds": {MA: True}}}})
assert r["updated"] == {e1: None}, r
assert e1 not in fetch("INBOX") and e1 not in fetch("Work"), "moved away"
assert fetch("Keep")[e1][1] == {"\\Seen", "\\Flagged", "\\Answered", "project-x"}
assert eget([e1])[e1]["mailboxIds"] == {MA: True}
r = eset({"update": {e1: {"mailboxIds/" + MA: None, "mailboxIds/" + MW: True}}})
assert r["updated"] == {e1: None} and list(fetch("Work")) == [e1] and fetch("Keep") == {}, r
print("ok mailboxIds as COPY and MOVE")

# destroy: every copy is expunged
assert eset({"update": {e3: {"mailboxIds/" + MA: True}}})["updated"] == {e3: None}
r = eset({"destroy": [e3, "E99999"]})
assert r["destroyed"] == [e3] and r["notDestroyed"]["E99999"]["type"] == "notFound", r
assert e3 not in fetch("INBOX") and e3 not in fetch("Keep")
assert api([["Email/get", {"accountId": acc, "ids": [e3]}, "g"]])[0][1]["notFound"] == [e3]
print("ok destroy")

# ifInState, SetErrors
st = api([["Email/get", {"accountId": acc, "ids": []}, "g"]])[0][1]["state"]
r = api([["Email/set", {"accountId": acc, "ifInState": "nope", "update": {e2: {"keywords/$seen": True}}}, "s"]])[0]
assert r[0] == "error" and r[1]["type"] == "stateMismatch", r
assert "\\Seen" not in fetch("INBOX")[e2][1], "nothing changed on stateMismatch"
r = eset({"ifInState": st, "update": {e2: {"keywords/$seen": True}}})
assert r["oldState"] == st and r["updated"] == {e2: None}, r
r = eset({"update": {e2: {"mailboxIds": {}}, "E99999": {"keywords": {}},
                     e1: {"subject": "x"}},
          "create": {"k1": {"mailboxIds": {MI: True}, "bodyStructure": {"partId": "1"}}}})
assert r["notUpdated"][e2]["type"] == "invalidProperties" and r["notUpdated"][e2]["properties"] == ["mailboxIds"], r
assert r["notUpdated"]["E99999"]["type"] == "notFound", r
assert r["notUpdated"][e1]["type"] == "invalidProperties" and r["notUpdated"][e1]["properties"] == ["subject"], r
assert r["notCreated"]["k1"] == {"type": "invalidProperties", "properties": ["bodyStructure"]} and r["updated"] == {}, r
r = eset({"update": {e2: {"keywords": {"bad(kw": True}}, e1: {"mailboxIds": {"M99999": True}}}})
assert r["notUpdated"][e2]["properties"] == ["keywords"] and r["notUpdated"][e1]["properties"] == ["mailboxIds"], r
r = eset({"update": {e2: {"keywords": {"k%d" % i: True for i in range(65)}}}})
assert r["notUpdated"][e2]["type"] == "tooManyKeywords", r
r = api([["Email/set", {"accountId": acc, "destroy": ["x"] * 501}, "s"]])[0]
assert r[0] == "error" and r[1]["type"] == "requestTooLarge", r
print("ok ifInState and errors")
m.logout()

# an IMAP session in IDLE sees an Email/set at once
i2 = imaplib.IMAP4("127.0.0.1", iport)
i2.login("alice@example.test", "password-alice")
i2.select("INBOX")
tag = i2._new_tag()
i2.send(tag + b" IDLE\r\n")
assert i2.readline().startswith(b"+"), "idling"
t0 = time.time()
assert eset({"update": {e2: {"keywords/$flagged": True}}})["updated"] == {e2: None}
i2.sock.settimeout(10)
line = i2.readline()
took = time.time() - t0
assert re.match(rb"\* \d+ FETCH \(.*FLAGS \(.*\\Flagged", line), line
i2.send(b"DONE\r\n")
print("ok IDLE told of the Email/set after %.2f s" % took)
assert took < 5, took
PY
brev_stop
echo ok
