#!/bin/bash
# JMAP Mailbox/get and Mailbox/query (RFC 8621 2.1, 2.3; docs/jmap.md) see
# the mailboxes IMAP made: Python's imaplib creates Work and Work/Old,
# unsubscribes one and appends two messages; JMAP then shows every mailbox
# with its SPECIAL-USE role, the hierarchy as parentId and leaf names,
# IMAP's counts, subscriptions, MAILBOXID ids (M + decimal), a state that changes when
# IMAP sets \Seen, properties and ids (notFound), accountNotFound; and
# queries by role, hasAnyRole, parentId, name, isSubscribed with sorting,
# position, limit and total, and result references from a query to a get.
. ../lib.sh
brev_init mbox
brev_user alice@example.test password-alice
brev_start
wait_port "$P_HTTP"
PYTHONPATH="$ROOT/tests/e2e/jmap" python3 -u - "$P_HTTP" "$P_IMAP" <<'PY' || fail "jmap mailbox"
import imaplib, re, sys
port, iport = int(sys.argv[1]), int(sys.argv[2])
from jmapc import CORE, MAIL, Jmap
jm = Jmap(port)
api = jm.api

s = jm.session()
acc = s["primaryAccounts"][MAIL]
assert MAIL in s["capabilities"] and MAIL in s["accounts"][acc]["accountCapabilities"], s

m = imaplib.IMAP4("127.0.0.1", iport)
m.login("alice@example.test", "password-alice")
assert m.create("Work")[0] == "OK" and m.create("Work/Old")[0] == "OK"
m.subscribe("Work")
m.unsubscribe("Work/Old")
for i in range(2):
    m.append("INBOX", None, None, b"From: b@example.test\r\nSubject: m%d\r\n\r\nhello\r\n" % i)
status = {}
for name in ("INBOX", "Work", "Work/Old", "Sent"):
    typ, d = m.status(name, "(MESSAGES UNSEEN)")
    status[name] = tuple(int(x) for x in re.findall(rb"(\d+)", d[0].split(b"(")[1]))

r = api([["Mailbox/get", {"accountId": acc, "ids": None}, "g"]])
(name, res, cid), = r
assert name == "Mailbox/get" and res["accountId"] == acc and res["notFound"] == [], r
by = {}
for mb in res["list"]:
    assert re.fullmatch(r"M[1-9][0-9]*", mb["id"]), mb
    by[mb["name"]] = mb
roles = {n: by[n]["role"] for n in by}
assert roles == {"INBOX": "inbox", "Drafts": "drafts", "Sent": "sent", "Junk": "junk", "Trash": "trash",
                 "Archive": "archive", "Work": None, "Old": None}, roles
assert by["Old"]["parentId"] == by["Work"]["id"] and by["Work"]["parentId"] is None, (by["Old"], by["Work"])
assert len({mb["id"] for mb in res["list"]}) == len(res["list"])
assert (by["INBOX"]["totalEmails"], by["INBOX"]["unreadEmails"]) == status["INBOX"] == (2, 2), (by["INBOX"], status)
assert (by["Work"]["totalEmails"], by["Work"]["unreadEmails"]) == status["Work"] == (0, 0)
assert by["Work"]["isSubscribed"] is True and by["Old"]["isSubscribed"] is False
assert by["INBOX"]["myRights"]["mayDelete"] is False and by["Work"]["myRights"]["mayDelete"] is True
state1 = res["state"]
print("ok Mailbox/get sees IMAP's mailboxes, roles, hierarchy and counts")

# the state follows the store: IMAP sets \Seen, JMAP's count and state change
m.select("INBOX")
m.store("1", "+FLAGS", "\\Seen")
r = api([["Mailbox/get", {"accountId": acc, "ids": [by["INBOX"]["id"], "Mzzzz"],
                           "properties": ["unreadEmails", "role"]}, "g"]])
res = r[0][1]
assert res["list"] == [{"id": by["INBOX"]["id"], "unreadEmails": 1, "role": "inbox"}], res
assert res["notFound"] == ["Mzzzz"], res
assert res["state"] != state1, "state did not change after IMAP STORE"
r = api([["Mailbox/get", {"accountId": acc}, "g"]])
assert r[0][1]["state"] == res["state"], "state changed without a change"
m.logout()
print("ok state follows IMAP")

# method errors
r = api([["Mailbox/get", {"accountId": "Afff"}, "a"], ["Mailbox/get", {}, "b"],
         ["Mailbox/get", {"accountId": acc, "properties": ["nope"]}, "c"],
         ["Mailbox/query", {"accountId": acc, "filter": {"operator": "AND", "conditions": []}}, "d"],
         ["Mailbox/query", {"accountId": acc, "sort": [{"property": "totalEmails"}]}, "e"],
         ["Mailbox/get", {"accountId": acc, "ids": ["x"] * 501}, "f"]])
types = [(n, a.get("type")) for n, a, c in r]
assert types == [("error", "accountNotFound"), ("error", "invalidArguments"), ("error", "invalidArguments"),
                 ("error", "unsupportedFilter"), ("error", "unsupportedSort"), ("error", "requestTooLarge")], types
r = api([["Mailbox/get", {"accountId": acc}, "g"]], using=(CORE,))
assert r[0][:2] == ["error", {"type": "unknownMethod"}], r
print("ok errors")

# Mailbox/query
def q(args):
    a = {"accountId": acc}
    a.update(args)
    (n, res, c), = api([["Mailbox/query", a, "q"]])
    assert n == "Mailbox/query", res
    return res
res = q({"filter": {"role": "inbox"}})
assert res["ids"] == [by["INBOX"]["id"]] and res["canCalculateChanges"] is False and res["position"] == 0, res
assert q({"filter": {"hasAnyRole": False}, "sort": [{"property": "name"}]})["ids"] == [by["Old"]["id"], by["Work"]["id"]]
assert q({"filter": {"parentId": by["Work"]["id"]}})["ids"] == [by["Old"]["id"]]
assert q({"filter": {"name": "ORK"}})["ids"] == [by["Work"]["id"]]
assert q({"filter": {"isSubscribed": False}})["ids"] == [by["Old"]["id"]]
assert q({"filter": {"role": None, "parentId": None}})["ids"] == [by["Work"]["id"]]
names = [n for n in sorted(by)]
res = q({"sort": [{"property": "name", "isAscending": False}], "position": 1, "limit": 3, "calculateTotal": True})
assert res["ids"] == [by[n]["id"] for n in sorted(by, reverse=True)[1:4]] and res["total"] == 8, res
res = q({"sort": [{"property": "name"}], "position": -2})
assert res["ids"] == [by[n]["id"] for n in sorted(by)[-2:]] and res["position"] == 6, res
assert q({"sort": [{"property": "sortOrder"}]})["ids"][0] == by["INBOX"]["id"]
# a query's ids fed to a get by reference (RFC 8620 3.7)
r = api([["Mailbox/query", {"accountId": acc, "filter": {"hasAnyRole": True}, "sort": [{"property": "name"}]}, "0"],
         ["Mailbox/get", {"accountId": acc, "#ids": {"resultOf": "0", "name": "Mailbox/query", "path": "/ids"},
                          "properties": ["name"]}, "1"]])
assert [x["name"] for x in r[1][1]["list"]] == ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"], r[1]
print("ok Mailbox/query")
PY
brev_stop
echo ok
