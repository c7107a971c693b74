"""Options a form leaves to the moment it is shown (``ui:choices``), e.g. the free assessment slots."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from engine.forms import Form
from engine.models import Case
from handlers import care

Provider = Callable[[Session, Case, datetime], list[tuple[str, str, str]]]

PROVIDERS: dict[str, Provider] = {
    "assessment_slots": lambda s, case, now: care.slot_choices(
        s, now, (case.fields or {}).get("district"), (case.fields or {}).get("visit_times")),
}


def resolve(form: Form, s: Session, case: Case, now: datetime) -> Form:
    """The form with every ``ui:choices`` field's current options filled in."""
    for key, name in form.choice_lists().items():
        form = form.with_choices(key, PROVIDERS[name](s, case, now))
    return form


def refresh_needed(form: Form, errors: dict) -> bool:
    """A refused choice may mean someone else just took it: show the options as they are now."""
    return any(key in errors for key in form.choice_lists())


def empty(form: Form) -> bool:
    return any(not field.options for field in form.fields() if field.key in form.choice_lists())
