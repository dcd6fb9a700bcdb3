# imapcmp.py PORT PASSWORD expect.json ACCT=ADDRESS...: every mailbox of each
# account, read back over IMAP (imaplib), must hold exactly the expected
# messages in order: bytes, flags, keywords, INTERNALDATE (when known).
# Mailboxes not in expect.json must be empty.
#   imapcmp.py PORT PASSWORD dump ADDRESS OUT.json: write what IMAP shows.
import base64, imaplib, json, re, sys, time

def read_account(port, pw, addr):
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login(addr, pw)
    typ, lst = m.list()
    boxes = {}
    for line in lst:
        name = re.search(rb'"([^"]*)"$|([^ ]+)$', line)
        name = (name.group(1) or name.group(2)).decode()
        typ, data = m.select('"%s"' % name, readonly=True)
        assert typ == "OK", (name, data)
        msgs = []
        if int(data[0]):
            typ, data = m.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
            assert typ == "OK", data
            for item in data:
                if not isinstance(item, tuple):
                    continue
                meta = item[0]
                fl = re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).decode().split()
                idate = time.mktime(imaplib.Internaldate2tuple(meta))
                uid = int(re.search(rb"UID (\d+)", meta).group(1))
                msgs.append((uid, {"b": base64.b64encode(item[1]).decode(),
                                   "flags": sorted(f for f in fl if f.startswith("\\") and f != "\\Recent"),
                                   "kw": sorted(f for f in fl if not f.startswith("\\")),
                                   "date": int(idate)}))
        boxes[name] = [x for _, x in sorted(msgs, key=lambda x: x[0])]
    m.logout()
    return boxes

port, pw = int(sys.argv[1]), sys.argv[2]
if sys.argv[3] == "dump":
    json.dump(read_account(port, pw, sys.argv[4]), open(sys.argv[5], "w"), sort_keys=True)
    sys.exit(0)
expect = json.load(open(sys.argv[3]))
bad = 0
for spec in sys.argv[4:]:
    key, addr = spec.split("=")
    got = read_account(port, pw, addr)
    want = expect[key]
    for name in sorted(set(got) | set(want)):
        g, w = got.get(name), want.get(name, [])
        if g is None:
            print(f"{addr}: mailbox {name} missing"); bad += 1; continue
        if len(g) != len(w):
            print(f"{addr} {name}: {len(g)} messages, expected {len(w)}"); bad += 1; continue
        for i, (a, b) in enumerate(zip(g, w)):
            for k in ("b", "flags", "kw", "date"):
                if b.get(k) is not None and a[k] != b[k]:
                    print(f"{addr} {name} #{i+1}: {k} {str(a[k])[:200]!r} != expected {str(b[k])[:200]!r}")
                    bad += 1
    print(f"{addr}: {sum(len(v) for v in got.values())} messages in {len(got)} mailboxes compared")
sys.exit(1 if bad else 0)
