"""Master data tables (SQLAlchemy 2): who makes what, where, from which inputs, and
where it went: companies and their GS1 company prefixes, locations, suppliers and
raw-material lots, batches and their stored documents, serialised items with their
carriers (QR, NFC, UHF), orders, shipments and the units they carry, gateways and
devices. The `product` table itself lives in cloud.models (the consumer page and the
events predate this module); docs/data-model.md explains every table.

GS1 keys are digit strings (GTIN-14, GLN-13); an item's and a shipped unit's `key` is
the canonical key of cloud.epcis_ids, so it joins to `event_epc.key`. Document bytes
live on disk under FILES_DIR (cloud.filestore), never in the database. Like
cloud.models, this module must never call create_all for a real database: the schema
comes from the migrations.
"""
import datetime

from sqlalchemy import (Column, Date, DateTime, ForeignKey, ForeignKeyConstraint, Integer, String, Table,
                        UniqueConstraint, select)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.models import Base, Product, utcnow

LOCATION_KINDS = ("factory", "line", "warehouse", "dock_door", "store", "distribution_centre", "other")
DOCUMENT_KINDS = ("qc_report", "certificate", "product_image", "other")
DEVICE_ROLES = ("portal", "handheld", "other")
ORDER_STATUSES = ("open", "shipped", "delivered", "cancelled")
# the order-tracking words of shared/GLOSSARY.md
SHIPMENT_STATUSES = ("created", "picked_up", "in_transit", "out_for_delivery", "delivered", "exception")


class Company(Base):
    """A brand owner or manufacturer; owns GS1 company prefixes and products."""
    __tablename__ = "company"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # our short name, e.g. "demo-tea"
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)


# product.company_id -> company.id (the column is in cloud.models; see the note there)
Product.__table__.append_constraint(
    ForeignKeyConstraint(["company_id"], ["company.id"], name="fk_product_company"))


class CompanyPrefix(Base):
    """A GS1 company prefix (4-12 digits) licensed to a company."""
    __tablename__ = "company_prefix"
    prefix: Mapped[str] = mapped_column(String(12), primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), index=True)


def prefix_candidates(digits):
    """Every possible GS1 company prefix (4-12 digits) at the start of a GTIN-14's
    GTIN-13 part (after the indicator digit), or of a 13-digit GLN."""
    body = digits[1:13] if len(digits) == 14 else digits[:12]
    return [body[:n] for n in range(4, len(body) + 1)]


def find_prefix(session, digits):
    """The longest registered company prefix that a GTIN-14 or GLN starts with, or None."""
    cands = prefix_candidates(digits)
    if not cands:
        return None
    rows = session.scalars(select(CompanyPrefix).where(CompanyPrefix.prefix.in_(cands))).all()
    return max(rows, key=lambda r: len(r.prefix), default=None)


def company_of_gtin(session, gtin):
    """The company whose registered prefix is the longest match of this GTIN-14, or None.
    (GTIN-8 uses GS1-8 prefixes, which this table does not hold.)"""
    row = find_prefix(session, gtin)
    return session.get(Company, row.company_id) if row else None


class Location(Base):
    """A physical place as EPCIS names it: `sgln` is the `urn:epc:id:sgln:...` of events'
    readPoint and bizLocation; a GLN without extension is `...:{ext}` with ext 0."""
    __tablename__ = "location"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sgln: Mapped[str] = mapped_column(String(200), unique=True, index=True)
    gln: Mapped[str] = mapped_column(String(13), index=True)
    extension: Mapped[str] = mapped_column(String(20))  # "0" = the GLN itself
    kind: Mapped[str] = mapped_column(String(24))  # LOCATION_KINDS
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"), index=True)
    site: Mapped[str | None] = mapped_column(String(64), index=True)  # as in events and gateways
    region: Mapped[str | None] = mapped_column(String(64))  # e.g. ISO 3166-2 "CN-31"
    # FSMA 204's location description is business name, phone and physical address
    address: Mapped[str | None] = mapped_column(String(300))  # free text, as it is written locally
    phone: Mapped[str | None] = mapped_column(String(40))
    parent: Mapped["Location | None"] = relationship(remote_side=[id])


class Supplier(Base):
    __tablename__ = "supplier"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    gln: Mapped[str | None] = mapped_column(String(13))
    region: Mapped[str | None] = mapped_column(String(64))


class RawLot(Base):
    """A supplier's lot of a raw material, an input of our batches."""
    __tablename__ = "raw_lot"
    __table_args__ = (UniqueConstraint("supplier_id", "material", "lot", name="uq_raw_lot"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("supplier.id"), index=True)
    material: Mapped[str] = mapped_column(String(64))  # material code, e.g. "jasmine-flower"
    lot: Mapped[str] = mapped_column(String(40))
    name_zh: Mapped[str | None] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    gtin: Mapped[str | None] = mapped_column(String(14))  # if the supplier's packs carry one
    received: Mapped[datetime.date | None] = mapped_column(Date)


batch_raw_lot = Table(
    "batch_raw_lot", Base.metadata,
    Column("batch_id", ForeignKey("batch.id", ondelete="CASCADE"), primary_key=True),
    Column("raw_lot_id", ForeignKey("raw_lot.id"), primary_key=True, index=True),
)


class Batch(Base):
    """A production batch/lot of one product (GS1 AI 10)."""
    __tablename__ = "batch"
    __table_args__ = (UniqueConstraint("gtin", "lot", name="uq_batch_gtin_lot"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gtin: Mapped[str] = mapped_column(ForeignKey("product.gtin"))
    lot: Mapped[str] = mapped_column(String(20))
    production_date: Mapped[datetime.date | None] = mapped_column(Date)
    expiry_date: Mapped[datetime.date | None] = mapped_column(Date)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"), index=True)
    shift: Mapped[str | None] = mapped_column(String(32))
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    raw_lots: Mapped[list[RawLot]] = relationship(secondary=batch_raw_lot)
    documents: Mapped[list["Document"]] = relationship(back_populates="batch")


class Document(Base):
    """A stored file attached to a batch (QC report, certificate) or a product (image).
    The bytes are at FILES_DIR/storage_path, content-addressed by sha256."""
    __tablename__ = "document"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batch.id", ondelete="CASCADE"), index=True)
    product_gtin: Mapped[str | None] = mapped_column(ForeignKey("product.gtin", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # DOCUMENT_KINDS
    filename: Mapped[str] = mapped_column(String(255))  # as uploaded
    content_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    storage_path: Mapped[str] = mapped_column(String(200))  # relative to FILES_DIR, '/' separated
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    batch: Mapped[Batch | None] = relationship(back_populates="documents")


class Item(Base):
    """One serialised unit (SGTIN) and the carriers of its code."""
    __tablename__ = "item"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True, index=True)  # /01/{gtin}/21/{serial}
    gtin: Mapped[str] = mapped_column(ForeignKey("product.gtin"), index=True)
    serial: Mapped[str] = mapped_column(String(20))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batch.id"), index=True)
    qr_serial: Mapped[str | None] = mapped_column(String(300), unique=True)  # the QR's text
    nfc_uid: Mapped[str | None] = mapped_column(String(14), unique=True, index=True)  # 7 bytes, upper hex
    nfc_key_ref: Mapped[str | None] = mapped_column(String(64))  # where the key is; never the key
    uhf_epc_hex: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)  # upper hex
    uhf_epc_uri: Mapped[str | None] = mapped_column(String(300), unique=True, index=True)  # pure identity
    commissioned: Mapped[datetime.datetime | None] = mapped_column(DateTime)  # UTC
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)


class SalesOrder(Base):
    __tablename__ = "sales_order"  # "order" is an SQL keyword
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_region: Mapped[str | None] = mapped_column(String(64))  # anti-diversion checks use it
    status: Mapped[str] = mapped_column(String(16), default="open")  # ORDER_STATUSES
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)


class Shipment(Base):
    """A consignment of an order; `tracking_token` is the unguessable part of the
    public /track/{token} page (secrets.token_urlsafe), never derived from anything."""
    __tablename__ = "shipment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"), index=True)
    carrier: Mapped[str | None] = mapped_column(String(64))
    carrier_tracking: Mapped[str | None] = mapped_column(String(64))
    tracking_token: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    status: Mapped[str] = mapped_column(String(24), default="created")  # SHIPMENT_STATUSES
    shipped: Mapped[datetime.datetime | None] = mapped_column(DateTime)  # UTC
    delivered: Mapped[datetime.datetime | None] = mapped_column(DateTime)  # UTC
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    units: Mapped[list["ShipmentUnit"]] = relationship(cascade="all, delete-orphan")


class ShipmentUnit(Base):
    """A pallet/case (SSCC) or item (SGTIN) a shipment carries, by canonical key."""
    __tablename__ = "shipment_unit"
    __table_args__ = (UniqueConstraint("shipment_id", "key", name="uq_shipment_unit"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipment.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(300), index=True)  # /00/{sscc} or /01/{gtin}/21/{serial}


class Gateway(Base):
    __tablename__ = "gateway"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gateway_id: Mapped[str] = mapped_column(String(64), unique=True)  # as in batches and topics
    site: Mapped[str] = mapped_column(String(64), index=True)
    last_seen: Mapped[datetime.datetime | None] = mapped_column(DateTime)  # UTC


class Device(Base):
    """A handheld or portal at a site, as the gateway's registry knows it."""
    __tablename__ = "device"
    __table_args__ = (UniqueConstraint("site", "device_id", name="uq_device_site"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))  # DEVICE_ROLES
    door: Mapped[str | None] = mapped_column(String(32))
    read_point: Mapped[str | None] = mapped_column(String(200))  # SGLN URN, as in events
    biz_location: Mapped[str | None] = mapped_column(String(200))
    gateway_id: Mapped[int | None] = mapped_column(ForeignKey("gateway.id"), index=True)
