"""What a case page shows: the timeline of stages and the opinions given so far.

Built from audit events and human-task rows, never from workflow state, so a
case page costs a few indexed queries.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import Agency, AuditEvent, Case, HumanTask, MyDataRecord, MyDataTransaction, User

TIMELINE_ACTIONS = ("case.start", "task.claim", "task.reassign", "task.complete", "case.cancel")


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    action: str
    task_name: str | None
    decision: str | None
    agency: str | None
    person: str | None
    note: str | None


@dataclass(frozen=True)
class Opinion:
    task_id: str
    task_name: str
    agency: str | None
    status: str
    person: str | None
    completed_at: datetime | None
    decision: str | None
    comment: str | None


@dataclass(frozen=True)
class CurrentStage:
    """A stage the case waits in now: who holds it, since when, due by."""

    name: str
    agency: str | None
    since: datetime
    due_at: datetime | None
    yours: bool          # waiting on the applicant


def current_stages(s: Session, case: Case) -> list[CurrentStage]:
    """The case's open tasks, one line per stage and agency (co-signing agencies each get theirs)."""
    tasks = s.scalars(select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.status == "open")
                      .order_by(HumanTask.created_at, HumanTask.id)).all()
    agencies = _agency_names(s)
    seen, out = set(), []
    for task in tasks:
        key = (task.name, task.agency_code)
        if key in seen:
            continue
        seen.add(key)
        out.append(CurrentStage(task.name, agencies.get(task.agency_code or ""), task.created_at, task.due_at,
                                task.role == "applicant"))
    return out


def _agency_names(s: Session) -> dict[str, str]:
    return dict(s.execute(select(Agency.code, Agency.name)).all())


def timeline(s: Session, case: Case) -> list[TimelineEntry]:
    events = s.scalars(
        select(AuditEvent)
        .where(AuditEvent.case_id == case.id, AuditEvent.action.in_(TIMELINE_ACTIONS),
               AuditEvent.result == "ok")
        .order_by(AuditEvent.id)
    ).all()
    tasks = {t.id: t for t in s.scalars(select(HumanTask).where(HumanTask.case_id == case.id))}
    people = {u.id: u for u in s.scalars(
        select(User).where(User.id.in_({e.actor_id for e in events if e.actor_id})))}
    agencies = _agency_names(s)
    entries = []
    for event in events:
        task = tasks.get(event.detail.get("task_id", ""))
        person = people.get(event.actor_id or "")
        staff = person is not None and person.kind == "staff"
        decision = event.detail.get("decision")
        entries.append(TimelineEntry(
            at=event.at,
            kind=event.action.split(".")[1],
            action=event.action,
            task_name=task.name if task else None,
            decision=decision,
            agency=agencies.get(person.agency_code) if staff and person.agency_code else None,
            person=person.display_name if person else None,
            note=_note(task, decision) if task and event.action == "task.complete" else None,
        ))
    return entries


def _note(task: HumanTask, decision: str | None) -> str | None:
    """What the person wrote beside their decision; the decision itself is shown as a word already.

    ``opinion`` is free text on some forms and the decision's code on others (會辦: agree/object).
    """
    result = task.result or {}
    for key in ("correction_note", "reason", "comment", "opinion", "return_reason", "reasons"):
        if result.get(key) and result[key] != decision:
            return str(result[key])
    return None


def opinions(s: Session, case: Case, exclude_task_id: str | None = None) -> list[Opinion]:
    """Every staff task of the case, with its state and the decision or opinion given."""
    agencies = _agency_names(s)
    rows = s.scalars(
        select(HumanTask)
        .where(HumanTask.case_id == case.id, HumanTask.role != "applicant",
               HumanTask.status != "cancelled")
        .order_by(HumanTask.completed_at.is_(None), HumanTask.completed_at, HumanTask.created_at)
    ).all()
    people = {u.id: u.display_name for u in s.scalars(
        select(User).where(User.id.in_({r.completed_by or r.assignee_id for r in rows} - {None})))}
    result = []
    for row in rows:
        if row.id == exclude_task_id:
            continue
        data = row.result or {}
        result.append(Opinion(
            task_id=row.id,
            task_name=row.name,
            agency=agencies.get(row.agency_code or "", row.agency_code),
            status=row.status,
            person=people.get(row.completed_by or row.assignee_id or ""),
            completed_at=row.completed_at,
            decision=data.get("decision") or data.get("opinion"),
            comment=(data.get("comment") or data.get("reason") or data.get("correction_note")
                     or data.get("opinion") or data.get("return_reason") or data.get("reasons")),
        ))
    return result


def open_applicant_tasks(s: Session, case: Case) -> list[HumanTask]:
    return list(s.scalars(select(HumanTask).where(
        HumanTask.case_id == case.id, HumanTask.role == "applicant", HumanTask.status == "open")))


def mydata_records(s: Session, case: Case) -> list[tuple[MyDataRecord, MyDataTransaction]]:
    """Every dataset MyData delivered for the case, newest transfer first."""
    return list(s.execute(
        select(MyDataRecord, MyDataTransaction)
        .join(MyDataTransaction, MyDataTransaction.tx_id == MyDataRecord.tx_id)
        .where(MyDataTransaction.case_id == case.id)
        .order_by(MyDataTransaction.created_at.desc(), MyDataRecord.id)
    ).all())


def diagram_state(s: Session, case: Case) -> dict[str, list[str]]:
    """The BPMN element ids to mark on the case's diagram, from its human-task rows.

    ``current`` holds the user tasks open now (several during co-signing, once each),
    ``done`` those completed at least once and not open again.
    """
    rows = s.execute(
        select(HumanTask.spec_name, HumanTask.status)
        .where(HumanTask.case_id == case.id, HumanTask.status.in_(("open", "completed")))
        .order_by(HumanTask.created_at, HumanTask.id)
    ).all()
    current = list(dict.fromkeys(name for name, status in rows if status == "open"))
    done = list(dict.fromkeys(name for name, status in rows if status == "completed" and name not in current))
    return {"current": current, "done": done}
