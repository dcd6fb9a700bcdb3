#!/usr/bin/env python3
"""t-70's scripted DNS responder in front of nsd (UDP, 127.0.0.1):
  - SERVFAIL for servfail.test and every name under it, and for the names
    in SERVFAIL below;
  - no answer at all (the resolver times out) for the names in DROP;
  - everything else forwarded to nsd unchanged.
Each question is logged as "NAME TYPE ACTION" to LOG, so that the test can
show the fault was met. Usage: faults.py LISTEN_PORT NSD_PORT LOG"""
import socket, sys

SERVFAIL = {"spfsf.test", "_dmarc.dmsf.test", "sf._domainkey.dkt.test"}
DROP = {"spfto.test", "_dmarc.dmto.test"}

lp, up, logf = int(sys.argv[1]), int(sys.argv[2]), open(sys.argv[3], "a", buffering=1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", lp))

def question(p):
    i, labels = 12, []
    while i < len(p) and p[i]:
        labels.append(p[i + 1:i + 1 + p[i]].decode("ascii", "replace").lower())
        i += 1 + p[i]
    qtype = int.from_bytes(p[i + 1:i + 3], "big") if i + 3 <= len(p) else 0
    return ".".join(labels), qtype, i + 5

while True:
    p, peer = s.recvfrom(4096)
    if len(p) < 12:
        continue
    name, qtype, end = question(p)
    if name in DROP:
        logf.write("%s %d drop\n" % (name, qtype))
        continue
    if name in SERVFAIL or name == "servfail.test" or name.endswith(".servfail.test"):
        logf.write("%s %d servfail\n" % (name, qtype))
        # same id, QR=1, RD copied, RA=1, rcode 2; the question only
        r = p[:2] + bytes([0x80 | (p[2] & 0x01), 0x82]) + b"\x00\x01\x00\x00\x00\x00\x00\x00" + p[12:end]
        s.sendto(r, peer)
        continue
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(2)
    u.sendto(p, ("127.0.0.1", up))
    try:
        s.sendto(u.recv(4096), peer)
    except socket.timeout:
        pass
    u.close()
