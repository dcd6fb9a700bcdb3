# The Python side of t-70: dkimpy and pyspf as the independent verifiers.
#   check.py sign      submit through alice, read the stored copy, verify it
#   check.py inbound   mail from 127.0.0.2 into bob's port 25, check verdicts
import base64, imaplib, os, re, smtplib, ssl, sys, time
import dkim, spf
import dns.resolver

T = os.environ["T"]
NSD, PROXY = int(os.environ["NSD_PORT"]), int(os.environ["PROXY"])

def resolver(port):
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = port
    r.lifetime = 5
    return r

def dnsfunc(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    try:
        a = resolver(NSD).resolve(name, "TXT")
    except Exception:
        return None
    return b"".join(b"".join(r.strings) for r in a)

def ctx():
    c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
    return c

def fetch(port, user, pw, subject, box="INBOX"):
    for _ in range(100):
        m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx())
        m.login(user, pw)
        m.select(box)
        typ, d = m.search(None, "SUBJECT", '"%s"' % subject)
        if d[0]:
            raw = m.fetch(d[0].split()[-1], "(BODY.PEEK[])")[1][0][1]
            m.logout()
            return raw
        m.logout()
        time.sleep(0.1)
    raise SystemExit("no message %r in %s of %s" % (subject, box, user))

def sign():
    s = smtplib.SMTP("127.0.0.1", int(os.environ["PA_SUB"]), timeout=20)
    s.starttls(context=ctx())
    s.login("alice@alice.test", "alice-pw")
    # no Date, no Message-ID: submission adds them before signing
    s.sendmail("alice@alice.test", ["carol@alice.test"],
               b"From: Alice <alice@alice.test>\r\nTo: carol@alice.test\r\n"
               b"Subject: signed by brev\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
               b"Hello Carol,\r\n\r\n  spaces  and\ttabs \r\n\r\n\r\n")
    s.quit()
    raw = fetch(int(os.environ["PA_IMAPS"]), "carol@alice.test", "carol-pw", "signed by brev")
    open(T + "/signed.eml", "wb").write(raw)
    hdr = raw.split(b"\r\n\r\n")[0]
    assert re.search(rb"\r\nDate: ", hdr), "no Date added"
    assert re.search(rb"\r\nMessage-ID: <[0-9A-Z]+@mx\.alice\.test>", hdr), "no Message-ID added"
    sigs = re.findall(rb"\r\nDKIM-Signature: v=1; a=([a-z0-9-]+)", hdr)
    assert sigs == [b"rsa-sha256", b"ed25519-sha256"], sigs
    assert b"h=from:subject:date:to:message-id:mime-version:content-type:from" in \
        re.sub(rb"\s", b"", hdr) or b"from" in hdr, hdr
    d = dkim.DKIM(raw)
    for i in range(2):
        assert d.verify(idx=i, dnsfunc=dnsfunc), "dkimpy rejects brev's signature %d" % i
    bad = raw.replace(b"Hello Carol", b"Hello Carl")
    try:
        ok = dkim.DKIM(bad).verify(idx=0, dnsfunc=dnsfunc)
    except dkim.ValidationError:
        ok = False
    assert not ok, "dkimpy accepts an altered body"
    print("dkimpy verifies both of brev's signatures (rsa-sha256, ed25519-sha256)")

def send(mail_from, data, rcpt="bob@bob.test", src="127.0.0.2"):
    s = smtplib.SMTP("127.0.0.3", int(os.environ["P25"]), timeout=30,
                     source_address=(src, 0))
    s.ehlo("mx.alice.test")
    try:
        s.sendmail(mail_from, [rcpt], data)
        code = 250
    except smtplib.SMTPDataError as e:
        code = e.smtp_code
        assert e.smtp_error.startswith(b"5.7.1"), e
    s.quit()
    return code

def verdicts(mail_from):
    """The auth summary bob logged for this envelope sender."""
    log = open(os.environ["DB"] + "/serve.log").read()
    m = re.findall(r"from=<%s> (spf=\S+ dkim=\S+ dmarc=\S+)" % re.escape(mail_from), log)
    assert m, "no auth line for %s" % mail_from
    return dict(kv.split("=") for kv in m[-1].split())

def msg(frm, subject, body=b"hi\r\n"):
    return (b"From: " + frm.encode() + b"\r\nTo: bob@bob.test\r\nSubject: " + subject.encode() +
            b"\r\nDate: Mon, 2 Jan 2006 15:04:05 +0000\r\nMessage-ID: <" + subject.encode() +
            b"@x.test>\r\n\r\n" + body)

def inbound():
    pb = int(os.environ["PB_IMAPS"])
    # alice's signed message, from alice's address: everything passes
    raw = open(T + "/signed.eml", "rb").read()
    assert send("alice@alice.test", raw) == 250
    got = fetch(pb, "bob@bob.test", "bob-pass", "signed by brev")
    ar = re.search(rb"\r\nAuthentication-Results: mx\.bob\.test;(.*?)\r\n(?=\S)", got, re.S)
    assert ar, got[:600]
    ar = re.sub(rb"\s+", b" ", ar.group(1)).decode()
    for want in ["spf=pass", "dkim=pass", "header.d=alice.test", "dmarc=pass", "header.from=alice.test"]:
        assert want in ar, (want, ar)
    print("bob: " + ar)

    # dkimpy-signed mail: RSA and Ed25519; altered copies fail
    rsa = open(T + "/dk-rsa.pem", "rb").read()
    ed = open(T + "/dk-ed.key", "rb").read()
    for alg, sel, key in (("rsa", b"rsa", rsa), ("ed", b"ed", ed)):
        for canon in ((b"relaxed", b"relaxed"), (b"simple", b"simple")):
            tag = "%s-%s" % (alg, canon[0].decode())
            m = msg("dk@dk.test", "dkimpy " + tag, b"Dear  Bob,\r\n\r\nbye\r\n")
            a = b"ed25519-sha256" if alg == "ed" else b"rsa-sha256"
            sig = dkim.sign(m, sel, b"dk.test", key, canonicalize=canon, signature_algorithm=a)
            frm = "good-%s@dk.test" % tag
            assert send(frm, sig + m) == 250
            v = verdicts(frm)
            assert v["dkim"] == "pass" and v["dmarc"] == "pass" and v["spf"] == "fail", (tag, v)
            # unaligned From (no DMARC record): the verdict is visible
            m2 = msg("x@dkn.test", "dkimpy-bad " + tag, b"Dear  Bob,\r\n\r\nbye\r\n")
            sig = dkim.sign(m2, sel, b"dk.test", key, canonicalize=canon, signature_algorithm=a)
            frm = "body-%s@dkn.test" % tag
            assert send(frm, sig + m2.replace(b"bye", b"BYE")) == 250
            assert verdicts(frm)["dkim"] == "fail", verdicts(frm)
            frm = "hdr-%s@dkn.test" % tag
            assert send(frm, sig + m2.replace(b"Subject: dkimpy", b"Subject: DKIMPY")) == 250
            assert verdicts(frm)["dkim"] == "fail", verdicts(frm)
            # aligned but altered: DMARC p=reject refuses it
            m3 = msg("dk@dk.test", "dkimpy-rej " + tag)
            sig = dkim.sign(m3, sel, b"dk.test", key, canonicalize=canon, signature_algorithm=a)
            assert send("rej-%s@dk.test" % tag, sig + m3 + b"more\r\n") == 550
    print("dkimpy RSA/Ed25519 simple/relaxed: pass; altered body or header: fail; DMARC reject")

    # SPF: brev's verdict equals pyspf's for each record
    dns.resolver.default_resolver = resolver(PROXY)
    cases = ["pass", "fail", "soft", "neutral", "nospf", "perm", "two", "inc", "incnone", "mxs",
             "cidr", "macro", "mac2", "redir", "loop", "void", "ip6", "servfail", "nothere"]
    seen = set()
    for c in cases:
        frm = "x@%s.test" % c
        code = send(frm, msg(frm, "spf " + c))
        assert code == 250, (c, code)
        ours = verdicts(frm)["spf"]
        theirs = spf.check2(i="127.0.0.2", s=frm, h="mx.alice.test")[0]
        assert ours == theirs, "SPF %s: brev %s, pyspf %s" % (c, ours, theirs)
        seen.add(ours)
        print("spf %-9s %s" % (c, ours))
    for want in ("pass", "fail", "softfail", "neutral", "none", "permerror", "temperror"):
        assert want in seen, want

    # DMARC policy
    assert send("x@rej.test", msg("x@rej.test", "dmarc reject")) == 550
    assert send("x@sub.orgp.test", msg("x@sub.orgp.test", "dmarc sp reject")) == 550
    assert send("x@quar.test", msg("x@quar.test", "dmarc quarantine")) == 250
    fetch(pb, "bob@bob.test", "bob-pass", "dmarc quarantine", box="Junk")
    print("dmarc: p=reject and sp=reject refused with 550 5.7.1, p=quarantine in Junk")

def authserv_id(value):
    """RFC 8601 2.2: the authserv-id of an Authentication-Results value,
    read here independently of brev: comments dropped, quotes undone."""
    v = re.sub(r"\s+", " ", value)
    while True:
        w = re.sub(r"\((?:[^()\\]|\\.)*\)", " ", v)
        if w == v:
            break
        v = w
    v = v.strip()
    m = re.match(r'"((?:[^"\\]|\\.)*)"', v)
    if m:
        return re.sub(r"\\(.)", r"\1", m.group(1)).lower()
    return re.split(r"[\s;]", v, 1)[0].lower()

def ar_fields(raw):
    hdr = raw.split(b"\r\n\r\n")[0].decode("latin-1")
    return [re.sub(r"\r\n[ \t]", " ", f).split(":", 1)[1]
            for f in re.findall(r"(?im)^Authentication-Results:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*", hdr)]

FORGED = [
    b"Authentication-Results: mx.bob.test; spf=pass smtp.mailfrom=x@rej.test; dkim=pass header.d=rej.test; dmarc=pass header.from=rej.test",
    b"authentication-results: MX.Bob.TEST; dmarc=pass header.from=rej.test",
    b"Authentication-Results: (from the border) mx.bob.test; dmarc=pass",
    b"Authentication-Results: mx.bob.test 1; dmarc=pass",
    b"Authentication-Results:\r\n\tmx.bob.test;\r\n\tdmarc=pass",
    b'Authentication-Results: "mx.bob.test"; dmarc=pass',
    b"Authentication-Results: mx.bob.test(c); dmarc=pass",
    # past the 4 KiB brev reads of a field to judge it: removed as well
    b"Authentication-Results: (" + b"\r\n\t".join([b"x" * 900] * 6) + b") mx.bob.test; dmarc=pass",
]
KEPT = [
    b"Authentication-Results: other.test; dmarc=pass header.from=other.test",
    b"Authentication-Results: mx.bob.test.other.test; spf=pass",
]

def forged(subject, frm):
    head = b"\r\n".join(FORGED[:4] + KEPT[:1] + FORGED[4:] + KEPT[1:]) + b"\r\n"
    return head + msg(frm, subject)

def promises():
    """docs/auth-mail.md's promises: forged A-R removed, the local client,
    DNS temperror never a permanent reject, pct=."""
    pb = int(os.environ["PB_IMAPS"])
    # 1. forged Authentication-Results claiming mx.bob.test, in every
    # spelling a reader of the field would take as bob's, are removed;
    # those of other hosts stay
    assert send("x@fail.test", forged("forged ar", "x@fail.test")) == 250
    ars = ar_fields(fetch(pb, "bob@bob.test", "bob-pass", "forged ar"))
    ids = [authserv_id(a) for a in ars]
    assert ids.count("mx.bob.test") == 1, ars
    assert "spf=fail" in ars[ids.index("mx.bob.test")], ars
    assert sorted(ids) == sorted(["mx.bob.test", "other.test", "mx.bob.test.other.test"]), ars
    print("forged Authentication-Results claiming mx.bob.test removed (%d spellings), 2 others kept"
          % len(FORGED))

    # ... also in a header section too large for the DKIM reader (over
    # 1,000 fields): and padding cannot dodge a p=reject policy either
    pad = b"".join(b"X-Pad-%d: %d\r\n" % (i, i) for i in range(1100))
    assert send("x@rej.test", FORGED[0] + b"\r\n" + pad + msg("x@rej.test", "padded ar")) == 250
    ars = ar_fields(fetch(pb, "bob@bob.test", "bob-pass", "padded ar", box="Junk"))
    assert [authserv_id(a) for a in ars] == ["mx.bob.test"], ars
    assert "dmarc=permerror (header too large)" in ars[0], ars
    print("1,100 more fields: forged field removed, dmarc=permerror, into Junk (not around p=reject)")

    # 2. the machine itself (127.0.0.1): not checked, even for a p=reject
    # domain, and forged fields go all the same
    assert send("x@rej.test", forged("local client", "x@rej.test"), src="127.0.0.1") == 250
    ars = ar_fields(fetch(pb, "bob@bob.test", "bob-pass", "local client"))
    ours = [a for a in ars if authserv_id(a) == "mx.bob.test"]
    assert [re.sub(r"\s+", " ", a).strip() for a in ours] == ["mx.bob.test; none (local client)"], ars
    # any other loopback address is a peer like any other
    assert send("x@rej.test", msg("x@rej.test", "not local"), src="127.0.0.4") == 550
    print("127.0.0.1: Authentication-Results: mx.bob.test; none (local client); 127.0.0.4 checked")

    # 3. DNS trouble never turns into a permanent DMARC reject: the SPF
    # record, the DMARC record or the DKIM key SERVFAILs or times out, and
    # each of these p=reject domains would fail DMARC with DNS working
    rsa = open(T + "/dk-rsa.pem", "rb").read()
    m = msg("x@dkt.test", "temperror dkt")
    cases = [("spfsf", msg("x@spfsf.test", "temperror spfsf")),
             ("dmsf", msg("x@dmsf.test", "temperror dmsf")),
             ("dkt", dkim.sign(m, b"sf", b"dkt.test", rsa) + m),
             ("spfto", msg("x@spfto.test", "temperror spfto")),
             ("dmto", msg("x@dmto.test", "temperror dmto"))]
    codes = {}
    def one(c, data):
        codes[c] = send("x@%s.test" % c, data)
    # the time-outs cost the resolver's timeout x tries each: in parallel
    import threading
    th = [threading.Thread(target=one, args=c) for c in cases]
    for t in th:
        t.start()
    for t in th:
        t.join()
    log = open(T + "/faults.log").read()
    for want in ("spfsf.test 16 servfail", "_dmarc.dmsf.test 16 servfail",
                 "sf._domainkey.dkt.test 16 servfail", "spfto.test 16 drop", "_dmarc.dmto.test 16 drop"):
        assert want in log, ("fault not met", want, log)
    for c, _ in cases:
        assert codes[c] == 250, ("DNS trouble gave a permanent reject", c, codes[c])
        v = verdicts("x@%s.test" % c)
        assert v["dmarc"] == "temperror", (c, v)
        fetch(pb, "bob@bob.test", "bob-pass", "temperror " + c)
    print("DNS SERVFAIL/time-out of SPF, _dmarc, DKIM key: dmarc=temperror, 250, INBOX (%s)"
          % ", ".join(c for c, _ in cases))

    # 4. pct= (RFC 7489 6.6.4): outside the sample the next weaker policy
    for i in range(3):
        assert send("x@pct0.test", msg("x@pct0.test", "pct0 %d" % i)) == 250
        fetch(pb, "bob@bob.test", "bob-pass", "pct0 %d" % i, box="Junk")
        assert send("x@pctq0.test", msg("x@pctq0.test", "pctq0 %d" % i)) == 250
        fetch(pb, "bob@bob.test", "bob-pass", "pctq0 %d" % i)
    # pct=50: both outcomes among 24 messages (all alike: p = 2^-23)
    got = [send("x@pct50.test", msg("x@pct50.test", "pct50 %02d" % i)) for i in range(24)]
    assert 250 in got and 550 in got, got
    for i, c in enumerate(got):
        if c == 250:
            fetch(pb, "bob@bob.test", "bob-pass", "pct50 %02d" % i, box="Junk")
    print("pct=0: reject -> Junk, quarantine -> INBOX; pct=50: %d of 24 refused, the rest in Junk"
          % got.count(550))

def noreject():
    """bob restarted with auth.dmarc_reject = no: p=reject failures into Junk."""
    pb = int(os.environ["PB_IMAPS"])
    assert send("x@rej.test", msg("x@rej.test", "noreject p")) == 250
    fetch(pb, "bob@bob.test", "bob-pass", "noreject p", box="Junk")
    assert send("x@sub.orgp.test", msg("x@sub.orgp.test", "noreject sp")) == 250
    fetch(pb, "bob@bob.test", "bob-pass", "noreject sp", box="Junk")
    log = open(os.environ["DB"] + "/serve.log").read()
    assert re.findall(r"from=<x@rej\.test> spf=\S+ dkim=\S+ dmarc=fail action=junk", log), \
        "no dmarc=fail action=junk for x@rej.test"
    print("auth.dmarc_reject = no: p=reject and sp=reject failures delivered into Junk")

{"sign": sign, "inbound": inbound, "promises": promises, "noreject": noreject}[sys.argv[1]]()
