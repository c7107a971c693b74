"""The weekly PDF digest each supervisor receives by mail (a singleton job of the workers).

From Monday 08:00 (Taipei) each week, every active supervisor with an e-mail
address gets one message with a zh-TW PDF: deadline compliance, the overdue
list and workload for their agency over the past week. ``scheduled_runs``
remembers who got this week's, so a restart or a second leader sends nothing twice.
"""
from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.calendar import TAIPEI
from engine.db import transaction
from engine.models import Agency, ScheduledRun, User
from reports import export, sla, tables

from .notices import mail_user

JOB = "weekly_digest"


def week_start(now: datetime) -> datetime:
    """Monday 08:00 Taipei time of the week ``now`` falls in (or the one before, early on Monday)."""
    local = now.astimezone(TAIPEI)
    monday = datetime.combine(local.date() - timedelta(days=local.weekday()), time(8, 0), TAIPEI)
    return monday if local >= monday else monday - timedelta(weeks=1)


def send_weekly_digests(sessions: sessionmaker[Session], now: datetime, settings: Mapping[str, Any]) -> int:
    """Queue this week's digest for every supervisor who has not had it; returns how many."""
    if not settings.get("mail_enabled"):
        return 0
    start = week_start(now)
    sent = 0
    with transaction(sessions) as s:
        people = s.scalars(select(User).where(User.active.is_(True), User.kind == "staff",
                                              User.agency_code.is_not(None), User.email.is_not(None))).all()
        for user in (u for u in people if "supervisor" in (u.roles or [])):
            run = s.get(ScheduledRun, (JOB, user.id))
            if run is not None and run.last_at >= start:
                continue
            _queue(s, user, now, settings)
            if run is None:
                s.add(ScheduledRun(job=JOB, key=user.id, last_at=now))
            else:
                run.last_at = now
            sent += 1
    return sent


def digest_pdf(s: Session, agency_code: str, now: datetime) -> tuple[bytes, int, str, str]:
    """(PDF, overdue count, agency name, period) of one agency's past week."""
    scope = sla.Scope(agency_code, now - timedelta(days=7), now)
    agency = s.get(Agency, agency_code)
    name = agency.name if agency else agency_code
    period = f"{scope.since.astimezone(TAIPEI):%Y-%m-%d} 至 {now.astimezone(TAIPEI):%Y-%m-%d}"
    late = sla.overdue(s, scope)
    parts = [tables.report_table(s, "sla", scope)[0], tables.overdue_table(late, now),
             tables.report_table(s, "workload", scope)[0]]
    pdf = export.to_pdf(parts, name, period, now.astimezone(TAIPEI), f"{name} 每週案件管考摘要")
    return pdf, len(late), name, period


def _queue(s: Session, user: User, now: datetime, settings: Mapping[str, Any]) -> None:
    pdf, late, agency, period = digest_pdf(s, user.agency_code, now)
    mail_user(s, user, settings, event=JOB, link="/supervise/overdue", agency=agency, period=period,
              overdue=late, attachments=[{"filename": f"digest-{now.astimezone(TAIPEI):%Y%m%d}.pdf",
                                          "content_type": "application/pdf",
                                          "data": base64.b64encode(pdf).decode()}])
