"""The peer of tools/bench/bench_portal.py: the naive dock-door detector one would
write first, run on the very same read logs, so the bench shows what the firmware's
pass detection (firmware/lib/onecode/portal.py: dwell, stray learning, back-out and
beam logic) adds. Bench code only; the firmware never uses it.

The rule, and nothing else:
- a tag *crosses* when two of its consecutive reads come from different zones
  within WINDOW_MS of each other (outer -> inner or inner -> outer);
- crossings within WINDOW_MS of the previous one make one pass; the pass is decided
  WINDOW_MS after its last crossing (the door quiet that long);
- the pass holds every tag that crossed in it; each tag's direction is the zone of its
  first read in the pass to the zone of its last ("o" -> "i" is in, "i" -> "o" out, the
  same zone no vote), and the pass takes the majority (a tie or no vote: the zone the
  pass started in, outer = in).
No learning of resident tags, no RSSI, no beams, no dwell or back-out rule.
"""
from onecode_cli import portal_replay

WINDOW_MS = 2000


def zones(door=None):
    """{antenna number: 'o' | 'i'} of a door document (the replay's default door)."""
    return {int(a): z for a, z in (door or portal_replay.DEFAULT_DOOR)["zones"].items()}


def passes(events, door=None, window_ms=WINDOW_MS):
    """The passes of a scenario's events (reads {"t", "ant", "epc", "rssi"}; beam
    events ignored) as bench_portal scores them: [{"direction", "epcs", "decided"}]."""
    zone_of = zones(door)
    last = {}  # epc -> (t, zone) of its previous read
    open_pass, out = None, []
    for ev in events:
        if "epc" not in ev or ev["ant"] not in zone_of:
            continue
        t, z, epc = ev["t"], zone_of[ev["ant"]], ev["epc"]
        if open_pass is not None and t > open_pass["last"] + window_ms:
            out.append(_close(open_pass, window_ms))
            open_pass = None
        prev = last.get(epc)
        last[epc] = (t, z)
        if open_pass is not None and epc in open_pass["tags"]:
            open_pass["tags"][epc][1] = z  # its last zone in the pass
        if prev is None or prev[1] == z or t - prev[0] > window_ms:
            continue
        if open_pass is None:
            open_pass = {"first_zone": prev[1], "tags": {}, "last": t}
        open_pass["tags"].setdefault(epc, [prev[1], z])
        open_pass["last"] = t
    if open_pass is not None:
        out.append(_close(open_pass, window_ms))
    return out


def _close(p, window_ms):
    votes = {"in": 0, "out": 0}
    for first, last in p["tags"].values():
        if first != last:
            votes["in" if first == "o" else "out"] += 1
    if votes["in"] != votes["out"]:
        direction = "in" if votes["in"] > votes["out"] else "out"
    else:
        direction = "in" if p["first_zone"] == "o" else "out"
    return {"direction": direction, "epcs": sorted(p["tags"]), "decided": p["last"] + window_ms}
