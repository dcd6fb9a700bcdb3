#!/bin/bash
# IMAP against a hostile client (the security review's findings, each a
# regression test): literal floods before login (memory, descriptors),
# LITERAL+ after a syntax error, failed logins per connection and the
# per-address throttle across parallel connections, exponential LIST
# patterns, COPYUID/MOVE for 300 messages as ranges, MULTIAPPEND all or
# nothing.
. ../lib.sh
brev_init hostile
brev_user alice@example.test 'pw-alice'
brev_start
BREV_PID=$BREV_PID python3 "$ROOT/tests/e2e/t-48-imap-hostile/hostile.py" || fail "hostile"
brev_stop
! grep -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$D/serve.log" || fail "sanitizer report in the log"
echo ok
