"""A virtual ThingMagic M6e Nano speaking the real Mercury serial protocol (host only).

Stands where the module's UART would be: `write(data)` takes command frames from the
firmware's `MercuryReader`, `read(n)` returns the answers and, while a continuous read
runs, streamed tag records and keep-alives paced by an injected clock (`clock()` -> ms),
so tests and demos are deterministic. Which tags are in the field comes from a
scenario: `set_visible`/`clear_visible`, or passes `(t_start_ms, t_end_ms, epc,
antenna, rssi)`. Faults can be injected (garbage, corrupted or truncated frames, alarm
status frames).

It must never be imported by firmware, read the wall clock, or use randomness that is
not seeded: the same scenario and clock always give the same bytes.
"""
from onecode import mercury_frame as mf
from onecode_cli.sim.virtual_field import VirtualField

# 20 bytes: bootloader, hardware, firmware date, firmware version, protocols (Gen2).
DEFAULT_VERSION = bytes.fromhex("14120800" "30000002" "20220118" "010b0300" "00000010")

ERR_INVALID_OPCODE = 0x0101
ERR_POWER_TOO_HIGH = 0x0103
ERR_INVALID_PARAMETER = 0x0105
MAX_POWER_CENTI_DBM = 2700

_HOP_BASE_KHZ = {mf.REGION_EU: (865700, 600, 4), mf.REGION_IN: (865100, 600, 4),
                 mf.REGION_JP: (916800, 1200, 6), mf.REGION_KR: (917300, 600, 6),
                 mf.REGION_PRC: (920625, 250, 16)}
_NA_HOPS = (902750, 500, 50)


class VirtualM6e(VirtualField):
    """Virtual module. `reads_per_s` is shared by all tags visible on the configured
    antennas, round robin; a keep-alive (status 0x0400) goes out every
    `keepalive_ms` while streaming. Output waiting to be read is capped at
    `max_pending` bytes, like a UART buffer: bytes beyond it are dropped and counted
    in `overflow_bytes`."""

    def __init__(self, clock, reads_per_s=170, keepalive_ms=1000, version=DEFAULT_VERSION,
                 seed=1, rssi_jitter=0, max_pending=65536):
        if keepalive_ms <= 0:
            raise ValueError("keepalive_ms must be positive")
        VirtualField.__init__(self, clock, max_pending)
        self._parser = mf.FrameParser(responses=False)
        self._seed = seed & 0xFFFFFFFF
        self._rr = 0
        self.reads_per_s = reads_per_s
        self.keepalive_ms = keepalive_ms
        self.version = version
        self.rssi_jitter = rssi_jitter
        self.region = mf.REGION_NA2
        self.power_centi_dbm = 2000
        self.protocol = None
        self.antennas = [1]
        self.read_filter = True
        self.metadata = mf.META_ALL
        self.streaming = False
        self.commands = []  # (opcode, data) of every well-formed command received
        self.bad_commands = 0
        self.tags_sent = 0
        self.skipped_slots = 0
        self._start_ms = 0
        self._slots = 0
        self._next_keepalive = 0

    # scenario --------------------------------------------------------------
    def visible_at(self, t_ms):
        """Sorted [(epc, antenna, rssi)] the module can read at virtual time t_ms."""
        return sorted((e, a, r) for (e, a), r in self.in_field(t_ms).items() if a in self.antennas)

    # faults ----------------------------------------------------------------
    def inject_garbage(self, data=b"\x00\x13\x37\xfe\x42"):
        self._emit(data)

    def inject_corrupt_frame(self, epc=b"\xde\xad\xbe\xef" * 3, antenna=1):
        frame = bytearray(mf.build_tag_record(epc, antenna=antenna))
        frame[-1] ^= 0x5A
        self._emit(frame)

    def inject_truncated_frame(self, epc=b"\xde\xad\xbe\xef" * 3, keep=20):
        self._emit(mf.build_tag_record(epc)[:keep])

    def inject_status(self, status):
        """A LEN-0 stream status frame, e.g. STATUS_TEMPERATURE_THROTTLE."""
        self._emit(mf.build_response(mf.OP_READ_TAG_ID_MULTIPLE, status))

    # transport -------------------------------------------------------------
    def write(self, data):
        now = self._clock()
        self._advance(now)
        for opcode, _status, payload in self._parser.feed(bytes(data)):
            self.commands.append((opcode, payload))
            self._answer(opcode, payload, now)
        self.bad_commands = self._parser.crc_errors
        return len(data)

    # module behaviour ------------------------------------------------------
    def _reply(self, opcode, status=mf.STATUS_OK, data=b""):
        self._emit(mf.build_response(opcode, status, data))

    def _answer(self, op, d, now):
        if op == mf.OP_VERSION:
            self._reply(op, data=self.version)
        elif op == mf.OP_SET_REGION and len(d) == 1:
            if d[0] in mf.REGIONS:
                self.region = d[0]
                self._reply(op)
            else:
                self._reply(op, ERR_INVALID_PARAMETER)
        elif op == mf.OP_SET_READ_TX_POWER and len(d) == 2:
            power = int.from_bytes(d, "big", signed=True)
            if power > MAX_POWER_CENTI_DBM:
                self._reply(op, ERR_POWER_TOO_HIGH)
            else:
                self.power_centi_dbm = power
                self._reply(op)
        elif op == mf.OP_SET_TAG_PROTOCOL and len(d) == 2:
            self.protocol = int.from_bytes(d, "big")
            self._reply(op)
        elif op == mf.OP_SET_ANTENNA_PORT and len(d) == 2:
            self.antennas = [d[1]]
            self._reply(op)
        elif op == mf.OP_SET_ANTENNA_PORT and len(d) >= 3 and d[0] == 2 and len(d) % 2:
            self.antennas = sorted(set(d[2::2]))
            self._reply(op)
        elif op == mf.OP_SET_READER_OPTIONAL_PARAMS and d == b"\x01\x0c\x00":
            self.read_filter = False
            self._reply(op)
        elif op == mf.OP_MULTI_PROTOCOL_TAG_OP and d[:4] == b"\x00\x00\x01\x22":
            if len(d) >= 16:   # the embedded 0x22 command ends with the metadata flags
                self.metadata = int.from_bytes(d[14:16], "big") & mf.META_ALL
            self._reply(op, data=d[:4])
            self.streaming = True
            self._start_ms = now
            self._slots = 0
            self._next_keepalive = now + self.keepalive_ms
        elif op == mf.OP_MULTI_PROTOCOL_TAG_OP and d == b"\x00\x00\x02":
            self.streaming = False
            self._reply(op, data=d)
        else:
            self._reply(op, ERR_INVALID_OPCODE)

    def _rand(self):
        self._seed = (self._seed * 1103515245 + 12345) & 0x7FFFFFFF
        return self._seed >> 8

    def _freq_khz(self):
        base, step, count = _HOP_BASE_KHZ.get(self.region, _NA_HOPS)
        return base + step * (self._rand() % count)

    def _advance(self, now):
        """Emit, in time order, every read slot and keep-alive due up to `now`."""
        if self.streaming:
            for t, antenna, epc, rssi in self._scripted(now):
                if antenna in self.antennas:
                    self.tags_sent += 1
                    self._emit(mf.build_tag_record(
                        epc, rssi=max(-128, min(127, rssi)), antenna=antenna, freq_khz=self._freq_khz(),
                        timestamp_ms=(t - self._start_ms) & 0xFFFFFFFF, phase=self._rand() % 181,
                        metadata=self.metadata))
        if not self.streaming or self.reads_per_s <= 0:
            return
        due = (now - self._start_ms) * self.reads_per_s // 1000
        backlog = due - self._slots - 10 * self.reads_per_s
        if backlog > 0:
            # More than 10 s unread: a real UART buffer would have overflowed long ago.
            self._slots += backlog
            self.skipped_slots += backlog
            while self._next_keepalive + self.keepalive_ms <= now:
                self._next_keepalive += self.keepalive_ms
        while self._slots < due or self._next_keepalive <= now:
            slot_t = self._start_ms + (self._slots + 1) * 1000 // self.reads_per_s
            if self._slots < due and slot_t < self._next_keepalive:
                self._slots += 1
                self._read_slot(slot_t)
            else:
                self._reply(mf.OP_READ_TAG_ID_MULTIPLE, mf.STATUS_KEEPALIVE)
                self._next_keepalive += self.keepalive_ms

    def _read_slot(self, t):
        tags = self.visible_at(t)
        if not tags:
            return
        self._rr += 1
        epc, antenna, rssi = tags[self._rr % len(tags)]
        if self.rssi_jitter:
            rssi += self._rand() % (2 * self.rssi_jitter + 1) - self.rssi_jitter
        self.tags_sent += 1
        self._emit(mf.build_tag_record(
            epc, rssi=max(-128, min(127, rssi)), antenna=antenna, freq_khz=self._freq_khz(),
            timestamp_ms=(t - self._start_ms) & 0xFFFFFFFF, phase=self._rand() % 181, metadata=self.metadata))
