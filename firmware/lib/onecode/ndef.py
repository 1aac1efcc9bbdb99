"""NDEF on NFC Forum tags: find the message in tag memory, read its URI record.

Type 2 tags (NTAG 21x, read in 4-page blocks): page 3 is the capability container
(`check_cc`), the data area from page 4 holds TLVs (`find_ndef_tlv`: 0x03 NDEF
Message, 0xFE terminator, 1- and 3-byte lengths). Type 4 tags (NTAG 424 DNA): the
NDEF file starts with a 2-byte NLEN (`t4t_*` APDUs and `url_from_type4_file`).
`records` splits an NDEF message (MB/ME/CF/SR/IL/TNF header); `uri` expands a
well-known URI record ('U') with the NFC Forum URI RTD prefix table. `uri_record`
and `message_tlv` write the same formats (tests, virtual tags).

It must never do I/O or keep state, and never read past the bytes it is given:
malformed data raises ValueError saying what and where, truncation included.
"""

TLV_NULL, TLV_LOCK_CONTROL, TLV_MEMORY_CONTROL = 0x00, 0x01, 0x02
TLV_NDEF, TLV_PROPRIETARY, TLV_TERMINATOR = 0x03, 0xFD, 0xFE
CC_MAGIC = 0xE1

TNF_EMPTY, TNF_WELL_KNOWN, TNF_MEDIA, TNF_URI = 0x00, 0x01, 0x02, 0x03
TNF_EXTERNAL, TNF_UNKNOWN, TNF_UNCHANGED = 0x04, 0x05, 0x06
MB, ME, CF, SR, IL = 0x80, 0x40, 0x20, 0x10, 0x08

# URI identifier codes 0x00-0x23 (NFC Forum URI RTD 1.0 table 3); 0x24-0xFF RFU.
URI_PREFIXES = (
    "", "http://www.", "https://www.", "http://", "https://", "tel:", "mailto:",
    "ftp://anonymous:anonymous@", "ftp://ftp.", "ftps://", "sftp://", "smb://",
    "nfs://", "ftp://", "dav://", "news:", "telnet://", "imap:", "rtsp://", "urn:",
    "pop:", "sip:", "sips:", "tftp:", "btspp://", "btl2cap://", "btgoep://",
    "tcpobex://", "irdaobex://", "file://", "urn:epc:id:", "urn:epc:tag:",
    "urn:epc:pat:", "urn:epc:raw:", "urn:epc:", "urn:nfc:")

# Type 4 Tag (ISO/IEC 7816-4 APDUs): NDEF Tag Application, NTAG 424 DNA's NDEF file
T4T_SELECT_NDEF_APP = b"\x00\xa4\x04\x00\x07\xd2\x76\x00\x00\x85\x01\x01\x00"
T4T_NDEF_FILE = 0xE104
SW_OK = b"\x90\x00"


def check_cc(cc):
    """Data area size in bytes of a Type 2 capability container (page 3)."""
    if len(cc) < 4:
        raise ValueError("capability container too short: %d bytes" % len(cc))
    if cc[0] != CC_MAGIC:
        raise ValueError("no NDEF capability container (byte 0 is 0x%02x, not 0xE1)" % cc[0])
    if cc[1] >> 4 != 1:
        raise ValueError("unsupported Type 2 mapping version %d.%d" % (cc[1] >> 4, cc[1] & 15))
    if cc[3] >> 4:
        raise ValueError("NDEF read access denied (CC byte 3 is 0x%02x)" % cc[3])
    return cc[2] * 8


def find_ndef_tlv(data, start=0):
    """(offset, length) of the first NDEF Message TLV's value in a Type 2 data area,
    or None if `data` ends before that TLV's header does (read more and retry).
    NULL TLVs are skipped, Lock/Memory Control, proprietary and unknown TLVs are
    skipped by their length; a terminator before any NDEF TLV is an error."""
    i = start
    n = len(data)
    while i < n:
        t = data[i]
        if t == TLV_NULL:
            i += 1
            continue
        if t == TLV_TERMINATOR:
            raise ValueError("terminator TLV at offset %d before any NDEF message TLV" % i)
        if i + 1 >= n:
            return None
        ln = data[i + 1]
        hdr = 2
        if ln == 0xFF:
            if i + 3 >= n:
                return None
            ln = (data[i + 2] << 8) | data[i + 3]
            hdr = 4
            if ln == 0xFFFF:
                raise ValueError("TLV at offset %d: length 0xFFFF is reserved" % i)
        if t == TLV_NDEF:
            return i + hdr, ln
        i += hdr + ln
    return None


def records(msg):
    """[(tnf, type, id, payload), ...] of an NDEF message (bytes). Chunked records
    are refused; the first record must carry MB, the last ME, nothing may follow."""
    out = []
    i = 0
    n = len(msg)
    if n == 0:
        raise ValueError("empty NDEF message")
    while i < n:
        at = i
        h = msg[i]
        tnf = h & 7
        if (h & MB) != (MB if at == 0 else 0):
            raise ValueError("record at offset %d: MB flag %s" % (at, "missing" if at == 0 else "repeated"))
        if h & CF or tnf == TNF_UNCHANGED:
            raise ValueError("record at offset %d: chunked records are not supported" % at)
        if tnf == 7:
            raise ValueError("record at offset %d: TNF 7 is reserved" % at)
        need = 2 + (1 if h & SR else 4) + (1 if h & IL else 0)
        if i + need > n:
            raise ValueError("record at offset %d: header truncated" % at)
        type_len = msg[i + 1]
        i += 2
        if h & SR:
            plen = msg[i]
            i += 1
        else:
            plen = (msg[i] << 24) | (msg[i + 1] << 16) | (msg[i + 2] << 8) | msg[i + 3]
            i += 4
        id_len = 0
        if h & IL:
            id_len = msg[i]
            i += 1
        if tnf == TNF_EMPTY and (type_len or plen or id_len):
            raise ValueError("record at offset %d: empty record (TNF 0) with content" % at)
        if i + type_len + id_len + plen > n:
            raise ValueError("record at offset %d: %d payload bytes, %d left"
                             % (at, plen, n - i - type_len - id_len))
        rtype = bytes(msg[i:i + type_len])
        i += type_len
        rid = bytes(msg[i:i + id_len])
        i += id_len
        out.append((tnf, rtype, rid, bytes(msg[i:i + plen])))
        i += plen
        if h & ME:
            if i != n:
                raise ValueError("%d bytes after the record with ME" % (n - i))
            return out
    raise ValueError("NDEF message ends without a record flagged ME")


def uri(payload):
    """The URI of a well-known URI record's payload (prefix code + UTF-8 rest)."""
    if len(payload) < 1:
        raise ValueError("URI record with an empty payload")
    code = payload[0]
    if code >= len(URI_PREFIXES):
        raise ValueError("URI identifier code 0x%02x is reserved" % code)
    try:
        rest = bytes(payload[1:]).decode("utf-8")
    except (UnicodeError, ValueError):
        raise ValueError("URI record: not UTF-8")
    return URI_PREFIXES[code] + rest


def first_uri(msg):
    """The URI of the first URI record of an NDEF message, looking one level into
    Smart Poster ('Sp') records."""
    for tnf, rtype, _rid, payload in records(msg):
        if tnf == TNF_WELL_KNOWN and rtype == b"U":
            return uri(payload)
        if tnf == TNF_WELL_KNOWN and rtype == b"Sp":
            for tnf2, rtype2, _r, p2 in records(payload):
                if tnf2 == TNF_WELL_KNOWN and rtype2 == b"U":
                    return uri(p2)
    raise ValueError("no URI record in the NDEF message")


def url_from_type2(data):
    """URI of the NDEF message in a Type 2 data area (bytes from page 4 on)."""
    span = find_ndef_tlv(data)
    if span is None or span[0] + span[1] > len(data):
        raise ValueError("NDEF message TLV truncated at %d bytes" % len(data))
    return first_uri(memoryview(data)[span[0]:span[0] + span[1]])


def type4_nlen(data):
    if len(data) < 2:
        raise ValueError("NDEF file shorter than its 2-byte NLEN")
    return (data[0] << 8) | data[1]


def url_from_type4_file(data):
    """URI of the NDEF message in a Type 4 NDEF file (NLEN then the message)."""
    n = type4_nlen(data)
    if 2 + n > len(data):
        raise ValueError("NDEF file: NLEN %d, only %d bytes" % (n, len(data) - 2))
    return first_uri(memoryview(data)[2:2 + n])


def t4t_select_file(fid):
    return bytes((0x00, 0xA4, 0x00, 0x0C, 0x02, fid >> 8, fid & 0xFF))


def t4t_read_binary(offset, length):
    if not 0 <= offset <= 0x7FFF or not 1 <= length <= 255:
        raise ValueError("READ BINARY offset %d length %d out of range" % (offset, length))
    return bytes((0x00, 0xB0, offset >> 8, offset & 0xFF, length))


def t4t_data(response):
    """Data of an APDU response; ValueError unless it ends with status word 90 00."""
    if len(response) < 2:
        raise ValueError("APDU response without a status word")
    if bytes(response[-2:]) != SW_OK:
        raise ValueError("APDU status %02X%02X" % (response[-2], response[-1]))
    return bytes(response[:-2])


def uri_record(url, flags=MB | ME):
    """A well-known URI record with the longest matching prefix abbreviated."""
    code = 0
    for c in range(1, len(URI_PREFIXES)):
        p = URI_PREFIXES[c]
        if url.startswith(p) and len(p) > len(URI_PREFIXES[code]):
            code = c
    payload = bytes((code,)) + url[len(URI_PREFIXES[code]):].encode("utf-8")
    n = len(payload)
    if n < 256:
        return bytes((flags | SR | TNF_WELL_KNOWN, 1, n)) + b"U" + payload
    return (bytes((flags | TNF_WELL_KNOWN, 1, n >> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255))
            + b"U" + payload)


def message_tlv(msg):
    """NDEF Message TLV (1- or 3-byte length) followed by the terminator TLV."""
    n = len(msg)
    head = bytes((TLV_NDEF, n)) if n < 0xFF else bytes((TLV_NDEF, 0xFF, n >> 8, n & 0xFF))
    return head + bytes(msg) + bytes((TLV_TERMINATOR,))
