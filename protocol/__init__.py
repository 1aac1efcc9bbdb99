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
KINDS = ("deviceBatch", "deviceAck", "deviceError", "cloudBatch", "cloudAck", "cloudError", "gatewayStatus",
         "deviceHeartbeat", "deviceTime", "deviceStatus", "deviceConfig", "doorManifest", "appUpdate",
         "deviceOrder")
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


def _dispatch(node):
    """(property, {value: $def name}) when node's allOf is nothing but branches
    {"if": {"properties": {property: {"const": value}}}, "then": {"$ref": ...}}, one
    property for all (a record type choosing its schema); else None."""
    branches = node.get("allOf")
    if not isinstance(branches, list) or not branches:
        return None
    prop, table = None, {}
    for b in branches:
        cond, then = b.get("if"), b.get("then")
        if set(b) != {"if", "then"} or not isinstance(cond, dict) or set(cond) != {"properties"} \
                or len(cond["properties"]) != 1 or not isinstance(then, dict) or set(then) != {"$ref"}:
            return None
        (p, test), = cond["properties"].items()
        if set(test) != {"const"} or (prop is not None and p != prop) or test["const"] in table:
            return None
        prop, table[test["const"]] = p, then["$ref"].rsplit("/", 1)[-1]
    return prop, table


def _covers(branch, key, sub):
    """Does a branch schema check property `key` at least as strictly as `sub` does
    (the same keywords and more, or the property not allowed at all)?"""
    props = branch.get("properties", {})
    if key in props:
        return isinstance(props[key], dict) and all(props[key].get(k) == v for k, v in sub.items())
    return branch.get("additionalProperties") is False


def _fast_form(node):
    """A $def as the fast path compiles it. A _dispatch node loses its allOf (the
    branch is chosen in Python: fastjsonschema pays an exception for every `if` that
    fails) and the properties every branch checks at least as strictly, provided
    the chosen-on property admits no value without a branch."""
    chosen = _dispatch(node)
    if not chosen:
        return node
    prop, table = chosen
    node = {k: v for k, v in node.items() if k != "allOf"}
    test = node.get("properties", {}).get(prop, {})
    values = test.get("enum", [test["const"]] if "const" in test else None)
    if values is None or not set(values) <= set(table) or prop not in node.get("required", ()):
        return node
    branches = [SCHEMA["$defs"][d] for d in table.values()]
    node["properties"] = {k: v for k, v in node.get("properties", {}).items()
                          if k == prop or not all(_covers(b, k, v) for b in branches)}
    return node


def _fast_plan(node, path, out, depth=0):
    """What the fast path checks after fastjsonschema, under a schema node: appends ("bytes", path, lo, hi) for an x-cbor byte string and ("choose",
    path, property, table) for a _dispatch node. A path is property names and "*"
    for array items. False when an x-cbor hides under another keyword (oneOf,
    additionalProperties, ...), which the fast path cannot follow."""
    if depth > 32:
        return False
    if "x-cbor" in node:
        lo, hi = node.get("x-byteLength", (0, float("inf")))
        out.append(("bytes", path, lo, hi))
    ref = node.get("$ref")
    if ref and not _fast_plan(SCHEMA["$defs"][ref.rsplit("/", 1)[-1]], path, out, depth + 1):
        return False
    chosen = _dispatch(node)
    if chosen:
        out.append(("choose", path) + chosen)
        node = _fast_form(node)  # the branch's validator checks what it covers
    for key, sub in node.get("properties", {}).items():
        if not _fast_plan(sub, path + (key,), out, depth + 1):
            return False
    if isinstance(node.get("items"), dict) and not _fast_plan(node["items"], path + ("*",), out, depth + 1):
        return False
    skip = ("$ref", "properties", "items", "x-cbor", "x-byteLength")
    return not _uses_x_cbor({k: v for k, v in node.items() if k not in skip})


def _getter(path):
    """obj -> the values at a plan path (absent optional properties skipped: the
    compiled schema checked `required`, and the types on the way)."""
    def get(obj):
        nodes = [obj]
        for key in path:
            if key == "*":
                nodes = [x for n in nodes for x in n]
            else:
                nodes = [n[key] for n in nodes if key in n]
        return nodes
    return get


def _fast_check(compiled, plan):
    steps = [(kind, _getter(path)) + tuple(rest) for kind, path, *rest in plan]

    def check(obj):
        compiled(obj)
        for kind, get, a, b in steps:
            if kind == "bytes":
                for x in get(obj):
                    if not isinstance(x, (bytes, bytearray)) or not a <= len(x) <= b:
                        raise fastjsonschema.JsonSchemaValueException("a CBOR byte string breaks its rule")
            else:
                for x in get(obj):
                    name = b.get(x.get(a)) if isinstance(x.get(a), (str, int)) else None
                    if name is not None:
                        fast_validator(name)(x)
        return obj
    return check


def fast_validator(kind):
    """The kind's schema compiled to Python by fastjsonschema (about 20 times faster
    than jsonschema on a 500-event cloud batch), or None where it cannot be used. The
    schema keywords we use mean the same in draft 7, which fastjsonschema implements,
    as in 2020-12 (tests/protocol/test_fast_validation.py checks both agree). The
    x-cbor extension is unknown to fastjsonschema (it accepts anything there), so
    the byte strings are checked after it, along the paths the schema gives them;
    a record type choosing its schema (_dispatch) is checked there too."""
    if kind not in _fast:
        plan = []
        if not _fast_plan(SCHEMA["$defs"][kind], (), plan):
            _fast[kind] = None
            return None
        defs = {name: _fast_form(SCHEMA["$defs"][name]) for name in _reachable(kind)}
        compiled = fastjsonschema.compile(
            {"$schema": "http://json-schema.org/draft-07/schema#", "$ref": "#/$defs/" + kind, "$defs": defs})
        _fast[kind] = _fast_check(compiled, plan) if plan else compiled
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
