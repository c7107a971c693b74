"""Asking the applicant how we did, once, when their case closes."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from engine.cases import CaseRef
from engine.models import User

from .notices import notify_user


def ask(s: Session, case: CaseRef, settings: Mapping[str, Any]) -> None:
    """The engine's ``on_closed`` listener: a notice (and mail) inviting the applicant to rate the case."""
    applicant = s.get(User, case.applicant_id)
    if applicant is None:
        return
    notify_user(s, applicant, f"{case.number}：案件已結案，歡迎為本次服務評分。",
                f"/my/cases/{case.id}#rating", settings, event="satisfaction_survey",
                case_id=case.id, number=case.number)
