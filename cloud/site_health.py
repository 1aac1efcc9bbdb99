"""What the cloud knows about each site's gateway and devices, and which gateway
batches it refused: the tables `gateway_status` (the latest retained gatewayStatus a
gateway published on the cloud broker, onecode/cloud/{site}/{gw}/status) and
`ingest_rejection` (one row per refused batch or event, with the reason). The ingest
worker writes both; the console's dashboards read them (online gateways and devices,
outbox backlog and oldest age, error rate per gateway).

Every ingest worker subscribes to the status topic (not shared: each gets every
status) and upserts; an older status never replaces a newer one (`at`). Must never
let a status message stop the ingest of batches: errors are logged and counted.
"""
import datetime

from sqlalchemy import DateTime, Float, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db import upsert_insert
from cloud.models import Base, JsonDoc, utcnow


class GatewayStatus(Base):
    __tablename__ = "gateway_status"
    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    gateway_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # ok | alarm | stopped | offline
    at: Mapped[datetime.datetime] = mapped_column(DateTime)  # when the gateway made it (UTC)
    received: Mapped[datetime.datetime] = mapped_column(DateTime)  # when the cloud got it (UTC)
    cloud_link: Mapped[str | None] = mapped_column(String(8))
    outbox_events: Mapped[int | None] = mapped_column(Integer)
    outbox_oldest_s: Mapped[float | None] = mapped_column(Float)
    outbox_in_flight: Mapped[int | None] = mapped_column(Integer)
    outbox_dead: Mapped[int | None] = mapped_column(Integer)
    alarms: Mapped[list | None] = mapped_column(JsonDoc)  # [{code, since, en, zh}]
    devices: Mapped[list | None] = mapped_column(JsonDoc)  # [{dev, state, role, last_seen_s, journal, records_in, errors, alarms}]


class IngestRejection(Base):
    __tablename__ = "ingest_rejection"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    site: Mapped[str] = mapped_column(String(64), index=True)
    gateway_id: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[str | None] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(32))
    events: Mapped[int | None] = mapped_column(Integer)  # events in the refused batch, when readable
    detail: Mapped[str | None] = mapped_column(Text)


def store_status(Session, site, gw, msg, received=None):
    """Upsert the gateway's latest status -> True when stored (False: an older one)."""
    received = received or utcnow()
    at = datetime.datetime.fromtimestamp(msg["at"], datetime.timezone.utc).replace(tzinfo=None)
    box = msg.get("outbox") or {}
    values = {"site": site, "gateway_id": gw, "state": msg["state"], "at": at, "received": received,
              "cloud_link": msg.get("cloud"), "outbox_events": box.get("events"),
              "outbox_oldest_s": box.get("oldest_s"), "outbox_in_flight": box.get("in_flight"),
              "outbox_dead": box.get("dead"), "alarms": msg.get("alarms") or [], "devices": msg.get("devices")}
    t = GatewayStatus.__table__
    with Session() as s:
        ins = upsert_insert(s.bind.dialect.name)(t).values(**values)
        if msg["state"] == "offline":
            # the last will: made when the gateway connected (older than its last status)
            # and without figures; it says offline and keeps the last known figures
            stmt = ins.on_conflict_do_update(index_elements=["site", "gateway_id"],
                                             set_={"state": "offline", "received": received})
        else:
            update = {k: ins.excluded[k] for k in values if k not in ("site", "gateway_id")}
            stmt = ins.on_conflict_do_update(index_elements=["site", "gateway_id"], set_=update,
                                             where=t.c.at <= ins.excluded.at)
        res = s.execute(stmt)
        s.commit()
        return res.rowcount != 0


def record_rejection(Session, site, gw, batch_id, code, detail, events=None):
    with Session() as s:
        s.add(IngestRejection(at=utcnow(), site=site, gateway_id=gw, batch_id=batch_id, code=code[:32],
                              events=events, detail=(detail or "")[:2000]))
        s.commit()


def statuses(Session, sites=None):
    """Every gateway's latest status (sites: None = all, else a set)."""
    q = select(GatewayStatus).order_by(GatewayStatus.site, GatewayStatus.gateway_id)
    if sites is not None:
        q = q.where(GatewayStatus.site.in_(sorted(sites)))
    with Session() as s:
        return s.scalars(q).all()
