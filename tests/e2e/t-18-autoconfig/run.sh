#!/bin/bash
# Clients configure themselves (issue 20, docs/http.md): Apple's
# .mobileconfig for a logged-in account (Basic or a web login; parsed with
# plistlib), Thunderbird's autoconfig at both paths and Outlook's POX
# Autodiscover, parsed with
# Python's xml.etree and checked against brev's own listeners, over http
# and https; the MTA-STS policy over https only (404 when tls.mta_sts is
# none, and over plain http); `brev dns` publishing _mta-sts and _smtp._tls,
# served by nsd and queried with drill, the id changing with the policy.
. ../lib.sh
brev_init ac
# a hostname with a character XML must escape is not a DNS name; the
# escaping is checked with a second domain instead
sed -i 's/^domains = .*/domains = example.test other.test/' "$D/brev.conf"
grep -q '^domains = example.test other.test' "$D/brev.conf" || echo "domains = example.test other.test" >>"$D/brev.conf"
echo "listen.pop3 =" >>"$D/brev.conf" # a listener that is off is not offered
brev_start
wait_port "$P_HTTP"
wait_port "$P_HTTPS"
U=http://127.0.0.1:$P_HTTP
S=https://localhost:$P_HTTPS
C=(curl -sS --max-time 20 --cacert "$D/cert.pem")

# ---- Apple's .mobileconfig: only for a logged-in account, its own address ----
brev_user alice@example.test alice-pw-1
code=$("${C[@]}" -o /dev/null -w '%{http_code}' "$S/mobileconfig")
[ "$code" = 401 ] || fail "mobileconfig without a login: $code"
"${C[@]}" -u alice@example.test:alice-pw-1 -D "$T/mh" -o "$T/profile" "$S/mobileconfig" || fail "mobileconfig"
grep -qi '^content-type: application/x-apple-aspen-config' "$T/mh" || fail "type: $(cat "$T/mh")"
grep -qi '^content-disposition: attachment; filename="brev-mail.mobileconfig"' "$T/mh" || fail "disposition"
python3 - "$T/profile" "$P_IMAPS" "$P_SUBS" <<'PY' || fail "the profile"
import plistlib, sys
p = plistlib.load(open(sys.argv[1], "rb"))
assert p["PayloadType"] == "Configuration" and p["PayloadVersion"] == 1, p
m = p["PayloadContent"][0]
assert m["PayloadType"] == "com.apple.mail.managed", m
assert m["EmailAddress"] == "alice@example.test" and m["IncomingMailServerUsername"] == "alice@example.test", m
assert m["EmailAccountType"] == "EmailTypeIMAP", m
assert m["IncomingMailServerHostName"] == "localhost" and m["OutgoingMailServerHostName"] == "localhost", m
assert m["IncomingMailServerPortNumber"] == int(sys.argv[2]) and m["IncomingMailServerUseSSL"] is True, m
assert m["OutgoingMailServerPortNumber"] == int(sys.argv[3]) and m["OutgoingMailServerUseSSL"] is True, m
assert "alice-pw" not in open(sys.argv[1]).read(), "the password is in the profile"
PY
# the same profile (same UUIDs) through a web login's cookie
"${C[@]}" -c "$T/jar" -H 'Content-Type: application/json' \
	-d '{"username":"alice@example.test","password":"alice-pw-1"}' "$S/login" >/dev/null || fail "login"
"${C[@]}" -b "$T/jar" -o "$T/profile2" "$S/mobileconfig" || fail "mobileconfig by cookie"
cmp -s "$T/profile" "$T/profile2" || fail "the profile differs between two downloads"

# ---- Thunderbird autoconfig: both paths, http and https ----
for url in "$U/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice%40example.test" \
	"$S/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice%40example.test" \
	"$U/mail/config-v1.1.xml?emailaddress=alice%40example.test" "$S/mail/config-v1.1.xml"; do
	"${C[@]}" -D "$T/h" -o "$T/tb.xml" "$url" || fail "curl $url"
	grep -q '^HTTP/1.1 200 ' "$T/h" || fail "$url: $(head -1 "$T/h")"
	grep -qi '^content-type: application/xml; charset=utf-8' "$T/h" || fail "$url: type: $(cat "$T/h")"
	python3 - "$T/tb.xml" <<'PY' || fail "$url: clientConfig wrong"
import os, sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
assert r.tag == "clientConfig" and r.get("version") == "1.1", r.tag
p = r.find("emailProvider")
assert p.get("id") == "example.test", p.get("id")
assert [d.text for d in p.findall("domain")] == ["example.test", "other.test"]
got = [(s.tag, s.get("type"), s.findtext("hostname"), int(s.findtext("port")), s.findtext("socketType"),
        s.findtext("username"), s.findtext("authentication"))
       for s in p if s.tag in ("incomingServer", "outgoingServer")]
e = os.environ
want = [("incomingServer", "imap", int(e["P_IMAPS"]), "SSL"), ("incomingServer", "imap", int(e["P_IMAP"]), "STARTTLS"),
        ("incomingServer", "pop3", int(e["P_POP3S"]), "SSL"),
        ("outgoingServer", "smtp", int(e["P_SUBS"]), "SSL"), ("outgoingServer", "smtp", int(e["P_SUB"]), "STARTTLS")]
want = [(t, ty, "localhost", port, st, "%EMAILADDRESS%", "password-cleartext") for t, ty, port, st in want]
assert got == want, (got, want)
PY
done

# ---- Outlook POX Autodiscover ----
REQ='<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
<Request><EMailAddress>alice@example.test</EMailAddress>
<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
</Request></Autodiscover>'
for url in "$U/autodiscover/autodiscover.xml" "$S/Autodiscover/Autodiscover.xml"; do
	"${C[@]}" -D "$T/h" -o "$T/ad.xml" -H 'Content-Type: text/xml' --data-binary "$REQ" "$url" || fail "curl $url"
	grep -q '^HTTP/1.1 200 ' "$T/h" || fail "$url: $(head -1 "$T/h")"
	grep -qi '^content-type: application/xml' "$T/h" || fail "$url: type"
	python3 - "$T/ad.xml" <<'PY' || fail "$url: POX answer wrong"
import os, sys, xml.etree.ElementTree as ET
ns = {"a": "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006",
      "o": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
r = ET.parse(sys.argv[1]).getroot()
acc = r.find("o:Response/o:Account", ns)
assert acc.findtext("o:AccountType", None, ns) == "email"
assert acc.findtext("o:Action", None, ns) == "settings"
got = [(p.findtext("o:Type", None, ns), p.findtext("o:Server", None, ns), int(p.findtext("o:Port", None, ns)),
        p.findtext("o:SSL", None, ns), p.findtext("o:LoginName", None, ns)) for p in acc.findall("o:Protocol", ns)]
e = os.environ
want = [("IMAP", "localhost", int(e["P_IMAPS"]), "on", "alice@example.test"),
        ("POP3", "localhost", int(e["P_POP3S"]), "on", "alice@example.test"),
        ("SMTP", "localhost", int(e["P_SUBS"]), "on", "alice@example.test")]
assert got == want, (got, want)
PY
done
# an address with a character XML escapes comes back as it was sent
# (the parser undoes the escape only if brev wrote one)
"${C[@]}" -o "$T/ad2.xml" --data-binary "${REQ/alice@/o\'neil@}" "$U/autodiscover/autodiscover.xml" || fail "curl o'neil"
grep -q "o&apos;neil@example.test" "$T/ad2.xml" || fail "apostrophe not escaped: $(grep LoginName "$T/ad2.xml" | head -1)"
python3 -c '
import sys, xml.etree.ElementTree as ET
ns = {"o": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
names = {e.text for e in ET.parse(sys.argv[1]).getroot().iter("{%s}LoginName" % ns["o"])}
assert names == {"o'"'"'neil@example.test"}, names' "$T/ad2.xml" || fail "LoginName with an apostrophe"
# HEAD: the headers of a GET, no body
"${C[@]}" -I -o "$T/head" "$U/mail/config-v1.1.xml" || fail "HEAD"
grep -qi '^content-type: application/xml' "$T/head" || fail "HEAD: $(cat "$T/head")"
# GET is not how it is asked; no address is a 400; a body over 16 KiB a 413
code=$("${C[@]}" -o /dev/null -w '%{http_code}' "$U/autodiscover/autodiscover.xml")
[ "$code" = 405 ] || fail "GET autodiscover: $code"
code=$("${C[@]}" -o /dev/null -w '%{http_code}' --data-binary '<Autodiscover/>' "$U/autodiscover/autodiscover.xml")
[ "$code" = 400 ] || fail "no address: $code"
code=$("${C[@]}" -o /dev/null -w '%{http_code}' --data-binary '<EMailAddress>a<b@x</EMailAddress>' "$U/autodiscover/autodiscover.xml")
[ "$code" = 400 ] || fail "markup in the address: $code"
head -c 20000 /dev/zero | tr '\0' x >"$T/big"
code=$("${C[@]}" -o /dev/null -w '%{http_code}' --data-binary @"$T/big" "$U/autodiscover/autodiscover.xml")
[ "$code" = 413 ] || fail "20000-byte body: $code"

# ---- MTA-STS: off by default ----
code=$("${C[@]}" -o /dev/null -w '%{http_code}' "$S/.well-known/mta-sts.txt")
[ "$code" = 404 ] || fail "mta-sts with tls.mta_sts=none: $code"
brev_stop

# ---- on: served over https, never over plain http ----
echo "tls.mta_sts = enforce" >>"$D/brev.conf"
brev_start
wait_port "$P_HTTPS"
"${C[@]}" -D "$T/h" -o "$T/sts" "$S/.well-known/mta-sts.txt" || fail "curl mta-sts"
grep -q '^HTTP/1.1 200 ' "$T/h" || fail "mta-sts: $(head -1 "$T/h")"
grep -qi '^content-type: text/plain' "$T/h" || fail "mta-sts type"
printf 'version: STSv1\r\nmode: enforce\r\nmx: localhost\r\nmax_age: 604800\r\n' | cmp -s - "$T/sts" ||
	fail "policy: $(od -c "$T/sts" | head)"
code=$("${C[@]}" -o /dev/null -w '%{http_code}' "$U/.well-known/mta-sts.txt")
[ "$code" = 404 ] || fail "mta-sts over plain http: $code"
brev_stop

# ---- brev dns: the records, served by nsd, queried with drill ----
DEAD=$(free_port)
NSD_PORT=$(free_port)
mkdir -p "$T/nsd"
"$BREV" -d "$D" -o hostname=mx.example.test -o dns.resolver=127.0.0.1:$DEAD dns example.test >"$T/rec" 2>/dev/null || true
grep -qP '^_mta-sts\.example\.test\.\t3600\tIN\tTXT\t"v=STSv1; id=[0-9a-f]{16}"$' "$T/rec" || fail "no _mta-sts record: $(cat "$T/rec")"
grep -qP '^mta-sts\.example\.test\.\t3600\tIN\tCNAME\tmx\.example\.test\.$' "$T/rec" || fail "no mta-sts CNAME"
{
	printf '$ORIGIN test.\n$TTL 3600\n@ IN SOA ns.test. h.test. 1 3600 600 86400 60\n@ IN NS ns.test.\nns IN A 127.0.0.1\n'
	grep -v '^;' "$T/rec"
} >"$T/nsd/test.zone"
nsd_run 127.0.0.1 "$NSD_PORT" test="$T/nsd/test.zone"
nsd_wait example.test MX mx.example.test
sts=$(drill -p "$NSD_PORT" @127.0.0.1 TXT _mta-sts.example.test | awk '$4 == "TXT" && $1 ~ /^_/ {$1=$2=$3=$4=""; print}' | sed 's/^ *//')
[[ "$sts" =~ ^\"v=STSv1\;\ id=[0-9a-f]{16}\"$ ]] || fail "_mta-sts TXT: '$sts'"
rpt=$(drill -p "$NSD_PORT" @127.0.0.1 TXT _smtp._tls.example.test | awk '$4 == "TXT" && $1 ~ /^_/ {$1=$2=$3=$4=""; print}' | sed 's/^ *//')
[ "$rpt" = '"v=TLSRPTv1; rua=mailto:postmaster@example.test"' ] || fail "_smtp._tls TXT: '$rpt'"
rc=0; "$BREV" -d "$D" -o hostname=mx.example.test -o dns.resolver=127.0.0.1:$NSD_PORT dns example.test >"$T/check" 2>/dev/null || rc=$?
grep -qF "MTASTS present, correct" "$T/check" || fail "check: $(grep MTASTS "$T/check")"
grep -qF "TLSRPT present, correct" "$T/check" || fail "check: $(grep TLSRPT "$T/check")"
# the id changes when the policy does (mode, then mx), not otherwise
sts_id() {
	{ "$BREV" -d "$D" -o dns.resolver=127.0.0.1:$DEAD "$@" dns example.test 2>/dev/null || true; } |
		grep -o 'v=STSv1; id=[0-9a-f]*'
}
a=$(sts_id -o hostname=mx.example.test); b=$(sts_id -o hostname=mx.example.test -o tls.mta_sts=testing)
c=$(sts_id -o hostname=mx2.example.test); a2=$(sts_id -o hostname=mx.example.test)
[ -n "$a" ] && [ "$a" != "$b" ] && [ "$a" != "$c" ] && [ "$a" = "$a2" ] || fail "ids: $a $b $c $a2"
# off: neither record
"$BREV" -d "$D" -o tls.mta_sts=none -o dns.resolver=127.0.0.1:$DEAD dns example.test >"$T/off" 2>/dev/null || true
grep -q '_mta-sts\|_smtp._tls' "$T/off" && fail "records printed with tls.mta_sts=none"
echo ok
