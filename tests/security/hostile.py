"""Shared settings of the hostile-input tests (tests/security/).

`make test` runs each property with a moderate, derandomized number of examples
(ONECODE_HOSTILE_EXAMPLES, default 30: the same cases every run). A long run for the
figures in docs/security.md sets it higher, e.g.

    ONECODE_HOSTILE_EXAMPLES=2000 .venv/bin/python -m pytest -q tests/security

and with ONECODE_HOSTILE_RANDOM=1 hypothesis draws new cases each run instead.
"""
import html.parser
import os

from hypothesis import HealthCheck, settings

NFC_MASTER = bytes(range(16))  # the cloud_app fixture's NFC master key (conftest.py)
EXAMPLES = int(os.environ.get("ONECODE_HOSTILE_EXAMPLES", "30"))
RANDOM = os.environ.get("ONECODE_HOSTILE_RANDOM") == "1"


def hostile(factor=1.0, **kw):
    """hypothesis settings: EXAMPLES x factor examples, no deadline, no database."""
    return settings(max_examples=max(5, int(EXAMPLES * factor)), deadline=None, database=None,
                    derandomize=not RANDOM,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
                    **kw)


# What a page must never contain after a hostile value went into a text field: the
# payloads below, unescaped (each one is tried in every text field that reaches a page).
XSS = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "'><svg/onload=alert(1)>",
       '</title><script>alert(2)</script>', 'javascript:alert(3)']
SQLI = ["' OR '1'='1", "1; DROP TABLE event;--", "\" OR 1=1 --", "' UNION SELECT password_hash FROM operator --",
        "%27%20OR%201%3D1", "\\'; --"]
OTHER = ["\x00", "\u202e\u0631tl", "A" * 5000, "../../etc/passwd", "%00", "{{7*7}}", "${7*7}", "😀" * 50]
HOSTILE_TEXT = XSS + SQLI + OTHER


class _LiveMarkup(html.parser.HTMLParser):
    """Collects what a browser would run: script elements, on* attributes, javascript:
    URLs. (Text and attribute values, escaped, are data: `&lt;script&gt;` is not here.)"""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "iframe", "object", "embed", "base"):
            self.found.append("<%s>" % tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append("<%s %s=...>" % (tag, name))
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                    "javascript:"):
                self.found.append("<%s %s=javascript:...>" % (tag, name))


def no_live_markup(body):
    """No hostile payload survived unescaped into HTML (pages carry no script at all)."""
    p = _LiveMarkup()
    p.feed(body)
    p.close()
    assert p.found == [], "live markup from a payload in the page: %s" % p.found
