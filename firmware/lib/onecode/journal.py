"""The device's offline queue on flash: numbered records that survive reboots and power loss.

Records (bytes, e.g. CBOR) get sequence numbers that only ever grow, across reboots,
torn writes and trims; `(epoch, seq)` names a record for the gateway. Appends go to a
RAM buffer; `flush()` writes it in ONE file append. The gateway's cumulative ack trims
the queue by deleting whole segment files; remaining data is never rewritten. It must
never rewrite a file per event, grow past its bounds, reuse a seq or drop a record
silently; the only rewrite is of a torn last segment, once, in `open()`.

API (sizes in bytes). Whatever touches files may raise OSError; a failed flush keeps
its records in RAM and the next flush retries them.
    j = Journal(dirpath, max_bytes=32768, segment_bytes=4096, max_buffer=2048, rand=None)
        no I/O; rand() -> int seeds the 31-bit epoch of a new journal (default:
        os.urandom, else random.getrandbits mixed with ticks_ms).
    j.open() -> {"records", "torn_bytes", "segments"}: recover, write one STATE frame
    j.append(payload) -> seq; 0 when full (counted in `refused`: the caller keeps the
        record and retries after acks). Flushes first when the buffer is full.
    j.flush() -> bytes written (one append, or none); deletes fully acked segments
    j.pending(after_seq=None, limit=16) -> [(seq, payload)] unacked, seq order, flash
        then RAM, seqs > max(acked, after_seq)
    j.ack(seq) -> records released; cumulative; seq <= acked or > last_seq is ignored
        (`ignored_acks`). Saved by the next flush(), unless the files are full of
        unacked records (`saved_acked` tells); until saved, a reboot resends those
        records and the gateway drops them as duplicates of (epoch, seq).
    j.epoch, j.acked, j.saved_acked, j.last_seq, j.count (unacked), j.used_bytes
    counters: flushes, writes, bytes_written, torn_bytes, refused, ignored_acks, deleted

On flash: `dirpath/sNNNNNNNN` segment files (8 decimal digits, numbers never reused),
each a run of frames, integers little-endian:
    magic u8 | len u16 | seq u32 | payload[len] | crc32 u32 (binascii.crc32 of all before)
  0xA5: a record, len <= 1024, seq = its sequence number (1 .. 2**32-1).
  0x5A: STATE, len 12, seq 0, payload = epoch u32 | acked u32 | reserved u32.
A flush writes [records not yet acked][STATE if due]. STATE is due after ack(), at
open(), in the first write of a new segment, and when fewer than RESERVE/2 reserved
seqs remain. `reserved` is on flash before any seq up to it is handed out, so recovery
resumes at reserved + 1: a seq issued but lost (RAM, torn write) is never reused.
Seqs therefore have gaps: up to RESERVE = 256 per reboot.

Recovery: a segment's valid part ends at its first frame with a bad magic, length or
CRC. A torn last segment is cut back to its valid part (copy to .tmp, rename) so that
no append ever follows garbage; other segments are never appended to again. The last
valid STATE gives epoch, acked, reserved. A record not above every seq before it (left
by a failed write that was retried) is skipped. A non-current segment is deleted once
all its records are <= acked, unless it holds the newest saved STATE.

Bounds: segment files + buffer <= max_bytes (append refuses when the frame and one
STATE frame would not fit; only the partial bytes of a failed write can exceed it,
until their segment is trimmed). Files <= segment_bytes; closed segments hold more
than segment_bytes - max_buffer - 46, so there are <= 2*max_bytes/segment_bytes + 2
in normal use. Payload <= min(1024, max_buffer - 11). RAM: max_buffer + 23 (write
buffer) + 1035 (read buffer) + a 7-item list per segment + what pending() returns.
"""
import binascii
import os
import struct

from onecode.compat import const, ticks_ms

REC = const(0xA5)
STATE = const(0x5A)
HDR = const(7)            # magic u8 | len u16 | seq u32
OVERHEAD = const(11)      # HDR + crc32
STATE_LEN = const(23)     # OVERHEAD + epoch, acked, reserved
MAX_PAYLOAD = const(1024)
RESERVE = const(256)
MAX_SEQ = 0xFFFFFFFF
_FMT = "<BHI"
# segment table entry: [number, valid end, size on disk, first seq, last seq, records, appendable]
_NO, _END, _SIZE, _FIRST, _LAST, _NREC, _OK = 0, 1, 2, 3, 4, 5, 6

_TABLE = None


def crc32_py(data, crc=0):
    """binascii.crc32 in Python, for ports built without it (same values)."""
    global _TABLE
    if _TABLE is None:
        from array import array
        t = array("I", [0] * 256)
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
            t[i] = c
        _TABLE = t
    t = _TABLE
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


crc32 = getattr(binascii, "crc32", crc32_py)


def _random31():
    try:
        v = struct.unpack("<I", os.urandom(4))[0]
    except (AttributeError, NotImplementedError, OSError):
        try:
            import random
            v = random.getrandbits(31)
        except ImportError:
            v = 0
        v ^= ticks_ms() * 2654435761
    return v


class Journal:
    def __init__(self, dirpath, max_bytes=32768, segment_bytes=4096, max_buffer=2048, rand=None):
        if max_buffer < 64 or 2 * max_buffer > segment_bytes or 4 * segment_bytes > max_bytes:
            raise ValueError("need 64 <= max_buffer <= segment_bytes/2 <= max_bytes/8")
        self.dir = dirpath
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.max_buffer = max_buffer
        self._rand = rand or _random31
        self._buf = bytearray(max_buffer + STATE_LEN)
        self._mv = memoryview(self._buf)
        self._rmv = memoryview(bytearray(HDR + MAX_PAYLOAD + 4))
        self._rhdr = self._rmv[:HDR]
        self.flushes = self.writes = self.bytes_written = self.torn_bytes = 0
        self.refused = self.ignored_acks = self.deleted = 0
        self._reset()

    def _reset(self):
        self._blen = 0
        self._segs = []
        self._disk = 0
        self._top_no = 0       # highest segment number ever seen: numbers are never reused
        self._state_no = -1    # segment holding the newest durable STATE frame
        self._state_due = False
        self._next = 1
        self._reserved = 0
        self.epoch = 0
        self.acked = 0
        self.saved_acked = 0
        self.count = 0

    @property
    def last_seq(self):
        return self._next - 1

    @property
    def used_bytes(self):
        return self._disk + self._blen

    def _path(self, no):
        return "%s/s%08d" % (self.dir, no)

    def open(self):
        """Recover from the files; returns {"records", "torn_bytes", "segments"}."""
        self._reset()
        try:
            os.mkdir(self.dir)
        except OSError:
            pass  # exists; any other problem shows at the first file open
        nos = []
        for name in os.listdir(self.dir):
            if name.endswith(".tmp"):
                os.remove("%s/%s" % (self.dir, name))  # a cut-back interrupted by power loss
            elif len(name) == 9 and name[0] == "s":
                try:
                    nos.append(int(name[1:]))
                except ValueError:
                    pass
        nos.sort()
        top = 0
        state = None
        for no in nos:
            seg, st, top = self._scan(no, top)
            if st:
                state, self._state_no = st, no
            self._segs.append(seg)
            self._disk += seg[_SIZE]
            self._top_no = no
        torn = 0
        for seg in self._segs:
            torn += seg[_SIZE] - seg[_END]
            seg[_OK] = seg[_SIZE] == seg[_END]
        if self._segs and not self._segs[-1][_OK]:
            self._cut(self._segs[-1])
        self.torn_bytes += torn
        if state:
            self.epoch, self.acked, self._reserved = state
            self.saved_acked = self.acked
        else:
            self.epoch = (self._rand() & 0x7FFFFFFF) or 1
        self._next = max(self._reserved, top) + 1
        self._reserved = self._next - 1  # nothing left: the STATE written below renews it
        self.count = self._collect(self.acked, MAX_SEQ, None, MAX_SEQ)
        self._state_due = True
        self.flush()
        return {"records": self.count, "torn_bytes": torn, "segments": len(self._segs)}

    def _frame(self, f):
        """Read one frame from f into the read buffer: (magic, seq, len), or None."""
        mv = self._rmv
        if f.readinto(self._rhdr) != HDR:
            return None
        magic, n, seq = struct.unpack_from(_FMT, mv, 0)
        if not ((magic == REC and n <= MAX_PAYLOAD) or (magic == STATE and n == 12)):
            return None
        if f.readinto(mv[HDR:HDR + n + 4]) != n + 4:
            return None
        if crc32(mv[:HDR + n]) != struct.unpack_from("<I", mv, HDR + n)[0]:
            return None
        return magic, seq, n

    def _scan(self, no, top):
        """Read segment `no`: (table entry, last STATE tuple or None, highest seq so far)."""
        path = self._path(no)
        seg = [no, 0, os.stat(path)[6], 0, 0, 0, True]
        state = None
        with open(path, "rb") as f:
            while True:
                fr = self._frame(f)
                if fr is None:
                    break
                magic, seq, n = fr
                seg[_END] += OVERHEAD + n
                if magic == STATE:
                    state = struct.unpack_from("<III", self._rmv, HDR)
                elif seq > top:
                    top = seq
                    if not seg[_NREC]:
                        seg[_FIRST] = seq
                    seg[_LAST] = seq
                    seg[_NREC] += 1
        return seg, state, top

    def _cut(self, seg):
        """Cut a torn last segment back to its valid frames (power-safe: .tmp + rename)."""
        path = self._path(seg[_NO])
        end = seg[_END]
        self._disk -= seg[_SIZE] - end
        seg[_SIZE] = end
        seg[_OK] = True
        if not end:
            os.remove(path)
            self._segs.pop()
            return
        tmp = path + ".tmp"
        mv = self._rmv
        with open(path, "rb") as src:
            with open(tmp, "wb") as dst:
                left = end
                while left:
                    k = src.readinto(mv[:min(left, len(mv))])
                    if not k:
                        break
                    dst.write(mv[:k])
                    left -= k
        os.rename(tmp, path)
        self.writes += 1
        self.bytes_written += end

    def _collect(self, lo, hi, out, limit):
        """Records with lo < seq <= hi in order, flash then RAM, at most `limit`:
        appended to `out` as (seq, bytes), or only counted when out is None."""
        n = 0
        for seg in self._segs:
            if n >= limit:
                return n
            if not seg[_NREC] or seg[_LAST] <= lo or seg[_FIRST] > hi:
                continue
            if out is None and seg[_FIRST] > lo and seg[_LAST] <= hi:
                n += seg[_NREC]
                lo = seg[_LAST]
                continue
            with open(self._path(seg[_NO]), "rb") as f:
                pos = 0
                while pos < seg[_END] and n < limit:
                    fr = self._frame(f)
                    if fr is None:
                        break
                    magic, seq, ln = fr
                    pos += OVERHEAD + ln
                    if magic != REC or seq <= lo:
                        continue
                    if seq > hi:
                        break
                    lo = seq
                    n += 1
                    if out is not None:
                        out.append((seq, bytes(self._rmv[HDR:HDR + ln])))
        pos = 0
        while pos < self._blen and n < limit:
            ln, seq = struct.unpack_from(_FMT, self._buf, pos)[1:]
            pos += OVERHEAD + ln
            if seq <= lo:
                continue
            if seq > hi:
                break
            n += 1
            if out is not None:
                out.append((seq, bytes(self._mv[pos - 4 - ln:pos - 4])))
        return n

    def append(self, payload):
        """Buffer one record; its seq, or 0 when the journal is full (nothing kept)."""
        n = len(payload)
        flen = OVERHEAD + n
        if n > MAX_PAYLOAD or flen > self.max_buffer:
            raise ValueError("payload too large")
        if self._blen + flen > self.max_buffer or self._next > self._reserved:
            self.flush()
        if (self._next > self._reserved or self._next > MAX_SEQ
                or self._disk + self._blen + flen + STATE_LEN > self.max_bytes):
            self.refused += 1
            return 0
        seq = self._next
        o = self._blen
        buf = self._buf
        struct.pack_into(_FMT, buf, o, REC, n, seq)
        buf[o + HDR:o + HDR + n] = payload
        struct.pack_into("<I", buf, o + HDR + n, crc32(self._mv[o:o + HDR + n]))
        self._blen = o + flen
        self._next = seq + 1
        self.count += 1
        return seq

    def ack(self, seq):
        """Everything up to `seq` is acknowledged; returns how many records that released."""
        if seq <= self.acked or seq >= self._next:
            self.ignored_acks += 1
            return 0
        n = self._collect(self.acked, seq, None, MAX_SEQ)
        self.acked = seq
        self.count -= n
        self._state_due = True
        return n

    def pending(self, after_seq=None, limit=16):
        lo = self.acked if after_seq is None or after_seq < self.acked else after_seq
        out = []
        self._collect(lo, MAX_SEQ, out, limit)
        return out

    def flush(self):
        """Write the buffer (minus records already acked) and a STATE frame when due, in
        one append; then delete fully acked segments. Returns the bytes written. On
        OSError the buffer is kept and a half-written segment is never appended to again."""
        if not self.epoch:
            raise RuntimeError("journal not open")
        buf, blen, acked = self._buf, self._blen, self.acked
        start = pos = first = last = nrec = 0
        while pos < blen:  # acked records form a prefix of the buffer
            ln, seq = struct.unpack_from(_FMT, buf, pos)[1:]
            pos += OVERHEAD + ln
            if seq <= acked:
                start = pos
            else:
                first = first or seq
                last = seq
                nrec += 1
        n = blen - start
        state = self._state_due or self._reserved - self.last_seq < RESERVE // 2
        cur = self._segs[-1] if self._segs else None
        # a new segment when this one is closed or full, or half full and all acked
        # (then it can be deleted at once instead of lingering)
        roll = (cur is None or not cur[_OK]
                or cur[_SIZE] + n + STATE_LEN > self.segment_bytes
                or (2 * cur[_SIZE] >= self.segment_bytes
                    and (not cur[_NREC] or cur[_LAST] <= acked)))
        if roll and n:
            state = True
        if state and not n and self._disk + STATE_LEN > self.max_bytes:
            self._trim()  # full: deleting acked segments first may make room
            if self._disk + STATE_LEN > self.max_bytes:
                state = False  # still full: the STATE waits for a flush with room
        if state:
            reserved = min(self.last_seq + RESERVE, MAX_SEQ)
            struct.pack_into(_FMT, buf, blen, STATE, 12, 0)
            struct.pack_into("<III", buf, blen + HDR, self.epoch, acked, reserved)
            struct.pack_into("<I", buf, blen + HDR + 12, crc32(self._mv[blen:blen + HDR + 12]))
            n += STATE_LEN
        if n:
            if roll:
                self._top_no += 1
                cur = [self._top_no, 0, 0, 0, 0, 0, True]
                self._segs.append(cur)
            try:
                self._append(self._path(cur[_NO]), self._mv[start:start + n])
            except OSError:
                self._failed(cur, roll)
                raise
            self.flushes += 1
            self.writes += 1
            self.bytes_written += n
            self._disk += n
            cur[_END] += n
            cur[_SIZE] += n
            if nrec:
                if not cur[_NREC]:
                    cur[_FIRST] = first
                cur[_LAST] = last
                cur[_NREC] += nrec
            if state:
                self._reserved = reserved
                self.saved_acked = acked
                self._state_due = False
                self._state_no = cur[_NO]
        self._blen = 0
        self._trim()
        return n

    def _append(self, path, data):
        with open(path, "ab") as f:
            if f.write(data) != len(data):
                raise OSError(28)  # ENOSPC

    def _failed(self, seg, new):
        try:
            size = os.stat(self._path(seg[_NO]))[6]
        except OSError:
            size = 0
        self._disk += size - seg[_SIZE]
        seg[_SIZE] = size
        if size == seg[_END]:  # nothing landed: the same segment can take the retry
            if new and not size:
                try:
                    os.remove(self._path(seg[_NO]))
                except OSError:
                    pass
                self._segs.pop()
        else:
            seg[_OK] = False

    def _trim(self):
        segs = self._segs
        keep = []
        for seg in segs[:-1]:
            if (seg[_NREC] and seg[_LAST] > self.acked) or seg[_NO] == self._state_no:
                keep.append(seg)
                continue
            try:
                os.remove(self._path(seg[_NO]))
            except OSError:
                keep.append(seg)
                continue
            self._disk -= seg[_SIZE]
            self.deleted += 1
        if len(keep) + 1 < len(segs):
            keep.append(segs[-1])
            self._segs = keep
