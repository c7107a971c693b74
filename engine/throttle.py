"""Sign-in throttling, read from the audit trail's failed attempts.

Every sign-in attempt is already an audit event (``auth.sign_in``; result
``ok``, ``failed`` or ``throttled``) with the address it came from, so the
trail is the record of recent failures and nothing else needs keeping. Partial
indexes over the failed attempts alone keep the lookups cheap without adding
to any other append. An attempt refused here is recorded as ``throttled`` and
does not count as a failure, so a wait ends when it says it will.

Three sliding windows apply:

* one name from one address, against guessing a password. It counts the name
  typed (as a keyed hash), account or not, so that being refused does not tell
  which accounts exist;
* one address, any name, against trying many names;
* one account, any address, against a guess spread over many addresses.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import FAILED_SIGN_IN, AuditEvent

SIGN_IN = "auth.sign_in"
FAILED = "failed"
THROTTLED = "throttled"


@dataclass(frozen=True)
class SignInLimits:
    """At most this many failed sign-ins within ``window``."""

    window: timedelta = timedelta(minutes=15)
    name_and_address: int = 5
    address: int = 20
    account: int = 50


def name_tag(username: str, pepper: bytes) -> str:
    """A keyed hash of the name typed at sign-in: failures per name are counted without storing it."""
    return hmac.new(pepper, username.strip().casefold().encode(), hashlib.sha256).hexdigest()[:32]


def failure_detail(tag: str) -> dict:
    """The audit detail of a failed sign-in, which ``sign_in_wait`` reads back."""
    return {"name": tag}


def sign_in_wait(s: Session, *, tag: str, user_id: str | None, ip: str | None, now: datetime,
                 limits: SignInLimits = SignInLimits()) -> timedelta:
    """How long before this address may try this name again; zero when it may try now."""
    failed = (FAILED_SIGN_IN, AuditEvent.at > now - limits.window)  # the partial indexes' own predicate
    waits = []
    if ip:
        rows = s.execute(select(AuditEvent.at, AuditEvent.detail).where(*failed, AuditEvent.ip == ip)).all()
        waits.append(_wait([r.at for r in rows], limits.address, limits.window, now))
        waits.append(_wait([r.at for r in rows if (r.detail or {}).get("name") == tag],
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
