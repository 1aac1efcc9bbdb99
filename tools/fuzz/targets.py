"""The byte parsers under fuzzing: one `check(data)` per target, shared by the
coverage-guided fuzzer (tools/fuzz/run.py, atheris) and the hypothesis tests in
tests/security/test_hostile_bytes.py.

A check returns normally for every input the parser handles as promised (a result,
or its documented refusal: ValueError for the decoders, a Rejected for the gateway's
batch intake, an invalid SunResult for a tap link) and raises anything else: an
unexpected exception, or an AssertionError when a property fails. Properties beyond
"does not crash": the stream parsers' buffers stay within their bound and every frame
they return is a valid frame that is really in the input; what a decoder accepts
encodes back to the same thing (CBOR, EPC, GS1).

`seeds()` gives valid inputs of each kind for the fuzzer's starting corpus.
"""
import cbor2

from onecode import barcode, cbor, epc, gs1, ndef
from onecode import m100_frame as m1
from onecode import mercury_frame as mf
from onecode import pn532_frame as pn

MAX_CHUNK = 64


def _chunks(data):
    """The first byte picks the chunk size, so the fuzzer also explores chunking."""
    if not data:
        return [b""]
    size = 1 + data[0] % MAX_CHUNK
    body = data[1:]
    return [body[i:i + size] for i in range(0, len(body), size)] or [b""]


def _stream(data):
    return b"".join(_chunks(data))


# -- UART frame parsers -------------------------------------------------------------
def check_mercury(data):
    """Every frame returned is in the input with its CRC, with one documented
    exception (mercury_frame.FrameParser): the CRCs of a run of frames are checked
    together, so two or more bad frames whose errors have the same CRC syndrome
    cancel out (1 in 65,536 for random errors; the fuzzer builds such pairs on
    purpose). One bad frame alone never passes, nor do two identical bad frames."""
    p = mf.FrameParser()
    stream = _stream(data)
    for chunk in _chunks(data):
        frames = p.feed(chunk)
        phantoms = [f for f in frames if mf.build_response(*f) not in stream]
        assert len(phantoms) != 1, "Mercury frame with a bad CRC returned: %r" % (phantoms,)
        assert len(set(phantoms)) == len(phantoms) or len(set(phantoms)) > 1, \
            "identical Mercury frames with a bad CRC returned: %r" % (phantoms,)
        assert 0 <= p.pending <= p._size, "Mercury parser buffer over its bound"
    p.resync()
    assert p.pending <= p._size


def check_m100(data):
    p = m1.FrameParser()
    stream = _stream(data)
    for chunk in _chunks(data):
        for ftype, cmd, params in p.feed(chunk):
            assert len(params) <= p.max_params
            assert m1.build(cmd, params, frame_type=ftype) in stream, "M100 frame returned that is not in the input"
        assert 0 <= p.pending <= p._size, "M100 parser buffer over its bound"
    p.resync()


def check_pn532(data):
    p = pn.FrameParser()
    stream = _stream(data)
    for chunk in _chunks(data):
        for kind, payload in p.feed(chunk):
            if kind < 0x100:
                frame = pn.build(payload, tfi=kind)
                assert frame[2:-1] in stream, "PN532 frame returned that is not in the input"
        assert 0 <= p.pending <= pn.FrameParser.SIZE, "PN532 parser buffer over its bound"


def check_barcode(data):
    a = barcode.LineAssembler(max_line=512)
    for chunk in _chunks(data):
        for line in a.feed(chunk):
            assert len(line) <= 512, "barcode line over max_line"
            aim, body, elements, error = barcode.decode_scan(line)
            assert elements is None or error is None
        assert a.pending <= 512


# -- decoders -----------------------------------------------------------------------
def _odd_keys(v):
    if isinstance(v, dict):
        return any(not isinstance(k, (str, int, bytes)) or isinstance(k, bool) or _odd_keys(x)
                   for k, x in v.items())
    return isinstance(v, list) and any(_odd_keys(x) for x in v)


def check_cbor(data):
    try:
        value = cbor.loads(data)
    except ValueError:
        return
    try:
        again = cbor.dumps(value)
    except ValueError:
        # loads takes what cbor2 takes as map keys (float, bool, null); dumps writes
        # str, int and bytes keys only: such a value is refused on the way out
        assert _odd_keys(value), "CBOR value decoded that dumps refuses: %r" % (value,)
        return
    assert cbor.dumps(cbor.loads(again)) == again, "CBOR value does not survive dumps/loads"
    # the gateway's and cloud's decoder (cbor2) reads what ours wrote, to the same value
    assert cbor.dumps(cbor2.loads(again)) == again


def check_epc(data):
    try:
        e = epc.decode(data)
    except ValueError:
        return
    assert e.to_bytes() == bytes(data), "EPC decode/encode does not round-trip"
    assert epc.from_uri(e.pure_uri, filter=e.filter, scheme_bits=e.bits).to_bytes() == bytes(data), \
        "EPC pure URI does not encode back to the same bytes"
    assert epc.from_uri(e.tag_uri).to_bytes() == bytes(data), "EPC tag URI does not encode back"


def check_gs1(data):
    text = data.decode("latin-1")
    for parse in (gs1.parse, gs1.parse_digital_link):
        try:
            pairs = parse(text) if parse is gs1.parse_digital_link else parse(data)
        except ValueError:
            continue
        es = gs1.element_string(pairs)
        assert sorted(gs1.parse(es)) == sorted(pairs), "GS1 element string does not round-trip"


def check_ndef(data):
    for fn in (ndef.url_from_type2, ndef.url_from_type4_file, ndef.first_uri):
        try:
            url = fn(data)
        except ValueError:
            continue
        assert url is None or isinstance(url, str)


# -- the gateway's device-batch intake (protocol decode + enrichment) ----------------
def check_device_batch(data):
    import protocol
    from gateway.workers import Ready, Rejected, prepare
    dev = "door-1"
    try:
        msg = protocol.decode("deviceBatch", data)
        dev = msg["dev"]
    except protocol.WireError:
        pass
    result = prepare("site-1", "+08:00", dev, data, 1_795_000_000.0, None, None, {})
    assert isinstance(result, (Ready, Rejected)), result


# -- SUN tap parameters (cloud) -----------------------------------------------------
_KEYS = None


def check_sun(data):
    global _KEYS
    from urllib.parse import parse_qsl

    from werkzeug.datastructures import MultiDict

    from cloud import sun
    if _KEYS is None:
        _KEYS = sun.MasterKeys(bytes(range(16)))
    args = MultiDict(parse_qsl(data.decode("latin-1"), keep_blank_values=True))
    result = sun.verify_args(args, _KEYS)
    assert isinstance(result, sun.SunResult)
    assert not result.valid or result.reason is None


TARGETS = {
    "mercury": check_mercury,
    "m100": check_m100,
    "pn532": check_pn532,
    "barcode": check_barcode,
    "cbor": check_cbor,
    "epc": check_epc,
    "gs1": check_gs1,
    "ndef": check_ndef,
    "device_batch": check_device_batch,
    "sun": check_sun,
}
# what atheris instruments for coverage, per target (module name prefixes)
INSTRUMENT = {
    "mercury": ["onecode.mercury_frame"],
    "m100": ["onecode.m100_frame", "onecode.mercury_frame"],
    "pn532": ["onecode.pn532_frame"],
    "barcode": ["onecode.barcode", "onecode.gs1"],
    "cbor": ["onecode.cbor"],
    "epc": ["onecode.epc"],
    "gs1": ["onecode.gs1"],
    "ndef": ["onecode.ndef"],
    "device_batch": ["protocol", "gateway.workers", "gateway.enrich", "gateway.clock", "onecode.epc",
                     "onecode.wire"],
    "sun": ["cloud.sun"],
}


def seeds(name):
    """Valid inputs of the target's kind (the starting corpus)."""
    tag = epc.encode("urn:epc:id:sgtin:6901234.100001.77", filter=2)
    if name == "mercury":
        return [b"\x07" + mf.build_tag_record(tag, rssi=-40, antenna=1) + mf.build_response(0x22, mf.STATUS_KEEPALIVE),
                b"\x3f" + mf.build_response(mf.OP_VERSION, 0, bytes(range(20)))]
    if name == "m100":
        return [b"\x05" + m1.build_notice(tag) + m1.build_error(m1.ERR_NO_TAG)]
    if name == "pn532":
        return [b"\x09" + b"\x00\x00\xff\x00\xff\x00" + pn.build_response(pn.CMD_GET_FIRMWARE_VERSION, b"\x32\x01\x06\x07"),
                b"\x3f" + pn.build_response(pn.CMD_IN_DATA_EXCHANGE, b"\x00" + bytes(16))]
    if name == "barcode":
        return [b"\x10]d201095060001343521017\x1d2112345\r]Q3https://id.gs1.org/01/09506000134352/21/7\r"]
    if name == "cbor":
        return [cbor.dumps({"v": 1, "dev": "door-1", "recs": [{"seq": 1, "epc": tag, "x": -1.5, "ok": True}]}),
                cbor2.dumps([None, 2 ** 40, "文字", b"\x00"])]
    if name == "epc":
        return [tag, epc.encode("urn:epc:id:sscc:6901234.0000000001", filter=0),
                epc.encode("urn:epc:id:sgln:6901234.00001.7")]
    if name == "gs1":
        return [b"]d201095060001343521017\x1d2112345", b"(01)09506000134352(10)AB12(21)x",
                b"https://id.gs1.org/01/09506000134352/10/AB12/21/7?17=261231"]
    if name == "ndef":
        url = ndef.uri_record("https://id.example.com/01/09506000134352/21/7")
        return [ndef.message_tlv(url) + b"\xfe", bytes((0, len(url))) + url]
    if name == "device_batch":
        return [cbor2.dumps({"v": 1, "dev": "door-1", "epoch": 7, "boot": 1, "recs": [
            {"seq": 1, "type": "pass", "age": 10, "dur": 500, "dir": "in",
             "tags": [{"epc": tag, "n": 2, "rssi": -50, "zones": "oi"}], "pallet": tag},
            {"seq": 2, "type": "commission", "age": 0, "id": "/01/09506000134352/21/A1", "lot": "L1",
             "line": "1", "shift": "A", "uid": b"\x04" * 7}]})]
    if name == "sun":
        from urllib.parse import urlencode

        from cloud import sun
        keys = sun.MasterKeys(bytes(range(16)))
        uid = bytes.fromhex("04DE5F1EACC040")
        out = []
        for layout in ("picc_data", "e", "plain"):
            params = sun.simulate_tap(keys.meta_read_key, keys.file_read_key(uid), uid, 5, padding=bytes(5),
                                      layout=layout)
            out.append(urlencode(params).encode())
        return out
    raise KeyError(name)
