"""A device heartbeat with its health (free heap, Wi-Fi RSSI, reader state) passes the
wire schema and shows in the gateway's device listing."""
import cbor2

import protocol
from onecode import wire
from onecode.device_services import DeviceServices


class Link:
    connected = True

    def __init__(self):
        self.out = []

    def publish(self, topic, payload, qos=1, retain=False):
        self.out.append((topic, payload))


def test_heartbeat_with_health_is_valid_and_reaches_the_listing():
    svc = DeviceServices("s1", "door-1", 3, hb_ms=1000,
                         health=lambda: {"heap": 70000, "rssi": -61, "reader": "alarm-0x0504"})
    link = Link()
    svc.poll(5, link)
    topic, payload = link.out[0]
    assert topic == wire.topic(wire.DEVICE_HEARTBEAT, site="s1", dev="door-1")
    msg = protocol.decode("deviceHeartbeat", payload)
    assert (msg["heap"], msg["rssi"], msg["reader"]) == (70000, -61, "alarm-0x0504")
    from gateway.health import DeviceTable
    h = DeviceTable()
    h.heartbeat("door-1", msg, 100.0)
    d = h._get("door-1")
    assert (d["heap"], d["rssi"], d["reader"]) == (70000, -61, "alarm-0x0504")
    bad = dict(msg, rssi=12)
    try:
        protocol.decode("deviceHeartbeat", cbor2.dumps(bad))
        raise AssertionError("an RSSI above 0 dBm passed")
    except protocol.WireError:
        pass
