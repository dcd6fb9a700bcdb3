#!/bin/bash
# Plain http from another host only redirects to https (issue 15,
# docs/http.md): in a network namespace of the test's own, where
# 192.0.2.10 is an address that is not loopback, brev listens on every
# address; a client from 192.0.2.10 gets 308 to the same path on the https
# port (method kept, the Host's name, absolute-form reduced to its path),
# while the same request from 127.0.0.1, and https from 192.0.2.10, are
# served; with https on 443 the Location names no port.
. ../lib.sh
brev_init redirect
[ "$(id -u)" = 0 ] && NS=(unshare --net) || NS=(unshare --map-root-user --net)
"${NS[@]}" bash -c '
set -eu
ip link set lo up
ip addr add 192.0.2.10/32 dev lo
"$BREV" -d "$D" -o listen.http=0.0.0.0:8080 -o listen.https=0.0.0.0:8443 serve >>"$D/serve.log" 2>&1 &
pid=$!
for i in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/8443) 2>/dev/null && break; sleep 0.05; done
C="curl -sS --max-time 20 -o /dev/null -w %{http_code}|%{redirect_url}"
r=$($C --interface 192.0.2.10 "http://example.test:8080/x/y?z=1" --resolve example.test:8080:192.0.2.10)
[ "$r" = "308|https://example.test:8443/x/y?z=1" ] || { echo "FAIL: from 192.0.2.10: $r"; exit 1; }
r=$($C --interface 192.0.2.10 -X POST -d a=b "http://192.0.2.10:8080/")
[ "$r" = "308|https://192.0.2.10:8443/" ] || { echo "FAIL: POST from 192.0.2.10: $r"; exit 1; }
r=$($C --interface 192.0.2.10 -H "Host: mail.example.test:8080" "http://192.0.2.10:8080/")
[ "$r" = "308|https://mail.example.test:8443/" ] || { echo "FAIL: Host: $r"; exit 1; }
r=$(printf "GET http://example.test/a?b HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n" |
	python3 -c "import socket,sys; s=socket.create_connection((\"192.0.2.10\",8080),10,(\"192.0.2.10\",0)); s.sendall(sys.stdin.buffer.read()); print(s.makefile(\"rb\").read().decode())")
case "$r" in "HTTP/1.1 308 "*"Location: https://example.test:8443/a?b"*) ;; *) echo "FAIL: absolute-form: $r"; exit 1 ;; esac
r=$($C --interface 127.0.0.1 "http://127.0.0.1:8080/")
[ "$r" = "200|" ] || { echo "FAIL: from loopback: $r"; exit 1; }
r=$($C -k --interface 192.0.2.10 "https://192.0.2.10:8443/")
[ "$r" = "200|" ] || { echo "FAIL: https from 192.0.2.10: $r"; exit 1; }
kill -TERM $pid
wait $pid || { echo "FAIL: brev exited $?"; exit 1; }
# https on 443: the Location names no port
"$BREV" -d "$D" -o listen.http=0.0.0.0:8080 -o listen.https=0.0.0.0:443 serve >>"$D/serve.log" 2>&1 &
pid=$!
for i in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/443) 2>/dev/null && break; sleep 0.05; done
r=$($C --interface 192.0.2.10 -H "Host: example.test:8080" "http://192.0.2.10:8080/p")
[ "$r" = "308|https://example.test/p" ] || { echo "FAIL: 443: $r"; exit 1; }
kill -TERM $pid
wait $pid || { echo "FAIL: brev exited $?"; exit 1; }
echo inside-ok
' >"$T/ns.out" 2>&1 || fail "namespace: $(cat "$T/ns.out")"
grep -q inside-ok "$T/ns.out" || fail "$(cat "$T/ns.out")"
echo ok
