"""A real headless Chromium for page tests, driven by Playwright's sync API: a thin
wrapper over one browser context at a time, so the tests read as a person using the
site: a phone or desktop window with a language preference, go to a page, read a text,
fill a field, tap, pick a file, download, collect Content-Security-Policy violations,
take a screenshot. Plus `serve`, the waitress server the pages come from.

Chromium is the Debian package `chromium` (`make test` installs it:
tools/setup/system-packages.sh), handed to Playwright as `executable_path`:
Playwright's own browser download (`playwright install`) is never needed. Must never
leave the browser or Playwright's driver running: `close()` (the fixture's teardown)
ends both.
"""
import contextlib
import os
import shutil
import threading

from playwright.sync_api import sync_playwright

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "device_scale_factor": 1}
# injected before any page script (init scripts are not subject to the page's CSP)
CSP_PROBE = ("window.__csp = []; document.addEventListener('securitypolicyviolation', "
             "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")
TIMEOUT_MS = 30_000


def executable():
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    def __init__(self, timeout_ms=TIMEOUT_MS):
        exe = executable()
        if exe is None:
            raise FileNotFoundError("chromium is not installed")
        self.timeout_ms = timeout_ms
        self.context = self.page = None
        self._touch, self._status = False, None
        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(executable_path=exe, headless=True, timeout=timeout_ms)
        except BaseException:
            self._pw.stop()
            raise

    # -- a window: a fresh context (no cookies) --------------------------------------

    def _open(self, accept_language, **device):
        if self.context is not None:
            self.context.close()
        # the first tag for navigator.language; the whole preference list as the header
        locale = accept_language.split(",")[0].split(";")[0].strip()
        self.context = self._browser.new_context(locale=locale, accept_downloads=True,
                                                 extra_http_headers={"Accept-Language": accept_language}, **device)
        self.context.set_default_timeout(self.timeout_ms)
        self.context.add_init_script(CSP_PROBE)
        self.page = self.context.new_page()
        self.page.on("response", self._on_response)
        self._touch = device.get("has_touch", False)
        self._status = None

    def _on_response(self, response):
        if response.request.is_navigation_request() and response.frame == self.page.main_frame:
            self._status = response.status

    def phone(self, accept_language="zh-CN,zh;q=0.9"):
        """A 390×844 phone (touch, 2× pixels), this language preference, no cookies."""
        self._open(accept_language, **PHONE)

    def desktop(self, accept_language="zh-CN,zh;q=0.9"):
        """A 1280×900 desktop window (the console's), this language, no cookies."""
        self._open(accept_language, **DESKTOP)

    # -- what a test does ----------------------------------------------------------

    def goto(self, url):
        """Load `url` and wait for its load event -> the HTTP status of the document
        (after redirects)."""
        if self.page is None:
            self.desktop()
        response = self.page.goto(url, wait_until="load")
        return None if response is None else response.status

    def status_of_document(self):
        """HTTP status of the last document loaded (after redirects)."""
        return self._status

    def js(self, expression):
        return self.page.evaluate(expression)

    def text(self, selector):
        e = self.page.query_selector(selector)
        return None if e is None else e.inner_text()

    def _element(self, selector, what):
        e = self.page.query_selector(selector)
        if e is None:
            raise AssertionError("no %s %s" % (what, selector))
        return e

    def fill(self, selector, value):
        """Type `value` into a form field (replacing what is there) or pick an option."""
        e = self._element(selector, "field")
        if e.evaluate("e => e.tagName") == "SELECT":
            e.select_option(value)
        else:
            e.fill(value)

    def check(self, selector, on=True):
        self._element(selector, "checkbox").set_checked(on)

    def set_files(self, selector, paths):
        """Choose files for an <input type=file>, as the file picker would."""
        self._element(selector, "file input").set_input_files([os.path.abspath(p) for p in paths])

    def download(self, selector, folder, timeout_ms=60_000):
        """Tap a link or button that downloads a file -> (the saved file's path, the
        file name the server suggested)."""
        os.makedirs(folder, exist_ok=True)
        with self.page.expect_download(timeout=timeout_ms) as info:
            self.tap(selector, wait=False)
        download = info.value
        failure = download.failure()
        if failure:
            raise AssertionError("download of %s failed: %s" % (download.url, failure))
        path = os.path.join(folder, download.suggested_filename)
        download.save_as(path)
        return path, download.suggested_filename

    def tap(self, selector, wait=True):
        """Tap the element (a finger on the phone, a mouse click on the desktop), at its
        centre once it is visible and still; waits for the page that loads (unless `wait`
        is false: a download loads no page)."""
        e = self._element(selector, "element to tap at")
        press = e.tap if self._touch else e.click
        if not wait:
            press()
            return
        with self.page.expect_event("load"):
            press()

    def csp_violations(self):
        return self.js("window.__csp || []")

    def screenshot(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.page.screenshot(path=path, full_page=True)
        return path

    def close(self):
        try:
            try:
                if self.context is not None:
                    self.context.close()
            finally:
                self._browser.close()
        finally:
            self._pw.stop()  # ends Playwright's driver process and its event loop


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
