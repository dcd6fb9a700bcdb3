#!/bin/bash
# Greylisting (issue 14, RFC 6647, docs/spam.md "Greylisting"), with real
# clients (grey.py: smtplib from chosen 127.x.y.z source addresses, each
# /24 its own client network; imaplib to see what arrived):
#   - a first attempt from an unknown (client /24, sender, recipient) gets
#     451 4.7.1 at RCPT, an immediate retry too; a retry after
#     spam.greylist_delay (shortened here) is accepted and delivered; a
#     second message of the passed triplet is accepted at once; another /24
#     waits on its own; the null sender too;
#   - never: from 127.0.0.1, for a lenient or off account, on submission;
#     a sender the account wrote to over submission is not delayed;
#   - brev.conf's spam.strength = lenient: nothing waits; off likewise,
#     and spam.greylist_delay = 0 turns it off;
#   - with greylisting off, a sender alice wrote to is still recorded (in
#     the submission's own commit) and gets KNOWN_SENDER(-3.0): doubtful
#     mail from them lands in INBOX, the same from a stranger, or from them
#     to bob, in Junk;
#   - alice's allow list (`brev spam allow`: a domain, with its subdomains)
#     skips greylisting and wins over the content (ALLOW_LIST), her block
#     list (an address, even under an allowed domain) refuses at normal
#     (550) and files into Junk at lenient (lena); bob's mail follows
#     neither; allowing a blocked pattern moves it; `brev spam status` lists them,
#     `brev spam unlist` takes one off, bad patterns exit 1;
#   - the table persists across a restart (a passed triplet stays passed).
. ../lib.sh
command -v python3 >/dev/null || fail "python3 missing"
brev_init grey # (its brev.conf turns greylisting off: each start here turns it on with -o)
for u in alice bob lena otto; do brev_user "$u@example.test" 'pw-secret-1'; done
"$BREV" -d "$D" user set lena@example.test spam=lenient >/dev/null || fail "user set lena"
"$BREV" -d "$D" user set otto@example.test spam=off >/dev/null || fail "user set otto"
export P_SMTP P_SUB P_IMAP
# A DNS server that answers (REFUSED: it serves no zone these clients ask
# about) instead of lib.sh's dead port: the SPF and reverse-DNS look-ups of
# each session from 127.x.y.z then end at once instead of waiting out their
# time-outs, which took this test to about 220 s of its 240 s limit.
NSD_PORT=$(free_port)
mkdir -p "$T/nsd"
printf '$ORIGIN empty.test.\n$TTL 60\n@ SOA ns.empty.test. h.empty.test. 1 3600 600 86400 60\n@ NS ns.empty.test.\nns A 127.0.0.1\n' >"$T/nsd/empty.zone"
nsd_run 127.0.0.1 "$NSD_PORT" empty.test="$T/nsd/empty.zone"
nsd_wait ns.empty.test A 127.0.0.1
echo "dns.resolver = 127.0.0.1:$NSD_PORT" >>"$D/brev.conf"
G=$ROOT/tests/e2e/t-16-spam-greylist/grey.py

brev_start -o spam.greylist_delay=2s
python3 "$G" main 2 || { tail -30 "$D/serve.log"; fail "greylisting (normal)"; }
grep -q "rcpt refused .*reason=greylist: 451 4.7.1" "$D/serve.log" || fail "no greylist log line"
grep -Eqi "greylist known net=127\.0\.7\.0/24 from=<friend@remote\.test>" "$D/serve.log" ||
	{ grep -i greylist "$D/serve.log" | tail -5; fail "no known-good log line"; }
brev_stop

# the passed triplet survives a restart (it is in the store), at strict too
brev_start -o spam.strength=strict -o spam.greylist_delay=1m
python3 - <<'PY' || fail "passed triplet after a restart"
import os, smtplib
with smtplib.SMTP("127.0.0.1", int(os.environ["P_SMTP"]), timeout=30, source_address=("127.0.1.9", 0)) as s:
    s.ehlo("client.remote.test")
    s.mail("s1@remote.test")
    c, t = s.rcpt("alice@example.test")
    assert c == 250, (c, t)
    c, t = s.rcpt("bob@example.test")  # new triplet: waits (default delay)
    assert c == 451 and t.startswith(b"4.7.1"), (c, t)
PY
brev_stop

for how in "-o spam.strength=lenient" "-o spam.strength=off" "-o spam.greylist_delay=0"; do
	# shellcheck disable=SC2086 # the words are the arguments
	brev_start -o spam.greylist_delay=2s $how
	python3 "$G" lenient 0 || fail "greylisted with $how"
	brev_stop
done
brev_start # lib.sh's spam.greylist_delay = 0
python3 "$G" known 0 || fail "known senders with greylisting off"
brev_stop

sp() { "$BREV" -d "$D" spam "$@" || fail "brev spam $*"; }
sp allow alice@example.test @Friend.test >/dev/null
sp block alice@example.test bad@remote.test >/dev/null
sp block alice@example.test spy@friend.test >/dev/null
sp allow alice@example.test gone.test >/dev/null
sp block lena@example.test bad@remote.test >/dev/null
sp block alice@example.test moved.test >/dev/null
sp allow alice@example.test moved.test >/dev/null # moves it
[ "$(sp unlist alice@example.test @gone.test)" = "alice@example.test: gone.test taken off its list" ] ||
	fail "unlist"
out=$(sp status alice@example.test)
grep -q "^allow  *friend.test$" <<<"$out" && grep -q "^block  *bad@remote.test$" <<<"$out" &&
	grep -q "^allow  *moved.test$" <<<"$out" && ! grep -q "^block  *moved.test" <<<"$out" &&
	! grep -q gone.test <<<"$out" || fail "spam status lists: $out"
for bad in "allow alice@example.test nodot" "block alice@example.test a@b@c.test" \
	"unlist alice@example.test never.test" "allow nobody@example.test x.test"; do
	rc=0
	# shellcheck disable=SC2086 # the words are the arguments
	"$BREV" -d "$D" spam $bad >/dev/null 2>&1 || rc=$?
	[ $rc -eq 1 ] || fail "spam $bad: exit status $rc, wanted 1"
done
brev_start -o spam.greylist_delay=1m
python3 "$G" lists-grey 0 || fail "allow list and greylisting"
brev_stop
brev_start
python3 "$G" lists 0 || fail "allow and block lists"
brev_stop
echo ok
