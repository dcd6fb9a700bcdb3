#!/bin/bash
# JMAP Mailbox/set (RFC 8621 2.5; docs/jmap.md) seen through IMAP
# (Python's imaplib): create (top level, under a parent, under a mailbox
# created in the same call by "#id", subscribed), rename and move by name
# and parentId (the MAILBOXID stays), subscribe, destroy with
# mailboxHasEmail / mailboxHasChild / onDestroyRemoveEmails (an Email also
# in another mailbox stays there), INBOX protected, ifInState.
. ../lib.sh
brev_init mboxset
brev_user alice@example.test password-alice
brev_start
wait_port "$P_HTTP"
PYTHONPATH="$ROOT/tests/e2e/jmap" python3 -u - "$P_HTTP" "$P_IMAP" <<'PY' || fail "jmap mailbox/set"
import imaplib, re, sys
port, iport = int(sys.argv[1]), int(sys.argv[2])
from jmapc import MAIL, Jmap
jm = Jmap(port)
api = jm.api

sess = jm.session()
acc = sess["primaryAccounts"][MAIL]
assert sess["accounts"][acc]["accountCapabilities"][MAIL]["mayCreateTopLevelMailbox"] is True

def mset(args):
    a = {"accountId": acc}
    a.update(args)
    r = api([["Mailbox/set", a, "s"]])[0]
    assert r[0] == "Mailbox/set", r
    return r[1]

m = imaplib.IMAP4("127.0.0.1", iport)
m.login("alice@example.test", "password-alice")

def imap_list(pattern="*"):
    typ, d = m.list('""', pattern)
    return {re.search(rb'"/" "?([^"]*)"?$', x).group(1).decode() for x in d if x}

def subscribed():
    typ, d = m.lsub('""', '*')
    return {re.search(rb'"/" "?([^"]*)"?$', x).group(1).decode() for x in d if x}

def mbid(box):
    typ, d = m.status(box, "(MAILBOXID)")
    return re.search(rb"MAILBOXID \(([^)]+)\)", d[0]).group(1).decode()

# create: top level, and a child of it by creation id, subscribed
r = mset({"create": {"a": {"name": "Projects", "isSubscribed": True},
                     "b": {"name": "Brev", "parentId": "#a"}}})
assert set(r["created"]) == {"a", "b"} and r["notCreated"] == {}, r
pa, pb = r["created"]["a"]["id"], r["created"]["b"]["id"]
assert r["created"]["b"]["parentId"] == pa and r["created"]["b"]["name"] == "Brev", r
assert {"Projects", "Projects/Brev"} <= imap_list(), imap_list()
assert mbid("Projects") == pa and mbid("Projects/Brev") == pb
assert "Projects" in subscribed() and "Projects/Brev" not in subscribed()
r = mset({"create": {"c": {"name": "Projects"}, "d": {"name": "a/b"}, "e": {"name": "X", "parentId": "M99999"},
                     "f": {"name": "Y", "role": "trash"}, "g": {"name": "Z", "totalEmails": 3}}})
assert r["notCreated"]["c"]["type"] == "alreadyExists", r
assert [r["notCreated"][k]["properties"] for k in "defg"] == [["name"], ["parentId"], ["role"], ["totalEmails"]], r
print("ok create")

# rename, move under another parent, subscribe: IMAP sees it, the id stays
r = mset({"update": {pb: {"name": "Brev2", "isSubscribed": True}}})
assert r["updated"] == {pb: None}, r
assert "Projects/Brev2" in imap_list() and "Projects/Brev" not in imap_list() and mbid("Projects/Brev2") == pb
assert "Projects/Brev2" in subscribed()
r = mset({"update": {pb: {"parentId": None}}})
assert r["updated"] == {pb: None} and "Brev2" in imap_list() and mbid("Brev2") == pb, (r, imap_list())
inbox = api([["Mailbox/query", {"accountId": acc, "filter": {"role": "inbox"}}, "q"]])[0][1]["ids"][0]
r = mset({"update": {inbox: {"name": "Elsewhere"}, pa: {"parentId": pa}, "M99999": {"name": "x"}}})
assert r["notUpdated"][inbox]["type"] == "forbidden", r
assert r["notUpdated"][pa]["properties"] == ["parentId"], r
assert r["notUpdated"]["M99999"]["type"] == "notFound", r
# an IMAP name whose parent does not exist is one JMAP name with "/":
# changing only its subscription keeps it
assert m.create("Orphan/Leaf")[0] == "OK" and m.delete("Orphan")[0] == "OK"
orphan = mbid("Orphan/Leaf")
g = api([["Mailbox/get", {"accountId": acc, "ids": [orphan], "properties": ["name", "parentId"]}, "g"]])[0][1]
assert g["list"][0]["name"] == "Orphan/Leaf" and g["list"][0]["parentId"] is None, g
r = mset({"update": {orphan: {"isSubscribed": True}}})
assert r["updated"] == {orphan: None} and "Orphan/Leaf" in subscribed() and "Orphan/Leaf" in imap_list(), r
print("ok update")

# destroy: children and messages refuse, onDestroyRemoveEmails takes them
assert m.append("Projects", None, None, b"Subject: only here\r\n\r\nx\r\n")[0] == "OK"
assert m.append("Brev2", None, None, b"Subject: in two\r\n\r\ny\r\n")[0] == "OK"
m.select("Brev2")
assert m.uid("COPY", "1", "INBOX")[0] == "OK"
typ, d = m.uid("FETCH", "1", "(EMAILID)")
two = re.search(rb"EMAILID \(([^)]+)\)", d[0]).group(1).decode()
m.close()
assert mset({"create": {"k": {"name": "Kid", "parentId": pa}}})["created"]
r = mset({"destroy": [pa, pb, inbox]})
assert r["destroyed"] == [] and r["notDestroyed"][pa]["type"] == "mailboxHasChild", r
assert r["notDestroyed"][pb]["type"] == "mailboxHasEmail" and r["notDestroyed"][inbox]["type"] == "forbidden", r
r = mset({"destroy": [pb], "onDestroyRemoveEmails": True})
assert r["destroyed"] == [pb] and "Brev2" not in imap_list(), r
g = api([["Email/get", {"accountId": acc, "ids": [two], "properties": ["mailboxIds"]}, "g"]])[0][1]
assert g["list"][0]["mailboxIds"] == {inbox: True}, g
print("ok destroy")

# ifInState
st = api([["Mailbox/get", {"accountId": acc, "ids": []}, "g"]])[0][1]["state"]
r = api([["Mailbox/set", {"accountId": acc, "ifInState": "old", "create": {"z": {"name": "Z"}}}, "s"]])[0]
assert r[0] == "error" and r[1]["type"] == "stateMismatch" and "Z" not in imap_list(), r
r = mset({"ifInState": st, "create": {"z": {"name": "Z"}}})
assert r["oldState"] == st and r["newState"] != st and "Z" in imap_list(), r
print("ok ifInState")
m.logout()
PY
brev_stop
echo ok
