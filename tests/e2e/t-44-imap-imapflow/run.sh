#!/bin/bash
# imapflow (npm) against brev: a login over STARTTLS, then over IMAPS list,
# append, fetch (envelope, bodystructure, source), flags, search, IDLE woken
# by an SMTP delivery, MOVE with COPYUID. imapflow turns on COMPRESS=DEFLATE
# when offered after login, so both sessions run through brev's deflate layer.
# imapflow is installed with npm into a cache outside the tree on first use.
. ../lib.sh
command -v node >/dev/null && command -v npm >/dev/null || fail "node/npm missing"
CACHE=${IMAPFLOW_CACHE:-/tmp/brev-imapflow-cache}
if [ ! -d "$CACHE/node_modules/imapflow" ]; then
	mkdir -p "$CACHE"
	(cd "$CACHE" && npm install imapflow@1 --no-audit --no-fund >npm.log 2>&1) ||
		fail "npm install imapflow failed: $(tail -5 "$CACHE/npm.log")"
fi
brev_init flow
brev_user alice@example.test 'pw-alice'
brev_start
# TLS is not optional (client.js: STARTTLS, then IMAPS): a brev whose
# certificate failed to load still runs, without STARTTLS, and must fail.
greeting=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$P_IMAP; head -1 <&3") || fail "no IMAP greeting"
grep -q STARTTLS <<<"$greeting" || fail "no STARTTLS in the greeting: $greeting"
NODE_PATH="$CACHE/node_modules" timeout 60 node "$ROOT/tests/e2e/t-44-imap-imapflow/client.js" ||
	fail "imapflow session"
# Both sessions asked for COMPRESS (brev logs each command at debug level)
# and none was refused: the whole of client.js ran compressed.
[ "$(grep -c ' cmd COMPRESS$' "$D/serve.log")" -ge 2 ] || fail "imapflow did not use COMPRESS"
! grep -q 'refused .*cmd=COMPRESS' "$D/serve.log" || fail "COMPRESS refused to imapflow"
brev_stop
! grep -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$D/serve.log" || fail "sanitizer report in the log"
echo ok
