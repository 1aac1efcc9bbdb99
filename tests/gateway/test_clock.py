"""The gateway as the devices' clock: skew and tick rate from heartbeats, when the
time is handed out, and the UTC time a record gets. Fixed times throughout."""
import protocol
from gateway import clock, enrich
from gateway.clock import Clocks, event_time
from gwtest import TAG
from onecode import wire

T0 = 1_767_225_600.0          # 2026-01-01T00:00:00Z, the gateway's clock
T0_MS = int(T0 * 1000)


def hb(up, clock_ms=None, boot=1, want=False):
    return protocol.validate("deviceHeartbeat", wire.heartbeat(boot, up, clock=clock_ms, want_time=want))


def rec(seq=1, age=0, lost=False, ts=None):
    r = {"seq": seq, "type": "pass", "age": age, "dur": 500, "dir": "in",
         "tags": [{"epc": TAG, "n": 2, "rssi": -50, "zones": "oi"}]}
    if lost:
        r["clock"] = "lost"
    if ts is not None:
        r["ts"] = ts
    return r


def test_a_device_without_a_clock_is_sent_the_time_with_its_ticks_echoed():
    c = Clocks()
    assert c.heartbeat("d1", hb(5000), T0) == "no_clock"
    msg = c.time_message("d1", T0 + 0.001, "+08:00", echo=5000)
    assert msg == {"v": 1, "utc": T0_MS + 1, "tz": "+08:00", "echo": 5000}
    protocol.validate("deviceTime", msg)
    # the device takes it 40 ticks after it sent the heartbeat: half the round trip is added
    assert wire.time_fix(msg, 5040) == T0_MS + 21
    assert c.get("d1").report()["time_sent"] == 1


def test_skew_is_the_least_delayed_sample_and_a_large_one_is_corrected():
    c = Clocks(max_skew_ms=500)
    # the device's clock is 300 ms ahead; transit delays 40, 5, 120 ms
    for i, delay in enumerate((40, 5, 120)):
        recv = T0 + 30 * i + delay / 1000.0
        assert c.heartbeat("d1", hb(1000 + 30000 * i, T0_MS + 30000 * i + 300), recv) is None
    assert c.get("d1").skew_ms == 295                      # 300 - the smallest delay
    # 800 ms ahead: beyond max_skew_ms, so the gateway hands out the time
    assert c.heartbeat("d1", hb(100000, T0_MS + 100000 + 800), T0 + 100.0) == "skew"
    c.time_message("d1", T0 + 100.0, "+08:00", echo=100000)
    # a heartbeat already on its way carries the old clock: ignored while the device settles
    assert c.heartbeat("d1", hb(100500, T0_MS + 100500 + 800), T0 + 100.5) is None
    assert c.get("d1").skew_ms is None
    assert c.heartbeat("d1", hb(130000, T0_MS + 130000 + 3), T0 + 130.0) is None
    assert c.get("d1").skew_ms == 3


def test_asking_gets_the_time_whatever_the_skew():
    c = Clocks()
    assert c.heartbeat("d1", hb(1, T0_MS, want=True), T0) == "asked"


def test_tick_rate_from_heartbeats_ten_minutes_apart_even_across_the_tick_wrap():
    c = Clocks()
    up0 = (1 << 30) - 1000                                 # wraps during the interval
    c.heartbeat("d1", hb(up0, T0_MS), T0)
    c.heartbeat("d1", hb((up0 + 300_015) % (1 << 30), T0_MS), T0 + 300.0)
    assert c.get("d1").ppm is None                         # 5 min: too short to say
    c.heartbeat("d1", hb((up0 + 600_030) % (1 << 30), T0_MS), T0 + 600.0)
    assert round(c.get("d1").ppm) == 50                    # 30 ms fast in 600 s
    assert c.get("d1").report()["drift_ppm"] == 50.0


def test_a_rate_no_crystal_has_is_refused_and_a_new_boot_starts_afresh():
    c = Clocks()
    c.heartbeat("d1", hb(0), T0)
    c.heartbeat("d1", hb(700_000), T0 + 600.0)             # 1 / 6 fast: a bad heartbeat
    assert c.get("d1").ppm is None and c.counters["bad_rate"] == 1
    c.heartbeat("d1", hb(700_000 + 600_030), T0 + 1200.0)
    assert round(c.get("d1").ppm) == 50                    # measured from the bad one on
    c.heartbeat("d1", hb(5, boot=2), T0 + 1300.0)
    assert c.get("d1").boot == 2 and c.get("d1").anchor == (T0 + 1300.0, 5)


def test_a_record_of_this_boot_is_dated_by_ticks_corrected_by_the_rate():
    assert event_time(rec(age=1500), T0) == (T0 - 1.5, None, 0, None)
    c = Clocks()
    c.heartbeat("d1", hb(0), T0)
    c.heartbeat("d1", hb(600_030), T0 + 600.0)             # 50 ppm fast
    day = 86_400_000
    t, source, correction, problem = event_time(rec(age=day), T0 + 86400.0, c.get("d1"))
    assert (source, problem) == (None, None)
    assert correction == 4320                              # a day of ticks is 4.3 s too long
    assert abs(t - (T0 + 4.32)) < 0.001


def test_a_record_from_an_earlier_boot_is_dated_by_its_device_time_less_the_skew():
    c = Clocks()
    c.heartbeat("d1", hb(1000, T0_MS + 60_000 + 2000), T0 + 60.0)   # clock 2 s ahead
    t, source, correction, problem = event_time(rec(lost=True, ts=T0_MS + 2000), T0 + 60.0, c.get("d1"))
    assert (t, source, correction, problem) == (T0, "device-clock", -2000, None)
    # no ts: the receipt is all there is
    assert event_time(rec(lost=True), T0 + 60.0, c.get("d1")) == (T0 + 60.0, "gateway-receipt", 0, None)
    # a device time from 1970 (its clock was never set) is not believed
    t, source, _, problem = event_time(rec(lost=True, ts=5000), T0, c.get("d1"))
    assert (t, source) == (T0, "gateway-receipt") and "implausible" in problem


def test_events_carry_the_source_and_the_correction():
    when = (T0, clock.SOURCE_DEVICE_CLOCK, -2000, None)
    events, problems = enrich.record_events("s", "+08:00", "d1", None, 1, rec(lost=True, ts=T0_MS + 2000), T0 + 60,
                                            when)
    (ev,) = events
    assert ev["eventTime"] == "2026-01-01T00:00:00.000Z" and ev["eventTimeZoneOffset"] == "+08:00"
    assert ev["onecode:timeSource"] == "device-clock" and ev["onecode:clockCorrectionMs"] == -2000
    protocol.validate("cloudBatch", {"v": 1, "gw": "g", "site": "s", "batch": "b" * 32, "events": events})
    # the same record with no `when`: receipt minus age, nothing to say
    (ev,) = enrich.record_events("s", "+08:00", "d1", None, 1, rec(age=250), T0)[0]
    assert ev["eventTime"] == "2025-12-31T23:59:59.750Z"
    assert "onecode:timeSource" not in ev and "onecode:clockCorrectionMs" not in ev
