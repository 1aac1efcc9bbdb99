"""Verify NTAG 424 DNA Secure Unique NFC (SUN) tap links, AES mode (NXP AN12196).

Pure functions: parse the query parameters of a tap URL, decrypt PICCData, check
the truncated SDMMAC, decrypt SDMEncFileData, derive per-tag keys from the cloud's
master key, and judge a tap's counter against stored state. `simulate_tap` is a
*simulator* of what a tag writes, for tests and the demo; no real tag uses it.

Must never: import Flask or touch the database; log, return or repr a key; compare
MACs other than in constant time; accept an all-zero key unless the caller passes
`allow_test_keys=True` (tests, demo); trust PICCData or file data whose MAC failed.
See docs/nfc-sun.md for the key hierarchy and the replay and clone rules.
"""
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFCMAC, CounterLocation, Mode

UID_LEN = 7
MAX_COUNTER = 0xFFFFFF          # SDMReadCtr is 24 bits
MAX_ENC_BYTES = 128             # the whole NDEF file is 256 bytes and enc is hex in it
PICC_TAG = 0x80 | 0x40 | UID_LEN  # UID mirrored, counter mirrored, UID length 7
_SV1 = bytes.fromhex("C33C00010080")  # session ENC key
_SV2 = bytes.fromhex("3CC300010080")  # session MAC key
_ZERO_IV = bytes(16)
KDF_LABEL_PREFIX = b"onecode-ntag424:"
TAG_KEY_PURPOSES = ("app_master", "sdm_file_read", "key3", "key4")  # slots 0, 2, 3, 4


class SunError(ValueError):
    """A tap link that cannot be checked; `reason` is a short code for logs."""

    def __init__(self, message, reason="malformed"):
        super().__init__(message)
        self.reason = reason


class ZeroKeyError(ValueError):
    """An all-zero key where production keys are required."""


@dataclass(frozen=True)
class SunParams:
    layout: str                 # "picc_data" | "e" | "plain"
    cmac: bytes                 # 8 bytes as sent
    picc_data: bytes = None     # 16 bytes (encrypted layouts)
    enc: bytes = None           # SDMEncFileData ("picc_data" layout only)
    uid: bytes = None           # plain layout
    counter: int = None         # plain layout


@dataclass(frozen=True)
class SunResult:
    valid: bool
    reason: str = None          # None when valid; else bad_mac, bad_picc, malformed, ...
    uid: str = None             # upper-case hex, only when valid
    counter: int = None
    file_data: bytes = None
    layout: str = None


def _hex(args, name, nbytes=None, what=None):
    """Bytes of one hex parameter; for PICCData (what="PICCData") 24 bytes means LRP."""
    values = args.getlist(name) if hasattr(args, "getlist") else [args.get(name)]
    if len(values) > 1:
        raise SunError("parameter %r is repeated" % name)
    text = values[0] if values else None
    if text is None or text == "":
        raise SunError("parameter %r is missing" % name, "missing_param")
    if any(c not in "0123456789abcdefABCDEF" for c in text):
        raise SunError("parameter %r is not hex" % name)
    if len(text) % 2:
        raise SunError("parameter %r has an odd number of hex digits" % name)
    raw = bytes.fromhex(text)
    if what == "PICCData" and len(raw) == 24:
        raise SunError("LRP mode is not supported", "lrp_unsupported")
    if nbytes is not None and len(raw) != nbytes:
        raise SunError("parameter %r must be %d bytes (%s), got %d"
                       % (name, nbytes, what or name, len(raw)))
    return raw


def parse_params(args):
    """SunParams from URL query parameters (a dict or a werkzeug MultiDict).

    Layouts: `picc_data` + `cmac` [+ `enc`] (AN12196 §4.4.5), `e` + `c` (AN12196
    §4.4.4, no file data), plain `uid` + `ctr` + `cmac` (counter MSB first).
    Raises SunError (reason missing_param, malformed or lrp_unsupported).
    """
    present = [k for k in ("picc_data", "e", "uid") if args.get(k) not in (None, "")]
    if len(present) != 1:
        raise (SunError("ambiguous tap link: both %r and %r" % tuple(present[:2])) if present
               else SunError("no SUN parameters (picc_data, e or uid)", "missing_param"))
    has_enc = args.get("enc") not in (None, "")
    if has_enc and present[0] != "picc_data":
        raise SunError("parameter 'enc' is only defined with 'picc_data'")
    if present[0] == "picc_data":
        picc, enc = _hex(args, "picc_data", 16, "PICCData"), _hex(args, "enc") if has_enc else None
        if has_enc and (len(enc) % 16 or len(enc) > MAX_ENC_BYTES):
            raise SunError("parameter 'enc' must be a multiple of 16 bytes, at most %d, "
                           "got %d" % (MAX_ENC_BYTES, len(enc)))
        return SunParams("picc_data", _hex(args, "cmac", 8, "SDMMAC"), picc, enc)
    if present[0] == "e":
        return SunParams(layout="e", picc_data=_hex(args, "e", 16, "PICCData"),
                         cmac=_hex(args, "c", 8, "SDMMAC"))
    return SunParams(layout="plain", uid=_hex(args, "uid", UID_LEN, "UID"),
                     counter=int.from_bytes(_hex(args, "ctr", 3, "SDMReadCtr"), "big"),
                     cmac=_hex(args, "cmac", 8, "SDMMAC"))


def _aes(key, mode, data, encrypt=False):
    c = Cipher(algorithms.AES(key), mode)
    op = c.encryptor() if encrypt else c.decryptor()
    return op.update(data) + op.finalize()


def aes_cmac(key, data):
    c = cmac.CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def decrypt_picc(picc_data, meta_read_key):
    """(uid, counter, tag byte) from 16-byte PICCData; SunError reason bad_picc."""
    plain = _aes(meta_read_key, modes.CBC(_ZERO_IV), picc_data)
    if plain[0] != PICC_TAG:
        raise SunError("PICCData tag byte is not C7 (UID, counter, UID length 7)", "bad_picc")
    return plain[1:8], int.from_bytes(plain[8:11], "little"), plain[0]


def _sv(prefix, uid, counter):
    return (prefix + uid + counter.to_bytes(3, "little")).ljust(16, b"\x00")


def session_keys(file_read_key, uid, counter):
    """(KSesSDMFileReadMAC, KSesSDMFileReadENC) from SV2 and SV1."""
    return (aes_cmac(file_read_key, _sv(_SV2, uid, counter)),
            aes_cmac(file_read_key, _sv(_SV1, uid, counter)))


def sdm_mac(k_ses_mac, mac_input):
    """SDMMAC: AES-CMAC over macInput, bytes 1,3,...,15 kept."""
    return aes_cmac(k_ses_mac, mac_input)[1::2]


def file_data_iv(k_ses_enc, counter):
    return _aes(k_ses_enc, modes.ECB(), counter.to_bytes(3, "little") + bytes(13), True)


def decrypt_file_data(k_ses_enc, counter, enc):
    return _aes(k_ses_enc, modes.CBC(file_data_iv(k_ses_enc, counter)), enc)


def mac_input(params):
    """The ASCII the tag MACs: ENC_HEX_UPPER + '&cmac=' when there is file data."""
    return params.enc.hex().upper().encode("ascii") + b"&cmac=" if params.enc else b""


def _check_key(key, what, allow_test_keys, lengths=(16,)):
    if len(key) not in lengths:
        raise ValueError("%s must be %s bytes" % (what, " or ".join(map(str, lengths))))
    if not any(key) and not allow_test_keys:
        raise ZeroKeyError("all-zero %s refused (allow_test_keys=True for tests only)" % what)


def _kdf(master_key, purpose, context, allow_test_keys):
    _check_key(master_key, "master key", allow_test_keys, (16, 32))
    return KBKDFCMAC(algorithm=algorithms.AES, mode=Mode.CounterMode, length=16, rlen=4,
                     llen=4, location=CounterLocation.BeforeFixed,
                     label=KDF_LABEL_PREFIX + purpose.encode("ascii"), context=context,
                     fixed=None).derive(master_key)


def derive_tag_key(master_key, uid, purpose, allow_test_keys=False):
    """Per-tag key: NIST SP 800-108 counter mode, PRF AES-CMAC (see docs/nfc-sun.md)."""
    if purpose not in TAG_KEY_PURPOSES:
        raise ValueError("unknown tag key purpose %r" % purpose)
    if len(uid) != UID_LEN:
        raise ValueError("UID must be 7 bytes")
    return _kdf(master_key, purpose, uid, allow_test_keys)


def derive_meta_read_key(master_key, allow_test_keys=False):
    """SDMMetaReadKey (slot 1): one for all tags, the cloud must read PICCData first."""
    return _kdf(master_key, "sdm_meta_read", b"", allow_test_keys)


class MasterKeys:
    """Keys for `verify`, derived from the cloud's master key (production)."""

    def __init__(self, master_key, allow_test_keys=False):
        self._master, self._allow = bytes(master_key), allow_test_keys
        self.meta_read_key = derive_meta_read_key(master_key, allow_test_keys)

    def file_read_key(self, uid):
        return derive_tag_key(self._master, uid, "sdm_file_read", self._allow)

    def __repr__(self):
        return "MasterKeys(<hidden>)"


class StaticKeys:
    """Fixed keys for every tag (AN12196 vectors, factory-key demo tags)."""

    def __init__(self, meta_read_key, file_read_key, allow_test_keys=False):
        _check_key(meta_read_key, "SDMMetaReadKey", allow_test_keys)
        _check_key(file_read_key, "SDMFileReadKey", allow_test_keys)
        self.meta_read_key, self._file = bytes(meta_read_key), bytes(file_read_key)

    def file_read_key(self, uid):
        return self._file

    def __repr__(self):
        return "StaticKeys(<hidden>)"


def verify(params, keys):
    """SunResult for parsed SunParams; `keys` has .meta_read_key and .file_read_key(uid)."""
    if params.layout == "plain":
        uid, counter = params.uid, params.counter
    else:
        try:
            uid, counter, _ = decrypt_picc(params.picc_data, keys.meta_read_key)
        except SunError as exc:
            # same work as a MAC check, so timing does not tell bad_picc from bad_mac
            sdm_mac(session_keys(keys.file_read_key(bytes(UID_LEN)), bytes(UID_LEN), 0)[0],
                    mac_input(params))
            return SunResult(False, exc.reason, layout=params.layout)
    k_mac, k_enc = session_keys(keys.file_read_key(uid), uid, counter)
    if not hmac.compare_digest(sdm_mac(k_mac, mac_input(params)), params.cmac):
        return SunResult(False, "bad_mac", layout=params.layout)
    file_data = decrypt_file_data(k_enc, counter, params.enc) if params.enc else None
    return SunResult(True, None, uid.hex().upper(), counter, file_data, params.layout)


def verify_args(args, keys):
    """parse_params + verify; a malformed link is an invalid result, not an exception."""
    try:
        params = parse_params(args)
    except SunError as exc:
        return SunResult(False, exc.reason)
    return verify(params, keys)


def judge_counter(last_seen_counter, counters_seen_recently, new_counter):
    """'fresh' | 'replayed' | 'clone_suspected' for an authenticated counter of one UID.

    last_seen_counter: the highest counter accepted before for this UID (None: never).
    counters_seen_recently: the UID's authenticated counters in the recent window, in
    arrival order, whatever each was judged. In order: fresh when new > last or no
    last; replayed when new == last or new is in the window (the same link again);
    clone_suspected when new is unseen and below last, and the window already holds
    a *regression* r < new (r arrived below the window's running highest and unseen
    before it): two increasing series interleave; otherwise replayed (one stale or
    copied link: not fresh, not yet a pattern). See docs/nfc-sun.md.
    """
    if any(c is not None and not 0 <= c <= MAX_COUNTER for c in (new_counter, last_seen_counter)):
        raise ValueError("counter out of range 0..0xFFFFFF")
    recent = list(counters_seen_recently)
    if last_seen_counter is None or new_counter > last_seen_counter:
        return "fresh"
    if new_counter == last_seen_counter or new_counter in recent:
        return "replayed"
    highest, seen = -1, set()
    for c in recent:
        if c < highest and c not in seen and c < new_counter:
            return "clone_suspected"
        highest = max(highest, c)
        seen.add(c)
    return "replayed"


def simulate_tap(meta_read_key, file_read_key, uid, counter, file_data=None,
                 layout="picc_data", padding=None):
    """SIMULATOR: the query parameters a tag would write for one tap (hex, upper).

    For tests and the demo only. `padding` is the 5 random PICCData padding bytes a
    real tag adds (os.urandom when None). file_data: multiple of 16 bytes.
    """
    pad = os.urandom(5) if padding is None else padding
    if len(uid) != UID_LEN or not 0 <= counter <= MAX_COUNTER or len(pad) != 5:
        raise ValueError("UID must be 7 bytes, counter 24 bits, padding 5 bytes")
    if file_data and (layout != "picc_data" or len(file_data) % 16
                      or len(file_data) > MAX_ENC_BYTES):
        raise ValueError("file data: picc_data layout only, a multiple of 16 bytes")
    k_mac, k_enc = session_keys(file_read_key, uid, counter)
    if layout == "plain":
        return {"uid": uid.hex().upper(), "ctr": "%06X" % counter,
                "cmac": sdm_mac(k_mac, b"").hex().upper()}
    plain = bytes([PICC_TAG]) + uid + counter.to_bytes(3, "little") + pad
    picc = _aes(meta_read_key, modes.CBC(_ZERO_IV), plain, True).hex().upper()
    if layout == "e":
        return {"e": picc, "c": sdm_mac(k_mac, b"").hex().upper()}
    enc = _aes(k_enc, modes.CBC(file_data_iv(k_enc, counter)), file_data, True) if file_data else b""
    out = {"picc_data": picc, "enc": enc.hex().upper()} if enc else {"picc_data": picc}
    out["cmac"] = sdm_mac(k_mac, mac_input(SunParams("picc_data", b"", enc=enc))).hex().upper()
    return out
