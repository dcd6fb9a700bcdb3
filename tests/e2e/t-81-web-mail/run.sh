#!/bin/bash
# The webmail in real Chromium (docs/web.md; playwright-core driving
# Debian's /usr/bin/chromium): log in through the login page, see a
# message smtplib delivered (folder unread count, the list, the text body
# with its link made clickable and opening with noopener), opening it
# marks it read (imaplib sees \Seen); a second message delivered while the
# page is open appears without a reload (JMAP push); Flag sets \Flagged,
# Junk moves it to Junk and Not junk back to INBOX (each checked with
# imaplib); the search box finds by subject; the keyboard (j/k, /, #)
# works; Delete moves to Trash; Compose sends a message with an attachment
# and Reply a reply (bob's INBOX over imaplib has them, the attachment
# decoded byte for byte, In-Reply-To set; alice's Sent has the copy); the phone layout (390 px) shows one pane
# at a time; axe-core finds no serious or critical violation on the login
# page, the inbox and a message. Screenshots of the inbox, a message and compose at
# 1280 and 390 px go to the run's log directory (tests/run.sh's LOGDIR).
. ../lib.sh
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || fail "chromium is not installed (tools/deps.sh test)"
[ -d "$ROOT/web/node_modules/playwright-core" ] || fail "web/node_modules has no playwright-core: run make (npm ci)"
brev_init web
brev_user alice@example.test password-alice
brev_user bob@example.test password-bob
brev_start
wait_port "$P_HTTP"
SHOTS=${LOGDIR:-/tmp}/t-81-web-mail-$(basename "$BREV")
[ -n "${LOGDIR:-}" ] || SHOTS=$(mktemp -d /tmp/brev-web-shots.XXXXXX)
export ROOT P_HTTP P_SMTP P_IMAP SHOTS
printf 'Hello Alice,\n\nthe minutes are at https://example.test/minutes?id=7 and nothing else.\n\nBob\n' >"$T/first.txt"
python3 "$ROOT/tests/e2e/web/mail.py" send "$P_SMTP" alice@example.test "Quarterly minutes" "$T/first.txt" ||
	fail "smtplib could not deliver"
node "$ROOT/tests/e2e/t-81-web-mail/flow.mjs" || fail "the webmail flow in Chromium"
