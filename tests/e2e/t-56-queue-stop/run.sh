#!/bin/bash
# A stop while a delivery waits on DNS: brev stops waiting at once, exits 0
# and asks no further question (the test's DNS server logs every question
# it receives, with its time; none may come after the SIGTERM, not even a
# retransmission of the one under way); the cut-short attempt does
# not count: the entry keeps "attempts 0" and is due again at once, so the
# next start tries it straight away instead of after the first retry
# interval. The resolver is a small UDP responder on loopback that answers
# the MX question and never the address questions (a hung authoritative
# server behind a resolver looks the same to brev): the MX host's A and
# AAAA look-ups time out one after another, and the stop must cut that
# chain short.
. ../lib.sh
brev_init stop
DNS_PORT=$(free_port)
python3 -u - "$DNS_PORT" >"$T/dns.log" 2>&1 <<'PY' &
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    q, peer = s.recvfrom(4096)
    qid, flags, qd = struct.unpack(">HHH", q[:6])
    end = 12
    while q[end]:
        end += q[end] + 1
    qname, (qtype,) = q[12:end + 1], struct.unpack(">H", q[end + 1:end + 3])
    labels, i = [], 12
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode(errors="replace"))
        i += q[i] + 1
    # every question, with the time it came in
    print("%.6f question type %d %s" % (time.time(), qtype, ".".join(labels)), flush=True)
    if qtype != 15:
        continue  # A, AAAA: never answered
    # MX 10 mx.remote.test., the question copied, no EDNS
    target = b"\x02mx\x06remote\x04test\x00"
    rr = b"\xc0\x0c" + struct.pack(">HHIH", 15, 1, 300, 2 + len(target)) + b"\x00\x0a" + target
    s.sendto(struct.pack(">HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q[12:end + 5] + rr, peer)
PY
echo "dns.resolver = 127.0.0.1:$DNS_PORT" >>"$D/brev.conf"
brev_user alice@example.test alice-pw
brev_start
python3 - <<'PY' || fail "submission"
import os, smtplib
s = smtplib.SMTP("localhost", int(os.environ["P_SUB"]), timeout=20)
s.starttls()
s.login("alice@example.test", "alice-pw")
s.sendmail("alice@example.test", ["bob@remote.test", "carol@other.test"],
           "Subject: stop\r\n\r\nwhile the resolver is dead\r\n")
s.quit()
PY
wait_for() { for _ in $(seq 100); do grep -q "$1" "$T/dns.log" && return 0; sleep 0.05; done; fail "no $1 question: $(cat "$T/dns.log")"; }
wait_for 'question type 15 '
wait_for 'question type 28 ' # the MX host's AAAA look-up is under way
t0=$(date +%s)
stop=$(date +%s.%N) # just before the SIGTERM
brev_stop
took=$(($(date +%s) - t0))
note "stop took ${took}s"
# the look-up under way (3 s x 2 tries) is abandoned at once, and the next
# ones (another 6 s each) are never started
[ $took -le 2 ] || fail "the stop took ${took}s: it waited for the look-ups"
sleep 0.5 # (brev has exited: only a datagram already on its way could come)
# Every question, timed from the SIGTERM: the AAAA under way was asked
# before it, and none at all (a retransmission, the A look-up that follows
# AAAA, another recipient's MX) after it.
grep -q 'question type 28 ' "$T/dns.log" || fail "no AAAA question: $(cat "$T/dns.log")"
python3 - "$stop" "$T/dns.log" <<'PY' || fail "a DNS question after the stop"
import sys
stop, late = float(sys.argv[1]), []
for l in open(sys.argv[2]):
    t, rest = l.split(" ", 1)
    print("%+8.3f s  %s" % (float(t) - stop, rest.strip()))
    if float(t) > stop:
        late.append(rest.strip())
assert not late, ("asked after the stop", late)
PY
"$BREV" -d "$D" queue list >"$T/q.out" 2>&1 || { cat "$T/q.out"; fail "queue list"; }
cat "$T/q.out"
[ "$(grep -c 'attempts 0' "$T/q.out")" = 1 ] || fail "the attempt cut short by the stop was counted"
due=$(awk 'NR == 1 { print $2 " " $3 }' "$T/q.out")
[ "$(date -u -d "$due UTC" +%s)" -le "$(($(date +%s) + 60))" ] || fail "next try not due at once: $due"
