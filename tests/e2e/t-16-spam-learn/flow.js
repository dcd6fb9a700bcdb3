// Training the classifier through imapflow (the IMAP client of many Node
// mail apps), for carol (docs/spam.md "Learning"): a message delivered over
// SMTP is MOVEd into Junk (spam), and the next similar message gets a
// higher BAYES in X-Spam-Status; MOVEd back out (ham, reversing it), the
// next one is lower again; the $Junk keyword set with imapflow trains spam
// (higher), $NotJunk takes it back (lower). run.sh checks the counts.
const { ImapFlow } = require('imapflow');
const fs = require('fs');
const net = require('net');

const env = process.env;
const ca = [fs.readFileSync(env.D + '/cert.pem')];
const USER = 'carol@example.test';
const WORDS = 'frobnitz sprocket catalogue for the planning group';
const failed = [];
const check = (cond, what) => { if (!cond) { failed.push(what); console.error('FAIL: ' + what); } };

function smtpSend(body) {
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(env.P_SMTP), '127.0.0.1');
    const steps = ['EHLO client.test\r\n', 'MAIL FROM:<zed@widgets.test>\r\n', `RCPT TO:<${USER}>\r\n`,
                   'DATA\r\n', body + '\r\n.\r\n', 'QUIT\r\n'];
    const replies = [];
    let buf = '';
    s.setTimeout(30000, () => { s.destroy(); reject(new Error('SMTP time-out')); });
    s.on('data', (d) => {
      buf += d.toString();
      while (/(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(buf) && steps.length) {
        replies.push(buf.trim()); buf = ''; s.write(steps.shift());
      }
    });
    s.on('end', () => resolve(replies));
    s.on('error', reject);
  });
}

// Deliver a tagged message; returns [bayes points, mailbox, uid].
async function send(client, tag) {
  const body = `From: Zed <zed@widgets.test>\r\nTo: ${USER}\r\nSubject: ${tag} ${WORDS}\r\n` +
               `Message-ID: <${tag}.${process.pid}@widgets.test>\r\nDate: ${new Date().toUTCString()}\r\n` +
               `\r\n${WORDS}\r\n`;
  const r = await smtpSend(body);
  check(r.some((x) => /^250 /.test(x) && /queued|ok|accepted/i.test(x)) || r.length >= 5,
        `${tag}: SMTP replies ${JSON.stringify(r)}`);
  for (const box of ['INBOX', 'Junk']) {
    const lock = await client.getMailboxLock(box);
    try {
      const uids = await client.search({ subject: tag }, { uid: true });
      if (uids && uids.length) {
        const m = await client.fetchOne(String(uids[0]), { headers: ['x-spam-status'] }, { uid: true });
        const st = m.headers.toString().replace(/\r\n[ \t]/g, ' ');
        const b = /BAYES\((-?\d+\.\d)\)/.exec(st);
        check(b, `${tag}: no BAYES in ${st}`);
        console.log(`${tag}: ${st.trim()} in ${box}`);
        return [b ? Number(b[1]) : NaN, box, uids[0]];
      }
    } finally { lock.release(); }
  }
  check(false, `${tag}: not in INBOX or Junk`);
  return [NaN, null, 0];
}

async function inBox(client, box, tag, fn) {
  const lock = await client.getMailboxLock(box);
  try {
    const uids = await client.search({ subject: tag }, { uid: true });
    check(uids && uids.length === 1, `${tag}: not once in ${box}`);
    if (uids && uids.length) return await fn(String(uids[0]));
  } finally { lock.release(); }
}

(async () => {
  const client = new ImapFlow({ host: 'localhost', port: Number(env.P_IMAP), secure: false,
                                doSTARTTLS: true, tls: { ca },
                                auth: { user: USER, pass: 'pw-secret-1' }, logger: false });
  await client.connect();
  const [b0, box0] = await send(client, 'y0');
  check(box0 === 'INBOX', `y0 went to ${box0}`);
  // MOVE into Junk: spam
  const mv = await inBox(client, 'INBOX', 'y0', (u) => client.messageMove(u, 'Junk', { uid: true }));
  check(mv && mv.destination === 'Junk', `MOVE y0 to Junk: ${mv && mv.destination}`);
  const [b1] = await send(client, 'y1');
  check(b1 > b0, `after MOVE to Junk, BAYES ${b1} is not above ${b0}`);
  // MOVE back out: ham, reversing the spam training
  await inBox(client, 'Junk', 'y0', (u) => client.messageMove(u, 'INBOX', { uid: true }));
  const [b2, box2] = await send(client, 'y2');
  check(b2 < b1, `after MOVE back, BAYES ${b2} is not below ${b1}`);
  // the $Junk keyword (what imapflow-based apps set for "Junk"): spam
  await inBox(client, box2, 'y2', (u) => client.messageFlagsAdd(u, ['$Junk'], { uid: true }));
  const [b3] = await send(client, 'y3');
  check(b3 > b2, `after $Junk, BAYES ${b3} is not above ${b2}`);
  // $NotJunk: ham, reversing it
  await inBox(client, box2, 'y2', (u) => client.messageFlagsAdd(u, ['$NotJunk'], { uid: true }));
  const [b4] = await send(client, 'y4');
  check(b4 < b3, `after $NotJunk, BAYES ${b4} is not below ${b3}`);
  await client.logout();
  if (failed.length) process.exit(1);
  console.log('ok imapflow');
})().catch((e) => { console.error('FAIL: ' + (e.stack || e)); process.exit(1); });
