"""Door verification end to end on a real Mosquitto: a technician pushes a manifest
through the gateway's API, the real portal application (onecode.portal_app, host
MQTT adapter, scripted reader, fake stack light) receives it retained, judges a pass,
and the gateway accepts the pass record with its `chk` verdict."""
import time

import pytest

from gwtest import SITE, wait_until
from onecode import epc
from onecode.compat import ticks_diff, ticks_ms
from onecode.journal import Journal
from onecode.portal_app import PortalApp
from protocol.mqtt import Link
from test_web_mqtt import gateway, request  # noqa: F401  (the fixture)

PALLET = "urn:epc:id:sscc:6901234.0000000001"
CASES = ["urn:epc:id:sgtin:6901234.012345.%d" % n for n in range(1, 4)]


class ScriptedReader:
    """Every tag seen by the outer antenna, then the inner one: an inbound pass."""

    def __init__(self):
        self.tags = []
        self.t0 = None

    def configure(self, region, power, antennas):
        pass

    def start(self, metadata=None):
        pass

    def stop(self):
        pass

    def go(self, uris, now_ms):
        self.tags = [epc.encode(u, filter=1) for u in uris]
        self.t0 = now_ms

    def poll(self, now_ms):
        if self.t0 is None:
            return []
        dt = ticks_diff(now_ms, self.t0)
        ants = ([1] if dt < 600 else []) + ([2] if 400 <= dt < 1000 else [])
        return [(t, a, -50, now_ms) for t in self.tags for a in ants]


class FakeLight:
    def __init__(self):
        self.colors = []

    def set(self, color):
        self.colors.append(color)


@pytest.fixture
def portal(tmp_path, mosquitto):
    journal = Journal(str(tmp_path / "journal"))
    journal.open()
    link = Link(mosquitto, "onecode-dev-door-1").start()
    assert link.wait_connected(10)
    reader, light = ScriptedReader(), FakeLight()
    app = PortalApp({"site": SITE, "dev": "door-1", "boot": 1, "light_ms": 500}, reader, link, journal, light)
    app.start()
    yield app, reader, light
    link.stop()


def run_until(app, pred, timeout, what):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out waiting for %s; status %s" % (what, app.status())
        time.sleep(app.step(ticks_ms()) / 1000.0)


def test_a_pushed_manifest_judges_passes_and_the_gateway_accepts_the_verdict(gateway, portal):  # noqa: F811
    gw, base = gateway
    app, reader, light = portal
    status, _ = request(base + "/api/devices/door-1/manifest", "POST", {"id": "ASN-7", "dir": "in",
                                                                          "epcs": [PALLET] + CASES})
    assert status == 200
    run_until(app, lambda: app.status()["manifest"] == "ASN-7", 10, "the manifest")

    reader.go([PALLET] + CASES[:2], ticks_ms())          # one case short
    run_until(app, lambda: app.status()["passes"] == 1 and app.status()["pending"] == 0, 15, "the ack")
    assert app.verdict.color == "red" and app.verdict.text("en") == \
        "1 missing from ASN-7: sgtin:6901234.012345.3"
    assert light.colors == ["off", "red"]
    run_until(app, lambda: light.colors[-1] == "off", 5, "the light to go off")

    reader.go([CASES[2]], ticks_ms())                    # the missing case follows
    run_until(app, lambda: app.status()["passes"] == 2 and app.status()["pending"] == 0, 15, "the second ack")
    assert app.verdict.color == "green" and app.verdict.complete
    st = app.status()
    assert (st["chk_red"], st["chk_green"], st["bad_manifests"]) == (1, 1, 0)
    wait_until(lambda: gw.gw.counters["records_in"] >= 2, 10, "the gateway to take both records")
    assert gw.gw.counters["rejected"] == 0                # the schema accepts `chk`

    assert request(base + "/api/devices/door-1/manifest", "DELETE")[0] == 200
    run_until(app, lambda: app.status()["manifest"] is None, 10, "the manifest withdrawn")
