"""Tables of the carrier API (migration 0005): carriers' API tokens, the events they
post about shipments, and the delivery time promised for a shipment.

`carrier_token` holds the carrier tokens of earlier versions, still accepted by the
carrier API; `onecode cloud carrier-token` now makes scoped console tokens
(cloud.console.tokens), which can be revoked. A token is stored only as the SHA-256
of the random value handed to the carrier once; the value itself is never kept. An
event is stored once however often it is posted (`event_hash` over shipment,
status, time and place). The promised delivery time lives here, keyed by shipment,
because the master data has no such field. Must never hold a token in clear.
"""
import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models import Base, utcnow

# what a carrier may report, in the glossary's order-tracking words
CARRIER_STATUSES = ("picked_up", "in_transit", "at_hub", "out_for_delivery", "delivered", "damaged", "lost")
EXCEPTIONS = ("damaged", "lost")


class CarrierToken(Base):
    __tablename__ = "carrier_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    carrier: Mapped[str] = mapped_column(String(64), index=True)  # as in shipment.carrier
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)  # hex of sha256(token)
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)


class CarrierEvent(Base):
    __tablename__ = "carrier_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipment.id", ondelete="CASCADE"), index=True)
    carrier: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24))  # CARRIER_STATUSES
    event_time: Mapped[datetime.datetime] = mapped_column(DateTime)  # UTC
    place: Mapped[str | None] = mapped_column(String(200))
    event_hash: Mapped[str] = mapped_column(String(64), unique=True)  # the same event posted twice is one row
    received: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)  # UTC


class ShipmentPromise(Base):
    __tablename__ = "shipment_promise"
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipment.id", ondelete="CASCADE"), primary_key=True)
    promised: Mapped[datetime.datetime] = mapped_column(DateTime)  # UTC: delivered by then, else late
    updated: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
