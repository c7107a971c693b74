"""The outbox: outside calls written in the case's transaction and performed later by workers.

A command that wants something done outside (a mail sent) writes an outbox row
in its own transaction, so the call happens if and only if the command
committed. Workers lease due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
any number of workers share the work), perform them outside any transaction,
and record the result: sent; or back to pending with exponential back-off; or,
when the attempts run out, failed with an incident that an admin can retry.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from . import audit
from .db import transaction, utcnow
from .models import Incident, OutboxMessage

log = logging.getLogger(__name__)

Sender = Callable[[dict], None]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=5)

    def delay(self, attempts: int) -> timedelta:
        """30 s, 1 min, 2 min, … doubling after each failed attempt, capped."""
        return min(self.first_delay * (2 ** max(attempts - 1, 0)), self.max_delay)


def enqueue(s: Session, kind: str, payload: dict, *, case_id: str | None = None,
            run_after: datetime | None = None) -> OutboxMessage:
    """Add work to the caller's transaction; it runs only if that transaction commits."""
    message = OutboxMessage(kind=kind, payload=payload, case_id=case_id, status="pending",
                            run_after=run_after or utcnow())
    s.add(message)
    return message


def lease_due(sessions: sessionmaker[Session], now: datetime, policy: RetryPolicy,
              limit: int = 50) -> list[OutboxMessage]:
    """Take up to ``limit`` due messages for this worker until the lease runs out.

    A message whose worker died mid-send comes due again when its lease expires.
    """
    with transaction(sessions) as s:
        due = (select(OutboxMessage)
               .where(or_(OutboxMessage.status == "pending",
                          (OutboxMessage.status == "sending") & (OutboxMessage.locked_until < now)),
                      OutboxMessage.run_after <= now)
               .order_by(OutboxMessage.run_after, OutboxMessage.id).limit(limit))
        if s.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        messages = list(s.scalars(due))
        for message in messages:
            message.status = "sending"
            message.locked_until = now + policy.lease
            message.attempts += 1
        s.flush()
        s.expunge_all()
    return messages


def process_due(sessions: sessionmaker[Session], senders: Mapping[str, Sender], *,
                clock: Callable[[], datetime] = utcnow, policy: RetryPolicy = RetryPolicy(),
                limit: int = 50) -> int:
    """Perform every due message once; returns how many were sent."""
    sent = 0
    for message in lease_due(sessions, clock(), policy, limit):
        sender = senders.get(message.kind)
        try:
            if sender is None:
                raise LookupError(f"no sender for {message.kind!r}")
            sender(dict(message.payload, outbox_id=message.id))
        except Exception as exc:  # noqa: BLE001 - any failure of an outside call is retried
            _failed(sessions, message, f"{exc.__class__.__name__}: {exc}", clock(), policy)
            continue
        with transaction(sessions) as s:
            s.execute(update(OutboxMessage).where(OutboxMessage.id == message.id)
                      .values(status="sent", sent_at=clock(), locked_until=None, last_error=None))
        sent += 1
    return sent


def _failed(sessions: sessionmaker[Session], message: OutboxMessage, error: str, now: datetime,
            policy: RetryPolicy) -> None:
    # Only the kind of error: the message itself may name a recipient (kept for admins in last_error).
    log.warning("outbox %s (%s) attempt %d failed: %s", message.id, message.kind, message.attempts,
                error.split(":", 1)[0])
    with transaction(sessions) as s:
        if message.attempts < policy.max_attempts:
            s.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(
                status="pending", locked_until=None, last_error=error[:2000],
                run_after=now + policy.delay(message.attempts)))
            return
        s.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(
            status="failed", locked_until=None, last_error=error[:2000]))
        s.add(Incident(case_id=message.case_id, source="outbox", ref=str(message.id),
                       title=_title(message), error=error[:4000], opened_at=now))
        audit.append(s, "incident.open", case_id=message.case_id, result="failed",
                     detail={"source": "outbox", "ref": message.id, "kind": message.kind,
                             "attempts": message.attempts})


def _title(message: OutboxMessage) -> str:
    subject = message.payload.get("subject") if isinstance(message.payload, dict) else None
    return f"{message.kind}: {subject}" if subject else message.kind


def open_incidents(s: Session, case_id: str | None = None) -> list[Incident]:
    query = select(Incident).where(Incident.resolved_at.is_(None)).order_by(Incident.opened_at.desc())
    if case_id is not None:
        query = query.where(Incident.case_id == case_id)
    return list(s.scalars(query))


def retry(s: Session, incident_id: int, actor_id: str, now: datetime) -> Incident:
    """An admin sends the failed work again: its message is due now with fresh attempts."""
    incident = s.get(Incident, incident_id)
    if incident is None or incident.resolved_at is not None or incident.source != "outbox":
        raise LookupError("no open incident")
    s.execute(update(OutboxMessage).where(OutboxMessage.id == int(incident.ref),
                                          OutboxMessage.status == "failed")
              .values(status="pending", attempts=0, run_after=now, locked_until=None))
    incident.resolved_at = now
    incident.resolved_by = actor_id
    audit.append(s, "incident.retry", actor_id=actor_id, case_id=incident.case_id,
                 detail={"incident": incident.id, "ref": incident.ref})
    return incident
