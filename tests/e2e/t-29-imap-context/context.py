"""CONTEXT=SEARCH (RFC 5267 4) against brev: a raw watching session, the
other changes by imaplib and smtplib (independent clients).

Every check runs even when an earlier one failed; failures are listed at the
end and the exit status is 1 if there was any.
"""
import imaplib, os, random, re, smtplib, socket, sys, time, traceback

PORT = int(os.environ["P_IMAP"])
SMTP_PORT = int(os.environ["P_SMTP"])
USER, PW = "alice@example.test", "pw-alice"
FAILED = []


def check(cond, what):
    if not cond:
        FAILED.append(what)
        print("FAIL:", what, file=sys.stderr)


def message(subject, body="hello"):
    return ("From: bob@example.test\r\nTo: alice@example.test\r\n"
            "Subject: %s\r\n\r\n%s\r\n" % (subject, body)).encode()


def deliver(subject):
    with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=15) as c:
        c.sendmail("bob@example.test", ["alice@example.test"], message(subject))


class Raw:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=20)
        self.buf = b""
        self.line()
        self.cmd(b"L1 LOGIN " + USER.encode() + b" " + PW.encode())

    def line(self, timeout=20):
        """One line; socket.timeout when none came within timeout."""
        end = time.time() + timeout
        while b"\r\n" not in self.buf:
            left = end - time.time()
            if left <= 0:
                raise socket.timeout()
            self.s.settimeout(left)
            d = self.s.recv(65536)
            if not d:
                raise EOFError("server closed")
            self.buf += d
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l.decode()

    def cmd(self, line):
        if isinstance(line, str):
            line = line.encode()
        tag = line.split(b" ", 1)[0].decode()
        self.s.sendall(line + b"\r\n")
        out = []
        while True:
            l = self.line()
            out.append(l)
            if l.startswith(tag + " "):
                return out

    def idle_start(self, tag="I1"):
        self.idle_tag = tag
        self.s.sendall(tag.encode() + b" IDLE\r\n")
        l = self.line()
        assert l.startswith("+"), l

    def idle_until(self, pred, seconds=10):
        """Lines during IDLE until pred(lines) holds or time runs out."""
        out = []
        end = time.time() + seconds
        while not pred(out) and time.time() < end:
            try:
                out.append(self.line(min(0.5, max(0.01, end - time.time()))))
            except socket.timeout:
                pass
        return out

    def idle_done(self):
        self.s.sendall(b"DONE\r\n")
        out = []
        while True:
            l = self.line()
            out.append(l)
            if l.startswith(self.idle_tag + " "):
                return out


def expand(s):
    out = []
    for part in s.split(","):
        if ":" in part:
            a, b = map(int, part.split(":"))
            out.extend(range(min(a, b), max(a, b) + 1))
        else:
            out.append(int(part))
    return out


ES = re.compile(r'\* ESEARCH \(TAG "([^"]+)"\)( UID)?(.*)$')
ITEM = re.compile(r' (ADDTO|REMOVEFROM) \(0 ([0-9:,]+)\)')


def updates(lines, tag):
    """[(index, op, [n...])] of tag's ADDTO/REMOVEFROM, in order."""
    out = []
    for i, l in enumerate(lines):
        m = ES.match(l)
        if m and m.group(1) == tag:
            rest = m.group(3)
            items = ITEM.findall(rest)
            check(ITEM.sub("", rest) == "", "only ADDTO/REMOVEFROM in an update: %r" % l)
            for op, s in items:
                try:
                    out.append((i, op, expand(s)))
                except ValueError:
                    check(False, "bad set in %r" % l)
    return out


def esearch_of(lines, tag):
    for l in lines:
        m = ES.match(l)
        if m and m.group(1) == tag:
            return (m.group(2) or "") + m.group(3)
    return None


PAIR_ITEM = re.compile(r' (ADDTO|REMOVEFROM) \(((?:\d+ [0-9:,]+)(?: \d+ [0-9:,]+)*)\)')


def pairs(lines, tag):
    """[(op, [(position, [values])])] of tag's updates, in order."""
    out = []
    for l in lines:
        m = ES.match(l)
        if m and m.group(1) == tag:
            rest = m.group(3)
            check(PAIR_ITEM.sub("", rest) == "", "only ADDTO/REMOVEFROM pairs: %r" % l)
            for op, body in PAIR_ITEM.findall(rest):
                t = body.split(" ")
                out.append((op, [(int(t[i]), expand(t[i + 1])) for i in range(0, len(t), 2)]))
    return out


def pair_line(lines, tag):
    for i, l in enumerate(lines):
        m = ES.match(l)
        if m and m.group(1) == tag:
            return i
    return -1


def sorted_all(rest):
    """The ALL of an ESORT answer, in its order (ranges ascend)."""
    m = re.search(r" ALL ([0-9:,]+)", rest or "")
    return expand(m.group(1)) if m else []


def index_of(lines, pat):
    for i, l in enumerate(lines):
        if re.match(pat, l):
            return i
    return -1


def uids_of(raw, crit):
    out = raw.cmd("U9 UID SEARCH RETURN (ALL) " + crit)
    rest = esearch_of(out, "U9") or ""
    m = re.search(r" ALL ([0-9:,]+)", rest)
    return expand(m.group(1)) if m else []


def seqs_of(raw, crit):
    out = raw.cmd("S9 SEARCH RETURN (ALL) " + crit)
    rest = esearch_of(out, "S9") or ""
    m = re.search(r" ALL ([0-9:,]+)", rest)
    return expand(m.group(1)) if m else []


def other():
    m = imaplib.IMAP4("127.0.0.1", PORT, timeout=15)
    m.login(USER, PW)
    m.select("INBOX")
    return m


def partial(w):
    # Ten messages; UIDs 1..10.
    all_uids = uids_of(w, "ALL")
    check(len(all_uids) == 10, "ten messages: %r" % all_uids)
    u = all_uids
    cases = [("3:5", u[2:5]), ("5:3", u[2:5]), ("9:20", u[8:10]), ("1:1", u[0:1]),
             ("11:20", None), ("4294967295:4294967295", None)]
    for rng, want in cases:
        out = w.cmd("P1 UID SEARCH RETURN (PARTIAL %s) ALL" % rng)
        rest = esearch_of(out, "P1")
        exp = " UID PARTIAL (%s %s)" % (rng, ",".join(map(str, want)) if want else "NIL")
        got = rest
        if rest and want:  # compare as sets of numbers
            m = re.fullmatch(r" UID PARTIAL \(([0-9:]+) ([0-9:,]+)\)", rest)
            got = m and m.group(1) == rng and expand(m.group(2)) == want
            check(got, "PARTIAL %s: %r, want %r" % (rng, rest, want))
        else:
            check(rest == exp and out[-1].startswith("P1 OK"), "PARTIAL %s: %r, want %r" % (rng, out, exp))
    # message numbers, with COUNT and a search key
    out = w.cmd('P2 SEARCH RETURN (PARTIAL 2:3 COUNT) SUBJECT "m"')
    rest = esearch_of(out, "P2")
    check(rest == " PARTIAL (2:3 2:3) COUNT 10" or rest == " COUNT 10 PARTIAL (2:3 2:3)",
          "SEARCH PARTIAL with COUNT: %r" % out)
    # RFC 5267 4.4's example form (mailbox order, UIDs)
    out = w.cmd("P3 UID SEARCH RETURN (PARTIAL 1:500) UNDELETED")
    rest = esearch_of(out, "P3")
    m = rest and re.fullmatch(r" UID PARTIAL \(1:500 ([0-9:,]+)\)", rest)
    check(m and expand(m.group(1)) == u, "PARTIAL 1:500: %r" % out)
    # with SAVE: "$" keeps every match, not just the window
    out = w.cmd("P5 UID SEARCH RETURN (SAVE PARTIAL 1:2) ALL")
    check(esearch_of(out, "P5") == " UID PARTIAL (1:2 %d:%d)" % (u[0], u[1]), "PARTIAL with SAVE: %r" % out)
    out = w.cmd("P6 UID FETCH $ (UID)")
    check(len(out) == 11, "SAVE with PARTIAL kept all ten: %r" % out)
    # NOTIFY's UPDATE (fetch-att) form is not taken
    out = w.cmd("P7 UID SEARCH RETURN (UPDATE (UID)) ALL")
    check(len(out) == 1 and out[0].startswith("P7 BAD"), "UPDATE (fetch-att) is BAD: %r" % out)
    for bad in ("PARTIAL 1:*", "PARTIAL 0:3", "PARTIAL", "PARTIAL 3", "PARTIAL 1:2 PARTIAL 3:4",
                "ALL PARTIAL 1:2", "PARTIAL 1:2 ALL", "PARTIAL -1:2", "PARTIAL 1:4294967296"):
        out = w.cmd("P4 UID SEARCH RETURN (%s) ALL" % bad)
        check(len(out) == 1 and out[0].startswith("P4 BAD"), "RETURN (%s) is BAD: %r" % (bad, out))


def golden(w, o):
    w.cmd("G0 UID STORE 1:* -FLAGS.SILENT (\\Seen)")
    # UID context: unseen "hot" messages. COUNT comes with it.
    out = w.cmd('B01 UID SEARCH RETURN (UPDATE COUNT) UNSEEN SUBJECT "hot"')
    check(esearch_of(out, "B01") == " UID COUNT 3" and out[-1].startswith("B01 OK"),
          "UPDATE COUNT answer: %r" % out)
    hot = uids_of(w, 'SUBJECT "hot"')
    check(len(hot) == 3, "three hot messages %r" % hot)
    # RETURN (CONTEXT ...) is a hint
    out = w.cmd('H01 SEARCH RETURN (CONTEXT COUNT) SUBJECT "hot"')
    check(esearch_of(out, "H01") == " COUNT 3", "CONTEXT hint: %r" % out)
    # message-number context on the same criteria, RETURN (UPDATE) alone:
    # no data items, only the updates to come
    out = w.cmd('C01 SEARCH RETURN (UPDATE) UNSEEN SUBJECT "hot"')
    check(esearch_of(out, "C01") == "" and out[-1].startswith("C01 OK"), "UPDATE alone: %r" % out)

    # Tag reuse: BAD, and the context keeps going.
    out = w.cmd("B01 UID SEARCH RETURN (UPDATE) ALL")
    check(len(out) == 1 and out[0].startswith("B01 BAD"), "tag reuse is BAD: %r" % out)

    # SMTP arrival matching: EXISTS, then ADDTO for both contexts.
    deliver("hot news")
    out = w.cmd("N1 NOOP")
    ex = index_of(out, r"\* 11 EXISTS")
    new_uid = uids_of(w, "ALL")[-1]
    ub, uc = updates(out, "B01"), updates(out, "C01")
    check(ex >= 0 and [(op, v) for _, op, v in ub] == [("ADDTO", [new_uid])] and ub[0][0] > ex,
          "SMTP arrival: UID ADDTO after EXISTS: %r" % out)
    check([(op, v) for _, op, v in uc] == [("ADDTO", [11])] and uc[0][0] > ex,
          "SMTP arrival: ADDTO message number 11 after EXISTS: %r" % out)
    # An arrival that does not match: EXISTS, no update.
    deliver("cold news")
    out = w.cmd("N2 NOOP")
    check(index_of(out, r"\* 12 EXISTS") >= 0 and not updates(out, "B01") and not updates(out, "C01"),
          "non-matching arrival: no update: %r" % out)

    # During IDLE.
    w.idle_start()
    deliver("hot again")
    got = w.idle_until(lambda ls: sum('ESEARCH (TAG "B01")' in l or 'ESEARCH (TAG "C01")' in l
                                      for l in ls) >= 2)
    got += w.idle_done()
    ub = updates(got, "B01")
    check(len(ub) == 1 and ub[0][1] == "ADDTO" and index_of(got, r"\* 13 EXISTS") < ub[0][0],
          "ADDTO during IDLE: %r" % got)
    hot = uids_of(w, 'SUBJECT "hot"')

    # Another session sets \Seen: FETCH, then REMOVEFROM.
    o.uid("STORE", str(hot[0]), "+FLAGS", "(\\Seen)")
    out = w.cmd("N3 NOOP")
    ub, uc = updates(out, "B01"), updates(out, "C01")
    seq0 = seqs_of(w, "UID %d" % hot[0])[0]
    check([(op, v) for _, op, v in ub] == [("REMOVEFROM", [hot[0]])], "\\Seen by another: %r" % out)
    check([(op, v) for _, op, v in uc] == [("REMOVEFROM", [seq0])], "\\Seen by another (numbers): %r" % out)
    # ... and takes it off: ADDTO.
    o.uid("STORE", str(hot[0]), "-FLAGS", "(\\Seen)")
    out = w.cmd("N4 NOOP")
    check([(op, v) for _, op, v in updates(out, "B01")] == [("ADDTO", [hot[0]])],
          "\\Seen removed by another: %r" % out)
    # A flag that changes no result: no update.
    o.uid("STORE", str(hot[0]), "+FLAGS", "(\\Flagged)")
    out = w.cmd("N5 NOOP")
    check(not updates(out, "B01") and not updates(out, "C01"), "\\Flagged: no update: %r" % out)
    # The watcher's own STORE: the update comes in its answer.
    out = w.cmd("S1 UID STORE %d +FLAGS (\\Seen)" % hot[1])
    check([(op, v) for _, op, v in updates(out, "B01")] == [("REMOVEFROM", [hot[1]])],
          "own STORE: REMOVEFROM in its answer: %r" % out)
    out = w.cmd("S2 UID STORE %d -FLAGS.SILENT (\\Seen)" % hot[1])
    check([(op, v) for _, op, v in updates(out, "B01")] == [("ADDTO", [hot[1]])],
          "own STORE.SILENT: ADDTO: %r" % out)

    # Expunge by another session: REMOVEFROM before the EXPUNGE.
    seq2 = seqs_of(w, "UID %d" % hot[2])[0]
    o.uid("STORE", str(hot[2]), "+FLAGS.SILENT", "(\\Deleted)")
    o.expunge()
    out = w.cmd("N6 NOOP")
    ub, uc = updates(out, "B01"), updates(out, "C01")
    ex = index_of(out, r"\* %d EXPUNGE" % seq2)
    check(ex >= 0 and [(op, v) for _, op, v in ub] == [("REMOVEFROM", [hot[2]])] and ub[0][0] < ex,
          "expunge: UID REMOVEFROM before EXPUNGE: %r" % out)
    check([(op, v) for _, op, v in uc] == [("REMOVEFROM", [seq2])] and uc[0][0] < ex,
          "expunge: REMOVEFROM %d before EXPUNGE: %r" % (seq2, out))
    # Expunge of a message in no result: nothing.
    cold = uids_of(w, 'SUBJECT "cold"')
    o.uid("STORE", str(cold[0]), "+FLAGS.SILENT", "(\\Deleted)")
    o.expunge()
    out = w.cmd("N7 NOOP")
    check(index_of(out, r"\* \d+ EXPUNGE") >= 0 and not updates(out, "B01") and not updates(out, "C01"),
          "expunge outside the results: %r" % out)

    # NOUPDATE: message numbers, $, UID sets, OLDER.
    for i, crit in enumerate(("1:3", "UID 1:*", "OLDER 60", "NOT 2")):
        t = "D0%d" % i
        out = w.cmd("%s SEARCH RETURN (UPDATE COUNT) %s" % (t, crit))
        check(('* NO [NOUPDATE "%s"]' % t) in " ".join(out) and out[-1].startswith(t + " OK") and
              esearch_of(out, t) and " COUNT " in esearch_of(out, t),
              "NOUPDATE for %s, COUNT still answered: %r" % (crit, out))
    # Eight contexts at most (B01 and C01 are two): E1..E6 kept, E7 NOUPDATE.
    for i in range(1, 8):
        out = w.cmd("E%d UID SEARCH RETURN (UPDATE) FLAGGED" % i)
        nou = any("NOUPDATE" in l for l in out)
        check(nou == (i == 7) and out[-1].startswith("E%d OK" % i), "context %d of 8: %r" % (i + 2, out))

    # CANCELUPDATE: unknown tag NO (and nothing cancelled), no tag BAD.
    out = w.cmd('X1 CANCELUPDATE "B01" "nope"')
    check(len(out) == 1 and out[0].startswith("X1 NO"), "CANCELUPDATE unknown: %r" % out)
    out = w.cmd("X2 CANCELUPDATE")
    check(len(out) == 1 and out[0].startswith("X2 BAD"), "CANCELUPDATE alone: %r" % out)
    out = w.cmd('X3 CANCELUPDATE "B01" "E1"')
    check(out[-1].startswith("X3 OK"), "CANCELUPDATE: %r" % out)
    deliver("hot third")
    out = w.cmd("N8 NOOP")
    check(not updates(out, "B01") and updates(out, "C01"), "cancelled B01 silent, C01 not: %r" % out)
    # The tag is free again; a new E7 fits now.
    out = w.cmd("B01 UID SEARCH RETURN (UPDATE) FLAGGED")
    check(out[-1].startswith("B01 OK") and not any("NOUPDATE" in l for l in out), "tag free after cancel: %r" % out)
    # UNSELECT ends them all.
    w.cmd("U1 UNSELECT")
    out = w.cmd('X4 CANCELUPDATE "C01"')
    check(out[0].startswith("X4 BAD") or out[0].startswith("X4 NO"), "no contexts after UNSELECT: %r" % out)
    w.cmd("U2 SELECT INBOX")
    o.uid("STORE", "1:*", "+FLAGS", "(\\Flagged)")
    out = w.cmd("N9 NOOP")
    check(not any(ES.match(l) for l in out), "no updates after UNSELECT/SELECT: %r" % out)
    out = w.cmd("C01 UID SEARCH RETURN (UPDATE) ALL")
    check(out[-1].startswith("C01 OK"), "tag reusable after UNSELECT: %r" % out)
    w.cmd('X5 CANCELUPDATE "C01"')

    # CONTEXT=SORT: positions in sort order.
    w.cmd("K0 UID STORE 1:* -FLAGS.SILENT (\\Seen)")
    out = w.cmd('K01 UID SORT RETURN (UPDATE ALL) (SUBJECT) UTF-8 UNSEEN NOT SUBJECT "cold"')
    first = sorted_all(esearch_of(out, "K01"))
    check(len(first) >= 10 and out[-1].startswith("K01 OK"), "SORT UPDATE ALL: %r" % out)
    out = w.cmd('K02 SORT RETURN (UPDATE) (REVERSE SUBJECT) UTF-8 UNSEEN NOT SUBJECT "cold"')
    check(esearch_of(out, "K02") == "" and out[-1].startswith("K02 OK"), "SORT UPDATE alone: %r" % out)
    out = w.cmd("K01 SORT RETURN (UPDATE) (SUBJECT) UTF-8 ALL")
    check(len(out) == 1 and out[0].startswith("K01 BAD"), "SORT tag reuse BAD: %r" % out)
    deliver("aaa first")
    out = w.cmd("K3 NOOP")
    n_all = len(uids_of(w, "ALL"))
    new_uid = uids_of(w, "ALL")[-1]
    ex = index_of(out, r"\* %d EXISTS" % n_all)
    p1, p2 = pairs(out, "K01"), pairs(out, "K02")
    check(ex >= 0 and p1 == [("ADDTO", [(1, [new_uid])])] and pair_line(out, "K01") > ex,
          "SORT ADDTO at position 1 after EXISTS: %r" % out)
    check(p2 == [("ADDTO", [(len(first) + 1, [n_all])])], "REVERSE SORT ADDTO at the end, by number: %r" % out)
    deliver("zzz last")
    out = w.cmd("K4 NOOP")
    new_uid = uids_of(w, "ALL")[-1]
    check(pairs(out, "K01") == [("ADDTO", [(len(first) + 2, [new_uid])])] and
          pairs(out, "K02") == [("ADDTO", [(1, [n_all + 1])])], "SORT ADDTO at the end / start: %r" % out)
    # \Seen on the second in SUBJECT order: REMOVEFROM (2 uid).
    o.uid("STORE", str(first[0]), "+FLAGS", "(\\Seen)")
    out = w.cmd("K5 NOOP")
    check(pairs(out, "K01") == [("REMOVEFROM", [(2, [first[0]])])], "SORT REMOVEFROM position 2: %r" % out)
    # expunge of the first: REMOVEFROM (1 uid) before EXPUNGE
    aaa = uids_of(w, 'SUBJECT "aaa"')[0]
    seq = seqs_of(w, "UID %d" % aaa)[0]
    o.uid("STORE", str(aaa), "+FLAGS.SILENT", "(\\Deleted)")
    o.expunge()
    out = w.cmd("K6 NOOP")
    ex = index_of(out, r"\* %d EXPUNGE" % seq)
    check(ex >= 0 and pairs(out, "K01") == [("REMOVEFROM", [(1, [aaa])])] and pair_line(out, "K01") < ex and
          pairs(out, "K02") and pairs(out, "K02")[0][0] == "REMOVEFROM" and pair_line(out, "K02") < ex,
          "SORT REMOVEFROM before EXPUNGE: %r" % out)
    # PARTIAL in sort order
    allrev = sorted_all(esearch_of(w.cmd("K7 UID SORT RETURN (ALL) (REVERSE ARRIVAL) UTF-8 ALL"), "K7"))
    out = w.cmd("K8 UID SORT RETURN (PARTIAL 2:4 COUNT) (REVERSE ARRIVAL) UTF-8 ALL")
    m = re.fullmatch(r" UID COUNT (\d+) PARTIAL \(2:4 ([0-9:,]+)\)", esearch_of(out, "K8") or "")
    check(m and sorted_all(" ALL " + m.group(2)) == allrev[1:4], "SORT PARTIAL 2:4: %r want %r" % (out, allrev[1:4]))
    out = w.cmd("K9 SORT RETURN (PARTIAL 900:999) (ARRIVAL) UTF-8 ALL")
    check(esearch_of(out, "K9") == " PARTIAL (900:999 NIL)", "SORT PARTIAL beyond: %r" % out)
    for bad in ("PARTIAL 1:2 ALL", "PARTIAL 1:*", "PARTIAL 0:1"):
        out = w.cmd("K10 SORT RETURN (%s) (ARRIVAL) UTF-8 ALL" % bad)
        check(len(out) == 1 and out[0].startswith("K10 BAD"), "SORT RETURN (%s) BAD: %r" % (bad, out))
    out = w.cmd("K11 SORT RETURN (UPDATE COUNT) (ARRIVAL) UTF-8 1:4")
    check('* NO [NOUPDATE "K11"]' in " ".join(out) and out[-1].startswith("K11 OK"), "SORT NOUPDATE: %r" % out)
    w.cmd('K12 CANCELUPDATE "K01" "K02"')


def model_run(w, seed, rounds):
    """Random concurrent changes while the watcher IDLEs; the results kept
    from the updates alone must equal fresh searches."""
    rnd = random.Random(seed)
    crit = 'UNSEEN NOT SUBJECT "cold"'
    w.cmd("R0 UID STORE 1:* -FLAGS.SILENT (\\Seen \\Flagged)")
    out = w.cmd("RU UID SEARCH RETURN (UPDATE ALL) " + crit)
    m = re.search(r" ALL ([0-9:,]+)", esearch_of(out, "RU") or "")
    ures = set(expand(m.group(1))) if m else set()
    out = w.cmd("RS SEARCH RETURN (UPDATE ALL) " + crit)
    m = re.search(r" ALL ([0-9:,]+)", esearch_of(out, "RS") or "")
    sres = expand(m.group(1)) if m else []
    sortu = "(SUBJECT) UTF-8 " + crit
    sorts = "(REVERSE SUBJECT) UTF-8 " + crit
    kres = sorted_all(esearch_of(w.cmd("RK UID SORT RETURN (UPDATE ALL) " + sortu), "RK"))
    tres = sorted_all(esearch_of(w.cmd("RT SORT RETURN (UPDATE ALL) " + sorts), "RT"))
    o = other()
    n_upd = 0
    for r in range(rounds):
        w.idle_start("I%d" % r)
        for _ in range(rnd.randint(1, 6)):
            typ, dat = o.uid("SEARCH", "ALL")
            uids = [int(x) for x in dat[0].split()] if dat[0] else []
            act = rnd.random()
            if act < 0.2 or len(uids) < 4:
                if rnd.random() < 0.5:
                    deliver(rnd.choice(["hot", "warm", "cold"]) + " %d" % r)
                else:
                    o.append("INBOX", rnd.choice(["(\\Seen)", "()"]), None,
                             message(rnd.choice(["hot", "cold"]) + " a%d" % r))
            elif act < 0.3:
                deliver(rnd.choice(["aaa", "hot", "mmm", "zzz"]) + " %d" % rnd.randint(0, 99))
            elif act < 0.75:
                pick = ",".join(str(u) for u in rnd.sample(uids, min(len(uids), rnd.randint(1, 3))))
                o.uid("STORE", pick, rnd.choice(["+FLAGS", "-FLAGS"]), "(\\Seen)")
            else:
                u = rnd.choice(uids)
                o.uid("STORE", str(u), "+FLAGS.SILENT", "(\\Deleted)")
                o.expunge()
        got = w.idle_until(lambda ls: False, 0.3) + w.idle_done()
        # apply in order: EXPUNGE renumbers the message-number result
        for l in got:
            mex = re.match(r"\* (\d+) EXPUNGE", l)
            if mex:
                n = int(mex.group(1))
                check(n not in sres, "round %d: EXPUNGE %d still in the result (REMOVEFROM first)" % (r, n))
                sres = [x - 1 if x > n else x for x in sres if x != n]
                check(n not in tres, "round %d: EXPUNGE %d still in the sorted result" % (r, n))
                tres = [x - 1 if x > n else x for x in tres if x != n]
                continue
            for tag, lst in (("RK", kres), ("RT", tres)):
                for op, prs in pairs([l], tag):
                    for pos, vals in prs:
                        if op == "ADDTO":
                            check(1 <= pos <= len(lst) + 1, "round %d %s: ADDTO position %d of %d" % (r, tag, pos, len(lst)))
                            lst[pos - 1:pos - 1] = vals
                        else:
                            check(lst[pos - 1:pos - 1 + len(vals)] == vals,
                                  "round %d %s: REMOVEFROM (%d %r) but there: %r" % (r, tag, pos, vals, lst[pos - 1:pos - 1 + len(vals)]))
                            del lst[pos - 1:pos - 1 + len(vals)]
            for _, op, v in updates([l], "RU"):
                n_upd += 1
                if op == "ADDTO":
                    check(not (ures & set(v)), "round %d: ADDTO of a result member %r" % (r, v))
                    ures |= set(v)
                else:
                    check(set(v) <= ures, "round %d: REMOVEFROM of a non-member %r" % (r, v))
                    ures -= set(v)
            for _, op, v in updates([l], "RS"):
                if op == "ADDTO":
                    sres = sorted(set(sres) | set(v))
                else:
                    sres = [x for x in sres if x not in v]
        fresh_u, fresh_s = set(uids_of(w, crit)), seqs_of(w, crit)
        check(ures == fresh_u, "round %d: UID result %r != fresh %r" % (r, sorted(ures), sorted(fresh_u)))
        check(sres == fresh_s, "round %d: number result %r != fresh %r" % (r, sres, fresh_s))
        fk = sorted_all(esearch_of(w.cmd("FK UID SORT RETURN (ALL) " + sortu), "FK"))
        ft = sorted_all(esearch_of(w.cmd("FT SORT RETURN (ALL) " + sorts), "FT"))
        check(kres == fk, "round %d: UID SORT result %r != fresh %r" % (r, kres, fk))
        check(tres == ft, "round %d: SORT result %r != fresh %r" % (r, tres, ft))
        if FAILED:
            break
    check(n_upd >= rounds // 2, "the random run produced updates (%d)" % n_upd)
    o.logout()
    w.cmd('RX CANCELUPDATE "RU" "RS" "RK" "RT"')


if __name__ == "__main__":
    o = other()
    for i in range(10):
        o.append("INBOX", None, None, message(("hot m%d" if i in (2, 5, 7) else "cool m%d") % i))
    w = Raw()
    out = w.cmd("A0 CAPABILITY")
    check(" CONTEXT=SEARCH" in out[0] and " CONTEXT=SORT" in out[0], "capabilities: %r" % out[0])
    w.cmd("A1 SELECT INBOX")
    for fn in (lambda: partial(w), lambda: golden(w, o), lambda: model_run(w, 18, 40)):
        try:
            fn()
        except Exception as e:
            traceback.print_exc()
            check(False, "raised %r" % (e,))
    if FAILED:
        print("%d check(s) failed" % len(FAILED), file=sys.stderr)
        sys.exit(1)
    print("context: all checks passed")
