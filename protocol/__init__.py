"""Host-side access to the wire schema (protocol/wire.schema.json) and CBOR codec.

Gateway, cloud and tests validate every message with `validate(kind, obj)`; the
devices build the same shapes through `onecode.wire`. This module must never define
a message shape itself: the JSON schema file is the one definition.
"""
import json
import os

import cbor2
import jsonschema
from jsonschema import validators

SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "wire.schema.json")
KINDS = ("deviceBatch", "deviceAck", "deviceError", "cloudBatch", "cloudAck", "cloudError")
MAX_PAYLOAD = 1024 * 1024  # bytes; larger MQTT payloads are refused before decoding

# EPCIS JSON-LD: the standard context, and ours for the `onecode:` extension fields
# the gateway adds to events (onecode:device, onecode:door, onecode:direction, ...)
EPCIS_CONTEXT_URL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
ONECODE_NS = "https://ns.onecode.invalid/epcis/"
ONECODE_CONTEXT = {"onecode": ONECODE_NS}


class WireError(ValueError):
    """A message that is not valid on the wire; `.code` is a stable short name."""

    def __init__(self, code, message):
        ValueError.__init__(self, message)
        self.code = code


def _x_cbor(validator, value, instance, schema):
    if value != "bytes":
        yield jsonschema.ValidationError("unknown x-cbor type %r" % (value,))
        return
    if not isinstance(instance, (bytes, bytearray)):
        yield jsonschema.ValidationError("%r is not a CBOR byte string" % (instance,))
        return
    bounds = schema.get("x-byteLength")
    if bounds and not bounds[0] <= len(instance) <= bounds[1]:
        yield jsonschema.ValidationError(
            "byte string of %d bytes, expected %d..%d" % (len(instance), bounds[0], bounds[1]))


_Validator = validators.extend(validators.Draft202012Validator, {"x-cbor": _x_cbor})

with open(SCHEMA_PATH, encoding="utf-8") as _f:
    SCHEMA = json.load(_f)
validators.Draft202012Validator.check_schema(SCHEMA)

_validators = {}


def validator(kind):
    if kind not in KINDS:
        raise KeyError(kind)
    v = _validators.get(kind)
    if v is None:
        sub = {"$ref": "#/$defs/" + kind, "$defs": SCHEMA["$defs"]}
        v = _validators[kind] = _Validator(sub)
    return v


def validate(kind, obj):
    """Raise WireError naming the first schema rule `obj` breaks."""
    err = jsonschema.exceptions.best_match(validator(kind).iter_errors(obj))
    if err is not None:
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        raise WireError("schema", "%s invalid at %s: %s" % (kind, where, err.message))
    return obj


def decode(kind, payload):
    """CBOR bytes -> validated object. Raises WireError (never anything else)."""
    if len(payload) > MAX_PAYLOAD:
        raise WireError("too_large", "%s payload of %d bytes exceeds %d" % (kind, len(payload), MAX_PAYLOAD))
    try:
        obj = cbor2.loads(payload)
    except Exception as exc:  # cbor2 raises several types for malformed input
        raise WireError("cbor", "%s is not valid CBOR: %s" % (kind, exc)) from None
    return validate(kind, obj)


def encode(kind, obj):
    """Validated object -> CBOR bytes (host side; devices use onecode.cbor)."""
    return cbor2.dumps(validate(kind, obj))
