// imapflow (the IMAP client of many Node mail apps) against brev: connect,
// list, mailbox open, append, fetch with envelope/bodyStructure/source,
// flags, search, move, IDLE notification on a delivery, logout; first a
// login over STARTTLS that must not fall back to plaintext (doSTARTTLS:
// true fails when the server does not offer it), then the session over
// IMAPS, both checking the certificate.
const { ImapFlow } = require('imapflow');
const fs = require('fs');
const net = require('net');

const env = process.env;
const ca = [fs.readFileSync(env.D + '/cert.pem')];
const auth = { user: 'alice@example.test', pass: 'pw-alice' };
const fail = (m) => { console.error('FAIL: ' + m); process.exit(1); };

function smtpSend(port, body) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const steps = ['EHLO t\r\n', 'MAIL FROM:<far@remote.test>\r\n', 'RCPT TO:<alice@example.test>\r\n',
                   'DATA\r\n', body + '\r\n.\r\n', 'QUIT\r\n'];
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      // Send the next step after each complete reply (last line "NNN ").
      while (/(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(buf) && steps.length) { buf = ''; s.write(steps.shift()); }
    });
    s.on('end', resolve);
    s.on('error', reject);
  });
}

(async () => {
  {
    const st = new ImapFlow({ host: 'localhost', port: Number(env.P_IMAP), secure: false,
                              doSTARTTLS: true, tls: { ca }, auth, logger: false });
    await st.connect().catch((e) => fail('STARTTLS session: ' + (e.stack || e)));
    if (!st.secureConnection) fail('STARTTLS session is not encrypted');
    const l = await st.list();
    if (!l.find((m) => m.path === 'INBOX')) fail('no INBOX in list over STARTTLS');
    await st.logout();
  }
  const client = new ImapFlow({ host: 'localhost', port: Number(env.P_IMAPS), secure: true,
                                tls: { ca }, auth, logger: false });
  await client.connect();
  const list = await client.list();
  if (!list.find((m) => m.path === 'INBOX')) fail('no INBOX in list');
  if (!list.find((m) => m.specialUse === '\\Sent')) fail('no \\Sent special-use');
  const msg = 'From: Ann <ann@example.test>\r\nTo: alice@example.test\r\nSubject: flow test\r\n' +
              'Content-Type: text/plain; charset=utf-8\r\n\r\nhello from imapflow\r\n';
  const app = await client.append('INBOX', msg, ['\\Flagged']);
  if (!app || !app.uid) fail('append gave no uid ' + JSON.stringify(app));
  const lock = await client.getMailboxLock('INBOX');
  try {
    const m = await client.fetchOne(String(app.uid), { envelope: true, bodyStructure: true, source: true, flags: true, uid: true }, { uid: true });
    if (m.envelope.subject !== 'flow test') fail('envelope subject ' + m.envelope.subject);
    if (m.envelope.from[0].address !== 'ann@example.test') fail('envelope from');
    if (m.bodyStructure.type !== 'text/plain') fail('bodystructure ' + JSON.stringify(m.bodyStructure));
    if (!m.source.toString().includes('hello from imapflow')) fail('source');
    if (!m.flags.has('\\Flagged')) fail('flags');
    await client.messageFlagsAdd({ uid: app.uid }, ['\\Seen'], { uid: true });
    const found = await client.search({ seen: true, subject: 'flow' }, { uid: true });
    if (!found.includes(app.uid)) fail('search ' + JSON.stringify(found));
  } finally {
    lock.release();
  }
  {
    // IDLE with the mailbox still open; a delivery must show up as EXISTS.
    const exists = new Promise((resolve) => client.once('exists', resolve));
    client.idle().catch(() => {});
    await new Promise((r) => setTimeout(r, 300));
    await smtpSend(Number(env.P_SMTP), 'Subject: during idle\r\n\r\nhi');
    const timer = setTimeout(() => fail('no EXISTS during IDLE'), 8000);
    const ev = await exists;
    clearTimeout(timer);
    if (ev.count < 2) fail('exists count ' + ev.count);
  }
  const lock2 = await client.getMailboxLock('INBOX');
  try {
    const moved = await client.messageMove({ uid: app.uid }, 'Archive', { uid: true });
    if (!moved || !moved.uidMap || !moved.uidMap.size) fail('move uidMap ' + JSON.stringify(moved));
  } finally {
    lock2.release();
  }
  const st = await client.status('Archive', { messages: true });
  if (st.messages !== 1) fail('archive status ' + JSON.stringify(st));
  await client.logout();
  console.log('imapflow: all checks passed');
})().catch((e) => fail(e.stack || String(e)));
