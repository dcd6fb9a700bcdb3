#!/bin/bash
# Thunderbird (Debian's thunderbird package), headless and driven over
# Marionette, against brev as a new user would set it up: one account over
# IMAPS and SMTP submission with implicit TLS, brev's local CA trusted.
# Thunderbird syncs an INBOX holding three messages delivered over SMTP
# beforehand, moves one of them to "Moved", and sends a message to bob
# with its copy saved in Sent (the RFC 6855 `APPEND "Sent" (\Seen) UTF8
# (~{n+}...)` form, since brev offers UTF8=ACCEPT), then resyncs INBOX
# after another client flagged a message. CONDSTORE is turned on for the
# account (use_condstore, off by default in Thunderbird): the resync must
# use CHANGEDSINCE and see the flag. Everything is then checked from the
# server side with imaplib, and from Thunderbird's protocol log (MOZ_LOG);
# the commands Thunderbird sent are summed up in the test's output.
# The whole test runs inside a private network namespace (brev,
# Thunderbird, the clients): Thunderbird's update and telemetry traffic
# has nowhere to go, and Marionette's fixed port 2828 is ours.
if [ -z "${IN_NS:-}" ]; then
	# (lib.sh is not sourced yet: its skip by hand)
	command -v thunderbird >/dev/null ||
		{ echo "SKIP: thunderbird not installed (tools/deps.sh test installs it)" >&2; exit 77; }
	exec unshare --net --fork env IN_NS=1 bash "$0" "$@"
fi
. ../lib.sh
ip link set lo up
HERE=$ROOT/tests/e2e/t-15-thunderbird
started=$(date +%s)
brev_init tb
brev_user alice@example.test 'pw-alice'
brev_user bob@example.test 'pw-bob-secret'
brev_start

# Three messages for alice over SMTP, and a folder to move into.
python3 - <<'PY' || fail "setting up alice's mailbox"
import imaplib, os, smtplib, ssl
s = smtplib.SMTP("127.0.0.1", int(os.environ["P_SMTP"]))
for subj in ("tb-one", "tb-two", "tb-move"):
    s.sendmail("far@remote.test", ["alice@example.test"],
               ("From: Far <far@remote.test>\r\nTo: alice@example.test\r\nSubject: %s\r\n"
                "Message-ID: <%s@remote.test>\r\n\r\nbody of %s\r\n" % (subj, subj, subj)).encode())
s.quit()
ctx = ssl.create_default_context(cafile=os.environ["D"] + "/ca.pem")
i = imaplib.IMAP4_SSL("localhost", int(os.environ["P_IMAPS"]), ssl_context=ctx)
i.login("alice@example.test", "pw-alice")
assert i.create("Moved")[0] == "OK"
assert i.subscribe("Moved")[0] == "OK"
i.logout()
PY

# A fresh profile: the account, no first-run dialogs, CONDSTORE on.
mkdir -p "$T/profile" "$T/home"
cat >"$T/profile/user.js" <<JS
user_pref("mail.accountmanager.accounts", "account1,account2");
user_pref("mail.accountmanager.defaultaccount", "account1");
user_pref("mail.accountmanager.localfoldersserver", "server2");
user_pref("mail.account.account1.identities", "id1");
user_pref("mail.account.account1.server", "server1");
user_pref("mail.account.account2.server", "server2");
user_pref("mail.server.server1.type", "imap");
user_pref("mail.server.server1.hostname", "localhost");
user_pref("mail.server.server1.port", $P_IMAPS);
user_pref("mail.server.server1.socketType", 3);
user_pref("mail.server.server1.authMethod", 3);
user_pref("mail.server.server1.userName", "alice@example.test");
user_pref("mail.server.server1.name", "brev");
user_pref("mail.server.server1.login_at_startup", false);
user_pref("mail.server.server1.check_new_mail", false);
user_pref("mail.server.server1.use_condstore", true);
user_pref("mail.server.server1.directory-rel", "[ProfD]ImapMail/localhost");
user_pref("mail.server.server2.type", "none");
user_pref("mail.server.server2.hostname", "Local Folders");
user_pref("mail.server.server2.userName", "nobody");
user_pref("mail.server.server2.name", "Local Folders");
user_pref("mail.server.server2.directory-rel", "[ProfD]Mail/Local Folders");
user_pref("mail.identity.id1.fullName", "Alice");
user_pref("mail.identity.id1.useremail", "alice@example.test");
user_pref("mail.identity.id1.smtpServer", "smtp1");
user_pref("mail.identity.id1.fcc", true);
user_pref("mail.identity.id1.fcc_folder", "imap://alice%40example.test@localhost/Sent");
user_pref("mail.identity.id1.valid", true);
user_pref("mail.smtpservers", "smtp1");
user_pref("mail.smtp.defaultserver", "smtp1");
user_pref("mail.smtpserver.smtp1.type", "smtp");
user_pref("mail.smtpserver.smtp1.hostname", "localhost");
user_pref("mail.smtpserver.smtp1.port", $P_SUBS);
user_pref("mail.smtpserver.smtp1.try_ssl", 3);
user_pref("mail.smtpserver.smtp1.authMethod", 3);
user_pref("mail.smtpserver.smtp1.username", "alice@example.test");
user_pref("mail.shell.checkDefaultClient", false);
user_pref("mail.provider.suppress_dialog_on_startup", true);
user_pref("mail.spotlight.firstRunDone", true);
user_pref("mail.winsearch.firstRunDone", true);
user_pref("mailnews.start_page.enabled", false);
user_pref("app.update.disabledForTesting", true);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("marionette.port", 2828);
JS

# Thunderbird, its protocol traffic in MOZ_LOG; the driver (tb.py) ends
# it with Marionette:Quit, timeout(1) bounds it whatever happens.
HOME=$T/home MOZ_LOG=IMAP:4,IMAP_CS:4,timestamp,sync MOZ_LOG_FILE=$T/moz.log \
	timeout 80 thunderbird --headless --marionette -remote-allow-system-access \
	--profile "$T/profile" >"$T/tb.out" 2>&1 &
TB_PID=$!
if ! timeout 75 python3 "$HERE/tb.py" 2828 "$D/ca.pem" 'pw-alice'; then
	echo "--- thunderbird output:"; grep -Ev "Gtk-CRITICAL|glib warning|^$" "$T/tb.out" | tail -20
	echo "--- thunderbird IMAP/SMTP log:"; cat "$T"/moz.log* 2>/dev/null | grep -v '^\s*$' | tail -40
	fail "Thunderbird did not complete its steps"
fi
for _ in $(seq 100); do kill -0 $TB_PID 2>/dev/null || break; sleep 0.1; done
kill -0 $TB_PID 2>/dev/null && { kill $TB_PID; note "Thunderbird did not quit within 10 s of Marionette:Quit"; }
cat "$T"/moz.log* >"$T/protocol.log"
# What Thunderbird sent, one line per command (tags and arguments after the
# command name dropped), for the log of this test.
note "Thunderbird's IMAP commands: $(sed -n 's/.*SendData: [0-9]* \([A-Za-z]*\( [a-z]*\)\?\).*/\1/p' "$T/protocol.log" |
	sort | uniq -c | sort -rn | awk '{n = $1; $1 = ""; print substr($0, 2) " x" n}' | paste -sd, - | sed 's/,/, /g')"

# And on submission, from brev's debug log (AUTH is not logged: credentials).
sub=$(sed -n 's/.*debug submissions: connection from \[127\.0\.0\.1\]:\([0-9]*\)$/\1/p' "$D/serve.log" | head -1)
note "Thunderbird's SMTP commands: $(sed -n "s/.*debug smtp 127\.0\.0\.1:$sub \[[A-Z]*\] //p" "$D/serve.log" | paste -sd'|' - | sed 's/|/; /g')"

# The sent copy went in with RFC 6855's UTF8 (literal8) form and brev
# took it; the incremental resync used CONDSTORE's CHANGEDSINCE and got
# MODSEQ back; the move was a UID MOVE; brev refused nothing.
tag=$(sed -n 's/.*SendData: \([0-9]*\) append "Sent" (\\Seen) UTF8 (~{[0-9]*+\?}.*/\1/p' "$T/protocol.log" | head -1)
[ -n "$tag" ] || fail "Thunderbird did not APPEND its sent copy in the UTF8 (~{n}) form"
grep -q "CreateNewLineFromSocket: $tag OK" "$T/protocol.log" || fail "brev did not answer OK to Thunderbird's APPEND (tag $tag)"
grep -q 'SendData: [0-9]* UID fetch 1:\* (FLAGS) (CHANGEDSINCE [0-9]*)' "$T/protocol.log" ||
	fail "Thunderbird's resync did not use CHANGEDSINCE"
grep -q 'CreateNewLineFromSocket: \* [0-9]* FETCH (UID [0-9]* FLAGS (.*\\Flagged.*) MODSEQ ([0-9]*))' "$T/protocol.log" ||
	fail "no FETCH with MODSEQ for the flagged message in the CHANGEDSINCE answer"
grep -qi 'SendData: [0-9]* uid move [0-9]* "Moved"' "$T/protocol.log" || fail "Thunderbird did not move with UID MOVE"
! grep -E 'imap refused|smtp.*refused=[1-9]' "$D/serve.log" || fail "brev refused a command of Thunderbird's"
grep -q 'port=submissions .*user=alice@example.test msgs=1 ' "$D/serve.log" ||
	fail "no submission session of alice's with one message in brev's log"

# The server side, independently of what Thunderbird believes.
python3 - <<'PY' || fail "the server side after Thunderbird's work"
import email, email.policy, imaplib, os, ssl
ctx = ssl.create_default_context(cafile=os.environ["D"] + "/ca.pem")

def login(user, pw):
    i = imaplib.IMAP4_SSL("localhost", int(os.environ["P_IMAPS"]), ssl_context=ctx)
    i.login(user, pw)
    return i

def messages(i, box):
    typ, _ = i.select(box, readonly=True)
    assert typ == "OK", box
    typ, d = i.fetch("1:*", "(FLAGS BODY.PEEK[])") if int(i.select(box, readonly=True)[1][0]) else ("OK", [])
    out = []
    for part in d:
        if isinstance(part, tuple):
            msg = email.message_from_bytes(part[1], policy=email.policy.default)
            out.append((imaplib.ParseFlags(part[0]), msg))
    return out

a = login("alice@example.test", "pw-alice")
inbox = sorted(str(m["Subject"]) for _, m in messages(a, "INBOX"))
assert inbox == ["tb-one", "tb-two"], "INBOX holds %r" % inbox
moved = messages(a, "Moved")
assert [str(m["Subject"]) for _, m in moved] == ["tb-move"], "Moved holds %r" % moved
assert "body of tb-move" in moved[0][1].get_content()
sent = messages(a, "Sent")
assert len(sent) == 1, "Sent holds %d messages" % len(sent)
flags, copy = sent[0]
assert str(copy["Subject"]) == "tb-sent h\u00e9llo", copy["Subject"]
assert b"\\Seen" in flags, "the sent copy's flags: %r" % (flags,)
assert "gr\u00fc\u00dfe" in copy.get_content(), copy.get_content()
a.logout()

b = login("bob@example.test", "pw-bob-secret")
got = messages(b, "INBOX")
assert len(got) == 1, "bob has %d messages" % len(got)
assert got[0][1]["Message-ID"] == copy["Message-ID"], (got[0][1]["Message-ID"], copy["Message-ID"])
assert "gr\u00fc\u00dfe" in got[0][1].get_content()
b.logout()
PY
brev_stop
note "whole test $(($(date +%s) - started)) s"
echo ok
