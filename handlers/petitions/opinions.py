"""Opinions on cases, registered with 1999 as petitions, and their replies brought back.

An opinion is stored with the citizen's request and queued in the outbox in the
same transaction, so it is never lost: when 1999 is down the outbox tries again
with back-off (and opens an incident when it gives up), and because every try
carries the opinion's id as its idempotency key, 1999 registers it once. The
petition is built when it is sent, from the rows, so no personal data waits in
the outbox. Replies come back by polling ``updated_since`` in the worker that
holds the singleton lock.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import outbox
from engine.access import Actor
from engine.db import transaction, utcnow
from engine.errors import N_, Forbidden, InvalidInput
from engine.models import Case, Opinion, ScheduledRun, User

from ..notices import notify_user
from .client import Client1999, Petition, Petitioner, PetitionStatus, Settings1999

log = logging.getLogger(__name__)

TEXT_MAX = 2000
POLL_JOB = "petition_poll"
POLL_OVERLAP = timedelta(minutes=2)   # 1999 times are to the second; re-reading a little is harmless
POLL_EVERY = timedelta(minutes=1)     # replies are not urgent; sweeps may run every few seconds
#: 1999's category (service_code) for each service category of the catalog.
CATEGORIES = {"交通": "traffic", "社會福利": "welfare", "長期照顧": "care"}


def may_give(case: Case, actor: Actor) -> bool:
    """The applicant or their agent; staff answer opinions, they do not file them."""
    return actor.user_id in (case.applicant_id, case.agent_id)


def give(s: Session, actor: Actor, case: Case, text: str, confidential: bool, *, category: str,
         now: datetime) -> Opinion:
    """Store the opinion and queue its registration with 1999; the caller commits."""
    if not may_give(case, actor):
        raise Forbidden("only the applicant or their agent gives an opinion on a case")
    text = (text or "").strip()
    if not text:
        raise InvalidInput("invalid opinion", {"text": [N_("請填寫意見內容。")]})
    if len(text) > TEXT_MAX:
        raise InvalidInput("invalid opinion", {"text": [N_("意見內容最多 2000 字。")]})
    opinion = Opinion(case_id=case.id, user_id=actor.user_id, text=text, confidential=confidential,
                      category=CATEGORIES.get(category, "other"), agency_code=case.owner_agency,
                      status="queued", created_at=now, updated_at=now)
    s.add(opinion)
    s.flush()
    outbox.enqueue(s, "petition", {"opinion_id": opinion.id}, case_id=case.id)
    return opinion


def for_case(s: Session, case_id: str) -> list[Opinion]:
    return list(s.scalars(select(Opinion).where(Opinion.case_id == case_id).order_by(Opinion.created_at)))


def sender(sessions: sessionmaker[Session], settings: Settings1999):
    """The outbox sender for ``petition`` messages: register the opinion, record 1999's answer."""
    def send(payload: dict) -> None:
        with transaction(sessions) as s:
            opinion = s.get(Opinion, payload["opinion_id"])
            if opinion is None or opinion.request_id is not None:
                return
            petition = _petition(s, opinion)
        with Client1999(settings) as client:
            receipt = client.submit(petition, idempotency_key=f"onestop-opinion-{opinion.id}")
        with transaction(sessions) as s:
            _apply(s.get(Opinion, opinion.id), receipt, utcnow())
    return send


def _petition(s: Session, opinion: Opinion) -> Petition:
    case = s.get(Case, opinion.case_id)
    user = s.get(User, opinion.user_id)
    return Petition(
        service_code=opinion.category, agency_responsible=opinion.agency_code, description=opinion.text,
        external_id=case.number,
        petitioner=Petitioner(user.display_name, email=user.email, phone=user.phone,
                              confidential=opinion.confidential))


def _apply(opinion: Opinion, status: PetitionStatus, now: datetime) -> bool:
    """Copy 1999's view onto the opinion; True if the reply is new."""
    fresh_reply = bool(status.status_notes) and status.status_notes != opinion.reply
    opinion.request_id = status.service_request_id
    opinion.status = status.status
    opinion.expected_at = status.expected_datetime or opinion.expected_at
    opinion.reply = status.status_notes or opinion.reply
    opinion.updated_at = now
    return fresh_reply


def poll(sessions: sessionmaker[Session], settings: Settings1999, now: datetime,
         notice_settings: Mapping[str, Any]) -> int:
    """Bring back what changed in 1999 since the last poll; returns how many opinions changed.

    The applicant hears of each new reply. A failure leaves the last poll time
    alone, so the next sweep reads the same window again.
    """
    with transaction(sessions) as s:
        last = s.get(ScheduledRun, (POLL_JOB, "all"))
        if last is not None and now - last.last_at < POLL_EVERY:
            return 0
        since = (last.last_at - POLL_OVERLAP) if last else now - timedelta(days=30)
    with Client1999(settings) as client:
        changes = client.updated_since(since)
    changed = 0
    with transaction(sessions) as s:
        for status in changes:
            opinion = s.scalar(select(Opinion).where(Opinion.request_id == status.service_request_id))
            if opinion is None or (opinion.status, opinion.reply) == (status.status, status.status_notes):
                continue
            changed += 1
            if _apply(opinion, status, now):
                case = s.get(Case, opinion.case_id)
                notify_user(s, s.get(User, opinion.user_id), f"{case.number}：您反映的意見已有回覆。",
                            f"/my/cases/{case.id}#opinions", notice_settings, event="petition_reply",
                            case_id=case.id, number=case.number, reply=opinion.reply)
        run = s.get(ScheduledRun, (POLL_JOB, "all"))
        if run is None:
            s.add(ScheduledRun(job=POLL_JOB, key="all", last_at=now))
        else:
            run.last_at = now
    return changed
