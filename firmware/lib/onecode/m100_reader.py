"""M100 / QM100 device class: joins a UART-like transport and the M100 codec.

Same interface as MercuryReader, so the portal can drive either: configure(region,
power_centi_dbm, antennas), start(), stop(), poll(now_ms) -> [(epc, antenna, rssi,
now_ms)], counters. An M100 module has one antenna port: one instance is one module,
and the antenna (zone) number its reads carry is given by the caller. A two-zone
portal uses two modules (two instances on two UARTs) or an external antenna switch.

The transport is any object with `write(bytes)` and non-blocking `read(n)` returning
bytes or None. Setting commands go out one at a time, the next once the module has
answered (or after `cmd_timeout_ms`). Multiple polling has no answer of its own: the
module sends a tag notice per read and an error frame 0x15 per empty round, and stops
after the requested number of rounds, so the poll command is re-sent every
`reissue_ms` while reading (as M5Stack's M100 driver does; the count never runs out
between re-sends).

It must never block, sleep, read a clock or raise on anything the module sends: bad
notices and error frames are counted, not thrown. The constructor does no I/O.
"""
from onecode import m100_frame as mf
from onecode.command_port import CommandPort
from onecode.compat import ticks_diff


class M100Reader(CommandPort):
    """Bounds: `max_queue` commands waiting (more are dropped and counted in
    `cmd_dropped`); at most `max_bytes_per_poll` bytes read and `max_reads` reads
    returned per poll (extra reads counted in `dropped_reads`). The list `poll`
    returns is reused by the next call. `regions` (e.g. mf.MERCURY_REGIONS) maps the
    region codes `configure` is given to M100 codes; without it they must be M100's."""

    def __init__(self, uart, antenna=1, rounds=10000, reissue_ms=1000, regions=None,
                 max_reads=64, max_bytes_per_poll=1024, read_chunk=128, cmd_timeout_ms=500,
                 stale_ms=100, max_queue=8, check_crc=True):
        if not 1 <= rounds <= mf.MAX_ROUNDS:
            raise ValueError("rounds %d out of range" % rounds)
        CommandPort.__init__(self, uart, max_bytes_per_poll, read_chunk, cmd_timeout_ms, stale_ms, max_queue)
        self._parser = mf.FrameParser(types=mf.FROM_MODULE)
        self._notice = mf.Notice()
        self._on_frame_cb = self._on_frame
        self._reads = []
        self._poll_ms = None  # when multiple polling was last sent
        self._now = 0
        self._regions = regions
        self.antenna = antenna
        self.rounds = rounds
        self.reissue_ms = reissue_ms
        self.max_reads = max_reads
        self.check_crc = check_crc
        self.reading = False
        self.info = [None, None, None]  # hardware, software, manufacturer (bytes)
        self.power_centi_dbm = None  # as last reported by the module
        self.region = None  # as last reported by the module
        self.reads = 0
        self.bad_records = 0
        self.dropped_reads = 0
        self.no_tag = 0  # error 0x15: an inventory round without a tag
        self.errors = 0  # other error frames while no command was waiting
        self.last_error = None  # (code, now_ms) of the latest error frame other than 0x15
        self.cmd_errors = 0
        self.last_cmd_error = None  # (cmd, code) of the latest refused command
        self.unsolicited = 0
        self.reissues = 0

    @property
    def version(self):
        """Hardware version string as the module reported it (bytes), or None."""
        return self.info[0]

    def configure(self, region, power_centi_dbm, antennas=None):
        """Queue region and TX power. `antennas` (a port or a sequence of ports, as the
        portal passes its zones) must include this module's own antenna number; the
        module itself has a single port. Call it before `start`: the M100 handles
        settings unreliably while polling."""
        if self._regions is not None:
            if region not in self._regions:
                raise ValueError("region 0x%02x has no M100 equivalent" % region)
            region = self._regions[region]
        if region not in mf.REGIONS:
            raise ValueError("unknown M100 region 0x%02x" % region)
        if not 0 <= power_centi_dbm <= 3000:
            raise ValueError("tx power %d centi-dBm out of range" % power_centi_dbm)
        if antennas is not None:
            if isinstance(antennas, int):
                antennas = (antennas,)
            if self.antenna not in antennas:
                raise ValueError("antenna %d is not among %r" % (self.antenna, antennas))
        self._send(mf.cmd_set_region(region))
        self._send(mf.cmd_set_power(power_centi_dbm))

    def request_version(self):
        """Queue the three information requests (hardware, software, manufacturer)."""
        for kind in (mf.INFO_HARDWARE, mf.INFO_SOFTWARE, mf.INFO_MANUFACTURER):
            self._send(mf.cmd_info(kind))

    def request_settings(self):
        """Queue get-region and get-power; answers land in `region`/`power_centi_dbm`."""
        self._send(mf.cmd_get_region())
        self._send(mf.cmd_get_power())

    def start(self, metadata=None):
        """Queue multiple polling; it is re-sent every `reissue_ms` while reading.
        (`metadata` is for Mercury readers: an M100 notice always carries RSSI, PC
        and EPC, and the antenna is the module's.)"""
        self._send(mf.cmd_multi_poll(self.rounds))
        self.reading = True

    def stop(self):
        """Write stop at once, dropping queued commands: a stop must not wait."""
        self._queue = []
        self._uart.write(mf.cmd_stop_poll())
        self._inflight = mf.CMD_STOP_POLL
        self._sent_ms = None
        self._poll_ms = None
        self.reading = False

    def poll(self, now_ms):
        """Read what the transport has (bounded), parse it, advance the command queue,
        re-send polling when due; return the list of (epc, antenna, rssi, now_ms)."""
        self._now = now_ms
        reads = self._reads
        del reads[:]
        self._pump(now_ms)
        if self.reading and self._inflight is None and not self._queue:
            if self._poll_ms is None:
                self._poll_ms = now_ms  # sent before the first poll: start timing now
            elif ticks_diff(now_ms, self._poll_ms) >= self.reissue_ms:
                self._uart.write(mf.cmd_multi_poll(self.rounds))
                self._poll_ms = now_ms
                self.reissues += 1
        return reads

    def _send_next(self, now_ms):
        while self._inflight is None and self._queue:
            frame = self._queue.pop(0)
            self._uart.write(frame)
            if frame[2] == mf.CMD_MULTI_POLL:
                self._poll_ms = now_ms  # answered by notices only: nothing to wait for
            else:
                self._inflight = frame[2]
                self._sent_ms = now_ms

    def _on_frame(self, frame_type, cmd, payload):
        if frame_type == mf.TYPE_NOTICE and cmd in (mf.CMD_SINGLE_INVENTORY, mf.CMD_MULTI_POLL):
            self._on_notice(payload)
        elif frame_type != mf.TYPE_RESPONSE:
            self.unsolicited += 1
        elif cmd == mf.CMD_ERROR:
            self._on_error(payload)
        elif cmd == self._inflight:
            self._inflight = None
            self._on_response(cmd, payload)
        else:
            self.unsolicited += 1

    def _on_notice(self, payload):
        try:
            n = mf.parse_notice(payload, mf.CMD_SINGLE_INVENTORY, self._notice, self.check_crc)
        except ValueError:
            self.bad_records += 1
            return
        self.reads += 1
        if len(self._reads) >= self.max_reads:
            self.dropped_reads += 1
        else:
            self._reads.append((n.epc, self.antenna, n.rssi, self._now))

    def _on_error(self, payload):
        if not len(payload):
            self.bad_records += 1
            return
        code = payload[0]
        if code == mf.ERR_NO_TAG:
            # One per empty inventory round while polling; never a setting's answer.
            self.no_tag += 1
        elif self._inflight is not None:
            # Error frames do not name the command: it is the one awaiting its answer.
            self.cmd_errors += 1
            self.last_cmd_error = (self._inflight, code)
            self._inflight = None
        else:
            self.errors += 1
            self.last_error = (code, self._now)

    def _on_response(self, cmd, payload):
        n = len(payload)
        if cmd == mf.CMD_INFO:
            if n >= 1 and payload[0] <= mf.INFO_MANUFACTURER:
                self.info[payload[0]] = bytes(payload[1:])
            else:
                self.bad_records += 1
        elif cmd == mf.CMD_GET_POWER and n == 2:
            self.power_centi_dbm = (payload[0] << 8) | payload[1]
        elif cmd == mf.CMD_GET_REGION and n == 1:
            self.region = payload[0]
        elif cmd in (mf.CMD_SET_REGION, mf.CMD_SET_POWER, mf.CMD_STOP_POLL):
            if n != 1 or payload[0] != 0:
                self.cmd_errors += 1
                self.last_cmd_error = (cmd, payload[0] if n else None)
        else:
            self.bad_records += 1
