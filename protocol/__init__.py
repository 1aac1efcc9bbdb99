"""Host-side access to the wire schema (protocol/wire.schema.json) and CBOR codec.

Gateway, cloud and tests validate every message with `validate(kind, obj)`; the
devices build the same shapes through `onecode.wire`. This module must never define
a message shape itself: the JSON schema file is the one definition.
"""
import json
import os

import cbor2
import fastjsonschema
import jsonschema
from jsonschema import validators

SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "wire.schema.json")
KINDS = ("deviceBatch", "deviceAck", "deviceError", "cloudBatch", "cloudAck", "cloudError", "gatewayStatus")
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


def _uses_x_cbor(node):
    if isinstance(node, dict):
        return "x-cbor" in node or any(_uses_x_cbor(v) for v in node.values())
    if isinstance(node, list):
        return any(_uses_x_cbor(v) for v in node)
    return False


def _refs(node, out):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            out.add(node["$ref"].rsplit("/", 1)[-1])
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)
    return out


def _reachable(kind):
    """The $defs a kind's schema uses, itself included."""
    seen, todo = set(), [kind]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_refs(SCHEMA["$defs"][name], set()))
    return seen


_fast = {}


def fast_validator(kind):
    """The kind's schema compiled to Python by fastjsonschema (about 20 times faster
    than jsonschema on a 500-event cloud batch), or None for kinds that use the x-cbor
    extension, which only the jsonschema validator knows. The schema keywords we use
    mean the same in draft 7, which fastjsonschema implements, as in 2020-12
    (tests/protocol/test_fast_validation.py checks both agree)."""
    if kind not in _fast:
        defs = {name: SCHEMA["$defs"][name] for name in _reachable(kind)}
        _fast[kind] = None if _uses_x_cbor(defs) else fastjsonschema.compile(
            {"$schema": "http://json-schema.org/draft-07/schema#", "$ref": "#/$defs/" + kind, "$defs": defs})
    return _fast[kind]


def validate(kind, obj):
    """Raise WireError naming the first schema rule `obj` breaks."""
    fast = fast_validator(kind) if kind in KINDS else None
    if fast is not None:
        try:
            fast(obj)
            return obj
        except fastjsonschema.JsonSchemaException:
            pass  # jsonschema decides, and names the rule
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
