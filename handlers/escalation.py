"""Deadlines the diagrams set on tasks: remind the holder before, tell the supervisors after.

A user task's properties say how: ``dueDays`` (business days) gives its due date,
``remindHours`` how long before it the holder is reminded (or, while nobody
holds it, everyone in its group), and ``escalate="supervisor"`` that the
supervisors of its agency hear when it is overdue, once. Rows are claimed with
``FOR UPDATE SKIP LOCKED`` so any number of workers can run this.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.calendar import taipei_minutes
from engine.db import transaction
from engine.models import Case, HumanTask, User
from reports.worklists import assignable_users

from .notices import notify_user


def _claim(s: Session, query):
    if s.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=HumanTask)
    return s.execute(query).all()


def remind_due_soon(sessions: sessionmaker[Session], now: datetime, settings: Mapping[str, Any],
                    limit: int = 200) -> int:
    with transaction(sessions) as s:
        rows = _claim(s, select(HumanTask, Case.number).join(Case, Case.id == HumanTask.case_id).where(
            HumanTask.status == "open", HumanTask.remind_at <= now, HumanTask.reminded_at.is_(None))
            .order_by(HumanTask.remind_at).limit(limit))
        for task, number in rows:
            for user in holder_or_group(s, task):
                notify_user(s, user, f"{number}「{task.name}」將於 {taipei_minutes(task.due_at)} 到期，請儘速辦理。",
                            f"/work/tasks/{task.id}", settings, event="task_due_soon", case_id=task.case_id,
                            number=number, task=task.name, due=taipei_minutes(task.due_at))
            task.reminded_at = now
    return len(rows)


def escalate_overdue(sessions: sessionmaker[Session], now: datetime, settings: Mapping[str, Any],
                     limit: int = 200) -> int:
    with transaction(sessions) as s:
        rows = _claim(s, select(HumanTask, Case.number, Case.owner_agency)
                      .join(Case, Case.id == HumanTask.case_id).where(
            HumanTask.status == "open", HumanTask.due_at < now, HumanTask.escalated_at.is_(None),
            HumanTask.role != "applicant").order_by(HumanTask.due_at).limit(limit))
        told = 0
        for task, number, owner in rows:
            task.escalated_at = now
            if (task.context or {}).get("escalate") != "supervisor":
                continue
            holder = s.get(User, task.assignee_id) if task.assignee_id else None
            for user in supervisors(s, task.agency_code or owner):
                notify_user(s, user, f"{number}「{task.name}」已逾期（期限 {taipei_minutes(task.due_at)}），"
                            f"目前{'由 ' + holder.display_name + ' 處理' if holder else '無人領取'}。",
                            "/supervise/cases", settings, event="task_overdue", case_id=task.case_id,
                            number=number, task=task.name, due=taipei_minutes(task.due_at),
                            holder=holder.display_name if holder else None)
            told += 1
    return told


def supervisors(s: Session, agency_code: str | None) -> list[User]:
    if not agency_code:
        return []
    users = s.scalars(select(User).where(User.active.is_(True), User.kind == "staff",
                                         User.agency_code == agency_code)).all()
    return [u for u in users if "supervisor" in (u.roles or [])]


def holder_or_group(s: Session, task: HumanTask) -> list[User]:
    """Whoever holds the task, or, while nobody does, everyone who may claim it."""
    return [u for u in [s.get(User, task.assignee_id)] if u] if task.assignee_id else assignable_users(s, task)


def chase(s: Session, task: HumanTask, number: str, settings: Mapping[str, Any]) -> int:
    """A supervisor's 稽催: remind whoever holds the task (or its group) now; returns how many were told."""
    told = 0
    for user in holder_or_group(s, task):
        notify_user(s, user, f"稽催：{number}「{task.name}」已逾期（期限 {taipei_minutes(task.due_at)}），請儘速辦理。",
                    f"/work/tasks/{task.id}", settings, event="task_chase", case_id=task.case_id,
                    number=number, task=task.name, due=taipei_minutes(task.due_at))
        told += 1
    return told
