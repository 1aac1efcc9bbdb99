"""Tables of the operator console's accounts (migration 0006): operators and their
roles and sites, server-side login sessions, login attempts (rate limit and lockout),
scoped API tokens, and the audit log of every change an operator makes.

Secrets are never stored in clear: passwords as argon2id hashes, session cookies and
API tokens as the SHA-256 of a random value shown once. Must never hold a password,
cookie value or token in clear, and never delete an audit row.
"""
import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models import Base, JsonDoc, utcnow

ROLES = ("admin", "quality", "warehouse", "brand", "viewer")
TOKEN_KINDS = ("gateway", "carrier", "integration")


class Operator(Base):
    __tablename__ = "operator"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)  # stored lower-case
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id, PHC string
    role: Mapped[str] = mapped_column(String(16))  # ROLES
    sites: Mapped[str] = mapped_column(String(400), default="*")  # "*" or space-separated site ids
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)  # since the last good login
    locked_until: Mapped[datetime.datetime | None] = mapped_column(DateTime)  # UTC
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    password_changed: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)


class OperatorSession(Base):
    """A login. The cookie holds a random value; the row its SHA-256. The CSRF token
    of the session's forms lives here (synchronizer-token pattern)."""
    __tablename__ = "operator_session"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operator.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    expires: Mapped[datetime.datetime] = mapped_column(DateTime)  # absolute end (UTC)
    ip: Mapped[str | None] = mapped_column(String(64))
    ended: Mapped[datetime.datetime | None] = mapped_column(DateTime)  # logout, revocation


class LoginAttempt(Base):
    __tablename__ = "login_attempt"
    # by address (the 20-in-10-minutes limit) and by name (the lockout, known or not)
    __table_args__ = (Index("ix_login_attempt_ip_at", "ip", "at"), Index("ix_login_attempt_username_at", "username", "at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ip: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean)


class ApiToken(Base):
    """A token for a machine: a gateway, a carrier, or an ERP/WMS integration.
    `scopes` is space-separated (cloud.console.tokens.SCOPES); `subject` names the
    gateway (a registered gateway id; its captures are held to the gateway's site) or
    the carrier it speaks for."""
    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # TOKEN_KINDS
    subject: Mapped[str | None] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(400))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(12))  # the token's first characters, to recognise it
    created: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("operator.id", ondelete="SET NULL"))
    expires: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    last_used: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    revoked: Mapped[datetime.datetime | None] = mapped_column(DateTime)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id", ondelete="SET NULL"), index=True)
    username: Mapped[str | None] = mapped_column(String(64))  # kept if the operator is removed
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. "product.update", "recall.confirm"
    target: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[dict | None] = mapped_column(JsonDoc)
    ip: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
