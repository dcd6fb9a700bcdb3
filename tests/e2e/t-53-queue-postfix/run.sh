#!/bin/bash
# Interop with a real peer MTA, both ways, inside a private network and
# mount namespace (Postfix only asks port-53 resolvers from
# /etc/resolv.conf): nsd on 127.0.0.53:53 serves the "test." zone; a
# private resolv.conf is bind-mounted over /etc/resolv.conf; brev for
# alice.test listens on 127.0.0.2:25, brev for bob.test on 127.0.0.3:25, a
# private Postfix instance (own config_directory, queue and mail dirs) is
# the MX for pf.test on 127.0.0.6:25. Nothing can leave the namespace.
#   brev (alice) -> Postfix: pf@pf.test gets the message in its Maildir.
#   Postfix -> brev (bob): Postfix looks up bob.test's MX and delivers.
if [ -z "${IN_NS:-}" ]; then
	# (lib.sh is not sourced yet: its skip by hand)
	command -v postfix >/dev/null || { echo "SKIP: postfix not installed (tools/deps.sh test installs it)" >&2; exit 77; }
	exec unshare --net --mount --fork env IN_NS=1 bash "$0" "$@"
fi
. ../lib.sh
. ../queue/lib.sh
ip link set lo up
for a in 2 3 6 53; do ip addr add 127.0.0.$a/8 dev lo; done
echo "nameserver 127.0.0.53" >"$T/resolv.conf"
mount --bind "$T/resolv.conf" /etc/resolv.conf
P25=25
NSD_ADDR=127.0.0.53 NSD_PORT=53 nsd_start
RESOLVER=127.0.0.53
# pf.test: Postfix's domain, MX on 127.0.0.6 (not in the shared zone).
printf 'pf      MX  10 mx.pf\nmx.pf   A   127.0.0.6\n' >"$T/pf.zone"
nsd_add "$T/pf.zone" pf.test MX mx.pf.test

# ---- Postfix, MX for pf.test ----
PF=$T/pf
chmod 755 "$T" # postfix and nobody must reach their directories
mkdir -p "$PF/etc" "$PF/queue" "$PF/data" "$PF/mail"
chown postfix "$PF/data"
chown nobody "$PF/mail"
cat >"$PF/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.6
inet_protocols = ipv4
myhostname = mx.pf.test
mydomain = pf.test
myorigin = pf.test
mydestination =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = pf.test
virtual_mailbox_maps = inline:{ pf@pf.test=pf/ }
virtual_mailbox_base = $PF/mail
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
alias_maps =
alias_database =
smtp_bind_address = 127.0.0.6
smtpd_peername_lookup = no
smtp_tls_security_level = may
maillog_file = $PF/maillog
maillog_file_prefixes = /tmp
biff = no
CF
grep -v '^#' /etc/postfix/master.cf | grep -v '^ ' | grep -v '^$' |
	awk '$1 == "smtp" && $2 == "inet" { $1 = "127.0.0.6:25" } { if (NF >= 8) $5 = "n"; print }' \
		>"$PF/etc/master.cf"
script -qec "postfix -c $PF/etc start" /dev/null >"$T/postfix-start.log" 2>&1 ||
	{ cat "$T/postfix-start.log"; fail "postfix start"; }
at_exit 'postfix -c "$PF/etc" abort >/dev/null 2>&1'
wait_addr_port 127.0.0.6 25

# ---- two brevs ----
mta_init alice alice.test 127.0.0.2
DA=$D
brev_user alice@alice.test alice-pw
mta_start
mta_init bob bob.test 127.0.0.3
DB=$D; PB_IMAPS=$P_IMAPS
brev_user bob@bob.test bob-pass
mta_start

# brev -> Postfix
printf 'From: alice@alice.test\r\nTo: pf@pf.test\r\nSubject: brev to postfix\r\nMessage-ID: <b2p@alice.test>\r\n\r\nhello postfix\r\n' |
	"$BREV" -d "$DA" sendmail -f alice@alice.test pf@pf.test || fail "sendmail"
until_true 20 sh -c "ls '$PF/mail/pf/new/' 2>/dev/null | grep -q ." || {
	cat "$PF/maillog" 2>/dev/null | tail -20; grep "queue id" "$DA/serve.log"; fail "postfix did not get brev's message"; }
grep -q "hello postfix" "$PF/mail/pf/new/"* || fail "postfix maildir content"
grep -q 'rcpt=pf@pf.test mx=mx.pf.test addr=127.0.0.6 tls=.*result=delivered' "$DA/serve.log" || fail "log line"

# Postfix -> brev: submitted to Postfix's smtpd from loopback (mynetworks)
python3 - <<'PY' || fail "submit to postfix"
import socket
s = socket.create_connection(("127.0.0.6", 25), timeout=20)
f = s.makefile("rb")
def reply():
    while True:
        l = f.readline()
        if l[3:4] != b"-":
            return l
assert reply().startswith(b"220")
for cmd, want in ((b"EHLO client.test", b"250"), (b"MAIL FROM:<pf@pf.test>", b"250"),
                  (b"RCPT TO:<bob@bob.test>", b"250"), (b"DATA", b"354")):
    s.sendall(cmd + b"\r\n")
    r = reply()
    assert r.startswith(want), (cmd, r)
s.sendall(b"From: pf@pf.test\r\nTo: bob@bob.test\r\nSubject: postfix to brev\r\n\r\nhello brev\r\n.\r\n")
r = reply()
assert r.startswith(b"250"), r
s.sendall(b"QUIT\r\n")
PY
python3 - "$PB_IMAPS" <<'PY' || { tail -20 "$PF/maillog"; fail "bob did not get Postfix's message"; }
import sys, imaplib, ssl, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
for _ in range(200):
    m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx)
    m.login("bob@bob.test", "bob-pass"); m.select("INBOX")
    d = m.search(None, "SUBJECT", '"postfix to brev"')[1]
    if d[0]:
        raw = m.fetch(d[0].split()[0], "(RFC822)")[1][0][1]
        assert b"hello brev" in raw
        sys.exit(0)
    m.logout(); time.sleep(0.1)
sys.exit(1)
PY
grep -q "helo=mx.pf.test" "$DB/serve.log" || fail "bob's log does not show Postfix"
postfix -c "$PF/etc" stop >/dev/null 2>&1 || true
note ok
