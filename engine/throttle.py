"""Limits on how often one client may try: failed sign-ins, and requests to public endpoints.

Both are sliding windows kept in the database, so that every web process
counts alike.

**Sign-in.** Every sign-in attempt is already an audit event (``auth.sign_in``;
result ``ok``, ``failed`` or ``throttled``) with the address it came from, so
the trail is the record of recent failures and nothing else needs keeping.
Partial indexes over the failed attempts alone keep the lookups cheap without
adding to any other append. An attempt refused here is recorded as
``throttled`` and does not count as a failure, so a wait ends when it says it
will. Three windows apply:

* one name from one address, against guessing a password. It counts the name
  typed (as a keyed hash), account or not, so that being refused does not tell
  which accounts exist;
* one address, any name, against trying many names. Mobile networks put many
  people behind one address, so this limit is the loosest per address;
* one account, any address, against a guess spread over many addresses.

**Requests.** Each request a limit allows is a ``request_hits`` row, named by
a keyed hash of the client's address; a client's rows older than the window
go when it next comes, and ``forget_requests`` clears those of clients that
did not.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .models import FAILED_SIGN_IN, AuditEvent, RequestHit

SIGN_IN = "auth.sign_in"
FAILED = "failed"
THROTTLED = "throttled"


@dataclass(frozen=True)
class SignInLimits:
    """At most this many failed sign-ins within ``window``."""

    window: timedelta = timedelta(minutes=15)
    name_and_address: int = 5
    address: int = 100
    account: int = 50


def tag(value: str, pepper: bytes) -> str:
    """A keyed hash of a name typed or a client address, so that it is counted without being stored."""
    return hmac.new(pepper, value.strip().casefold().encode(), hashlib.sha256).hexdigest()[:32]


def failure_detail(name: str) -> dict:
    """The audit detail of a failed sign-in under the name tagged ``name``, which ``sign_in_wait`` reads back."""
    return {"name": name}


def sign_in_wait(s: Session, *, name: str, user_id: str | None, ip: str | None, now: datetime,
                 limits: SignInLimits = SignInLimits()) -> timedelta:
    """How long before this address may try the name tagged ``name`` again; zero when it may try now."""
    failed = (FAILED_SIGN_IN, AuditEvent.at > now - limits.window)  # the partial indexes' own predicate
    waits = []
    if ip:
        rows = s.execute(select(AuditEvent.at, AuditEvent.detail).where(*failed, AuditEvent.ip == ip)).all()
        waits.append(_wait([r.at for r in rows], limits.address, limits.window, now))
        waits.append(_wait([r.at for r in rows if (r.detail or {}).get("name") == name],
                           limits.name_and_address, limits.window, now))
    if user_id:
        times = s.scalars(select(AuditEvent.at).where(*failed, AuditEvent.actor_id == user_id)).all()
        waits.append(_wait(times, limits.account, limits.window, now))
    return max(waits, default=timedelta(0))


def _wait(failures: Sequence[datetime], limit: int, window: timedelta, now: datetime) -> timedelta:
    """Until enough of the oldest failures leave the window for one more attempt to fit."""
    if len(failures) < limit:
        return timedelta(0)
    ordered = sorted(failures)
    return max(timedelta(0), ordered[len(ordered) - limit] + window - now)


def request_wait(s: Session, *, scope: str, subject: str, limit: int, window: timedelta,
                 now: datetime) -> timedelta:
    """Count one request of ``subject`` if ``limit`` allows it in ``window``; else how long until it would."""
    if s.get_bind().dialect.name == "postgresql":  # on SQLite the write transaction already serialises
        s.execute(select(func.pg_advisory_xact_lock(func.hashtext(scope), func.hashtext(subject))))
    mine = (RequestHit.scope == scope, RequestHit.subject == subject)
    s.execute(delete(RequestHit).where(*mine, RequestHit.at <= now - window))
    wait = _wait(s.scalars(select(RequestHit.at).where(*mine)).all(), limit, window, now)
    if not wait:
        s.add(RequestHit(scope=scope, subject=subject, at=now))
    return wait


def forget_requests(s: Session, before: datetime) -> int:
    """Delete the counted requests older than ``before``, of clients that did not come back."""
    return s.execute(delete(RequestHit).where(RequestHit.at < before)).rowcount
