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
        door.reads(range(20, 30), OUTER, 0, 9000)
        door.idle(9000, 11000)
        self.assertEqual(door.records, [])
        self.assertTrue(door.d.stray_tags >= 10)

    def test_staged_tags_are_left_out_of_a_real_pass(self):
        door = Door()
        door.reads([20, 21], OUTER, 0, 9000)   # staged: outer only, all along
        self.assertEqual(door.d.residents(), {tag(20): "o", tag(21): "o"})
        door.reads([1, 2, 3, 20, 21], OUTER, 9000, 9600)
        door.reads([1, 2, 3], INNER, 9400, 10100)
        door.reads([20, 21], OUTER, 10100, 11100)
        self.assertEqual(len(door.records), 1)  # the staged tags did not hold the pass open
        door.reads([20, 21], OUTER, 11100, 14000)
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
        self.assertEqual(rec["dur"], 950)  # first read to last read

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


class DoorLifeTest(unittest.TestCase):
    """Behaviour over a door's day: loads that back out, stall, park, tags that sit
    there, multipath reads across the door and beam sensors."""

    def test_load_that_backs_out_after_reaching_the_inner_zone_makes_no_pass(self):
        door = Door()
        door.reads(range(6), OUTER, 0, 1000)
        door.reads(range(6), INNER, 900, 1500)
        door.reads(range(6), OUTER, 1400, 2600)
        door.idle(2600, 5000)
        self.assertEqual(door.records, [])
        self.assertEqual(door.d.backed_out, 1)

    def test_slow_load_lingering_in_one_zone_is_one_pass(self):
        # 4 s in the outer zone with every tag already seen: reads still coming
        # keep the pass open until the load has crossed
        door = Door()
        door.reads(range(5), OUTER, 0, 4000, step=200)
        door.reads(range(5), INNER, 3900, 6000, step=200)
        door.idle(6000, 9000)
        self.assertEqual([r["dir"] for r in door.records], ["in"])
        self.assertEqual(len(door.records[0]["tags"]), 5)

    def test_tags_read_in_one_zone_only_still_travel_with_their_load(self):
        # few reads per tag: some are caught only outside, some only inside
        door = Door()
        door.reads([1, 2, 3], OUTER, 0, 600)
        door.reads([4], OUTER, 100, 300)
        door.reads([1, 2, 3], INNER, 500, 1200)
        door.reads([5], INNER, 900, 1100)
        door.idle(1200, 4000)
        self.assertEqual(len(door.records), 1)
        self.assertEqual(sorted(t["epc"] for t in door.records[0]["tags"]), [tag(k) for k in (1, 2, 3, 4, 5)])
        zones = dict((t["epc"], t["zones"]) for t in door.records[0]["tags"])
        self.assertEqual((zones[tag(1)], zones[tag(4)], zones[tag(5)]), ("oi", "o", "i"))

    def test_multipath_reads_across_the_door_do_not_make_a_zone(self):
        door = Door()
        for t in range(0, 12000, 100):
            door.d.read(tag(30), OUTER, -55, t)
            if t % 1500 == 0:
                door.d.read(tag(30), INNER, -78, t + 50)   # weak: a reflection
            self.assertEqual(door.d.poll(t), None)
        self.assertEqual(door.d.residents(), {tag(30): "o"})

    def test_resident_is_forgotten_when_gone_and_moves_when_carried_through(self):
        door = Door()
        door.reads([40, 41], INNER, 0, 9000)    # staged inside the door
        self.assertEqual(door.d.residents(), {tag(40): "i", tag(41): "i"})
        # tag 40 is carried out: strong reads outside, none inside any more
        door.reads([40], OUTER, 9000, 9600)
        door.reads([41], INNER, 9000, 9600)
        door.idle(9600, 12000)
        self.assertEqual([(r["dir"], [t["epc"] for t in r["tags"]]) for r in door.records], [("out", [tag(40)])])
        # tag 41 is taken away out of reach: forgotten after forget_ms
        door.idle(12000, 12000 + door.d.forget_ms + 2000, step=500)
        self.assertEqual(door.d.residents(), {})

    def test_load_parked_just_past_the_door_is_decided_after_hold_ms(self):
        door = Door()
        door.reads(range(4), OUTER, 0, 800)
        door.reads(range(4), INNER, 600, 14000, step=250)   # stays in the inner field
        self.assertEqual([r["dir"] for r in door.records], ["in"])
        self.assertTrue(door.records[0]["t"] <= 600 + door.d.hold_ms + 1500)
        self.assertEqual(len(door.records[0]["tags"]), 4)
        # and the parked load does not make a second pass
        door.idle(14000, 17000)
        self.assertEqual(len(door.records), 1)

    def test_broken_beam_holds_the_pass_open(self):
        door = Door()
        door.d.beam("outer", True, 0)
        door.reads(range(3), OUTER, 0, 500)
        door.reads(range(3), INNER, 400, 900)
        door.idle(900, 3000)
        self.assertEqual(door.records, [])   # the forklift is still in the door
        door.d.beam("outer", False, 3000)
        door.idle(3000, 3100)
        self.assertEqual([r["dir"] for r in door.records], ["in"])

    def test_beams_decide_when_the_tags_cannot(self):
        door = Door()
        door.d.beam("inner", True, 0)
        door.reads([1, 2], OUTER, 0, 400)
        door.reads([1, 2], INNER, 0, 400)   # read in both zones at once: no order
        door.d.beam("outer", True, 300)
        door.d.beam("inner", False, 350)
        door.d.beam("outer", False, 420)
        door.idle(420, 3000)
        self.assertEqual([r["dir"] for r in door.records], ["out"])

    def test_stuck_beam_is_a_fault_not_a_pass_held_forever(self):
        door = Door()
        door.d.beam("inner", True, 0)
        door.reads(range(3), OUTER, 100, 500)
        door.reads(range(3), INNER, 400, 900)
        door.idle(900, door.d.beam_stuck_ms + 1000, step=500)
        self.assertEqual(len(door.records), 1)
        self.assertEqual(door.d.beam_faults, 1)

    def test_unknown_beam_name_is_refused(self):
        with self.assertRaises(ValueError):
            PassDetector({1: "o", 2: "i"}).beam("middle", True, 0)

    def test_resident_table_is_bounded(self):
        d = PassDetector({1: "o", 2: "i"}, max_residents=3)
        for t in range(0, 9000, 100):
            for k in range(5):
                d.read(tag(50 + k), OUTER, -60, t)
            d.poll(t)
        self.assertEqual(len(d.residents()), 3)


class ZoneMapTest(unittest.TestCase):
    def test_antenna_numbers_must_be_small_integers(self):
        for bad in ({"1": "o", 2: "i"}, {-1: "o", 2: "i"}, {256: "o", 2: "i"}):
            with self.assertRaises(ValueError):
                PassDetector(bad)
        d = PassDetector({0: "o", 255: "i"})
        d.read(tag(1), 255, -50, 0)
        d.read(tag(1), 7, -50, 0)          # not in the map: unzoned
        self.assertEqual(d.unzoned_reads, 1)
        self.assertTrue(d.busy())
