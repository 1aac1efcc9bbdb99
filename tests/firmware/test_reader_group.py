"""Several single-port modules as one reader (onecode.reader_group). unittest subset
only: this file also runs under the MicroPython VM."""
import unittest

from onecode.reader_group import ReaderGroup


class FakeReader:
    def __init__(self, antenna, script):
        self.antenna = antenna
        self.script = script  # now_ms -> reads
        self.calls = []
        self.reads = 0
        self.busy = False
        self._out = []

    def configure(self, region, power):
        self.calls.append(("configure", region, power))

    def start(self, metadata=None):
        self.calls.append(("start", metadata))

    def stop(self):
        self.calls.append(("stop",))

    def poll(self, now_ms):
        del self._out[:]
        for epc, rssi in self.script.get(now_ms, ()):
            self._out.append((epc, self.antenna, rssi, now_ms))
            self.reads += 1
        return self._out


class ReaderGroupTest(unittest.TestCase):
    def test_polls_every_module_into_one_list(self):
        a = FakeReader(1, {0: [(b"A", -50)], 50: [(b"B", -52)]})
        b = FakeReader(2, {0: [(b"C", -60), (b"D", -61)]})
        g = ReaderGroup([a, b])
        g.configure(0x08, 2500, [1, 2])
        g.start(metadata=6)
        first = g.poll(0)
        self.assertEqual(first, [(b"A", 1, -50, 0), (b"C", 2, -60, 0), (b"D", 2, -61, 0)])
        self.assertTrue(g.poll(50) is first)  # the list is reused
        self.assertEqual(first, [(b"B", 1, -52, 50)])
        self.assertEqual(g.reads, 4)
        g.stop()
        self.assertEqual(a.calls, [("configure", 0x08, 2500), ("start", 6), ("stop",)])
        self.assertEqual(b.calls, a.calls)
        self.assertFalse(g.busy)
        b.busy = True
        self.assertTrue(g.busy)

    def test_module_outside_the_zone_map_is_refused(self):
        g = ReaderGroup([FakeReader(1, {}), FakeReader(3, {})])
        with self.assertRaises(ValueError):
            g.configure(0x08, 2500, [1, 2])

    def test_needs_a_reader(self):
        with self.assertRaises(ValueError):
            ReaderGroup([])


if __name__ == "__main__":
    unittest.main()
