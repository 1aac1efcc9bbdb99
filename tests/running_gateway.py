"""The real site gateway (gateway.service.Gateway) on an event loop of its own in a
thread, for tests that feed it through real brokers (tests/gateway, tests/security)."""
import asyncio
import threading

from gateway.service import Gateway
from waiting import wait_until


class RunningGateway:
    def __init__(self, cfg):
        self.gw = Gateway(cfg)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self.gw.run(),), daemon=True)
        self.thread.start()
        wait_until(lambda: self.gw.site_link is not None and self.gw.site_link.connected, 10,
                   "the gateway's connection to the site broker")

    def stop(self):
        self.loop.call_soon_threadsafe(self.gw.stop)
        self.thread.join(30)
        self.loop.close()
