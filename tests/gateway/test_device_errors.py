"""Per device, the gateway counts the records it took and the records with an error it
told the device about, and sends both in the cloud copy of its status (the console's
per-device error rate: cloud.console.dashboard_health.device_errors). A real SQLite
outbox, Gateway methods driven directly, fake MQTT links."""
import cbor2

import protocol
from gwtest import GW, SITE, device_batch
from onecode import wire
from test_bounds import make_gateway  # noqa: F401  (the fixture)

UNDECODABLE = b"\x35" + bytes(11)  # GID-96: the gateway cannot decode it


def cloud_devices(gw):
    gw.publish_status()
    _t, payload, _r = gw.cloud_link.take(wire.topic(wire.CLOUD_STATUS, site=SITE, gw=GW))[-1]
    return {d["dev"]: d for d in protocol.decode("gatewayStatus", payload)["devices"]}


def batch_topic(dev):
    return wire.topic(wire.DEVICE_BATCH, site=SITE, dev=dev)


def test_records_taken_and_records_with_errors_reach_the_cloud_per_device(tmp_path, make_gateway):  # noqa: F811
    gw = make_gateway(tmp_path, outbox_max_events=1000)
    gw.handle_device_batch(batch_topic("door-1"), device_batch(1, dev="door-1", n=4))
    gw.handle_device_batch(batch_topic("door-2"), device_batch(1, dev="door-2", n=2, tag=UNDECODABLE))
    gw.handle_device_batch(batch_topic("door-2"), b"\xff not cbor")  # refused whole: counts one
    devs = cloud_devices(gw)
    assert (devs["door-1"]["records_in"], devs["door-1"]["errors"]) == (4, 0)
    assert (devs["door-2"]["records_in"], devs["door-2"]["errors"]) == (2, 3)
    errors = [cbor2.loads(p) for _t, p, _r in gw.site_link.take(wire.topic(wire.DEVICE_ERROR, site=SITE, dev="door-2"))]
    assert len(errors) == 3 and all(e["en"] and e["zh"] for e in errors)
