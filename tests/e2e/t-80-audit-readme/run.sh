#!/bin/bash
# README promises no other test checked (issue 23's audit):
#   - `brev init` writes every key with its default, commented out, and
#     those defaults are the ones README's configuration table gives; every
#     key brev.conf knows is in that table;
#   - `init --public` makes the listeners of README's client settings table:
#     25, 587, 465, 143, 993, 110, 995 on IPv4 and IPv6, and `brev status`
#     shows those ports in the client settings block; its certificate names
#     the machine's addresses, link-local ones left out (docs/tls.md);
#   - "brev does not put a copy of sent mail in the Sent folder": after a
#     submission the sender's mailboxes stay empty while the recipient gets
#     the message;
#   - APPEND over the quota answers NO [OVERQUOTA] and stores nothing, a
#     65th keyword NO [LIMIT] (STORE, APPEND, COPY and MOVE alike), 20 BADs in a row a BYE, the 1,001st
#     mailbox NO [LIMIT] (docs/imap.md);
#   - a message deleted over POP3 is gone, not in Trash (docs/pop3.md);
#   - client-initiated TLS renegotiation is refused (docs/tls.md).
. ../lib.sh
README=$ROOT/README.md

# ---- brev.conf's defaults are README's ----
X=$T/x
"$BREV" -d "$X" init --domain example.test >/dev/null || fail "init"
# key|default as README's table has them ("the machine's name", "(empty)",
# `user`'s brev are an empty value in brev.conf; "0 (none)" is 0, "64G (1G
# on 32-bit)" is 64G on this 64-bit machine)
want='hostname|
domains|localhost
listen.smtp|127.0.0.1:2525
listen.submission|127.0.0.1:2587
listen.submissions|127.0.0.1:2465
submission.shared_senders|
listen.imap|127.0.0.1:2143
listen.imaps|127.0.0.1:2993
listen.pop3|127.0.0.1:2110
listen.pop3s|127.0.0.1:2995
listen.http|127.0.0.1:2080
listen.https|127.0.0.1:2443
http.session_idle|1d
listen.managesieve|127.0.0.1:4190
tls.cert|cert.pem
tls.key|key.pem
tls.acme|
tls.acme_email|
tls.acme_names|
tls.acme_ca|
dns.resolver|
delivery.port|25
delivery.relay|
delivery.relay_ca|
delivery.relay_fingerprint|
delivery.tls_ca|
delivery.retry|5m 10m 30m 1h 2h 4h 8h
delivery.delay_notice|4h
delivery.max_age|5d
limits.message_size|50M
limits.connections|200
limits.timeout_preauth|30s
limits.timeout_imap|30m
limits.timeout_pop3|10m
quota.default|0
quota.messages|0
store.map_size|64G
log.level|info
user|
auth.dmarc_reject|yes
spam.strength|normal
spam.dnsbl|
spam.uribl|
spam.pregreet|300
spam.check_loopback|no
spam.greylist_delay|1m
virus.clamd|
virus.on_error|tempfail
lists.bounce_limit|5'
while IFS='|' read -r k v; do
	grep -qxF "#$k = $v" "$X/brev.conf" ||
		fail "brev.conf's default for $k is not README's '$v': $(grep "^#$k = " "$X/brev.conf")"
	# the key is a row of README's table (first column, alone or in a list)
	grep -Eq "^\| ([a-z0-9_.]+, )*$k(, [a-z0-9_.]+)* \|" "$README" || fail "README's table has no row for $k"
done <<<"$want"
# and every key brev.conf lists is in README (the relay's user and password
# file are named in the delivery.relay row)
sed -n 's/^#\([a-z0-9_.]*\) = .*/\1/p' "$X/brev.conf" >"$T/keys"
[ "$(wc -l <"$T/keys")" -ge 30 ] || fail "brev.conf lists only $(wc -l <"$T/keys") keys"
while read -r k; do
	grep -qF "$k" "$README" || fail "brev.conf key $k is not in README"
done <"$T/keys"
note "brev.conf: $(wc -l <"$T/keys") keys, README's defaults"

# ---- init --public: the standard ports ----
P=$T/public
"$BREV" -d "$P" init --domain example.test --hostname mx.example.test --public >/dev/null || fail "init --public"
for l in smtp:25 submission:587 submissions:465 imap:143 imaps:993 pop3:110 pop3s:995 http:80 https:443; do
	grep -qx "listen.${l%:*} = 0.0.0.0:${l#*:} \[::\]:${l#*:}" "$P/brev.conf" ||
		fail "--public: no listen.${l%:*} on port ${l#*:}: $(grep "^listen.${l%:*} " "$P/brev.conf")"
done
"$BREV" -d "$P" status >"$T/status" 2>&1 || fail "status: $(cat "$T/status")"
grep -Eq '^  IMAP +port 143 STARTTLS, or port 993 SSL/TLS$' "$T/status" || fail "status IMAP: $(cat "$T/status")"
grep -Eq '^  POP3 +port 110 STARTTLS, or port 995 SSL/TLS$' "$T/status" || fail "status POP3: $(cat "$T/status")"
grep -Eq '^  SMTP \(send\) +port 587 STARTTLS, or port 465 SSL/TLS; authentication: normal password$' "$T/status" ||
	fail "status SMTP: $(cat "$T/status")"
grep -Eq '^  server +mx\.example\.test$' "$T/status" || fail "status server: $(cat "$T/status")"
note "init --public: 25 587 465 143 993 110 995 80 443 on 0.0.0.0 and [::]"
# docs/tls.md: listening on every address, the server certificate also
# names the machine's own addresses (not link-local ones), so a phone given
# the IP address verifies. A network namespace of the test's own with a
# veth pair holds the addresses.
[ "$(id -u)" = 0 ] && NS=(unshare --net) || NS=(unshare --map-root-user --net)
"${NS[@]}" bash -c 'ip link set lo up && ip link add v0 type veth peer name v1 && ip link set v0 up &&
	ip addr add 192.0.2.77/24 dev v0 && ip addr add 2001:db8::77/64 dev v0 nodad &&
	ip addr add fe80::77/64 dev v0 nodad &&
	"$0" -d "$1" init --domain example.test --hostname mx.example.test --public' "$BREV" "$T/lan" \
	>"$T/lan.out" 2>&1 || fail "init --public in a namespace: $(cat "$T/lan.out")"
SAN=$(openssl x509 -in "$T/lan/cert.pem" -noout -ext subjectAltName) || fail "openssl x509"
for n in DNS:mx.example.test DNS:localhost "IP Address:127.0.0.1" "IP Address:192.0.2.77" \
	"IP Address:2001:DB8:0:0:0:0:0:77"; do
	case "$SAN" in *"$n"*) ;; *) fail "--public certificate lacks $n: $SAN" ;; esac
done
case "$SAN" in *FE80*) fail "--public certificate names a link-local address: $SAN" ;; esac
note "--public certificate names the machine's addresses"

# ---- no copy of sent mail in Sent ----
brev_init srv
brev_user alice@example.test alice-password
brev_user bob@example.test bob-password
echo "quota.default = 8K" >>"$D/brev.conf"
brev_start
python3 - "$P_SUB" "$P_IMAP" <<'PY' || fail "sent mail"
import imaplib, smtplib, ssl, sys, time
psub, pimap = int(sys.argv[1]), int(sys.argv[2])
c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", psub, timeout=20)
s.starttls(context=c)
s.login("alice@example.test", "alice-password")
s.sendmail("alice@example.test", ["bob@example.test"],
           b"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: sent copy?\r\n\r\nhi\r\n")
s.quit()
def login(u, p):
    m = imaplib.IMAP4("127.0.0.1", pimap)
    m.login(u, p)
    return m
for _ in range(100):
    m = login("bob@example.test", "bob-password")
    m.select("INBOX")
    n = m.search(None, "SUBJECT", '"sent copy?"')[1][0].split()
    m.logout()
    if n:
        break
    time.sleep(0.1)
else:
    sys.exit("the message did not reach bob")
m = login("alice@example.test", "alice-password")
typ, boxes = m.list()
names = [b.decode().rsplit(' ', 1)[1].strip('"') for b in boxes]
print("alice's mailboxes:", names)
for name in names:
    typ, st = m.status('"%s"' % name, "(MESSAGES)")
    if typ != "OK" or not st[0].decode().endswith("(MESSAGES 0)"):
        sys.exit("alice's %s is not empty after sending: %r" % (name, st))
m.logout()
# docs/imap.md: APPEND over the account's quota is NO [OVERQUOTA] and
# stores nothing (quota.default = 8K here)
m = login("bob@example.test", "bob-password")
body = b"Subject: fill\r\n\r\n" + b"x" * 5000 + b"\r\n"
typ, r = m.append("INBOX", None, None, body)
assert typ == "OK", r
n0 = int(m.status("INBOX", "(MESSAGES)")[1][0].split()[-1].strip(b")"))
typ, r = m.append("INBOX", None, None, body)
assert typ == "NO" and b"[OVERQUOTA]" in r[0], (typ, r)
n1 = int(m.status("INBOX", "(MESSAGES)")[1][0].split()[-1].strip(b")"))
assert n1 == n0, (n0, n1)
m.logout()
PY
note "no copy of sent mail in the sender's mailboxes; APPEND over quota: NO [OVERQUOTA]"

# docs/imap.md's limits: a STORE that would add a 65th keyword gets NO
# [LIMIT] and changes nothing; 20 BADs in a row end the session with BYE.
# docs/pop3.md: a message deleted over POP3 is gone, not moved to Trash.
python3 - "$P_IMAP" "$P_POP3" <<'PY' || fail "imap limits / pop3 deletion"
import imaplib, poplib, socket, sys
pimap, ppop = int(sys.argv[1]), int(sys.argv[2])
m = imaplib.IMAP4("127.0.0.1", pimap)
m.login("alice@example.test", "alice-password")
m.append("INBOX", None, None, b"Subject: kw\r\n\r\nx\r\n")
m.select("INBOX")
kws = " ".join("kw%d" % i for i in range(64))
typ, r = m.store("1", "+FLAGS", "(%s)" % kws)
assert typ == "OK", r
typ, r = m.store("1", "+FLAGS", "(kw64)")
assert typ == "NO" and b"[LIMIT]" in r[0], (typ, r)
flags = m.fetch("1", "(FLAGS)")[1][0]
assert b"kw63" in flags and b"kw64" not in flags, flags
# ... and so are an APPEND with a new keyword, and a COPY or MOVE of a
# message whose keyword the full INBOX has no room for.
n0 = m.status("INBOX", "(MESSAGES)")[1][0]
typ, r = m.append("INBOX", "(kw64)", None, b"Subject: kw2\r\n\r\nx\r\n")
assert typ == "NO" and b"[LIMIT]" in r[0], (typ, r)
typ, r = m.create("Lab")
assert typ == "OK", r
typ, r = m.append("Lab", "(other $Done)", None, b"Subject: lab\r\n\r\nx\r\n")
assert typ == "OK", r
m.select("Lab")
typ, r = m.copy("1", "INBOX")
assert typ == "NO" and b"[LIMIT]" in r[0], (typ, r)
typ, r = m._simple_command("MOVE", "1", "INBOX")
assert typ == "NO" and b"[LIMIT]" in r[0], (typ, r)
n1 = m.status("INBOX", "(MESSAGES)")[1][0]
assert n1 == n0, (n0, n1)
flags = m.fetch("1", "(FLAGS)")[1][0]
assert b"other" in flags and b"$Done" in flags, flags
m.close()
typ, r = m.delete("Lab")
assert typ == "OK", r
m.logout()
s = socket.create_connection(("127.0.0.1", pimap), 10)
f = s.makefile("rb")
f.readline()
for i in range(20):
    s.sendall(b"b%d FROB\r\n" % i)
lines = []
while True:
    l = f.readline()
    if not l:
        break
    lines.append(l)
assert sum(l.startswith(b"b") and b" BAD " in l for l in lines) == 20, lines
assert lines[-1].startswith(b"* BYE"), lines[-3:]
s.close()
# POP3: alice's INBOX holds the keyword message; delete it over POP3
p = poplib.POP3("127.0.0.1", ppop, timeout=10)
p.user("alice@example.test"); p.pass_("alice-password")
n = p.stat()[0]
assert n >= 1, n
for i in range(1, n + 1):
    p.dele(i)
p.quit()
m = imaplib.IMAP4("127.0.0.1", pimap)
m.login("alice@example.test", "alice-password")
for box in ("INBOX", "Trash"):
    st = m.status(box, "(MESSAGES)")[1][0]
    assert st.endswith(b"(MESSAGES 0)"), (box, st)
m.logout()
PY
note "65th keyword NO [LIMIT] (STORE, APPEND, COPY, MOVE); 20 BADs then BYE; POP3 deletion not moved to Trash"
# docs/imap.md: at most 1,000 mailboxes per account, then CREATE is NO [LIMIT]
python3 - "$P_IMAP" <<'PY' || fail "mailbox limit"
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("bob@example.test", "bob-password")
for i in range(1100):
    typ, r = m.create("box%d" % i)
    if typ != "OK":
        break
assert typ == "NO" and b"[LIMIT]" in r[0], (i, typ, r)
n = len(m.list()[1])
assert n == 1000, n
m.logout()
PY
note "CREATE stops at 1,000 mailboxes with NO [LIMIT]"
# docs/tls.md: client-initiated renegotiation is refused (OpenSSL's
# s_client renegotiates on a line "R"; the server answers with an alert)
out=$( (sleep 1; echo R; sleep 3) | timeout 20 openssl s_client -connect 127.0.0.1:$P_IMAPS -tls1_2 \
	-CAfile "$D/cert.pem" 2>&1) || true
grep -q '^RENEGOTIATING' <<<"$out" || fail "s_client did not renegotiate: $out"
grep -q 'no renegotiation' <<<"$out" || fail "renegotiation was not refused: $out"
note "client-initiated renegotiation refused"
brev_stop
echo ok
