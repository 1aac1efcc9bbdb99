"""Tables the consumer pages own (migration 0004): how often, and since when, each
code's page was opened to check it ("first verified on ... / verified N times").

One row per canonical key of a code that exists (an item, a lot, a pallet); unknown
codes are never counted, so nobody can fill this table by inventing codes. Also the
diversion and anomaly signals raised on those pages (migration 0005). Must never
hold who checked (no IP address, no cookie): a count and two times only.
"""
import datetime

from sqlalchemy import DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models import Base


class CodeCheck(Base):
    __tablename__ = "code_check"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)  # canonical (cloud.epcis_ids)
    checks: Mapped[int] = mapped_column(Integer)
    first_check: Mapped[datetime.datetime] = mapped_column(DateTime)  # UTC
    last_check: Mapped[datetime.datetime] = mapped_column(DateTime)  # UTC


class VerificationSignal(Base):
    """A diversion or anomaly signal for the brand's console (GET /api/signals): a
    code checked in a region other than its order's (`kind` "region", with the
    region reported and the one expected), or checked far more often than normal
    (`kind` "often"). One row per code, kind and reported region; `count` says how
    many checks raised it. Holds no IP address and nothing about who checked."""
    __tablename__ = "verification_signal"
    __table_args__ = (UniqueConstraint("key", "kind", "region"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300))  # canonical
    kind: Mapped[str] = mapped_column(String(16))  # "region" | "often"
    region: Mapped[str] = mapped_column(String(64))  # reported, ISO 3166-2; "" for "often"
    expected: Mapped[str | None] = mapped_column(String(64))  # the order's customer_region
    source: Mapped[str] = mapped_column(String(16))  # "param" (scanning app) | "header" (proxy) | "count"
    count: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime.datetime] = mapped_column(DateTime)  # UTC
    last_seen: Mapped[datetime.datetime] = mapped_column(DateTime, index=True)  # UTC
