#!/bin/bash
# The webmail's message list is virtualised and paged (docs/web.md): with
# 250 messages in INBOX (smtplib, one connection) the page holds only the
# rows in view (far fewer than 250 list items), the folder's count is
# right, and scrolling to the end loads the later pages (Email/query
# position/limit) down to the oldest message. The dark theme follows
# prefers-color-scheme (Chromium's emulation): the page's background is
# dark, and light without it.
. ../lib.sh
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || fail "chromium is not installed (tools/deps.sh test)"
[ -d "$ROOT/web/node_modules/playwright-core" ] || fail "web/node_modules has no playwright-core: run make (npm ci)"
brev_init web
brev_user alice@example.test password-alice
brev_start
wait_port "$P_HTTP"
python3 - "$P_SMTP" <<'PY' || fail "smtplib could not deliver"
import smtplib, sys
from email.message import EmailMessage
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=60) as s:
    for i in range(1, 251):
        m = EmailMessage()
        m["From"] = "bob@sender.test"
        m["To"] = "alice@example.test"
        m["Subject"] = "Numbered message %03d" % i
        m["Date"] = "Mon, 7 Dec 2026 10:%02d:%02d +0000" % (i // 60, i % 60)
        m.set_content("body %d\n" % i)
        s.sendmail("bob@sender.test", ["alice@example.test"], m.as_bytes(policy=m.policy.clone(linesep="\r\n")))
PY
SHOTS=${LOGDIR:-/tmp}/t-81-web-list-$(basename "$BREV")
[ -n "${LOGDIR:-}" ] || SHOTS=$(mktemp -d /tmp/brev-web-shots.XXXXXX)
export ROOT P_HTTP SHOTS
node "$ROOT/tests/e2e/t-81-web-list/flow.mjs" || fail "the message list in Chromium"
