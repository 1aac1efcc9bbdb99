"""A virtual NXP PN532 with virtual NTAG tags, speaking the real frames (host only).

Stands where the PN532's UART or I2C bus would be: `write(data)` takes the host's
frames (the firmware's `PN532` driver), `read(n)` returns ACK and response frames.
UART mode (default) starts asleep and ignores frames until it sees the HSU wake-up
byte 0x55; I2C mode (`i2c=True`) answers every read of n bytes with a status byte
(0x01 ready / 0x00 busy) then the next ready frame, zero-padded, and drops what n
leaves of it. Tags come from the scenario: `tap(tag)` puts one in the field,
`remove()` takes it away. Faults: `inject_garbage`, `corrupt_next` (bad LCS or DCS
on the next frame sent), `mute` (no ACK and no answer).

Answered: GetFirmwareVersion, SAMConfiguration, RFConfiguration, InListPassiveTarget
(1 target, 106 kbps A; with MxRtyPassiveActivation 0xFF, the power-on value, the
answer waits until a tag is tapped, as the chip does), InDataExchange with Type 2
READ (0x30) and, for NTAG 424 DNA, ISO SELECT / READ BINARY of the NDEF file. Any
other command gets the syntax error frame. Status codes for a tag that is gone or
refuses a command (0x01 timeout) are this model's choice, not measured.

It must never be imported by firmware, read the wall clock or use randomness.
"""
from onecode import ndef
from onecode import pn532_frame as pf

FIRMWARE = b"\x32\x01\x06\x07"  # IC PN532, version 1.6, support ISO A + B + 18092


def _bcc(bs):
    x = 0
    for b in bs:
        x ^= b
    return x


def _url(url, uid, counter):
    return url(uid, counter) if callable(url) else url


class VirtualNtag213:
    """NTAG213: 45 pages, CC E1 10 12 00, data area pages 4-39 (144 bytes) holding
    an NDEF message TLV with one URI record. `url` may be a callable(uid, counter)."""

    sens_res = b"\x00\x44"
    sel_res = 0x00
    ats = b""
    PAGES = 45

    def __init__(self, uid, url="https://example.com/", data_area=None):
        if len(uid) != 7:
            raise ValueError("NTAG UIDs are 7 bytes")
        self.uid = bytes(uid)
        self.url = url
        self.counter = 0
        self._data_area = data_area

    def on_tap(self):
        self.counter += 1

    def memory(self):
        u = self.uid
        mem = bytearray(self.PAGES * 4)
        mem[0:4] = u[:3] + bytes((0x88 ^ _bcc(u[:3]),))
        mem[4:8] = u[3:7]
        mem[8:12] = bytes((_bcc(u[3:7]), 0x48, 0, 0))
        mem[12:16] = b"\xe1\x10\x12\x00"
        area = self._data_area
        if area is None:
            area = ndef.message_tlv(ndef.uri_record(_url(self.url, u, self.counter)))
        if len(area) > 144:
            raise ValueError("NDEF data of %d bytes does not fit NTAG213's 144" % len(area))
        mem[16:16 + len(area)] = area
        return mem

    def transceive(self, data):
        """Bytes the tag answers, or None for no answer / NAK."""
        if len(data) == 2 and data[0] == pf.NTAG_READ and data[1] < self.PAGES:
            mem = self.memory()
            start = data[1] * 4
            return bytes((mem + mem)[start:start + 16])  # reads roll over to page 0
        return None


class VirtualNtag424:
    """NTAG 424 DNA (ISO-DEP): NDEF application D2760000850101, NDEF file E104 of
    256 bytes (NLEN + message). The SDM read counter goes up on every tap, so a
    callable `url(uid, counter)` can produce a fresh SUN URL per tap."""

    sens_res = b"\x03\x44"
    sel_res = 0x20
    ats = b"\x06\x77\x77\x71\x02\x80"

    def __init__(self, uid, url="https://example.com/", file_size=256):
        if len(uid) != 7:
            raise ValueError("NTAG UIDs are 7 bytes")
        self.uid = bytes(uid)
        self.url = url
        self.file_size = file_size
        self.counter = 0
        self.apdus = []
        self._app = self._file = False

    def on_tap(self):
        self.counter += 1
        self._app = self._file = False

    def ndef_file(self):
        msg = ndef.uri_record(_url(self.url, self.uid, self.counter))
        f = bytes((len(msg) >> 8, len(msg) & 0xFF)) + msg
        if len(f) > self.file_size:
            raise ValueError("NDEF message does not fit the %d-byte file" % self.file_size)
        return f + bytes(self.file_size - len(f))

    def transceive(self, apdu):
        self.apdus.append(bytes(apdu))
        if apdu == ndef.T4T_SELECT_NDEF_APP:
            self._app, self._file = True, False
            return ndef.SW_OK
        if apdu[:5] == b"\x00\xa4\x00\x0c\x02" and len(apdu) == 7:
            if not self._app:
                return b"\x6a\x82"
            self._file = apdu[5:7] == b"\xe1\x04"
            return ndef.SW_OK if self._file else b"\x6a\x82"
        if apdu[:2] == b"\x00\xb0" and len(apdu) == 5:
            if not self._file:
                return b"\x69\x86"  # no current EF
            off = (apdu[2] << 8) | apdu[3]
            le = apdu[4] or 256
            if off > self.file_size:
                return b"\x6b\x00"
            return self.ndef_file()[off:off + le] + ndef.SW_OK
        return b"\x6d\x00"  # instruction not supported (a Type 2 READ lands here)


class VirtualPN532:
    """Output waiting to be read is capped at `max_pending` bytes, like a UART FIFO;
    the excess is dropped and counted in `overflow_bytes`."""

    def __init__(self, i2c=False, firmware=FIRMWARE, max_pending=4096):
        self.i2c = i2c
        self.firmware = firmware
        self.max_pending = max_pending
        self.awake = i2c
        self.sam_mode = None
        self.passive_retries = 0xFF
        self.tag = None
        self.active = None        # tag selected by the last InListPassiveTarget
        self.muted = False
        self.commands = []        # (cmd, data) of every command accepted
        self.bad_frames = 0
        self.overflow_bytes = 0
        self._parser = pf.FrameParser()
        self._out = bytearray()   # UART stream
        self._ready = []          # I2C: frames in the order they become ready
        self._corrupt = None
        self._inlist_waiting = False

    # scenario ------------------------------------------------------------
    def tap(self, tag):
        self.tag = tag
        self.active = None
        tag.on_tap()
        if self._inlist_waiting:
            self._inlist_waiting = False
            self._inlist()

    def remove(self):
        """Take the tag away; the chip keeps it as its target, so exchanges time out."""
        self.tag = None

    # faults ----------------------------------------------------------------
    def inject_garbage(self, data=b"\x13\x37\xfe\x42\xff"):
        self._emit(bytes(data))

    def corrupt_next(self, which="dcs"):
        """Spoil the next response frame sent (ACKs are left alone): 'lcs' or 'dcs'."""
        self._corrupt = which

    def mute(self, on=True):
        self.muted = on

    # transport -------------------------------------------------------------
    def write(self, data):
        data = bytes(data)
        if not self.awake:
            if 0x55 not in data:
                return len(data)  # asleep: HSU needs the wake-up preamble first
            self.awake = True
            data = data[data.index(0x55):]
        before = self._parser.lcs_errors + self._parser.dcs_errors
        for kind, payload in self._parser.feed(data):
            if kind == pf.TFI_HOST and payload and not self.muted:
                self._command(payload[0], payload[1:])
            elif kind == pf.KIND_ACK:
                self._inlist_waiting = False  # the host aborts the pending command
        self.bad_frames += self._parser.lcs_errors + self._parser.dcs_errors - before
        return len(data)

    def read(self, n=-1):
        if self.i2c:
            if n is None or n < 1:
                raise ValueError("an I2C read needs a length")
            if not self._ready:
                return bytes(n)
            frame = self._ready.pop(0)
            return (b"\x01" + frame + bytes(n))[:n]
        if not self._out:
            return None
        if n is None or n < 0:
            n = len(self._out)
        chunk = bytes(self._out[:n])
        del self._out[:n]
        return chunk

    # chip behaviour --------------------------------------------------------
    def _emit(self, frame):
        if self._corrupt and len(frame) > 6:
            f = bytearray(frame)
            f[4 if self._corrupt == "lcs" else len(f) - 2] ^= 0x5A
            frame = bytes(f)
            self._corrupt = None
        if self.i2c:
            self._ready.append(frame)
            return
        room = max(self.max_pending - len(self._out), 0)
        self.overflow_bytes += max(len(frame) - room, 0)
        self._out.extend(frame[:room])

    def _reply(self, cmd, data=b""):
        self._emit(pf.build_response(cmd, data))

    def _command(self, cmd, d):
        self.commands.append((cmd, bytes(d)))
        self._emit(pf.ACK)
        if cmd == pf.CMD_GET_FIRMWARE_VERSION:
            self._reply(cmd, self.firmware)
        elif cmd == pf.CMD_SAM_CONFIGURATION and 1 <= len(d) <= 3:
            self.sam_mode = d[0]
            self._reply(cmd)
        elif cmd == pf.CMD_RF_CONFIGURATION and len(d) == 4 and d[0] == pf.RF_CFG_MAX_RETRIES:
            self.passive_retries = d[3]
            self._reply(cmd)
        elif cmd == pf.CMD_IN_LIST_PASSIVE_TARGET and d == b"\x01\x00":
            if self.tag is None and self.passive_retries == 0xFF:
                self._inlist_waiting = True  # answers when a tag arrives
            else:
                self._inlist()
        elif cmd == pf.CMD_IN_DATA_EXCHANGE and len(d) >= 1:
            if self.active is None or d[0] != 1:
                self._reply(cmd, b"\x27")  # no such target
            elif self.tag is not self.active:
                self._reply(cmd, b"\x01")  # the tag left the field: no answer
            else:
                answer = self.active.transceive(bytes(d[1:]))
                self._reply(cmd, b"\x00" + answer if answer is not None else b"\x01")
        else:
            self._emit(pf.ERROR_FRAME)

    def _inlist(self):
        t = self.tag
        if t is None:
            self._reply(pf.CMD_IN_LIST_PASSIVE_TARGET, b"\x00")
            return
        self.active = t
        body = (b"\x01\x01" + t.sens_res + bytes((t.sel_res, len(t.uid))) + t.uid + t.ats)
        self._reply(pf.CMD_IN_LIST_PASSIVE_TARGET, body)
