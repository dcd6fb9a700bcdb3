#!/bin/bash
# JMAP core (RFC 8620, issue 15, docs/jmap.md) through Python's urllib and
# http.client: HTTP Basic with the account's password (401 with
# WWW-Authenticate without it or with a wrong one; over https and from
# loopback), the session resource and its limits, RFC 8620's Core/echo
# example and result references (with "*" paths), the request-level errors
# (notJSON, notRequest, unknownCapability, limit for maxCallsInRequest with
# 10,000 calls, for maxSizeRequest, for maxConcurrentRequests and for deep
# nesting) as problem
# details, the method-level errors (unknownMethod, invalidArguments,
# invalidResultReference for a missing, forward, self or bad-path
# reference), a chunked request body with 100-continue, and failed logins
# slowed down by the same throttle as IMAP.
. ../lib.sh
brev_init jmap
brev_user alice@example.test password-alice
brev_start -o limits.message_size=1M
wait_port "$P_HTTP"
curl -sS --max-time 20 -u alice@example.test:password-alice -H 'Content-Type: application/json' \
	-H 'Transfer-Encoding: chunked' -H 'Expect: 100-continue' -v \
	--data-binary '{"using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{"hello":true},"c"]]}' \
	"http://127.0.0.1:$P_HTTP/jmap/api/" >"$T/chunked.out" 2>"$T/chunked.err" || fail "chunked: $(cat "$T/chunked.err")"
grep -q '< HTTP/1.1 100 Continue' "$T/chunked.err" || fail "no 100 Continue: $(cat "$T/chunked.err")"
grep -q '> Transfer-Encoding: chunked' "$T/chunked.err" || fail "curl did not send chunked"
grep -q '^{"methodResponses":\[\["Core/echo",{"hello":true},"c"\]\],"sessionState":"[^"]*"}$' "$T/chunked.out" ||
	fail "chunked echo: $(cat "$T/chunked.out")"
PYTHONPATH="$ROOT/tests/e2e/jmap" python3 -u - "$P_HTTP" "$P_HTTPS" "$D/cert.pem" "$BREV_PID" <<'PY' || fail "jmap"
import base64, http.client, json, os, socket, ssl, sys, time, urllib.request, urllib.error
port, sport, cert = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
from jmapc import CORE, auth
AUTH = auth()

def req(method, path, body=None, auth=AUTH, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = {"Content-Type": "application/json"}
    if auth:
        h["Authorization"] = auth
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data

def api(obj, raw=None):
    r, data = req("POST", "/jmap/api/", raw if raw is not None else json.dumps(obj).encode())
    return r, json.loads(data)

# ---- authentication ----
r, _ = req("GET", "/.well-known/jmap", auth=None)
assert r.status == 401 and r.getheader("WWW-Authenticate") == 'Basic realm="brev", charset="UTF-8"', (r.status, r.getheaders())
r, _ = req("GET", "/.well-known/jmap", auth="Basic " + base64.b64encode(b"alice@example.test:wrong").decode())
assert r.status == 401 and r.getheader("WWW-Authenticate"), r.status
r, _ = req("GET", "/.well-known/jmap", auth="Basic !!!notbase64")
assert r.status == 401, r.status
r, _ = req("GET", "/.well-known/jmap", auth="Basic " + base64.b64encode(b"alice:password-alice").decode())
assert r.status == 200, ("a bare local part with the only domain", r.status)
r, _ = req("GET", "/.well-known/jmap", auth="Bearer abc")
assert r.status == 401, r.status
r, _ = req("POST", "/jmap/api/", b'{"using":[],"methodCalls":[]}', auth=None)
assert r.status == 401, r.status
print("ok 401 without, with a wrong, with a malformed password")

# ---- the session resource (RFC 8620 2) ----
r, data = req("GET", "/.well-known/jmap")
assert r.status == 200 and r.getheader("Content-Type") == "application/json", r.status
assert r.getheader("Cache-Control") == "no-store"
assert r.getheader("Content-Security-Policy") and r.getheader("X-Content-Type-Options") == "nosniff"
s = json.loads(data)
core = s["capabilities"][CORE]
assert core["maxCallsInRequest"] == 64 and core["maxSizeRequest"] == 1048576, core  # min(10M, limits.message_size)
assert core["maxSizeUpload"] == 1048576 and core["maxConcurrentRequests"] == 4, core
assert s["username"] == "alice@example.test" and s["apiUrl"] == "/jmap/api/", s
(acc_id, acc), = s["accounts"].items()
assert acc["name"] == "alice@example.test" and acc["isPersonal"] is True, acc
for k in ("downloadUrl", "uploadUrl", "eventSourceUrl", "state", "primaryAccounts"):
    assert k in s, k
# the same over https (urllib, verifying the certificate)
ctx = ssl.create_default_context(cafile=cert)
rq = urllib.request.Request("https://localhost:%d/.well-known/jmap" % sport, headers={"Authorization": AUTH})
with urllib.request.urlopen(rq, context=ctx, timeout=30) as resp:
    assert json.loads(resp.read())["username"] == "alice@example.test"
    assert resp.headers["Strict-Transport-Security"]
rq = urllib.request.Request("https://localhost:%d/.well-known/jmap" % sport)
try:
    urllib.request.urlopen(rq, context=ctx, timeout=30)
    raise SystemExit("https without auth was served")
except urllib.error.HTTPError as e:
    assert e.code == 401
print("ok session resource, account", acc_id)

# ---- RFC 8620 4.1: Core/echo ----
r, j = api({"using": [CORE], "methodCalls": [["Core/echo", {"hello": True, "high": 5}, "b3ff"]]})
assert r.status == 200 and j["methodResponses"] == [["Core/echo", {"hello": True, "high": 5}, "b3ff"]], j
assert j["sessionState"] == s["state"], j
# createdIds comes back as given (3.3, 3.4)
r, j = api({"using": [CORE], "methodCalls": [], "createdIds": {"k1": "x"}})
assert j == {"methodResponses": [], "sessionState": s["state"], "createdIds": {"k1": "x"}}, j

# ---- result references (3.7), RFC 8620's example shapes on Core/echo ----
calls = [
    ["Core/echo", {"list": [{"id": "a", "threadId": "T1"}, {"id": "b", "threadId": "T2"}],
                   "nested": {"x/y": {"~k": [1, 2]}}}, "t0"],
    ["Core/echo", {"#ids": {"resultOf": "t0", "name": "Core/echo", "path": "/list/*/id"}}, "t1"],
    ["Core/echo", {"#first": {"resultOf": "t0", "name": "Core/echo", "path": "/list/0/threadId"}}, "t2"],
    ["Core/echo", {"#esc": {"resultOf": "t0", "name": "Core/echo", "path": "/nested/x~1y/~0k/1"}}, "t3"],
    ["Core/echo", {"#all": {"resultOf": "t1", "name": "Core/echo", "path": "/ids"}, "keep": 1}, "t4"],
    # flattening: "*" over arrays that give arrays
    ["Core/echo", {"lists": [[1, 2], [3]]}, "t5"],
    ["Core/echo", {"#flat": {"resultOf": "t5", "name": "Core/echo", "path": "/lists/*"}}, "t6"],
]
r, j = api({"using": [CORE], "methodCalls": calls})
m = j["methodResponses"]
assert m[1] == ["Core/echo", {"ids": ["a", "b"]}, "t1"], m[1]
assert m[2] == ["Core/echo", {"first": "T1"}, "t2"], m[2]
assert m[3] == ["Core/echo", {"esc": 2}, "t3"], m[3]
assert m[4] == ["Core/echo", {"all": ["a", "b"], "keep": 1}, "t4"], m[4]
assert m[6] == ["Core/echo", {"flat": [1, 2, 3]}, "t6"], m[6]
print("ok result references")

# ---- method-level errors (3.6.2): the request goes on after each ----
ref = lambda of, name, path: {"resultOf": of, "name": name, "path": path}
calls = [
    ["Core/echo", {"a": [1]}, "e0"],
    ["Nope/get", {}, "e1"],
    ["Core/echo", {"x": 1, "#x": ref("e0", "Core/echo", "/a")}, "e2"],
    ["Core/echo", {"#x": ref("zz", "Core/echo", "/a")}, "e3"],
    ["Core/echo", {"#x": ref("e0", "Other/name", "/a")}, "e4"],
    ["Core/echo", {"#x": ref("e0", "Core/echo", "/b")}, "e5"],
    ["Core/echo", {"#x": ref("e0", "Core/echo", "/a/7")}, "e6"],
    ["Core/echo", {"#x": ref("e0", "Core/echo", "a")}, "e7"],
    ["Core/echo", {"#x": ref("e8", "Core/echo", "")}, "e8"],          # itself
    ["Core/echo", {"#x": ref("e10", "Core/echo", "")}, "e9"],         # a later call
    ["Core/echo", {"#x": ref("e9", "Core/echo", "")}, "e10"],         # loop: e9 failed
    ["Core/echo", {"#x": ref("e1", "Nope/get", "")}, "e11"],          # e1's response is an error
    ["Core/echo", {"#x": {"resultOf": "e0"}}, "e12"],                 # not a ResultReference
    ["Core/echo", {"#x": ref("e0", "Core/echo", "/a/~2")}, "e13"],    # bad escape
    ["Core/echo", {"ok": True}, "e14"],
    ["Core/echo", {"n": 1}, "e0"],                                    # a second e0: the first counts
    ["Core/echo", {"#x": ref("e0", "Core/echo", "/a/0")}, "e15"],
]
r, j = api({"using": [CORE], "methodCalls": calls})
m = {c: (n, a) for n, a, c in j["methodResponses"]}
assert m["e1"] == ("error", {"type": "unknownMethod"}), m["e1"]
assert m["e2"][0] == "error" and m["e2"][1]["type"] == "invalidArguments", m["e2"]
for c in ("e3", "e4", "e5", "e6", "e7", "e8", "e9", "e10", "e11", "e12", "e13"):
    assert m[c][0] == "error" and m[c][1]["type"] == "invalidResultReference", (c, m[c])
assert m["e14"] == ("Core/echo", {"ok": True}), m["e14"]
assert j["methodResponses"][-1] == ["Core/echo", {"x": 1}, "e15"], j["methodResponses"][-1]
assert len(j["methodResponses"]) == len(calls)
# a method of a capability the request does not use is unknown (3.6.2)
r, j = api({"using": [], "methodCalls": [["Core/echo", {}, "u"]]})
assert r.status == 200 and j["methodResponses"] == [["error", {"type": "unknownMethod"}, "u"]], j
print("ok method-level errors")

# ---- request-level errors (3.6.1): 400 with problem details ----
def problem(raw, want, limit=None):
    r, data = req("POST", "/jmap/api/", raw)
    assert r.status == 400 and r.getheader("Content-Type") == "application/problem+json", (want, r.status, data[:200])
    p = json.loads(data)
    assert p["type"] == "urn:ietf:params:jmap:error:" + want and p["status"] == 400, (want, p)
    if limit:
        assert p["limit"] == limit, p
    return p
problem(b"{not json", "notJSON")
problem(b'{"using":[], "methodCalls":[]', "notJSON")
problem(b'{"a":1,"a":2}', "notJSON")                          # I-JSON: no duplicate names
problem(b'"\xff\xfe"', "notJSON")                              # not UTF-8
problem(b'', "notJSON")
problem(b'"\\\xdd\xa3\x10\xac;\\', "notJSON")                 # the parser's message quotes bad bytes (found by fuzz_jmap)
problem(b'[]', "notRequest")
problem(b'"a string"', "notRequest")
problem(b'{"using":[CORE]}'.replace(b"CORE", b'"%s"' % CORE.encode()), "notRequest")
problem(json.dumps({"using": "x", "methodCalls": []}).encode(), "notRequest")
problem(json.dumps({"using": [1], "methodCalls": []}).encode(), "notRequest")
problem(json.dumps({"using": [CORE], "methodCalls": [["Core/echo", {}]]}).encode(), "notRequest")
problem(json.dumps({"using": [CORE], "methodCalls": [["Core/echo", [], "c"]]}).encode(), "notRequest")
problem(json.dumps({"using": [CORE], "methodCalls": [], "createdIds": []}).encode(), "notRequest")
p = problem(json.dumps({"using": [CORE, "urn:example:nope"], "methodCalls": []}).encode(), "unknownCapability")
assert "urn:example:nope" in p["detail"], p
problem(json.dumps({"using": ["urn:" + "\u00e9" * 100], "methodCalls": []}).encode(), "unknownCapability")  # cut inside a character
# maxCallsInRequest: 64 run, 65 and 10,000 are refused whole
r, j = api({"using": [CORE], "methodCalls": [["Core/echo", {"i": i}, str(i)] for i in range(64)]})
assert r.status == 200 and len(j["methodResponses"]) == 64
problem(json.dumps({"using": [CORE], "methodCalls": [["Core/echo", {}, "c"]] * 65}).encode(), "limit", "maxCallsInRequest")
t0 = time.time()
p = problem(json.dumps({"using": [CORE], "methodCalls": [["Core/echo", {"i": i}, str(i)] for i in range(10000)]}).encode(),
            "limit", "maxCallsInRequest")
print("ok 10,000 calls refused in %.2f s: %s" % (time.time() - t0, p["detail"]))
# nesting: 32 levels are fine, 33 and 100,000 are refused before parsing
deep = lambda n: ('{"using":["%s"],"methodCalls":[["Core/echo",{"x":%s%s},"d"]]}' % (CORE, "[" * n, "]" * n)).encode()
r, j = api(None, deep(28))
assert r.status == 200 and j["methodResponses"][0][0] == "Core/echo", j
problem(deep(40), "limit", "maxDepth")
problem(b"[" * 100000 + b"]" * 100000, "limit", "maxDepth")
# brackets inside strings do not count
r, j = api(None, ('{"using":["%s"],"methodCalls":[["Core/echo",{"s":"%s"},"q"]]}' % (CORE, "[{\\\"" * 50)).encode())
assert r.status == 200, j
# values: 200,000 fit (in under 1 MiB), one more is refused before parsing,
# and brev's memory stays flat however often it is asked
ok_req = ('{"using":["%s"],"methodCalls":[["Core/echo",{"a":[%s]},"v"]]}' % (CORE, ",".join(["0"] * 199990))).encode()
r, j = api(None, ok_req)
assert r.status == 200 and len(j["methodResponses"][0][1]["a"]) == 199990, r.status
over = ('{"using":["%s"],"methodCalls":[["Core/echo",{"a":[%s]},"v"]]}' % (CORE, ",".join(["[]"] * 200001))).encode()
assert len(over) < 1048576
pid = int(sys.argv[4])
def rss():
    return int([l for l in open("/proc/%d/status" % pid) if l.startswith("VmRSS:")][0].split()[1])
before = rss()
for i in range(20):
    problem(over, "limit", "maxSizeRequest")
print("rss %d KiB -> %d KiB after 20 requests of 200,001 values" % (before, rss()))
# ASan keeps freed memory in quarantine (up to 256 MiB): a looser bound
# there, still far below the ~500 MiB 20 parsed requests would take
bound = 98304 if os.environ.get("BREV", "").endswith("-san") else 16384
assert rss() - before < bound, (before, rss(), bound)
# maxSizeRequest (1 MiB here): refused before the body is read
big = json.dumps({"using": [CORE], "methodCalls": [["Core/echo", {"s": "x" * 1100000}, "b"]]}).encode()
p = problem(big, "limit", "maxSizeRequest")
print("ok request-level errors")

# Responses built from references to references are bounded too.
calls = [["Core/echo", {"s": "y" * 900000}, "r0"]]
for i in range(1, 40):
    calls.append(["Core/echo", {"#a": ref("r%d" % (i - 1), "Core/echo", ""), "#b": ref("r%d" % (i - 1), "Core/echo", "")}, "r%d" % i])
body = json.dumps({"using": [CORE], "methodCalls": calls}).encode()
r, j = api(None, body)
types = [a.get("type") for n, a, c in j["methodResponses"] if n == "error"]
assert r.status == 200 and types and set(types) <= {"requestTooLarge", "invalidResultReference"}, types[:3]
print("ok exponential references stopped after %d calls" % (len(calls) - len(types)))

# ---- maxConcurrentRequests (4): four requests whose bodies are still
# coming hold every place; a fifth gets the limit error; once they end, a
# request runs again ----
held = []
for i in range(4):
    s = socket.create_connection(("127.0.0.1", port), 30)
    s.sendall(b"POST /jmap/api/ HTTP/1.1\r\nHost: x\r\nAuthorization: " + AUTH.encode() +
              b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    held.append(s)
time.sleep(1.5)  # each has passed the password check and is reading its body
problem(json.dumps({"using": [CORE], "methodCalls": []}).encode(), "limit", "maxConcurrentRequests")
for s in held:
    s.close()
for i in range(50):
    r, data = req("POST", "/jmap/api/", json.dumps({"using": [CORE], "methodCalls": []}).encode())
    if r.status == 200:
        break
    time.sleep(0.1)
assert r.status == 200, data
print("ok maxConcurrentRequests")

# ---- throttle: wrong passwords slow down like IMAP LOGIN ----
bad = "Basic " + base64.b64encode(b"alice@example.test:nope").decode()
times = []
for i in range(5):
    t0 = time.time()
    r, _ = req("GET", "/.well-known/jmap", auth=bad)
    times.append(time.time() - t0)
    assert r.status == 401
print("failed logins took", ["%.2f" % t for t in times])
assert times[-1] > 1.0 and times[-1] > times[0] + 0.5, times
PY
brev_stop
echo ok
