"""EPC binary codec (GS1 EPC Tag Data Standard) for UHF tag memory.

Decodes SGTIN-96, SSCC-96, SGLN-96, GRAI-96, GIAI-96 and SGTIN-198 tag bytes
into pure identity / tag URIs, encodes them back, and maps an EPC to its GS1
Digital Link path. This is the one EPC codec in OneCode: firmware, gateway and
cloud all import it. Runs on MicroPython and CPython (no typing, no enum).

It must never guess: an input that breaks a TDS rule raises ValueError naming
the rule, it never returns a "best effort" URI. It does no I/O.
"""

import binascii

_HEADERS = {0x30: ("sgtin", 96), 0x31: ("sscc", 96), 0x32: ("sgln", 96),
            0x33: ("grai", 96), 0x34: ("giai", 96), 0x36: ("sgtin", 198)}
_HEADER_OF = {v: k for k, v in _HEADERS.items()}
_UNSUPPORTED = {0x35: "GID-96", 0x37: "GRAI-170", 0x38: "GIAI-202", 0x39: "SGLN-195"}

_CP_BITS = (40, 37, 34, 30, 27, 24, 20)  # company prefix digits = 12 - P
# bits of the field after the company prefix, by partition, and its digit count
_REF_BITS = {"sgtin": (4, 7, 10, 14, 17, 20, 24), "sscc": (18, 21, 24, 28, 31, 34, 38),
             "sgln": (1, 4, 7, 11, 14, 17, 21), "grai": (4, 7, 10, 14, 17, 20, 24),
             "giai": (42, 45, 48, 52, 55, 58, 62)}
_REF_DIGITS = {"sgtin": 13, "sscc": 17, "sgln": 12, "grai": 12}  # CP + ref digits
_SERIAL_BITS = {("sgtin", 96): 38, ("grai", 96): 38, ("sgln", 96): 41}
_DIGITS = "0123456789"
_HEX = "0123456789abcdefABCDEF"
# GS1 AI encodable character set 82; the EPC URI %-escapes " % & / < > ?
_CSET82 = ("!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
           "abcdefghijklmnopqrstuvwxyz")
_URI_KEEP = "".join([c for c in _CSET82 if c not in "\"%&/<>?"])
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"


def _is_digits(s):
    return bool(s) and all([c in _DIGITS for c in s])


def _pad(n, width):
    s = str(n)
    return "0" * (width - len(s)) + s if width else ""


def _cut(s, sep):
    # str.partition is optional in MicroPython builds; split(sep, 1) is not
    parts = s.split(sep, 1)
    return (parts[0], parts[1]) if len(parts) == 2 else (s, "")


def _escape(s, keep):
    return "".join([c if c in keep else "%%%02X" % ord(c) for c in s])


def _uri_unescape(s):
    out = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "%":
            h = s[i + 1:i + 3]
            if len(h) != 2 or h[0] not in _HEX or h[1] not in _HEX:
                raise ValueError("EPC URI: bad %-escape in " + repr(s))
            c = chr(int(h, 16))
            i += 2
        out.append(c)
        i += 1
    return "".join(out)


def check_digit(digits):
    """GS1 mod-10 check digit of a digit string (weights 3,1,3,... from the right)."""
    if not _is_digits(digits):
        raise ValueError("check digit: input must be a non-empty digit string")
    total = 0
    w = 3
    for i in range(len(digits) - 1, -1, -1):
        total += (ord(digits[i]) - 48) * w
        w = 4 - w
    return (10 - total % 10) % 10


def _int_serial(s, bits, what):
    if not _is_digits(s) or (len(s) > 1 and s[0] == "0") or int(s) >= 1 << bits:
        raise ValueError("%s must be a decimal integer < 2^%d without leading zeros: %r"
                         % (what, bits, s))
    return s


def _str_serial(s):
    if not 1 <= len(s) <= 20:
        raise ValueError("SGTIN-198 serial must be 1 to 20 characters: %r" % s)
    for c in s:
        if c not in _CSET82:
            raise ValueError("SGTIN-198 serial character %r is not in GS1 CSET 82" % c)
    return s


class Epc:
    """One decoded EPC: scheme, bits, filter, partition and its URI fields.

    company_prefix and reference are the padded digit strings of the URI;
    serial is the raw (unescaped) serial, SGLN extension, or None.
    """

    def __init__(self, scheme, bits, filter, company_prefix, reference, serial):
        self.scheme = scheme
        self.bits = bits
        self.filter = filter
        self.partition = 12 - len(company_prefix)
        self.company_prefix = company_prefix
        self.reference = reference
        self.serial = serial

    @property
    def fields(self):
        if self.serial is None:
            return (self.company_prefix, self.reference)
        return (self.company_prefix, self.reference, _escape(self.serial, _URI_KEEP))

    @property
    def pure_uri(self):
        return "urn:epc:id:%s:%s" % (self.scheme, ".".join(self.fields))

    @property
    def tag_uri(self):
        return "urn:epc:tag:%s-%d:%d.%s" % (self.scheme, self.bits, self.filter,
                                            ".".join(self.fields))

    def __eq__(self, other):
        return isinstance(other, Epc) and self.tag_uri == other.tag_uri

    def __hash__(self):
        return hash(self.tag_uri)

    def __repr__(self):
        return "Epc(%r)" % self.tag_uri

    def to_bytes(self):
        p = self.partition
        ref_bits = _REF_BITS[self.scheme][p]
        v = (_HEADER_OF[(self.scheme, self.bits)] << 3 | self.filter) << 3 | p
        v = v << _CP_BITS[p] | int(self.company_prefix)
        v = v << ref_bits | (int(self.reference) if self.reference else 0)
        if self.bits == 198:
            for i in range(20):
                v = v << 7 | (ord(self.serial[i]) if i < len(self.serial) else 0)
            return (v << 10).to_bytes(26, "big")  # 198 bits padded to 13 words
        if self.scheme == "sscc":
            return (v << 24).to_bytes(12, "big")
        if self.serial is not None:  # the serial fills the rest of the 96 bits
            v = v << (82 - _CP_BITS[p] - ref_bits) | int(self.serial)
        return v.to_bytes(12, "big")


def decode(b):
    """Decode EPC tag bytes (12 bytes for 96-bit schemes, 26 for SGTIN-198) to an Epc."""
    b = bytes(b)
    if not b:
        raise ValueError("EPC is empty")
    h = b[0]
    if h not in _HEADERS:
        name = _UNSUPPORTED.get(h)
        raise ValueError("EPC header 0x%02X %s" % (h, "(%s) is not supported" % name
                                                  if name else "is unknown"))
    scheme, bits = _HEADERS[h]
    nbytes = 12 if bits == 96 else 26
    if len(b) != nbytes:
        raise ValueError("EPC length: %s-%d needs %d bytes, got %d"
                         % (scheme.upper(), bits, nbytes, len(b)))
    v = int.from_bytes(b, "big")
    pos = [nbytes * 8 - 8]

    def take(n):
        pos[0] -= n
        return (v >> pos[0]) & ((1 << n) - 1)

    filt = take(3)
    p = take(3)
    if p == 7:
        raise ValueError("EPC partition 7 is invalid")
    cp = take(_CP_BITS[p])
    if cp >= 10 ** (12 - p):
        raise ValueError("EPC company prefix %d exceeds %d digits" % (cp, 12 - p))
    ref = take(_REF_BITS[scheme][p])
    if scheme == "giai":
        return Epc(scheme, bits, filt, _pad(cp, 12 - p), str(ref), None)
    width = _REF_DIGITS[scheme] - (12 - p)
    if ref >= 10 ** width:
        raise ValueError("EPC %s reference %d exceeds %d digits" % (scheme, ref, width))
    serial = None
    if scheme == "sscc":
        if take(24):
            raise ValueError("SSCC-96 trailing 24 bits must be zero")
    elif bits == 198:
        chars = []
        for _ in range(20):
            c = take(7)
            if c and len(chars) and chars[-1] == "":
                raise ValueError("SGTIN-198 serial has characters after its zero terminator")
            chars.append(chr(c) if c else "")
        serial = _str_serial("".join(chars))
        if take(10):
            raise ValueError("SGTIN-198 padding bits (199-208) must be zero")
    else:
        serial = str(take(_SERIAL_BITS[(scheme, bits)]))
    return Epc(scheme, bits, filt, _pad(cp, 12 - p), _pad(ref, width), serial)


def _unhex(hex_str):
    if not isinstance(hex_str, str) or len(hex_str) % 2:
        raise ValueError("EPC hex must be a string of an even number of hex digits")
    for c in hex_str:
        if c not in _HEX:
            raise ValueError("EPC hex has a non-hex character %r" % c)
    return binascii.unhexlify(hex_str)


def decode_hex(hex_str):
    """Pure identity URI of an EPC given as hex (upper or lower case)."""
    return decode(_unhex(hex_str)).pure_uri


def from_uri(uri, filter=None, scheme_bits=None):
    """Parse a pure identity or tag URI into an Epc (checks every encoding rule).

    A tag URI carries its filter and size; filter/scheme_bits, if given, must agree.
    For a pure URI the filter defaults to 0 and scheme_bits to 96.
    """
    if not isinstance(uri, str):
        raise ValueError("EPC URI must be a string")
    if uri.startswith("urn:epc:tag:"):
        head, body = _cut(uri[12:], ":")
        scheme, size = _cut(head, "-")
        if size not in ("96", "198"):
            raise ValueError("EPC tag URI scheme %r is not supported" % head)
        f, body = _cut(body, ".")
        if len(f) != 1 or f not in "01234567":
            raise ValueError("EPC tag URI filter must be a digit 0-7: %r" % f)
        if filter is not None and filter != int(f):
            raise ValueError("EPC filter argument %r disagrees with tag URI" % filter)
        if scheme_bits is not None and scheme_bits != int(size):
            raise ValueError("EPC scheme_bits %r disagrees with tag URI" % scheme_bits)
        filter, scheme_bits = int(f), int(size)
    elif uri.startswith("urn:epc:id:"):
        scheme, body = _cut(uri[11:], ":")
    else:
        raise ValueError("not an EPC URI (urn:epc:id: or urn:epc:tag:): %r" % uri)
    filter = 0 if filter is None else filter
    bits = 96 if scheme_bits is None else scheme_bits
    if scheme not in _REF_BITS:
        raise ValueError("EPC scheme %r is not supported" % scheme)
    if (scheme, bits) not in _HEADER_OF:
        raise ValueError("EPC scheme %s-%r is not supported" % (scheme, bits))
    if not isinstance(filter, int) or isinstance(filter, bool) or not 0 <= filter <= 7:
        raise ValueError("EPC filter must be an integer 0-7: %r" % (filter,))
    parts = body.split(".", 1 if scheme in ("sscc", "giai") else 2)
    if len(parts) != (2 if scheme in ("sscc", "giai") else 3):
        raise ValueError("EPC URI %s has the wrong number of fields: %r" % (scheme, uri))
    cp, ref = parts[0], parts[1]
    if not _is_digits(cp) or not 6 <= len(cp) <= 12:
        raise ValueError("EPC company prefix must be 6-12 digits: %r" % cp)
    p = 12 - len(cp)
    serial = None
    if scheme == "giai":
        _int_serial(ref, _REF_BITS["giai"][p], "GIAI-96 asset reference")
    else:
        width = _REF_DIGITS[scheme] - len(cp)
        if len(ref) != width or (width and not _is_digits(ref)):
            raise ValueError("EPC %s reference must be %d digits after a %d-digit company "
                             "prefix: %r" % (scheme, width, len(cp), ref))
    if scheme in ("sgtin", "sgln", "grai"):
        if bits == 198:
            serial = _str_serial(_uri_unescape(parts[2]))
        else:
            what = {"sgln": "SGLN-96 extension", "grai": "GRAI-96 serial",
                    "sgtin": "SGTIN-96 serial (else use scheme_bits=198)"}[scheme]
            serial = _int_serial(parts[2], _SERIAL_BITS[(scheme, 96)], what)
    return Epc(scheme, bits, filter, cp, ref, serial)


def encode(uri, filter=None, scheme_bits=None):
    """Tag bytes for a pure identity URI (+ filter, scheme_bits) or a tag URI."""
    return from_uri(uri, filter, scheme_bits).to_bytes()


def encode_hex(uri, filter=None, scheme_bits=None):
    """Upper-case hex of encode()."""
    return binascii.hexlify(encode(uri, filter, scheme_bits)).decode().upper()


def to_digital_link_path(uri):
    """GS1 Digital Link path (no domain) for a pure identity or tag URI."""
    try:
        e = from_uri(uri)
    except ValueError:
        if not uri.startswith("urn:epc:id:sgtin:"):
            raise
        e = from_uri(uri, scheme_bits=198)  # alphanumeric serial
    cp, ref, s = e.company_prefix, e.reference, e.serial
    if e.scheme == "sgtin":
        key = ref[0] + cp + ref[1:]
        return "/01/%s%d/21/%s" % (key, check_digit(key), _escape(s, _UNRESERVED))
    if e.scheme == "sscc":
        key = ref[0] + cp + ref[1:]
        return "/00/%s%d" % (key, check_digit(key))
    if e.scheme == "sgln":
        path = "/414/%s%d" % (cp + ref, check_digit(cp + ref))
        return path if s == "0" else path + "/254/" + s
    if e.scheme == "grai":
        return "/8003/0%s%d%s" % (cp + ref, check_digit(cp + ref), s)
    return "/8004/" + cp + ref
