#!/bin/bash
# SRS for forwarded mail (issue 23, docs/smtp.md "Forwarding and SRS").
# Three brevs through the test's nsd (layout of ../queue/lib.sh, no
# namespace): alice.test on 127.0.0.2 forwards, bob.test on 127.0.0.3
# receives and checks SPF, sender.test on 127.0.0.7 is the original
# sender's server; sender.test publishes "v=spf1 ip4:127.0.0.7 -all".
#  1. control: carol@sender.test sent from alice's address without SRS
#     gets spf=fail at bob (the record really does refuse alice's IP);
#  2. carol writes to fwd@alice.test (an alias for bob@bob.test): bob gets
#     it from alice with MAIL FROM:<SRS0=...@alice.test>, spf=pass, the
#     address exactly as docs/smtp.md defines it (recomputed here in
#     Python from alice's srs.secret, which is mode 600);
#  3. carol writes to fwd2@alice.test -> relay@bob.test -> a null-MX
#     domain: bob forwards it on with an SRS1 sender, bounces it, the
#     bounce goes bob -> alice (SRS1 reversed to alice's SRS0) -> carol's
#     server (SRS0 reversed), with MAIL FROM:<> all the way;
#  4. alice's MX refuses a forged SRS address (before its catch-all could
#     take it), an expired one (real hash, date 30 days back) and a genuine
#     one with a non-null sender;
#  5. no rewrite for a sender in alice's own domain or the null sender.
. ../lib.sh
. ../queue/lib.sh
nsd_start
mta_init alice alice.test 127.0.0.2
DA=$D; PA=$P_SMTP
"$BREV" -d "$DA" alias add fwd@alice.test bob@bob.test >/dev/null || fail "alias fwd"
"$BREV" -d "$DA" alias add fwd2@alice.test relay@bob.test >/dev/null || fail "alias fwd2"
# a second domain: one message through aliases of both is signed by each
echo "domains = alice.test alice2.test" >>"$DA/brev.conf"
"$BREV" -d "$DA" alias add other@alice2.test bob2@bob.test >/dev/null || fail "alias other"
# a catch-all: SRS addresses are checked before it (a forged one must not
# land in alice's mailbox)
brev_user alice@alice.test alice-password
"$BREV" -d "$DA" alias add @alice.test alice@alice.test >/dev/null || fail "catch-all"
"$BREV" -d "$DA" dns alice.test >"$T/alice.records" || fail "brev dns"
cat >>"$T/alice.records" <<ZONE
sender      MX  10 mx.sender
mx.sender   A   127.0.0.7
sender      TXT "v=spf1 ip4:127.0.0.7 -all"
ZONE
nsd_add "$T/alice.records" sender.test TXT "v=spf1"
nsd_wait alice.test TXT "v=spf1"
[ ! -e "$DA/srs.secret" ] || fail "srs.secret exists before anything was forwarded"
mta_start
PID_A=$BREV_PID
mta_init bob bob.test 127.0.0.3
DB=$D; PB_IMAPS=$P_IMAPS
brev_user bob@bob.test bob-password
"$BREV" -d "$DB" alias add relay@bob.test nobody@nullmx.test >/dev/null || fail "alias relay"
"$BREV" -d "$DB" alias add bob2@bob.test bob@bob.test >/dev/null || fail "alias bob2"
mta_start
PID_B=$BREV_PID
mta_init sender sender.test 127.0.0.7
DC=$D; PC_IMAPS=$P_IMAPS
brev_user carol@sender.test carol-password
mta_start
export DA DB DC PA PB_IMAPS PC_IMAPS

# send SRC_IP HOST FROM RCPT SUBJECT: one message over SMTP from SRC_IP
send() {
	python3 - "$@" <<'PY'
import os, smtplib, sys
src, host, frm, rcpt, subj = sys.argv[1:]
s = smtplib.SMTP(host, int(os.environ["P25"]), source_address=(src, 0), timeout=30)
s.ehlo("mx.sender.test" if src == "127.0.0.7" else "mx.alice.test")
msg = ("From: carol@sender.test\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@sender.test>\r\n\r\n"
       "body of %s\r\n" % (rcpt, subj, subj.replace(" ", "."), subj)).encode()
s.sendmail(frm, [rcpt], msg)
s.quit()
PY
}
# fetch PORT USER PASS SEARCH...: the first message matching, raw
fetch() {
	python3 - "$@" <<'PY'
import sys, imaplib, ssl, time
port, user, pw = sys.argv[1:4]
crit = sys.argv[4:]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
for _ in range(300):
    m = imaplib.IMAP4_SSL("127.0.0.1", int(port), ssl_context=ctx)
    m.login(user, pw); m.select("INBOX")
    d = m.search(None, *crit)[1]
    if d[0]:
        sys.stdout.write(m.fetch(d[0].split()[0], "(RFC822)")[1][0][1].decode().replace("\r\n", "\n"))
        sys.exit(0)
    m.logout(); time.sleep(0.1)
sys.exit(1)
PY
}
# ar FILE: the Authentication-Results field of the receiving brev
ar() { awk '/^Authentication-Results:/ {p=1; print; next} p && /^[ \t]/ {print; next} {p=0}' "$1"; }

# ---- 1. control: the unrewritten sender from alice's IP fails SPF at bob ----
send 127.0.0.2 127.0.0.3 carol@sender.test bob@bob.test "control no srs" || fail "control send"
fetch "$PB_IMAPS" bob@bob.test bob-password SUBJECT '"control no srs"' >"$T/control.eml" || fail "bob did not get the control"
ar "$T/control.eml" | grep -q "spf=fail .*smtp.mailfrom=carol@sender.test;" ||
	{ ar "$T/control.eml"; fail "control: carol's SPF record does not fail alice's IP"; }

# ---- 2. forwarded through fwd@alice.test ----
send 127.0.0.7 127.0.0.2 carol@sender.test fwd@alice.test "forwarded once" || fail "send to fwd@alice.test"
fetch "$PB_IMAPS" bob@bob.test bob-password SUBJECT '"forwarded once"' >"$T/fwd.eml" ||
	{ grep "queue id" "$DA/serve.log"; fail "bob did not get the forwarded message"; }
grep -q "^Received: from mx.alice.test (unknown \[127.0.0.2\])" "$T/fwd.eml" || fail "the copy did not come from alice"
rp=$(sed -n 's/^Return-Path: <\(.*\)>$/\1/p' "$T/fwd.eml" | head -1)
# (brev's queue lower-cases the addresses it sends: the SRS check is
# case-insensitive for such MTAs)
case ${rp,,} in
srs0=*@alice.test) ;;
*) fail "bob's copy has envelope sender <$rp>, not an SRS0 address of alice.test" ;;
esac
ar "$T/fwd.eml" | grep -F "smtp.mailfrom=$rp;" | grep -q "spf=pass " ||
	{ ar "$T/fwd.eml"; fail "the SRS sender does not pass SPF at bob"; }
[ "$(stat -c %a "$DA/srs.secret")" = 600 ] || fail "srs.secret is mode $(stat -c %a "$DA/srs.secret")"
# The address as docs/smtp.md defines it, from the secret: expected now,
# and the same for a day 30 days back (expired).
srs0() { # srs0 DAYS_BACK LOCAL DOMAIN
	python3 - "$DA/srs.secret" "$@" <<'PY'
import hmac, hashlib, sys, time
key = open(sys.argv[1], "rb").read().split(b"\n")[0]
back, local, dom = int(sys.argv[2]), sys.argv[3], sys.argv[4]
b32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
day = int(time.time()) // 86400 - back
tt = b32[(day >> 5) & 31] + b32[day & 31]
mac = hmac.new(key, ("0=%s=%s=%s" % (tt, dom, local)).lower().encode(), hashlib.sha256).digest()
bits = int.from_bytes(mac[:5], "big")
h = "".join(b32[(bits >> (35 - 5 * i)) & 31] for i in range(6))
print("SRS0=%s=%s=%s=%s@alice.test" % (h, tt, dom, local))
PY
}
want=$(srs0 0 carol sender.test) || fail "python srs0"
want1=$(srs0 1 carol sender.test) || fail "python srs0"
[ "${rp,,}" = "${want,,}" ] || [ "${rp,,}" = "${want1,,}" ] || fail "SRS address <$rp>, docs/smtp.md's scheme gives <$want>"
grep -qiF "forwarded with SRS sender <$rp>" "$DA/serve.log" || fail "alice's log does not say it rewrote the sender"

# ---- 2b. one transaction through aliases of two domains: two copies, each
# with the SRS sender of its own alias's domain ----
python3 - <<'PY' || fail "send to two domains"
import os, smtplib
s = smtplib.SMTP("127.0.0.2", int(os.environ["P25"]), source_address=("127.0.0.7", 0), timeout=30)
s.ehlo("mx.sender.test")
s.sendmail("carol@sender.test", ["fwd@alice.test", "other@alice2.test"],
           b"From: carol@sender.test\r\nSubject: two domains\r\n\r\nhi\r\n")
s.quit()
PY
python3 - "$PB_IMAPS" <<'PY' || fail "the two copies do not carry one SRS sender per alias domain"
import re, sys, imaplib, ssl, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
for _ in range(300):
    m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx)
    m.login("bob@bob.test", "bob-password"); m.select("INBOX")
    d = m.search(None, "SUBJECT", '"two domains"')[1][0].split()
    if len(d) == 2:
        rps = sorted(re.search(rb"^Return-Path: <([^>]*)>", m.fetch(i, "(RFC822)")[1][0][1], re.M).group(1).decode().lower()
                     for i in d)
        assert re.fullmatch(r"srs0=[a-z2-7]{6}=[a-z2-7]{2}=sender\.test=carol@alice\.test", rps[0]), rps
        assert re.fullmatch(r"srs0=[a-z2-7]{6}=[a-z2-7]{2}=sender\.test=carol@alice2\.test", rps[1]), rps
        sys.exit(0)
    m.logout(); time.sleep(0.1)
sys.exit(1)
PY

# ---- 3. a bounce from bob comes back to carol's server ----
send 127.0.0.7 127.0.0.2 carol@sender.test fwd2@alice.test "to be bounced" || fail "send to fwd2@alice.test"
fetch "$PC_IMAPS" carol@sender.test carol-password TEXT '"to be bounced"' >"$T/bounce.eml" ||
	{ grep -h "srs\|SRS\|queue id\|DSN\|bounce" "$DA/serve.log" "$DB/serve.log" | tail -20
	  fail "carol did not get the bounce"; }
grep -q "^Return-Path: <>$" "$T/bounce.eml" || fail "the bounce reached carol with a non-null sender"
grep -q "^Received: from mx.alice.test (unknown \[127.0.0.2\])" "$T/bounce.eml" || fail "the bounce did not come through alice"
grep -qi "nobody@nullmx.test" "$T/bounce.eml" || fail "the bounce does not name the failed recipient"
grep -qi "forwarded with SRS sender <SRS1=[A-Z2-7]\{6\}=alice.test==" "$DB/serve.log" ||
	fail "bob did not rewrite alice's SRS0 sender to SRS1"
grep -q "rcpt=nobody@nullmx.test .*result=bounced" "$DB/serve.log" || fail "bob's log has no bounce"
grep -qi "notice for 1 recipient(s) .*sent to SRS1=" "$DB/serve.log" || fail "bob's bounce did not go to its SRS1 address"
grep -q "from=<> .*to=<SRS0=" "$DA/serve.log" || grep -q "rcpt=carol@sender.test .*result=delivered" "$DA/serve.log" ||
	fail "alice did not pass the bounce on to carol"

# ---- 4. refusals at alice's MX ----
python3 - "$rp" "$(srs0 30 carol sender.test)" <<'PY' || fail "alice's MX took a forged, expired or non-bounce SRS address"
import os, smtplib, sys
good, old = sys.argv[1:3]
forged = good[:5] + ("b" if good[5].lower() == "a" else "a") + good[6:]
def rcpt(frm, to):
    s = smtplib.SMTP("127.0.0.2", int(os.environ["P25"]), source_address=("127.0.0.3", 0), timeout=30)
    s.ehlo("mx.bob.test")
    s.mail(frm)
    r = s.rcpt(to)
    s.quit()
    return r[0], r[1].decode()
cases = [("", forged, 550, "5.1.1", "Invalid SRS address"),
         ("", "SRS0=AAAAAA=AA=victim.test=someone@alice.test", 550, "5.1.1", "Invalid SRS address"),
         ("", old, 550, "5.1.1", "expired"),
         ("spammer@sender.test", good, 550, "5.7.1", "only bounces"),
         ("", good.upper(), 250, "2.1.5", "")]
for frm, to, code, enh, text in cases:
    c, t = rcpt(frm, to)
    assert c == code and t.startswith(enh) and text in t, (frm, to, c, t)
PY
grep -q "rcpt refused .*reason=srs: 550 5.1.1 .*expired" "$DA/serve.log" || fail "no log line for the expired SRS address"

# ---- 5. not rewritten: our own sender, the null sender ----
printf 'From: alice@alice.test\r\nTo: fwd@alice.test\r\nSubject: from alice herself\r\n\r\nhi\r\n' |
	"$BREV" -d "$DA" sendmail -f alice@alice.test fwd@alice.test || fail "sendmail"
fetch "$PB_IMAPS" bob@bob.test bob-password SUBJECT '"from alice herself"' >"$T/own.eml" || fail "bob did not get alice's own"
grep -q "^Return-Path: <alice@alice.test>$" "$T/own.eml" || fail "a sender of our own domain was rewritten"
send 127.0.0.7 127.0.0.2 "" fwd@alice.test "null sender" || fail "send null sender"
fetch "$PB_IMAPS" bob@bob.test bob-password SUBJECT '"null sender"' >"$T/null.eml" || fail "bob did not get the null-sender one"
grep -q "^Return-Path: <>$" "$T/null.eml" || fail "the null sender did not stay null"

brev_stop "$PID_A"
brev_stop "$PID_B"
brev_stop
note ok
