"""NXP PN532 host-link frames (UM0701-02 section 6.2): build, split and decode.

Pure codec for the handheld's NFC front end: byte-exact command frames of REFERENCE
section 8 (normal information frames `00 00 FF LEN LCS TFI DATA DCS 00`, ACK, NACK,
the syntax-error frame, the HSU wake-up preamble), a resynchronising stream parser
(`FrameParser`) and decoders for the responses the driver uses.

Extended information frames (`00 00 FF FF FF LENM LENL ...`, more than 254 data
bytes) are not implemented: nothing the driver sends or expects comes near that
size, and the parser drops such a frame as a bad LCS.

It must never do I/O, sleep or read a clock, and the parser must never raise on
any input: garbage and frames with a bad LCS or DCS are counted and dropped.
"""

TFI_HOST = 0xD4   # host -> PN532
TFI_PN532 = 0xD5  # PN532 -> host
TFI_ERROR = 0x7F  # application-level (syntax) error frame

CMD_GET_FIRMWARE_VERSION = 0x02
CMD_SAM_CONFIGURATION = 0x14
CMD_RF_CONFIGURATION = 0x32
CMD_IN_DATA_EXCHANGE = 0x40
CMD_IN_LIST_PASSIVE_TARGET = 0x4A

RF_CFG_MAX_RETRIES = 0x05
NTAG_READ = 0x30       # Type 2 READ: 4 pages (16 bytes) from the page given
BRTY_106A = 0x00       # 106 kbps type A (ISO/IEC 14443 A)

ACK = b"\x00\x00\xff\x00\xff\x00"
NACK = b"\x00\x00\xff\xff\x00\x00"
ERROR_FRAME = b"\x00\x00\xff\x01\xff\x7f\x81\x00"
# HSU (UART) wake-up: 55 55 then zeros, sent right before the first command
# (16 bytes as libnfc's pn532_uart driver sends them).
WAKEUP = b"\x55\x55" + bytes(14)

KIND_ACK = 0x100   # FrameParser kinds beyond the TFI byte values
KIND_NACK = 0x101
MAX_DATA = 254     # TFI + data fit in LEN (one byte)

# InDataExchange status: low 6 bits are the error code (UM0701-02 table 7.1)
STATUS_ERRORS = {0x01: "timeout", 0x02: "CRC error", 0x03: "parity error",
                 0x05: "framing error", 0x0B: "RF protocol error",
                 0x13: "DEP data format mismatch", 0x14: "authentication error",
                 0x27: "command not acceptable in this context",
                 0x29: "target released", 0x2B: "card disappeared"}


def checksum(buf, start=0, end=None):
    """The byte that makes sum(buf[start:end]) + it == 0 (mod 256)."""
    if end is None:
        end = len(buf)
    s = 0
    for i in range(start, end):
        s += buf[i]
    return (-s) & 0xFF


def build(data, tfi=TFI_HOST):
    """Normal information frame around TFI + data (data starts with the command code)."""
    n = len(data) + 1
    if n > MAX_DATA + 1:
        raise ValueError("frame data too long: %d bytes (extended frames not supported)"
                         % len(data))
    body = bytes((tfi,)) + bytes(data)
    return b"\x00\x00\xff" + bytes((n, (-n) & 0xFF)) + body + bytes((checksum(body), 0))


def build_response(cmd, data=b""):
    """PN532-to-host frame answering `cmd`: D5, cmd + 1, data."""
    return build(bytes(((cmd + 1) & 0xFF,)) + bytes(data), TFI_PN532)


def cmd_get_firmware_version():
    return build(b"\x02")


def cmd_sam_configuration(mode=1, timeout=0x14, irq=1):
    """Mode 1 = normal (no SAM); timeout in 50 ms units (virtual card mode only);
    irq 1 = drive the P70_IRQ pin."""
    return build(bytes((CMD_SAM_CONFIGURATION, mode, timeout, irq)))


def cmd_rf_max_retries(atr=0xFF, psl=0x01, passive=0x02):
    """RFConfiguration item 5 (MaxRetries). `passive` bounds the activation retries of
    InListPassiveTarget; the power-on 0xFF retries forever, so without this a scan
    with no tag in the field never answers."""
    return build(bytes((CMD_RF_CONFIGURATION, RF_CFG_MAX_RETRIES, atr, psl, passive)))


def cmd_in_list_passive_target(max_tg=1, brty=BRTY_106A):
    return build(bytes((CMD_IN_LIST_PASSIVE_TARGET, max_tg, brty)))


def cmd_in_data_exchange(tg, data):
    return build(bytes((CMD_IN_DATA_EXCHANGE, tg)) + bytes(data))


def cmd_ntag_read(page, tg=1):
    """InDataExchange carrying the Type 2 READ command (0x30, page)."""
    return cmd_in_data_exchange(tg, bytes((NTAG_READ, page & 0xFF)))


class FrameParser:
    """Splits a byte stream into checked frames inside one fixed buffer.

    `feed(data)` returns a list of (kind, payload bytes): kind is KIND_ACK or
    KIND_NACK (payload b""), or the frame's TFI (0xD5 responses, 0xD4 commands,
    0x7F error frame) with payload = the bytes after the TFI.
    Bounds: the buffer holds one largest normal frame (260 bytes from its start
    code). 0x00 bytes between frames are preamble, postamble or idle fill and are
    skipped silently; any other byte outside a frame is dropped and counted in
    `garbage_bytes`. A start code with a bad LCS or a frame with a bad DCS is
    counted (`lcs_errors`, `dcs_errors`) and parsing resumes one byte later, so a
    valid frame inside a corrupted one is still found.
    """

    SIZE = 260  # 00 FF LEN LCS TFI+DATA(255) DCS

    def __init__(self):
        self._buf = bytearray(self.SIZE)
        self._mv = memoryview(self._buf)
        self._r = 0
        self._w = 0
        self.frames = 0
        self.acks = 0
        self.nacks = 0
        self.lcs_errors = 0
        self.dcs_errors = 0
        self.garbage_bytes = 0

    @property
    def pending(self):
        """Bytes held that do not yet form a complete frame; a lone 0x00 (the
        postamble of the last frame, or fill) does not count."""
        n = self._w - self._r
        return 0 if n == 1 and self._buf[self._r] == 0 else n

    def reset(self):
        self._r = self._w = 0

    def feed(self, data):
        out = []
        n = len(data) if data else 0
        src = memoryview(data) if n else None
        i = 0
        while True:
            if self._r == self._w:
                self._r = self._w = 0
            elif self._r > 0 and self.SIZE - self._w < n - i:
                self._compact()
            take = min(self.SIZE - self._w, n - i)
            if take > 0:
                self._buf[self._w:self._w + take] = src[i:i + take]
                self._w += take
                i += take
            self._scan(out)
            if i >= n:
                break
        return out

    def resync(self):
        """Give up on the frame start held (a truncated frame followed by silence):
        drop its first byte and parse what follows."""
        out = []
        if self._r < self._w:
            if self._buf[self._r]:
                self.garbage_bytes += 1
            self._r += 1
            self._scan(out)
        return out

    def _compact(self):
        # A byte loop: overlapping slice moves are not safe on every port.
        buf = self._buf
        r = self._r
        k = self._w - r
        for j in range(k):
            buf[j] = buf[r + j]
        self._r = 0
        self._w = k

    def _scan(self, out):
        buf = self._buf
        r = self._r
        w = self._w
        while r < w:
            if buf[r]:
                self.garbage_bytes += 1
                r += 1
                continue
            if r + 1 >= w:
                break
            if buf[r + 1] != 0xFF:
                r += 1  # preamble / postamble / fill
                continue
            if r + 4 > w:
                break
            ln = buf[r + 2]
            lcs = buf[r + 3]
            if ln == 0 and lcs == 0xFF:
                self.acks += 1
                out.append((KIND_ACK, b""))
                r += 4
                continue
            if ln == 0xFF and lcs == 0:
                self.nacks += 1
                out.append((KIND_NACK, b""))
                r += 4
                continue
            if ln == 0 or (ln + lcs) & 0xFF:
                self.lcs_errors += 1
                r += 1
                continue
            end = r + 4 + ln  # index of DCS
            if end >= w:
                break
            if checksum(buf, r + 4, end + 1):
                self.dcs_errors += 1
                r += 1
                continue
            self.frames += 1
            out.append((buf[r + 4], bytes(self._mv[r + 5:end])))
            r = end + 1
        self._r = r



def _expect(payload, cmd, minimum):
    if len(payload) < 1 or payload[0] != ((cmd + 1) & 0xFF):
        raise ValueError("not a response to command 0x%02x: %r" % (cmd, bytes(payload[:1])))
    if len(payload) < minimum:
        raise ValueError("response to 0x%02x too short: %d bytes" % (cmd, len(payload)))


def decode_firmware_version(payload):
    """(IC, Ver, Rev, Support) of a GetFirmwareVersion response (after the TFI)."""
    _expect(payload, CMD_GET_FIRMWARE_VERSION, 5)
    return (payload[1], payload[2], payload[3], payload[4])


class Target:
    """One 106 kbps type A target of an InListPassiveTarget response."""

    def __init__(self, tg, sens_res, sel_res, uid, ats):
        self.tg = tg
        self.sens_res = sens_res  # 2 bytes as sent (ATQA)
        self.sel_res = sel_res    # SAK
        self.uid = uid
        self.ats = ats            # b"" unless the PN532 ran RATS (ISO-DEP target)

    @property
    def iso_dep(self):
        """SAK bit 6: the target speaks ISO/IEC 14443-4 (e.g. NTAG 424 DNA)."""
        return bool(self.sel_res & 0x20)

    def __repr__(self):
        return "Target(tg=%d, sel_res=0x%02x, uid=%r)" % (self.tg, self.sel_res, self.uid)


def decode_in_list_passive_target(payload):
    """[Target, ...] of a 106 kbps type A InListPassiveTarget response: after D5 4B,
    NbTg then per target Tg, SENS_RES(2), SEL_RES, NFCIDLength, NFCID1 and, for an
    ISO-DEP target, the ATS (its first byte TL counts itself)."""
    _expect(payload, CMD_IN_LIST_PASSIVE_TARGET, 2)
    p = payload
    n = len(p)
    count = p[1]
    if count > 2:
        raise ValueError("NbTg %d: at most 2 targets" % count)
    out = []
    i = 2
    for _ in range(count):
        if i + 5 > n:
            raise ValueError("target %d truncated in its header" % (len(out) + 1))
        k = p[i + 4]
        if k not in (4, 7, 10) or i + 5 + k > n:
            raise ValueError("bad UID length %d" % k)
        uid = bytes(p[i + 5:i + 5 + k])
        sel_res = p[i + 3]
        j = i + 5 + k
        ats = b""
        if sel_res & 0x20 and j < n:
            tl = p[j]
            if tl < 1 or j + tl > n:
                raise ValueError("bad ATS length %d" % tl)
            ats = bytes(p[j:j + tl])
            j += tl
        out.append(Target(p[i], bytes(p[i + 1:i + 3]), sel_res, uid, ats))
        i = j
    if i != n:
        raise ValueError("%d bytes after the last target" % (n - i))
    return out


def decode_in_data_exchange(payload):
    """(status, data) of an InDataExchange response; status 0 is success (the low
    6 bits are the error code, see STATUS_ERRORS)."""
    _expect(payload, CMD_IN_DATA_EXCHANGE, 2)
    return payload[1], bytes(payload[2:])


def status_text(status):
    code = status & 0x3F
    return "status 0x%02x (%s)" % (code, STATUS_ERRORS.get(code, "error"))
