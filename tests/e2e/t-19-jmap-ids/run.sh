#!/bin/bash
# One id scheme for IMAP and JMAP (objid.h, docs/jmap.md "Ids"): Python's
# imaplib and a JMAP client (http.client) look at the same messages.
# FETCH (EMAILID) and Email/get give the same id for the same message,
# STATUS (MAILBOXID) and Mailbox/get the same mailbox id; after an IMAP
# COPY the Email is one id with both mailboxIds, after MOVE it keeps its
# id, EXPUNGE and DELETE take its places away, and JMAP Email/get finds it
# by that id through the store's blob index each time. A message SMTP
# delivers to two accounts (the bytes stored once) is seen by each account
# in its own mailboxes only.
. ../lib.sh
brev_init ids
brev_user alice@example.test password-alice
brev_user bob@example.test password-bob
brev_start
wait_port "$P_HTTP"
PYTHONPATH="$ROOT/tests/e2e/jmap" python3 -u - "$P_HTTP" "$P_IMAP" "$P_SMTP" <<'PY' || fail "jmap ids"
import imaplib, re, smtplib, sys
port, iport, sport = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
from jmapc import MAIL, Jmap

def api(who, calls):
    return Jmap(port, who).api(calls)

def account(who):
    return Jmap(port, who).account()

acc = account("alice")

def jget(ids, who="alice", a=None):
    return api(who, [["Email/get", {"accountId": a or acc, "ids": ids,
                                    "properties": ["mailboxIds", "subject"]}, "g"]])[0][1]

def imap_emailids(m, box):
    typ, _ = m.select(box)
    assert typ == "OK", box
    typ, d = m.uid("FETCH", "1:*", "(EMAILID)")
    assert typ == "OK", d
    out = {}
    for x in d:
        if isinstance(x, bytes) and b"EMAILID" in x:
            uid = int(re.search(rb"UID (\d+)", x).group(1))
            out[uid] = re.search(rb"EMAILID \(([^)]+)\)", x).group(1).decode()
    return out

def imap_mailboxid(m, box):
    typ, d = m.status(box, "(MAILBOXID)")
    assert typ == "OK", d
    return re.search(rb"MAILBOXID \(([^)]+)\)", d[0]).group(1).decode()

m = imaplib.IMAP4("127.0.0.1", iport)
m.login("alice@example.test", "password-alice")
for box in ("Work", "Later"):
    assert m.create(box)[0] == "OK"
for i in range(3):
    assert m.append("INBOX", None, None, b"From: b@example.test\r\nSubject: s%d\r\n\r\nbody %d\r\n" % (i, i))[0] == "OK"
mid = {b: imap_mailboxid(m, b) for b in ("INBOX", "Work", "Later")}

# mailbox ids: IMAP's MAILBOXID is JMAP's Mailbox id
boxes = api("alice", [["Mailbox/get", {"accountId": acc, "ids": None, "properties": ["name"]}, "b"]])[0][1]["list"]
byname = {b["name"]: b["id"] for b in boxes}
assert all(byname[k] == v for k, v in mid.items()), (boxes, mid)
for b in boxes:
    assert imap_mailboxid(m, b["name"]) == b["id"], b
print("ok MAILBOXID = Mailbox id", mid)

# email ids: FETCH (EMAILID) is JMAP's Email id, and Email/get finds it
inbox = imap_emailids(m, "INBOX")
q = api("alice", [["Email/query", {"accountId": acc, "filter": {"inMailbox": mid["INBOX"]},
                                   "sort": [{"property": "receivedAt"}]}, "q"]])[0][1]["ids"]
assert sorted(q) == sorted(inbox.values()), (q, inbox)
g = jget(list(inbox.values()))
assert g["notFound"] == [] and [e["id"] for e in g["list"]] == list(inbox.values()), g
assert all(e["mailboxIds"] == {mid["INBOX"]: True} for e in g["list"]), g
print("ok EMAILID = Email id", inbox)

# COPY: one Email, two mailboxes; the copy's EMAILID is the same id
e1, e2, e3 = inbox[1], inbox[2], inbox[3]
m.select("INBOX")
assert m.uid("COPY", "1", "Work")[0] == "OK"
work = imap_emailids(m, "Work")
assert list(work.values()) == [e1], work
g = jget([e1])
assert g["list"][0]["mailboxIds"] == {mid["INBOX"]: True, mid["Work"]: True}, g
q = api("alice", [["Email/query", {"accountId": acc}, "q"]])[0][1]["ids"]
assert sorted(q) == sorted([e1, e2, e3]), ("one Email per message, not per copy", q)
# a copy into the same mailbox: still one Email in the query
m.select("INBOX")
assert m.uid("COPY", "3", "INBOX")[0] == "OK"
assert sorted(imap_emailids(m, "INBOX").values()) == sorted([e1, e2, e3, e3])
q = api("alice", [["Email/query", {"accountId": acc, "filter": {"inMailbox": mid["INBOX"]}}, "q"]])[0][1]["ids"]
assert sorted(q) == sorted([e1, e2, e3]), q
print("ok COPY: one id, two mailboxIds")

# MOVE keeps the id and changes the mailboxIds
m.select("INBOX")
assert m.uid("MOVE", "2", "Later")[0] == "OK"
assert list(imap_emailids(m, "Later").values()) == [e2]
g = jget([e2])
assert g["list"][0]["mailboxIds"] == {mid["Later"]: True}, g
print("ok MOVE keeps the id")

# EXPUNGE of one copy leaves the other; DELETE of the mailbox the last
m.select("INBOX")
m.uid("STORE", "1", "+FLAGS.SILENT", "(\\Deleted)")
m.expunge()
g = jget([e1])
assert g["list"][0]["mailboxIds"] == {mid["Work"]: True}, g
assert m.delete("Work")[0] == "OK"
g = jget([e1, e2])
assert g["notFound"] == [e1] and [e["id"] for e in g["list"]] == [e2], g
print("ok EXPUNGE and DELETE")
m.logout()

# delivered to two accounts: the same id in each, each sees only its own places
s = smtplib.SMTP("127.0.0.1", sport, timeout=30)
s.sendmail("x@example.test", ["alice@example.test", "bob@example.test"],
           b"From: x@example.test\r\nSubject: both\r\n\r\nfor two\r\n")
s.quit()
bacc = account("bob")
for who, a in (("alice", acc), ("bob", bacc)):
    im = imaplib.IMAP4("127.0.0.1", iport)
    im.login("%s@example.test" % who, "password-%s" % who)
    ids = imap_emailids(im, "INBOX")
    inboxid = imap_mailboxid(im, "INBOX")
    im.logout()
    last = ids[max(ids)]
    g = jget([last], who, a)
    assert g["list"][0]["subject"] == "both" and g["list"][0]["mailboxIds"] == {inboxid: True}, (who, g)
    if who == "alice":
        alice_only = [e3]
    else:
        # bob never had alice's messages: their ids name nothing in his account
        g = jget(alice_only, who, a)
        assert g["notFound"] == alice_only and g["list"] == [], g
print("ok per account")
PY
brev_stop
echo ok
