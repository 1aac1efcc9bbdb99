"""What every virtual UHF module shares: the scenario of tags in the field (on which
antenna, with what RSSI, when) and the UART-like output buffer the firmware reads.

Subclasses implement `_advance(now_ms)` (produce the module's output up to now) and
their protocol. Host only; must never read the wall clock (time comes from `clock`).
"""


class VirtualField:
    def __init__(self, clock, max_pending):
        self._clock = clock
        self._out = bytearray()
        self._visible = {}   # epc -> (antenna, rssi): in the field until cleared
        self._passes = []    # (t_start_ms, t_end_ms, epc, antenna, rssi)
        self._script = []    # scripted reads (t_ms, antenna, epc, rssi), time order, next first
        self._script_at = 0
        self.max_pending = max_pending
        self.overflow_bytes = 0

    # scenario --------------------------------------------------------------
    def set_visible(self, epc, antenna=1, rssi=-55):
        self._visible[bytes(epc)] = (antenna, rssi)

    def clear_visible(self, epc=None):
        if epc is None:
            self._visible.clear()
        else:
            self._visible.pop(bytes(epc), None)

    def add_pass(self, t_start_ms, t_end_ms, epc, antenna=1, rssi=-55):
        """Tag in the field on `antenna` for t_start_ms <= t < t_end_ms."""
        self._passes.append((t_start_ms, t_end_ms, bytes(epc), antenna, rssi))

    def play(self, reads):
        """Script the exact reads of a recorded or generated read log: an iterable of
        dicts as `onecode portal replay` reads them ({"t", "ant", "epc" hex, "rssi"};
        beam edges are skipped). While reading, the module sends each one at its time
        t (ms on this module's clock) on its antenna, besides what the field gives."""
        for e in reads:
            if "epc" in e:
                self._script.append((e["t"], e["ant"], bytes.fromhex(e["epc"]), e["rssi"]))
        self._script.sort(key=lambda r: r[0])

    def _scripted(self, now_ms):
        """The scripted reads due by now_ms, in time order (each given out once)."""
        i = self._script_at
        j = i
        while j < len(self._script) and self._script[j][0] <= now_ms:
            j += 1
        self._script_at = j
        return self._script[i:j]

    def in_field(self, t_ms):
        """{(epc, antenna): rssi} of every tag in the field at virtual time t_ms."""
        seen = dict(((e, a), r) for e, (a, r) in self._visible.items())
        for t0, t1, e, a, r in self._passes:
            if t0 <= t_ms < t1:
                seen[(e, a)] = r
        return seen

    # transport -------------------------------------------------------------
    def read(self, n=-1):
        self._advance(self._clock())
        if not self._out:
            return None
        if n is None or n < 0:
            n = len(self._out)
        chunk = bytes(self._out[:n])
        del self._out[:n]
        return chunk

    def any(self):
        self._advance(self._clock())
        return len(self._out)

    def _emit(self, data):
        """Queue output like a UART buffer: bytes beyond max_pending are dropped and
        counted in `overflow_bytes`."""
        room = self.max_pending - len(self._out)
        if len(data) > room:
            self.overflow_bytes += len(data) - max(room, 0)
            data = data[:max(room, 0)]
        self._out.extend(data)

    def _advance(self, now_ms):
        raise NotImplementedError
