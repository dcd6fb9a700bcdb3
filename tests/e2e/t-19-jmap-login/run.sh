#!/bin/bash
# Browser sessions (issue 15, docs/http.md "Browser sessions") with Python's
# http.client, ssl and imaplib, and curl's cookie jar:
# - POST /login with JSON and with a form: 200, the account's JSON with a
#   CSRF token, Set-Cookie brev_session (HttpOnly, SameSite=Strict, Path=/,
#   Secure only over https); a wrong password: 401 with {"error"};
# - GET /session with the cookie gives the same JSON, without it 401;
# - the cookie works on /jmap/api/ and /.well-known/jmap; a POST by cookie
#   without X-CSRF-Token or with a wrong one is 403 and changes nothing
#   (Email/set), Basic auth needs no token;
# - POST /logout: 403 without the token, 204 with it, the cookie cleared
#   (Max-Age=0) and the session gone (401 after);
# - a session survives a restart of brev; `brev user passwd` ends it;
#   http.session_idle ends an idle one;
# - failed logins over IMAP and /login share the throttle: /login answers
#   429 when it refuses.
. ../lib.sh
brev_init login
brev_user alice@example.test password-alice
brev_user bob@example.test password-bob
brev_start
wait_port "$P_HTTP"
CLI="$BREV -d $D"
# a message for alice, to see that a refused request changed nothing
printf 'From: bob@example.test\r\nTo: alice@example.test\r\nSubject: hello\r\n\r\nbody\r\n' |
	curl -sS --max-time 20 "smtp://127.0.0.1:$P_SMTP/t" --mail-from bob@example.test \
		--mail-rcpt alice@example.test -T - || fail "smtp"

# curl as a browser would: its cookie jar keeps what /login set
curl -sS --max-time 20 -c "$T/jar" -H 'Content-Type: application/x-www-form-urlencoded' \
	--data 'username=alice%40example.test&password=password-alice' \
	"http://127.0.0.1:$P_HTTP/login" >"$T/form.json" || fail "curl form login"
grep -q '"username":"alice@example.test"' "$T/form.json" || fail "form login: $(cat "$T/form.json")"
grep -q '#HttpOnly_127.0.0.1.*brev_session' "$T/jar" || fail "no HttpOnly cookie in curl's jar: $(cat "$T/jar")"
curl -sS --max-time 20 -b "$T/jar" "http://127.0.0.1:$P_HTTP/session" | grep -q '"csrfToken":"' ||
	fail "curl /session with the jar"
echo "ok form login with curl"

cat >"$T/lib.py" <<'PY'
import http.client, json, os, ssl, sys
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tests/e2e/jmap"))
from jmapc import CORE, MAIL, auth
PORT, SPORT = int(os.environ["P_HTTP"]), int(os.environ["P_HTTPS"])

def req(method, path, body=None, headers=None, tls=False):
    if tls:
        ctx = ssl.create_default_context(cafile=os.path.join(os.environ["D"], "cert.pem"))
        c = http.client.HTTPSConnection("localhost", SPORT, timeout=60, context=ctx)
    else:
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data

def login(user="alice@example.test", pw="password-alice", tls=False):
    r, data = req("POST", "/login", json.dumps({"username": user, "password": pw}),
                  {"Content-Type": "application/json"}, tls)
    return r, data

def cookie_of(r):
    sc = r.getheader("Set-Cookie")
    assert sc and sc.startswith("brev_session="), sc
    return sc.split(";")[0].split("=", 1)[1], sc

def session(cookie):
    return req("GET", "/session", headers={"Cookie": "other=1; brev_session=" + cookie})

def api(cookie, calls, csrf=None, extra=None):
    h = {"Cookie": "brev_session=" + cookie, "Content-Type": "application/json"}
    if csrf is not None:
        h["X-CSRF-Token"] = csrf
    h.update(extra or {})
    return req("POST", "/jmap/api/", json.dumps({"using": [CORE, MAIL], "methodCalls": calls}), h)
PY
export ROOT T
python3 -u - <<'PY' || fail "sessions"
import json, os, sys
sys.path.insert(0, os.environ["T"])
from lib import *

# ---- login ----
r, data = login(pw="wrong")
assert r.status == 401 and json.loads(data).get("error"), (r.status, data)
assert r.getheader("Set-Cookie") is None and r.getheader("WWW-Authenticate") is None
r, data = req("POST", "/login", b"{not json", {"Content-Type": "application/json"})
assert r.status == 400 and json.loads(data).get("error"), (r.status, data)
r, _ = req("GET", "/login")
assert r.status == 405 and r.getheader("Allow") == "POST", r.status
r, data = login()
assert r.status == 200 and r.getheader("Content-Type") == "application/json", (r.status, data)
assert r.getheader("Cache-Control") == "no-store"
j = json.loads(data)
assert j["username"] == "alice@example.test" and j["admin"] is False, j
assert j["accountId"].startswith("A") and len(j["csrfToken"]) == 64, j
cookie, sc = cookie_of(r)
attrs = [a.strip() for a in sc.split(";")[1:]]
assert sorted(attrs) == ["HttpOnly", "Path=/", "SameSite=Strict"], sc  # no Secure over http
assert len(cookie) == 64, cookie
csrf = j["csrfToken"]
# the account id is the one the JMAP session resource gives
r, data = req("GET", "/.well-known/jmap", headers={"Cookie": "brev_session=" + cookie})
assert r.status == 200, r.status
assert json.loads(data)["primaryAccounts"][MAIL] == j["accountId"]
# over https the cookie is Secure
r, data = login(tls=True)
assert r.status == 200, r.status
_, sc = cookie_of(r)
assert "Secure" in [a.strip() for a in sc.split(";")], sc
print("ok login: JSON, cookie flags (Secure only over https), 401 and 400 as JSON")

# ---- /session ----
r, data = session(cookie)
assert r.status == 200 and json.loads(data) == j, (r.status, data)
r, data = req("GET", "/session")
assert r.status == 401 and json.loads(data)["error"] and r.getheader("WWW-Authenticate") is None
r, data = session("0" * 64)
assert r.status == 401, r.status
r, data = session("not-a-token")
assert r.status == 401, r.status
print("ok /session with the cookie, 401 without, with an unknown or malformed one")

# ---- CSRF ----
acc = j["accountId"]
q = [["Email/query", {"accountId": acc}, "q"]]
r, data = api(cookie, q, csrf)
assert r.status == 200, (r.status, data)
ids = json.loads(data)["methodResponses"][0][1]["ids"]
assert len(ids) == 1, ids
destroy = [["Email/set", {"accountId": acc, "destroy": ids}, "d"]]
r, _ = api(cookie, destroy)
assert r.status == 403, ("no token", r.status)
r, _ = api(cookie, destroy, "x" * 64)
assert r.status == 403, ("wrong token", r.status)
r, _ = api(cookie, destroy, csrf[:-1])
assert r.status == 403, ("short token", r.status)
r, data = login(user="bob@example.test", pw="password-bob")
bob_csrf = json.loads(data)["csrfToken"]
r, _ = api(cookie, destroy, bob_csrf)
assert r.status == 403, ("another session's token", r.status)
r, data = api(cookie, q, csrf)
assert json.loads(data)["methodResponses"][0][1]["ids"] == ids, "a refused request changed something"
# GET needs no token; Basic needs none either
r, _ = req("GET", "/.well-known/jmap", headers={"Cookie": "brev_session=" + cookie})
assert r.status == 200, r.status
r, data = req("POST", "/jmap/api/", json.dumps({"using": [CORE], "methodCalls": [["Core/echo", {}, "e"]]}),
              {"Authorization": auth(), "Content-Type": "application/json"})
assert r.status == 200, r.status
# an unknown cookie on the API: 401, without a Basic challenge
r, _ = api("0" * 64, q, csrf)
assert r.status == 401 and r.getheader("WWW-Authenticate") is None, r.status
print("ok CSRF: 403 without, with a wrong, a short or another session's token; GET and Basic need none")

# ---- logout ----
r, data = login()
c2, _ = cookie_of(r)
t2 = json.loads(data)["csrfToken"]
r, _ = req("POST", "/logout", b"", {"Cookie": "brev_session=" + c2})
assert r.status == 403, r.status
r, _ = req("POST", "/logout", b"", {"Cookie": "brev_session=" + c2, "X-CSRF-Token": csrf})
assert r.status == 403, ("the token of another session", r.status)
r, _ = session(c2)
assert r.status == 200, r.status
r, data = req("POST", "/logout", b"", {"Cookie": "brev_session=" + c2, "X-CSRF-Token": t2})
assert r.status == 204 and not data, r.status
sc = r.getheader("Set-Cookie")
assert sc.startswith("brev_session=;") and "Max-Age=0" in sc, sc
r, _ = session(c2)
assert r.status == 401, r.status
r, _ = api(c2, q, t2)
assert r.status == 401, r.status
r, _ = req("POST", "/logout", b"", {"Cookie": "brev_session=" + c2, "X-CSRF-Token": t2})
assert r.status == 401, r.status
r, _ = session(cookie)
assert r.status == 200, "logout ended another session"
print("ok logout: 403 without its token, 204, cookie cleared, session gone, others kept")
open(os.path.join(os.environ["T"], "cookie"), "w").write(cookie)
PY

# ---- a restart keeps the session ----
brev_stop
brev_start
wait_port "$P_HTTP"
python3 -u - <<'PY' || fail "restart"
import os, sys
sys.path.insert(0, os.environ["T"])
from lib import *
cookie = open(os.path.join(os.environ["T"], "cookie")).read()
r, _ = session(cookie)
assert r.status == 200, ("after a restart", r.status)
print("ok the session survives a restart")
PY

# ---- a password change ends it ----
printf 'password-alice-2\n' | $CLI user passwd alice@example.test >/dev/null || fail "passwd"
python3 -u - <<'PY' || fail "passwd"
import os, sys
sys.path.insert(0, os.environ["T"])
from lib import *
cookie = open(os.path.join(os.environ["T"], "cookie")).read()
r, _ = session(cookie)
assert r.status == 401, ("after brev user passwd", r.status)
r, _ = login(user="bob@example.test", pw="password-bob")
assert r.status == 200
r, _ = login(pw="password-alice")
assert r.status == 401, "the old password"
r, _ = login(pw="password-alice-2")
assert r.status == 200, "the new password"
print("ok brev user passwd ends the account's sessions")
PY

# ---- idle expiry ----
brev_stop
brev_start -o http.session_idle=5s
wait_port "$P_HTTP"
python3 -u - <<'PY' || fail "idle"
import json, os, sys, time
sys.path.insert(0, os.environ["T"])
from lib import *
r, _ = login(pw="password-alice-2")
c, _ = cookie_of(r)
# used every 2 s for 8 s: each use moves its idle time on
for i in range(4):
    r, _ = session(c)
    assert r.status == 200, ("used within http.session_idle", i, r.status)
    time.sleep(2)
time.sleep(6)
r, _ = session(c)
assert r.status == 401, ("idle longer than http.session_idle", r.status)
print("ok http.session_idle: kept while used, gone after 5 s idle")
PY

# ---- the throttle, shared with IMAP ----
python3 -u - <<'PY' || fail "throttle"
import imaplib, json, os, socket, sys, threading, time
sys.path.insert(0, os.environ["T"])
from lib import *
SRC = "127.0.0.77"
class IMAP(imaplib.IMAP4):
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, (SRC, 0))
# failures over IMAP from SRC until one waits its turn for seconds
t0 = time.monotonic()
for i in range(12):
    m = IMAP("127.0.0.1", int(os.environ["P_IMAP"]), timeout=60)
    t = time.monotonic()
    try:
        m.login("alice@example.test", "wrong")
        raise AssertionError("logged in with a wrong password")
    except imaplib.IMAP4.error:
        pass
    dt = time.monotonic() - t
    m.shutdown()
    if dt > 3.5:
        break
assert dt > 3.5, "IMAP failures did not slow down"
print("# %d IMAP failures, %.1f s" % (i + 1, time.monotonic() - t0))
# now /login from the same address: its failures queue behind IMAP's, and
# the throttle refuses what would wait more than its bound: 429
results = []
def one():
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120, source_address=(SRC, 0))
    c.request("POST", "/login", json.dumps({"username": "alice@example.test", "password": "wrong"}),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    results.append((r.status, r.getheader("Retry-After"), r.read()))
    c.close()
ths = [threading.Thread(target=one, daemon=True) for _ in range(10)]
for th in ths:
    th.start()
deadline = time.monotonic() + 90
while time.monotonic() < deadline and not any(s == 429 for s, _, _ in results):
    time.sleep(0.2)
refused = [x for x in results if x[0] == 429]
assert refused, results
assert refused[0][1] and json.loads(refused[0][2])["error"], refused[0]
print("ok /login shares the throttle with IMAP: 429 with Retry-After (%d of 10 so far)" % len(refused))
PY
brev_stop
echo ok
