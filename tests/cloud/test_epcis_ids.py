"""cloud.epcis_ids' fast path and cloud.bulk's time text must agree exactly with the
reference implementations they shortcut (onecode.epc, SQLAlchemy's SQLite DATETIME)."""
import datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects.sqlite import DATETIME

from cloud import bulk, epcis_ids
from onecode import epc as epc_codec


def reference(value):
    try:
        return epc_codec.to_digital_link_path(value)
    except ValueError:
        return None


digits = st.text(alphabet="0123456789", min_size=0, max_size=14)
field = digits | st.text(alphabet="0123456789a%.²٣-", max_size=8) | st.sampled_from(["0", "00", "01", "274877906943",
                                                                                    "274877906944"])


@settings(max_examples=2000, deadline=None)
@given(scheme=st.sampled_from(["sgtin", "sscc", "sgln"]), parts=st.lists(field, min_size=1, max_size=4))
def test_fast_path_agrees_with_the_full_parser(scheme, parts):
    uri = "urn:epc:id:%s:%s" % (scheme, ".".join(parts))
    fast = epcis_ids._fast_path(uri)
    if fast is not None:
        assert fast == reference(uri), uri


def test_fast_path_takes_the_common_cases():
    assert epcis_ids._fast_path("urn:epc:id:sgtin:6901234.100001.1") == "/01/16901234000013/21/1"
    assert epcis_ids._fast_path("urn:epc:id:sscc:6901234.0000000001") == "/00/069012340000000016"
    assert epcis_ids._fast_path("urn:epc:id:sgtin:6901234.100001.01") is None  # the full parser decides
    assert epcis_ids._fast_path("urn:epc:id:sgtin:6901234.100001.A1") is None
    assert epcis_ids.epc_key("urn:epc:id:sgtin:6901234.100001.A1") == "/01/16901234000013/21/A1"


@given(st.datetimes(min_value=datetime.datetime(1970, 1, 1), max_value=datetime.datetime(2200, 1, 1)))
def test_sqlite_time_text_is_sqlalchemys(dt):
    w = bulk.Writer(__import__("sqlalchemy.dialects.sqlite", fromlist=["dialect"]).dialect())
    assert w.time(dt) == DATETIME().bind_processor(None)(dt)


@settings(max_examples=1000, deadline=None)
@given(data=st.data(), scheme=st.sampled_from(["sgtin", "sscc"]))
def test_fast_path_agrees_on_well_formed_identifiers(data, scheme):
    cp_len = data.draw(st.integers(6, 12))
    width = (13 if scheme == "sgtin" else 17) - cp_len + data.draw(st.sampled_from([0, 0, 0, 1, -1]))
    cp = data.draw(st.text(alphabet="0123456789", min_size=cp_len, max_size=cp_len))
    ref = data.draw(st.text(alphabet="0123456789", min_size=max(width, 0), max_size=max(width, 0)))
    parts = [cp, ref]
    if scheme == "sgtin":
        parts.append(data.draw(st.integers(0, 1 << 39).map(str) | field))
    uri = "urn:epc:id:%s:%s" % (scheme, ".".join(parts))
    fast = epcis_ids._fast_path(uri)
    if fast is not None:
        assert fast == reference(uri), uri
    serial = parts[2] if scheme == "sgtin" else "0"
    canonical = serial.isascii() and serial.isdigit() and str(int(serial)) == serial and int(serial) < 1 << 38
    # the fast path takes every well-formed common identifier
    assert (fast is not None) == (width == len(ref) == (13 if scheme == "sgtin" else 17) - cp_len and canonical), uri
