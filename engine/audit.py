"""Append-only, hash-chained audit trail.

Each event's hash covers its content and the previous event's hash, so deleting
or editing any row breaks the chain from that row on; ``verify_chain`` finds it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from .db import utcnow
from .models import AuditEvent

GENESIS = "0" * 64
_CHAIN_LOCK_KEY = 7_202_611  # advisory lock id that serialises appends on PostgreSQL


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_id: int | None = None


def _digest(prev_hash: str, event: AuditEvent) -> str:
    body = json.dumps(
        [
            prev_hash,
            event.at.isoformat(),
            event.actor_id,
            event.on_behalf_of,
            event.action,
            event.case_id,
            event.ip,
            event.purpose,
            event.result,
            event.detail,
        ],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


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
) -> AuditEvent:
    """Append one event inside the caller's transaction (call it last: it serialises)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK_KEY})
    prev = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    event = AuditEvent(
        at=at or utcnow(),
        actor_id=actor_id,
        on_behalf_of=on_behalf_of,
        action=action,
        case_id=case_id,
        ip=ip,
        purpose=purpose,
        result=result,
        detail=detail or {},
        prev_hash=prev or GENESIS,
    )
    event.hash = _digest(event.prev_hash, event)
    session.add(event)
    session.flush()
    return event


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
            if event.prev_hash != prev or _digest(prev, event) != event.hash:
                return ChainReport(False, checked, event.id)
            prev = event.hash
            checked += 1
            last_id = event.id
