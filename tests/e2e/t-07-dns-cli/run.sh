#!/bin/bash
# `brev dns` (issue 23): a server listening only on loopback gets a warning,
# not an A record for 127.0.0.1; with a dead resolver the look-ups give up
# quickly and the command exits 1; on a terminal the look-ups show progress;
# with every record published (nsd serving brev dns's own output) it exits 0;
# the client SRV records (issue 20) name the listeners' ports.
. ../lib.sh
brev_init dns
DEAD=$(free_port)

# ---- loopback only, dead resolver ----
t0=$(date +%s)
rc=0; "$BREV" -d "$D" -o dns.resolver=127.0.0.1:$DEAD dns example.test >"$T/out" 2>"$T/err" || rc=$?
took=$(( $(date +%s) - t0 ))
[ $rc = 1 ] || fail "dead resolver: exit $rc (wanted 1)"
grep -qP '\tIN\t(A|AAAA)\t(127\.|::1)' "$T/out" && fail "a loopback address offered for publishing: $(grep -P '\tIN\tA' "$T/out")"
grep -q '^; WARNING: listen.smtp is on loopback only (127.0.0.1)' "$T/out" || fail "no warning in the records: $(head -8 "$T/out")"
grep -q 'warning: listen.smtp is on loopback only' "$T/err" || fail "no warning on stderr: $(cat "$T/err")"
grep -q "could not check .* records (the resolver did not answer)" "$T/err" || fail "stderr: $(cat "$T/err")"
grep -q 'not checked: the resolver did not answer' "$T/out" || fail "remaining checks not skipped"
# one 2 s try instead of 2 x 3 s for each of seven look-ups (48 s before);
# the bound is generous for a loaded machine
[ $took -le 20 ] || fail "dead resolver: took ${took}s"
note "dead resolver: ${took}s"
# the zone-file lines are still all there
for r in MX TXT; do grep -qP "\tIN\t$r\t" "$T/out" || fail "no $r record"; done

# ---- progress on a terminal (script(1) gives brev a pty) ----
script -qec "'$BREV' -d '$D' -o dns.resolver=127.0.0.1:$DEAD dns example.test" /dev/null >"$T/tty" 2>&1 || true
grep -q 'brev dns: looking up MX example.test (1/' "$T/tty" || fail "no progress on a terminal: $(head -c 600 "$T/tty")"
# not on a pipe
grep -q 'looking up' "$T/err" && fail "progress written to a non-terminal"

# ---- a public address, every record published: exit 0 ----
cat >>"$D/brev.conf" <<CONF
listen.smtp = 192.0.2.25:25
hostname = mx.example.test
CONF
NSD_PORT=$(free_port)
mkdir -p "$T/nsd"
"$BREV" -d "$D" -o dns.resolver=127.0.0.1:$DEAD dns example.test >"$T/records" 2>/dev/null || true
grep -qP '^mx\.example\.test\.\t3600\tIN\tA\t192\.0\.2\.25$' "$T/records" || fail "no A record for the public address: $(cat "$T/records")"
grep -q WARNING "$T/records" && fail "warning for a public address"
{
	printf '$ORIGIN test.\n$TTL 3600\n@ IN SOA ns.test. h.test. 1 3600 600 86400 60\n@ IN NS ns.test.\nns IN A 127.0.0.1\n'
	grep -v '^;' "$T/records"
} >"$T/nsd/test.zone"
printf '$ORIGIN 2.0.192.in-addr.arpa.\n$TTL 3600\n@ IN SOA ns.test. h.test. 1 3600 600 86400 60\n@ IN NS ns.test.\n25 IN PTR mx.example.test.\n' >"$T/nsd/rev.zone"
nsd_run 127.0.0.1 "$NSD_PORT" test="$T/nsd/test.zone" 2.0.192.in-addr.arpa="$T/nsd/rev.zone"
nsd_wait example.test MX mx.example.test
rc=0; "$BREV" -d "$D" -o log.level=info -o dns.resolver=127.0.0.1:$NSD_PORT dns example.test >"$T/check" 2>"$T/err" || rc=$?
[ $rc = 0 ] || { cat "$T/check"; fail "all records published: exit $rc: $(cat "$T/err")"; }
for w in "MX     present, correct" "A      192.0.2.25 present, correct" "SPF    present, correct" \
	"DKIM   present, correct" "DMARC  present, correct" "PTR    192.0.2.25 present, correct"; do
	grep -qF "$w" "$T/check" || { cat "$T/check"; fail "check: $w"; }
done
[ ! -s "$T/err" ] || fail "stderr on success: $(cat "$T/err")"

# ---- client SRV records (RFC 6186/8314), served by nsd from brev dns's output ----
# each names the listener's own port and mx.example.test; implicit TLS
# preferred (priority 0) over STARTTLS (10); a listener that is off is "."
for svc in submissions:listen.submissions:0 submission:listen.submission:10 imaps:listen.imaps:0 \
	imap:listen.imap:10 pop3s:listen.pop3s:0 pop3:listen.pop3:10; do
	IFS=: read -r name key prio <<<"$svc"
	port=$(grep -E "^$key *=" "$D/brev.conf" | tail -1 | sed -E 's/.*:([0-9]+) *$/\1/')
	[ -n "$port" ] || fail "no $key in brev.conf"
	got=$(drill -p "$NSD_PORT" @127.0.0.1 SRV "_$name._tcp.example.test" | awk '$4 == "SRV" && $1 ~ /^_/ {print $5, $6, $7, $8}')
	[ "$got" = "$prio 1 $port mx.example.test." ] || fail "_$name._tcp SRV: '$got' (wanted '$prio 1 $port mx.example.test.')"
done
"$BREV" -d "$D" -o listen.pop3= -o dns.resolver=127.0.0.1:$DEAD dns example.test >"$T/off" 2>/dev/null || true
grep -qP '^_pop3\._tcp\.example\.test\.\t3600\tIN\tSRV\t0 0 0 \.$' "$T/off" || fail "a listener that is off is not published as '.'"
echo ok
