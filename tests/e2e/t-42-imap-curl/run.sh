#!/bin/bash
# curl as an IMAP client: LIST, APPEND with -T, fetch by UID, SEARCH, a raw
# command with -X, over imap:// (loopback, plaintext allowed), imaps:// and
# STARTTLS with certificate checking. A server without STARTTLS (its
# certificate failed to load: brev serve keeps running with a warning)
# fails the test.
. ../lib.sh
brev_init curl
brev_user alice@example.test 'pw-alice'
brev_start
run() { # run SCHEME PORT [curl args...]
	local scheme=$1 port=$2
	shift 2
	curl -sS --max-time 20 --cacert "$D/cert.pem" -u alice@example.test:pw-alice \
		--login-options AUTH=PLAIN "$@"
}
exercise() { # exercise URLBASE [extra curl args]
	local base=$1
	shift
	run x x "$@" "$base/" >"$T/list" || fail "LIST via $base"
	grep -Eq '"/" "?INBOX' "$T/list" || fail "LIST lacks INBOX: $(cat "$T/list")"
	grep -q 'Sent' "$T/list" || fail "LIST lacks Sent"
	printf 'From: curl@example.test\r\nSubject: curl upload %s\r\n\r\nbody via curl\r\n' "$base" >"$T/msg.eml"
	run x x "$@" -T "$T/msg.eml" "$base/INBOX" || fail "APPEND via $base"
	run x x "$@" "$base/INBOX?SUBJECT%20curl" >"$T/search" || fail "SEARCH"
	grep -Eq '^\* SEARCH( [0-9]+)+' "$T/search" || fail "SEARCH result: $(cat "$T/search")"
	uid=$(run x x "$@" -X 'UID SEARCH SUBJECT curl' "$base/INBOX" | sed -n 's/^\* SEARCH \([0-9 ]*\).*/\1/p' | awk '{print $NF}')
	[ -n "$uid" ] || fail "UID SEARCH gave nothing"
	run x x "$@" "$base/INBOX;UID=$uid" >"$T/fetched" || fail "fetch UID $uid"
	grep -q "body via curl" "$T/fetched" || fail "fetched body: $(cat "$T/fetched")"
	run x x "$@" "$base/INBOX;UID=$uid;SECTION=HEADER.FIELDS%20(SUBJECT)" >"$T/hdr" || fail "section fetch"
	grep -q "^Subject: curl upload" "$T/hdr" || fail "section: $(cat "$T/hdr")"
	run x x "$@" -X "UID STORE $uid +FLAGS (\\Answered)" "$base/INBOX" >"$T/store" || fail "raw STORE"
	grep -q 'Answered' "$T/store" || fail "STORE reply: $(cat "$T/store")"
	run x x "$@" -X 'STATUS INBOX (MESSAGES SIZE)' "$base/" >"$T/status" || fail "raw STATUS"
	grep -q 'MESSAGES' "$T/status" || fail "STATUS: $(cat "$T/status")"
}
exercise "imap://127.0.0.1:$P_IMAP"
greeting=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$P_IMAP; head -1 <&3") || fail "no IMAP greeting"
grep -q STARTTLS <<<"$greeting" || fail "no STARTTLS in the greeting: $greeting"
exercise "imaps://localhost:$P_IMAPS"
exercise "imap://localhost:$P_IMAP" --ssl-reqd
brev_stop
! grep -E "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$D/serve.log" || fail "sanitizer report in the log"
echo ok
