#!/bin/bash
# Email/changes, Mailbox/changes (RFC 8620 5.2, RFC 8621 2.2 and 4.3) and
# Thread/get (RFC 8621 3.1), issue 15, docs/jmap.md "Changes": changes
# made over IMAP (imaplib: STORE, MOVE, COPY, EXPUNGE, APPEND, CREATE,
# RENAME, DELETE) and SMTP deliveries (curl) since a state, read back after
# a restart of brev: created, updated and destroyed Emails and Mailboxes,
# updatedProperties, nothing for an Email created and expunged in between,
# an empty answer from the new state, and the errors
# (cannotCalculateChanges for a malformed state, past maxChanges and after
# deleting a mailbox that held mail, not an empty one; invalidArguments).
. ../lib.sh
brev_init changes
brev_user alice@example.test password-alice
brev_start
wait_port "$P_HTTP"
send() {
	printf 'From: bob@example.test\r\nTo: alice@example.test\r\nSubject: %s\r\nMessage-ID: <%s@example.test>\r\n\r\nbody %s\r\n' "$1" "$1" "$1" |
		curl -sS --max-time 20 "smtp://127.0.0.1:$P_SMTP/t" --mail-from bob@example.test \
			--mail-rcpt alice@example.test -T - || fail "smtp $1"
}
send one
send two
send three
cat >"$T/lib.py" <<'PY'
import imaplib, json, os, sys
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tests/e2e/jmap"))
from jmapc import CORE, MAIL, Jmap
j = Jmap(int(os.environ["P_HTTP"]))
acc = j.account()
def one(call, args):
    args = dict(args, accountId=acc)
    return j.api([[call, args, "c"]])[0]
def imap():
    m = imaplib.IMAP4("127.0.0.1", int(os.environ["P_IMAP"]))
    m.login("alice@example.test", "password-alice")
    return m
def ids_by_subject():
    q = one("Email/query", {})[1]["ids"]
    got = one("Email/get", {"ids": q, "properties": ["subject", "threadId"]})[1]["list"]
    return {e["subject"]: e for e in got}
PY
export ROOT T
python3 -u - <<'PY' || fail "before"
import os, sys
sys.path.insert(0, os.environ["T"])
from lib import *
e = ids_by_subject()
s0 = one("Email/get", {"ids": []})[1]["state"]
m0 = one("Mailbox/get", {"ids": []})[1]["state"]
open(os.path.join(os.environ["T"], "states"), "w").write(json.dumps([s0, m0, {k: v["id"] for k, v in e.items()}]))
m = imap()
m.select("INBOX")
m.store("1", "+FLAGS", "\\Flagged")            # one: updated (keywords)
m._simple_command("MOVE", "2", "Archive")      # two: updated (mailboxIds)
m.store("2", "+FLAGS", "\\Deleted")            # three (now 2): destroyed
m.expunge()
m.create("Work")                               # a new mailbox
m.select("INBOX")
m.copy("1", "Work")                            # one: updated again
m.append("INBOX", None, None, b"From: a@example.test\r\nSubject: appended\r\n\r\nx\r\n")
m.append("INBOX", None, None, b"From: a@example.test\r\nSubject: ephemeral\r\n\r\nx\r\n")
m.select("INBOX")
typ, d = m.search(None, "SUBJECT", "ephemeral")
m.store(d[0].decode(), "+FLAGS", "\\Deleted")
m.expunge()
m.logout()
print("ok changes made over IMAP")
PY
send four
brev_stop
brev_start
wait_port "$P_HTTP"
python3 -u - <<'PY' || fail "changes"
import os, sys
sys.path.insert(0, os.environ["T"])
from lib import *
s0, m0, old = json.loads(open(os.path.join(os.environ["T"], "states")).read())
e = ids_by_subject()
now = one("Email/get", {"ids": []})[1]["state"]
r = one("Email/changes", {"sinceState": s0})
assert r[0] == "Email/changes", r
c = r[1]
assert c["oldState"] == s0 and c["newState"] == now and c["hasMoreChanges"] is False, c
assert sorted(c["created"]) == sorted([e["appended"]["id"], e["four"]["id"]]), (c, e)
assert sorted(c["updated"]) == sorted([old["one"], old["two"]]), (c, old)
assert c["destroyed"] == [old["three"]], (c, old)
print("ok Email/changes after a restart: created (APPEND, SMTP), updated (STORE, MOVE, COPY), destroyed (EXPUNGE); nothing for an Email created and expunged since")
c = one("Email/changes", {"sinceState": now})[1]
assert c["created"] == c["updated"] == c["destroyed"] == [] and c["newState"] == now, c
r = one("Email/changes", {"sinceState": s0, "maxChanges": 2})
assert r[0] == "error" and r[1]["type"] == "cannotCalculateChanges", r
c = one("Email/changes", {"sinceState": s0, "maxChanges": 5})[1]
assert len(c["created"] + c["updated"] + c["destroyed"]) == 5, c
for bad in ("x", "e-zz", "", "h0123456789abcdef"):
    r = one("Email/changes", {"sinceState": bad})
    assert r[0] == "error" and r[1]["type"] == "cannotCalculateChanges", (bad, r)
for args in ({}, {"sinceState": 5}, {"sinceState": s0, "maxChanges": 0}):
    r = one("Email/changes", args)
    assert r[0] == "error" and r[1]["type"] == "invalidArguments", (args, r)
print("ok Email/changes: empty from the new state, maxChanges, cannotCalculateChanges, invalidArguments")

# ---- Mailbox/changes ----
mb = {x["name"]: x["id"] for x in one("Mailbox/get", {})[1]["list"]}
m1 = one("Mailbox/get", {"ids": []})[1]["state"]
c = one("Mailbox/changes", {"sinceState": m0})[1]
assert c["created"] == [mb["Work"]] and c["destroyed"] == [], c
assert sorted(c["updated"]) == sorted([mb["INBOX"], mb["Archive"]]), c
assert c["updatedProperties"] == ["totalEmails", "unreadEmails", "totalThreads", "unreadThreads"], c
assert c["newState"] == m1, c
m = imap()
m.rename("Work", "Play")
m.logout()
c = one("Mailbox/changes", {"sinceState": m1})[1]
assert c["updated"] == [mb["Work"]] and c["updatedProperties"] is None, c
m2 = c["newState"]
m = imap()
m.create("Gone")
m.create("Full")
m.select("INBOX")
m.copy("1", "Full")
m.logout()
m3 = one("Mailbox/get", {"ids": []})[1]["state"]
s3 = one("Email/get", {"ids": []})[1]["state"]
gone = {x["name"]: x["id"] for x in one("Mailbox/get", {})[1]["list"]}["Gone"]
m = imap()
m.delete("Gone")
m.logout()
c = one("Mailbox/changes", {"sinceState": m3})[1]
assert c["destroyed"] == [gone] and c["created"] == c["updated"] == [], c
c = one("Mailbox/changes", {"sinceState": m2})[1]
assert gone not in c["created"] + c["destroyed"], ("created and deleted since: not mentioned", c)
c = one("Email/changes", {"sinceState": s3})[1]
assert c["created"] == c["updated"] == c["destroyed"] == [], ("an empty mailbox deleted", c)
m = imap()
m.delete("Full")
m.logout()
r = one("Email/changes", {"sinceState": s3})
assert r[0] == "error" and r[1]["type"] == "cannotCalculateChanges", ("a mailbox with mail deleted since", r)
r = one("Mailbox/changes", {"sinceState": "nope"})
assert r[0] == "error" and r[1]["type"] == "cannotCalculateChanges", r
print("ok Mailbox/changes: created, updated (counts: updatedProperties; a rename: null), destroyed")

# ---- Thread/get ----
t1 = e["one"]["threadId"]
r = one("Thread/get", {"ids": [t1, "TE999999", "junk"]})[1]
assert r["list"] == [{"id": t1, "emailIds": [e["one"]["id"]]}], r
assert r["notFound"] == ["TE999999", "junk"] and r["state"] == one("Email/get", {"ids": []})[1]["state"], r
r = one("Thread/get", {"ids": None})
assert r[0] == "error" and r[1]["type"] == "invalidArguments", r
print("ok Thread/get: one Email per thread, notFound")
PY
brev_stop
echo ok
