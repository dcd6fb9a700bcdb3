"""tb.py MARIONETTE_PORT CA_PEM PASSWORD — drive a running Thunderbird
(profile from run.sh's user.js: one IMAPS account for alice@example.test,
SMTP submission over implicit TLS) through Thunderbird's own mail code:
trust brev's local CA, store the passwords, discover the folders, sync
INBOX, move the message "tb-move" to "Moved", then send a message to
bob@example.test with the copy saved in Sent. Every step waits for
Thunderbird's own completion callback, bounded in time; the server side
is checked afterwards by run.sh with imaplib. Prints one line per step."""
import base64
import sys
import time

sys.path.insert(0, __import__("os").path.dirname(__file__))
from marionette import Marionette  # noqa: E402

port, ca_pem, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
der = "".join(l for l in open(ca_pem).read().splitlines() if l and not l.startswith("-----"))
m = Marionette(port, time.monotonic() + 40)

COMMON = """
const { MailServices } = ChromeUtils.importESModule("resource:///modules/MailServices.sys.mjs");
const server = MailServices.accounts.accounts.find(a => a.incomingServer.type == "imap").incomingServer;
const account = MailServices.accounts.findAccountForServer(server);
const root = server.rootFolder;
const urlDone = () => { let r; const p = new Promise(res => r = res);
  return [p, { QueryInterface: ChromeUtils.generateQI(["nsIUrlListener"]),
               OnStartRunningUrl() {}, OnStopRunningUrl(u, st) { r(st); } }]; };
"""

# 1. brev's local CA as a trusted authority (what a user imports once), and
#    the passwords in the login manager, before any connection: without a
#    stored password Thunderbird opens a modal prompt that hangs headless.
print("setup:", m.run(COMMON + """
const certdb = Cc["@mozilla.org/security/x509certdb;1"].getService(Ci.nsIX509CertDB);
certdb.addCertFromBase64(args[0], "C,C,C");
for (const origin of ["imap://localhost", "smtp://localhost"]) {
  const li = Cc["@mozilla.org/login-manager/loginInfo;1"].createInstance(Ci.nsILoginInfo);
  li.init(origin, null, origin, "alice@example.test", args[1], "", "");
  await Services.logins.addLoginAsync(li);
}
return `${server.hostName || server.hostname}:${server.port} socketType=${server.socketType} useCondStore=${server.QueryInterface(Ci.nsIImapIncomingServer).useCondStore}`;
""", [der, password]))

# 2. Folder discovery (LIST), then a sync of INBOX (SELECT, FETCH).
print("sync:", m.run(COMMON + """
let [p, l] = urlDone();
MailServices.imap.discoverAllFolders(root, l, null);
let st = await p;
if (st != 0) throw new Error("discoverAllFolders status " + st);
const inbox = root.getFolderWithFlags(Ci.nsMsgFolderFlags.Inbox);
[p, l] = urlDone();
inbox.QueryInterface(Ci.nsIMsgImapMailFolder).updateFolderWithListener(null, l);
st = await p;
if (st != 0) throw new Error("INBOX update status " + st);
const subjects = [...inbox.messages].map(h => h.mime2DecodedSubject).sort();
return subjects.join(",") + " folders=" + root.subFolders.map(f => f.name).sort().join(",");
""", timeout_s=30))

# 3. Move "tb-move" from INBOX to Moved (Thunderbird's copy service).
print("move:", m.run(COMMON + """
const inbox = root.getFolderWithFlags(Ci.nsMsgFolderFlags.Inbox);
const dest = root.getChildNamed("Moved");
const hdr = [...inbox.messages].find(h => h.mime2DecodedSubject == "tb-move");
if (!hdr) throw new Error("no tb-move in INBOX");
let r; const p = new Promise(res => r = res);
MailServices.copy.copyMessages(inbox, [hdr], dest, true, {
  QueryInterface: ChromeUtils.generateQI(["nsIMsgCopyServiceListener"]),
  onStartCopy() {}, onProgress() {}, setMessageKey() {}, getMessageId() { return ""; },
  onStopCopy(st) { r(st); } }, null, false);
const st = await p;
if (st != 0) throw new Error("move status " + st);
return "ok";
""", timeout_s=30))

# 4. Send to bob with the copy in Sent (the identity's fcc folder): SMTP
#    submission, then APPEND to Sent (RFC 6855 UTF8 form once enabled).
print("send:", m.run(COMMON + """
const identity = account.defaultIdentity;
const fields = Cc["@mozilla.org/messengercompose/composefields;1"].createInstance(Ci.nsIMsgCompFields);
fields.from = "Alice <alice@example.test>";
fields.to = "bob@example.test";
fields.subject = "tb-sent h\\u00e9llo";
fields.body = "Sent by Thunderbird, gr\\u00fc\\u00dfe.\\r\\n";
let r; const p = new Promise(res => r = res);
const log = [];
const listener = {
  QueryInterface: ChromeUtils.generateQI(["nsIMsgSendListener", "nsIMsgCopyServiceListener"]),
  onStartSending() {}, onSendProgress() {}, onStatus(id, m) { log.push(m); },
  onStopSending(id, st) { log.push("stop-sending " + st); if (st != 0) r("send failed " + st); },
  onGetDraftFolderURI() {}, onSendNotPerformed(id, st) { r("not performed " + st); },
  onTransportSecurityError(id, st) { r("TLS error " + st); },
  onStartCopy() {}, onProgress() {}, setMessageKey() {}, getMessageId() { return ""; },
  onStopCopy(st) { r(st == 0 ? "ok" : "copy failed " + st); } };
const send = Cc["@mozilla.org/messengercompose/send;1"].createInstance(Ci.nsIMsgSend);
send.createAndSendMessage(null, identity, account.key, fields, false, false,
  Ci.nsIMsgSend.nsMsgDeliverNow, null, "text/plain", fields.body, null, null,
  listener, null, "", Ci.nsIMsgCompType.New);
const v = await p;
if (v != "ok") throw new Error(v + " " + log.join(" | "));
return v;
""", timeout_s=40))

# 5. A flag changed by another client, then a second sync of INBOX: with a
#    MODSEQ stored from the first one, Thunderbird asks only for what
#    changed since (CHANGEDSINCE) and must still see the change.
import imaplib, os, ssl  # noqa: E402
ctx = ssl.create_default_context(cafile=ca_pem)
i = imaplib.IMAP4_SSL("localhost", int(os.environ["P_IMAPS"]), ssl_context=ctx)
i.login("alice@example.test", password)
i.select("INBOX")
typ, d = i.uid("SEARCH", None, "SUBJECT", "tb-two")
assert typ == "OK" and d[0], d
assert i.uid("STORE", d[0].split()[0], "+FLAGS", r"(\Flagged)")[0] == "OK"
i.logout()
print("resync:", m.run(COMMON + """
const inbox = root.getFolderWithFlags(Ci.nsMsgFolderFlags.Inbox);
const [p, l] = urlDone();
inbox.QueryInterface(Ci.nsIMsgImapMailFolder).updateFolderWithListener(null, l);
const st = await p;
if (st != 0) throw new Error("INBOX update status " + st);
const flagged = [...inbox.messages].filter(h => h.isFlagged).map(h => h.mime2DecodedSubject);
if (flagged.join() != "tb-two") throw new Error("flagged in Thunderbird: " + flagged.join());
return "flagged=" + flagged.join();
""", timeout_s=30))
m.quit()
