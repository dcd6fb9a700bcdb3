#!/bin/bash
# SMTP protocol edges as raw byte dialogues against a real `brev serve`:
# line limits, bare CR/LF smuggling, pipelining (also across STARTTLS),
# sequence errors, BDAT resynchronisation, SIZE, relay tricks, 101
# recipients, Received: loops, the error limit. Afterwards POP3 shows only
# the messages that should exist and the outbound queue is empty.
. ../lib.sh
brev_init smtpd
brev_user alice@example.test alice-pw
brev_user bob@example.test bob-pass
brev_start
python3 -u dialogue.py || fail "dialogue"
out=$("$BREV" -d "$D" queue list) || fail "queue list: exit $?"
grep -q "^0 messages queued" <<<"$out" || fail "something was queued: $out"
grep -q "reason=starttls-pipelined" "$D/serve.log" || fail "no starttls-pipelined log line"
grep -q "reason=errors" "$D/serve.log" || fail "no reason=errors log line"
brev_stop
