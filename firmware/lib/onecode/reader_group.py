"""Several single-port UHF modules driven as one reader: a two-zone dock door built
from one M100/QM100 module per zone (each on its own UART, each numbered with the
antenna its zone map uses).

Same interface as MercuryReader and M100Reader, so PortalApp drives it unchanged:
configure(region, power_centi_dbm, antennas), start(metadata=None), stop(),
poll(now_ms) -> [(epc, antenna, rssi, now_ms)] (one list, reused), `reads`. Build the
M100 readers with `regions=onecode.m100_frame.MERCURY_REGIONS`, since the portal's
config names regions by their Mercury codes. Must never block or raise on what a
module sends (each reader already guarantees that); owns no hardware.
"""


class ReaderGroup:
    def __init__(self, readers):
        if not readers:
            raise ValueError("a reader group needs at least one reader")
        self.readers = list(readers)
        self._reads = []

    def configure(self, region, power_centi_dbm, antennas=None):
        """Configure every module; `antennas` (the portal's zoned antennas) must hold
        each module's antenna number, or a module's reads would all be unzoned."""
        if antennas is not None:
            missing = [r.antenna for r in self.readers if r.antenna not in antennas]
            if missing:
                raise ValueError("module antenna(s) %r not in the zone map %r" % (missing, list(antennas)))
        for r in self.readers:
            r.configure(region, power_centi_dbm)

    def start(self, metadata=None):
        for r in self.readers:
            r.start(metadata=metadata)

    def stop(self):
        for r in self.readers:
            r.stop()

    def poll(self, now_ms):
        reads = self._reads
        del reads[:]
        for r in self.readers:
            reads.extend(r.poll(now_ms))
        return reads

    @property
    def reads(self):
        n = 0
        for r in self.readers:
            n += r.reads
        return n

    @property
    def busy(self):
        for r in self.readers:
            if r.busy:
                return True
        return False
