"""Read deduplication (onecode.dedup): arrive / depart, stats, bounds, collisions.
unittest subset only: this file also runs under the MicroPython VM."""
import gc

from fwtest import TestCase

from onecode import dedup
from onecode.dedup import Dedup, home

WRAP = 1 << 30  # ticks_ms period on a board and in onecode.compat


def tag(n, first=0x30):
    return bytes([first, 0x14, 0x00, 0x9F, 0x5C, 0x00, 0x00, 0x00, 0x00, (n >> 16) & 255,
                  (n >> 8) & 255, n & 255])


def departs(d, now, max_events=1000):
    """Poll until a whole round of the table brings nothing more; {epc: record}."""
    out = []
    quiet = 0
    while quiet * d.scan_per_poll <= len(d):
        quiet = 0 if d.poll(now, out, max_events) else quiet + 1
    got = {}
    for rec in out:
        if rec[0] in got:
            raise AssertionError("depart reported twice: %r" % (rec,))
        got[rec[0]] = rec
    return got


def colliding(count, mask, at=None, first=0x30):
    """count EPCs whose probe starts at the same index position (at, if given)."""
    groups = {}
    for n in range(4000):
        e = tag(n, first)
        h = home(e, mask)
        if at is not None and h != at:
            continue
        groups.setdefault(h, []).append(e)
        if len(groups[h]) == count:
            return groups[h]
    raise AssertionError("no %d colliding EPCs" % count)


class ArriveDepartTest(TestCase):
    def test_first_read_arrives_repeats_do_not(self):
        d = Dedup(capacity=8, hold_ms=1000)
        self.assertIs(d.read(tag(1), 1, -60, 100), True)
        self.assertIs(d.read(tag(1), 1, -60, 150), False)
        self.assertIs(d.read(tag(2), 1, -60, 150), True)
        self.assertEqual(len(d), 2)
        self.assertEqual(d.arrivals, 2)
        self.assertIsNone(d.get(tag(3)))

    def test_stats_count_peak_antennas(self):
        d = Dedup(capacity=8, hold_ms=1000)
        d.read(tag(1), 1, -70, 100)
        d.read(tag(1), 2, -52, 120)
        d.read(tag(1), 2, -64, 130)
        d.read(tag(1), 4, -80, 190)
        self.assertEqual(d.get(tag(1)), (100, 190, 4, -52, 0b10110))
        d.read(tag(1), 17, -90, 200)  # antenna 17 sets bit 17 & 15 = 1
        self.assertEqual(d.get(tag(1)), (100, 200, 5, -52, 0b10110))
        d.read(tag(1), 0, -40, 210)
        self.assertEqual(d.get(tag(1)), (100, 210, 6, -40, 0b10111))

    def test_depart_exactly_at_hold(self):
        d = Dedup(capacity=8, hold_ms=1000)
        d.read(tag(1), 1, -60, 100)
        d.read(tag(1), 3, -55, 400)
        out = []
        self.assertEqual(d.poll(1399, out), 0)
        self.assertEqual(out, [])
        self.assertEqual(d.poll(1400, out), 1)
        self.assertEqual(out, [(tag(1), 100, 400, 2, -55, 0b1010, False)])
        self.assertEqual(len(d), 0)
        self.assertEqual(d.departs, 1)
        self.assertIsNone(d.get(tag(1)))

    def test_reads_keep_a_tag(self):
        d = Dedup(capacity=8, hold_ms=1000)
        for t in range(0, 5000, 500):
            d.read(tag(1), 1, -60, t)
            self.assertEqual(departs(d, t), {})
        self.assertEqual(d.get(tag(1))[:3], (0, 4500, 10))

    def test_re_arrive_after_depart_starts_afresh(self):
        d = Dedup(capacity=8, hold_ms=1000)
        d.read(tag(1), 1, -50, 0)
        d.read(tag(1), 1, -50, 10)
        self.assertEqual(len(departs(d, 2000)), 1)
        self.assertIs(d.read(tag(1), 2, -70, 2500), True)
        self.assertEqual(d.get(tag(1)), (2500, 2500, 1, -70, 0b100))
        self.assertEqual(d.arrivals, 2)

    def test_zero_hold_departs_at_next_poll(self):
        d = Dedup(capacity=4, hold_ms=0)
        d.read(tag(1), 1, -50, 10)
        self.assertEqual(list(departs(d, 10)), [tag(1)])

    def test_clear_forgets_without_departs(self):
        d = Dedup(capacity=8, hold_ms=1000)
        d.read(tag(1), 1, -50, 0)
        d.read(tag(2, 0x36) + bytes(14), 1, -50, 0)
        d.clear()
        self.assertEqual(len(d), 0)
        self.assertEqual(departs(d, 5000), {})
        self.assertIs(d.read(tag(1), 1, -50, 6000), True)

    def test_bad_arguments(self):
        self.raises("capacity", Dedup, 0)
        self.raises("capacity", Dedup, 32768)
        self.raises("epc_len", Dedup, 8, 1000, 3)


class WraparoundTest(TestCase):
    def test_hold_across_the_ticks_wrap(self):
        d = Dedup(capacity=8, hold_ms=2000)
        t0 = WRAP - 500
        d.read(tag(1), 1, -60, t0)
        d.read(tag(1), 1, -60, WRAP - 1)
        d.read(tag(2), 1, -60, 100)  # after the wrap
        self.assertEqual(departs(d, 1998), {})
        got = departs(d, 1999)  # 2000 ms after WRAP - 1
        self.assertEqual(list(got), [tag(1)])
        self.assertEqual(got[tag(1)][1:4], (t0, WRAP - 1, 2))
        self.assertEqual(list(departs(d, 2100)), [tag(2)])


class BoundsTest(TestCase):
    def test_full_evicts_the_stalest_with_a_flagged_depart(self):
        d = Dedup(capacity=3, hold_ms=10000, evict_sample=3)
        d.read(tag(1), 1, -60, 100)
        d.read(tag(2), 1, -60, 50)
        d.read(tag(3), 1, -60, 300)
        d.read(tag(1), 1, -60, 400)  # tag 2 is now the stalest
        self.assertIs(d.read(tag(4), 2, -61, 500), True)
        self.assertEqual(len(d), 3)
        self.assertIsNone(d.get(tag(2)))
        self.assertEqual(d.evictions, 1)
        self.assertEqual(d.overflow_episodes, 1)
        self.assertIs(d.read(tag(5), 2, -61, 600), True)  # evicts tag 3 (300)
        self.assertEqual(d.overflow_episodes, 1)  # same episode
        out = []
        self.assertEqual(d.poll(600, out), 2)
        self.assertEqual(out, [(tag(2), 50, 50, 1, -60, 0b10, True),
                               (tag(3), 300, 300, 1, -60, 0b10, True)])
        self.assertEqual(d.departs, 2)
        for n in (1, 4, 5):
            self.assertTrue(d.get(tag(n)) is not None)

    def test_new_episode_after_a_natural_depart(self):
        d = Dedup(capacity=2, hold_ms=100, evict_sample=2)
        d.read(tag(1), 1, -60, 0)
        d.read(tag(2), 1, -60, 0)
        d.read(tag(3), 1, -60, 10)
        self.assertEqual(d.overflow_episodes, 1)
        got = departs(d, 150)
        self.assertEqual(len(got), 3)
        self.assertEqual(sorted([r[6] for r in got.values()]), [False, False, True])
        d.read(tag(4), 1, -60, 200)
        d.read(tag(5), 1, -60, 200)
        d.read(tag(6), 1, -60, 210)
        self.assertEqual(d.overflow_episodes, 2)

    def test_pending_queue_full_refuses_and_counts(self):
        d = Dedup(capacity=2, hold_ms=10000, max_pending=1)
        d.read(tag(1), 1, -60, 0)
        d.read(tag(2), 1, -60, 0)
        self.assertIs(d.read(tag(3), 1, -60, 10), True)  # evicts, 1 pending
        self.assertIsNone(d.read(tag(4), 1, -60, 20))  # no room for another depart
        self.assertIsNone(d.read(tag(4), 1, -60, 30))
        self.assertEqual(d.overflow_reads, 2)
        self.assertIsNone(d.get(tag(4)))
        out = []
        self.assertEqual(d.poll(40, out), 1)
        self.assertIs(out[0][6], True)
        self.assertIs(d.read(tag(4), 1, -60, 50), True)  # room again
        self.assertEqual(d.evictions, 2)
        self.assertEqual(len(d), 2)

    def test_other_lengths_go_to_a_small_bounded_table(self):
        d = Dedup(capacity=4, hold_ms=1000, other_capacity=2)
        long1 = bytes([0x36]) + bytes(24) + b"\x01"  # 26 bytes, SGTIN-198 sized
        long2 = bytes([0x36]) + bytes(24) + b"\x02"
        short = tag(1)[:8]
        self.assertIs(d.read(long1, 1, -60, 0), True)
        self.assertIs(d.read(long1, 2, -50, 10), False)
        self.assertIs(d.read(short, 1, -60, 10), True)
        self.assertIsNone(d.read(long2, 1, -60, 20))
        self.assertEqual(d.overflow_reads, 1)
        self.assertEqual(d.get(long1), (0, 10, 2, -50, 0b110))
        self.assertEqual(len(d), 2)
        got = departs(d, 1010)
        self.assertEqual(sorted(got), sorted([long1, short]))
        self.assertEqual(got[long1], (long1, 0, 10, 2, -50, 0b110, False))

    def test_shorter_epc_is_not_a_prefix_match(self):
        d = Dedup(capacity=4, hold_ms=1000)
        d.read(tag(7), 1, -60, 0)
        self.assertIs(d.read(tag(7)[:11], 1, -60, 0), True)
        self.assertEqual(d.get(tag(7))[2], 1)

    def test_poll_is_bounded(self):
        d = Dedup(capacity=16, hold_ms=100, scan_per_poll=4)
        for n in range(10):
            d.read(tag(n), 1, -60, 0)
        out = []
        self.assertEqual(d.poll(500, out, max_events=3), 3)
        # departs do not use up the scan: the rest go in one call
        self.assertEqual(d.poll(500, out, max_events=100), 7)
        self.assertEqual(sorted([r[0] for r in out]), [tag(n) for n in range(10)])

    def test_scan_bounds_the_slots_that_stay(self):
        d = Dedup(capacity=16, hold_ms=100, scan_per_poll=4)
        for n in range(12):
            d.read(tag(n), 1, -60, 0)
        for n in range(10):
            d.read(tag(n), 1, -60, 90)
        out = []
        # slots 1-4, then 5-8 stay; then 9, 10 stay and 11, 12 depart
        self.assertEqual([d.poll(150, out), d.poll(150, out), d.poll(150, out)], [0, 0, 2])
        self.assertEqual(sorted([r[0] for r in out]), [tag(10), tag(11)])

    def test_scan_reaches_every_slot_round_robin(self):
        d = Dedup(capacity=16, hold_ms=100, scan_per_poll=3)
        for n in range(9):
            d.read(tag(n), 1, -60, 0)
        out = []
        for t in range(50, 500, 10):  # tags 0..7 read on, tag 8 goes quiet
            for n in range(8):
                d.read(tag(n), 1, -60, t)
            d.poll(t, out)
        self.assertEqual([r[0] for r in out], [tag(8)])


class CollisionTest(TestCase):
    def check_all_found(self, d, epcs):
        for e in epcs:
            self.assertTrue(d.get(e) is not None)  # not assertIsNotNone: MicroPython
            # formats its message with % and a tuple

    def test_same_home_position(self):
        epcs = colliding(4, 7)  # capacity 4: an index of 8 positions
        d = Dedup(capacity=4, hold_ms=100)
        for i, e in enumerate(epcs):
            self.assertIs(d.read(e, 1, -60, 10 * i), True)
        for i, e in enumerate(epcs):
            self.assertIs(d.read(e, 2, -60, 100 + i), False)
            self.assertEqual(d.get(e)[:3], (10 * i, 100 + i, 2))
        self.assertEqual(len(d), 4)

    def test_deleting_inside_a_probe_run_keeps_the_rest_found(self):
        for gone in ((0,), (1,), (3,), (0, 2), (1, 2), (0, 1, 2)):
            epcs = colliding(4, 7, at=6)  # the run wraps past the index end
            d = Dedup(capacity=4, hold_ms=100)
            for e in epcs:
                d.read(e, 1, -60, 0)
            for i, e in enumerate(epcs):
                if i not in gone:
                    d.read(e, 1, -60, 150)
            got = departs(d, 120)
            self.assertEqual(sorted(got), sorted([epcs[i] for i in gone]))
            stay = [e for i, e in enumerate(epcs) if i not in gone]
            self.check_all_found(d, stay)
            for e in stay:
                self.assertIs(d.read(e, 1, -60, 160), False)
            for i in gone:  # back again: arrive, and found
                self.assertIs(d.read(epcs[i], 1, -60, 170), True)
            self.check_all_found(d, epcs)

    def test_fallback_compare_without_bytearray_find(self):
        saved = dedup._HAS_FIND
        dedup._HAS_FIND = False
        try:
            d = Dedup(capacity=4, hold_ms=100)
        finally:
            dedup._HAS_FIND = saved
        epcs = colliding(3, 7)
        for e in epcs:
            self.assertIs(d.read(e, 1, -60, 0), True)
            self.assertIs(d.read(e, 1, -60, 1), False)
        self.assertEqual(len(departs(d, 200)), 3)


class ManyTagsTest(TestCase):
    def test_1024_tags_tracked_and_departed(self):
        d = Dedup(capacity=1024, hold_ms=2000)
        epcs = [tag(n) for n in range(1024)]
        for r in range(3):
            for n, e in enumerate(epcs):
                self.assertIs(d.read(e, 1 + r, -90 + (n & 31), 100 * r + (n & 7)),
                              r == 0)
        self.assertEqual(len(d), 1024)
        self.assertEqual(d.evictions, 0)
        for n, e in enumerate(epcs):
            self.assertEqual(d.get(e), ((n & 7), 200 + (n & 7), 3, -90 + (n & 31), 0b1110))
        out = []
        self.assertEqual(d.poll(2100, out), 0)  # hold not over for anyone yet
        half = epcs[:512]
        for e in half:  # half stays in the field
            d.read(e, 1, -60, 2150)
        got = departs(d, 2207, max_events=32)
        self.assertEqual(len(got), 512)
        for e in epcs[512:]:
            self.assertEqual(got[e][3], 3)
        self.check_found(d, half)
        self.assertEqual(len(departs(d, 4150)), 512)
        self.assertEqual(len(d), 0)
        self.assertEqual((d.arrivals, d.departs), (1024, 1024))

    def check_found(self, d, epcs):
        self.assertEqual(len(d), len(epcs))
        for e in epcs:
            self.assertEqual(d.get(e)[2], 4)

    def test_repeat_read_allocates_nothing(self):
        if not hasattr(gc, "mem_alloc"):
            self.skipTest("gc.mem_alloc is MicroPython only")
        d = Dedup(capacity=64, hold_ms=1000)
        epcs = [tag(n) for n in range(64)]
        for e in epcs:
            d.read(e, 1, -60, 0)
        read = d.read
        gc.collect()
        a0 = gc.mem_alloc()
        i = 0
        while i < 640:
            read(epcs[i & 63], 2, -50, 10)
            i += 1
        self.assertTrue(gc.mem_alloc() - a0 <= 0, gc.mem_alloc() - a0)
