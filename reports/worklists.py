"""Inboxes and the supervisor's list of open cases, straight from indexed rows."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from engine.access import Actor, inbox_condition
from engine.models import Case, HumanTask, User


def inbox(s: Session, actor: Actor, limit: int = 200) -> list[HumanTask]:
    """Open tasks the actor holds or may claim, the most urgent first."""
    return list(s.scalars(
        select(HumanTask).where(inbox_condition(actor))
        .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at)
        .limit(limit)
    ))


def applicant_tasks(s: Session, actor: Actor) -> list[HumanTask]:
    return list(s.scalars(
        select(HumanTask).join(Case).where(
            HumanTask.status == "open", HumanTask.role == "applicant",
            or_(Case.applicant_id == actor.user_id, Case.agent_id == actor.user_id))
        .order_by(HumanTask.created_at)
    ))


@dataclass(frozen=True)
class OpenCase:
    case: Case
    tasks: list[HumanTask]
    age_days: float


def open_cases(s: Session, agency_code: str, now: datetime, limit: int = 500) -> list[OpenCase]:
    """Open cases the agency owns or works on, with their open tasks and who holds them."""
    agency_task = select(HumanTask.case_id).where(HumanTask.agency_code == agency_code)
    cases = s.scalars(
        select(Case).where(Case.status == "open",
                           or_(Case.owner_agency == agency_code, Case.id.in_(agency_task)))
        .order_by(Case.opened_at).limit(limit)
    ).all()
    tasks: dict[str, list[HumanTask]] = {c.id: [] for c in cases}
    for task in s.scalars(select(HumanTask).where(
            and_(HumanTask.case_id.in_(list(tasks)), HumanTask.status == "open"))):
        tasks[task.case_id].append(task)
    return [OpenCase(c, tasks[c.id], (now - c.opened_at).total_seconds() / 86400) for c in cases]


def assignable_users(s: Session, task: HumanTask) -> list[User]:
    """Active staff in the task's candidate group."""
    users = s.scalars(select(User).where(User.active.is_(True), User.kind == "staff",
                                         User.agency_code == task.agency_code)).all()
    return [u for u in users if task.role in (u.roles or [])]
