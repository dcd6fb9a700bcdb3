#!/bin/bash
# Email/set create (RFC 8621 4.6; issue 15, docs/jmap.md "Creating
# Emails"): a draft built from from/to/cc/bcc/subject (non-ASCII), textBody
# and htmlBody with bodyValues, an uploaded attachment, keywords and
# mailboxIds, read back through imaplib and parsed by Python's email
# package (the header decoded, multipart/mixed around multipart/alternative,
# the attachment's bytes); "#creationId" names it in EmailSubmission/set;
# then sent, and bob's copy parsed the same way.
# Errors: bodyStructure and unknown properties, a malformed address, a
# textBody without its bodyValue, an unknown attachment blob, no mailboxIds.
. ../lib.sh
brev_init compose
brev_user alice@example.test password-alice
brev_user bob@example.test password-bob
brev_start
wait_port "$P_HTTP"
PYTHONPATH="$ROOT/tests/e2e/jmap" python3 -u - <<'PY' || fail "compose"
import email, email.policy, http.client, imaplib, json, os
from jmapc import CORE, MAIL, Jmap, auth
SUB = "urn:ietf:params:jmap:submission"
PORT = int(os.environ["P_HTTP"])
j = Jmap(PORT)
acc = j.account()
U = (CORE, MAIL, SUB)
boxes = {m["role"] or m["name"]: m["id"] for m in
         j.api([["Mailbox/get", {"accountId": acc}, "m"]])[0][1]["list"]}
att = bytes(range(256)) * 40
c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
c.request("POST", "/jmap/upload/%s/" % acc, att, {"Authorization": auth(), "Content-Type": "application/octet-stream"})
blob = json.loads(c.getresponse().read())["blobId"]
c.close()
draft = {
    "mailboxIds": {boxes["drafts"]: True}, "keywords": {"$draft": True, "$seen": True},
    "from": [{"name": "Alice Ünïcode", "email": "alice@example.test"}],
    "to": [{"name": "Bob \"the\" Builder", "email": "bob@example.test"}],
    "cc": [{"email": "carol@far.test"}], "bcc": [{"name": None, "email": "dan@far.test"}],
    "subject": "Grüße aus dem Test, a long subject that needs more than one encoded word to be written",
    "sentAt": "2025-05-06T07:08:09Z", "inReplyTo": ["orig@example.test"], "references": ["root@example.test", "orig@example.test"],
    "textBody": [{"partId": "t", "type": "text/plain"}],
    "htmlBody": [{"partId": "h", "type": "text/html"}],
    "bodyValues": {"t": {"value": "Hello Bob,\nsee attached.\n"}, "h": {"value": "<p>Hello <b>Bob</b> — ünïcode</p>"}},
    "attachments": [{"blobId": blob, "type": "application/octet-stream", "name": "data.bin"}],
}
ident = j.api([["Identity/get", {"accountId": acc}, "i"]], using=U)[0][1]["list"][0]["id"]
env = {"mailFrom": {"email": "alice@example.test"}, "rcptTo": [{"email": "bob@example.test"}]}
r = j.api([["Email/set", {"accountId": acc, "create": {"d1": draft}}, "c"],
           ["EmailSubmission/set", {"accountId": acc, "create": {
               "s1": {"emailId": "#d1", "identityId": ident, "envelope": env},
               "s2": {"emailId": "#nope", "identityId": ident}}}, "s"]], using=U)
cr = r[0][1]["created"]["d1"]
assert cr["id"].startswith("E") and cr["size"] > len(att), r[0]
assert r[1][0] == "EmailSubmission/set", r[1]
# "#d1" names the Email just created
assert r[1][1]["created"]["s1"]["emailId"] == cr["id"], ("#d1 resolved", r[1])
assert r[1][1]["notCreated"]["s2"]["properties"] == ["emailId"], r[1]
g = j.api([["Email/get", {"accountId": acc, "ids": [cr["id"]]}, "g"]])[0][1]["list"][0]
assert g["mailboxIds"] == {boxes["drafts"]: True} and g["keywords"] == {"$draft": True, "$seen": True}, g
assert g["subject"] == draft["subject"], g

def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)

def check(msg, bcc):
    assert msg["Subject"] == draft["subject"], msg["Subject"]
    assert str(msg["From"]) == "Alice Ünïcode <alice@example.test>", msg["From"]
    assert msg["To"].addresses[0].display_name == 'Bob "the" Builder', msg["To"]
    assert msg["To"].addresses[0].addr_spec == "bob@example.test"
    assert ("Bcc" in msg) == bcc, msg.keys()
    assert msg["In-Reply-To"] == "<orig@example.test>" and msg["References"] == "<root@example.test> <orig@example.test>"
    assert msg["Date"].datetime.timestamp() == 1746515289, msg["Date"]
    assert msg.get_content_type() == "multipart/mixed", msg.get_content_type()
    alt, a = msg.get_payload()
    assert alt.get_content_type() == "multipart/alternative"
    tp, hp = alt.get_payload()
    assert tp.get_content().replace("\r\n", "\n") == "Hello Bob,\nsee attached.\n", repr(tp.get_content())
    assert hp.get_content_type() == "text/html" and "ünïcode" in hp.get_content()
    assert a.get_filename() == "data.bin" and a.get_payload(decode=True) == att

m = imaplib.IMAP4("127.0.0.1", int(os.environ["P_IMAP"]))
m.login("alice@example.test", "password-alice")
m.select("Drafts")
typ, d = m.fetch("1", "(BODY.PEEK[])")
raw = d[0][1]
assert all(len(l) <= 998 for l in raw.split(b"\r\n")) and b"\n" not in raw.replace(b"\r\n", b""), "CRLF lines"
check(parse(raw), True)
m.logout()
print("ok Email/set create: the draft in Drafts, parsed by Python's email: header, alternative text/html, attachment")

m = imaplib.IMAP4("127.0.0.1", int(os.environ["P_IMAP"]))
m.login("bob@example.test", "password-bob")
m.select("INBOX")
typ, d = m.fetch("1", "(BODY.PEEK[])")
check(parse(d[0][1]), False)
m.logout()
print("ok the created Email sent with EmailSubmission/set (emailId #d1): bob's copy parses the same, without Bcc")

def one(create):
    return j.api([["Email/set", {"accountId": acc, "create": {"x": create}}, "c"]])[0][1]["notCreated"]["x"]
base = {"mailboxIds": {boxes["drafts"]: True}}
assert one(dict(base, bodyStructure={"partId": "1"})) == {"type": "invalidProperties", "properties": ["bodyStructure"]}
assert one(dict(base, **{"header:X-Foo": "x"}))["properties"] == ["header:X-Foo"]
assert one(dict(base, to=[{"email": "not an address"}]))["properties"] == ["to"]
assert one(dict(base, textBody=[{"partId": "t"}], bodyValues={}))["properties"] == ["textBody"]
assert one(dict(base, subject="bad\r\nBcc: x@y.test"))["properties"] == ["subject"]
assert one(dict(base, attachments=[{"blobId": "U0000000000000000"}]))["type"] == "blobNotFound"
assert one({"subject": "no mailbox"})["properties"] == ["mailboxIds"]
print("ok Email/set create errors: invalidProperties, blobNotFound")
PY
brev_stop
echo ok
