"""onecode.journal: the offline queue on flash, including power loss at every byte.

unittest subset only: this file also runs under the MicroPython VM (in-memory files).
The crash test cuts the last-written segment at every byte offset, on both
interpreters (about 1.5 s each: the VM's files live in memory).
"""
import binascii
import os
import struct
import sys

from fwtest import TestCase

from onecode import journal
from onecode.journal import Journal

IS_MICROPYTHON = sys.implementation.name == "micropython"
EPOCH = 0x12345678
SMALL = {"max_bytes": 8192, "segment_bytes": 1024, "max_buffer": 512}
_dirs = [0]


def make_dir():
    if not IS_MICROPYTHON:
        import tempfile
        return tempfile.mkdtemp(prefix="journal")
    while True:  # the VM has no tempfile; its root is writable
        _dirs[0] += 1
        d = "/tmp_journal_%d" % _dirs[0]
        try:
            os.stat(d)
        except OSError:
            os.mkdir(d)
            return d


def remove_tree(d):
    try:
        names = os.listdir(d)
    except OSError:
        return
    for name in names:
        p = d + "/" + name
        if os.stat(p)[0] & 0x4000:  # S_IFDIR
            remove_tree(p)
        else:
            os.remove(p)
    os.rmdir(d)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def snapshot(d):
    return dict((name, read(d + "/" + name)) for name in os.listdir(d))


def restore(d, files):
    for name in os.listdir(d):
        os.remove(d + "/" + name)
    for name in files:
        write(d + "/" + name, files[name])


def payload(i):
    """30..120 deterministic bytes for record i."""
    x = (i * 1103515245 + 12345) & 0x7FFFFFFF
    n = 30 + x % 91
    return bytes(((x >> (i % 7)) + k * 31) & 0xFF for k in range(n))


class JournalTestBase(TestCase):
    def setUp(self):
        self.tmp = make_dir()
        self.dir = self.tmp + "/j"

    def tearDown(self):
        remove_tree(self.tmp)

    def journal(self, **kw):
        cfg = dict(SMALL)
        cfg.update(kw)
        j = Journal(self.dir, rand=lambda: EPOCH, **cfg)
        j.open()
        return j


class BasicsTest(JournalTestBase):
    def test_append_flush_pending_ack(self):
        j = self.journal()
        self.assertEqual([j.append(b"a"), j.append(b"bb"), j.append(b"ccc")], [1, 2, 3])
        self.assertEqual(j.pending(), [(1, b"a"), (2, b"bb"), (3, b"ccc")])  # from RAM
        writes = j.writes
        self.assertEqual(j.flush(), 3 * 11 + 6)
        self.assertEqual(j.writes, writes + 1)
        self.assertEqual(j.flush(), 0)  # nothing to write: no write
        self.assertEqual(j.writes, writes + 1)
        self.assertEqual(j.pending(), [(1, b"a"), (2, b"bb"), (3, b"ccc")])  # from flash
        self.assertEqual(j.ack(2), 2)
        self.assertEqual((j.acked, j.count), (2, 1))
        self.assertEqual(j.pending(), [(3, b"ccc")])
        self.assertEqual(j.ack(2), 0)   # stale
        self.assertEqual(j.ack(1), 0)   # stale
        self.assertEqual(j.ack(4), 0)   # never issued
        self.assertEqual(j.ignored_acks, 3)
        self.assertEqual(j.count, 1)

    def test_pending_after_seq_and_limit(self):
        j = self.journal()
        for i in range(10):
            j.append(b"%d" % i)
            if i == 5:
                j.flush()
        self.assertEqual([s for s, _ in j.pending(limit=3)], [1, 2, 3])
        self.assertEqual([s for s, _ in j.pending(after_seq=5, limit=3)], [6, 7, 8])
        self.assertEqual([s for s, _ in j.pending(after_seq=8)], [9, 10])
        j.ack(7)
        self.assertEqual([s for s, _ in j.pending(after_seq=2, limit=2)], [8, 9])

    def test_exact_bytes_on_flash(self):
        j = self.journal()
        j.append(b"\xa1\x61t\x05")
        j.flush()
        got = read(self.dir + "/s00000001")
        self.assertEqual(binascii.hexlify(got),
                         b"5a0c0000000000" b"78563412" b"00000000" b"00010000" b"dcbe0fb5"
                         b"a5040001000000" b"a1617405" b"089017a9")
        self.assertEqual(journal.crc32(got[:19]), struct.unpack("<I", got[19:23])[0])

    def test_crc_fallback_matches_binascii(self):
        self.assertEqual(journal.crc32_py(b"123456789"), 0xCBF43926)
        for data in (b"", b"\x00", b"\xff" * 7, bytes(range(256)), b"onecode journal"):
            self.assertEqual(journal.crc32_py(data), binascii.crc32(data))
        self.assertEqual(journal.crc32_py(b"world", journal.crc32_py(b"hello ")),
                         binascii.crc32(b"hello world"))
        self.assertEqual(journal.crc32_py(memoryview(bytearray(b"abc"))), binascii.crc32(b"abc"))

    def test_bad_arguments(self):
        with self.assertRaises(ValueError):
            Journal(self.dir, max_buffer=4096, segment_bytes=4096)
        with self.assertRaises(ValueError):
            Journal(self.dir, max_bytes=8192, segment_bytes=4096)
        j = Journal(self.dir, **SMALL)
        with self.assertRaises(RuntimeError):
            j.append(b"x")  # not opened
        j.open()
        with self.assertRaises(ValueError):
            j.append(b"x" * (512 - 10))  # does not fit the buffer
        self.assertEqual(j.append(b"x" * (512 - 11)), 1)

    def test_flush_skips_records_acked_while_buffered(self):
        j = self.journal()
        j.append(b"one")
        j.append(b"two")
        j.append(b"three")
        j.ack(2)
        self.assertEqual(j.flush(), 11 + 5 + journal.STATE_LEN)
        j = self.journal()
        self.assertEqual(j.pending(), [(3, b"three")])


class ReopenTest(JournalTestBase):
    def test_seq_monotonic_across_reopen_even_when_all_acked_and_trimmed(self):
        j = self.journal()
        seen = 0
        for boot in range(4):
            for i in range(30):
                s = j.append(payload(i))
                self.assertTrue(s > seen)
                seen = s
            j.flush()
            j.ack(seen)
            j.flush()
            self.assertEqual(j.count, 0)
            self.assertEqual(len(os.listdir(self.dir)), 1)  # only the STATE segment is left
            j = self.journal()
            self.assertEqual((j.pending(), j.acked, j.epoch), ([], seen, EPOCH))

    def test_unflushed_records_are_lost_but_their_seqs_never_reused(self):
        j = self.journal()
        j.append(b"kept")
        j.flush()
        j.append(b"lost")
        lost = j.append(b"lost too")
        j = self.journal()  # power loss: the RAM buffer is gone
        self.assertEqual(j.pending(), [(1, b"kept")])
        self.assertTrue(j.append(b"new") > lost)

    def test_ack_survives_reopen_once_flushed(self):
        j = self.journal()
        for i in range(5):
            j.append(payload(i))
        j.flush()
        j.ack(3)
        j = self.journal()  # ack not flushed: records 1..3 come back (the gateway dedups)
        self.assertEqual([s for s, _ in j.pending()], [1, 2, 3, 4, 5])
        j.ack(3)
        j.flush()
        j = self.journal()
        self.assertEqual(j.acked, 3)
        self.assertEqual([s for s, _ in j.pending()], [4, 5])
        self.assertEqual(j.count, 2)

    def test_epoch_is_kept_and_a_new_journal_gets_its_own(self):
        j = Journal(self.dir, rand=lambda: 0xFFFFFFFF, **SMALL)
        j.open()
        self.assertEqual(j.epoch, 0x7FFFFFFF)  # 31 bits
        j = Journal(self.dir, rand=lambda: 5, **SMALL)
        j.open()
        self.assertEqual(j.epoch, 0x7FFFFFFF)  # persisted: rand is not asked again
        j2 = Journal(self.tmp + "/other", **SMALL)  # default: urandom or random + ticks
        j2.open()
        self.assertTrue(0 < j2.epoch <= 0x7FFFFFFF)


class BoundsTest(JournalTestBase):
    def test_segments_roll_and_are_deleted_only_when_fully_acked(self):
        j = self.journal()
        seqs = []
        for i in range(40):
            seqs.append(j.append(payload(i)))
            if i % 3 == 2:
                j.flush()
        j.flush()
        files = sorted(os.listdir(self.dir))
        self.assertTrue(len(files) >= 3)
        for name in files:
            self.assertTrue(os.stat(self.dir + "/" + name)[6] <= 1024)
        j.ack(seqs[0])
        j.flush()
        self.assertEqual(sorted(os.listdir(self.dir)), files)  # segment 1 still has records
        n1 = len([1 for s, _ in j.pending(limit=100)])
        j.ack(seqs[20])
        j.flush()
        self.assertTrue(j.deleted >= 1)
        self.assertFalse(files[0] in os.listdir(self.dir))
        self.assertEqual([s for s, _ in j.pending(limit=100)], seqs[21:])
        self.assertEqual(j.count, n1 - 20)
        j = self.journal()
        self.assertEqual([s for s, _ in j.pending(limit=100)], seqs[21:])

    def test_full_journal_refuses_and_keeps_everything_accepted(self):
        j = self.journal(max_bytes=4096)
        accepted = []
        refused = 0
        for i in range(200):
            s = j.append(payload(i))
            if s:
                accepted.append((s, payload(i)))
            else:
                refused += 1
            self.assertTrue(j.used_bytes <= 4096)
        j.flush()
        self.assertTrue(refused > 0)
        self.assertEqual(j.refused, refused)
        total = sum(os.stat(self.dir + "/" + n)[6] for n in os.listdir(self.dir))
        self.assertTrue(total <= 4096)
        self.assertEqual(total, j.used_bytes)
        self.assertEqual(j.pending(limit=1000), accepted)
        self.assertEqual(j.append(payload(0)), 0)   # still full
        j.ack(accepted[len(accepted) // 2][0])
        j.flush()                                   # frees whole segments
        self.assertTrue(j.append(payload(0)) > accepted[-1][0])
        j = self.journal(max_bytes=4096)
        self.assertEqual(j.pending(limit=1000)[0], accepted[len(accepted) // 2 + 1])

    def test_buffer_full_flushes_in_one_write(self):
        j = self.journal()
        writes = j.writes
        for i in range(20):
            j.append(b"x" * 89)  # 100-byte frames, 5 fit in 512
        self.assertEqual(j.writes - writes, 3)
        self.assertEqual(j.count, 20)


class FailureTest(JournalTestBase):
    def test_failed_write_keeps_buffer_and_retry_leaves_no_duplicates(self):
        j = self.journal()
        for i in range(4):
            j.append(payload(i))
        j.flush()
        for i in range(4, 8):
            j.append(payload(i))

        def half(path, data):
            with open(path, "ab") as f:
                f.write(data[:len(data) // 2 + 20])
            raise OSError(28)

        j._append = half
        with self.assertRaises(OSError):
            j.flush()
        del j._append
        self.assertEqual(j.count, 8)
        self.assertEqual([s for s, _ in j.pending(limit=100)], [1, 2, 3, 4, 5, 6, 7, 8])
        j.flush()   # goes to a new segment: the half-written one is never appended to
        self.assertEqual(len(os.listdir(self.dir)), 2)
        want = [(i + 1, payload(i)) for i in range(8)]
        self.assertEqual(j.pending(limit=100), want)
        j = self.journal()
        self.assertEqual(j.pending(limit=100), want)
        self.assertEqual(j.count, 8)

    def test_interrupted_cut_back_leaves_a_tmp_file_that_is_ignored(self):
        j = self.journal()
        for i in range(3):
            j.append(payload(i))
        j.flush()
        path = self.dir + "/s00000001"
        good = read(path)
        write(path, good + b"\xa5\x10\x00garbage")
        write(path + ".tmp", good[:17])   # power lost while copying the valid part
        j = self.journal()
        self.assertEqual(j.pending(), [(i + 1, payload(i)) for i in range(3)])
        self.assertEqual(j.torn_bytes, 10)
        self.assertEqual(sorted(os.listdir(self.dir)), ["s00000001"])


class CrashTest(JournalTestBase):
    """Power loss at every byte of the last-written segment, STATE frames included."""

    def build(self):
        """A journal of 42 records (30..120 bytes) across five segments, with acks and
        reopens; the last segment gets records, an ack and an open() write. Returns
        the steps: after each write, (files, acked, unacked records, max seq issued,
        records appended since the previous step)."""
        steps = []
        recs = []
        fresh = []
        issued = [0]
        j = self.journal()

        def step(jj):
            steps.append((snapshot(self.dir), jj.acked, [r for r in recs if r[0] > jj.acked],
                          issued[0], list(fresh)))
            del fresh[:]

        step(j)
        for i in range(42):
            s = j.append(payload(i))
            issued[0] = s
            recs.append((s, payload(i)))
            fresh.append((s, payload(i)))
            if i % 3 == 2 or i == 39:
                j.flush()
                step(j)
            if i in (11, 23, 34, 39):  # ack-only writes; 34 acks with records buffered
                j.ack(recs[i - 3][0])
                j.flush()
                step(j)
            if i in (29, 39):  # reboot: open() writes a STATE frame
                j = self.journal()
                step(j)
        return steps

    def test_power_loss_at_every_byte_of_the_last_segment(self):
        steps = self.build()
        final = steps[-1][0]
        last = max(final)
        tail = struct.pack("<BHI", journal.REC, 20, steps[-1][3] + 1) + b"\x11" * 24
        garbage = (b"", b"\xff" * 24, tail)
        kinds = {"records": 0, "open": 0, "ack": 0}
        cases = 0
        for k in range(1, len(steps)):
            before = steps[k - 1][0].get(last, b"")
            after = steps[k][0].get(last, b"")
            if len(after) <= len(before):
                continue
            self.assertEqual(after[:len(before)], before)  # append-only
            new = steps[k][4]
            kinds["records" if new else ("open" if steps[k][1] == steps[k - 1][1] else "ack")] += 1
            for x in range(len(before), len(after)):
                expected = list(steps[k - 1][2])
                end = len(before)
                for r in new:
                    end += journal.OVERHEAD + len(r[1])
                    if end <= x:
                        expected.append(r)
                for g in garbage:
                    files = dict(steps[k - 1][0])
                    files[last] = after[:x] + g
                    self.crash_case(files, expected, steps[k - 1][1], steps[k][3], (k, x, g))
                    cases += 1
        self.assertTrue(kinds["records"] >= 3 and kinds["open"] >= 1 and kinds["ack"] >= 1)
        self.assertTrue(cases > 1500, cases)
        # and the clean end state
        self.crash_case(dict(final), steps[-1][2], steps[-1][1], steps[-1][3], "end")

    def test_power_loss_between_write_and_trim(self):
        steps = self.build()
        n = 0
        for k in range(1, len(steps)):
            gone = [name for name in steps[k - 1][0] if name not in steps[k][0]]
            if not gone:
                continue
            files = dict(steps[k][0])
            for name in gone:
                files[name] = steps[k - 1][0][name]
            self.crash_case(files, steps[k][2], steps[k][1], steps[k][3], k)
            for name in gone:
                self.assertFalse(name in os.listdir(self.dir))
            n += 1
        self.assertTrue(n >= 1)

    def crash_case(self, files, expected, acked, issued, where):
        restore(self.dir, files)
        j = self.journal()
        self.assertEqual(j.pending(limit=100), expected, where)
        self.assertEqual((j.acked, j.epoch, j.count), (acked, EPOCH, len(expected)), where)
        s = j.append(b"after the crash")
        self.assertTrue(s > issued, where)
        j.flush()
        j = self.journal()
        self.assertEqual(j.pending(limit=100), expected + [(s, b"after the crash")], where)
