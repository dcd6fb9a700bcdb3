"""smtplib against brev: STARTTLS with certificate verification on the MX
port, each AUTH mechanism on submission (SCRAM-SHA-256 by hand, RFC 5802 /
RFC 7677), SMTPUTF8 with a UTF-8 address."""
import base64
import hashlib
import hmac
import os
import smtplib
import ssl

D = os.environ["D"]
P_SMTP = int(os.environ["P_SMTP"])
P_SUB = int(os.environ["P_SUB"])
CTX = ssl.create_default_context(cafile=os.path.join(D, "cert.pem"))


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def msg(frm, to, subject):
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n")


def mx_tls():
    with smtplib.SMTP("localhost", P_SMTP, "client.test", timeout=20) as s:
        s.ehlo()
        assert s.has_extn("starttls") and not s.has_extn("auth"), s.esmtp_features
        for k in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes", "chunking"):
            assert s.has_extn(k), k
        s.starttls(context=CTX)
        s.ehlo()
        assert not s.has_extn("starttls")
        s.sendmail("x@remote.test", ["alice@example.test"],
                   msg("x@remote.test", "alice@example.test", "py-mx-tls"))
        # unknown user and relay are refused, per recipient
        try:
            s.sendmail("x@remote.test", ["nobody@example.test"], "Subject: n\r\n\r\nx\r\n")
            raise AssertionError("unknown user accepted")
        except smtplib.SMTPRecipientsRefused as e:
            code, text = e.recipients["nobody@example.test"]
            assert code == 550 and text.startswith(b"5.1.1"), (code, text)
        try:
            s.sendmail("x@remote.test", ["x@remote.test"], "Subject: r\r\n\r\nx\r\n")
            raise AssertionError("relay accepted")
        except smtplib.SMTPRecipientsRefused as e:
            code, text = e.recipients["x@remote.test"]
            assert code == 554 and b"Relay access denied" in text, (code, text)


def utf8():
    with smtplib.SMTP("localhost", P_SMTP, "client.test", timeout=20) as s:
        s.starttls(context=CTX)
        s.ehlo()
        body = ("From: jörg@remote.test\r\nTo: jörg@example.test\r\nSubject: py-utf8\r\n"
                "\r\nGrüße\r\n").encode()
        s.sendmail("jörg@remote.test", ["jörg@example.test"], body,
                   mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        # without SMTPUTF8 the same address is refused
        s.command_encoding = "utf-8"
        code, text = s.docmd("MAIL", "FROM:<jörg@remote.test>")
        assert code == 553 and text.startswith(b"5.6.7"), (code, text)


def submission(mech):
    with smtplib.SMTP("localhost", P_SUB, "client.test", timeout=20) as s:
        s.ehlo()
        # loopback: AUTH offered before TLS, with PLAIN
        assert "PLAIN" in s.esmtp_features.get("auth", ""), s.esmtp_features
        s.starttls(context=CTX)
        s.ehlo()
        mechs = s.esmtp_features["auth"].split()
        assert set(["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"]) <= set(mechs), mechs
        s.user, s.password = "alice@example.test", "alice-pw"
        if mech == "PLAIN":
            s.auth("PLAIN", s.auth_plain)
        elif mech == "LOGIN":
            s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        elif mech == "CRAM-MD5":
            s.auth("CRAM-MD5", s.auth_cram_md5)
        else:
            scram(s, "alice@example.test", "alice-pw")
        s.sendmail("alice@example.test", ["bob@example.test"],
                   msg("alice@example.test", "bob@example.test", "py-" + mech))


def scram_proof(s, user, pw):
    """SCRAM-SHA-256 up to the client's proof for pw: the server's reply to
    it, and the server-final message a server that knows pw would send."""
    nonce = b64(os.urandom(18))
    cfb = f"n={user},r={nonce}"
    code, resp = s.docmd("AUTH", "SCRAM-SHA-256 " + b64("n,," + cfb))
    assert code == 334, (code, resp)
    sf = base64.b64decode(resp).decode()
    attrs = dict(kv.split("=", 1) for kv in sf.split(","))
    r, salt, it = attrs["r"], base64.b64decode(attrs["s"]), int(attrs["i"])
    assert r.startswith(nonce) and len(r) > len(nonce)
    salted = hashlib.pbkdf2_hmac("sha256", pw.encode(), salt, it)
    ckey = hmac.new(salted, b"Client Key", "sha256").digest()
    stored = hashlib.sha256(ckey).digest()
    cfwp = f"c=biws,r={r}"
    am = f"{cfb},{sf},{cfwp}".encode()
    proof = bytes(a ^ b for a, b in zip(ckey, hmac.new(stored, am, "sha256").digest()))
    code, resp = s.docmd(b64(cfwp + ",p=" + b64(proof)))
    skey = hmac.new(salted, b"Server Key", "sha256").digest()
    return code, resp, "v=" + b64(hmac.new(skey, am, "sha256").digest())


def scram(s, user, pw):
    code, resp, want = scram_proof(s, user, pw)
    assert code == 334, (code, resp)
    assert base64.b64decode(resp).decode() == want, "server signature"
    code, resp = s.docmd("")
    assert code == 235 and resp.startswith(b"2.7.0"), (code, resp)


def bad_scram():
    """A wrong proof gets 535 5.7.8 in answer to the client-final message,
    never a server-final message, and the session stays unauthenticated."""
    with smtplib.SMTP("localhost", P_SUB, "client.test", timeout=20) as s:
        s.starttls(context=CTX)
        s.ehlo()
        code, resp, _ = scram_proof(s, "alice@example.test", "wrong")
        assert code == 535 and resp.startswith(b"5.7.8"), ("wrong SCRAM proof", code, resp)
        code, resp = s.docmd("MAIL", "FROM:<alice@example.test>")
        assert code == 530, ("MAIL after a failed SCRAM", code, resp)


mx_tls()
utf8()
for m in ("PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"):
    submission(m)
bad_scram()
print("smtplib ok")
