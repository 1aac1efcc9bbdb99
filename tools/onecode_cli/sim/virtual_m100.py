"""A virtual MagicRF M100 / QM100 module speaking the real M100 serial protocol (host only).

Stands where the module's UART would be: `write(data)` takes command frames from the
firmware's `M100Reader`, `read(n)` returns the answers and, while multiple polling
runs, tag notices and "no tag" error frames paced by an injected clock (`clock()` ->
ms), so tests and demos are deterministic. Same scenario API as VirtualM6e:
`set_visible`/`clear_visible` and passes `(t_start_ms, t_end_ms, epc, antenna,
rssi)`; the module has one antenna port, numbered `antenna`, and sees only the tags
placed on that number. Faults can be injected (garbage, bad-checksum, truncated and
bad-CRC frames, error frames).

Model of polling (what M5Stack's driver reports from hardware, not a datasheet):
inventory rounds of `round_ms`; a round with no tag in the field ends in error frame
0x15, a round with tags sends the notices due at `reads_per_s` (shared round robin);
multiple polling has no response frame and stops silently after its round count.

It must never be imported by firmware, read the wall clock, or use randomness that is
not seeded: the same scenario and clock always give the same bytes.
"""
from onecode import m100_frame as mf
from onecode_cli.sim.virtual_field import VirtualField

DEFAULT_INFO = (b"M100 26dBm V1.0", b"V2.3.5", b"MagicRF")
MAX_POWER_CENTI_DBM = 2600  # YRM100/JRD-100 datasheets: up to 26 dBm


class VirtualM100(VirtualField):
    """Virtual module. Output waiting to be read is capped at `max_pending` bytes, like
    a UART buffer: bytes beyond it are dropped and counted in `overflow_bytes`. More
    than 10 s of rounds left unread are skipped (`skipped_rounds`)."""

    def __init__(self, clock, reads_per_s=120, antenna=1, seed=1, round_ms=25, rssi_jitter=0,
                 info=DEFAULT_INFO, max_pending=65536, max_power_centi_dbm=MAX_POWER_CENTI_DBM):
        if round_ms <= 0:
            raise ValueError("round_ms must be positive")
        VirtualField.__init__(self, clock, max_pending)
        self._parser = mf.FrameParser()
        self._seed = seed & 0xFFFFFFFF
        self._rr = 0
        self.reads_per_s = reads_per_s
        self.antenna = antenna
        self.round_ms = round_ms
        self.rssi_jitter = rssi_jitter
        self.info = list(info)
        self.max_power_centi_dbm = max_power_centi_dbm
        self.region = mf.REGION_CN900
        self.power_centi_dbm = 2000
        self.polling = False
        self.rounds_left = 0
        self.commands = []  # (cmd, params) of every well-formed command received
        self._wrong_type = 0
        self.tags_sent = 0
        self.rounds_run = 0
        self.empty_rounds = 0
        self.skipped_rounds = 0
        self.polls_started = 0
        self._start_ms = 0
        self._round_start = 0

    # scenario --------------------------------------------------------------
    def visible_at(self, t_ms):
        """Sorted [(epc, rssi)] this module's antenna can read at virtual time t_ms."""
        return sorted((e, r) for (e, a), r in self.in_field(t_ms).items() if a == self.antenna)

    # faults ----------------------------------------------------------------
    def inject_garbage(self, data=b"\x00\x13\x37\xbb\x7e\x42"):
        self._emit(data)

    def inject_corrupt_frame(self, epc=b"\xde\xad\xbe\xef" * 3):
        """A tag notice whose frame checksum is wrong."""
        frame = bytearray(mf.build_notice(epc))
        frame[-2] ^= 0x5A
        self._emit(frame)

    def inject_truncated_frame(self, epc=b"\xde\xad\xbe\xef" * 3, keep=12):
        self._emit(mf.build_notice(epc)[:keep])

    def inject_bad_crc_notice(self, epc=b"\xde\xad\xbe\xef" * 3):
        """A well-framed notice whose EPC CRC is wrong (a misread the checksum let by)."""
        good = mf.build_notice(epc)
        crc = ((good[-4] << 8) | good[-3]) ^ 0x0101
        self._emit(mf.build_notice(epc, crc=crc))

    def inject_error(self, code):
        """An error frame, e.g. mf.ERR_FHSS_FAIL."""
        self._emit(mf.build_error(code))

    # transport -------------------------------------------------------------
    def write(self, data):
        now = self._clock()
        self._advance(now)
        for frame_type, cmd, params in self._parser.feed(bytes(data)):
            if frame_type != mf.TYPE_COMMAND:
                self._wrong_type += 1
                continue
            self.commands.append((cmd, params))
            self._answer(cmd, params, now)
        return len(data)

    @property
    def bad_commands(self):
        """Frames written that failed their checks or were not commands (Type 00)."""
        return self._parser.crc_errors + self._wrong_type

    # module behaviour ------------------------------------------------------
    def _ok(self, cmd):
        self._emit(mf.build_response(cmd, b"\x00"))

    def _answer(self, cmd, p, now):
        if cmd == mf.CMD_INFO and len(p) == 1 and p[0] <= mf.INFO_MANUFACTURER:
            self._emit(mf.build_response(cmd, bytes(p[:1]) + self.info[p[0]]))
        elif cmd == mf.CMD_SINGLE_INVENTORY and not p:
            tags = self.visible_at(now)
            if not tags:
                self._emit(mf.build_error(mf.ERR_NO_TAG))
            for epc, rssi in tags:
                self._notice(epc, rssi)
        elif cmd == mf.CMD_MULTI_POLL and len(p) == 3 and p[0] == mf.MULTI_POLL_RESERVED:
            rounds = (p[1] << 8) | p[2]
            if not self.polling:
                self._start_ms = self._round_start = now
            self.polling = rounds > 0
            self.rounds_left = rounds
            self.polls_started += 1
        elif cmd == mf.CMD_STOP_POLL and not p:
            self.polling = False
            self._ok(cmd)
        elif cmd == mf.CMD_SET_REGION and len(p) == 1 and p[0] in mf.REGIONS:
            self.region = p[0]
            self._ok(cmd)
        elif cmd == mf.CMD_GET_REGION and not p:
            self._emit(mf.build_response(cmd, bytes((self.region,))))
        elif cmd == mf.CMD_SET_POWER and len(p) == 2:
            power = (p[0] << 8) | p[1]
            if power > self.max_power_centi_dbm:
                self._emit(mf.build_error(mf.ERR_COMMAND))  # unverified on hardware
            else:
                self.power_centi_dbm = power
                self._ok(cmd)
        elif cmd == mf.CMD_GET_POWER and not p:
            self._emit(mf.build_response(cmd, bytes((self.power_centi_dbm >> 8,
                                                     self.power_centi_dbm & 0xFF))))
        else:
            self._emit(mf.build_error(mf.ERR_COMMAND))

    def _rand(self):
        self._seed = (self._seed * 1103515245 + 12345) & 0x7FFFFFFF
        return self._seed >> 8

    def _notice(self, epc, rssi):
        if self.rssi_jitter:
            rssi += self._rand() % (2 * self.rssi_jitter + 1) - self.rssi_jitter
        self.tags_sent += 1
        self._emit(mf.build_notice(epc, rssi=max(-128, min(127, rssi))))

    def _advance(self, now):
        """Run, in time order, every inventory round that has ended by `now`."""
        if not self.polling:
            return
        for _t, antenna, epc, rssi in self._scripted(now):
            if antenna == self.antenna:
                self._notice(epc, rssi)
        backlog = (now - self._round_start) // self.round_ms - 10000 // self.round_ms
        if backlog > 0:
            # More than 10 s unread: a real UART buffer would have overflowed long ago.
            backlog = min(backlog, self.rounds_left - 1) if self.rounds_left > 1 else 0
            self._round_start += backlog * self.round_ms
            self.rounds_left -= backlog
            self.skipped_rounds += backlog
        while self.polling and self._round_start + self.round_ms <= now:
            t0 = self._round_start
            t1 = t0 + self.round_ms
            self._round(t0, t1)
            self._round_start = t1
            self.rounds_left -= 1
            if self.rounds_left <= 0:
                self.polling = False  # the count ran out: the module falls silent

    def _round(self, t0, t1):
        self.rounds_run += 1
        tags = self.visible_at(t0)
        if not tags:
            self.empty_rounds += 1
            self._emit(mf.build_error(mf.ERR_NO_TAG))
            return
        rps = self.reads_per_s
        due = ((t1 - self._start_ms) * rps // 1000) - ((t0 - self._start_ms) * rps // 1000)
        for _ in range(due):
            self._rr += 1
            epc, rssi = tags[self._rr % len(tags)]
            self._notice(epc, rssi)
