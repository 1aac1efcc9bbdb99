"""What a handheld input identifies: a serialised item, a logistic unit (SSCC), a
product class (GTIN without serial) or a location (GLN).

Every identity is keyed by its GS1 Digital Link path (`/01/{gtin}/21/{serial}`,
`/00/{sscc}`, `/414/{gln}`), the same key the cloud uses (cloud/epcis_ids.py), so an
item read as a QR code and as a UHF EPC is recognised as one. Pure: no I/O, no state;
raises ValueError (with the onecode.gs1 / onecode.epc reason) for anything it cannot
read, and must never guess a company prefix length or a missing check digit.
"""
from onecode import epc as epc_codec
from onecode import gs1
from onecode.epc import _UNRESERVED, _escape

ITEM = "item"    # 01 + 21: one serialised unit
UNIT = "unit"    # 00: a case or pallet (SSCC)
CLASS = "class"  # 01 without 21: a quantity of a product
LOC = "loc"      # 414: a location


class Code:
    __slots__ = ("kind", "id", "gtin", "serial", "lot", "qty", "exp", "prod", "label")

    def __init__(self, kind, id, label, gtin=None, serial=None):
        self.kind = kind
        self.id = id
        self.label = label
        self.gtin = gtin
        self.serial = serial
        self.lot = None
        self.qty = 1
        self.exp = None
        self.prod = None

    def __repr__(self):
        return "Code(%s %s)" % (self.kind, self.id)


def from_pairs(pairs):
    """[(ai, value), ...] (validated, as gs1.parse returns them) -> Code."""
    values = {}
    for ai, value in pairs:
        values[ai] = value
    if "00" in values:
        sscc = values["00"]
        return Code(UNIT, "/00/" + sscc, "(00)" + sscc)
    if "01" in values:
        gtin = values["01"]
        if "21" in values:
            serial = values["21"]
            code = Code(ITEM, "/01/%s/21/%s" % (gtin, _escape(serial, _UNRESERVED)),
                        "(01)%s(21)%s" % (gtin, serial), gtin, serial)
        else:
            code = Code(CLASS, "/01/" + gtin, "(01)" + gtin, gtin)
            n = values.get("30") or values.get("37")
            if n is not None:
                code.qty = int(n)
                if code.qty < 1:
                    raise ValueError("AI 30/37: quantity must be at least 1")
        code.lot = values.get("10")
        code.exp = values.get("17")
        code.prod = values.get("11")
        return code
    if "414" in values:
        gln = values["414"]
        ext = values.get("254")
        return Code(LOC, "/414/" + gln + ("/254/" + _escape(ext, _UNRESERVED) if ext else ""),
                    "(414)" + gln + ("(254)" + ext if ext else ""))
    raise ValueError("no GTIN (01), SSCC (00) or GLN (414) in the code")


def from_scan(data):
    """Barcode scanner output (str or bytes, with or without symbology identifier;
    a Digital Link URI in a plain QR code too) or already-parsed pairs -> Code."""
    if isinstance(data, list):
        return from_pairs(data)
    if isinstance(data, (bytes, bytearray)):
        data = "".join([chr(b) for b in data])
    s = data.strip()
    if s[:3] in ("]Q1", "]d1"):
        s = s[3:]
    if s.startswith("http://") or s.startswith("https://"):
        return from_pairs(gs1.parse_digital_link(s))
    return from_pairs(gs1.parse(s))


def from_epc(raw):
    """UHF EPC bytes -> Code (SGTIN: item, SSCC: unit, SGLN: location)."""
    e = epc_codec.decode(raw)
    if e.scheme not in ("sgtin", "sscc", "sgln"):
        raise ValueError("EPC scheme %s is not a product, SSCC or location" % e.scheme.upper())
    path = epc_codec.to_digital_link_path(e.pure_uri)
    parts = path.split("/")  # ['', '01', gtin, '21', serial] / ['', '00', sscc] / ['', '414', gln...]
    if e.scheme == "sscc":
        return Code(UNIT, path, "(00)" + parts[2])
    if e.scheme == "sgln":
        return Code(LOC, path, "(414)" + parts[2])
    return Code(ITEM, path, "(01)%s(21)%s" % (parts[2], e.serial), parts[2], e.serial)
