#!/bin/bash
# The web listener with real clients (issue 15, docs/http.md): curl over
# HTTP/1.1, HTTP/1.0 and https, keep-alive, HEAD, conditional GET with
# ETag, gzip, the hashed asset's long cache lifetime, the security headers
# on every response (HSTS only on https), pipelined requests answered in
# order and a chunked upload on one raw connection, 100-continue, and
# Python's http.client on a persistent connection. `brev status` lists both
# listeners.
. ../lib.sh
brev_init web
brev_start
wait_port "$P_HTTP"
wait_port "$P_HTTPS"
U=http://127.0.0.1:$P_HTTP
S=https://localhost:$P_HTTPS
C=(curl -sS --max-time 20)

# ---- GET / over HTTP/1.1: the page and the headers every response carries ----
"${C[@]}" -D "$T/h1" -o "$T/page" "$U/" || fail "curl GET /"
grep -q '^HTTP/1.1 200 ' "$T/h1" || fail "GET /: $(cat "$T/h1")"
grep -qi "^content-security-policy: default-src 'self'.*frame-ancestors 'none'" "$T/h1" || fail "no CSP: $(cat "$T/h1")"
grep -qi '^x-content-type-options: nosniff' "$T/h1" || fail "no nosniff"
grep -qi '^referrer-policy: no-referrer' "$T/h1" || fail "no Referrer-Policy"
grep -qi '^x-frame-options: DENY' "$T/h1" || fail "no X-Frame-Options"
grep -qi '^date: [A-Z][a-z][a-z], [0-9][0-9] [A-Z][a-z][a-z] 20[0-9][0-9] [0-9:]\{8\} GMT' "$T/h1" || fail "no Date"
grep -qi '^strict-transport-security' "$T/h1" && fail "HSTS over plain http"
grep -qi '^content-type: text/html; charset=utf-8' "$T/h1" || fail "content type"
grep -q '<title>brev mail</title>' "$T/page" || fail "not the webmail page"
ASSET=$(grep -o '/assets/brev\.[0-9a-f]\{16\}\.css' "$T/page") || fail "page names no hashed asset"

# ---- https: same page, HSTS ----
"${C[@]}" --cacert "$D/cert.pem" -D "$T/h2" -o "$T/page2" "$S/" || fail "curl https"
cmp -s "$T/page" "$T/page2" || fail "https page differs"
grep -qi '^strict-transport-security: max-age=31536000' "$T/h2" || fail "no HSTS on https: $(cat "$T/h2")"
grep -qi '^content-security-policy:' "$T/h2" || fail "no CSP on https"

# ---- the asset: by content hash, cached for a year; its hash is its content's ----
"${C[@]}" -D "$T/h3" -o "$T/css" "$U$ASSET" || fail "asset"
grep -qi '^cache-control: public, max-age=31536000, immutable' "$T/h3" || fail "asset cache: $(cat "$T/h3")"
grep -qi '^content-type: text/css' "$T/h3" || fail "asset type"
h=$(sha256sum "$T/css" | cut -c1-16)
[ "$ASSET" = "/assets/brev.$h.css" ] || fail "asset path $ASSET does not carry its hash $h"
cmp -s "$T/css" "$ROOT/web/static/brev.css" || fail "asset content"
grep -qi '^cache-control: no-cache' "$T/h1" || fail "the page itself must be revalidated"

# ---- conditional GET: ETag, If-None-Match -> 304 without a body ----
ETAG=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *\(".*"\).*/\1/p' "$T/h1" | tr -d '\r')
[ -n "$ETAG" ] || fail "no ETag"
"${C[@]}" -D "$T/h4" -o "$T/b4" -H "If-None-Match: $ETAG" "$U/" || fail "conditional"
grep -q '^HTTP/1.1 304 ' "$T/h4" || fail "If-None-Match: $(cat "$T/h4")"
[ ! -s "$T/b4" ] || fail "304 with a body"
grep -qi '^x-content-type-options: nosniff' "$T/h4" || fail "no security headers on 304"
"${C[@]}" -D "$T/h5" -o /dev/null -H 'If-None-Match: "other", W/'"$ETAG" "$U/" || fail "conditional 2"
grep -q '^HTTP/1.1 304 ' "$T/h5" || fail "weak comparison in a list: $(cat "$T/h5")"
"${C[@]}" -D "$T/h6" -o /dev/null -H 'If-None-Match: "other"' "$U/" || fail "conditional 3"
grep -q '^HTTP/1.1 200 ' "$T/h6" || fail "non-matching tag gave $(head -1 "$T/h6")"

# ---- gzip: curl --compressed decodes it to the same page ----
"${C[@]}" --compressed -D "$T/h7" -o "$T/page7" "$U/" || fail "gzip"
grep -qi '^content-encoding: gzip' "$T/h7" || fail "no gzip: $(cat "$T/h7")"
grep -qi '^vary: accept-encoding' "$T/h7" || fail "no Vary"
cmp -s "$T/page" "$T/page7" || fail "gzip page differs"
"${C[@]}" -D "$T/h8" -o /dev/null -H 'Accept-Encoding: gzip;q=0, identity' "$U/" || fail "gzip q=0"
grep -qi '^content-encoding' "$T/h8" && fail "gzip;q=0 still compressed"

# ---- HEAD: the GET's headers, no body ----
"${C[@]}" -I -o "$T/h9" "$U/" || fail "HEAD"
grep -qi '^content-length: 431\|^content-length: '"$(wc -c <"$T/page")" "$T/h9" || fail "HEAD length: $(cat "$T/h9")"

# ---- HTTP/1.0, and keep-alive: two requests on one connection ----
"${C[@]}" -0 -D "$T/h10" -o /dev/null "$U/" || fail "1.0"
grep -q '^HTTP/1.1 200 ' "$T/h10" || fail "HTTP/1.0 client: $(cat "$T/h10")"
grep -qi '^connection: close' "$T/h10" || fail "1.0 without keep-alive must close"
"${C[@]}" -v -o /dev/null -o /dev/null "$U/" "$U$ASSET" 2>"$T/v" || fail "two urls"
grep -q 'Re-using existing connection' "$T/v" || fail "no keep-alive: $(cat "$T/v")"
"${C[@]}" -v --cacert "$D/cert.pem" -o /dev/null -o /dev/null "$S/" "$S$ASSET" 2>"$T/v2" || fail "two urls tls"
grep -q 'Re-using existing connection' "$T/v2" || fail "no keep-alive over TLS"

# ---- OPTIONS: 204 with Allow ----
"${C[@]}" -D "$T/h14" -o /dev/null -X OPTIONS "$U/" || fail "OPTIONS"
grep -q '^HTTP/1.1 204 ' "$T/h14" && grep -qi '^allow: GET, HEAD, OPTIONS' "$T/h14" || fail "OPTIONS: $(cat "$T/h14")"
"${C[@]}" -D "$T/h15" -o /dev/null -X OPTIONS --request-target '*' "$U/" || fail "OPTIONS *"
grep -q '^HTTP/1.1 204 ' "$T/h15" || fail "OPTIONS *: $(cat "$T/h15")"

# ---- 404, 405 with Allow ----
"${C[@]}" -D "$T/h11" -o /dev/null "$U/no/such" || fail "404"
grep -q '^HTTP/1.1 404 ' "$T/h11" || fail "404: $(head -1 "$T/h11")"
"${C[@]}" -D "$T/h12" -o /dev/null -X DELETE "$U/" || fail "405"
grep -q '^HTTP/1.1 405 ' "$T/h12" && grep -qi '^allow: GET, HEAD' "$T/h12" || fail "405: $(cat "$T/h12")"
# curl's own chunked upload: answered (405) after the body is read
head -c 200000 /dev/urandom | base64 >"$T/up"
"${C[@]}" -D "$T/h13" -o /dev/null -H 'Transfer-Encoding: chunked' -H 'Expect:' --data-binary @"$T/up" "$U/" || fail "chunked"
grep -q '^HTTP/1.1 405 ' "$T/h13" || fail "chunked POST: $(head -1 "$T/h13")"

python3 - "$P_HTTP" "$ASSET" <<'PY' || fail "raw connection"
import http.client, socket, sys, time
port, asset = int(sys.argv[1]), sys.argv[2]

def read_response(f):
    status = f.readline()
    assert status.startswith(b"HTTP/1.1 "), status
    hdrs = {}
    while True:
        l = f.readline()
        if l in (b"\r\n", b""):
            break
        k, v = l.decode().split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
    return int(status.split()[1]), hdrs

def body(f, hdrs, head=False):
    n = 0 if head else int(hdrs.get("content-length", "0"))
    return f.read(n)

# Pipelining: three requests in one write, answered in order.
s = socket.create_connection(("127.0.0.1", port), 10)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
          b"HEAD " + asset.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n"
          b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
          b"GET " + asset.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
f = s.makefile("rb")
st, h = read_response(f); b = body(f, h); assert st == 200 and b.startswith(b"<!DOCTYPE html>"), (st, b[:40])
st, h = read_response(f); assert st == 200 and "immutable" in h["cache-control"], (st, h)
st, h = read_response(f); body(f, h); assert st == 404, st
st, h = read_response(f); b = body(f, h); assert st == 200 and b"font" in b and h.get("connection") == "close", (st, h)
assert f.read() == b"", "data after Connection: close"
s.close()

# A chunked upload (with extensions and a trailer) then a GET in the same
# write: the body was read exactly, the second request is found.
s = socket.create_connection(("127.0.0.1", port), 10)
s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
          b"5;ext=1\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: y\r\n\r\n"
          b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
f = s.makefile("rb")
st, h = read_response(f); body(f, h); assert st == 405, st
st, h = read_response(f); b = body(f, h); assert st == 200 and b.startswith(b"<!DOCTYPE"), st
s.close()

# Expect: 100-continue on a resource that refuses the method: the final
# status at once, never 100, and the client need not send the body.
s = socket.create_connection(("127.0.0.1", port), 10)
s.sendall(b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n")
f = s.makefile("rb")
st, h = read_response(f); assert st == 405 and h.get("connection") == "close", (st, h)
s.close()

# HTTP/1.0 with keep-alive: kept, and said so.
s = socket.create_connection(("127.0.0.1", port), 10)
s.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /x HTTP/1.0\r\n\r\n")
f = s.makefile("rb")
st, h = read_response(f); body(f, h); assert st == 200 and h.get("connection") == "keep-alive", h
st, h = read_response(f); body(f, h); assert st == 404 and h.get("connection") == "close", h
s.close()

# At most 1,000 requests on one connection: the 1,000th answer says close.
s = socket.create_connection(("127.0.0.1", port), 30)
s.sendall(b"HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n" * 1001)
f = s.makefile("rb")
for i in range(1000):
    st, h = read_response(f)
    assert st == 404 and (h.get("connection") == "close") == (i == 999), (i, h)
assert f.read() == b""
s.close()

# Python's http.client: one persistent connection, several requests.
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
for path, want in (("/", 200), (asset, 200), ("/missing", 404), ("/", 200)):
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    assert r.status == want, (path, r.status)
    assert r.getheader("X-Content-Type-Options") == "nosniff"
c.request("HEAD", "/")
r = c.getresponse(); r.read()
assert r.status == 200 and int(r.getheader("Content-Length")) > 0
c.close()
PY

# ---- brev status lists both listeners ----
out=$("$BREV" -d "$D" status) || fail "status"
grep -Eq "^  http +127\.0\.0\.1:$P_HTTP\$" <<<"$out" || fail "status lacks http: $out"
grep -Eq "^  https +127\.0\.0\.1:$P_HTTPS\$" <<<"$out" || fail "status lacks https: $out"
brev_stop
echo ok
