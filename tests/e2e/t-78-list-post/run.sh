#!/bin/bash
# Posting to a mailing list (issue 21, docs/lists.md), two brevs over
# nsd-resolved MX (as t-50): news@alice.test lives on alice's brev
# (127.0.0.2), its members bob@ and carol@bob.test on bob's (127.0.0.3)
# and ann@alice.test on alice's own.
#  - bob posts through his own server: every member gets exactly one copy
#    with List-Id, List-Post, List-Help, List-Subscribe, List-Unsubscribe,
#    Precedence: list, its own VERP envelope sender
#    (news-bounces+carol=bob.test@alice.test) and a DKIM signature of
#    alice.test that dkimpy verifies with the records `brev dns` printed;
#    bob's From is left as it is (bob.test publishes no DMARC);
#  - a non-member's post is held (250, nobody gets it), a post to an
#    announce list by anyone but its owner refused (550 after DATA);
#  - eve@strict.test, whose domain publishes DMARC p=reject, is rewritten:
#    From "Eve via news" <news@alice.test>, Reply-To eve;
#  - a post that carries the list's own List-Id is refused (554), and a
#    list that is its own member stops after one round;
#  - a post over the size limit is refused (552);
#  - the owner's mailbox Lists/news@alice.test archives the post.
. ../lib.sh
. ../queue/lib.sh
nsd_start
mta_init alice alice.test 127.0.0.2
DA=$D; PA_SUB=$P_SUB; PA_IMAPS=$P_IMAPS
brev_user ann@alice.test ann-password
"$BREV" -d "$DA" dns alice.test >"$T/alice.records" || fail "brev dns"
cat >>"$T/alice.records" <<'ZONE'
strict.test. 60 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"
_dmarc.strict.test. 60 IN TXT "v=DMARC1; p=reject"
ZONE
nsd_add "$T/alice.records" _dmarc.strict.test TXT "p=reject"
mta_start
PID_A=$BREV_PID
mta_init bob bob.test 127.0.0.3
DB=$D; PB_SUB=$P_SUB; PB_IMAPS=$P_IMAPS
brev_user bob@bob.test bob-password
brev_user carol@bob.test carol-password
mta_start
export DA DB PA_SUB PA_IMAPS PB_SUB PB_IMAPS P25

L() { "$BREV" -d "$DA" list "$@" >/dev/null || fail "list $*"; }
L add news@alice.test --owner ann@alice.test
for m in bob@bob.test carol@bob.test ann@alice.test eve@strict.test; do L sub news@alice.test $m; done
L add notes@alice.test --owner ann@alice.test --posting announce
L sub notes@alice.test bob@bob.test
L add echo@alice.test --posting anyone
L sub echo@alice.test echo@alice.test

# ---- bob posts from his own server ----
python3 - <<'PY' || fail "bob's submission"
import os, smtplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", int(os.environ["PB_SUB"]), timeout=20)
s.starttls(context=ctx); s.login("bob@bob.test", "bob-password")
s.sendmail("bob@bob.test", ["news@alice.test"],
           b"From: Bob <bob@bob.test>\r\nTo: news@alice.test\r\nSubject: first post\r\n"
           b"Message-ID: <p1@bob.test>\r\nList-Id: <some.other.list>\r\n\r\nHello list,\r\nbob\r\n")
s.quit()
PY

# fetch PORT USER PASS SUBJECT OUT: wait for the message, then (after a
# pause in which a duplicate would arrive) require exactly one
fetch() {
	python3 - "$@" <<'PY'
import sys, imaplib, ssl, time
port, user, pw, subj, out = sys.argv[1:]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def look():
    m = imaplib.IMAP4_SSL("127.0.0.1", int(port), ssl_context=ctx)
    m.login(user, pw); m.select("INBOX")
    ids = m.search(None, "SUBJECT", '"%s"' % subj)[1][0].split()
    raw = m.fetch(ids[0], "(RFC822)")[1][0][1] if ids else None
    m.logout()
    return ids, raw
for _ in range(300):
    ids, raw = look()
    if ids:
        break
    time.sleep(0.1)
else:
    sys.exit("%s: no message '%s'" % (user, subj))
time.sleep(2)
ids, raw = look()
if len(ids) != 1:
    sys.exit("%s: %d copies of '%s'" % (user, len(ids), subj))
open(out, "wb").write(raw)
PY
}
fetch "$PB_IMAPS" bob@bob.test bob-password "first post" "$T/bob.eml" || fail "bob's copy"
fetch "$PB_IMAPS" carol@bob.test carol-password "first post" "$T/carol.eml" || fail "carol's copy"
fetch "$PA_IMAPS" ann@alice.test ann-password "first post" "$T/ann.eml" || fail "ann's copy"
tr -d '\r' <"$T/carol.eml" >"$T/carol.txt"
for h in 'List-Id: <news.alice.test>' 'List-Post: <mailto:news@alice.test>' \
	'List-Help: <mailto:news-request@alice.test?subject=help>' \
	'List-Subscribe: <mailto:news-request@alice.test?subject=subscribe>' \
	'List-Unsubscribe: <mailto:news-request@alice.test?subject=unsubscribe>' \
	'Precedence: list' 'From: Bob <bob@bob.test>' \
	'Return-Path: <news-bounces+carol=bob.test@alice.test>'; do
	grep -qxF "$h" "$T/carol.txt" || { cat "$T/carol.txt"; fail "carol's copy lacks '$h'"; }
done
grep -qxF 'Return-Path: <news-bounces+bob=bob.test@alice.test>' <(tr -d '\r' <"$T/bob.eml") ||
	fail "bob's copy has no VERP sender of his own: $(grep Return-Path "$T/bob.eml")"
grep -qxF 'Return-Path: <news-bounces+ann=alice.test@alice.test>' <(tr -d '\r' <"$T/ann.eml") ||
	fail "ann's copy has no VERP sender of her own: $(grep Return-Path "$T/ann.eml")"
[ "$(grep -c '^List-Id:' "$T/carol.txt")" = 1 ] || fail "the poster's List-Id was kept"
# the archive: the owner's mailbox Lists/news@alice.test, subscribed, the
# post as the members got it
python3 - <<'PY' || fail "the archive"
import os, imaplib, ssl, time, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", int(os.environ["PA_IMAPS"]), ssl_context=ctx)
m.login("ann@alice.test", "ann-password")
typ, subs = m.lsub('""', '"Lists/*"')
assert any(b"Lists/news@alice.test" in x for x in subs if x), subs
typ, d = m.select('"Lists/news@alice.test"', readonly=True)
assert typ == "OK", d
ids = m.search(None, "SUBJECT", '"first post"')[1][0].split()
assert len(ids) == 1, ids
raw = m.fetch(ids[0], "(RFC822)")[1][0][1]
assert b"\r\nList-Id: <news.alice.test>\r\n" in raw, raw[:400]
assert b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=alice.test" in raw, raw[:400]
PY
/usr/bin/python3 - "$T/carol.eml" "$T/alice.records" <<'PY' || fail "dkimpy does not verify the list's signature"
import re, sys, dkim
raw = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
recs = {}
for line in open(sys.argv[2]):
    m = re.match(r"(\S+)\s+\d+\s+IN\s+TXT\s+(.*)$", line)
    if m:
        recs[m.group(1).encode()] = b"".join(re.findall(rb'"([^"]*)"', m.group(2).encode()))
def dnsfunc(name, timeout=5):
    return recs.get(name if name.endswith(b".") else name + b".")
d = dkim.DKIM(raw)
# verify(idx=) counts DKIM-Signature fields only
dk = [v for k, v in d.headers if k.lower() == b"dkim-signature"]
sigs = [i for i, v in enumerate(dk) if b"d=alice.test" in v]
assert len(sigs) == 2, "not two signatures of alice.test: %s" % dk
for i in sigs:
    assert d.verify(idx=i, dnsfunc=dnsfunc), "signature %d of %s" % (i, sigs)
PY

# post DIRECTLY to alice's MX: post FROM-ENVELOPE FROM-HEADER RCPT SUBJECT [EXTRA-HEADER] [BODY-BYTES]
post() {
	python3 - "$@" <<'PY'
import os, smtplib, sys
env, hfrom, rcpt, subj = sys.argv[1:5]
extra = sys.argv[5] if len(sys.argv) > 5 else ""
size = int(sys.argv[6]) if len(sys.argv) > 6 else 0
body = b"text\r\n" + (b"x" * 998 + b"\r\n") * (size // 1000)
msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@t>\r\n%s\r\n" %
       (hfrom, rcpt, subj, subj.replace(" ", "."), extra + "\r\n" if extra else "")).encode() + body
s = smtplib.SMTP("127.0.0.2", int(os.environ["P25"]), timeout=30)
try:
    s.sendmail(env, [rcpt], msg)
    print("250")
except smtplib.SMTPDataError as e:
    print(e.smtp_code, e.smtp_error.decode())
s.quit()
PY
}
# ---- refusals ----
# a non-member's post is held for the owner (t-78-list-moderate), not sent
out=$(post mallory@bob.test "Mallory <mallory@bob.test>" news@alice.test "not a member") || fail "post"
[ "$out" = 250 ] || fail "non-member: $out"
until_true 20 grep -q 'from=<mallory@bob.test> author=<mallory@bob.test> held as 1' "$DA/serve.log" ||
	fail "non-member's post not held"
out=$(post bob@bob.test "Bob <bob@bob.test>" notes@alice.test "announce by bob") || fail "post"
grep -q "^550 .*Only the list's owner may post" <<<"$out" || fail "announce by a member: $out"
out=$(post bob@bob.test "Bob <bob@bob.test>" news@alice.test "looped" "List-Id: News <news.alice.test>") || fail "post"
grep -q '^554 .*mail loop' <<<"$out" || fail "own List-Id: $out"
out=$(post bob@bob.test "Bob <bob@bob.test>" news@alice.test "huge" "" 11000000) || fail "post"
grep -q '^552 ' <<<"$out" || fail "size limit: $out"

# ---- DMARC p=reject author: From rewritten, Reply-To the author ----
out=$(post eve@strict.test "Eve <eve@strict.test>" news@alice.test "from eve") || fail "post"
[ "$out" = 250 ] || fail "eve's post: $out"
fetch "$PB_IMAPS" carol@bob.test carol-password "from eve" "$T/eve.eml" || fail "eve's post at carol"
tr -d '\r' <"$T/eve.eml" >"$T/eve.txt"
grep -qxF 'From: "Eve via news" <news@alice.test>' "$T/eve.txt" || { cat "$T/eve.txt"; fail "From not rewritten"; }
grep -qxF 'Reply-To: <eve@strict.test>' "$T/eve.txt" || fail "no Reply-To to eve"
[ "$(grep -c '^From:' "$T/eve.txt")" = 1 ] || fail "two From fields"

# ---- a list that is its own member: one round, then the loop is refused ----
out=$(post bob@bob.test "Bob <bob@bob.test>" echo@alice.test "echo") || fail "post"
[ "$out" = 250 ] || fail "echo post: $out"
until_true 30 grep -q 'list=<echo@alice.test> .*refused: loop' "$DA/serve.log" ||
	fail "the looping copy was not refused: $(grep 'list id' "$DA/serve.log")"
sleep 3
n=$(grep -c 'list=<echo@alice.test> from=.* post to' "$DA/serve.log")
[ "$n" = 1 ] || fail "echo went round $n times"

brev_stop "$PID_A"
brev_stop
note ok
