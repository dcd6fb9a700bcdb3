#!/bin/bash
# Sending over JMAP (RFC 8621 6 and 7.5; issue 15, docs/jmap.md "Sending"):
# Identity/get lists the account's address and the aliases it may send as;
# a draft uploaded and imported into Drafts is sent with
# EmailSubmission/set (envelope from the message: To, Cc, Bcc), which
# delivers to local accounts (imaplib reads it: no Bcc field, a Received
# field "with HTTP", DKIM-signed) and queues the remote recipient (`brev queue list`),
# and onSuccessUpdateEmail moves the draft to Sent without $draft, with
# its implicit Email/set response. An explicit envelope limits the
# recipients. Errors: unknown identity or Email (invalidProperties), a From
# or MAIL FROM the account may not use (forbiddenFrom, forbiddenMailFrom),
# no recipients, an unknown local recipient (invalidRecipients), the
# submission capability missing from "using" (unknownMethod).
. ../lib.sh
brev_init submit
brev_user alice@example.test password-alice
brev_user bob@example.test password-bob
brev_user carol@example.test password-carol
"$BREV" -d "$D" alias add sales@example.test alice@example.test >/dev/null || fail "alias"
brev_start
wait_port "$P_HTTP"
PYTHONPATH="$ROOT/tests/e2e/jmap" python3 -u - <<'PY' || fail "submission"
import http.client, imaplib, json, os, subprocess, time
from jmapc import CORE, MAIL, Jmap, auth
SUB = "urn:ietf:params:jmap:submission"
PORT = int(os.environ["P_HTTP"])
j = Jmap(PORT)
s = j.session()
acc = j.account()
assert SUB in s["capabilities"] and s["primaryAccounts"][SUB] == acc, s
assert s["accounts"][acc]["accountCapabilities"][SUB]["maxDelayedSend"] == 0, s
U = (CORE, MAIL, SUB)

def api(calls):
    return j.api(calls, using=U)

# ---- identities ----
ids = api([["Identity/get", {"accountId": acc}, "i"]])[0][1]
emails = sorted(i["email"] for i in ids["list"])
# postmaster@ is the alias `user add` made for the domain's first account
assert emails == ["alice@example.test", "postmaster@example.test", "sales@example.test"], ids
me = next(i for i in ids["list"] if i["email"] == "alice@example.test")
sales = next(i for i in ids["list"] if i["email"] == "sales@example.test")
assert me["id"] != sales["id"] and me["mayDelete"] is False, ids
again = api([["Identity/get", {"accountId": acc, "ids": [sales["id"], "Inope"]}, "i"]])[0][1]
assert [i["email"] for i in again["list"]] == ["sales@example.test"] and again["notFound"] == ["Inope"], again
r = j.api([["Identity/get", {"accountId": acc}, "i"]])  # without the capability
assert r[0][0] == "error" and r[0][1]["type"] == "unknownMethod", r
print("ok Identity/get: the address and the aliases, stable ids, notFound; unknownMethod without the capability")

boxes = {m["role"] or m["name"]: m["id"] for m in
         api([["Mailbox/get", {"accountId": acc}, "m"]])[0][1]["list"]}

def draft(text):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    c.request("POST", "/jmap/upload/%s/" % acc, text.replace("\n", "\r\n").encode(),
              {"Authorization": auth(), "Content-Type": "message/rfc822"})
    blob = json.loads(c.getresponse().read())["blobId"]
    c.close()
    r = api([["Email/import", {"accountId": acc, "emails": {"d": {
        "blobId": blob, "mailboxIds": {boxes["drafts"]: True}, "keywords": {"$draft": True, "$seen": True}}}}, "i"]])
    return r[0][1]["created"]["d"]["id"]

eid = draft("From: Alice <alice@example.test>\nTo: bob@example.test\nCc: remote@far.test\n"
            "Bcc: carol@example.test\nSubject: sent over jmap\nMessage-ID: <jmap1@example.test>\n\nhello bob\n")
r = api([["EmailSubmission/set", {"accountId": acc,
          "create": {"s1": {"emailId": eid, "identityId": me["id"]}},
          "onSuccessUpdateEmail": {"#s1": {"mailboxIds/" + boxes["drafts"]: None,
                                           "mailboxIds/" + boxes["sent"]: True,
                                           "keywords/$draft": None}}}, "c1"]])
assert len(r) == 2 and r[0][0] == "EmailSubmission/set" and r[1][0] == "Email/set", r
assert r[0][2] == r[1][2] == "c1", r
sub = r[0][1]["created"]["s1"]
assert sub["id"].startswith("S") and sub["undoStatus"] == "final" and sub["emailId"] == eid, r[0]
assert r[1][1]["updated"] == {eid: None}, r[1]
g = api([["Email/get", {"accountId": acc, "ids": [eid], "properties": ["mailboxIds", "keywords"]}, "g"]])[0][1]["list"][0]
assert g["mailboxIds"] == {boxes["sent"]: True} and g["keywords"] == {"$seen": True}, g
print("ok EmailSubmission/set: created, final; onSuccessUpdateEmail moved the draft to Sent, $draft gone")

def inbox(who):
    m = imaplib.IMAP4("127.0.0.1", int(os.environ["P_IMAP"]))
    m.login(who + "@example.test", "password-" + who)
    m.select("INBOX")
    typ, d = m.search(None, "ALL")
    out = []
    for n in d[0].split():
        typ, f = m.fetch(n, "(BODY.PEEK[])")
        out.append(f[0][1])
    m.logout()
    return out

for who in ("bob", "carol"):
    msgs = inbox(who)
    assert len(msgs) == 1, (who, msgs)
    raw = msgs[0]
    head = raw.split(b"\r\n\r\n")[0]
    assert b"Subject: sent over jmap" in head and raw.endswith(b"\r\n\r\nhello bob\r\n"), raw
    assert b"\nBcc:" not in head and b"carol@example.test" not in head, ("Bcc sent", raw)
    assert b"with HTTP id" in head and b"Return-Path: <alice@example.test>" in head, raw
    assert b"DKIM-Signature: v=1" in head and b"d=example.test" in head, ("signed as SMTP submission is", raw)
print("ok delivered to bob (To) and carol (Bcc), without the Bcc field")
q = subprocess.run([os.environ["BREV"], "-d", os.environ["D"], "queue", "list"], capture_output=True, text=True)
assert "remote@far.test" in q.stdout, q.stdout
assert "bob@example.test" not in q.stdout and "carol" not in q.stdout, q.stdout
print("ok the remote Cc is in the outbound queue")

# an explicit envelope: only its recipients
eid2 = draft("From: sales@example.test\nTo: bob@example.test, carol@example.test\nSubject: second\n\nbody\n")
sales_id = sales["id"]
r = api([["EmailSubmission/set", {"accountId": acc, "create": {"s": {
    "emailId": eid2, "identityId": sales_id,
    "envelope": {"mailFrom": {"email": "sales@example.test", "parameters": None},
                 "rcptTo": [{"email": "carol@example.test", "parameters": None}]}}}}, "c"]])
assert len(r) == 1 and "s" in r[0][1]["created"], r
assert len(inbox("bob")) == 1 and len(inbox("carol")) == 2
print("ok an explicit envelope: only carol got the second message; sent as the alias")

# errors
bad_from = draft("From: bob@example.test\nTo: carol@example.test\nSubject: forged\n\nx\n")
no_rcpt = draft("From: alice@example.test\nSubject: nobody\n\nx\n")
unknown = draft("From: alice@example.test\nTo: nobody@example.test\nSubject: x\n\nx\n")
r = api([["EmailSubmission/set", {"accountId": acc, "create": {
    "a": {"emailId": eid2, "identityId": "Inope"},
    "b": {"emailId": "E999999", "identityId": me["id"]},
    "c": {"emailId": bad_from, "identityId": me["id"]},
    "d": {"emailId": eid2, "identityId": me["id"],
          "envelope": {"mailFrom": {"email": "bob@example.test"}, "rcptTo": [{"email": "carol@example.test"}]}},
    "e": {"emailId": no_rcpt, "identityId": me["id"]},
    "f": {"emailId": unknown, "identityId": me["id"]},
    "g": {"emailId": eid2, "identityId": me["id"], "sendAt": "2030-01-01T00:00:00Z"},
}}, "c"]])[0][1]
nc = r["notCreated"]
assert r["created"] == {}, r
assert nc["a"] == {"type": "invalidProperties", "properties": ["identityId"]}, nc
assert nc["b"] == {"type": "invalidProperties", "properties": ["emailId"]}, nc
assert nc["c"]["type"] == "forbiddenFrom" and nc["d"]["type"] == "forbiddenMailFrom", nc
assert nc["e"]["type"] == "noRecipients", nc
assert nc["f"]["type"] == "invalidRecipients" and nc["f"]["invalidRecipients"] == ["nobody@example.test"], nc
assert nc["g"]["properties"] == ["sendAt"], nc
assert len(inbox("carol")) == 2, "a refused submission delivered something"
r = api([["EmailSubmission/set", {"accountId": acc, "create": []}, "x"],
         ["EmailSubmission/set", {"accountId": "A999", "create": {}}, "y"]])
assert r[0][1]["type"] == "invalidArguments" and r[1][1]["type"] == "accountNotFound", r
print("ok EmailSubmission/set errors: invalidProperties, forbiddenFrom, forbiddenMailFrom, noRecipients, invalidRecipients")
PY
brev_stop
echo ok
