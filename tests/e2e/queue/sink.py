#!/usr/bin/env python3
"""A scripted SMTP receiver for the outbound-queue tests (raw sockets, no
smtplib). Listens on ADDR:PORT and stores each accepted message as
OUT/<n>.eml with the envelope in OUT/<n>.env. The recipient's local part
drives the answer:
  tempfail*  451 4.3.0 the first time that address is seen, then 250
  defer*     451 4.3.0 every time
  reject*    550 5.1.1 no such user
  anything else 250
Options: --no-utf8 (no SMTPUTF8 in EHLO), --no-pipelining."""
import argparse, os, socketserver, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("addr"); ap.add_argument("port", type=int); ap.add_argument("out")
ap.add_argument("--no-utf8", action="store_true")
ap.add_argument("--no-pipelining", action="store_true")
args = ap.parse_args()
os.makedirs(args.out, exist_ok=True)
lock = threading.Lock()
seen = {}
count = [0]

class H(socketserver.StreamRequestHandler):
    def send(self, s):
        self.wfile.write(s.encode() + b"\r\n")
        self.wfile.flush()
    def handle(self):
        self.send("220 sink.test ESMTP scripted")
        frm, rcpts = None, []
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            cmd = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                ext = ["8BITMIME", "SIZE 10000000", "ENHANCEDSTATUSCODES"]
                if not args.no_pipelining: ext.append("PIPELINING")
                if not args.no_utf8: ext.append("SMTPUTF8")
                self.wfile.write(("250-sink.test\r\n" + "".join(
                    ("250-" if i < len(ext) - 1 else "250 ") + e + "\r\n"
                    for i, e in enumerate(ext))).encode())
                self.wfile.flush()
            elif verb == "HELO":
                self.send("250 sink.test")
            elif verb == "MAIL":
                frm, rcpts = cmd[10:].split(">")[0].lstrip("<"), []
                self.send("250 2.1.0 ok")
            elif verb == "RCPT":
                r = cmd[8:].split(">")[0].lstrip("<")
                local = r.split("@")[0]
                with lock:
                    n = seen.get(r, 0); seen[r] = n + 1
                # one line per RCPT with the time it came (retry schedules)
                print("rcpt %s %.3f" % (r, time.time()), flush=True)
                if local.startswith("defer"):
                    self.send("451 4.3.0 not now")
                elif local.startswith("tempfail") and n == 0:
                    self.send("451 4.3.0 try again later")
                elif local.startswith("reject"):
                    self.send("550 5.1.1 <%s>: no such user here" % r)
                else:
                    rcpts.append(r); self.send("250 2.1.5 ok")
            elif verb == "DATA":
                if not rcpts:
                    self.send("554 5.5.1 no valid recipients"); continue
                self.send("354 go ahead")
                data = b""
                while True:
                    l = self.rfile.readline(100000)
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
                self.send("250 2.0.0 ok: queued as %d" % n)
            elif verb == "RSET":
                frm, rcpts = None, []; self.send("250 2.0.0 ok")
            elif verb == "QUIT":
                self.send("221 2.0.0 bye"); return
            else:
                self.send("502 5.5.2 unknown command")

class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
S((args.addr, args.port), H).serve_forever()
