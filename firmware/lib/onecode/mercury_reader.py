"""M6e Nano device class: joins a UART-like transport and the Mercury codec.

The transport is any object with `write(bytes)` and non-blocking `read(n)` returning
bytes or None (machine.UART with timeout=0, the tests' fake, the virtual M6e).
Commands go out one at a time: the next is written once the module has answered
the previous one (or after `cmd_timeout_ms`), as the module expects. `poll(now_ms)`
does bounded work per call and returns the tag reads seen since the last call.

It must never block, sleep, read a clock or raise on anything the module sends:
bad records and alarms are counted, not thrown. The constructor does no I/O.
"""
from onecode import mercury_frame as mf
from onecode.command_port import CommandPort


class MercuryReader(CommandPort):
    """Bounds: `max_queue` commands waiting (more are dropped and counted in
    `cmd_dropped`); at most `max_bytes_per_poll` bytes read and `max_reads` reads
    returned per poll (extra reads counted in `dropped_reads`). The list `poll`
    returns is reused by the next call."""

    def __init__(self, uart, max_reads=64, max_bytes_per_poll=1024, read_chunk=512,
                 cmd_timeout_ms=1000, stale_ms=100, max_queue=8):
        CommandPort.__init__(self, uart, max_bytes_per_poll, read_chunk, cmd_timeout_ms, stale_ms, max_queue)
        # room for a chunk beside a partial frame: the records of a poll are CRC-checked as one run
        self._parser = mf.FrameParser(capacity=read_chunk + mf.MAX_DATA + 7)
        self._record = mf.TagRecord()
        self._on_frame_cb = self._on_frame
        self._reads = []
        self._now = 0
        self.max_reads = max_reads
        self.reading = False
        self.version = None
        self.reads = 0
        self.bad_records = 0
        self.dropped_reads = 0
        self.keepalives = 0
        self.temperature_throttle = 0
        self.high_return_loss = 0
        self.other_status = 0
        self.last_alarm = None  # (status, now_ms) of the latest alarm
        self.cmd_errors = 0
        self.last_error = None  # (opcode, status) of the latest refused command
        self.unsolicited = 0

    def configure(self, region, power_centi_dbm, antennas=(1,)):
        """Queue region, Gen2, antenna(s) and read power. `antennas` is a port number
        or a sequence of ports; several ports become an antenna search list."""
        if region not in mf.REGIONS:
            raise ValueError("unknown region 0x%02x" % region)
        if not 0 <= power_centi_dbm <= 3000:
            raise ValueError("read power %d centi-dBm out of range" % power_centi_dbm)
        if isinstance(antennas, int):
            antennas = (antennas,)
        if not antennas or len(antennas) > 16:
            raise ValueError("need 1 to 16 antenna ports")
        self._send(mf.cmd_set_region(region))
        self._send(mf.cmd_set_tag_protocol_gen2())
        if len(antennas) == 1:
            self._send(mf.cmd_set_antenna_port(antennas[0], antennas[0]))
        else:
            self._send(mf.cmd_set_antenna_search_list([(p, p) for p in antennas]))
        self._send(mf.cmd_set_read_power(power_centi_dbm))

    def request_version(self):
        self._send(mf.cmd_version())

    def start(self, on_time_ms=1000, metadata=mf.META_ALL):
        """Queue the read-filter switch-off and the continuous read, asking for the
        `metadata` fields per tag (a portal needs RSSI and antenna only: shorter
        records, less UART time and CRC work per read)."""
        self._send(mf.cmd_disable_read_filter())
        self._send(mf.cmd_start_continuous(on_time_ms, metadata))
        self.reading = True

    def stop(self):
        """Write stop at once, dropping queued commands: the module is streaming and
        a stop must not wait behind anything."""
        self._queue = []
        self._uart.write(mf.cmd_stop_reading())
        self._inflight = mf.OP_MULTI_PROTOCOL_TAG_OP
        self._sent_ms = None
        self.reading = False

    def poll(self, now_ms):
        """Read what the transport has (bounded), parse it, advance the command
        queue; return the list of (epc, antenna, rssi, now_ms) reads."""
        self._now = now_ms
        reads = self._reads
        del reads[:]
        self._pump(now_ms)
        n = len(reads)
        if n > self.max_reads:
            self.dropped_reads += n - self.max_reads
            del reads[self.max_reads:]
        return reads

    def _feed(self, data):
        # tag records in the common layouts go straight into the reads list
        # (FrameParser.feed with a tag list); everything else through _on_frame
        n = len(self._reads)
        self._parser.feed(data, self._on_frame_cb, self._reads, self._now)
        self.reads += len(self._reads) - n

    def _resync(self):
        n = len(self._reads)
        self._parser.resync(self._on_frame_cb, self._reads, self._now)
        self.reads += len(self._reads) - n

    def _alarm(self, status):
        if status == mf.STATUS_TEMPERATURE_THROTTLE:
            self.temperature_throttle += 1
        elif status == mf.STATUS_HIGH_RETURN_LOSS:
            self.high_return_loss += 1
        else:
            return False
        self.last_alarm = (status, self._now)
        return True

    def _on_frame(self, opcode, status, payload):
        if opcode == mf.OP_READ_TAG_ID_MULTIPLE:
            self._on_stream(status, payload)
            return
        if opcode == self._inflight:
            self._inflight = None
        else:
            self.unsolicited += 1
        if status != mf.STATUS_OK:
            self.cmd_errors += 1
            self.last_error = (opcode, status)
            self._alarm(status)
        elif opcode == mf.OP_VERSION:
            self.version = bytes(payload)

    def _on_stream(self, status, payload):
        if status == mf.STATUS_OK and len(payload):
            # a record the parser could not take on its fast path: the full parser, which names what is wrong
            try:
                rec = mf.parse_tag_record(payload, self._record)
            except ValueError:
                self.bad_records += 1
                return
            self.reads += 1
            self._reads.append((rec.epc, rec.antenna, rec.rssi, self._now))
        elif status == mf.STATUS_KEEPALIVE and not len(payload):
            self.keepalives += 1
        elif not self._alarm(status):
            self.other_status += 1
