"""Consumer and customer complaints (migration 0010): one row per complaint an
operator records in the console (cloud/console/complaint_views.py), about one item
(`/01/{gtin}/21/{serial}`) or one lot (`/01/{gtin}/10/{lot}`).

`lot_key` is fixed when the complaint is recorded: the lot itself, or the item's lot
(epc_state.lot_key, else the master-data item's batch); it is indexed so that the
supplier-quality dashboard counts complaints per lot in one grouped statement. A
complaint carries no site: every operator allowed to see complaints sees all of them.
Rows are never deleted; a status change updates the row and writes an audit entry.
"""
import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models import Base, utcnow

CHANNELS = ("phone", "email", "store", "consumer_page", "other")
CATEGORIES = ("taste_smell", "foreign_body", "packaging", "illness", "labelling", "other")
STATUSES = ("open", "investigating", "closed")
SAFETY = ("illness", "foreign_body")  # categories announced as a webhook event ("complaint")
MAX_DESCRIPTION = 2000


class Complaint(Base):
    __tablename__ = "complaint"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received: Mapped[datetime.datetime] = mapped_column(DateTime, index=True)  # UTC, when the complaint came in
    channel: Mapped[str] = mapped_column(String(16))  # CHANNELS
    code: Mapped[str] = mapped_column(String(300), index=True)  # canonical item or lot key
    code_kind: Mapped[str] = mapped_column(String(8))  # "item" or "lot"
    lot_key: Mapped[str | None] = mapped_column(String(300), index=True)  # the lot it counts for
    category: Mapped[str] = mapped_column(String(16), index=True)  # CATEGORIES
    description: Mapped[str] = mapped_column(Text)  # at most MAX_DESCRIPTION characters
    status: Mapped[str] = mapped_column(String(16), index=True, default="open")  # STATUSES
    status_note: Mapped[str | None] = mapped_column(Text)  # the latest status change's note
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)  # UTC, when recorded
    created_by: Mapped[int | None] = mapped_column(ForeignKey("operator.id", ondelete="SET NULL"))
    username: Mapped[str | None] = mapped_column(String(64))  # kept if the operator is removed
    updated: Mapped[datetime.datetime | None] = mapped_column(DateTime)  # the latest status change (UTC)
