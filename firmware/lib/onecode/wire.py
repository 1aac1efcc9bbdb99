"""Wire format: MQTT topic names and message shapes, defined once for every hop.

Device -> gateway -> cloud. The field names here are the ones in
`protocol/wire.schema.json` and `docs/protocol.md`; gateway, cloud and tests import
this module instead of spelling topics themselves. Pure and tiny: must never import
anything a board lacks, and never allocate per tag beyond the record itself.
"""
from onecode.compat import ticks_diff

VERSION = 1

# Site broker (devices <-> gateway). {site} and {dev} are ids of [A-Za-z0-9_-].
DEVICE_BATCH = "onecode/{site}/dev/{dev}/batch"    # device -> gateway, QoS 1
DEVICE_ACK = "onecode/{site}/dev/{dev}/ack"        # gateway -> device, QoS 1
DEVICE_ERROR = "onecode/{site}/dev/{dev}/error"    # gateway -> device, QoS 1
DEVICE_STATUS = "onecode/{site}/dev/{dev}/status"  # device, retained + last will
DEVICE_HEARTBEAT = "onecode/{site}/dev/{dev}/hb"   # device -> gateway, QoS 0, not retained
DEVICE_TIME = "onecode/{site}/dev/{dev}/time"      # gateway -> device, QoS 0, never retained
# What a technician pushes through the gateway: QoS 1, retained (a device that was
# off gets the latest when it connects); an empty retained payload withdraws it.
DEVICE_CONFIG = "onecode/{site}/dev/{dev}/config"      # gateway -> device
DEVICE_MANIFEST = "onecode/{site}/dev/{dev}/manifest"  # gateway -> device: the door's expected EPCs
DEVICE_UPDATE = "onecode/{site}/dev/{dev}/update"      # gateway -> device: an application file
DEVICE_ORDER = "onecode/{site}/dev/{dev}/order"        # gateway -> handheld: the order/shipment to work
DEVICE_BATCH_SUB = "onecode/{site}/dev/+/batch"    # what a gateway subscribes to
DEVICE_STATUS_SUB = "onecode/{site}/dev/+/status"
DEVICE_HEARTBEAT_SUB = "onecode/{site}/dev/+/hb"
GATEWAY_STATUS = "onecode/{site}/gw/{gw}/status"   # gateway, retained + last will

# Cloud broker (gateways <-> cloud ingest workers).
CLOUD_BATCH = "onecode/cloud/{site}/{gw}/batch"    # gateway -> cloud, QoS 1
CLOUD_ACK = "onecode/cloud/{site}/{gw}/ack"        # cloud -> gateway, QoS 1
CLOUD_ERROR = "onecode/cloud/{site}/{gw}/error"    # cloud -> gateway: a batch it refused
CLOUD_STATUS = "onecode/cloud/{site}/{gw}/status"  # gateway -> cloud: gatewayStatus, retained + last will
CLOUD_STATUS_SUB = "onecode/cloud/+/+/status"      # ingest workers (not shared: each keeps the table)
CLOUD_BATCH_SUB = "onecode/cloud/+/+/batch"        # ingest workers
SHARED_GROUP = "onecode-ingest"                    # $share/{group}/... for scale-out

# Record types a device sends.
REC_PASS = "pass"

# Pass directions (dock door): outer (truck side) -> inner (warehouse) is inbound.
DIR_IN = "in"
DIR_OUT = "out"
DIR_UNKNOWN = "unknown"


def topic(template, **ids):
    """Fill a topic template; rejects ids that would change the topic structure."""
    for key in ids:
        value = ids[key]
        if not value or "/" in value or "+" in value or "#" in value:
            raise ValueError("bad topic id %s=%r" % (key, value))
    return template.format(**ids)


def topic_ids(template, name):
    """Inverse of topic(): dict of ids, or None when `name` does not match."""
    tparts = template.split("/")
    nparts = name.split("/")
    if len(tparts) != len(nparts):
        return None
    ids = {}
    for t, n in zip(tparts, nparts):
        if t[:1] == "{" and t[-1:] == "}":
            if not n:
                return None
            ids[t[1:-1]] = n
        elif t != n:
            return None
    return ids


def device_batch(dev, epoch, boot, recs):
    """A device batch: records already in wire form (seq, age, ...). (dev, epoch, seq)
    names a record for ever; `boot` is for diagnostics only."""
    return {"v": VERSION, "dev": dev, "epoch": epoch, "boot": boot, "recs": recs}


def device_ack(epoch, seq):
    """Cumulative acknowledgement: every record of `epoch` up to `seq` is durable."""
    return {"v": VERSION, "epoch": epoch, "seq": seq}


def device_status(state, boot=None, role=None, fw=None, alarms=None):
    """Retained on DEVICE_STATUS: "online" when connected (and whenever `alarms`, the
    reader alarms [{code, en, zh}], change); the last will is device_status("offline")."""
    msg = {"v": VERSION, "state": state}
    if boot is not None:
        msg["boot"] = boot
    if role is not None:
        msg["role"] = role
    if fw is not None:
        msg["fw"] = fw
    if alarms is not None:
        msg["alarms"] = alarms
    return msg


# Time: the gateway is the devices' clock. A heartbeat carries the device's tick
# counter (`up`, ticks_ms) and, once set, its clock (`clock`, UTC ms); the gateway
# answers with a time message echoing `up`, so the device can halve the round trip
# and refuse an answer that came too late to be true.
TIME_MAX_RTT_MS = 2000


def heartbeat(boot, up, clock=None, jn=None, jb=None, want_time=False, heap=None, rssi=None, reader=None):
    """Device -> gateway every few tens of seconds. up: ticks_ms now; clock: the
    device's UTC ms now, or None while it has none; jn/jb: unacked journal records
    and bytes; want_time: ask for a time message whatever the skew; heap: free
    bytes; rssi: Wi-Fi dBm; reader: "ok" or an alarm code."""
    msg = {"v": VERSION, "boot": boot, "up": up}
    if heap is not None:
        msg["heap"] = heap
    if rssi is not None:
        msg["rssi"] = rssi
    if reader is not None:
        msg["reader"] = reader
    if clock is not None:
        msg["clock"] = clock
    if jn is not None:
        msg["jn"] = jn
    if jb is not None:
        msg["jb"] = jb
    if want_time:
        msg["want"] = "time"
    return msg


def time_fix(msg, now_ms, max_rtt_ms=TIME_MAX_RTT_MS):
    """A decoded time message -> the UTC ms at tick `now_ms`, or None when it cannot
    be trusted: not a time message, or the answer to a heartbeat sent more than
    max_rtt_ms ago (delayed on the way, so its time is stale)."""
    if not isinstance(msg, dict) or msg.get("v") != VERSION:
        return None
    utc = msg.get("utc")
    if not isinstance(utc, int) or utc < 0:
        return None
    echo = msg.get("echo")
    if echo is None:
        return utc  # pushed by a technician: no round trip to halve
    if not isinstance(echo, int):
        return None
    rtt = ticks_diff(now_ms, echo)
    if rtt < 0 or rtt > max_rtt_ms:
        return None
    return utc + rtt // 2
