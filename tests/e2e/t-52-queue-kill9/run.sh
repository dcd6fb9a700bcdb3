#!/bin/bash
# kill -9 during a delivery burst. 200 messages are submitted in one SMTP
# session while the receiver is not listening yet (each first attempt is
# refused and deferred); then the receiver starts, `brev queue flush` makes
# them all due, and the server is killed with SIGKILL when about a third
# have arrived; it starts again (leases left by the dead process are
# released) and finishes. The receiver counts by Message-ID: none may be
# lost, and a message may arrive twice only in the window docs/delivery.md
# documents (the receiver's 250 was sent, our commit of it had not
# happened): at most one per delivery thread that was in that window when
# the kill came.
. ../lib.sh
. ../queue/lib.sh
N=200
nsd_start
mkdir -p "$T/sink"
mta_init alice alice.test 127.0.0.2
brev_user alice@alice.test alice-pw
mta_start
export P_SUB N
python3 - <<'PY' || fail "queueing"
import os, smtplib
s = smtplib.SMTP("127.0.0.1", int(os.environ["P_SUB"]), timeout=30)
s.login("alice@alice.test", "alice-pw")  # loopback: AUTH without TLS
for i in range(1, int(os.environ["N"]) + 1):
    s.sendmail("alice@alice.test", ["x@sink.test"],
               b"From: alice@alice.test\r\nSubject: burst %d\r\n"
               b"Message-ID: <burst-%d@alice.test>\r\n\r\nmessage %d\r\n" % (i, i, i))
s.quit()
PY
[ "$(queued)" = "$N" ] || fail "expected $N queued, got $(queued)"
sink_start 127.0.0.4 "$T/sink"
"$BREV" -d "$D" queue flush >/dev/null || fail "queue flush"
until_true 30 sh -c "[ \$(ls '$T/sink' | grep -c eml) -ge $((N / 3)) ]" || fail "burst did not start"
brev_kill9
# README/docs/delivery.md: with no server running, `queue flush` makes the
# entries due in the store and says so (leased ones wait for the start-up)
out=$("$BREV" -d "$D" queue flush) || fail "queue flush without a server: exit $?"
grep -Eq '^no server is running: [0-9]+ messages? will be tried when it starts$' <<<"$out" ||
	fail "queue flush without a server: $out"
note "killed after $(ls "$T/sink" | grep -c eml) deliveries; $(queued) still queued"
mta_start
until_true 60 sh -c "[ \"\$('$BREV' -d '$D' queue list | tail -1 | cut -d' ' -f1)\" = 0 ]" || fail "queue did not drain: $(queued)"
grep -q "left leased by a previous run" "$D/serve.log" || note "(no leases were left at the kill)"
python3 - "$T/sink" "$N" <<'PY' || fail "exactly once"
import os, sys, email, collections
d, n = sys.argv[1], int(sys.argv[2])
c = collections.Counter()
for f in os.listdir(d):
    if f.endswith(".eml"):
        c[email.message_from_binary_file(open(os.path.join(d, f), "rb"))["Message-ID"]] += 1
missing = [i for i in range(1, n + 1) if c["<burst-%d@alice.test>" % i] == 0]
dups = {k: v for k, v in c.items() if v > 1}
print("received", sum(c.values()), "distinct", len(c), "duplicates", dups)
assert not missing, missing
assert len(dups) <= 4 and all(v == 2 for v in dups.values()), dups
PY
brev_stop
note ok
