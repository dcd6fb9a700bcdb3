"""marionette.py — the smallest Marionette client the Thunderbird test needs.

Marionette (Mozilla's remote protocol, enabled by `--marionette`) frames
every message as `LENGTH:JSON`. The server speaks first with a handshake
object; a command is [0, id, name, params] and its answer [1, id, error,
result]. Scripts run in the chrome context, where Thunderbird's own
services (MailServices, Services.logins, ...) are reachable.
"""
import json
import socket
import time


class Marionette:
    def __init__(self, port, deadline):
        # Thunderbird opens the port a few seconds after it starts.
        while True:
            try:
                self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("Marionette port %d never opened" % port)
                time.sleep(0.2)
        self.s.settimeout(None)
        self.buf = b""
        self.id = 0
        hello = self._read()
        if hello.get("marionetteProtocol") != 3:
            raise RuntimeError("unexpected Marionette handshake %r" % hello)
        self.cmd("WebDriver:NewSession", {"capabilities": {}})
        self.cmd("Marionette:SetContext", {"value": "chrome"})

    def _read(self):
        while b":" not in self.buf:
            self._more()
        n, _, rest = self.buf.partition(b":")
        n = int(n)
        self.buf = rest
        while len(self.buf) < n:
            self._more()
        msg, self.buf = self.buf[:n], self.buf[n:]
        return json.loads(msg)

    def _more(self):
        b = self.s.recv(65536)
        if not b:
            raise RuntimeError("Marionette connection closed")
        self.buf += b

    def cmd(self, name, params):
        self.id += 1
        data = json.dumps([0, self.id, name, params]).encode()
        self.s.sendall(b"%d:" % len(data) + data)
        while True:
            m = self._read()
            if m[0] == 1 and m[1] == self.id:
                break
        if m[2]:
            raise RuntimeError("%s: %s" % (name, m[2].get("message", m[2])))
        return m[3]

    def run(self, body, args=(), timeout_s=30):
        """Run the async JS function body `body` (it may await; its return
        value is the result) with `args` as `args`, bounded by timeout_s."""
        script = (
            "const [args, done] = [arguments[0], arguments[arguments.length - 1]];\n"
            "(async () => {\n" + body + "\n})().then(r => done({ok: r}), "
            "e => done({err: String(e) + '\\n' + (e && e.stack || '')}));"
        )
        self.cmd("WebDriver:SetTimeouts", {"script": timeout_s * 1000})
        self.s.settimeout(timeout_s + 10)
        r = self.cmd("WebDriver:ExecuteAsyncScript", {"script": script, "args": [list(args)]})
        self.s.settimeout(None)
        v = r.get("value") if isinstance(r, dict) else r
        if isinstance(v, dict) and "err" in v:
            raise RuntimeError("script failed: " + v["err"])
        if not isinstance(v, dict) or "ok" not in v:
            # Marionette ended the script itself, e.g. when it dismissed a
            # modal dialog (Thunderbird's "copy was not placed in Sent")
            raise RuntimeError("script did not complete: %r" % (r,))
        return v["ok"]

    def quit(self):
        try:
            self.cmd("Marionette:Quit", {"flags": ["eForceQuit"]})
        except (RuntimeError, OSError):
            pass
