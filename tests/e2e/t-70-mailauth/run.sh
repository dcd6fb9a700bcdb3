#!/bin/bash
# Mail authentication (issue 9) against independent implementations:
#  - `brev dns alice.test` is appended verbatim to the zone nsd serves;
#  - alice's brev signs submitted mail; dkimpy (python3-dkim) and
#    opendkim-testmsg (in a private network namespace with nsd on port 53)
#    verify the stored message with the keys from that zone;
#  - the same message re-sent from 127.0.0.2 (mx.alice.test) to bob's port
#    25 gets spf=pass dkim=pass dmarc=pass;
#  - dkimpy-signed mail (RSA, Ed25519) passes, altered body/header fails;
#  - SPF verdicts for a dozen records equal python3-spf's (temperror
#    through a scripted SERVFAIL responder);
#  - DMARC p=reject gives 550 5.7.1, p=quarantine files into Junk;
#  - forged Authentication-Results claiming bob are removed (others stay),
#    127.0.0.1 gets "none (local client)", SERVFAIL or time-out of the
#    SPF, _dmarc or DKIM key look-up (faults.py) gives dmarc=temperror and
#    never 550, pct=0/50 sample, auth.dmarc_reject = no files into Junk.
. ../lib.sh
. ../queue/lib.sh
PY3=/usr/bin/python3   # Debian's python: python3-dkim, python3-spf
HERE=$(pwd)
for m in dkim spf nacl dns.resolver; do
	$PY3 -c "import $m" 2>/dev/null || fail "needs $m (python3-dkim python3-spf python3-nacl python3-dnspython)"
done

# keys dkimpy signs with (domain dk.test): RSA and Ed25519
$PY3 "$HERE/keys.py" "$T" || fail "key generation"

# nsd first with the fixed records and dkimpy's keys, so that `brev dns`
# gets quick answers; then its output is appended verbatim and nsd reloads
NSD_PORT=$(free_port)
mkdir -p "$T/nsd"
cat "$HERE/zone" "$T/dk.records" >"$T/nsd/test.zone"
nsd_run 127.0.0.1 "$NSD_PORT" test="$T/nsd/test.zone"
nsd_wait bob.test MX mx.bob.test

mta_init alice alice.test 127.0.0.2
DA=$D; PA_SUB=$P_SUB; PA_IMAPS=$P_IMAPS
brev_user alice@alice.test alice-pw
brev_user carol@alice.test carol-pw
"$BREV" -d "$DA" dns alice.test >"$T/alice.records" || fail "brev dns"
grep -q 'IN	MX	10 mx.alice.test.' "$T/alice.records" || fail "no MX line"
grep -q '_domainkey.alice.test.	3600	IN	TXT	"v=DKIM1; k=rsa; p=' "$T/alice.records" || fail "no DKIM line"
grep -qF "MX     MISSING" "$T/alice.records" || fail "brev dns does not see the MX is missing"
cat "$T/alice.records" >>"$T/nsd/test.zone"
# brev dns offers no A record for a loopback listener (127.0.0.2 here plays
# the public address): the test publishes it
grep -q 'WARNING: listen.smtp is on loopback only' "$T/alice.records" || fail "no loopback warning"
printf 'mx.alice.test.\t3600\tIN\tA\t127.0.0.2\n' >>"$T/nsd/test.zone"
kill -HUP "$NSD_PID"
nsd_wait alice.test MX mx.alice.test
# SERVFAIL for *.servfail.test and a few names, time-outs for others,
# everything else from nsd
PROXY=$(free_port)
python3 "$HERE/faults.py" "$PROXY" "$NSD_PORT" "$T/faults.log" &
until_true 10 eval 'timeout 2 drill -p "$PROXY" @127.0.0.1 MX bob.test 2>/dev/null | grep -q mx.bob.test' ||
	fail "faults.py does not answer"
export NSD_PORT PROXY T

D=$DA; mta_start; PID_A=$BREV_PID
# brev dns now finds every record it printed
"$BREV" -d "$DA" dns alice.test >"$T/alice.check"
for w in "MX     present, correct" "A      present (1 address)" "SPF    present, correct" \
	"DKIM   present, correct" "DMARC  present, correct"; do
	grep -qF "$w" "$T/alice.check" || { cat "$T/alice.check"; fail "brev dns check: $w"; }
done

RESOLVER=127.0.0.1:$PROXY mta_init bob bob.test 127.0.0.3
DB=$D; PB_IMAPS=$P_IMAPS
brev_user bob@bob.test bob-pass
mta_start; PID_B=$BREV_PID
export DA DB PA_SUB PA_IMAPS PB_IMAPS P25

# 1. alice submits to carol (local): the stored copy carries brev's signatures
$PY3 "$HERE/check.py" sign || fail "brev-signed message"
# 2. opendkim verifies it with the zone on port 53 in a private namespace
if command -v opendkim-testmsg >/dev/null && command -v unshare >/dev/null; then
	unshare --net --mount --fork bash "$HERE/opendkim.sh" "$T" || fail "opendkim-testmsg"
else
	fail "opendkim-testmsg or unshare missing"
fi
# 3. inbound at bob: brev's and dkimpy's signatures, SPF, DMARC
$PY3 "$HERE/check.py" inbound || fail "inbound checks"
# 4. the promises of docs/auth-mail.md: forged A-R removed, the local
# client, DNS trouble never a permanent reject, pct=
$PY3 "$HERE/check.py" promises || fail "auth-mail promises"
# 5. auth.dmarc_reject = no: bob again, p=reject failures into Junk
brev_stop
D=$DB
"$BREV" -d "$DB" -o auth.dmarc_reject=no serve >>"$DB/serve.log" 2>&1 &
BREV_PID=$!
wait_addr_port 127.0.0.3 "$P25"
wait_port "$PB_IMAPS"
$PY3 "$HERE/check.py" noreject || fail "auth.dmarc_reject = no"

brev_stop "$PID_A"
brev_stop
note ok
