"""Append-only, hash-chained audit trail.

Each event's hash covers its content and the previous event's hash, so deleting
or editing any row breaks the chain from that row on; ``verify_chain`` finds it.
On PostgreSQL an append is one call of ``onestop_append_audit`` (migration
0005), which serialises appends with an advisory lock and computes the hash
from the previous one on the server.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from .db import utcnow
from .models import AuditEvent

GENESIS = "0" * 64
PG_APPEND_SQL = (
    "SELECT onestop_append_audit(%(at)s, %(actor_id)s, %(on_behalf_of)s, %(action)s, %(case_id)s,"
    " %(ip)s, %(purpose)s, %(result)s, CAST(%(detail)s AS JSONB), %(body)s, %(genesis)s)"
)
_EVENTS = AuditEvent.__table__
_LAST_HASH = select(_EVENTS.c.hash).order_by(_EVENTS.c.id.desc()).limit(1)
_INSERT = insert(_EVENTS)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_id: int | None = None


def body(at: datetime, actor_id, on_behalf_of, action, case_id, ip, purpose, result, detail) -> str:
    return json.dumps([at.isoformat(), actor_id, on_behalf_of, action, case_id, ip, purpose, result,
                       detail], ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def digest(prev_hash: str, body: str) -> str:
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def event(action: str, *, actor_id: str | None = None, on_behalf_of: str | None = None,
          case_id: str | None = None, ip: str | None = None, purpose: str | None = None,
          result: str = "ok", detail: dict | None = None, at: datetime | None = None) -> dict:
    """The columns of one event, as ``append`` and the engine's write batches take them."""
    return dict(at=at or utcnow(), actor_id=actor_id, on_behalf_of=on_behalf_of, action=action,
                case_id=case_id, ip=ip, purpose=purpose, result=result, detail=detail or {})


def append(
    session: Session,
    action: str,
    *,
    actor_id: str | None = None,
    on_behalf_of: str | None = None,
    case_id: str | None = None,
    ip: str | None = None,
    purpose: str | None = None,
    result: str = "ok",
    detail: dict | None = None,
    at: datetime | None = None,
) -> None:
    """Append one event inside the caller's transaction (call it last: it serialises)."""
    values = event(action, actor_id=actor_id, on_behalf_of=on_behalf_of, case_id=case_id, ip=ip,
                   purpose=purpose, result=result, detail=detail, at=at)
    text_body = body(**values)
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        cursor = session.connection().connection.driver_connection.cursor()
        cursor.execute(PG_APPEND_SQL, {**values, "detail": json.dumps(values["detail"], ensure_ascii=False),
                                       "body": text_body, "genesis": GENESIS})
        return
    conn = session.connection()
    prev = conn.execute(_LAST_HASH).scalar() or GENESIS
    conn.execute(_INSERT, {**values, "prev_hash": prev, "hash": digest(prev, text_body)})


def verify_chain(session: Session, batch: int = 1000) -> ChainReport:
    """Walk the whole chain in id order; report the first event that does not fit."""
    prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            return ChainReport(True, checked)
        for row in rows:
            text_body = body(row.at, row.actor_id, row.on_behalf_of, row.action, row.case_id,
                             row.ip, row.purpose, row.result, row.detail)
            if row.prev_hash != prev or digest(prev, text_body) != row.hash:
                return ChainReport(False, checked, row.id)
            prev = row.hash
            checked += 1
            last_id = row.id
