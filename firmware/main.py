"""A board's entry point (copied to the device's / by `onecode flash`): the updater
picks the application slot, the board definition and config are read, Wi-Fi is
brought up, and the role's application runs (onecode.boot). Board only: it imports
machine and network. Not tried on a physical board yet (docs/flashing.md).
"""
import json
import sys

import machine


def main():
    import os

    from onecode.updater import Updater
    slot = Updater(os).boot_slot()
    sys.path.insert(0, "/app/%s/lib" % slot)     # an updated application wins over /lib
    wdt = machine.WDT(timeout=30000)             # cannot be stopped once started (REFERENCE §6)
    from onecode import board, boot, mqtt_link
    from onecode.journal import Journal
    with open("/board.json") as f:
        defn = board.load(json.load(f))
    with open("/config.json") as f:
        config = json.load(f)
    from board.hw import MachineHardware
    hw = MachineHardware()
    wifi = config.get("wifi")
    if wifi:
        import network
        wlan = network.WLAN(network.STA_IF)
        wlan.active(True)
        wlan.connect(wifi["ssid"], wifi["password"])
    from onecode import bootcount
    config["boot"] = bootcount.next_boot("/boot.count")
    journal = Journal("/journal")
    journal.open()
    role = defn["role"]
    link = mqtt_link.for_device(config["mqtt"]["url"], config["site"], config["dev"], config["boot"], role)
    if role == "portal":
        app = boot.portal(defn, config, hw, journal, link, Updater(os))
        inputs = boot.BeamWatcher(defn, hw)
    else:
        app = boot.handheld(defn, config, hw, journal, link, Updater(os), boot.screen(defn, config, hw))
        inputs = boot.KeyWatcher(defn, hw)
    import asyncio
    asyncio.run(boot.run(app, link, hw, inputs, wdt, machine.reset))


main()
