"""Wire format: MQTT topic names and message shapes, defined once for every hop.

Device -> gateway -> cloud. The field names here are the ones in
`protocol/wire.schema.json` and `docs/protocol.md`; gateway, cloud and tests import
this module instead of spelling topics themselves. Pure and tiny: must never import
anything a board lacks, and never allocate per tag beyond the record itself.
"""

VERSION = 1

# Site broker (devices <-> gateway). {site} and {dev} are ids of [A-Za-z0-9_-].
DEVICE_BATCH = "onecode/{site}/dev/{dev}/batch"    # device -> gateway, QoS 1
DEVICE_ACK = "onecode/{site}/dev/{dev}/ack"        # gateway -> device, QoS 1
DEVICE_ERROR = "onecode/{site}/dev/{dev}/error"    # gateway -> device, QoS 1
DEVICE_STATUS = "onecode/{site}/dev/{dev}/status"  # device, retained + last will
DEVICE_BATCH_SUB = "onecode/{site}/dev/+/batch"    # what a gateway subscribes to

# Cloud broker (gateways <-> cloud ingest workers).
CLOUD_BATCH = "onecode/cloud/{site}/{gw}/batch"    # gateway -> cloud, QoS 1
CLOUD_ACK = "onecode/cloud/{site}/{gw}/ack"        # cloud -> gateway, QoS 1
CLOUD_ERROR = "onecode/cloud/{site}/{gw}/error"    # cloud -> gateway: a batch it refused
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
