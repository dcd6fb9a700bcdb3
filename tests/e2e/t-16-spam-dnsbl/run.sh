#!/bin/bash
# Connection and link blocklists and the greeting pause (issue 14,
# docs/spam.md "The tests"), with nsd on loopback serving a DNSBL zone
# (bl.test: 127.0.0.2 listed) and a URIBL zone (uri.test: evil.test
# listed), and real clients (dnsbl.py: smtplib from different loopback
# source addresses, a raw socket for the early talker, imaplib to see
# where each message landed):
#   - a listed client gets DNSBL_BL_TEST with its configured points in
#     X-Spam-Status and lands in Junk (IPv4 and, over ::1, IPv6); an
#     unlisted one (answered 127.255.255.254, a refusal) in INBOX, no test;
#   - a link to a listed host gets URIBL_URI_TEST (Junk), other links none,
#     and only the first 20 distinct link hosts are asked;
#   - a client that writes before the 220 gets PREGREET, still delivered;
#   - a blocklist that never answers (a resolver that swallows queries):
#     the mail is delivered, no points, a log line; a silent URI list is
#     asked once per message, not once per link;
#   - without spam.check_loopback, loopback clients are not checked;
#     spam.pregreet = 0 turns the pause and PREGREET off;
#   - a malformed spam.dnsbl / spam.uribl stops `brev serve`.
. ../lib.sh
command -v python3 >/dev/null || fail "python3 missing"
command -v nsd >/dev/null || fail "nsd missing (tools/deps.sh)"
NSD_PORT=$(free_port)
mkdir -p "$T/nsd"
cat >"$T/nsd/bl.zone" <<'ZONE'
$ORIGIN bl.test.
$TTL 60
@         SOA ns.bl.test. admin.bl.test. 1 3600 600 86400 60
@         NS  ns
ns        A   127.0.0.53
2.0.0.127 A   127.0.0.2
; what Spamhaus answers to a refused query: not a listing
3.0.0.127 A   127.255.255.254
; not in 127.0.0.0/8: not a listing either
5.0.0.127 A   192.0.2.1
; ::1, nibble by nibble
1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 A 127.0.0.4
ZONE
cat >"$T/nsd/uri.zone" <<'ZONE'
$ORIGIN uri.test.
$TTL 60
@         SOA ns.uri.test. admin.uri.test. 1 3600 600 86400 60
@         NS  ns
ns        A   127.0.0.53
evil.test A   127.0.0.2
ZONE
nsd_run 127.0.0.1 "$NSD_PORT" bl.test="$T/nsd/bl.zone" uri.test="$T/nsd/uri.zone"
nsd_wait 2.0.0.127.bl.test A 127.0.0.2
nsd_wait evil.test.uri.test A 127.0.0.2

brev_init dnsbl
brev_user alice@example.test 'pw-secret-1'
cat >>"$D/brev.conf" <<CONF
dns.resolver = 127.0.0.1:$NSD_PORT
spam.dnsbl = bl.test=6
spam.uribl = uri.test=6
spam.check_loopback = yes
listen.smtp = 127.0.0.1:$P_SMTP [::1]:$P_SMTP
CONF
for bad in "spam.dnsbl=bad..zone" "spam.uribl=uri.test=lots" "spam.dnsbl=a.test,b.test c d e f g h i.test"; do
	rc=0
	err=$("$BREV" -d "$D" -o "$bad" serve 2>&1) || rc=$?
	[ $rc -eq 1 ] || fail "serve with $bad: exit status $rc"
	grep -q "${bad%%=*}: " <<<"$err" || fail "serve with $bad: $err"
done
export P_SMTP P_SUB P_IMAP
DNSBL_PY=$ROOT/tests/e2e/t-16-spam-dnsbl/dnsbl.py

brev_start
python3 "$DNSBL_PY" lists || fail "blocklists"
# one inbound session from 127.0.0.2; its submission session is not checked
n=$(grep -c "smtp dnsbl 127.0.0.2 listed in bl.test" "$D/serve.log") || true
[ "$n" = 1 ] || fail "$n dnsbl log lines for 127.0.0.2, wanted 1 (submission is not checked)"
grep -q "uribl evil.test listed in uri.test" "$D/serve.log" || fail "no uribl log line"
grep -q "smtp pregreet peer=127.0.0.3" "$D/serve.log" || fail "no pregreet log line"
brev_stop

# A blocklist that never answers: a resolver that reads queries and says
# nothing. The banner waits for the look-up's own time-out only.
HOLE=$(free_port)
python3 -c 'import socket,sys,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",int(sys.argv[1])))
end=time.time()+300
while time.time()<end: s.recv(4096)' "$HOLE" &
brev_start -o dns.resolver=127.0.0.1:"$HOLE"
python3 "$DNSBL_PY" timeout || fail "blocklist that times out"
grep -Eq "smtp dnsbl 2\.0\.0\.127\.bl\.test: no answer, not counted \(dns server 127\.0\.0\.1:$HOLE timed out\)" \
	"$D/serve.log" || fail "no log line for the time-out"
# a silent URI list is asked once per message, not once per link
n=$(grep -c "uribl .*: no answer, not counted" "$D/serve.log") || true
[ "$n" = 1 ] || fail "$n uribl time-outs for one message, wanted 1: $(grep uribl "$D/serve.log")"
grep -q "uribl a.good.test.uri.test: no answer" "$D/serve.log" || fail "the first link host was not asked"
brev_stop

# Loopback clients are the machine's own programs: skipped by default.
sed -i '/^spam.check_loopback/d' "$D/brev.conf"
brev_start
python3 "$DNSBL_PY" loopback || fail "loopback clients without spam.check_loopback"
brev_stop

brev_start -o spam.check_loopback=yes -o spam.pregreet=0
python3 "$DNSBL_PY" nopause || fail "spam.pregreet = 0"
brev_stop
echo ok
