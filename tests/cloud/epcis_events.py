"""EPCIS 2.0 JSON events for cloud tests: numbered, one minute apart from T0."""
import datetime

T0 = datetime.datetime(2026, 11, 1, 8, 0, 0)


def ev(n, etype, **fields):
    """Event number n (its eventID and its time, T0 + n minutes) with `fields`."""
    body = {"type": etype, "eventID": "urn:uuid:00000000-0000-4000-8000-%012d" % n,
            "eventTime": (T0 + datetime.timedelta(minutes=n)).isoformat() + ".000Z",
            "eventTimeZoneOffset": "+08:00"}
    body.update(fields)
    return body
