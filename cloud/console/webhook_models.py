"""Tables of the outgoing webhooks (migration 0008): who subscribes to which events,
the events waiting to go out (an outbox written in the producer's own transaction),
one delivery per event and subscription, and every attempt to send one.

A subscription's secret is kept as given (it must be usable to sign) and is shown
to the operator once; the console shows only its first characters afterwards. The
body is stored as the exact bytes that are signed and sent, so a retry sends the
same bytes. Must never hold a receiver's answer body (only its status code) and
never delete a delivery or attempt row that a receiver may have seen.
"""
import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models import Base, utcnow

EVENT_TYPES = ("recall", "diversion", "clone", "exception", "complaint", "test")
DELIVERY_STATUSES = ("pending", "sending", "done", "failed")


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscription"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(500))  # http(s) only (cloud.console.webhooks.check_url)
    events: Mapped[str] = mapped_column(String(200))  # space-separated EVENT_TYPES
    secret: Mapped[str] = mapped_column(String(100))  # the HMAC key ("whsec_..."), see docs/console-webhooks.md
    hint: Mapped[str] = mapped_column(String(16))  # the secret's first characters, to recognise it
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("operator.id", ondelete="SET NULL"))


class WebhookEvent(Base):
    """One thing that happened (a recall, a diversion signal...), with the body sent
    to every subscriber. `dedupe_key` (unique when set) lets a producer say "tell the
    receivers about this once" without a race."""
    __tablename__ = "webhook_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)  # "evt_" + uuid4 hex, in the body
    type: Mapped[str] = mapped_column(String(16), index=True)  # EVENT_TYPES
    dedupe_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    body: Mapped[str] = mapped_column(Text)  # the JSON sent, exactly
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)  # UTC


class WebhookDelivery(Base):
    """An event on its way to one subscription. Status: pending (due at
    `next_attempt`), sending (claimed by a deliverer until `lease_until`), done (a 2xx
    answer), failed (gave up)."""
    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_due", "status", "next_attempt"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(40), unique=True)  # X-OneCode-Delivery, same on every retry
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_event.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscription.id", ondelete="CASCADE"),
                                                 index=True)
    status: Mapped[str] = mapped_column(String(12))  # DELIVERY_STATUSES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt: Mapped[datetime.datetime] = mapped_column(DateTime)  # UTC
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime.datetime | None] = mapped_column(DateTime)  # UTC
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)  # UTC
    finished: Mapped[datetime.datetime | None] = mapped_column(DateTime)  # UTC, done or failed
    last_status: Mapped[int | None] = mapped_column(Integer)  # HTTP status of the last attempt
    last_error: Mapped[str | None] = mapped_column(String(300))


class WebhookAttempt(Base):
    """One try to send a delivery: the receiver's HTTP status or what went wrong."""
    __tablename__ = "webhook_attempt"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_delivery.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, ...
    at: Mapped[datetime.datetime] = mapped_column(DateTime)  # UTC
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(300))
    duration_ms: Mapped[int] = mapped_column(Integer)
