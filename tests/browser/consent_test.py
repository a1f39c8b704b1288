"""Headless Chromium signs in on the consent page, approves, and the exchange returns a working token.

Speaks the W3C WebDriver protocol to chromedriver with the standard library only. Prints the plain
'N passed, N failed' closing line.
"""
import json
import sys
import urllib.error
import urllib.request

REGISTRY, DRIVER, SHOTS = sys.argv[1], sys.argv[2], sys.argv[3]


def call(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class Browser:
    def __init__(self):
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--window-size=1100,900"]}}}}
        status, v = call("POST", f"{DRIVER}/session", caps)
        assert status == 200, v
        self.sid = v["value"]["sessionId"]

    def cmd(self, method, path, body=None):
        status, v = call(method, f"{DRIVER}/session/{self.sid}{path}", body)
        assert status == 200, (path, v)
        return v["value"]

    def go(self, url):
        self.cmd("POST", "/url", {"url": url})

    def find(self, css):
        v = self.cmd("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(v.values()))

    def type(self, css, text):
        self.cmd("POST", f"/element/{self.find(css)}/value", {"text": text})

    def click(self, css):
        self.cmd("POST", f"/element/{self.find(css)}/click", {})

    def text(self):
        return self.cmd("POST", "/execute/sync", {"script": "return document.body.innerText;", "args": []})

    def wait_text(self, needle, timeout=10.0):
        """The page text once it contains `needle` (a form submit may return before the next page has
        loaded), or the last text seen after `timeout` seconds."""
        import time
        deadline = time.monotonic() + timeout
        body = self.text()
        while needle not in body and time.monotonic() < deadline:
            time.sleep(0.05)
            body = self.text()
        return body

    def screenshot(self, name):
        import base64
        png = base64.b64decode(self.cmd("GET", "/screenshot"))
        with open(f"{SHOTS}/{name}.png", "wb") as f:
            f.write(png)

    def quit(self):
        call("DELETE", f"{DRIVER}/session/{self.sid}")


passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


b = Browser()
try:
    status, start = call("POST", f"{REGISTRY}/api/v1/cli-auth/start", {"state": "browser-test-state", "deviceName": "CI laptop"})
    check("start", status == 200, start)
    b.go(start["authUrl"])
    body = b.wait_text("Reported by the device")
    check("sign-in form shown", "Reported by the device: CI laptop" in body, body)
    b.type("#login", "alice")
    b.type("#password", "correct horse battery")
    b.screenshot("consent-sign-in")
    b.click("button[type=submit]")
    body = b.wait_text("Approve CLI sign-in")
    check("consent page shown", "Approve CLI sign-in" in body and "Signed in as alice" in body, body)
    check("consent warning", "Approve only if you ran tank login yourself" in body, body)
    b.screenshot("consent")
    pending = call("POST", f"{REGISTRY}/api/v1/cli-auth/exchange", {"sessionCode": start["sessionCode"], "state": "browser-test-state"})
    check("exchange pending", pending[0] == 400 and pending[1]["error"] == "AUTHORIZATION_PENDING", pending)
    # The Approve button is the second form's button (Deny comes first).
    b.click("form:nth-of-type(2) button")
    body = b.wait_text("Approved")
    check("approved page", "Approved — you can close this window" in body, body)
    b.screenshot("consent-approved")
    status, ex = call("POST", f"{REGISTRY}/api/v1/cli-auth/exchange", {"sessionCode": start["sessionCode"], "state": "browser-test-state"})
    check("exchange returns a token", status == 200 and ex["token"].startswith("tank_"), ex)
    status, me = call("GET", f"{REGISTRY}/api/v1/auth/whoami", headers={"Authorization": f"Bearer {ex['token']}"})
    check("token works on whoami", status == 200 and me["name"] == "alice", me)
    status, again = call("POST", f"{REGISTRY}/api/v1/cli-auth/exchange", {"sessionCode": start["sessionCode"], "state": "browser-test-state"})
    check("exchange is single use", status == 400 and again["error"] == "INVALID_SESSION", again)
    # The tokens page of the signed-in browser lists the CLI token.
    b.go(f"{REGISTRY}/account/tokens")
    body = b.wait_text("CLI login")
    check("tokens page lists the CLI token", "CLI login: CI laptop" in body, body)
    b.type("#label", "deploy key")
    b.click("form[action='/account/tokens'] button")
    body = b.wait_text("shown only once")
    check("new token shown once", "shown only once" in body, body)
    b.screenshot("tokens")
finally:
    b.quit()

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
