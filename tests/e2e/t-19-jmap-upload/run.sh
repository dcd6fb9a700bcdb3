#!/bin/bash
# Blob upload (RFC 8620 6.1) and Email/import (RFC 8621 4.8), issue 15,
# docs/jmap.md "Upload" and "Email/import": curl uploads (201 and the
# blob's JSON; 404 for another account id, 405, 413 before the body is
# read, 413 overQuota past the uploads an account may keep; a cookie
# upload needs the CSRF token), then Email/import into one and into two
# mailboxes, checked through imaplib (the bytes, the flags from keywords,
# INTERNALDATE from receivedAt), and the import's errors (blobNotFound for
# an unknown or another account's blob, invalidProperties, stateMismatch,
# invalidArguments).
. ../lib.sh
brev_init upload
brev_user alice@example.test password-alice
brev_user bob@example.test password-bob
brev_start -o limits.message_size=64K
wait_port "$P_HTTP"
U="http://127.0.0.1:$P_HTTP"
ACC=$(curl -sS --max-time 20 -u alice@example.test:password-alice "$U/.well-known/jmap" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["primaryAccounts"]["urn:ietf:params:jmap:mail"])')
printf 'From: alice@example.test\r\nTo: bob@example.test\r\nSubject: imported\r\nMessage-ID: <imp1@example.test>\r\n\r\nfirst line\r\nsecond line\r\n' >"$T/msg.eml"
code=$(curl -sS --max-time 20 -u alice@example.test:password-alice -o "$T/up.json" -w '%{http_code}' \
	-H 'Content-Type: message/rfc822' --data-binary @"$T/msg.eml" "$U/jmap/upload/$ACC/")
[ "$code" = 201 ] || fail "upload: $code $(cat "$T/up.json")"
python3 - "$T/up.json" "$ACC" "$(stat -c %s "$T/msg.eml")" <<'PY' || fail "upload JSON"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["accountId"] == sys.argv[2] and j["type"] == "message/rfc822", j
assert j["size"] == int(sys.argv[3]) and j["blobId"].startswith("U"), j
PY
echo "ok upload: 201 with accountId, blobId, type, size"
code=$(curl -sS --max-time 20 -u alice@example.test:password-alice -o /dev/null -w '%{http_code}' \
	--data-binary @"$T/msg.eml" "$U/jmap/upload/A999/")
[ "$code" = 404 ] || fail "another account id: $code"
code=$(curl -sS --max-time 20 -u alice@example.test:password-alice -o /dev/null -w '%{http_code}' "$U/jmap/upload/$ACC/")
[ "$code" = 405 ] || fail "GET: $code"
code=$(curl -sS --max-time 20 -o /dev/null -w '%{http_code}' --data-binary @"$T/msg.eml" "$U/jmap/upload/$ACC/")
[ "$code" = 401 ] || fail "no password: $code"
head -c 70000 /dev/urandom >"$T/big"
code=$(curl -sS --max-time 20 -u alice@example.test:password-alice -o /dev/null -w '%{http_code}' \
	-H 'Expect: 100-continue' --data-binary @"$T/big" "$U/jmap/upload/$ACC/")
[ "$code" = 413 ] || fail "over maxSizeUpload: $code"
echo "ok upload: 404 another account, 405 GET, 401 no password, 413 over maxSizeUpload"

export ACC
PYTHONPATH="$ROOT/tests/e2e/jmap" python3 -u - "$T" <<'PY' || fail "import"
import http.client, imaplib, json, os, ssl, sys, time
from jmapc import CORE, MAIL, Jmap, auth
T = sys.argv[1]
PORT, ACC = int(os.environ["P_HTTP"]), os.environ["ACC"]
j, bob = Jmap(PORT), Jmap(PORT, "bob")
raw = open(os.path.join(T, "msg.eml"), "rb").read()
blob = json.load(open(os.path.join(T, "up.json")))["blobId"]

def upload(data, who="alice", headers=None):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    h = {"Authorization": auth(who), "Content-Type": "message/rfc822"}
    h.update(headers or {})
    acc = ACC if who == "alice" else bob.account()
    c.request("POST", "/jmap/upload/%s/" % acc, data, h)
    r = c.getresponse()
    d = r.read()
    c.close()
    return r.status, d

boxes = {m["role"] or m["name"]: m["id"] for m in
         j.api([["Mailbox/get", {"accountId": ACC}, "m"]])[0][1]["list"]}
st = j.api([["Email/get", {"accountId": ACC, "ids": []}, "s"]])[0][1]["state"]
r = j.api([["Email/import", {"accountId": ACC, "ifInState": st, "emails": {
    "a": {"blobId": blob, "mailboxIds": {boxes["drafts"]: True},
          "keywords": {"$draft": True, "$Seen": True, "work": True},
          "receivedAt": "2024-02-03T04:05:06Z"}}}, "i"]])[0]
assert r[0] == "Email/import" and r[1]["oldState"] == st and r[1]["newState"] != st, r
c = r[1]["created"]["a"]
assert c["id"].startswith("E") and c["threadId"] and c["blobId"] and c["size"] == len(raw), c
g = j.api([["Email/get", {"accountId": ACC, "ids": [c["id"]]}, "g"]])[0][1]["list"][0]
assert g["mailboxIds"] == {boxes["drafts"]: True}, g
assert g["keywords"] == {"$draft": True, "$seen": True, "work": True}, g
assert g["receivedAt"] == "2024-02-03T04:05:06Z" and g["subject"] == "imported", g
# IMAP sees the same message
m = imaplib.IMAP4("127.0.0.1", int(os.environ["P_IMAP"]))
m.login("alice@example.test", "password-alice")
m.select("Drafts")
typ, d = m.fetch("1", "(FLAGS INTERNALDATE BODY.PEEK[])")
meta = d[0][0].decode()
assert d[0][1] == raw, d[0][1]
for f in ("\\Draft", "\\Seen", "work"):
    assert f in meta, meta
assert "03-Feb-2024 04:05:06 +0000" in meta, meta
print("ok Email/import into Drafts: bytes, flags from keywords, INTERNALDATE; IMAP agrees")

# the same blob again into two mailboxes: one Email in both
r = j.api([["Email/import", {"accountId": ACC, "emails": {
    "b": {"blobId": blob, "mailboxIds": {boxes["inbox"]: True, boxes["archive"]: True}}}}, "i"]])[0][1]
c2 = r["created"]["b"]
g = j.api([["Email/get", {"accountId": ACC, "ids": [c2["id"]], "properties": ["mailboxIds", "keywords"]}, "g"]])[0][1]["list"][0]
assert g["mailboxIds"] == {boxes["inbox"]: True, boxes["archive"]: True} and g["keywords"] == {}, g
m.select("Archive")
typ, d = m.fetch("1", "(BODY.PEEK[])")
assert d[0][1] == raw
m.logout()
print("ok Email/import into two mailboxes: one Email, a copy in each")

# errors
st = j.api([["Email/get", {"accountId": ACC, "ids": []}, "s"]])[0][1]["state"]
s, d = upload(b"From: bob@example.test\r\n\r\nbob's\r\n", "bob")
assert s == 201, (s, d)
bob_blob = json.loads(d)["blobId"]
r = j.api([["Email/import", {"accountId": ACC, "emails": {
    "u": {"blobId": "U0000000000000000", "mailboxIds": {boxes["inbox"]: True}},
    "o": {"blobId": bob_blob, "mailboxIds": {boxes["inbox"]: True}},
    "m": {"blobId": blob, "mailboxIds": {"M99999": True}},
    "n": {"blobId": blob, "mailboxIds": {}},
    "k": {"blobId": blob, "mailboxIds": {boxes["inbox"]: True}, "keywords": {"bad(kw": True}},
    "d": {"blobId": blob, "mailboxIds": {boxes["inbox"]: True}, "receivedAt": "yesterday"},
    "x": {"blobId": blob, "mailboxIds": {boxes["inbox"]: True}, "size": 3},
    "e": {"blobId": c["blobId"], "mailboxIds": {boxes["inbox"]: True}},
}}, "i"]])[0][1]
nc = r["notCreated"]
assert r["created"] == {} and r["newState"] == st, r
assert nc["u"]["type"] == "blobNotFound" and nc["o"]["type"] == "blobNotFound", nc
assert nc["e"]["type"] == "blobNotFound", ("a message's blobId is not an upload", nc)
assert nc["m"] == {"type": "invalidProperties", "properties": ["mailboxIds"]}, nc
assert nc["n"]["properties"] == ["mailboxIds"] and nc["k"]["properties"] == ["keywords"], nc
assert nc["d"]["properties"] == ["receivedAt"] and nc["x"]["properties"] == ["size"], nc
r = j.api([["Email/import", {"accountId": ACC, "ifInState": "nope", "emails": {}}, "i"],
           ["Email/import", {"accountId": ACC}, "j"],
           ["Email/import", {"accountId": "A999", "emails": {}}, "k"]])
assert r[0][1]["type"] == "stateMismatch", r[0]
assert r[1][1]["type"] == "invalidArguments", r[1]
assert r[2][1]["type"] == "accountNotFound", r[2]
print("ok Email/import errors: blobNotFound, invalidProperties, stateMismatch, invalidArguments")

# an account keeps at most four times maxSizeUpload of uploads
chunk = b"x" * 60000
codes = [upload(chunk)[0] for _ in range(5)]
assert codes[:3] == [201] * 3 and codes[-1] == 413, codes
s, d = upload(chunk)
assert s == 413 and json.loads(d)["type"].endswith("overQuota"), (s, d)
s, d = upload(b"small", "bob")
assert s == 201, ("another account is not limited by alice's", s)
print("ok uploads kept per account bounded: 413 overQuota", codes)
PY

# a cookie upload needs the CSRF token
curl -sS --max-time 20 -c "$T/jar" -H 'Content-Type: application/json' \
	--data '{"username":"bob@example.test","password":"password-bob"}' "$U/login" >"$T/login.json" || fail login
CSRF=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["csrfToken"])' "$T/login.json")
BACC=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["accountId"])' "$T/login.json")
code=$(curl -sS --max-time 20 -b "$T/jar" -o /dev/null -w '%{http_code}' --data-binary @"$T/msg.eml" "$U/jmap/upload/$BACC/")
[ "$code" = 403 ] || fail "cookie upload without CSRF token: $code"
code=$(curl -sS --max-time 20 -b "$T/jar" -H "X-CSRF-Token: $CSRF" -o /dev/null -w '%{http_code}' \
	--data-binary @"$T/msg.eml" "$U/jmap/upload/$BACC/")
[ "$code" = 201 ] || fail "cookie upload with the token: $code"
echo "ok cookie upload: 403 without the CSRF token, 201 with it"
brev_stop
echo ok
