#!/bin/bash
# Outbound bare CR (issue 22): whatever line ends a queued message holds,
# the SMTP client sends only CRLF, so "\r.\r" can never end the data early
# at a receiver that accepts <CR>.<CR> (the SMTP smuggling class). The
# message is queued through `brev sendmail`, which (today) passes bare CRs
# into the queue; the receiver is the scripted sink (Python, raw sockets),
# which splits lines at LF only and keeps the bytes it got.
# tests/unit/test_queue.c (dot_bare_cr_through_reader) checks the same
# writer against brev's strict DATA reader whatever the entry point does.
. ../lib.sh
. ../queue/lib.sh
nsd_start
mkdir -p "$T/sink"
sink_start 127.0.0.4 "$T/sink"
mta_init alice alice.test 127.0.0.2
mta_start
printf 'From: alice@alice.test\r\nSubject: bare cr\r\n\r\nline1\r.\rMAIL FROM:<evil@evil.test>\rline3\r\n.lead\rend' |
	"$BREV" -d "$D" sendmail -f alice@alice.test someone@sink.test || fail "sendmail"
until_true 20 sh -c "ls '$T/sink' | grep -q eml" || { grep "queue id" "$D/serve.log"; fail "not delivered"; }
python3 - "$T/sink/1.eml" <<'PY' || fail "the receiver got bare CR or a cut message"
import re, sys
b = open(sys.argv[1], "rb").read()
want = b"line1\r\n.\r\nMAIL FROM:<evil@evil.test>\r\nline3\r\n.lead\r\nend\r\n"
if re.search(rb"\r(?!\n)|(?<!\r)\n", b):
    print("bare CR or LF in what the receiver got:", repr(b)); sys.exit(1)
if b"\r\nSubject: bare cr\r\n" not in b or b.split(b"\r\n\r\n", 1)[1] != want:
    print("got", repr(b)); sys.exit(1)
PY
[ "$(ls "$T/sink" | grep -c eml)" = 1 ] || fail "more than one message arrived"
note ok
