"""The cloud's tables (SQLAlchemy 2). Schema changes go through Alembic migrations in
cloud/migrations; this module must never call create_all for a real database.

Events keep their full EPCIS JSON plus indexed columns for the query parameters;
`event_epc` indexes every EPC an event names, with its Digital Link path so the
consumer page finds an item by the address printed on it.
"""
import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere
JsonDoc = JSON().with_variant(JSONB(), "postgresql")


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class Event(Base):
    __tablename__ = "epcis_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), unique=True)
    event_type: Mapped[str] = mapped_column(String(32))
    event_time: Mapped[datetime.datetime] = mapped_column(DateTime, index=True)  # UTC
    tz_offset: Mapped[str] = mapped_column(String(6))
    action: Mapped[str | None] = mapped_column(String(8))
    biz_step: Mapped[str | None] = mapped_column(String(100), index=True)
    disposition: Mapped[str | None] = mapped_column(String(100), index=True)
    read_point: Mapped[str | None] = mapped_column(String(200), index=True)
    biz_location: Mapped[str | None] = mapped_column(String(200), index=True)
    record_time: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    site: Mapped[str | None] = mapped_column(String(64))
    gateway: Mapped[str | None] = mapped_column(String(64))
    batch_id: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[dict] = mapped_column(JsonDoc)
    epcs: Mapped[list["EventEpc"]] = relationship(back_populates="event", cascade="all, delete-orphan")


class EventEpc(Base):
    __tablename__ = "event_epc"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_pk: Mapped[int] = mapped_column(ForeignKey("epcis_event.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # epc, parent, child, input, output
    epc: Mapped[str] = mapped_column(String(200), index=True)
    dl_path: Mapped[str | None] = mapped_column(String(200))
    event: Mapped[Event] = relationship(back_populates="epcs")


class IngestBatch(Base):
    """Every gateway batch the ingest worker committed (resends are recognised)."""
    __tablename__ = "ingest_batch"
    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    gateway: Mapped[str] = mapped_column(String(64))
    received: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    events: Mapped[int] = mapped_column(Integer)
    stored: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)


class Product(Base):
    __tablename__ = "product"
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200))
    description_en: Mapped[str | None] = mapped_column(Text)
    description_zh: Mapped[str | None] = mapped_column(Text)


Index("event_epc_dl_event", EventEpc.dl_path, EventEpc.event_pk)
