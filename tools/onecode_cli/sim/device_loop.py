"""The loop a simulated device runs on this PC: the device's MQTT link as an asyncio
task beside the application's step loop, as a board's main loop does
(onecode.boot.run), plus what a simulation needs: a hook before and after each step,
an end condition and a time limit. Host only."""
import asyncio
import contextlib
import time

from onecode.compat import ticks_ms


def run(app, link, after_step, before_step=None, timeout_s=None, what="simulation"):
    """Run until after_step(now, status) returns something other than None (the
    result); TimeoutError after timeout_s. The link is stopped cleanly either way."""

    async def main():
        task = asyncio.create_task(link.run())
        app.start()
        t0 = time.monotonic()
        try:
            while True:
                now = ticks_ms()
                if before_step is not None:
                    before_step(now)
                wait_ms = app.step(now)
                status = app.status()
                result = after_step(now, status)
                if result is not None:
                    return result
                if timeout_s and time.monotonic() - t0 > timeout_s:
                    raise TimeoutError("%s timed out; status %s" % (what, status))
                await asyncio.sleep(wait_ms / 1000.0)
        finally:
            app.stop()
            await link.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return asyncio.run(main())
