#!/bin/bash
# JMAP blob download (RFC 8620 6.2; docs/jmap.md "Download"): the bytes of
# an Email's blobId at the session's downloadUrl are exactly what IMAP
# (Python's imaplib) FETCH BODY[] gives, for a small message and a 3 MB one
# (read from the store in pieces); accept sets the Content-Type; HEAD gives
# the length only; another account's blob, a wrong accountId, an unknown or
# malformed blobId and a message expunged over IMAP are 404; no password
# is 401.
. ../lib.sh
brev_init download
brev_user alice@example.test password-alice
brev_user bob@example.test password-bob
brev_start
wait_port "$P_HTTP"
PYTHONPATH="$ROOT/tests/e2e/jmap" python3 -u - "$P_HTTP" "$P_IMAP" <<'PY' || fail "jmap download"
import base64, http.client, imaplib, json, os, re, sys
port, iport = int(sys.argv[1]), int(sys.argv[2])
from jmapc import CORE, MAIL, auth

def req(method, path, who="alice", body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    h = {"Authorization": auth(who)} if who else {}
    c.request(method, path, body, h)
    r = c.getresponse()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()

st, _, data = req("GET", "/.well-known/jmap")
sess = json.loads(data)
acc = sess["primaryAccounts"][MAIL]
durl = sess["downloadUrl"]

def url(a, blob, name="m.eml", typ="message/rfc822"):
    return durl.replace("{accountId}", a).replace("{blobId}", blob).replace("{name}", name).replace("{type}", typ)

m = imaplib.IMAP4("127.0.0.1", iport)
m.login("alice@example.test", "password-alice")
small = b"From: b@example.test\r\nSubject: dl\r\n\r\n8-bit: \xc3\xa9\xe2\x82\xac\r\n"
big = b"From: b@example.test\r\nSubject: big\r\n\r\n" + b"".join(
    base64.b64encode(os.urandom(57)) + b"\r\n" for _ in range(40000))
for msg in (small, big):
    assert m.append("INBOX", None, None, msg)[0] == "OK"
m.select("INBOX")
typ, d = m.uid("FETCH", "1:*", "(EMAILID BODY.PEEK[])")
imap = {}
for x in d:
    if isinstance(x, tuple):
        imap[re.search(rb"EMAILID \(([^)]+)\)", x[0]).group(1).decode()] = x[1]
body = json.dumps({"using": [CORE, MAIL], "methodCalls": [["Email/get", {"accountId": acc,
                   "ids": list(imap), "properties": ["blobId", "size"]}, "g"]]})
st, _, data = req("POST", "/jmap/api/", body=body)
emails = json.loads(data)["methodResponses"][0][1]["list"]
assert len(emails) == 2
for e in emails:
    st, h, got = req("GET", url(acc, e["blobId"]))
    assert st == 200 and h["content-type"] == "message/rfc822", (st, h)
    assert got == imap[e["id"]] and len(got) == e["size"], (len(got), e["size"], len(imap[e["id"]]))
    assert 'filename="m.eml"' in h["content-disposition"]
print("ok the bytes IMAP FETCH BODY[] gives, %s bytes" % [e["size"] for e in emails])

blob = emails[0]["blobId"]
st, h, got = req("HEAD", url(acc, blob))
assert st == 200 and got == b"" and int(h["content-length"]) == emails[0]["size"], (st, h)
st, h, _ = req("GET", url(acc, blob, typ="text/html;x=\"y\""))
assert st == 200 and h["content-type"] == "application/octet-stream", h
st, _, _ = req("GET", url(acc, blob), who=None)
assert st == 401, st
assert req("GET", url(acc, blob), who="bob")[0] == 404, "bob's account is not alice's"
st, _, data = req("GET", "/.well-known/jmap", who="bob")
bacc = json.loads(data)["primaryAccounts"][MAIL]
assert req("GET", url(bacc, blob), who="bob")[0] == 404, "alice's blob is not in bob's account"
for bad in ("B0", "Bzz", "B1ffffffffffffffff", "x", "B" + "f" * 15):
    assert req("GET", url(acc, bad))[0] == 404, bad
for name in ("a%20b", "x" * 128, ""):
    assert req("GET", url(acc, blob, name=name))[0] == 404, name
assert req("GET", url(acc, blob, name="x" * 127))[0] == 200
print("ok HEAD, accept, 401 and 404s")

m.uid("STORE", "1:*", "+FLAGS.SILENT", "(\\Deleted)")
m.expunge()
assert req("GET", url(acc, blob))[0] == 404, "expunged"
print("ok expunged is 404")
m.logout()
PY
brev_stop
echo ok
