#!/bin/bash
# brev import of what a private Dovecot wrote (issue 17): Dovecot is filled
# over IMAP (imaplib APPEND with flags, keywords and dates, into INBOX,
# Work.Reports and "Sent Items"); then (a) Dovecot's own Maildir++ (flag
# letters, dovecot-keywords, mtimes) and (b) the Maildir mbsync makes from
# Dovecot over IMAP are imported into brev accounts while brev serves, and
# read back over IMAP: bytes equal to the files, flags, keywords, dates and
# folders equal to what Dovecot itself serves (its bytes differ only by the
# CRLF it adds on the wire).
. ../lib.sh
command -v dovecot >/dev/null || fail "dovecot not installed (apt-get install dovecot-imapd)"
command -v mbsync >/dev/null || fail "mbsync not installed (apt-get install isync)"
[ "$(id -u)" = 0 ] || skip "a private Dovecot needs root here (mail_uid nobody)"
HERE=$(cd "$(dirname "$0")" && pwd)
PW=pw-import-1
brev_init imp
for a in dov mbs; do brev_user "$a@example.test" "$PW"; done
brev_start

DC=$T/dc
DC_IMAP=$(free_port)
# Dovecot drops to its own users (dovecot, nobody): they must reach $DC.
chmod 711 "$T"
mkdir -p "$DC/run" "$DC/state" "$DC/mail"
chmod 755 "$DC"
chown 65534:65534 "$DC/mail"
echo "alice@example.test:{PLAIN}$PW" >"$DC/passwd"
cat >"$DC/dovecot.conf" <<CONF
base_dir = $DC/run
state_dir = $DC/state
instance_name = brev-t74-dovecot
protocols = imap
listen = 127.0.0.1
log_path = $DC/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:$DC/mail/%u
mail_uid = 65534
mail_gid = 65534
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = username_format=%u $DC/passwd
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$DC/mail/%u allow_all_users=yes
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DC_IMAP
  }
  inet_listener imaps {
    port = 0
  }
}
CONF
dovecot -F -c "$DC/dovecot.conf" >>"$DC/dovecot.out" 2>&1 &
DC_PID=$!
at_exit "kill $DC_PID 2>/dev/null; wait $DC_PID 2>/dev/null"
wait_port "$DC_IMAP"

python3 - "$DC_IMAP" "$PW" <<'PY' || fail "filling Dovecot: $(tail -5 "$DC/dovecot.log")"
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("alice@example.test", sys.argv[2])
for box in ("Work", "Work.Reports", "Sent Items"):
    assert m.create('"%s"' % box)[0] == "OK", box
items = [("INBOX", r"(\Seen)"), ("INBOX", r"(\Seen \Answered $Important)"), ("INBOX", "(project)"),
         ("INBOX", r"(\Flagged \Deleted $Important project)"), ("INBOX", "()"),
         ('"Work.Reports"', r"(\Draft report)"), ('"Sent Items"', r"(\Seen)")]
for i, (box, fl) in enumerate(items):
    msg = (f"From: ann@example.test\r\nTo: alice@example.test\r\nSubject: dovecot {i}\r\n"
           f"Message-ID: <dc{i}@example.test>\r\n\r\nbody {i}\r\nFrom here on\r\n").encode()
    assert m.append(box, fl, imaplib.Time2Internaldate(1767000000 + 3600 * i), msg)[0] == "OK", box
m.logout()
PY

# What Dovecot serves, folder names as brev names them, bytes as on disk.
python3 "$HERE/../t-73-import-export/imapcmp.py" "$DC_IMAP" "$PW" dump alice@example.test "$T/dc.json"
expect() {      # expect KEY MAILDIR [nodates]: $T/expect-KEY.json
	python3 - "$T/dc.json" "$2" "$T/expect-$1.json" "$1" "${3:-}" <<'PY' || fail "expectations for $1"
import base64, json, os, re, sys
dc = json.load(open(sys.argv[1]))
files = {}
for d, _, fs in os.walk(sys.argv[2]):
    if os.path.basename(d) in ("cur", "new"):
        for f in fs:
            b = open(os.path.join(d, f), "rb").read()
            files[re.search(rb"Subject: (.*)", b).group(1).strip()] = b
names = {"INBOX": "INBOX", "Work": "Work", "Work.Reports": "Work/Reports", "Sent Items": "Sent"}
out = {}
for box, msgs in dc.items():
    for x in msgs:
        wire = base64.b64decode(x["b"])
        b = files[re.search(rb"Subject: (.*)", wire).group(1).strip()]
        # Dovecot's own file: the served bytes but for CRLF (mbsync's
        # copy adds X-TUID, so only Dovecot's is checked)
        assert sys.argv[5] or b.replace(b"\n", b"\r\n") == wire, "Dovecot serves other bytes than its file"
        x["b"] = base64.b64encode(b).decode()
        if sys.argv[5]:
            x["date"] = None
            x["kw"] = None
    out[names[box]] = msgs
json.dump({sys.argv[4]: out}, open(sys.argv[3], "w"))
PY
}

# (a) Dovecot's own Maildir, read while Dovecot is stopped from writing to it.
expect dov "$DC/mail/alice@example.test"
out=$("$BREV" -d "$D" import dov@example.test "$DC/mail/alice@example.test" 2>&1) || fail "import: $out"
grep -q "imported 7 messages" <<<"$out" || fail "import: $out"
python3 "$HERE/../t-73-import-export/imapcmp.py" "$P_IMAP" "$PW" "$T/expect-dov.json" dov=dov@example.test ||
	fail "Dovecot's Maildir imported differs from what Dovecot serves"

# (b) mbsync from Dovecot (Maildir++ layout), then imported.
mkdir -p "$T/mbs"
cat >"$T/mbsyncrc" <<RC
IMAPAccount dc
Host 127.0.0.1
Port $DC_IMAP
User alice@example.test
Pass $PW
AuthMechs LOGIN
SSLType None

IMAPStore remote
Account dc

MaildirStore local
Inbox $T/mbs/
SubFolders Maildir++

Channel ch
Far :remote:
Near :local:
Patterns *
Create Near
SyncState *
RC
mbsync -c "$T/mbsyncrc" -a >"$T/mbsync.log" 2>&1 || { cat "$T/mbsync.log"; fail "mbsync"; }
expect mbs "$T/mbs" nodates
out=$("$BREV" -d "$D" import mbs@example.test "$T/mbs" 2>&1) || fail "import: $out"
python3 "$HERE/../t-73-import-export/imapcmp.py" "$P_IMAP" "$PW" "$T/expect-mbs.json" mbs=mbs@example.test ||
	fail "the mbsync Maildir imported differs from what Dovecot serves"
brev_stop
