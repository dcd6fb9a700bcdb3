#!/bin/bash
# Hostile input through the spam filter (issue 14, docs/spam.md "Limits"),
# sent with smtplib and read back with imaplib (badinput.py): broken MIME,
# 100,000 header lines, a 20 MB body that is one token, a GTUBE string past
# the 512 KiB the filter reads, binary junk with and without a header. Each
# message is accepted and then found byte for byte in INBOX or Junk with its
# X-Spam fields, or refused with a clear 5xx and stored nowhere; brev must
# exit cleanly afterwards (no crash, no sanitizer report).
. ../lib.sh
command -v python3 >/dev/null || fail "python3 missing"
brev_init badinput
brev_user alice@example.test 'pw-secret-1'
export P_SMTP P_IMAP
brev_start
python3 "$ROOT/tests/e2e/t-16-spam-badinput/badinput.py" || {
	tail -20 "$D/serve.log"
	fail "hostile input"
}
brev_stop
echo ok
