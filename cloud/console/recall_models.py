"""The recall register (migration 0007): one row per recall or mock recall an operator
ran, with the target, who, when and the counts of the affected set at that moment.

A mock recall writes only its row here; a real recall also stores EPCIS events through
cloud.store (cloud/console/recall.py). Rows are never updated or deleted: they are the
record a regulator asks for.
"""
import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models import Base, JsonDoc, utcnow

RECALL_KINDS = ("mock", "real")
TARGET_KINDS = ("batch", "raw_lot")


class Recall(Base):
    __tablename__ = "recall"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), index=True)  # RECALL_KINDS
    target_kind: Mapped[str] = mapped_column(String(16))  # TARGET_KINDS
    target: Mapped[str] = mapped_column(String(300), index=True)  # lot key or raw-lot key
    at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow, index=True)  # UTC
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id", ondelete="SET NULL"))
    username: Mapped[str | None] = mapped_column(String(64))  # kept if the operator is removed
    computation: Mapped[str] = mapped_column(String(64))  # fingerprint of the affected set
    counts: Mapped[dict] = mapped_column(JsonDoc)  # totals, by site/region/status/order
    events: Mapped[int] = mapped_column(Integer, default=0)  # EPCIS events stored (real only)
    reason: Mapped[str | None] = mapped_column(Text)
