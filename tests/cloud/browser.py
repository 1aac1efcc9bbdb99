"""A real headless Chromium for page tests, driven over the Chrome DevTools Protocol
with the `websockets` client the project already pins (no browser-automation
package). Enough for our pages: a phone viewport, Accept-Language, navigate and wait
for the load, evaluate JavaScript, click at an element's position like a finger
would, collect Content-Security-Policy violations, take a screenshot.

Chromium comes from the Debian package `chromium` (.ci/run installs it). Must never
leave the browser process running: `close()` (the fixture's teardown) ends it.
"""
import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request

from websockets.sync.client import connect

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
# injected before any page script (DevTools scripts are not subject to the page's CSP)
CSP_PROBE = ("window.__csp = []; document.addEventListener('securitypolicyviolation', "
             "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")


def executable():
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


class Chromium:
    def __init__(self, profile_dir, timeout=30):
        exe = executable()
        if exe is None:
            raise FileNotFoundError("chromium is not installed")
        args = [exe, "--headless=new", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--disable-sync",
                "--disable-dev-shm-usage", "--remote-debugging-port=0", "--user-data-dir=%s" % profile_dir,
                "about:blank"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.events = []
        self._ids = itertools.count(1)
        port_file = os.path.join(profile_dir, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while not _read(port_file):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        port = int(_read(port_file).split()[0])
        with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=timeout) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        self.ws = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=timeout)
        for domain in ("Page", "Runtime", "Network", "Log", "DOM"):
            self.call(domain + ".enable")
        self.call("Page.addScriptToEvaluateOnNewDocument", source=CSP_PROBE)

    def call(self, method, timeout=30, **params):
        msg_id = next(self._ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, name, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev.get("method") == name:
                    return self.events.pop(i)
            msg = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            self.events.append(msg)

    # -- what a test does ----------------------------------------------------------

    def phone(self, accept_language="zh-CN,zh;q=0.9"):
        """A phone-sized viewport, this language preference, no cookies."""
        self.call("Emulation.setDeviceMetricsOverride", **PHONE)
        ua = self.call("Browser.getVersion")["userAgent"]
        self.call("Emulation.setUserAgentOverride", userAgent=ua, acceptLanguage=accept_language)
        self.call("Network.clearBrowserCookies")

    def goto(self, url):
        self.events.clear()
        res = self.call("Page.navigate", url=url)
        if res.get("errorText"):
            raise RuntimeError("navigation to %s failed: %s" % (url, res["errorText"]))
        self.wait_event("Page.loadEventFired")
        return self.status_of_document()

    def status_of_document(self):
        """HTTP status of the last document loaded (after redirects)."""
        status = None
        for ev in self.events:
            if ev.get("method") == "Network.responseReceived" and ev["params"].get("type") == "Document":
                status = ev["params"]["response"]["status"]
        return status

    def js(self, expression):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in res:
            raise RuntimeError("JavaScript failed: %s" % res["exceptionDetails"].get("text"))
        return res["result"].get("value")

    def text(self, selector):
        return self.js("(e => e ? e.innerText : null)(document.querySelector(%s))" % json.dumps(selector))

    def desktop(self, accept_language="zh-CN,zh;q=0.9"):
        """A 1280×900 desktop window (the console's), this language, no cookies."""
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
        ua = self.call("Browser.getVersion")["userAgent"]
        self.call("Emulation.setUserAgentOverride", userAgent=ua, acceptLanguage=accept_language)
        self.call("Network.clearBrowserCookies")

    def fill(self, selector, value):
        """Type `value` into a form field (replacing what is there) or pick an option."""
        ok = self.js("(e => { if (!e) return false; e.focus(); e.value = %s; "
                     "e.dispatchEvent(new Event('input', {bubbles: true})); "
                     "e.dispatchEvent(new Event('change', {bubbles: true})); return true; })"
                     "(document.querySelector(%s))" % (json.dumps(value), json.dumps(selector)))
        if not ok:
            raise AssertionError("no field %s" % selector)

    def check(self, selector, on=True):
        if not self.js("(e => { if (!e) return false; e.checked = %s; return true; })(document.querySelector(%s))"
                       % ("true" if on else "false", json.dumps(selector))):
            raise AssertionError("no checkbox %s" % selector)

    def set_files(self, selector, paths):
        """Choose files for an <input type=file>, as the file picker would."""
        root = self.call("DOM.getDocument", depth=0)["root"]["nodeId"]
        node = self.call("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        if not node:
            raise AssertionError("no file input %s" % selector)
        self.call("DOM.setFileInputFiles", nodeId=node, files=[os.path.abspath(p) for p in paths])

    def download(self, selector, folder, timeout=60):
        """Tap a link or button that downloads a file -> the saved file's path."""
        os.makedirs(folder, exist_ok=True)
        self.call("Browser.setDownloadBehavior", behavior="allowAndName", downloadPath=os.path.abspath(folder),
                  eventsEnabled=True)
        self.tap(selector, wait=False)
        begin = self.wait_event("Browser.downloadWillBegin", timeout)["params"]
        while True:
            ev = self.wait_event("Browser.downloadProgress", timeout)["params"]
            if ev["guid"] == begin["guid"] and ev["state"] == "completed":
                return os.path.join(folder, begin["guid"]), begin["suggestedFilename"]
            if ev["guid"] == begin["guid"] and ev["state"] == "canceled":
                raise AssertionError("download of %s was cancelled" % begin["url"])

    def tap(self, selector, wait=True):
        """Press and release at the element's centre, as a finger would; waits for the
        page that loads (unless `wait` is false: a download loads no page)."""
        box = self.js("(r => r && [r.x + r.width / 2, r.y + r.height / 2])"
                      "(document.querySelector(%s)?.getBoundingClientRect())" % json.dumps(selector))
        if not box:
            raise AssertionError("nothing to tap at %s" % selector)
        self.events.clear()
        self.js("document.querySelector(%s).scrollIntoView({block: 'center'})" % json.dumps(selector))
        box = self.js("(r => r && [r.x + r.width / 2, r.y + r.height / 2])"
                      "(document.querySelector(%s)?.getBoundingClientRect())" % json.dumps(selector))
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)
        if wait:
            self.wait_event("Page.loadEventFired")

    def csp_violations(self):
        return self.js("window.__csp || []")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    def close(self):
        try:
            if getattr(self, "ws", None) is not None:
                self.ws.close()
        finally:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()


@contextlib.contextmanager
def serve(app, threads=4):
    """Serve `app` with waitress (the production WSGI server) on a free loopback port
    -> its base URL; stopped on exit.

    The loop runs in its own thread in short turns so that stopping is done there too:
    every socket (the listener and the browser's keep-alive connections) is closed by
    the thread that polls it, and none is left for the garbage collector to find."""
    from waitress import wasyncore
    from waitress.server import create_server
    server = create_server(app, host="127.0.0.1", port=0, threads=threads)
    stopping = threading.Event()

    def run():
        try:
            while not stopping.is_set() and server._map:
                wasyncore.loop(timeout=0.05, map=server._map, count=1)
        finally:
            wasyncore.close_all(server._map)
            server.task_dispatcher.shutdown()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.socket.getsockname()[1]
    finally:
        stopping.set()
        thread.join(30)
        if thread.is_alive():
            raise RuntimeError("waitress did not stop within 30 s")
