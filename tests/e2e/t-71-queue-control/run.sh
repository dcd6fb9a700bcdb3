#!/bin/bash
# `brev queue del` and SIGUSR1 (README: "flush: retry everything now (also
# SIGUSR1 to serve)"), with real DNS (nsd) and a scripted receiver:
#   - two messages to bob@bob.test fail their first attempt (nobody listens
#     at mx.bob.test yet); the retry is an hour away (delivery.retry = 1h);
#   - `queue del` refuses a malformed and an unknown id (exit 1, one line on
#     stderr) and deletes the first message; `queue list` shows one left;
#   - the receiver comes up: nothing is sent for 2 s (no retry is due), then
#     `kill -USR1` sends the one left at once, and never the deleted one.
. ../lib.sh
. ../queue/lib.sh
nsd_start
mta_init alice alice.test 127.0.0.2
D_A=$D
"$BREV" -d "$D" -o delivery.retry=1h serve >>"$D/serve.log" 2>&1 &
BREV_PID=$!
wait_addr_port 127.0.0.2 "$P25"

send() { # send SUBJECT
	printf 'From: alice@alice.test\r\nTo: bob@bob.test\r\nSubject: %s\r\n\r\nhello\r\n' "$1" |
		"$BREV" -d "$D" sendmail -f alice@alice.test bob@bob.test || fail "sendmail $1"
}
# an entry's tracking id once its first attempt has failed (the first word of its line)
attempted() {
	"$BREV" -d "$D" queue list >"$T/list" || fail "queue list"
	[ "$(grep -c 'attempts 1,' "$T/list")" = "$1" ]
}
send first
until_true 15 attempted 1 || { cat "$T/list"; fail "the first attempt did not fail as expected"; }
ID1=$(grep -oE '^[0-9A-Za-z]{16} ' "$T/list" | tr -d ' ')
[ -n "$ID1" ] || { cat "$T/list"; fail "no id in queue list"; }
send second
until_true 15 attempted 2 || { cat "$T/list"; fail "the second message's attempt did not fail"; }
[ "$(tail -1 "$T/list")" = "2 messages queued" ] || { cat "$T/list"; fail "not 2 queued"; }

# malformed and unknown ids: exit 1, one clear line, nothing deleted
for bad in zzz 0123456789abcdef ""; do
	if "$BREV" -d "$D" queue del "$bad" >"$T/out" 2>"$T/err"; then fail "queue del '$bad' succeeded"; fi
	[ "$(wc -l <"$T/err")" = 1 ] || { cat "$T/err"; fail "queue del '$bad': not one line on stderr"; }
done
"$BREV" -d "$D" queue list >"$T/list"
[ "$(tail -1 "$T/list")" = "2 messages queued" ] || { cat "$T/list"; fail "a bad queue del deleted something"; }

"$BREV" -d "$D" queue del "$ID1" >"$T/out" || fail "queue del $ID1"
grep -q "deleted $ID1" "$T/out" || fail "queue del said: $(cat "$T/out")"
"$BREV" -d "$D" queue list >"$T/list"
[ "$(tail -1 "$T/list")" = "1 message queued" ] || { cat "$T/list"; fail "queue del left $(tail -1 "$T/list")"; }
if grep -q "^$ID1 " "$T/list"; then fail "$ID1 still listed"; fi
note "queue del: bad ids refused, $ID1 deleted"

# the receiver is up; the retry is an hour away: nothing moves by itself
mkdir -p "$T/sink"
sink_start 127.0.0.3 "$T/sink"
sleep 2
[ -z "$(ls "$T/sink")" ] || fail "sent without a flush (retry in 1h): $(ls "$T/sink")"
kill -USR1 "$BREV_PID"
until_true 15 sh -c "[ -n \"\$(ls '$T/sink'/*.eml 2>/dev/null)\" ]" || fail "SIGUSR1 did not send the queued message"
until_true 10 sh -c "'$BREV' -d '$D_A' queue list | tail -1 | grep -q '^0 messages'" ||
	fail "queue not empty after the delivery"
grep -q "SIGUSR1: queue flush requested" "$D/serve.log" || fail "no log line for SIGUSR1"
sleep 1
[ "$(ls "$T/sink"/*.eml | wc -l)" = 1 ] || fail "$(ls "$T/sink"/*.eml | wc -l) messages arrived, want 1"
grep -q "^Subject: second" "$T/sink"/*.eml || fail "the wrong message arrived: $(grep Subject: "$T/sink"/*.eml)"
note "SIGUSR1: the message left was sent at once, the deleted one never"
brev_stop
note ok
