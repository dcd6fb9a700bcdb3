#!/bin/bash
# Email/get's parsed properties (RFC 8621 4.1.2-4.1.4, 4.2; issue 15,
# docs/jmap.md "Reading Emails"): a message built and sent by Python's
# email package and smtplib (text/plain in ISO-8859-1 quoted-printable,
# text/html, a PDF attachment, display names with quotes and RFC 2047
# words, a group) read back: from/to/cc/replyTo, sentAt, messageId,
# inReplyTo, preview, hasAttachment, textBody/htmlBody/attachments with
# IMAP section numbers as partIds, bodyValues decoded to UTF-8 (all, text
# only, html only, cut by maxBodyValueBytes on a character boundary); a
# single-part message whose text is both textBody and htmlBody; Email/query
# with the text conditions from, to, cc, bcc, subject, body and text;
# SearchSnippet/get for them; a body part downloaded by its blobId.
. ../lib.sh
brev_init read
brev_user alice@example.test password-alice
brev_start
wait_port "$P_HTTP"
PYTHONPATH="$ROOT/tests/e2e/jmap" python3 -u - <<'PY' || fail "read"
import os, smtplib
from email.message import EmailMessage
from email.headerregistry import Address
from jmapc import Jmap
j = Jmap(int(os.environ["P_HTTP"]))
acc = j.account()
m = EmailMessage()
m["From"] = Address("Bob \"the\" Büilder", addr_spec="bob@example.test")
m["To"] = "alice@example.test, Carol Q <carol@far.test>"
m["Cc"] = "friends: dan@far.test, Eve <eve@far.test>;"
m["Reply-To"] = "replies@example.test"
m["Subject"] = "Read me"
m["Date"] = "Tue, 02 Jan 2024 10:20:30 +0100"
m["Message-ID"] = "<read1@example.test>"
m["In-Reply-To"] = "<orig@example.test>"
m.set_content("Grüße, Alice: the text part.\n", charset="iso-8859-1", cte="quoted-printable")
m.add_alternative("<p>Grüße <b>Alice</b></p>\n", subtype="html")
m.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="report.pdf")
with smtplib.SMTP("127.0.0.1", int(os.environ["P_SMTP"])) as s:
    s.send_message(m, "bob@example.test", ["alice@example.test"])
s2 = EmailMessage()
s2["From"] = "x@far.test"
s2["To"] = "alice@example.test"
s2["Subject"] = "plain"
s2.set_content("just text\n")
with smtplib.SMTP("127.0.0.1", int(os.environ["P_SMTP"])) as s:
    s.send_message(s2, "x@far.test", ["alice@example.test"])

ids = j.api([["Email/query", {"accountId": acc}, "q"]])[0][1]["ids"]
props = ["subject", "from", "to", "cc", "replyTo", "sender", "sentAt", "messageId", "inReplyTo",
         "preview", "hasAttachment", "textBody", "htmlBody", "attachments", "bodyValues"]
got = j.api([["Email/get", {"accountId": acc, "ids": ids, "properties": props, "fetchAllBodyValues": True}, "g"]])[0][1]["list"]
e = next(x for x in got if x["subject"] == "Read me")
p = next(x for x in got if x["subject"] == "plain")
assert e["from"] == [{"name": 'Bob "the" Büilder', "email": "bob@example.test"}], e["from"]
assert e["to"] == [{"name": None, "email": "alice@example.test"}, {"name": "Carol Q", "email": "carol@far.test"}], e["to"]
assert e["cc"] == [{"name": None, "email": "dan@far.test"}, {"name": "Eve", "email": "eve@far.test"}], e["cc"]
assert e["replyTo"] == [{"name": None, "email": "replies@example.test"}] and e["sender"] is None, e
assert e["sentAt"] == "2024-01-02T09:20:30Z", e["sentAt"]
assert e["messageId"] == ["read1@example.test"] and e["inReplyTo"] == ["orig@example.test"], e
assert e["preview"].startswith("Grüße, Alice"), e["preview"]
assert e["hasAttachment"] is True and p["hasAttachment"] is False
assert [x["partId"] for x in e["textBody"]] == ["1.1"] and e["textBody"][0]["type"] == "text/plain", e["textBody"]
assert [x["partId"] for x in e["htmlBody"]] == ["1.2"] and e["htmlBody"][0]["type"] == "text/html", e["htmlBody"]
a = e["attachments"]
assert len(a) == 1 and a[0]["partId"] == "2" and a[0]["type"] == "application/pdf" and a[0]["name"] == "report.pdf", a
assert a[0]["disposition"] == "attachment", a
bv = e["bodyValues"]
assert bv["1.1"]["value"].replace("\r\n", "\n") == "Grüße, Alice: the text part.\n", bv["1.1"]
assert bv["1.1"]["isTruncated"] is False and bv["1.1"]["isEncodingProblem"] is False, bv["1.1"]
assert "<b>Alice</b>" in bv["1.2"]["value"] and "Grüße" in bv["1.2"]["value"], bv["1.2"]
assert p["textBody"] == p["htmlBody"] and p["textBody"][0]["partId"] == "1" and p["attachments"] == [], p
assert p["bodyValues"]["1"]["value"].replace("\r\n", "\n") == "just text\n", p["bodyValues"]
print("ok addresses, dates, ids, preview, body structure lists, bodyValues decoded to UTF-8")

def bodies(**kw):
    a = dict({"accountId": acc, "ids": [e["id"]], "properties": ["bodyValues"]}, **kw)
    return j.api([["Email/get", a, "g"]])[0][1]["list"][0]["bodyValues"]
assert bodies() == {}, "no fetch*: no values"
assert list(bodies(fetchTextBodyValues=True)) == ["1.1"]
assert list(bodies(fetchHTMLBodyValues=True)) == ["1.2"]
cut = bodies(fetchTextBodyValues=True, maxBodyValueBytes=4)["1.1"]
assert cut["isTruncated"] is True and cut["value"] == "Grü", cut  # "ü" is 2 bytes: 4 bytes end inside nothing
cut = bodies(fetchTextBodyValues=True, maxBodyValueBytes=3)["1.1"]
assert cut["value"] == "Gr", ("not inside a character", cut)
r = j.api([["Email/get", {"accountId": acc, "ids": [], "maxBodyValueBytes": -1}, "g"]])[0]
assert r[0] == "error" and r[1]["type"] == "invalidArguments", r
print("ok fetchTextBodyValues / fetchHTMLBodyValues, maxBodyValueBytes cuts on a character boundary")

def q(f):
    r = j.api([["Email/query", {"accountId": acc, "filter": f}, "q"]])[0]
    assert r[0] == "Email/query", (f, r)
    return r[1]["ids"]
assert q({"from": "BOB"}) == [e["id"]] and q({"from": "x@far"}) == [p["id"]]
assert q({"to": "carol"}) == [e["id"]] and q({"cc": "eve@"}) == [e["id"]] and q({"bcc": "a"}) == []
assert q({"subject": "read"}) == [e["id"]] and q({"subject": "plain", "from": "bob"}) == []
assert q({"body": "just text"}) == [p["id"]] and q({"body": "Read me"}) == []
assert q({"text": "Read me"}) == [e["id"]] and q({"text": "grüße"}) == [e["id"]], "header and body, decoded"
assert q({"text": "nothing like this"}) == []
assert sorted(q({"inMailbox": ids and j.api([["Mailbox/query", {"accountId": acc, "filter": {"role": "inbox"}}, "m"]])[0][1]["ids"][0], "text": "text"})) == sorted([e["id"], p["id"]])
r = j.api([["Email/query", {"accountId": acc, "filter": {"hasKeyword": "x"}}, "q"]])[0]
assert r[0] == "error" and r[1]["type"] == "unsupportedFilter", r
print("ok Email/query filters from, to, cc, bcc, subject, body, text (decoded, case-insensitive)")

def snip(f, ids=None):
    r = j.api([["SearchSnippet/get", {"accountId": acc, "filter": f, "emailIds": ids or [e["id"], p["id"], "E99999"]}, "s"]])[0]
    assert r[0] == "SearchSnippet/get", r
    return r[1]
s = snip({"text": "alice"})
assert s["notFound"] == ["E99999"], s
se, sp = s["list"]
assert se["emailId"] == e["id"] and se["subject"] is None, se
assert "Grüße, <mark>Alice</mark>: the text part." in se["preview"], se
assert sp == {"emailId": p["id"], "subject": None, "preview": None}, sp
se = snip({"subject": "read"}, [e["id"]])["list"][0]
assert se["subject"] == "<mark>Read</mark> me" and se["preview"] is None, se
se = snip({"body": "<b>"}, [e["id"]])["list"][0]
assert "<mark>&lt;b&gt;</mark>Alice&lt;/b&gt;" in se["preview"] and "<p>" not in se["preview"], ("escaped", se)
r = j.api([["SearchSnippet/get", {"accountId": acc, "filter": {"hasKeyword": "x"}, "emailIds": []}, "s"],
           ["SearchSnippet/get", {"accountId": acc, "filter": {"text": "x"}}, "t"]])
assert r[0][1]["type"] == "unsupportedFilter" and r[1][1]["type"] == "invalidArguments", r
print("ok SearchSnippet/get: subject and preview with <mark>, HTML escaped, null without a match, notFound")

import http.client
from jmapc import auth
def download(blob, name="x.bin", who="alice"):
    c = http.client.HTTPConnection("127.0.0.1", int(os.environ["P_HTTP"]), timeout=30)
    c.request("GET", "/jmap/download/%s/%s/%s?accept=application/pdf" % (acc, blob, name), headers={"Authorization": auth(who)})
    r = c.getresponse()
    d = r.read()
    c.close()
    return r, d
r, d = download(a[0]["blobId"], "report.pdf")
assert r.status == 200 and d == b"%PDF-1.4 fake", (r.status, d)
assert r.getheader("Content-Type") == "application/pdf" and 'filename="report.pdf"' in r.getheader("Content-Disposition")
r, d = download(e["textBody"][0]["blobId"])
assert r.status == 200 and d.replace(b"\r\n", b"\n") == "Grüße, Alice: the text part.\n".encode("iso-8859-1"), d
for bad in (a[0]["blobId"] + "_1", a[0]["blobId"].split("_")[0] + "_9", a[0]["blobId"].split("_")[0] + "_0", "B999_1"):
    r, d = download(bad)
    assert r.status == 404, (bad, r.status)
print("ok a body part's blobId downloads its decoded bytes; a wrong section is 404")
PY
brev_stop
echo ok
