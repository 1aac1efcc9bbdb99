"""A simulated dock-door portal: the real firmware application (onecode.portal_app)
on CPython, reading a virtual M6e Nano that streams real Mercury frames, talking
MQTT through the host adapter. Host only.

The scenario: a staged pallet sits by the door the whole time (it must never make a
pass), and one pallet of tagged cases crosses the door `passes` times, inbound
first, then back out, `gap_s` apart. Must never reach into the firmware's internals:
it drives PortalApp exactly as a board's main loop would.
"""
import logging
import os

from onecode import bootcount
from onecode.compat import ticks_ms
from onecode.mercury_reader import MercuryReader
from onecode.portal_app import PortalApp
from onecode_cli.sim import pallet
from onecode_cli.sim.virtual_m6e import VirtualM6e

log = logging.getLogger("portal")

# the first pallet comes after the portal has had time to learn the staged tags around it
# (onecode.portal: a tag read in one zone for settle_ms is resident, not a pass)
LEARN_MS = 9000


def build_reader(clock, start_ms, pallet_no, cases, passes, gap_s, staged=3):
    reader = VirtualM6e(clock)
    sscc, case_tags = pallet.pallet_epcs(pallet_no, cases)
    tags = [sscc] + case_tags
    end = start_ms + int((passes * gap_s + 60) * 1000)
    _s, staged_tags = pallet.pallet_epcs(900 + pallet_no, staged)
    for window in pallet.staged_timeline(staged_tags, start_ms, end + 10 ** 9):
        reader.add_pass(*window)
    for k in range(passes):
        t = start_ms + LEARN_MS + int(k * gap_s * 1000)
        for window in pallet.pass_timeline(tags, t, inbound=(k % 2 == 0)):
            reader.add_pass(*window)
    return reader, tags


def run(broker_url, site, dev, state_dir, cases=24, passes=2, gap_s=6.0, pallet_no=1,
        exit_when_done=False, timeout_s=None, ledger=None):
    """Run the portal until interrupted (or, with exit_when_done, until every pass
    is acknowledged by the gateway). Returns the PortalApp (for its counters).

    The portal talks MQTT through the device's own client (onecode.mqtt_link, the
    code a board runs), on an asyncio loop beside the application's step loop."""
    from onecode import mqtt_link
    from onecode_cli.sim import device_loop

    os.makedirs(state_dir, exist_ok=True)
    boot = bootcount.next_boot(os.path.join(state_dir, "%s.boot" % dev))
    journal = device_loop.open_journal(os.path.join(state_dir, "%s-journal" % dev), ledger, dev)
    start = ticks_ms()
    reader_dev, tags = build_reader(ticks_ms, start, pallet_no, cases, passes, gap_s)
    link = mqtt_link.for_device(broker_url, site, dev, boot, "portal")
    app = PortalApp({"site": site, "dev": dev, "boot": boot}, MercuryReader(reader_dev), link, journal)
    log.info("portal %s boot %d, journal epoch %d (%d unacknowledged records recovered): virtual M6e Nano, "
             "pallet of %d tags, %d passes; MQTT by the device client", dev, boot, journal.epoch, journal.count,
             len(tags), passes)

    reported = [0]

    def after_step(_now, st):
        if st["passes"] != reported[0]:
            reported[0] = st["passes"]
            log.info("pass %d detected; status %s", reported[0], st)
        if exit_when_done and st["passes"] >= passes and st["pending"] == 0:
            log.info("all %d passes acknowledged; status %s", passes, st)
            return app
        return None

    return device_loop.run(app, link, after_step, timeout_s=timeout_s, what="portal simulation")
