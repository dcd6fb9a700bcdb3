// imapflow with CONDSTORE and QRESYNC on (it ENABLEs both when offered and
// asked for QRESYNC): HIGHESTMODSEQ at open, fetch with changedSince,
// UNCHANGEDSINCE through messageFlagsAdd, and another session's expunge
// arriving as VANISHED with its UID.
const { ImapFlow } = require('imapflow');
const fs = require('fs');

const env = process.env;
const ca = [fs.readFileSync(env.D + '/cert.pem')];
const auth = { user: 'alice@example.test', pass: 'pw-alice' };
const fail = (m) => { console.error('FAIL: ' + m); process.exit(1); };
const open = () => new ImapFlow({ host: 'localhost', port: Number(env.P_IMAPS), secure: true,
                                  tls: { ca }, auth, logger: process.env.FLOWLOG ? { debug: (o) => o.msg && console.log(o.msg), info: () => {}, warn: (o) => console.log("WARN", o.msg, o.err && o.err.message), error: (o) => console.log("ERR", o.msg) } : false, qresync: true });

(async () => {
  const c = open();
  await c.connect();
  if (!c.enabled.has('CONDSTORE') || !c.enabled.has('QRESYNC'))
    fail('enabled ' + JSON.stringify([...c.enabled]));
  await c.mailboxCreate('flow');
  const uids = [];
  for (let i = 1; i <= 3; i++)
    uids.push((await c.append('flow', 'Subject: m' + i + '\r\n\r\nbody ' + i + '\r\n')).uid);
  const mb = await c.mailboxOpen('flow');
  const h = mb.highestModseq;
  if (typeof h !== 'bigint' || h < 3n) fail('highestModseq ' + h);
  await c.messageFlagsAdd({ uid: uids[1] }, ['\\Seen'], { uid: true });
  const changed = [];
  for await (const m of c.fetch('1:*', { uid: true, flags: true }, { changedSince: h }))
    changed.push(m);
  if (changed.length !== 1 || changed[0].uid !== uids[1] || !(changed[0].modseq > h))
    fail('changedSince ' + JSON.stringify(changed, (k, v) => typeof v === 'bigint' ? String(v) : v));
  // uid 2 changed after h: the conditional store must leave it alone.
  await c.messageFlagsAdd({ uid: uids[1] + ',' + uids[2] }, ['\\Flagged'],
                          { uid: true, unchangedSince: h });
  const f2 = await c.fetchOne(String(uids[1]), { flags: true }, { uid: true });
  const f3 = await c.fetchOne(String(uids[2]), { flags: true }, { uid: true });
  if (f2.flags.has('\\Flagged') || !f3.flags.has('\\Flagged'))
    fail('unchangedSince ' + [...f2.flags] + ' / ' + [...f3.flags]);
  // Another session expunges; this one hears VANISHED with the UID.
  const gone = new Promise((resolve) => c.once('expunge', resolve));
  const o = open();
  await o.connect();
  await o.mailboxOpen('flow');
  await o.messageDelete({ uid: uids[0] }, { uid: true });
  await o.logout();
  await c.noop();
  const timer = setTimeout(() => fail('no expunge event'), 8000);
  const ev = await gone;
  clearTimeout(timer);
  if (!ev.vanished || ev.uid !== uids[0] || ev.earlier) fail('expunge event ' + JSON.stringify(ev));
  await c.logout();
  console.log('imapflow with QRESYNC: all checks passed');
})().catch((e) => fail(e.stack || String(e)));
