"""The cloud's tables (SQLAlchemy 2). Schema changes go through Alembic migrations in
cloud/migrations; this module must never call create_all for a real database.

Events keep their full EPCIS JSON plus indexed columns for the query parameters;
`event_epc` indexes every identifier an event names (instances and classes) under a
canonical key (cloud.epcis_ids: the Digital Link path for GS1 identifiers), so a
query or the consumer page finds an item however it was captured.
"""
import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, text
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
    record_time: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    site: Mapped[str | None] = mapped_column(String(64))
    gateway: Mapped[str | None] = mapped_column(String(64))
    batch_id: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[dict] = mapped_column(JsonDoc)
    context: Mapped[list | None] = mapped_column(JsonDoc)  # the capture document's extra @context
    capture_id: Mapped[str | None] = mapped_column(String(64))
    epcs: Mapped[list["EventEpc"]] = relationship(back_populates="event", cascade="all, delete-orphan")


class EventEpc(Base):
    __tablename__ = "event_epc"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_pk: Mapped[int] = mapped_column(ForeignKey("epcis_event.id", ondelete="CASCADE"), index=True)
    # epc, child, parent, input, output; class, child_class, input_class, output_class
    role: Mapped[str] = mapped_column(String(16))
    epc: Mapped[str] = mapped_column(String(300))  # as captured
    key: Mapped[str] = mapped_column(String(300))  # canonical (cloud.epcis_ids)
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
    """A trade item (GTIN-14). The rest of the master data is in cloud.master."""
    __tablename__ = "product"
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200))
    description_en: Mapped[str | None] = mapped_column(Text)
    description_zh: Mapped[str | None] = mapped_column(Text)
    # the brand owner; by default the company whose prefix the GTIN starts with. Its
    # foreign key to company.id is declared in cloud.master, next to that table, so
    # this module stays usable on its own.
    company_id: Mapped[int | None] = mapped_column(Integer, index=True)
    brand_story_en: Mapped[str | None] = mapped_column(Text)
    brand_story_zh: Mapped[str | None] = mapped_column(Text)
    # in display order: [{"url": "https://..."} or {"file": storage path below FILES_DIR,
    # "sha256": ...}, each with optional "alt_zh", "alt_en"] (cloud.masterdata writes it)
    images: Mapped[list | None] = mapped_column(JsonDoc)


class NfcTag(Base):
    """What the cloud remembers of an NTAG 424 tag's taps, to catch replayed links
    and cloned tags (cloud.sun.judge_counter)."""
    __tablename__ = "nfc_tag"
    uid: Mapped[str] = mapped_column(String(14), primary_key=True)  # 7 bytes, upper-case hex
    last_counter: Mapped[int] = mapped_column(Integer)
    recent: Mapped[list] = mapped_column(JsonDoc)  # last authenticated counters, arrival order
    taps: Mapped[int] = mapped_column(Integer, default=0)
    suspicious_taps: Mapped[int] = mapped_column(Integer, default=0)
    first_tap: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    last_tap: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)


class CaptureJob(Base):
    """An EPCIS capture request and its outcome (GET /epcis/capture/{id})."""
    __tablename__ = "capture_job"
    capture_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    finished: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    running: Mapped[bool] = mapped_column(Boolean, default=True)
    success: Mapped[bool] = mapped_column(Boolean, default=False)
    behaviour: Mapped[str] = mapped_column(String(16))
    events: Mapped[int] = mapped_column(Integer, default=0)
    stored: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list | None] = mapped_column(JsonDoc)


Index("event_epc_key_event", EventEpc.key, EventEpc.role, EventEpc.event_pk)


class EpcState(Base):
    """Derived current state of one instance identifier (cloud.state keeps it): where it
    was last seen, its disposition, its current parent, its lot. Each group of fields
    carries the event time that set it, so events arriving out of order (a gateway
    back online after days) never overwrite newer facts with older ones."""
    __tablename__ = "epc_state"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)  # canonical (cloud.epcis_ids)
    epc: Mapped[str] = mapped_column(String(300))  # as last captured
    first_time: Mapped[datetime.datetime] = mapped_column(DateTime)
    last_time: Mapped[datetime.datetime] = mapped_column(DateTime)
    last_event: Mapped[int] = mapped_column(Integer)  # epcis_event.id
    last_biz_step: Mapped[str | None] = mapped_column(String(100))
    # where: the latest event with a readPoint or bizLocation (no bizLocation = in transit)
    read_point: Mapped[str | None] = mapped_column(String(200))
    biz_location: Mapped[str | None] = mapped_column(String(200))
    where_time: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    disposition: Mapped[str | None] = mapped_column(String(100))
    disposition_time: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    parent_key: Mapped[str | None] = mapped_column(String(300))
    parent_time: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    # as a parent: when it was last emptied (AggregationEvent DELETE without childEPCs)
    emptied_time: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    # lot (/01/{gtin}/10/{lot}) from the commissioning event's ILMD
    lot_key: Mapped[str | None] = mapped_column(String(300))
    # a forward trace groups a lot's items by where they are without reading the table.
    # No index on location or disposition yet: nothing queries them, and each index
    # costs every upsert; on SQLite the rows are stored in key order (no rowid tree).
    # The parent index holds only items that have a parent (lookups are parent_key = X,
    # which implies NOT NULL on both databases): an upsert rewrites an index entry of
    # every column it sets, and a full index would dirty a page per loose item per batch.
    __table_args__ = (Index("epc_state_lot_cover", "lot_key", "parent_key", "where_time", "biz_location",
                            "read_point", "disposition", "key", sqlite_where=text("lot_key IS NOT NULL"),
                            postgresql_where=text("lot_key IS NOT NULL")),
                      Index("epc_state_parent", "parent_key", sqlite_where=text("parent_key IS NOT NULL"),
                            postgresql_where=text("parent_key IS NOT NULL")),
                      {"sqlite_with_rowid": False})


class EpcContainment(Base):
    """Every (parent, child) pair an AggregationEvent ADD or OBSERVE ever named: the
    containers an item was ever in (the current parent is in epc_state)."""
    __tablename__ = "epc_containment"
    __table_args__ = {"sqlite_with_rowid": False}
    parent_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    child_key: Mapped[str] = mapped_column(String(300), primary_key=True, index=True)


class LotContainer(Base):
    """Every container that ever held an item of a lot: a forward trace of a lot finds
    its cases by one index range scan instead of one lookup per item."""
    __tablename__ = "lot_container"
    __table_args__ = {"sqlite_with_rowid": False}
    lot_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    parent_key: Mapped[str] = mapped_column(String(300), primary_key=True)


class EventBizTx(Base):
    """Business transactions (purchase order, despatch advice, ...) an event names, so a
    trace finds the orders and shipments an item reached."""
    __tablename__ = "event_biz_tx"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_pk: Mapped[int] = mapped_column(ForeignKey("epcis_event.id", ondelete="CASCADE"), index=True)
    type: Mapped[str | None] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(String(300), index=True)
