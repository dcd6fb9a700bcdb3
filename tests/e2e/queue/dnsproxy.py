#!/usr/bin/env python3
"""A scripted DNS responder in front of nsd: answers SERVFAIL for names
under servfail.test, forwards everything else to nsd unchanged.
Usage: dnsproxy.py LISTEN_PORT NSD_PORT (127.0.0.1, UDP only)."""
import socket, sys

lp, up = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", lp))

def qname(p):
    i, labels = 12, []
    while i < len(p) and p[i]:
        labels.append(p[i + 1:i + 1 + p[i]].decode("ascii", "replace").lower())
        i += 1 + p[i]
    return ".".join(labels), i + 5

while True:
    p, peer = s.recvfrom(4096)
    if len(p) < 12:
        continue
    name, end = qname(p)
    if name == "servfail.test" or name.endswith(".servfail.test"):
        # header: same id, QR=1, RD copied, RA=1, rcode 2; the question only
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
