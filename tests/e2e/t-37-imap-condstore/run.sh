#!/bin/bash
# CONDSTORE and QRESYNC (RFC 7162), raw dialogues (condstore.py): MODSEQ in
# FETCH, CHANGEDSINCE, UNCHANGEDSINCE with [MODIFIED] (the RFC's example),
# HIGHESTMODSEQ in SELECT and STATUS, SEARCH MODSEQ, ENABLE, SELECT QRESYNC
# with VANISHED (EARLIER), UID FETCH (CHANGEDSINCE n VANISHED), VANISHED
# instead of EXPUNGE, [CLOSED], the store's forgotten-expunges path. Then
# imapflow (npm, as t-44; cache outside the tree) with QRESYNC on.
. ../lib.sh
command -v node >/dev/null && command -v npm >/dev/null || fail "node/npm missing"
CACHE=${IMAPFLOW_CACHE:-/tmp/brev-imapflow-cache}
if [ ! -d "$CACHE/node_modules/imapflow" ]; then
	mkdir -p "$CACHE"
	(cd "$CACHE" && npm install imapflow@1 --no-audit --no-fund >npm.log 2>&1) ||
		fail "npm install imapflow failed: $(tail -5 "$CACHE/npm.log")"
fi
brev_init cond
brev_user alice@example.test 'pw-alice'
brev_start
if ! python3 "$ROOT/tests/e2e/t-37-imap-condstore/condstore.py"; then
	echo "--- brev log ($D/serve.log), last lines:"
	tail -15 "$D/serve.log"
	fail "CONDSTORE/QRESYNC checks"
fi
NODE_PATH="$CACHE/node_modules" timeout 60 node "$ROOT/tests/e2e/t-37-imap-condstore/imapflow.js" ||
	fail "imapflow with QRESYNC"
brev_stop
! grep -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$D/serve.log" || fail "sanitizer report in the log"
echo ok
