"""Tagged pallets for simulations: an SSCC-96 pallet tag plus SGTIN-96 case tags,
and the reader-field timeline of a pallet moving through a two-zone dock door.

Deterministic (same arguments, same EPCs and timings), so tests and the demo know
which item pages to open. Host only; uses the firmware's EPC codec, never its own.
"""
from onecode import epc

DEMO_COMPANY_PREFIX = "6901234"  # a 690-699 (GS1 China) style prefix for demo data
DEMO_ITEM_REF = "100001"         # indicator 1 + item reference 00001
OUTER_ANTENNA = 1
INNER_ANTENNA = 2


def pallet_epcs(pallet_no=1, cases=24, company_prefix=DEMO_COMPANY_PREFIX, item_ref=DEMO_ITEM_REF):
    """(pallet SSCC EPC bytes, [case SGTIN EPC bytes]) for pallet number pallet_no."""
    serial_ref = "0" + str(pallet_no).rjust(16 - len(company_prefix), "0")  # ext digit + ref
    sscc = epc.encode("urn:epc:id:sscc:%s.%s" % (company_prefix, serial_ref), filter=2)
    base = pallet_no * 1000
    case_tags = [epc.encode("urn:epc:id:sgtin:%s.%s.%d" % (company_prefix, item_ref, base + i), filter=2)
                 for i in range(1, cases + 1)]
    return sscc, case_tags


def pass_timeline(tags, start_ms, inbound=True, zone_ms=1200, overlap_ms=400, rssi=-55):
    """Field windows [(t_start, t_end, epc, antenna, rssi)] for tags crossing the door:
    first the zone they come from, then, overlapping a little, the zone they go to."""
    first, second = (OUTER_ANTENNA, INNER_ANTENNA) if inbound else (INNER_ANTENNA, OUTER_ANTENNA)
    out = []
    for k, tag in enumerate(tags):
        jitter = (k * 37) % 150  # cases at the front of the pallet get there first
        t1 = start_ms + jitter
        t2 = t1 + zone_ms - overlap_ms
        out.append((t1, t1 + zone_ms, tag, first, rssi - (k % 7)))
        out.append((t2, t2 + zone_ms, tag, second, rssi - (k % 5)))
    return out


def staged_timeline(tags, start_ms, end_ms, antenna=OUTER_ANTENNA, rssi=-70):
    """Tags that sit in one zone the whole time (a staged pallet): never part of a pass."""
    return [(start_ms, end_ms, tag, antenna, rssi) for tag in tags]
