"""Scoped API tokens for machines (gateways, carriers, ERP/WMS integrations), made and
revoked in the console or with `onecode cloud token`. A token is
`oc_` + 43 random URL-safe characters, shown once; only its SHA-256 is stored. A
revoked or expired token stops working on the next request (every request reads the
row; nothing is cached).

Scopes: `trace:read` (the trace API and verification signals), `carrier:events` (the
carrier API, for the carrier named in `subject`), `epcis:query`, `epcis:capture`.
Must never store or log a token in clear.
"""
import datetime
import hashlib
import hmac
import secrets

from sqlalchemy import select, update

from cloud.console.models import TOKEN_KINDS, ApiToken
from cloud.models import utcnow

SCOPES = ("trace:read", "carrier:events", "epcis:query", "epcis:capture")
PREFIX = "oc_"
TOUCH_EVERY = datetime.timedelta(minutes=1)  # last_used is written at most this often


def digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def issue(s, name, kind, scopes, subject=None, created_by=None, expires=None):
    """Add a token in session `s` -> (row, token in clear). Raises ValueError."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValueError("a token needs a name of 1-100 characters")
    if kind not in TOKEN_KINDS:
        raise ValueError("kind must be one of %s" % ", ".join(TOKEN_KINDS))
    if isinstance(scopes, str):
        scopes = scopes.replace(",", " ").split()
    scopes = sorted(set(scopes))
    bad = [x for x in scopes if x not in SCOPES]
    if bad or not scopes:
        raise ValueError("scopes must be some of %s" % ", ".join(SCOPES))
    subject = (subject or "").strip() or None
    if kind == "carrier" and not subject:
        raise ValueError("a carrier token names its carrier")
    if "carrier:events" in scopes and kind != "carrier":
        raise ValueError("carrier:events is for carrier tokens")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, kind=kind, subject=subject, scopes=" ".join(scopes), token_sha256=digest(token),
                   hint=token[:8], created=utcnow(), created_by=created_by, expires=expires)
    s.add(row)
    s.flush()
    return row, token


def revoke(s, token_id):
    """-> True when a live token was revoked."""
    res = s.execute(update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked.is_(None))
                    .values(revoked=utcnow()))
    return res.rowcount == 1


def from_header(value):
    """'Bearer oc_...' -> the token, else None."""
    if not value or not value.startswith("Bearer ") or len(value) > 200:
        return None
    token = value[7:].strip()
    return token if token.startswith(PREFIX) else None


def check(Session, token, scope, now=None):
    """The live token row granting `scope`, else None."""
    if not token:
        return None
    now = now or utcnow()
    want = digest(token)
    with Session() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_sha256 == want))
        if row is None or not hmac.compare_digest(row.token_sha256, want):
            return None
        if row.revoked is not None or (row.expires is not None and row.expires <= now):
            return None
        if scope not in row.scopes.split():
            return None
        if row.last_used is None or now - row.last_used >= TOUCH_EVERY:
            s.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used=now))
            s.commit()
        s.expunge(row)
        return row
