"""MagicRF M100 / QM100 serial protocol (YRM100, JRD-100, R200-class modules): frames.

Pure codec for the single-port UHF reader modules: builds the byte-exact command
frames of REFERENCE section 7, splits the module's byte stream into checked frames
(`FrameParser`) and decodes tag notices and error frames (`parse_notice`).

Frame: BB | Type | Cmd | PL_hi PL_lo | Params[PL] | CS | 7E, CS = low byte of the sum of
Type through the last parameter. BB and 7E may occur inside the parameters, so a frame
ends where PL says, never at the first 7E.

It must never do I/O, sleep or read a clock, and the stream parser must never raise
on any input nor allocate per received byte: it works in one preallocated buffer.
"""
import struct

from onecode import mercury_frame
from onecode.mercury_frame import gen2_crc16  # the Gen2 EPC CRC: one definition

HEADER, END = 0xBB, 0x7E
TYPE_COMMAND, TYPE_RESPONSE, TYPE_NOTICE = 0x00, 0x01, 0x02
# Frame types a parser accepts, as a bit mask of 1 << type
ANY_TYPE = 0x07
FROM_MODULE = (1 << TYPE_RESPONSE) | (1 << TYPE_NOTICE)  # what a host ever receives
FROM_HOST = 1 << TYPE_COMMAND
OVERHEAD = 7  # BB Type Cmd PL PL ... CS 7E

# Command codes
CMD_INFO = 0x03
CMD_SET_REGION, CMD_GET_REGION = 0x07, 0x08
CMD_SINGLE_INVENTORY = 0x22  # also the Cmd of every tag notice
CMD_MULTI_POLL, CMD_STOP_POLL = 0x27, 0x28
CMD_SET_POWER, CMD_GET_POWER = 0xB6, 0xB7
CMD_ERROR = 0xFF

INFO_HARDWARE, INFO_SOFTWARE, INFO_MANUFACTURER = 0x00, 0x01, 0x02
MULTI_POLL_RESERVED = 0x22  # first parameter byte of multiple polling
MAX_ROUNDS = 0xFFFF

# Region ("work area") codes of Cmd 0x07/0x08
REGION_CN900, REGION_US, REGION_EU, REGION_CN800, REGION_KR = 0x01, 0x02, 0x03, 0x04, 0x06
REGIONS = (REGION_CN900, REGION_US, REGION_EU, REGION_CN800, REGION_KR)

# The portal's provisioned config speaks Mercury region codes; this maps those that
# have an M100 counterpart (NA/NA2/NA3 -> US, EU, PRC -> China 900 MHz, KR).
MERCURY_REGIONS = {0x01: REGION_US, 0x0D: REGION_US, 0x0E: REGION_US, 0x08: REGION_EU,
                   0x06: REGION_CN900, 0x09: REGION_KR}

# Error codes (parameter of a Cmd 0xFF frame)
ERR_READ_FAIL, ERR_WRITE_FAIL, ERR_KILL_FAIL, ERR_LOCK_FAIL = 0x09, 0x10, 0x12, 0x13
ERR_NO_TAG = 0x15  # "inventory fail": an inventory round found no tag
ERR_ACCESS_FAIL, ERR_COMMAND, ERR_FHSS_FAIL = 0x16, 0x17, 0x20

MAX_PARAMS = 255  # default parser bound: a notice with the longest EPC (62 bytes) is 67
MAX_EPC = 62  # 31 words: the most the PC length field can say


def checksum(buf, start=0, end=None):
    """Low byte of the sum of buf[start:end] (Type through the last parameter)."""
    if end is None:
        end = len(buf)
    return sum(memoryview(buf)[start:end]) & 0xFF


def build(cmd, params=b"", frame_type=TYPE_COMMAND):
    """A whole frame: BB Type Cmd PL_hi PL_lo Params CS 7E."""
    n = len(params)
    if n > 0xFFFF:
        raise ValueError("frame parameters too long: %d bytes" % n)
    f = bytearray(n + OVERHEAD)
    f[0] = HEADER
    f[1] = frame_type
    f[2] = cmd
    f[3] = n >> 8
    f[4] = n & 0xFF
    f[5:5 + n] = params
    f[5 + n] = checksum(f, 1, 5 + n)
    f[6 + n] = END
    return bytes(f)


def build_response(cmd, params=b""):
    """Module-to-host response frame (Type 01)."""
    return build(cmd, params, TYPE_RESPONSE)


def build_error(code):
    """Module-to-host error frame: Type 01, Cmd FF, one parameter, the error code."""
    return build(CMD_ERROR, bytes((code & 0xFF,)), TYPE_RESPONSE)


def build_notice(epc, rssi=-60, pc=None, crc=None):
    """Inverse of parse_notice: a Type 02 / Cmd 22 tag notice. PC defaults to the
    EPC length in words (bits 15..11); CRC to the Gen2 CRC over PC+EPC."""
    n = len(epc)
    if n & 1 or n > MAX_EPC:
        raise ValueError("epc must be a whole number of words, at most 31: %d bytes" % n)
    if pc is None:
        pc = (n // 2) << 11
    tag = struct.pack(">H", pc) + bytes(epc)
    if crc is None:
        crc = gen2_crc16(tag)
    return build(CMD_SINGLE_INVENTORY, struct.pack(">b", rssi) + tag + struct.pack(">H", crc),
                 TYPE_NOTICE)


def _u16(value, what):
    if not 0 <= value <= 0xFFFF:
        raise ValueError("%s %d out of range" % (what, value))
    return struct.pack(">H", value)


def cmd_single_inventory():
    return build(CMD_SINGLE_INVENTORY)


def cmd_multi_poll(rounds=10000):
    """Multiple polling: reserved 0x22, then the number of inventory rounds (big-endian)."""
    return build(CMD_MULTI_POLL, bytes((MULTI_POLL_RESERVED,)) + _u16(rounds, "round count"))


def cmd_stop_poll():
    return build(CMD_STOP_POLL)


def cmd_info(kind=INFO_HARDWARE):
    """Module information: 0x00 hardware version, 0x01 software version, 0x02 maker."""
    if kind not in (INFO_HARDWARE, INFO_SOFTWARE, INFO_MANUFACTURER):
        raise ValueError("unknown information kind 0x%02x" % kind)
    return build(CMD_INFO, bytes((kind,)))


def cmd_hardware_version():
    return cmd_info(INFO_HARDWARE)


def cmd_software_version():
    return cmd_info(INFO_SOFTWARE)


def cmd_manufacturer():
    return cmd_info(INFO_MANUFACTURER)


def cmd_set_power(centi_dbm):
    """TX power in centi-dBm, big-endian (2600 = 26.00 dBm)."""
    return build(CMD_SET_POWER, _u16(centi_dbm, "tx power"))


def cmd_get_power():
    return build(CMD_GET_POWER)


def cmd_set_region(code):
    if code not in REGIONS:
        raise ValueError("unknown M100 region 0x%02x" % code)
    return build(CMD_SET_REGION, bytes((code,)))


def cmd_get_region():
    return build(CMD_GET_REGION)


class FrameParser(mercury_frame.FrameParser):
    """Splits a byte stream into checked frames inside one fixed buffer.

    The buffering (feed, resync, reset, pending, compaction) is Mercury's parser's,
    one definition for both; this class gives the buffer size and the frame rule.
    `feed(data)` returns a list of (type, cmd, payload bytes); with a `handler` it calls
    handler(type, cmd, payload_memoryview) instead (the view is only valid during the
    call) and returns the number of frames. A frame is accepted when its type is in
    the `types` mask (FROM_MODULE on the host: fewer false starts pass), PL <=
    `max_params`, the checksum matches and the byte after it is 7E. An 8-bit checksum
    lets about one false start in 65536 (BB in noise or inside a damaged frame) pass
    with its 7E: such a frame is returned, and can swallow the real frame behind it.
    Bounds: the buffer holds exactly one frame of `max_params` parameters. A byte that
    cannot start a valid frame is dropped and counted in `garbage_bytes` (the BB of a
    frame failing its checksum or end byte included, also counted in `crc_errors`);
    parsing resumes at the next BB. A frame announcing more than `max_params` is
    dropped the same way, as soon as its PL is seen. `resync()` gives up on a frame
    start held (drops its BB) when the line has gone quiet after a truncated frame.
    """

    def __init__(self, max_params=MAX_PARAMS, types=ANY_TYPE):
        # The base's constructor would allocate a Mercury-sized buffer: set its fields.
        self.max_params = max_params
        self.types = types
        self._size = OVERHEAD + max_params
        self._buf = bytearray(self._size)
        self._mv = memoryview(self._buf)
        self._r = 0
        self._w = 0
        self.frames = 0
        self.crc_errors = 0
        self.garbage_bytes = 0

    def _scan(self, out, handler, tags=None, stamp=0):  # tags: Mercury only (unused here)
        buf = self._buf
        mv = self._mv
        r = self._r
        w = self._w
        maxp = self.max_params
        types = self.types
        count = 0
        while r < w:
            if buf[r] != HEADER:
                j = r + 1
                while j < w and buf[j] != HEADER:
                    j += 1
                self.garbage_bytes += j - r
                r = j
                continue
            # Reject an impossible header as soon as its bytes are in, so a BB inside
            # a payload does not hold back the frames behind it.
            if (w - r > 1 and (buf[r + 1] > TYPE_NOTICE or not (types >> buf[r + 1]) & 1)) or (
                    w - r > 4 and ((buf[r + 3] << 8) | buf[r + 4]) > maxp):
                self.garbage_bytes += 1
                r += 1
                continue
            if w - r < 5:
                break
            cs = r + 5 + ((buf[r + 3] << 8) | buf[r + 4])
            if cs + 2 > w:
                break
            if buf[cs + 1] != END or (sum(mv[r + 1:cs]) & 0xFF) != buf[cs]:
                self.crc_errors += 1
                self.garbage_bytes += 1
                r += 1
                continue
            self.frames += 1
            count += 1
            if handler is not None:
                self._r = cs + 2
                handler(buf[r + 1], buf[r + 2], mv[r + 5:cs])
            else:
                out.append((buf[r + 1], buf[r + 2], bytes(mv[r + 5:cs])))
            r = cs + 2
        self._r = r
        return count


class Notice:
    """One decoded notice; `parse_notice(..., into=notice)` reuses it. `error` is the
    code of an error frame (then the tag fields are left as they were) or None."""

    def __init__(self):
        self.error = None
        self.rssi = self.pc = self.crc = 0
        self.epc = b""

    def __repr__(self):
        if self.error is not None:
            return "Notice(error=0x%02x)" % self.error
        return "Notice(epc=%s, rssi=%d)" % (self.epc, self.rssi)


def parse_notice(payload, cmd=CMD_SINGLE_INVENTORY, into=None, check_crc=True):
    """Decode the parameters of a tag notice (RSSI int8, PC, EPC, CRC) or, with
    cmd=CMD_ERROR, of an error frame (the code, e.g. ERR_NO_TAG).

    The EPC length comes from PC bits 15..11 (words) and must fill the notice exactly;
    with `check_crc` the CRC must be the Gen2 CRC over PC+EPC. Raises ValueError naming
    the first thing that is wrong.
    """
    p = payload
    n = len(p)
    r = into if into is not None else Notice()
    if cmd == CMD_ERROR:
        if n < 1:
            raise ValueError("error frame without a code")
        r.error = p[0]
        return r
    if n < 5:
        raise ValueError("tag notice too short: %d bytes" % n)
    pc = (p[1] << 8) | p[2]
    k = (pc >> 11) * 2
    if n != 5 + k:
        raise ValueError("pc 0x%04x says %d epc bytes, notice holds %d" % (pc, k, n - 5))
    crc = (p[n - 2] << 8) | p[n - 1]
    if check_crc and gen2_crc16(p, 1, n - 2) != crc:
        raise ValueError("epc crc 0x%04x does not match" % crc)
    r.error = None
    r.rssi = p[0] - 256 if p[0] > 127 else p[0]
    r.pc = pc
    r.epc = bytes(p[3:3 + k])
    r.crc = crc
    return r
