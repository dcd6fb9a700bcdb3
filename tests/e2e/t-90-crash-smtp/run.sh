#!/bin/bash
# Crash: 20 SMTP sessions send messages while brev is killed with SIGKILL
# at random moments (at least 5 times) and restarted each time. Every
# message that got its 250 must be in the mailbox exactly once afterwards
# (counted by Message-ID over IMAP), none may be there twice, and the store
# must open cleanly. Small scale here; SOAK=1 (make soak): 10,000 messages,
# 10 kills.
# STOP=term (t-95): SIGTERM instead of SIGKILL, with idle IMAP, POP3 and
# half-sent SMTP sessions held open beside the senders: each stop must end
# with exit status 0 within 15 s, every session thread gone ("stopped", no
# "still running at exit" in the log).
. ../lib.sh
KIND=${KIND:-smtp}
STOP=${STOP:-kill9}
if [ -n "${SOAK:-}" ]; then N=10000; KILLS=10; export PACE=0.02; else N=500; KILLS=5; fi
brev_init crash
brev_user alice@example.test alice-pw
brev_start
ACK=$T/acked
: >"$ACK"
python3 -u "$ROOT/tests/e2e/t-90-crash-smtp/crash.py" send "$KIND" "$N" "$ACK" >"$T/client.log" 2>&1 &
CLIENT=$!
if [ "$STOP" = term ]; then
	python3 -u "$ROOT/tests/e2e/t-90-crash-smtp/crash.py" idle >"$T/idle.log" 2>&1 &
	IDLERS=$!
fi
# stop_term: SIGTERM; brev must be gone, with status 0, within 15 s.
stop_term() {
	local rc=0
	brev_untrack "$BREV_PID"
	if ! kill -TERM "$BREV_PID" 2>/dev/null; then
		wait "$BREV_PID" || rc=$?
		fail "brev was gone before its stop (exit status $rc)"
	fi
	for _ in $(seq 300); do
		kill -0 "$BREV_PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$BREV_PID" 2>/dev/null; then
		ps -L -o tid,stat,wchan:24,comm -p "$BREV_PID" >&2 || true
		fail "brev still running 15 s after SIGTERM"
	fi
	wait "$BREV_PID" || rc=$?
	[ $rc -eq 0 ] || fail "brev exited with $rc after SIGTERM"
	! grep -q 'still running at exit' "$D/serve.log" || fail "a session outlived the stop: $(grep 'still running' "$D/serve.log")"
}
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
	if [ "$STOP" = term ]; then stop_term; else brev_kill9; fi
	kills=$((kills + 1))
	brev_start
done
wait $CLIENT || { cat "$T/client.log"; fail "client"; }
cat "$T/client.log"
[ $kills -ge $KILLS ] || fail "only $kills kills happened (the client finished early)"
note "$kills stops ($STOP)"
if [ -n "${IDLERS:-}" ]; then
	kill -TERM $IDLERS 2>/dev/null
	wait $IDLERS || true
	cat "$T/idle.log"
	grep -q 'idle sessions ended by a stop: [1-9]' "$T/idle.log" || fail "no idle session was open at a stop"
	grep -q 'without the last line: 0$' "$T/idle.log" || fail "a session stopped without its BYE/421/-ERR"
fi
python3 -u "$ROOT/tests/e2e/t-90-crash-smtp/crash.py" verify "$ACK" "$KIND" ${STOP/kill9/} || fail "verify"
brev_stop
if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$D/serve.log"; then fail "sanitizer report in the server log"; fi
"$BREV" -d "$D" status >"$T/status.out" 2>&1 || { cat "$T/status.out"; fail "store does not open cleanly"; }
