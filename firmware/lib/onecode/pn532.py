"""PN532 NFC front end of the handheld: joins a transport and the pn532_frame codec.

The transport has `write(bytes)` and `read(n)`; adapters live with the board code.
- UART / HSU (`i2c=False`, 115200 8N1): `read(n)` is non-blocking and returns what
  has arrived (bytes, or None/b"" when nothing has). The first command after
  construction or `wake()` goes out behind the wake-up preamble `55 55 00 ...`.
- I2C (`i2c=True`, address 0x24): `write(frame)` is one I2C write, `read(n)` one I2C
  read of n bytes. Every I2C read starts with the PN532's status byte, 0x01 when a
  frame (the ACK, later the response) is ready. While waiting, each poll makes one
  read of `i2c_read_len` bytes, drops the status byte and parses the rest only if
  it was 0x01; what a read leaves of a frame is dropped, since the next read starts
  over with a status byte (so `i2c_read_len` must exceed the longest response:
  1 + 76 bytes for a 64-byte READ BINARY chunk).

Flow: one operation at a time. `firmware_version()`, `sam_configure()`, `scan()`,
`read_pages(start)` and `read_ndef_url()` start an operation and write its first
command; they return False and do nothing while another operation runs or its
result has not been collected. `poll(now_ms)` does bounded work and returns
`(op, value, error)` on the call where the operation ends, else None:
  firmware_version -> (IC, Ver, Rev, Support)   sam_configure -> True
  scan -> UID bytes, or None when no tag answered (the Target is in `.target`)
  read_pages -> 16 bytes (4 pages)              read_ndef_url -> URL str
On failure value is None and error a short text (also in `last_error`). Each
command must be ACKed within `ack_timeout_ms` and answered within
`response_timeout_ms`; an unanswered command is aborted by writing an ACK frame.
Call `sam_configure()` first: it leaves the power-on LowVbat state and bounds the
activation retries of InListPassiveTarget (else a scan with no tag never ends).

It must never block, sleep, read a clock or raise on anything the PN532 or a tag
sends. The constructor does no I/O.
"""
from onecode import ndef
from onecode import pn532_frame as pf
from onecode.compat import ticks_diff

_IDLE, _WAIT_ACK, _WAIT_RESP = 0, 1, 2


class PN532:
    """Bounds: at most `max_bytes_per_poll` bytes read per poll (UART) or one read of
    `i2c_read_len` (I2C); NDEF messages over `max_ndef` bytes are refused (888 is
    NTAG216's whole data area); Type 4 reads go in `t4t_chunk`-byte pieces."""

    def __init__(self, transport, i2c=False, ack_timeout_ms=100, response_timeout_ms=1000,
                 stale_ms=100, read_chunk=64, max_bytes_per_poll=512, i2c_read_len=96,
                 passive_retries=2, max_ndef=888, t4t_chunk=64):
        self._io = transport
        self.i2c = i2c
        self._parser = pf.FrameParser()
        self._awake = i2c
        self._op = None
        self._step = None
        self._cmd = None
        self._phase = _IDLE
        self._t0 = None
        self._now = 0
        self._last_rx = None
        self._result = None
        self._buf = bytearray()
        self._page = 0
        self._limit = 0
        self.ack_timeout_ms = ack_timeout_ms
        self.response_timeout_ms = response_timeout_ms
        self.stale_ms = stale_ms
        self.read_chunk = read_chunk
        self.max_bytes_per_poll = max_bytes_per_poll
        self.i2c_read_len = i2c_read_len
        self.passive_retries = passive_retries
        self.max_ndef = max_ndef
        self.t4t_chunk = t4t_chunk
        self.firmware = None
        self.target = None
        self.url = None
        self.last_error = None
        self.timeouts = 0
        self.missed_acks = 0
        self.error_frames = 0
        self.unsolicited = 0

    @property
    def parser(self):
        return self._parser

    @property
    def busy(self):
        return self._op is not None or self._result is not None

    def wake(self):
        """UART: send the wake-up preamble again before the next command (after a
        PowerDown or a power cycle of the PN532)."""
        self._awake = self.i2c

    # operations -------------------------------------------------------------
    def firmware_version(self):
        return self._start("firmware_version", pf.cmd_get_firmware_version())

    def sam_configure(self):
        return self._start("sam_configure", pf.cmd_sam_configuration())

    def scan(self):
        """InListPassiveTarget, 1 target at 106 kbps type A."""
        return self._start("scan", pf.cmd_in_list_passive_target())

    def read_pages(self, start):
        """Type 2 READ of pages start..start+3 of the target found by scan()."""
        t = self.target
        return self._start("read_pages", t and pf.cmd_ntag_read(start, t.tg))

    def read_ndef_url(self):
        """URL of the first URI record on the target found by scan(). A Type 2 tag
        (NTAG 21x) is read 4 pages at a time from its CC (page 3) until the NDEF
        TLV is complete; an ISO-DEP tag (SAK bit 0x20, NTAG 424 DNA) gets SELECT
        NDEF application, SELECT file E104, READ BINARY NLEN then the message."""
        t = self.target
        if t is None or self.busy:
            return self._start("read_ndef_url", None)
        self._buf = bytearray()
        if t.iso_dep:
            self._step = "app"
            return self._start("read_ndef_url", pf.cmd_in_data_exchange(t.tg, ndef.T4T_SELECT_NDEF_APP))
        self._page = 3
        return self._start("read_ndef_url", pf.cmd_ntag_read(3, t.tg))

    # machinery ---------------------------------------------------------------
    def _start(self, op, frame):
        if self.busy:
            return False
        self._op = op
        if frame is None:
            self._finish(None, "no target: scan() first")
        else:
            self._send(frame)
        return True

    def _send(self, frame):
        self._cmd = frame[6]  # 00 00 FF LEN LCS D4 CMD
        if not self._awake:
            frame = pf.WAKEUP + frame
            self._awake = True
        self._io.write(frame)
        self._phase = _WAIT_ACK
        self._t0 = None

    def _finish(self, value, error=None):
        self._result = (self._op, value, error)
        self.last_error = error
        self._op = None
        self._phase = _IDLE

    def poll(self, now_ms):
        """Read (bounded), parse, advance the operation; -> (op, value, error) or None."""
        self._now = now_ms
        if self.i2c:
            if self._phase != _IDLE:
                data = self._io.read(self.i2c_read_len)
                if data and data[0] == 0x01:
                    self._feed(memoryview(data)[1:])
                self._parser.reset()
        else:
            budget = self.max_bytes_per_poll
            got = False
            while budget > 0:
                data = self._io.read(min(self.read_chunk, budget))
                if not data:
                    break
                got = True
                budget -= len(data)
                self._feed(data)
            if got:
                self._last_rx = now_ms
            elif (self._parser.pending and self._last_rx is not None
                  and ticks_diff(now_ms, self._last_rx) >= self.stale_ms):
                while self._parser.pending:
                    for kind, payload in self._parser.resync():
                        self._on_frame(kind, payload)
        if self._phase != _IDLE:
            if self._t0 is None:
                self._t0 = now_ms
            elif self._phase == _WAIT_ACK and ticks_diff(now_ms, self._t0) >= self.ack_timeout_ms:
                self.timeouts += 1
                self._finish(None, "no ACK to command 0x%02x" % self._cmd)
            elif self._phase == _WAIT_RESP and ticks_diff(now_ms, self._t0) >= self.response_timeout_ms:
                self.timeouts += 1
                self._io.write(pf.ACK)  # abort the command (UM0701-02 6.2.1.3)
                self._finish(None, "no response to command 0x%02x" % self._cmd)
        r = self._result
        self._result = None
        return r

    def _feed(self, data):
        for kind, payload in self._parser.feed(data):
            self._on_frame(kind, payload)

    def _on_frame(self, kind, payload):
        if kind == pf.KIND_ACK and self._phase == _WAIT_ACK:
            self._phase = _WAIT_RESP
            self._t0 = self._now
        elif kind == pf.TFI_ERROR:
            self.error_frames += 1
            if self._phase != _IDLE:
                self._finish(None, "PN532 error frame for command 0x%02x" % self._cmd)
        elif (kind == pf.TFI_PN532 and self._phase != _IDLE and len(payload)
              and payload[0] == self._cmd + 1):
            if self._phase == _WAIT_ACK:
                self.missed_acks += 1
            self._phase = _IDLE
            try:
                self._on_response(payload)
            except (ValueError, IndexError) as e:
                self._finish(None, str(e))
        else:
            self.unsolicited += 1

    def _on_response(self, p):
        op = self._op
        if op == "firmware_version":
            self.firmware = pf.decode_firmware_version(p)
            self._finish(self.firmware)
        elif op == "sam_configure":
            if self._cmd == pf.CMD_SAM_CONFIGURATION and self.passive_retries is not None:
                self._send(pf.cmd_rf_max_retries(passive=self.passive_retries))
            else:
                self._finish(True)
        elif op == "scan":
            targets = pf.decode_in_list_passive_target(p)
            self.target = targets[0] if targets else None
            self._finish(self.target.uid if self.target else None)
        else:
            status, data = pf.decode_in_data_exchange(p)
            if status:
                raise ValueError("InDataExchange " + pf.status_text(status))
            if op == "read_pages":
                if len(data) != 16:
                    raise ValueError("READ returned %d bytes, not 16" % len(data))
                self._finish(data)
            elif self.target.iso_dep:
                self._type4(data)
            else:
                self._type2(data)

    def _type2(self, data):
        if len(data) != 16:
            raise ValueError("READ returned %d bytes, not 16" % len(data))
        if self._page == 3:
            self._limit = min(ndef.check_cc(data[:4]), self.max_ndef)
            data = data[4:]
        buf = self._buf
        buf.extend(data)
        span = ndef.find_ndef_tlv(buf)
        if span is None:
            if len(buf) >= self._limit:
                raise ValueError("no NDEF message TLV in %d bytes" % self._limit)
        elif span[0] + span[1] > self._limit:
            raise ValueError("NDEF message of %d bytes exceeds %d" % (span[1], self._limit))
        elif span[0] + span[1] <= len(buf):
            self.url = ndef.first_uri(memoryview(buf)[span[0]:span[0] + span[1]])
            self._finish(self.url)
            return
        self._page += 4
        self._send(pf.cmd_ntag_read(self._page, self.target.tg))

    def _type4(self, data):
        data = ndef.t4t_data(data)
        step = self._step
        tg = self.target.tg
        if step == "app":
            self._step = "file"
            self._send(pf.cmd_in_data_exchange(tg, ndef.t4t_select_file(ndef.T4T_NDEF_FILE)))
        elif step == "file":
            self._step = "nlen"
            self._send(pf.cmd_in_data_exchange(tg, ndef.t4t_read_binary(0, 2)))
        elif step == "nlen":
            self._limit = ndef.type4_nlen(data)
            if self._limit > self.max_ndef:
                raise ValueError("NDEF message of %d bytes exceeds %d" % (self._limit, self.max_ndef))
            if self._limit == 0:
                raise ValueError("empty NDEF file")
            self._step = "read"
            self._read_binary(tg)
        else:
            if not data:
                raise ValueError("READ BINARY returned no data")
            self._buf.extend(data[:self._limit - len(self._buf)])
            if len(self._buf) < self._limit:
                self._read_binary(tg)
            else:
                self.url = ndef.first_uri(self._buf)
                self._finish(self.url)

    def _read_binary(self, tg):
        n = len(self._buf)
        k = min(self.t4t_chunk, self._limit - n)
        self._send(pf.cmd_in_data_exchange(tg, ndef.t4t_read_binary(2 + n, k)))
