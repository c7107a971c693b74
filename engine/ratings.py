"""Satisfaction ratings: after a case closes its applicant may rate it, once.

The form (``forms/satisfaction.json``) validates the answers, so a rating gets
the same field-level errors as any other form. The table's primary key is the
case, so two submissions racing each other cannot both land.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .access import Actor
from .errors import CaseConflict, Forbidden, InvalidInput
from .forms import Form
from .models import Case, Rating

FORM_KEY = "satisfaction"
ALREADY_RATED = "this case has already been rated"
NOT_CLOSED = "a case can be rated once it is closed"


def can_rate(case: Case, actor: Actor) -> bool:
    """Only the applicant themselves (not an agent) rates, and only a closed case."""
    return case.status == "closed" and case.applicant_id == actor.user_id


def find(s: Session, case_id: str) -> Rating | None:
    return s.get(Rating, case_id)


def rate(s: Session, actor: Actor, case: Case, form: Form, answers: dict, *, now: datetime,
         locale: str = "zh_TW") -> Rating:
    """Record the applicant's rating; the caller commits.

    Raises Forbidden for anyone but the applicant, InvalidInput (by field) for a
    bad score or comment, CaseConflict if the case is open or already rated.
    """
    if case.applicant_id != actor.user_id:
        raise Forbidden("only the applicant rates a case")
    if case.status != "closed":
        raise CaseConflict(NOT_CLOSED)
    errors = form.validate(answers, locale)
    if errors:
        raise InvalidInput("invalid rating", errors)
    if find(s, case.id) is not None:
        raise CaseConflict(ALREADY_RATED)
    rating = Rating(case_id=case.id, user_id=actor.user_id, score=answers["score"],
                    comment=(answers.get("comment") or "").strip(), rated_at=now)
    s.add(rating)
    try:
        s.flush()
    except IntegrityError as exc:
        raise CaseConflict(ALREADY_RATED) from exc
    return rating

