#!/bin/bash
# JMAP VacationResponse (RFC 8621 8; issues 15 and 19, docs/jmap.md
# "Vacation"), kept as the Sieve script "jmap-vacation":
#   the capability in the session; /get of the singleton (off, nulls, before
#   any /set); /set create and destroy -> "singleton" errors, a subject with
#   a line break -> invalidProperties, ifInState -> stateMismatch;
#   enabling (subject, text, dates around now) makes "jmap-vacation" the
#   active script (`brev sieve list`), and mail sent with smtplib from
#   outside gets exactly one reply per sender (at the scripted sink), while
#   alice's own previously active script still files mail (include);
#   a fromDate in the future: no reply; disabling activates her script
#   again (none, when it was deleted meanwhile); bad dates, a script over
#   64 KiB (tooLarge), no room for a 17th script (overQuota); a script activated by hand, or "jmap-vacation" edited by hand,
#   makes /get say isEnabled false; without the capability: unknownMethod.
. ../lib.sh
. ../queue/lib.sh
nsd_start
mta_init alice example.test 127.0.0.2
brev_user alice@example.test password-alice
cat >"$T/rules.sieve" <<'S'
require ["fileinto", "mailbox"];
if header :contains "subject" "[file]" { fileinto :create "Filed"; }
S
printf 'keep;\n' >"$T/other.sieve"
"$BREV" -d "$D" sieve put alice@example.test rules "$T/rules.sieve" || fail "sieve put rules"
"$BREV" -d "$D" sieve put alice@example.test other "$T/other.sieve" || fail "sieve put other"
"$BREV" -d "$D" sieve activate alice@example.test rules || fail "sieve activate"
# bob has the 16 scripts an account may have: no room for jmap-vacation
brev_user bob@example.test password-bob
for i in $(seq 1 16); do
	"$BREV" -d "$D" sieve put bob@example.test "s$i" "$T/other.sieve" || fail "sieve put s$i"
done
mta_start
sink_start 127.0.0.4 "$T/sink"
export T BREV

PYTHONPATH="$ROOT/tests/e2e/jmap" python3 -u - <<'PY' || fail "vacation"
import datetime, glob, imaplib, os, smtplib, subprocess, time
from jmapc import CORE, MAIL, Jmap
VAC = "urn:ietf:params:jmap:vacationresponse"
D, BREV, T = os.environ["D"], os.environ["BREV"], os.environ["T"]
j = Jmap(int(os.environ["P_HTTP"]))
s = j.session()
acc = j.account()
assert VAC in s["capabilities"] and s["primaryAccounts"][VAC] == acc, s
assert s["accounts"][acc]["accountCapabilities"][VAC] == {}, s
r = j.api([["VacationResponse/get", {"accountId": acc}, "g"]])
assert r[0][0] == "error" and r[0][1]["type"] == "unknownMethod", r
U = (CORE, MAIL, VAC)
def api(calls):
    return j.api(calls, using=U)
def get():
    g = api([["VacationResponse/get", {"accountId": acc}, "g"]])[0][1]
    assert len(g["list"]) == 1 and g["list"][0]["id"] == "singleton", g
    return g["list"][0], g["state"]
def vset(patch, **kw):
    a = {"accountId": acc, "update": {"singleton": patch}}
    a.update(kw)
    return api([["VacationResponse/set", a, "s"]])[0]
def scripts():
    return subprocess.run([BREV, "-d", D, "sieve", "list", "alice@example.test"], check=True,
                          capture_output=True, text=True).stdout
def active():
    return [l.split()[0] for l in scripts().splitlines() if "(active)" in l]

v, st = get()
assert v == {"id": "singleton", "isEnabled": False, "fromDate": None, "toDate": None,
             "subject": None, "textBody": None, "htmlBody": None}, v
g = api([["VacationResponse/get", {"accountId": acc, "ids": ["nope"]}, "g"]])[0][1]
assert g["list"] == [] and g["notFound"] == ["nope"], g
r = api([["VacationResponse/set", {"accountId": acc, "create": {"c": {"isEnabled": True}},
                                   "destroy": ["singleton"]}, "s"]])[0][1]
assert r["notCreated"]["c"]["type"] == "singleton" and r["notDestroyed"]["singleton"]["type"] == "singleton", r
r = vset({"subject": "two\r\nBcc: x@evil.test"})[1]
assert r["notUpdated"]["singleton"]["type"] == "invalidProperties", r
assert r["notUpdated"]["singleton"]["properties"] == ["subject"], r
r = vset({"fromDate": "2026-13-01T00:00:00Z", "toDate": 5})[1]
assert sorted(r["notUpdated"]["singleton"]["properties"]) == ["fromDate", "toDate"], r
r = vset({"textBody": "x" * 70000})[1]
assert r["notUpdated"]["singleton"]["type"] == "tooLarge", r
r = Jmap(int(os.environ["P_HTTP"]), "bob").api([["VacationResponse/set", {
    "accountId": Jmap(int(os.environ["P_HTTP"]), "bob").account(),
    "update": {"singleton": {"isEnabled": True}}}, "s"]], using=U)[0][1]
assert r["notUpdated"]["singleton"]["type"] == "overQuota", r
r = vset({"isEnabled": True}, ifInState="bogus")
assert r[0] == "error" and r[1]["type"] == "stateMismatch", r
assert active() == ["rules"], scripts()
print("ok session capability, /get before any /set, singleton errors, invalidProperties, stateMismatch")

now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
on = {"isEnabled": True, "fromDate": iso(now - datetime.timedelta(days=1)),
      "toDate": iso(now + datetime.timedelta(days=3)), "subject": "Away on holiday",
      "textBody": "Back on Monday.\nAsk \"Bob\" meanwhile.", "htmlBody": "<p>Back on Monday.</p>"}
r = vset(on, ifInState=st)[1]
assert r["updated"] == {"singleton": None} and r["oldState"] == st and r["newState"] != st, r
v, st = get()
assert v == dict(on, id="singleton"), v
assert active() == ["jmap-vacation"], scripts()
src = subprocess.run([BREV, "-d", D, "sieve", "get", "alice@example.test", "jmap-vacation"],
                     check=True, capture_output=True, text=True).stdout
assert src.startswith("# brev jmap-vacation {") and '"previous":"rules"' in src.split("\n")[0], src
assert 'currentdate :value "ge" "iso8601"' in src and 'currentdate :value "lt" "iso8601"' in src, src
assert src.rstrip().endswith('include :personal :optional "rules";'), src
print("ok enabled: jmap-vacation is the active script, /get gives back what was set")

def send(frm, subj):
    m = smtplib.SMTP("127.0.0.2", int(os.environ["P25"]), timeout=30)
    m.sendmail(frm, ["alice@example.test"],
               ("From: %s\r\nTo: alice@example.test\r\nSubject: %s\r\nMessage-ID: <%s.%s@sink.test>\r\n\r\nhi\r\n"
                % (frm, subj, subj.replace(" ", "").strip("[]"), frm.split("@")[0])).encode())
    m.quit()
def replies(to):
    out = []
    for env in glob.glob(T + "/sink/*.env"):
        eml = env[:-4] + ".eml"  # the sink writes it right after the .env
        if to in open(env).read().split("\n", 1)[1] and os.path.exists(eml) and os.path.getsize(eml):
            out.append(open(eml, "rb").read().decode().replace("\r\n", "\n"))
    return out
def wait_reply(to):
    for _ in range(300):
        if replies(to):
            return replies(to)
        time.sleep(0.1)
    raise AssertionError("no vacation reply to " + to)

send("dave@sink.test", "[file] one")
send("dave@sink.test", "plain two")
send("erin@sink.test", "plain three")
for who in ("dave", "erin"):
    rep = wait_reply(who + "@sink.test")
    assert "Subject: Away on holiday" in rep[0] and "Back on Monday.\nAsk \"Bob\" meanwhile." in rep[0], rep[0]
    assert "Auto-Submitted: auto-replied" in rep[0], rep[0]
time.sleep(2)
assert len(replies("dave@sink.test")) == 1, "dave got %d replies" % len(replies("dave@sink.test"))
im = imaplib.IMAP4("127.0.0.1", int(os.environ["P_IMAP"]))
im.login("alice@example.test", "password-alice")
def subjects(box):
    typ, _ = im.select(box, readonly=True)
    if typ != "OK":
        return []
    typ, d = im.search(None, "ALL")
    out = []
    for n in d[0].split():
        h = im.fetch(n, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1][0][1].decode()
        out.append(h.strip()[9:])
    return out
assert "[file] one" in subjects("Filed") and "[file] one" not in subjects("INBOX"), subjects("INBOX")
assert "plain two" in subjects("INBOX") and "plain three" in subjects("INBOX"), subjects("INBOX")
print("ok one reply per sender (subject, text), alice's own script still files mail")

# a fromDate in the future: no reply to frank; then none again: gina gets one
vset({"fromDate": iso(now + datetime.timedelta(days=1)), "toDate": None})
send("frank@sink.test", "plain four")
vset({"fromDate": None})
send("gina@sink.test", "plain five")
wait_reply("gina@sink.test")
time.sleep(2)
assert replies("frank@sink.test") == [], "a reply before fromDate"
print("ok no reply before fromDate")

# disabling: alice's own script is active again, the settings are kept
r = vset({"isEnabled": False})[1]
assert r["updated"] == {"singleton": None}, r
assert active() == ["rules"], scripts()
v, _ = get()
assert v["isEnabled"] is False and v["subject"] == "Away on holiday", v
send("hank@sink.test", "[file] six")
assert "[file] six" in subjects("Filed")
print("ok disabled: rules active again, the settings kept")

# activated by hand (ManageSieve, `brev sieve activate`): /get says off
vset({"isEnabled": True})
assert active() == ["jmap-vacation"], scripts()
subprocess.run([BREV, "-d", D, "sieve", "activate", "alice@example.test", "other"], check=True)
v, _ = get()
assert v["isEnabled"] is False and v["subject"] == "Away on holiday", v
# enabling again remembers "other" now; disabling brings it back
vset({"isEnabled": True})
vset({"isEnabled": False})
assert active() == ["other"], scripts()
# the remembered script deleted meanwhile: disabling leaves none active
vset({"isEnabled": True})
subprocess.run([BREV, "-d", D, "sieve", "delete", "alice@example.test", "other"], check=True)
vset({"isEnabled": False})
assert active() == [], scripts()
# edited by hand and active: off, and nothing brev cannot read back
vset({"isEnabled": True})
src = subprocess.run([BREV, "-d", D, "sieve", "get", "alice@example.test", "jmap-vacation"],
                     check=True, capture_output=True, text=True).stdout
edited = src + 'if header :contains "subject" "spam" { discard; }\n'
subprocess.run([BREV, "-d", D, "sieve", "put", "alice@example.test", "jmap-vacation"], input=edited,
               check=True, text=True)
assert active() == ["jmap-vacation"], scripts()
v, _ = get()
assert v == {"id": "singleton", "isEnabled": False, "fromDate": None, "toDate": None,
             "subject": None, "textBody": None, "htmlBody": None}, v
print("ok another script activated by hand, or jmap-vacation edited by hand: isEnabled false")
im.logout()
PY
brev_stop
