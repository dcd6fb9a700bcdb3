# Keys for dkimpy's signatures (d=dk.test): RSA-2048 as PEM, Ed25519 as the
# raw base64 dkimpy wants; their DNS records to T/dk.records.
import base64, subprocess, sys
from nacl.signing import SigningKey
t = sys.argv[1]
subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                "-out", t + "/dk-rsa.pem"], check=True, capture_output=True)
pub = subprocess.run(["openssl", "pkey", "-in", t + "/dk-rsa.pem", "-pubout", "-outform", "DER"],
                     check=True, capture_output=True).stdout
sk = SigningKey.generate()
open(t + "/dk-ed.key", "wb").write(base64.b64encode(bytes(sk)))
p = base64.b64encode(pub).decode()
chunks = " ".join('"%s"' % p[i:i + 200] for i in range(0, len(p), 200))
with open(t + "/dk.records", "w") as f:
    f.write('rsa._domainkey.dk.test. 60 IN TXT "v=DKIM1; k=rsa; p=" %s\n' % chunks)
    f.write('ed._domainkey.dk.test. 60 IN TXT "v=DKIM1; k=ed25519; p=%s"\n'
            % base64.b64encode(bytes(sk.verify_key)).decode())
