#!/usr/bin/env python3
"""A scripted smarthost for the relay tests (t-57, t-58, t-59): raw sockets
and Python's ssl module (OpenSSL), no smtplib, so nothing of brev's is on
this side. Listens on ADDR:PORT; writes every line it receives, and what it
answered, to TRANSCRIPT (client lines prefixed "C: ", ours "S: ", and a line
"-- tls" when the connection turned to TLS), and each accepted message to
OUT/<n>.eml with OUT/<n>.env holding the MAIL line, then each RCPT address.

Options:
  --tls none|starttls|implicit   (default starttls; needs --cert/--key)
  --auth "PLAIN LOGIN"           mechanisms announced (after TLS when TLS
                                 is on, as real servers do); "" = no AUTH
  --user U --password P          the only login accepted
  --size N                       announce SIZE N (0: no SIZE keyword)
  --no-8bitmime                  do not announce 8BITMIME
  --refuse-starttls              announce STARTTLS, answer it with 454 (use
                                 with --tls none)
  --broken-tls                   answer STARTTLS with 220, then send bytes
                                 that are not TLS and close
  --delay-data SECS              wait this long before answering the data
  --hang                         accept, then never say a word (until the
                                 client closes)
Each connection is logged as "-- open N" with N the connections open at
that moment (the per-host connection cap). A connection stops counting when
its QUIT arrives, before the 221 goes out: the client cannot open its next
connection before it has that answer, so N never counts one that is
closing.
A MAIL without a successful AUTH (when --auth is set) gets 530."""
import argparse, base64, os, socket, ssl, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("addr"); ap.add_argument("port", type=int); ap.add_argument("out")
ap.add_argument("--transcript", required=True)
ap.add_argument("--tls", default="starttls", choices=["none", "starttls", "implicit"])
ap.add_argument("--cert"); ap.add_argument("--key")
ap.add_argument("--auth", default="PLAIN LOGIN")
ap.add_argument("--user", default="carol"); ap.add_argument("--password", default="relay-secret")
ap.add_argument("--size", type=int, default=10000000)
ap.add_argument("--no-8bitmime", action="store_true")
ap.add_argument("--broken-tls", action="store_true")
ap.add_argument("--refuse-starttls", action="store_true")
ap.add_argument("--hang", action="store_true")
ap.add_argument("--delay-data", type=float, default=0)
args = ap.parse_args()
os.makedirs(args.out, exist_ok=True)
lock = threading.Lock()
count = [0]
conns = [0]

ctx = None
if args.tls != "none":
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)


def log(s):
    with lock, open(args.transcript, "a") as f:
        f.write(s + "\n")


class Session:
    def __init__(self, sock):
        self.sock = sock
        self.f = sock.makefile("rb")
        self.tls = False
        self.authed = False
        self.counted = True

    def send(self, s):
        for l in s.split("\r\n"):
            log("S: " + l)
        self.sock.sendall(s.encode() + b"\r\n")

    def line(self, limit=4096):
        l = self.f.readline(limit)
        if not l:
            return None
        t = l.decode("utf-8", "replace").rstrip("\r\n")
        log("C: " + t)
        return t

    def starttls(self):
        self.f.close()
        self.sock = ctx.wrap_socket(self.sock, server_side=True)
        self.f = self.sock.makefile("rb")
        self.tls = True
        log("-- tls")

    def ehlo(self):
        ext = ["ENHANCEDSTATUSCODES", "PIPELINING"]
        if not args.no_8bitmime:
            ext.append("8BITMIME")
        if args.size:
            ext.append("SIZE %d" % args.size)
        if (args.tls == "starttls" or args.refuse_starttls) and not self.tls:
            ext.append("STARTTLS")
        if args.auth and (self.tls or args.tls == "none"):
            ext.append("AUTH " + args.auth)
        self.send("250-relay.test\r\n" + "\r\n".join(
            ("250-" if i < len(ext) - 1 else "250 ") + e for i, e in enumerate(ext)))

    def login_ok(self, user, pw):
        if user == args.user and pw == args.password:
            self.authed = True
            self.send("235 2.7.0 authenticated")
        else:
            self.send("535 5.7.8 bad credentials")

    def run(self):
        if args.hang:
            self.f.read()
            return
        if args.tls == "implicit":
            self.starttls()
        self.send("220 relay.test ESMTP scripted smarthost")
        frm, rcpts = None, []
        while True:
            cmd = self.line()
            if cmd is None:
                return
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.ehlo()
            elif verb == "HELO":
                self.send("250 relay.test")
            elif verb == "STARTTLS" and args.refuse_starttls:
                self.send("454 4.7.0 TLS not available now")
            elif verb == "STARTTLS" and args.tls == "starttls" and not self.tls:
                self.send("220 2.0.0 go ahead")
                if args.broken_tls:
                    self.sock.sendall(b"this is not a TLS record\r\n" * 8)
                    log("-- broke tls")
                    return
                self.starttls()
            elif verb == "AUTH" and args.auth:
                parts = cmd.split(" ")
                mech = parts[1].upper() if len(parts) > 1 else ""
                if mech not in args.auth.upper().split():
                    self.send("504 5.5.4 mechanism not offered")
                elif mech == "PLAIN":
                    if len(parts) > 2:
                        raw = parts[2]
                    else:
                        self.send("334 ")
                        raw = self.line()
                    f = base64.b64decode(raw).split(b"\0")
                    self.login_ok(f[1].decode(), f[2].decode())
                else:
                    self.send("334 VXNlcm5hbWU6")
                    u = base64.b64decode(self.line()).decode()
                    self.send("334 UGFzc3dvcmQ6")
                    p = base64.b64decode(self.line()).decode()
                    self.login_ok(u, p)
            elif verb == "MAIL":
                if args.auth and not self.authed:
                    self.send("530 5.7.0 authentication required"); continue
                frm, rcpts = cmd, []
                self.send("250 2.1.0 ok")
            elif verb == "RCPT":
                if frm is None:
                    self.send("503 5.5.1 MAIL first"); continue
                rcpts.append(cmd[8:].split(">")[0].lstrip("<"))
                self.send("250 2.1.5 ok")
            elif verb == "DATA":
                if not rcpts:
                    self.send("554 5.5.1 no valid recipients"); continue
                self.send("354 go ahead")
                data = b""
                while True:
                    l = self.f.readline(100000)
                    if not l:
                        return
                    if l == b".\r\n":
                        break
                    if l.startswith(b"."):
                        l = l[1:]
                    data += l
                with lock:
                    count[0] += 1; n = count[0]
                with open(os.path.join(args.out, "%d.env" % n), "w") as f:
                    f.write(frm + "\n" + "\n".join(rcpts) + "\n")
                with open(os.path.join(args.out, "%d.eml" % n), "wb") as f:
                    f.write(data)
                log("-- message %d, %d bytes" % (n, len(data)))
                time.sleep(args.delay_data)
                self.send("250 2.0.0 ok: queued as %d" % n)
                frm, rcpts = None, []
            elif verb == "RSET":
                frm, rcpts = None, []
                self.send("250 2.0.0 ok")
            elif verb == "NOOP":
                self.send("250 2.0.0 ok")
            elif verb == "QUIT":
                uncount(self)
                self.send("221 2.0.0 bye")
                return
            else:
                self.send("502 5.5.2 not implemented")


def uncount(sess):
    with lock:
        if sess.counted:
            sess.counted = False
            conns[0] -= 1


def serve(conn):
    with lock:
        conns[0] += 1
        n = conns[0]
    log("-- open %d" % n)
    sess = Session(conn)
    try:
        sess.run()
    except (OSError, ssl.SSLError, ValueError, IndexError) as e:
        log("-- error: %s" % e)
    finally:
        uncount(sess)
        conn.close()


fam = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
ls = socket.socket(fam, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((args.addr, args.port))
ls.listen(16)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
