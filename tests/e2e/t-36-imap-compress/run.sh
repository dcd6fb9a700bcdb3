#!/bin/bash
# COMPRESS=DEFLATE (RFC 4978) with Python's imaplib and zlib's raw deflate
# on the socket: advertised and accepted only after login, after STARTTLS
# and over IMAPS; a second COMPRESS is NO [COMPRESSIONACTIVE]; a 1 MB
# APPEND literal, a 1 MB FETCH (bytes saved printed) and IDLE through the
# layer; a decompression bomb is refused as a long line without brev
# growing.
. ../lib.sh
brev_init z
brev_user alice@example.test 'pw-alice'
brev_start
BREV_PID=$BREV_PID timeout 120 python3 "$ROOT/tests/e2e/t-36-imap-compress/client.py" || fail "imaplib COMPRESS session"
brev_stop
! grep -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$D/serve.log" || fail "sanitizer report in the log"
echo ok
