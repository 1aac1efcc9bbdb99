"""Canonical keys for the identifiers EPCIS events carry, so that a query matches an
item whether it was captured (or is asked for) as an EPC URN or a GS1 Digital Link.

The key of a GS1 identifier is its Digital Link path (`/01/{gtin}/21/{serial}`,
`/00/{sscc}`, ...); anything else keys as itself. Pure functions: must never touch
the database.
"""
import functools
import urllib.parse

from onecode import epc as epc_codec

# primary-key AIs that can start a Digital Link path (GS1 Digital Link standard)
PRIMARY_AIS = ("00", "01", "253", "255", "401", "402", "414", "417", "8003", "8004", "8006",
               "8010", "8017", "8018")


def dl_path_of_uri(uri):
    """'https://any.domain/prefix/01/0950…/21/1?x=1' -> '/01/0950…/21/1', else None."""
    parts = urllib.parse.urlsplit(uri).path.split("/")
    for i, seg in enumerate(parts):
        if seg in PRIMARY_AIS and i + 1 < len(parts):
            return "/" + "/".join(parts[i:])
    return None


def _digits(s):
    return s.isascii() and s.isdigit()


def _check_digit(digits):
    total, w = 0, 3
    for c in reversed(digits):
        total += (ord(c) - 48) * w
        w = 4 - w
    return (10 - total % 10) % 10


def _fast_path(value):
    """The Digital Link path of the two URNs ingest sees most (SGTIN-96 with a numeric
    serial, SSCC-96), by string operations under exactly onecode.epc's rules, about
    ten times faster than its full parser; None for anything else (the full parser
    decides). tests/cloud/test_epcis_ids.py checks both agree."""
    if value.startswith("urn:epc:id:sgtin:"):
        parts = value[17:].split(".")
        if len(parts) == 3:
            cp, ref, serial = parts
            if (6 <= len(cp) <= 12 and len(ref) == 13 - len(cp) and _digits(cp) and _digits(ref)
                    and _digits(serial) and (len(serial) == 1 or serial[0] != "0") and int(serial) < 1 << 38):
                key = ref[0] + cp + ref[1:]
                return "/01/%s%d/21/%s" % (key, _check_digit(key), serial)
    elif value.startswith("urn:epc:id:sscc:"):
        parts = value[16:].split(".")
        if len(parts) == 2:
            cp, ref = parts
            if 6 <= len(cp) <= 12 and len(ref) == 17 - len(cp) and _digits(cp) and _digits(ref):
                key = ref[0] + cp + ref[1:]
                return "/00/%s%d" % (key, _check_digit(key))
    return None


@functools.lru_cache(maxsize=65536)  # the store keys each identifier twice (index, state)
def epc_key(value):
    """Key of an instance identifier (epcList, childEPCs, parentID, inputs, outputs)."""
    fast = _fast_path(value)
    if fast is not None:
        return fast
    if value.startswith("urn:epc:id:"):
        try:
            return epc_codec.to_digital_link_path(value)
        except ValueError:
            return value
    if value.startswith(("https://", "http://")):
        return dl_path_of_uri(value) or value
    return value


def _gtin(cp, ref):
    digits = ref[:1] + cp + ref[1:]
    return digits + str(epc_codec.check_digit(digits))


def class_key(value):
    """Key of a class identifier (quantityList epcClass): LGTIN -> /01/{gtin}/10/{lot},
    an SGTIN pattern with '*' serial -> /01/{gtin}; Digital Links -> their path."""
    for prefix, has_lot in (("urn:epc:class:lgtin:", True), ("urn:epc:idpat:sgtin:", False)):
        if value.startswith(prefix):
            fields = value[len(prefix):].split(".")
            if len(fields) == 3 and fields[0].isdigit() and fields[1].isdigit() \
                    and len(fields[0]) + len(fields[1]) == 13:
                if has_lot:
                    return "/01/%s/10/%s" % (_gtin(fields[0], fields[1]),
                                             urllib.parse.quote(urllib.parse.unquote(fields[2]), safe=""))
                if fields[2] == "*":
                    return "/01/%s" % _gtin(fields[0], fields[1])
            return value
    return epc_key(value)


def match_key(value):
    """A query parameter value -> (key, is_prefix). `urn:epc:idpat:sgtin:CP.REF.*`
    matches every serial of that GTIN."""
    if value.startswith("urn:epc:idpat:sgtin:") and value.endswith(".*"):
        key = class_key(value)
        if key.startswith("/01/"):
            return key + "/21/", True
    return epc_key(value), False


def to_digital_link(value, domain="https://id.gs1.org"):
    """For GS1-EPC-Format: Always_GS1_Digital_Link. Non-GS1 values are returned as they are."""
    if value.startswith("urn:epc:id:"):
        try:
            return domain + epc_codec.to_digital_link_path(value)
        except ValueError:
            return value
    return value
