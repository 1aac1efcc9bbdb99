"""Bounds, backpressure and alarms of the gateway process (a mixin of
gateway.service.Gateway): whether a device batch may be committed, what the outbox
policy does at a bound, the alarms and the retained status message that say so.

The decisions themselves are pure, in gateway/bounds.py; this part applies them to
the outbox and the links. Must never hit a bound silently: every hold and drop is
logged in words, counted, and raised as an alarm on the retained status.
"""
import logging
import sqlite3
import time

import protocol
from gateway.bounds import bytes_words, duration_words, status_message

log = logging.getLogger("gateway")


class Backpressure:
    def _admit(self, fresh, waiting=0):
        """May these new records (encoded events) be committed now? Applies the policy
        at the bounds. waiting: events admitted before them, in the same commit."""
        self.check_size(waiting)
        if self.bounds.policy == "hold":
            return "outbox_full" not in self.alarms and "outbox_too_old" not in self.alarms
        incoming = sum(len(evs) for _, evs in fresh) + waiting
        nbytes = self.outbox.used_bytes()
        over_bytes = nbytes >= self.bounds.max_bytes
        incoming_bytes = sum(len(ev) for _, evs in fresh for ev in evs) if over_bytes else 0
        n, b = self.bounds.room_to_make(self.outbox.pending, nbytes, incoming, incoming_bytes)
        if n or b:
            detail = self.bounds.size_reached(self.outbox.pending + incoming, nbytes) or (
                "%d events waiting and %d arriving, limit %d" % (self.outbox.pending, incoming,
                                                                 self.bounds.max_events),
                "待发事件 %d 条，新到 %d 条，上限 %d 条" % (self.outbox.pending, incoming, self.bounds.max_events))
            self._drop("outbox_full", detail, max_events=n or None, body_bytes=b or None, keep=not over_bytes)
        return True

    def _hold(self, dev, epoch, fresh, done, has_replays):
        self.counters["held_batches"] += 1
        self.counters["held_records"] += len(fresh)
        if has_replays:
            self.ack_device(dev, epoch, done)  # the part it already has is durable: say so
        why = [a["en"] for a in self.alarms.listing() if a["code"] in ("outbox_full", "outbox_too_old")]
        (log.warning if dev not in self._held_devs else log.debug)(
            "holding device %s: %d records (seq %d-%d) not committed and not acknowledged; the device keeps "
            "them in its journal and resends (%s)", dev, len(fresh), fresh[0][0], fresh[-1][0], "; ".join(why))
        self._held_devs.add(dev)

    def _drop(self, code, detail, max_events=None, body_bytes=None, created_before=None, keep=True):
        counter = "dropped_events" if code == "outbox_full" else "expired_events"
        try:
            n, kept, ranges = self.outbox.drop_oldest(
                "dropped" if code == "outbox_full" else "expired", detail[0], max_events=max_events,
                body_bytes=body_bytes, created_before=created_before,
                keep_max=self.cfg["dead_max_events"] if keep else 0)
        except sqlite3.Error as exc:
            self._store_failed("drop", exc, "nothing dropped")
            return
        self._store_ok("drop")
        if not n:
            if max_events or body_bytes:
                log.warning("outbox over its bound but every waiting event is in a batch in flight: "
                            "nothing to drop, the next device batch goes in above the bound")
            return
        self.counters[counter] += n
        log.error("DROPPED %d %s events (%s; policy drop_oldest): %s; %d kept in the dead_event table, "
                  "every range in dropped_range", n, "oldest" if code == "outbox_full" else "expired", detail[0],
                  ", ".join("%s epoch %s seq %s-%s (%d events)" % r for r in ranges), kept)
        self._raise(code, detail, dropped=self.counters[counter])

    def check_size(self, waiting=0):
        events, nbytes = self.outbox.pending + waiting, self.outbox.used_bytes()
        reached = self.bounds.size_reached(events, nbytes)
        if "outbox_full" in self.alarms:
            if self.bounds.size_released(events, nbytes):
                self._clear("outbox_full")
            elif reached:
                self._raise("outbox_full", reached, dropped=self.counters["dropped_events"])
        elif reached and self.bounds.policy == "hold":
            self._raise("outbox_full", reached)

    def check_age(self, now=None):
        if not self.bounds.max_age_s:
            return
        now = time.time() if now is None else now
        oldest = self.outbox.oldest_created()
        age = now - oldest if oldest else 0.0
        reached = self.bounds.age_reached(age)
        if reached and self.bounds.policy == "drop_oldest":
            nbytes = self.outbox.used_bytes()
            self._drop("outbox_too_old", reached, created_before=now - self.bounds.max_age_s,
                       keep=nbytes < self.bounds.max_bytes)
            oldest = self.outbox.oldest_created()  # what is left is in batches in flight, or younger
            age = now - oldest if oldest else 0.0
            reached = self.bounds.age_reached(age)
        if "outbox_too_old" in self.alarms:
            if self.bounds.age_released(age):
                self._clear("outbox_too_old")
            elif reached:
                self._raise("outbox_too_old", reached, dropped=self.counters["expired_events"])
        elif reached:
            self._raise("outbox_too_old", reached, dropped=self.counters["expired_events"])

    def _raise(self, code, detail, dropped=0):
        consequence = self.bounds.consequence(code, dropped)
        if self.alarms.raise_(code, time.time(), detail, consequence):
            self.counters["alarms_raised"] += 1
            self._status_due = True
            log.error("ALARM %s", self.alarms.active[code]["en"])

    def _clear(self, code):
        alarm = self.alarms.clear(code)
        if alarm is None:
            return
        self._status_due = True
        log.warning("alarm cleared after %s: %s", duration_words(time.time() - alarm["since"])[0], alarm["en"])
        if self.bounds.policy == "hold" and code != "store_failed" and not (
                "outbox_full" in self.alarms or "outbox_too_old" in self.alarms):
            log.warning("outbox has room again: device batches are committed and acknowledged again "
                        "(%d held batches so far)", self.counters["held_batches"])
            self._held_devs.clear()

    def _store_failed(self, op, exc, consequence):
        self.counters["store_errors"] += 1
        self._failed_ops[op] = str(exc)[:200]
        log.log(logging.ERROR if "store_failed" not in self.alarms else logging.DEBUG,
                "outbox %s failed: %s; %s", op, exc, consequence)
        text = "; ".join("%s: %s" % kv for kv in sorted(self._failed_ops.items()))
        self._raise("store_failed", (text, text))

    def _store_ok(self, op):
        if self._failed_ops.pop(op, None) is not None and not self._failed_ops:
            self._clear("store_failed")

    def status(self, state=None, now=None):
        now = time.time() if now is None else now
        oldest = self.outbox.oldest_created()
        figures = {"events": self.outbox.pending, "bytes": self.outbox.used_bytes(),
                   "oldest_s": round(max(0.0, now - oldest), 1) if oldest else 0.0,
                   "in_flight": self.outbox.in_flight(), "dead": self.outbox.dead_count()}
        state = state or ("alarm" if self.alarms.active else "ok")
        return status_message(self.site, self.gw, state, self.alarms.listing(), now, self.bounds.policy,
                              figures, dict(self.counters),
                              "up" if self.cloud_link is not None and self.cloud_link.connected else "down")

    def publish_status(self, state=None):
        st = self.status(state)
        self._publish_site(self.status_topic, protocol.encode("gatewayStatus", st), retain=True)
        self._status_due = False
        self._store_ok("status")
        if self.cloud_link is not None and self.cloud_link.connected:
            # the cloud's copy (console dashboards) also says how the site's devices are;
            # QoS 1 retained, replaced every status_every_s; not tracked: a lost one is replaced
            st["devices"] = self.device_summary(st["at"])
            self.cloud_link.publish(self.cloud_status_topic, protocol.encode("gatewayStatus", st), retain=True)

    def device_summary(self, now):
        registry = {d["dev"]: d for d in self.registry.all()}
        out = []
        for d in self.health.listing(registry, self.clocks, now)[:256]:
            journal = d["journal"].get("records") if isinstance(d["journal"], dict) else None
            out.append({"dev": d["dev"], "state": "silent" if d["silent"] else d["state"], "role": d["role"],
                        "last_seen_s": d["last_seen_s"], "journal": journal, "records_in": d["records_in"],
                        "errors": d["errors"], "alarms": len(d["alarms"])})
        return out


    def status_words(self):
        st = self.status()
        o, c = st["outbox"], self.counters
        return ("%d events waiting (oldest %s, %s in use), %d batches in flight, %d in dead_event; cloud link %s; "
                "since start %d records in (%d replays, %d rejected), %d events acked, %d batches held, "
                "%d events dropped, %d expired, %d store errors; alarms: %s"
                % (o["events"], duration_words(o["oldest_s"])[0], bytes_words(o["bytes"]), o["in_flight"], o["dead"],
                   st["cloud"], c["records_in"], c["replays"], c["rejected"], c["events_acked"], c["held_batches"],
                   c["dropped_events"], c["expired_events"], c["store_errors"],
                   " | ".join(a["en"] for a in st["alarms"]) or "none"))

