#!/bin/bash
# Crash: 20 SMTP sessions send messages while brev is killed with SIGKILL
# at random moments (at least 5 times) and restarted each time. Every
# message that got its 250 must be in the mailbox exactly once afterwards
# (counted by Message-ID over IMAP), none may be there twice, and the store
# must open cleanly. Small scale here; SOAK=1 (make soak): 10,000 messages,
# 10 kills.
. ../lib.sh
KIND=${KIND:-smtp}
if [ -n "${SOAK:-}" ]; then N=10000; KILLS=10; export PACE=0.02; else N=500; KILLS=5; fi
brev_init crash
brev_user alice@example.test alice-pw
brev_start
ACK=$T/acked
: >"$ACK"
python3 -u "$ROOT/tests/e2e/t-90-crash-smtp/crash.py" send "$KIND" "$N" "$ACK" >"$T/client.log" 2>&1 &
CLIENT=$!
# Kill at random points of the progress, whatever the speed: when the
# number of acknowledged messages passes each of KILLS random thresholds.
mapfile -t marks < <(python3 -c "
import random
print('\n'.join(str(x) for x in sorted(random.sample(range($N // 20, $N * 6 // 10), $KILLS))))")
kills=0
for m in "${marks[@]}"; do
	for _ in $(seq 1200); do # at most 60 s per threshold
		[ "$(wc -l <"$ACK")" -ge "$m" ] && break
		kill -0 $CLIENT 2>/dev/null || break
		sleep 0.05
	done
	kill -0 $CLIENT 2>/dev/null || break
	sleep "0.0$((RANDOM % 10))"
	brev_kill9
	kills=$((kills + 1))
	brev_start
done
wait $CLIENT || { cat "$T/client.log"; fail "client"; }
cat "$T/client.log"
[ $kills -ge $KILLS ] || fail "only $kills kills happened (the client finished early)"
note "$kills kills"
python3 -u "$ROOT/tests/e2e/t-90-crash-smtp/crash.py" verify "$ACK" "$KIND" || fail "verify"
brev_stop
if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$D/serve.log"; then fail "sanitizer report in the server log"; fi
"$BREV" -d "$D" status >"$T/status.out" 2>&1 || { cat "$T/status.out"; fail "store does not open cleanly"; }
