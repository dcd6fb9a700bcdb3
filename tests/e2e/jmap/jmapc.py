"""The small JMAP client the t-19-jmap-* tests share: HTTP Basic for a test
user, a POST to /jmap/api/ and the session resource, over Python's own
http.client (an independent client, not brev code). A test puts this
directory on PYTHONPATH:

    PYTHONPATH="$ROOT/tests/e2e/jmap" python3 -u - ... <<'PY'

Users are the tests' convention: WHO@example.test with password-WHO.
"""
import base64
import http.client
import json

CORE, MAIL = "urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"


def auth(who="alice"):
    """The Authorization header value for WHO@example.test."""
    cred = "%s@example.test:password-%s" % (who, who)
    return "Basic " + base64.b64encode(cred.encode()).decode()


class Jmap:
    def __init__(self, port, who="alice"):
        self.port, self.auth = port, auth(who)

    def api(self, calls, using=(CORE, MAIL)):
        """POST one request to /jmap/api/; asserts 200, gives methodResponses.
        The connection is closed: each one counts in limits.connections."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request("POST", "/jmap/api/", json.dumps({"using": list(using), "methodCalls": calls}),
                  {"Authorization": self.auth, "Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        assert r.status == 200, (r.status, data)
        return json.loads(data)["methodResponses"]

    def session(self):
        """The session resource (GET /.well-known/jmap) as a dict."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request("GET", "/.well-known/jmap", headers={"Authorization": self.auth})
        s = json.loads(c.getresponse().read())
        c.close()
        return s

    def account(self):
        """The primary mail account's id."""
        return self.session()["primaryAccounts"][MAIL]
