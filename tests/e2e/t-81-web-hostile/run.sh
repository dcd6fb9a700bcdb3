#!/bin/bash
# Hostile HTML mail in the webmail, in real Chromium (docs/web.md,
# "Safety"): script tags, event handlers, CSS url()/@import/@font-face,
# meta refresh, SVG and MathML script (mXSS), javascript:/data: links,
# CID tricks (an SVG part with script, a path in a cid:, an HTML part
# framed by cid:), remote images/frames/objects/<base>, and 10 MB of nested
# tags. Each message is opened in the UI and its marker text must show
# (it was rendered); then no script may have run (the canary sets
# parent.__pwned and no dialog may open), the canary HTTP server on its own
# loopback address must have seen no request, and Playwright's request log
# must hold no request to any host but brev. The remote image count is
# shown and a screenshot of the message with blocked images is kept.
. ../lib.sh
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || fail "chromium is not installed (tools/deps.sh test)"
[ -d "$ROOT/web/node_modules/playwright-core" ] || fail "web/node_modules has no playwright-core: run make (npm ci)"
brev_init web
brev_user alice@example.test password-alice
brev_start
wait_port "$P_HTTP"
CANARY_PORT=$(free_port)
python3 -u - "$CANARY_PORT" >"$T/canary.log" 2>&1 <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        print("CANARY HIT", self.path, flush=True)
        self.send_response(204); self.end_headers()
    do_POST = do_GET
http.server.ThreadingHTTPServer(("127.0.0.2", int(sys.argv[1])), H).serve_forever()
PY
mkdir -p "$T/corpus"
n=$(python3 "$ROOT/tests/e2e/t-81-web-hostile/corpus.py" "$T/corpus" "127.0.0.2:$CANARY_PORT")
for f in "$T"/corpus/*.eml; do
	python3 "$ROOT/tests/e2e/web/mail.py" send "$P_SMTP" alice@example.test - "$f" || fail "smtplib: $f"
done
# the canary answers (so a miss below is not a dead server)
curl -s -o /dev/null "http://127.0.0.2:$CANARY_PORT/selftest" || fail "the canary server does not answer"
grep -q 'CANARY HIT /selftest' "$T/canary.log" || fail "the canary does not log"
SHOTS=${LOGDIR:-/tmp}/t-81-web-hostile-$(basename "$BREV")
[ -n "${LOGDIR:-}" ] || SHOTS=$(mktemp -d /tmp/brev-web-shots.XXXXXX)
export ROOT P_HTTP SHOTS NMSG=$n
node "$ROOT/tests/e2e/t-81-web-hostile/flow.mjs" || fail "hostile HTML in Chromium"
if grep -v selftest "$T/canary.log" | grep 'CANARY HIT'; then fail "the canary server was reached"; fi
echo "ok: the canary server saw no request"
