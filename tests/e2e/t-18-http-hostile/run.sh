#!/bin/bash
# The web listener against bad input (issue 15, docs/http.md "Limits"): every
# malformed or oversized request gets its own status — 400, 411, 413, 414,
# 431, 501, 505 — and the connection is closed after it; slow clients
# (slowloris) get 408 once limits.timeout_preauth (here 2 s) has passed for
# a whole request head or six of them for a body, however they dribble the
# bytes; over HTTP's share of limits.connections a client gets 503; and 48
# clients each sending 2 MB of header without end cost brev a bounded amount of memory.
. ../lib.sh
brev_init hostile
brev_start -o limits.timeout_preauth=2s -o limits.message_size=64K
wait_port "$P_HTTP"
python3 -u - "$P_HTTP" "$BREV_PID" <<'PY' || fail "hostile"
import socket, sys, threading, time
port, pid = int(sys.argv[1]), int(sys.argv[2])

def rss():
    for l in open("/proc/%d/status" % pid):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])

def ask(raw, timeout=10):
    """Send raw, return (status, headers text, all bytes until close)."""
    s = socket.create_connection(("127.0.0.1", port), timeout)
    try:
        s.sendall(raw)
    except OSError:
        pass
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except ConnectionResetError:
        pass
    s.close()
    assert data.startswith(b"HTTP/1.1 "), (raw[:80], data[:200])
    head = data.split(b"\r\n\r\n")[0].decode()
    return int(data.split()[1]), head, data

def expect(raw, want, what):
    st, head, data = ask(raw)
    assert st == want, (what, st, head)
    assert "Connection: close" in head, (what, "not closed", head)
    assert "X-Content-Type-Options: nosniff" in head, (what, head)
    # exactly one response, then the close: nothing after it was taken as a request
    assert data.count(b"HTTP/1.1 ") == 1, (what, data)
    print("ok %d %s" % (st, what))

G = b"GET / HTTP/1.1\r\nHost: x\r\n"
# 400: malformed request lines and header fields
expect(b"GET /\r\n\r\n", 400, "request line without version")
expect(b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "two spaces")
expect(b"GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400, "trailing space")
expect(b"GET / http/1.1\r\nHost: x\r\n\r\n", 400, "lower-case version")
expect(b"GET nothing HTTP/1.1\r\nHost: x\r\n\r\n", 400, "target not origin-form")
expect(b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "control byte in method")
expect(b"GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n", 400, "DEL in target")
expect(b"GET / HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host")
expect(G + b"Host: y\r\n\r\n", 400, "two Host fields")
expect(b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "bad Host")
expect(G + b"X-A : 1\r\n\r\n", 400, "space before colon")
expect(G + b"X-A: 1\r\n folded\r\n\r\n", 400, "obsolete line folding")
expect(G + b"NoColon\r\n\r\n", 400, "field without colon")
expect(G + b"X-A: a\x00b\r\n\r\n", 400, "NUL in value")
expect(G + b"X-A: a\rb\r\n\r\n", 400, "bare CR in value")
expect(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400, "conflicting Content-Length")
expect(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "negative Content-Length")
expect(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "Content-Length and chunked (smuggling)")
expect(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "bad chunk size")
expect(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", 400, "chunk longer than its size")
expect(b"GET / HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n", 400, "unknown expectation")
expect(b"\r\n" * 6 + G + b"\r\n", 400, "too many empty lines")
# 411, 413
expect(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n", 411, "POST without a length")
expect(b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n", 413, "Content-Length over limits.message_size")
big = b"%x\r\n" % 40000 + b"a" * 40000 + b"\r\n"
expect(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + big + big + big + b"0\r\n\r\n", 413, "chunked body over limits.message_size")
# 414, 431
expect(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "request line of 9000 bytes")
expect(G + b"X-Big: " + b"b" * 9000 + b"\r\n\r\n", 431, "one field of 9000 bytes")
expect(G + b"".join(b"X-%d: v\r\n" % i for i in range(70)) + b"\r\n", 431, "70 fields")
expect(G + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 1000) for i in range(40)) + b"\r\n", 431, "40 KB of fields")
expect(G + b"Authorization: Basic " + b"A" * 2000 + b"\r\n\r\n", 431, "Authorization too long")
# 501, 505
expect(b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501, "unknown method")
expect(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "unknown transfer coding")
expect(b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/2.0")
expect(b"GET / HTTP/0.9\r\n\r\n", 505, "HTTP/0.9")

# Slowloris: a head dribbled a byte at a time, or a header line every
# second, ends with 408 after the 2 s limit for the whole head.
def slow(chunks, gap):
    s = socket.create_connection(("127.0.0.1", port), 30)
    t0 = time.time()
    data = b""
    try:
        for c in chunks:
            s.sendall(c)
            time.sleep(gap)
            s.setblocking(False)
            try:
                d = s.recv(65536)
                data += d
                if not d or data:
                    break
            except BlockingIOError:
                pass
            finally:
                s.setblocking(True)
        s.settimeout(30)
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except (BrokenPipeError, ConnectionResetError):
        pass
    return time.time() - t0, data

dt, data = slow([bytes([b]) for b in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"z" * 200], 0.2)
assert data.startswith(b"HTTP/1.1 408 "), data[:100]
assert 1.5 < dt < 15, dt
print("ok 408 byte at a time after %.1f s" % dt)
dt, data = slow([b"GET / HTTP/1.1\r\n"] + [b"X-%d: v\r\n" % i for i in range(60)], 0.5)
assert data.startswith(b"HTTP/1.1 408 "), data[:100]
assert 1.5 < dt < 15, dt
print("ok 408 a line every 0.5 s after %.1f s" % dt)
# a body: 6 x 2 s for all of it
dt, data = slow([b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"] + [b"b"] * 100, 0.5)
assert data.startswith(b"HTTP/1.1 408 "), data[:100]
assert 10 < dt < 40, dt
print("ok 408 slow body after %.1f s" % dt)
# an idle keep-alive connection is just closed, without a 408
s = socket.create_connection(("127.0.0.1", port), 30)
s.sendall(G + b"\r\n")
f = s.makefile("rb")
first = f.readline()
t0 = time.time()
rest = f.read()
assert first.startswith(b"HTTP/1.1 200"), first
assert b"408" not in rest and 1.5 < time.time() - t0 < 15, (rest[-100:], time.time() - t0)
print("ok idle keep-alive closed quietly")

# Bounded memory: 60 clients each sending 2 MB of one header line (no
# end) in parallel cost brev little: the bytes are discarded as they come.
before = rss()
def flood(i):
    try:
        st, head, data = ask(G + b"X-Flood: " + b"f" * (2 << 20) + b"\r\n\r\n", 30)
        results.append(st)
    except Exception as e:
        results.append(repr(e))
results = []
for wave in range(4):
    ts = [threading.Thread(target=flood, args=(i,)) for i in range(12)]
    for t in ts: t.start()
    for t in ts: t.join()
after = rss()
assert results.count(431) == 48, results
grow = (after - before) / 1024
print("rss before %d KiB after %d KiB (+%.1f MiB) for 48 x 2 MB headers" % (before, after, grow))
assert grow < 32, grow

# Over the connection cap: 503 Service Unavailable, then close.
# limits.connections = 200: one protocol may hold 3/4 of it, 150. Of 170
# idle connections at most 150 are served; the others get 503 at once.
held = []
for i in range(170):
    held.append(socket.create_connection(("127.0.0.1", port), 10))
time.sleep(0.5)
busy = []
for s in held:
    s.setblocking(False)
    try:
        d = s.recv(4096)
    except BlockingIOError:
        continue
    # a served connection may already have had its 2 s (a slow machine): 408
    if not d.startswith(b"HTTP/1.1 408 "):
        busy.append(d)
assert len(busy) >= 20, len(busy)
for d in busy:
    assert d.startswith(b"HTTP/1.1 503 Service Unavailable\r\n") and b"Retry-After: 5" in d, d
print("ok 503 for %d of 170 connections" % len(busy))
for s in held: s.close()
PY
brev_stop
echo ok
