"""Scoped API tokens for machines (gateways, carriers, ERP/WMS integrations), made and
revoked in the console or with `onecode cloud token`. A token is
`oc_` + 43 random URL-safe characters, shown once; only its SHA-256 is stored. A
revoked or expired token stops working on the next request (every request reads the
row; nothing is cached).

Scopes: `trace:read` (the trace API and verification signals), `carrier:events` (the
carrier API, for the carrier named in `subject`), `epcis:query`, `epcis:capture`.
A gateway token names a registered gateway (`subject` = its gateway id); with
`epcis:capture` it may capture only events whose readPoint and bizLocation are
locations of that gateway's site (`foreign_locations`).
Must never store or log a token in clear.
"""
import datetime
import hashlib
import hmac
import secrets

from sqlalchemy import select, update

from cloud.console.account_text import Refused
from cloud.console.models import TOKEN_KINDS, ApiToken
from cloud.master import Gateway, Location
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
        raise Refused("tok_name_bad")
    if kind not in TOKEN_KINDS:
        raise Refused("tok_kind_bad", kinds=", ".join(TOKEN_KINDS))
    if isinstance(scopes, str):
        scopes = scopes.replace(",", " ").split()
    scopes = sorted(set(scopes))
    bad = [x for x in scopes if x not in SCOPES]
    if bad or not scopes:
        raise Refused("tok_scopes_bad", scopes=", ".join(SCOPES))
    subject = (subject or "").strip() or None
    if kind == "carrier" and not subject:
        raise Refused("tok_carrier_subject")
    if "carrier:events" in scopes and kind != "carrier":
        raise Refused("tok_carrier_scope")
    if kind == "gateway":
        if not subject:
            raise Refused("tok_gateway_subject")
        if s.scalar(select(Gateway.id).where(Gateway.gateway_id == subject)) is None:
            raise Refused("tok_gateway_unknown", gw=subject)
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


def gateway_site(s, row):
    """The site of a gateway token's gateway, else None (not a gateway token, or
    the gateway is gone from the master data: then nothing is its site)."""
    if row.kind != "gateway":
        return None
    return s.scalar(select(Gateway.site).where(Gateway.gateway_id == row.subject)) or ""


def foreign_locations(s, site, events):
    """The readPoint/bizLocation ids of `events` that are not locations of `site`,
    and the indexes of events that name neither (their site cannot be shown)."""
    wanted, blind = {}, []
    for i, ev in enumerate(events):
        ids = [(ev.get(f) or {}).get("id") if isinstance(ev, dict) and isinstance(ev.get(f), dict) else None
               for f in ("readPoint", "bizLocation")]
        ids = [x for x in ids if isinstance(x, str) and x]
        if not ids:
            blind.append(i)
        wanted.update((x, i) for x in ids)
    ours = set(s.scalars(select(Location.sgln).where(Location.sgln.in_(list(wanted)), Location.site == site))) \
        if wanted and site else set()
    return sorted(set(wanted) - ours), blind


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
