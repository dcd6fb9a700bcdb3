# dkimpy verifies brev's signatures with the records `brev dkim new` printed:
#   dkim.py MESSAGE RECORDS SELECTOR
import re, sys
import dkim

raw = open(sys.argv[1], "rb").read()
recs = {}
for line in open(sys.argv[2]):
    m = re.match(r"(\S+)\.\t\d+\tIN\tTXT\t(.*)$", line.rstrip("\n"))
    if m:
        recs[m.group(1).lower()] = "".join(re.findall(r'"([^"]*)"', m.group(2))).encode()
sel = sys.argv[3]
hdr = raw.split(b"\r\n\r\n")[0]
got = re.findall(rb"\r\nDKIM-Signature:[^\r]*(?:\r\n[ \t][^\r]*)*", b"\r\n" + hdr)
sels = [re.search(rb"\bs=([^;\s]+)", re.sub(rb"\s+", b"", s)).group(1).decode() for s in got]
assert sels == [sel, sel + "-ed"], ("signed with", sels, "want", sel)

def dnsfunc(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    return recs.get(name.rstrip(".").lower())

d = dkim.DKIM(raw)
for i in range(2):
    assert d.verify(idx=i, dnsfunc=dnsfunc), "signature %d (%s) does not verify" % (i, sels[i])
print("dkimpy verifies s=%s and s=%s-ed with the printed records" % (sel, sel))
