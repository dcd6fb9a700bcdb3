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

def send(mail_from, data, rcpt="bob@bob.test"):
    s = smtplib.SMTP("127.0.0.3", int(os.environ["P25"]), timeout=30,
                     source_address=("127.0.0.2", 0))
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

{"sign": sign, "inbound": inbound}[sys.argv[1]]()
