"""CBV 2.0 event hash ID of one EPCIS 2.0 event given as JSON / JSON-LD.

`event_hash_id(event, context)` returns ``ni:///sha-256;<hex>?ver=CBV2.0``;
`prehash_string(event, context)` the canonical string that is hashed. `context` is
the @context of the document the event came in (else the event's own @context).

The reference is the PyPI package epcis-event-hash-generator (1.9.3): we compute
what it computes, written independently. Its behaviour, which this module follows
where it differs from the CBV 2.0 text (docs/epcis-hash.md has the detail):

- Field order: eventType, eventTime, eventTimeZoneOffset, certificationInfo,
  parentID, epcList, inputEPCList, childEPCs, quantityList, childQuantityList,
  inputQuantityList, outputEPCList, outputQuantityList, action, transformationID,
  bizStep, disposition, persistentDisposition, readPoint, bizLocation,
  sensorElementList. Everything else (bizTransactionList, sourceList,
  destinationList, ilmd, extensions) follows as one sorted block; errorDeclaration,
  eventID, recordTime and type are left out.
- A bizTransaction/source/destination entry is its first two fields in JSON key
  order, so {"type", "bizTransaction"} and {"bizTransaction", "type"} hash apart.
- Bare CBV words are expanded to https://ref.gs1.org/cbv/... (or gs1.org/voc) only
  where JSON-LD expansion would give that IRI, and then every string of the event
  equal to such a word is replaced too (the reference does this document-wide; we
  do it per event, so a hash never depends on the other events of a document).
- Prefixes are taken only from the dict entries of a *list* @context; a key or
  value "p:x" becomes "{iri}x" / "iri" + "x". A namespaced field nested in
  readPoint, sensorReport etc. is appended there only when its IRI ends in "/".
- Any digit string reads as a number (float(), so leading zeros go and more than
  15 digits lose precision); EPC URIs and Digital Links are normalised wherever
  they appear, with the reference's own grammar (see `_digital_link`).

Where the reference crashes we still answer: a bizTransaction/source/destination
without type, a time rounding up to the next second, "inf", a @context entry that
is not a string. A naive time is read as UTC (the reference uses the host's zone).
An event's own "@context" key is not hashed (the reference would hash it).

Pure: no I/O, no Flask, no database; never mutates its input.
"""
import functools
import hashlib
import re
from datetime import datetime, timedelta, timezone

from cloud.epcis_dl_canon import digital_link as _digital_link

_CBV = "https://ref.gs1.org/cbv/"
_VOC = "https://gs1.org/voc/"
_VOCAB_STARTS = ("https://ref.gs1.org/cbv", "https://gs1.org/voc")
_STD_PREFIXES = {"cbv": _CBV, "gs1": _VOC}


def _terms(iri, words):
    return {w: iri + w for w in words.split()}


_BIZ_STEP = _terms(_CBV + "BizStep-", (
    "accepting arriving assembling collecting commissioning consigning "
    "creating_class_instance cycle_counting decommissioning departing destroying "
    "disassembling dispensing encoding entering_exiting holding inspecting installing "
    "killing loading other packing picking receiving removing repackaging repairing "
    "replacing reserving retail_selling sampling sensor_reporting shipping "
    "staging_outbound stock_taking stocking storing transporting unloading unpacking "
    "void_shipping"))
_DISP = _terms(_CBV + "Disp-", (
    "active available completeness_verified completeness_inferred conformant "
    "container_closed container_open damaged destroyed dispensed disposed encoded "
    "expired in_progress in_transit inactive mismatch_instance mismatch_class "
    "mismatch_quantity needs_replacement no_pedigree_match non_conformant "
    "non_sellable_other partially_dispensed recalled reserved retail_sold returned "
    "sellable_accessible sellable_not_accessible stolen unavailable unknown"))
_BTT = _terms(_CBV + "BTT-", "bol cert desadv inv pedigree po poc prodorder recadv "
                             "rma testprd testres upevt")
_SDT = _terms(_CBV + "SDT-", "owning_party possessing_party location")
_ER = _terms(_CBV + "ER-", "did_not_occur incorrect_data")
_MEASUREMENT = _terms(_VOC, (
    "AbsoluteHumidity AbsorbedDose AbsorbedDoseRate Acceleration Radioactivity Altitude "
    "AmountOfSubstance AmountOfSubstancePerUnitVolume Angle AngularAcceleration "
    "AngularMomentum AngularVelocity Area Capacitance Conductance Conductivity Count "
    "Density Dimensionless DoseEquivalent DoseEquivalentRate DynamicViscosity "
    "ElectricCharge ElectricCurrent ElectricCurrentDensity ElectricFieldStrength Energy "
    "Exposure Force Frequency Illuminance Inductance Irradiance KinematicViscosity Length "
    "LinearMomentum Luminance LuminousFlux LuminousIntensity MagneticFlux "
    "MagneticFluxDensity MagneticVectorPotential Mass MassConcentration MassFlowRate "
    "MassPerAreaTime MemoryCapacity MolalityOfSolute MolarEnergy MolarMass MolarVolume "
    "Power Pressure RadiantFlux RadiantIntensity RelativeHumidity Resistance Resistivity "
    "SolidAngle SpecificVolume Speed SurfaceDensity SurfaceTension Temperature Time "
    "Torque Voltage Volume VolumeFlowRate VolumeFraction VolumetricFlux Wavenumber"))
_SENSOR_EXCEPTION = _terms(_VOC, "ALARM_CONDITION ERROR_CONDITION")
_COMPONENT = _terms(_CBV + "Comp-", (
    "x y z axial_distance azimuth height spherical_radius polar_angle elevation_angle "
    "easting northing latitude longitude altitude"))
# JSON-LD keys typed @id: a compact IRI there ("gs1:x") expands
_ID_KEYS = frozenset((
    "id", "eventID", "certificationInfo", "readPoint", "bizLocation", "transformationID",
    "epcList", "parentID", "childEPCs", "inputEPCList", "outputEPCList", "epcClass",
    "bizTransaction", "source", "destination", "correctiveEventIDs", "deviceID",
    "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules", "microorganism",
    "chemicalSubstance", "coordinateReferenceSystem", "uriValue"))

_OLD_CBV_URNS = (("urn:epcglobal:cbv:bizstep:", _CBV + "BizStep-"),
                 ("urn:epcglobal:cbv:disp:", _CBV + "Disp-"),
                 ("urn:epcglobal:cbv:btt:", _CBV + "BTT-"),
                 ("urn:epcglobal:cbv:sdt:", _CBV + "SDT-"),
                 ("urn:epcglobal:cbv:er:", _CBV + "ER-"))

_EPCS = {"epc": None}
_QUANTITIES = {"quantityElement": {"epcClass": None, "quantity": None, "uom": None}}
_SENSOR_ELEMENT = {"sensorMetadata": dict.fromkeys((
    "time startTime endTime deviceID deviceMetadata rawData dataProcessingMethod "
    "bizRules").split()), "sensorReport": dict.fromkeys((
        "type exception deviceID deviceMetadata rawData dataProcessingMethod time "
        "microorganism chemicalSubstance value component stringValue booleanValue "
        "hexBinaryValue uriValue minValue maxValue meanValue sDev percRank percValue uom "
        "coordinateReferenceSystem").split())}
# field -> order of its children (None: a value); dicts keep insertion order
_ORDER = {
    "eventTime": None, "eventTimeZoneOffset": None, "certificationInfo": None,
    "parentID": None, "epcList": _EPCS, "inputEPCList": _EPCS, "childEPCs": _EPCS,
    "quantityList": _QUANTITIES, "childQuantityList": _QUANTITIES,
    "inputQuantityList": _QUANTITIES, "outputEPCList": _EPCS,
    "outputQuantityList": _QUANTITIES, "action": None, "transformationID": None,
    "bizStep": None, "disposition": None, "persistentDisposition": {"set": None, "unset": None},
    "readPoint": {"id": None}, "bizLocation": {"id": None},
    "sensorElementList": {"sensorElement": _SENSOR_ELEMENT}}
_NOT_HASHED = frozenset(("recordTime", "eventID", "type", "errorDeclaration"))
_PAIR_LISTS = frozenset(("bizTransactionList", "sourceList", "destinationList"))
_KEEP_ORDER = ("bizTransaction", "source", "destination")
_SKIPPED_KEYS = frozenset(("#text", "rdfs:comment", "comment", "@context"))
_RENAME = {"inputEPC": "epc", "outputEPC": "epc", "inputQuantity": "quantityElement",
           "outputQuantity": "quantityElement", "childQuantity": "quantityElement"}


def event_hash_id(event, context=None):
    """The CBV 2.0 hash ID of an EPCIS 2.0 JSON event: ni:///sha-256;<hex>?ver=CBV2.0."""
    digest = hashlib.sha256(prehash_string(event, context).encode("utf-8")).hexdigest()
    return "ni:///sha-256;" + digest + "?ver=CBV2.0"


def prehash_string(event, context=None):
    """The canonical pre-hash string of an EPCIS 2.0 JSON event (see module docstring)."""
    if context is None:
        context = event.get("@context")
    prefixes = _prefixes(context)
    swap = _swap_map(frozenset(_vocab_iris(event, prefixes)))
    build = _Builder(prefixes, swap)
    _text, children = build.parts(event)
    _name, _text, children = _restructure(("", "", children))
    kind = event.get("type", "")
    kind = swap.get(kind, kind) if isinstance(kind, str) else str(kind)
    ordered, left = _ordered(children, _ORDER)
    return "eventType=" + kind + ordered + _generic([c for c in left if c[0] not in _NOT_HASHED])


# --- prefixes and bare CBV words -------------------------------------------------

def _prefixes(context):
    out = {}
    if isinstance(context, list):
        for entry in context:
            if isinstance(entry, dict):
                for key, iri in entry.items():
                    if isinstance(iri, str):
                        out[key] = iri
    return out


def _expand(value, table, prefixes):
    if value in table:
        return table[value]
    head, colon, tail = value.partition(":")
    if colon:
        iri = prefixes.get(head) or _STD_PREFIXES.get(head)
        if iri:
            return iri + tail
    return value


def _vocab_iris(event, prefixes):
    """IRIs from the CBV / GS1 vocabularies that JSON-LD expansion finds in the event."""
    found = []

    def add(value, table):
        for v in value if isinstance(value, list) else (value,):
            if isinstance(v, str):
                found.append(_expand(v, table, prefixes))

    def items(value):
        return [v for v in (value if isinstance(value, list) else (value,)) if isinstance(v, dict)]

    add(event.get("bizStep"), _BIZ_STEP)
    add(event.get("disposition"), _DISP)
    for pd in items(event.get("persistentDisposition")):
        add(pd.get("set"), _DISP)
        add(pd.get("unset"), _DISP)
    for key, table in (("bizTransactionList", _BTT), ("sourceList", _SDT),
                       ("destinationList", _SDT)):
        for entry in items(event.get(key)):
            add(entry.get("type"), table)
    for ed in items(event.get("errorDeclaration")):
        add(ed.get("reason"), _ER)
    for element in items(event.get("sensorElementList")):
        for report in items(element.get("sensorReport")):
            add(report.get("type"), _MEASUREMENT)
            add(report.get("exception"), _SENSOR_EXCEPTION)
            add(report.get("component"), _COMPONENT)
    _literal_iris(event, None, prefixes, found)
    return [v for v in found if v.startswith(_VOCAB_STARTS)]


def _literal_iris(value, key, prefixes, found):
    items = value.items() if isinstance(value, dict) else [(key, v) for v in value]
    for k, v in items:
        if isinstance(v, str):
            found.append(_expand(v, {}, prefixes) if k in _ID_KEYS else v)
        elif isinstance(v, (dict, list)):
            _literal_iris(v, k, prefixes, found)


@functools.lru_cache(maxsize=256)
def _swap_map(iris):
    """word -> IRI for each word that ends exactly one of the IRIs after a '-' or '/'."""
    seen = {}
    for iri in iris:
        for i, ch in enumerate(iri):
            if ch == "-" or ch == "/":
                seen.setdefault(iri[i + 1:], set()).add(iri)
    return {word: next(iter(s)) for word, s in seen.items() if len(s) == 1}


# --- the event as a tree of (name, text, children) ----------------------------------

class _Builder:
    def __init__(self, prefixes, swap):
        self.keys = {p: "{" + iri + "}" for p, iri in prefixes.items()}
        self.values = {p: iri.replace("{", "").replace("}", "") for p, iri in prefixes.items()}
        self.swap = swap

    def parts(self, value):
        """(text, children) of a JSON value; a list's items come back as children."""
        if isinstance(value, str):
            value = self.swap.get(value, value)
            head, colon, tail = value.partition(":")
            if colon and head in self.values:
                value = self.values[head] + tail
            return value, []
        if isinstance(value, dict):
            children = []
            for key, val in value.items():
                if key in _SKIPPED_KEYS or key.startswith("@xmlns"):
                    continue
                head, colon, tail = key.partition(":")
                name = self.keys[head] + tail if colon and head in self.keys else key
                text, sub = self.parts(val)
                if isinstance(val, list):
                    children.extend([(name, t, s) for (_n, t, s) in sub])
                else:
                    children.append((name, text, sub))
            if "bizTransaction" not in value and "source" not in value and "destination" not in value:
                children.sort()
            text = value.get("#text", "")
            return self.swap.get(text, text) if isinstance(text, str) else str(text), children
        if isinstance(value, list):
            return "", [("",) + self.parts(v) for v in value]
        return str(value), []


def _restructure(node):
    """Reshape the JSON tree like the EPCIS XML binding (the reference hashes that)."""
    name, text, children = node
    plain, lists, child_epcs = [], {}, []
    for c in children:
        if c[0].endswith("List"):
            lists.setdefault(c[0], []).append((c[0][:-4],) + c[1:])
        elif c[0] == "childEPCs":
            child_epcs.append(("epc", c[1], []))
        else:
            plain.append(c)
    for list_name, items in lists.items():
        if list_name in _PAIR_LISTS:  # an entry becomes its first two fields
            plain.append((list_name, "", [tuple(i[2][:2]) if i[2] else (i,) for i in items]))
        else:
            plain.append((list_name, "", items))
    if child_epcs:
        plain.append(("childEPCs", "", child_epcs))
    children = [c if c[0] in _PAIR_LISTS else _restructure(c) if c[2]
                else (_RENAME.get(c[0], c[0]),) + c[1:] for c in plain]
    name = _RENAME.get(name, name)
    if name == "quantity" and children:
        name = "quantityElement"
    return name, text, children


# --- serialisation -----------------------------------------------------------------

def _is_extension(name):
    return "{" in name and "/}" in name


def _ordered(children, order):
    """(string of the fields named in order, children left over for the generic part)."""
    extensions = ()
    if len(children) > 1 and not any(["eventTime" in c[0] or "action" in c[0] for c in children]):
        extensions = [c for c in children if _is_extension(c[0])]
        if extensions:
            children = [c for c in children if not _is_extension(c[0])]
    values, left = {}, []
    for c in children:
        name = c[0]
        if name not in order:
            left.append(c)
            continue
        sub = order[name]
        if sub is None:
            grand, rest = "", c[2]
        else:
            grand, rest = _ordered(c[2], sub)
        text = c[1].strip() if c[1] else ""
        if text:
            text = "=" + (_utc_millis(text) if _is_time(name) else _canonical(text))
        if text or grand:
            values.setdefault(name, []).append(name + text + grand)
        if rest:
            left.append((name, c[1], rest))
    out = "".join(["".join(sorted(values[n])) for n in order if n in values])
    if extensions:
        out += _generic(extensions)
    return out, left


def _generic(children):
    parts = []
    for c in children:
        if len(c) != 3:  # a bizTransaction / source / destination entry
            parts.append(_generic(c))
            continue
        text = c[1].strip()
        parts.append(c[0] + ("=" + _canonical(text) if text else "") + _generic(c[2]))
    if len(parts) > 1 and not any([len(c) == 3 and c[0] in _KEEP_ORDER for c in children]):
        parts.sort()
    return "".join(parts)


@functools.lru_cache(maxsize=64)
def _is_time(name):
    low = name.lower()
    return "time" in low and "offset" not in low


@functools.lru_cache(maxsize=8192)
def _canonical(text):
    if "urn:epcglobal:cbv:" in text:
        for old, new in _OLD_CBV_URNS:
            text = text.replace(old, new)
    first = text[0]
    if not first.isascii() or first in "0123456789+-.iInN":
        try:
            number = float(text)
            text = str(int(number) if int(number) == number else number)
        except (ValueError, OverflowError):
            pass
    return _digital_link(text) or text


_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?"
                   r"(?:([Zz])|([+-])(\d\d)(?::?(\d\d))?)?$", re.ASCII)


def _utc_millis(text):
    """UTC at millisecond precision, "YYYY-MM-DDThh:mm:ss.mmmZ"; text unchanged if no time."""
    m = _TIME.match(text)
    try:
        if m:
            y, mo, d, h, mi, s, frac, _z, sign, oh, om = m.groups()
            micro = int((frac or "")[:6].ljust(6, "0"))
            t = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0))
            if sign:
                shift = timedelta(hours=int(oh), minutes=int(om or 0))
                t = t - shift if sign == "+" else t + shift
        else:
            t = datetime.fromisoformat(text)
            micro = t.microsecond
            if t.tzinfo is not None:
                t = t.astimezone(timezone.utc)
            t = t.replace(tzinfo=None, microsecond=0)
    except (ValueError, OverflowError):
        return text
    millis = round(micro, -3) // 1000  # half to even, like round()
    if millis == 1000:
        t, millis = t + timedelta(seconds=1), 0
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        t.year, t.month, t.day, t.hour, t.minute, t.second, millis)
