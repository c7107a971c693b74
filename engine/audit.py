"""Append-only, hash-chained audit trail.

Each event's hash covers its content and the previous event's hash, so deleting
or editing any row breaks the chain from that row on; ``verify_chain`` finds it.
On PostgreSQL appends are serialised by an advisory lock and the hash is
computed in the same statement that reads the previous one.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from .db import utcnow
from .models import AuditEvent

GENESIS = "0" * 64
_CHAIN_LOCK_KEY = 7_202_611
_EVENTS = AuditEvent.__table__
_LAST_HASH = select(_EVENTS.c.hash).order_by(_EVENTS.c.id.desc()).limit(1)
_INSERT = insert(_EVENTS)
_PG_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
_PG_APPEND = text(
    "INSERT INTO audit_events (at, actor_id, on_behalf_of, action, case_id, ip, purpose, result,"
    " detail, prev_hash, hash)"
    " SELECT :at, :actor_id, :on_behalf_of, :action, :case_id, :ip, :purpose, :result,"
    " CAST(:detail AS JSONB), p.h, encode(sha256(convert_to(p.h || :body, 'UTF8')), 'hex')"
    " FROM (SELECT coalesce((SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1), :genesis) AS h) p"
)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_id: int | None = None


def _body(at: datetime, actor_id, on_behalf_of, action, case_id, ip, purpose, result, detail) -> str:
    return json.dumps([at.isoformat(), actor_id, on_behalf_of, action, case_id, ip, purpose, result,
                       detail], ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _digest(prev_hash: str, body: str) -> str:
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


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
    values = dict(at=at or utcnow(), actor_id=actor_id, on_behalf_of=on_behalf_of, action=action,
                  case_id=case_id, ip=ip, purpose=purpose, result=result, detail=detail or {})
    body = _body(**values)
    if session.get_bind().dialect.name == "postgresql":
        conn = session.connection()
        conn.execute(_PG_LOCK, {"k": _CHAIN_LOCK_KEY})
        conn.execute(_PG_APPEND, {**values, "detail": json.dumps(values["detail"], ensure_ascii=False),
                                  "body": body, "genesis": GENESIS})
        return
    conn = session.connection()
    prev = conn.execute(_LAST_HASH).scalar() or GENESIS
    conn.execute(_INSERT, {**values, "prev_hash": prev, "hash": _digest(prev, body)})


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
        for event in rows:
            body = _body(event.at, event.actor_id, event.on_behalf_of, event.action, event.case_id,
                         event.ip, event.purpose, event.result, event.detail)
            if event.prev_hash != prev or _digest(prev, body) != event.hash:
                return ChainReport(False, checked, event.id)
            prev = event.hash
            checked += 1
            last_id = event.id
