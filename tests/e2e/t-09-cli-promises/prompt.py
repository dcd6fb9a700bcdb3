# `brev user add` on a terminal (python's pty module is the terminal):
#   prompt.py BREV DATADIR ADDRESS PW1 PW2
# waits for "New password: ", types PW1, waits for "Again: ", types PW2,
# then prints what the terminal showed after the prompts and exits with
# brev's status. A password typed must never be echoed.
import os, pty, select, sys, time

brev, d, addr, pw1, pw2 = sys.argv[1:6]
pid, fd = pty.fork()
if pid == 0:
    os.execv(brev, [brev, "-d", d, "user", "add", addr])

seen = b""
def until(text, limit=20):
    global seen
    end = time.time() + limit
    while text not in seen:
        r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if not r:
            sys.exit("no %r on the terminal; it showed %r" % (text, seen))
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            sys.exit("terminal closed before %r; it showed %r" % (text, seen))
        if not chunk:
            sys.exit("terminal closed before %r; it showed %r" % (text, seen))
        seen += chunk

until(b"New password: ")
os.write(fd, pw1.encode() + b"\n")
until(b"Again: ")
os.write(fd, pw2.encode() + b"\n")
# the rest, until brev closes the terminal
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
_, status = os.waitpid(pid, 0)
if pw1.encode() in seen or pw2.encode() in seen:
    sys.exit("a password was echoed: %r" % seen)
sys.stdout.write(seen.decode("utf-8", "replace").replace("\r", ""))
sys.exit(os.waitstatus_to_exitcode(status))
