"""The part every UART command/response device shares (UHF readers today): bounded
reads fed to a frame parser, one command in flight at a time with a timeout, a
bounded queue behind it, and a flush of a frame start that stalled (a truncated frame
must not hold back the complete frames behind it).

Subclasses set `_parser` (with `feed(data, handler)`, `pending`, `resync(handler)`),
`_on_frame_cb`, and may override `_send_next`. The command id is byte 2 of a frame
(Mercury opcode, M100 Cmd). Must never block, sleep or read a clock: time comes in.
"""
from onecode.compat import ticks_diff


class CommandPort:
    def __init__(self, uart, max_bytes_per_poll, read_chunk, cmd_timeout_ms, stale_ms, max_queue):
        self._uart = uart
        self._queue = []
        self._inflight = None  # id of the command awaiting its answer
        self._sent_ms = None
        self._last_rx_ms = None
        self.max_bytes_per_poll = max_bytes_per_poll
        self.read_chunk = read_chunk
        self.cmd_timeout_ms = cmd_timeout_ms
        self.stale_ms = stale_ms
        self.max_queue = max_queue
        self.cmd_timeouts = 0
        self.cmd_dropped = 0

    @property
    def parser(self):
        return self._parser

    @property
    def busy(self):
        """True while commands are queued or awaiting their answer."""
        return self._inflight is not None or len(self._queue) > 0

    def _feed(self, data):
        self._parser.feed(data, self._on_frame_cb)

    def _resync(self):
        self._parser.resync(self._on_frame_cb)

    def _pump(self, now_ms):
        """Read what the transport has (at most max_bytes_per_poll), parse it, time out
        an unanswered command and send the next one."""
        budget = self.max_bytes_per_poll
        got = False
        while budget > 0:
            data = self._uart.read(min(self.read_chunk, budget))
            if not data:
                break
            got = True
            budget -= len(data)
            self._feed(data)
        if got:
            self._last_rx_ms = now_ms
        elif (self._parser.pending and self._last_rx_ms is not None
              and ticks_diff(now_ms, self._last_rx_ms) >= self.stale_ms):
            while self._parser.pending:
                self._resync()
        if self._inflight is not None:
            if self._sent_ms is None:
                self._sent_ms = now_ms
            elif ticks_diff(now_ms, self._sent_ms) >= self.cmd_timeout_ms:
                self.cmd_timeouts += 1
                self._inflight = None
        self._send_next(now_ms)

    def _send(self, frame):
        if len(self._queue) >= self.max_queue:
            self.cmd_dropped += 1
            return
        self._queue.append(frame)
        if self._inflight is None:
            self._send_next(None)

    def _send_next(self, now_ms):
        if self._inflight is None and self._queue:
            frame = self._queue.pop(0)
            self._uart.write(frame)
            self._inflight = frame[2]
            self._sent_ms = now_ms
