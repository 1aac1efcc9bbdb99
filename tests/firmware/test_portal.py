"""Pass detection at a two-zone dock door (onecode.portal). unittest subset only:
this file also runs under the MicroPython VM."""
import unittest

from onecode.portal import PassDetector

OUTER, INNER = 1, 2


def tag(n):
    return bytes([0x30, 0x14] + [0] * 9 + [n])


class Door:
    """Feeds reads as a moving pallet would produce them."""

    def __init__(self, quiet_ms=1000, max_tags=64):
        self.d = PassDetector({OUTER: "o", INNER: "i"}, quiet_ms=quiet_ms, max_tags=max_tags)
        self.records = []

    def reads(self, tags, antenna, t0, t1, step=50):
        t = t0
        while t < t1:
            for k in tags:
                self.d.read(tag(k), antenna, -50 - k, t)
            rec = self.d.poll(t)
            if rec:
                self.records.append(rec)
            t += step

    def idle(self, t0, t1, step=50):
        t = t0
        while t < t1:
            rec = self.d.poll(t)
            if rec:
                self.records.append(rec)
            t += step


class PassTest(unittest.TestCase):
    def test_inbound_pass(self):
        door = Door()
        door.reads(range(10), OUTER, 0, 800)
        door.reads(range(10), INNER, 600, 1500)
        door.idle(1500, 4000)
        self.assertEqual(len(door.records), 1)
        rec = door.records[0]
        self.assertEqual(rec["dir"], "in")
        self.assertEqual(sorted(t["epc"] for t in rec["tags"]), [tag(k) for k in range(10)])
        for t in rec["tags"]:
            self.assertEqual(t["zones"], "oi")
            self.assertTrue(t["n"] >= 2)
        self.assertEqual(rec["type"], "pass")
        self.assertFalse("overflow" in rec)

    def test_outbound_pass(self):
        door = Door()
        door.reads(range(5), INNER, 0, 500)
        door.reads(range(5), OUTER, 400, 1000)
        door.idle(1000, 3000)
        self.assertEqual([r["dir"] for r in door.records], ["out"])

    def test_staged_pallet_never_makes_a_pass(self):
        door = Door()
        door.reads(range(20, 30), OUTER, 0, 8000)
        door.idle(8000, 10000)
        self.assertEqual(door.records, [])
        self.assertTrue(door.d.stray_tags >= 10)

    def test_staged_tags_are_left_out_of_a_real_pass(self):
        door = Door()
        door.reads([20, 21], OUTER, 0, 300)   # staged: outer only, all along
        door.reads([1, 2, 3, 20, 21], OUTER, 300, 900)
        door.reads([1, 2, 3], INNER, 700, 1400)
        door.idle(1400, 4000)
        self.assertEqual(len(door.records), 1)
        self.assertEqual(sorted(t["epc"] for t in door.records[0]["tags"]), [tag(1), tag(2), tag(3)])

    def test_forklift_that_backs_out_makes_no_pass(self):
        door = Door()
        door.reads(range(8), OUTER, 0, 1500)
        door.idle(1500, 4000)
        self.assertEqual(door.records, [])

    def test_mixed_order_is_unknown_direction(self):
        door = Door()
        door.reads([1, 2], OUTER, 0, 400)
        door.reads([3, 4], INNER, 0, 400)
        door.reads([1, 2], INNER, 300, 700)
        door.reads([3, 4], OUTER, 300, 700)
        door.idle(700, 3000)
        self.assertEqual([r["dir"] for r in door.records], ["unknown"])

    def test_full_table_is_reported_not_silent(self):
        door = Door(max_tags=4)
        door.reads(range(6), OUTER, 0, 300)
        door.reads(range(6), INNER, 200, 600)
        door.idle(600, 3000)
        rec = door.records[0]
        self.assertEqual(len(rec["tags"]), 4)
        # reads of the 2 untracked tags: 6 steps outer + 8 steps inner, 2 tags each
        self.assertEqual(rec["overflow"], 28)

    def test_unzoned_antenna_is_counted(self):
        door = Door()
        door.d.read(tag(1), 3, -40, 0)
        self.assertEqual(door.d.unzoned_reads, 1)
        self.assertFalse(door.d.busy())

    def test_pass_across_tick_wraparound(self):
        start = (1 << 30) - 500   # ticks_ms wraps at 2**30 on MicroPython
        door = Door()
        for i in range(20):
            t = (start + i * 50) & ((1 << 30) - 1)
            door.d.read(tag(1), OUTER if i < 10 else INNER, -50, t)
            self.assertEqual(door.d.poll(t), None)
        rec = door.d.poll((start + 19 * 50 + 1000) & ((1 << 30) - 1))
        self.assertEqual(rec["dir"], "in")
        self.assertEqual(rec["dur"], 500)

    def test_bad_zone_name_rejected(self):
        with self.assertRaises(ValueError):
            PassDetector({1: "x"})


if __name__ == "__main__":
    unittest.main()


class PalletTest(unittest.TestCase):
    def test_the_sscc_tag_names_the_pallet(self):
        sscc = bytes([0x31, 0x14] + [0] * 9 + [7])
        door = Door()
        for t in range(0, 600, 50):
            for k in range(4):
                door.d.read(tag(k), OUTER, -50, t)
            door.d.read(sscc, OUTER, -50, t)
        for t in range(500, 1100, 50):
            for k in range(4):
                door.d.read(tag(k), INNER, -50, t)
            door.d.read(sscc, INNER, -50, t)
        rec = door.d.poll(3000)
        self.assertEqual(rec["pallet"], sscc)
        self.assertEqual(len(rec["tags"]), 5)

    def test_no_sscc_no_pallet(self):
        door = Door()
        door.reads([1, 2], OUTER, 0, 300)
        door.reads([1, 2], INNER, 200, 600)
        door.idle(600, 3000)
        self.assertFalse("pallet" in door.records[0])
