"""Fault schedules as data: (at_s, action, {args}) from the start of production.

Actions (tools/chaos/run.py carries them out):
  gateway_kill {down_s}          SIGKILL the gateway's process group; start it again after down_s
  site_broker_restart {down_s}   stop the site Mosquitto; start it again (same port) after down_s
  cloud_broker_restart {down_s}  the same for the cloud Mosquitto
  ingest_kill {worker, down_s}   SIGKILL ingest worker 0 or 1; start it again after down_s
  db_down {down_s}               the database unavailable: PostgreSQL server stopped
                                 (immediate mode), or SQLite held under an exclusive lock
  device_reboot {dev, down_s}    SIGKILL a device's process, whatever its journal holds;
                                 boot it again on the same state folder after down_s
  device_cut {dev}               reset the device's TCP connection halfway through its
                                 next batch PUBLISH (tools/chaos/proxy.py)

`handheld_items` (default 10) is what the handheld's operator commissions a run.
`gateway` overrides the gateway's config for the run (e.g. a small outbox so that it
fills). Devices produce for `produce_s`; then the run drains for up to `drain_s`.
"""

SCHEDULES = {
    "gateway-and-brokers": {
        "about": "gateway SIGKILLed four times (once while the cloud broker is down), site and cloud "
                 "brokers restarted, two device sockets cut mid-batch",
        "produce_s": 100, "drain_s": 90, "gateway": {},
        "faults": [
            (8, "gateway_kill", {"down_s": 3}),
            (20, "site_broker_restart", {"down_s": 4}),
            (32, "cloud_broker_restart", {"down_s": 6}),
            (45, "gateway_kill", {"down_s": 2}),
            (46, "device_cut", {"dev": "door-1"}),
            (60, "site_broker_restart", {"down_s": 2}),
            (61, "gateway_kill", {"down_s": 4}),
            (75, "cloud_broker_restart", {"down_s": 5}),
            (76, "gateway_kill", {"down_s": 1}),
            (88, "device_cut", {"dev": "hh-1"}),
        ],
    },
    "ingest-and-database": {
        "about": "ingest workers SIGKILLed five times, the database unavailable for 60 s "
                 "(and both workers killed during it), then down again for 10 s",
        "produce_s": 110, "drain_s": 120, "gateway": {},
        "faults": [
            (8, "ingest_kill", {"worker": 0, "down_s": 3}),
            (18, "db_down", {"down_s": 60}),
            (35, "ingest_kill", {"worker": 1, "down_s": 5}),
            (50, "ingest_kill", {"worker": 0, "down_s": 2}),
            (85, "ingest_kill", {"worker": 1, "down_s": 2}),
            (92, "db_down", {"down_s": 10}),
            (95, "ingest_kill", {"worker": 0, "down_s": 1}),
        ],
    },
    "devices-and-outbox": {
        "about": "the gateway's outbox bounded to 60 events and filled (no ingest for 45 s): the gateway "
                 "stops acknowledging; devices rebooted with unacknowledged journals, sockets cut "
                 "mid-batch as the backlog drains, the gateway SIGKILLed with a device rebooting",
        "produce_s": 110, "drain_s": 90,
        # the gateway insists on outbox_max_events >= 2 x batches in flight x events a batch
        "gateway": {"outbox_max_events": 60, "batch_max_events": 10, "max_batches_in_flight": 2},
        "faults": [
            (10, "ingest_kill", {"worker": 0, "down_s": 45}),
            (10, "ingest_kill", {"worker": 1, "down_s": 45}),
            (38, "device_reboot", {"dev": "door-1", "down_s": 2}),
            (44, "device_reboot", {"dev": "hh-1", "down_s": 2}),
            (50, "device_reboot", {"dev": "door-2", "down_s": 1}),
            (56, "device_cut", {"dev": "door-2"}),
            (56, "device_cut", {"dev": "door-1"}),
            (70, "gateway_kill", {"down_s": 8}),
            (76, "device_reboot", {"dev": "door-1", "down_s": 1}),
            (77, "device_reboot", {"dev": "door-2", "down_s": 1}),
            (90, "device_cut", {"dev": "hh-1"}),
            (98, "device_reboot", {"dev": "hh-1", "down_s": 1}),
        ],
    },
    "all": {
        "about": "every fault kind in one run, some at once",
        "produce_s": 150, "drain_s": 120,
        "gateway": {"outbox_max_events": 60, "batch_max_events": 10, "max_batches_in_flight": 2},
        "faults": [
            (6, "gateway_kill", {"down_s": 2}),
            (14, "ingest_kill", {"worker": 0, "down_s": 2}),
            (20, "db_down", {"down_s": 60}),
            (25, "device_reboot", {"dev": "door-1", "down_s": 2}),
            (35, "site_broker_restart", {"down_s": 3}),
            (45, "gateway_kill", {"down_s": 3}),
            (50, "device_reboot", {"dev": "hh-1", "down_s": 1}),
            (60, "ingest_kill", {"worker": 1, "down_s": 3}),
            (82, "device_cut", {"dev": "door-2"}),
            (83, "device_cut", {"dev": "door-1"}),
            (95, "cloud_broker_restart", {"down_s": 4}),
            (110, "gateway_kill", {"down_s": 1}),
            (111, "device_reboot", {"dev": "door-2", "down_s": 1}),
            (125, "device_cut", {"dev": "hh-1"}),
        ],
    },
    # a control that must FAIL: the same outbox outage with the gateway told to drop the
    # oldest events when full (outbox_full_policy drop_oldest): the ledger must show them
    "drop-control": {
        "about": "control, must fail: outbox bounded to 60 events with policy drop_oldest, no ingest for 45 s",
        "produce_s": 70, "drain_s": 60,
        "gateway": {"outbox_max_events": 60, "batch_max_events": 10, "max_batches_in_flight": 2,
                    "outbox_full_policy": "drop_oldest"},
        "faults": [
            (10, "ingest_kill", {"worker": 0, "down_s": 45}),
            (10, "ingest_kill", {"worker": 1, "down_s": 45}),
        ],
    },
    # the test's (tests/e2e/test_chaos.py): short, one of each kind but the broker restarts
    "short": {
        "about": "short: gateway SIGKILL, device reboot, ingest SIGKILL, socket cut, site broker "
                 "restart, database down for 3 s",
        "produce_s": 14, "drain_s": 25, "gateway": {}, "handheld_items": 4,
        "faults": [
            (2, "gateway_kill", {"down_s": 1}),
            (4, "device_reboot", {"dev": "hh-1", "down_s": 0.5}),
            (5, "ingest_kill", {"worker": 0, "down_s": 1}),
            (6, "device_cut", {"dev": "hh-1"}),
            (8, "site_broker_restart", {"down_s": 1}),
            (9, "db_down", {"down_s": 3}),
        ],
    },
}

# what `make chaos` runs, in this order
DEFAULT = ("gateway-and-brokers", "ingest-and-database", "devices-and-outbox")
