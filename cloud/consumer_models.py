"""Tables the consumer pages own (migration 0004): how often, and since when, each
code's page was opened to check it ("first verified on ... / verified N times").

One row per canonical key of a code that exists (an item, a lot, a pallet); unknown
codes are never counted, so nobody can fill this table by inventing codes. Must never
hold who checked (no IP address, no cookie): a count and two times only.
"""
import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models import Base


class CodeCheck(Base):
    __tablename__ = "code_check"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)  # canonical (cloud.epcis_ids)
    checks: Mapped[int] = mapped_column(Integer)
    first_check: Mapped[datetime.datetime] = mapped_column(DateTime)  # UTC
    last_check: Mapped[datetime.datetime] = mapped_column(DateTime)  # UTC
