"""Which QoS 1 publishes the broker has not acknowledged yet, by message id.

paho reports completion in `on_publish` on its network thread, possibly before
`publish()` has returned the id to us (REFERENCE §9: track by message id, never
with wait_for_publish). Used at shutdown to flush device acks and the status.
Must never block: callers poll `pending()` with their own deadline.
"""
import threading


class PublishTracker:
    def __init__(self):
        self._lock = threading.Lock()
        self._waiting = set()
        self._early = set()  # acknowledged before publish() returned the id

    def attach(self, client):
        """Hook a paho client's on_publish (paho 2.x callback signature)."""
        client.on_publish = lambda _client, _userdata, mid, _rc=None, _props=None: self.done(mid)

    def sent(self, mid):
        with self._lock:
            if mid in self._early:
                self._early.discard(mid)
            else:
                self._waiting.add(mid)

    def done(self, mid):
        with self._lock:
            if mid in self._waiting:
                self._waiting.discard(mid)
            elif len(self._early) < 65536:  # ids wrap at 65535; an untracked publish must not grow this
                self._early.add(mid)

    def waiting(self, mid):
        """True while the broker has not acknowledged publish `mid`."""
        with self._lock:
            return mid in self._waiting

    def pending(self):
        with self._lock:
            return len(self._waiting)
