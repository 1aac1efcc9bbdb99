"""A TCP relay between one device and the site broker that can cut the device's
connection in the middle of a batch: once armed, the next chunk the device sends that
carries its batch topic is forwarded only in part (the broker gets half a PUBLISH),
then both sockets are reset (SO_LINGER 0). Loopback only. Runs its own asyncio loop
in a thread, so the orchestrator stays synchronous."""
import asyncio
import socket
import struct
import threading


def _reset(writer):
    """Close with RST, not FIN: what a pulled cable or a dead NAT looks like to the peer."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


class CutProxy:
    def __init__(self, upstream_port, marker):
        self.upstream_port = upstream_port
        self.marker = marker.encode() if isinstance(marker, str) else marker
        self.port = None
        self.armed = False
        self.cuts = 0
        self._conns = set()
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def start(self):
        self._thread.start()
        self._ready.wait(10)
        return self

    def _main(self):
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        tasks = asyncio.all_tasks(self._loop)
        for t in tasks:
            t.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.close()

    def arm(self):
        """Cut the device's connection halfway through its next batch PUBLISH."""
        self.armed = True

    def stop(self):
        def _stop():
            self._server.close()
            for w in list(self._conns):
                w.transport.abort()
            self._loop.stop()
        self._loop.call_soon_threadsafe(_stop)
        self._thread.join(5)

    async def _client(self, dreader, dwriter):
        try:
            ureader, uwriter = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            dwriter.transport.abort()   # broker down: the device sees its connect fail
            return
        pair = (dwriter, uwriter)
        self._conns.update(pair)

        async def pump(reader, writer, from_device):
            try:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    if from_device and self.armed and self.marker in data:
                        self.armed = False
                        self.cuts += 1
                        writer.write(data[:max(1, len(data) // 2)])
                        await writer.drain()
                        for w in pair:
                            _reset(w)
                        return
                    writer.write(data)
                    await writer.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            for w in pair:
                w.transport.abort()

        try:
            await asyncio.gather(pump(dreader, uwriter, True), pump(ureader, dwriter, False))
        finally:
            self._conns.difference_update(pair)
