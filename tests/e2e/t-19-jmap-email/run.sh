#!/bin/bash
# JMAP Email/query and Email/get basics (RFC 8621 4.4, 4.2; docs/jmap.md)
# on messages Python's imaplib appended with their own INTERNALDATEs and
# flags: query by inMailbox sorted by receivedAt both ways, with position,
# limit and total; get with id, blobId, threadId, mailboxIds, keywords
# (IMAP's \Seen and \Flagged), size (IMAP's RFC822.SIZE), receivedAt (IMAP's
# INTERNALDATE) and the decoded Subject; RFC 8621's query-then-get by
# result reference; a flag set over IMAP changes keywords and state; the
# unsupported filters and sorts are refused.
. ../lib.sh
brev_init email
brev_user alice@example.test password-alice
brev_start
wait_port "$P_HTTP"
PYTHONPATH="$ROOT/tests/e2e/jmap" python3 -u - "$P_HTTP" "$P_IMAP" <<'PY' || fail "jmap email"
import imaplib, re, sys, time
port, iport = int(sys.argv[1]), int(sys.argv[2])
from jmapc import MAIL, Jmap
jm = Jmap(port)
api = jm.api

m = imaplib.IMAP4("127.0.0.1", iport)
m.login("alice@example.test", "password-alice")
m.create("Work")
msgs = [("INBOX", "2024-03-01T10:00:00Z", "(\\Seen)", b"Subject: first\r\n"),
        ("INBOX", "2024-01-15T08:30:00Z", "(\\Flagged)", b"Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n"),
        ("INBOX", "2024-06-30T23:59:59Z", None, b"Subject:  third\r\n\tfolded\r\n"),
        ("Work", "2023-12-31T00:00:00Z", None, b"X-No-Subject: 1\r\n")]
for box, date, flags, hdr in msgs:
    t = time.mktime(time.strptime(date, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    body = b"From: b@example.test\r\n" + hdr + b"\r\nbody of " + date.encode() + b"\r\n"
    typ, _ = m.append(box, flags, imaplib.Time2Internaldate(t), body)
    assert typ == "OK"
m.select("INBOX")
typ, d = m.uid("FETCH", "1:*", "(RFC822.SIZE INTERNALDATE)")
sizes = [int(re.search(rb"RFC822.SIZE (\d+)", x).group(1)) for x in d if isinstance(x, bytes)]

r = api([["Mailbox/query", {"accountId": None}, "x"]])  # invalidArguments: accountId must be a string
assert r[0][0] == "error"
acc = jm.account()
inbox = api([["Mailbox/query", {"accountId": acc, "filter": {"role": "inbox"}}, "q"]])[0][1]["ids"][0]

# RFC 8621 4.4's example shape: query a mailbox newest first, get by reference
r = api([["Email/query", {"accountId": acc, "filter": {"inMailbox": inbox},
                          "sort": [{"property": "receivedAt", "isAscending": False}],
                          "position": 0, "limit": 10, "calculateTotal": True}, "t0"],
         ["Email/get", {"accountId": acc, "#ids": {"resultOf": "t0", "name": "Email/query", "path": "/ids"},
                        "properties": ["threadId", "mailboxIds", "keywords", "subject", "receivedAt", "size", "blobId"]}, "t1"]])
q, g = r[0][1], r[1][1]
assert q["total"] == 3 and len(q["ids"]) == 3 and q["canCalculateChanges"] is False, q
got = g["list"]
assert [e["receivedAt"] for e in got] == ["2024-06-30T23:59:59Z", "2024-03-01T10:00:00Z", "2024-01-15T08:30:00Z"], got
assert [e["subject"] for e in got] == ["third\tfolded", "first", "Grüße"], [e["subject"] for e in got]
assert got[1]["keywords"] == {"$seen": True} and got[2]["keywords"] == {"$flagged": True} and got[0]["keywords"] == {}, got
assert all(e["mailboxIds"] == {inbox: True} for e in got)
assert sorted(e["size"] for e in got) == sorted(sizes), (got, sizes)
assert all(re.fullmatch(r"E[1-9][0-9]*", e["id"]) and e["threadId"] == "T" + e["id"] for e in got)
assert len({e["blobId"] for e in got}) == 3 and g["notFound"] == []
print("ok query + get by reference")

# ascending by default, all mailboxes, position and limit
r = api([["Email/query", {"accountId": acc, "sort": [{"property": "receivedAt"}], "calculateTotal": True}, "a"],
         ["Email/query", {"accountId": acc, "sort": [{"property": "receivedAt"}], "position": 1, "limit": 2}, "b"],
         ["Email/query", {"accountId": acc, "sort": [{"property": "receivedAt"}], "position": -1}, "c"]])
allids = r[0][1]["ids"]
r2 = api([["Email/query", {"accountId": acc}, "n"], ["Email/query", {"accountId": acc, "limit": 5000}, "l"]])
assert r2[0][1]["ids"] == allids[::-1], ("no sort: newest first", r2[0])
assert r2[1][1]["limit"] == 1000 and len(r2[1][1]["ids"]) == 4, r2[1]
assert r[0][1]["total"] == 4 and r[1][1]["ids"] == allids[1:3] and r[2][1]["ids"] == allids[3:], r
first = api([["Email/get", {"accountId": acc, "ids": [allids[0]], "properties": ["subject", "mailboxIds"]}, "g"]])[0][1]
assert first["list"][0]["subject"] is None and list(first["list"][0]["mailboxIds"]) != [inbox], first
assert set(first["list"][0]) == {"id", "subject", "mailboxIds"}, first
print("ok ordering, position, limit")

# a flag set over IMAP shows as a keyword, and the state moves
s1 = api([["Email/get", {"accountId": acc, "ids": []}, "g"]])[0][1]["state"]
m.uid("STORE", "3", "+FLAGS", "(\\Seen \\Answered)")
r = api([["Email/query", {"accountId": acc, "filter": {"inMailbox": inbox}, "sort": [{"property": "receivedAt", "isAscending": False}], "limit": 1}, "q"],
         ["Email/get", {"accountId": acc, "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}, "properties": ["keywords"]}, "g"]])
assert r[1][1]["list"][0]["keywords"] == {"$seen": True, "$answered": True}, r[1]
assert r[1][1]["state"] != s1
m.logout()
print("ok IMAP flags as keywords")

# errors
r = api([["Email/get", {"accountId": acc, "ids": ["E99999", "nonsense", allids[0]], "properties": ["size"]}, "a"],
         ["Email/get", {"accountId": acc, "ids": None}, "b"],
         ["Email/get", {"accountId": acc, "ids": [], "properties": ["references"]}, "c"],
         ["Email/query", {"accountId": acc, "filter": {"hasKeyword": "x"}}, "d"],
         ["Email/query", {"accountId": acc, "sort": [{"property": "subject"}]}, "e"],
         ["Email/query", {"accountId": acc, "filter": {"inMailbox": "M999"}}, "f"],
         ["Email/get", {"accountId": acc, "ids": ["x"] * 501}, "h"]])
assert r[0][1]["notFound"] == ["E99999", "nonsense"] and len(r[0][1]["list"]) == 1, r[0]
types = [a.get("type") for n, a, c in r[1:]]
assert types == ["invalidArguments", "invalidArguments", "unsupportedFilter", "unsupportedSort", "invalidArguments", "requestTooLarge"], types
print("ok errors")
PY
brev_stop
echo ok
