"""Who may see and act on a case.

A case that an actor may not see is reported exactly like one that does not
exist, so its existence does not leak; the attempt is audited by the caller.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true

from .models import Case, HumanTask, User

@dataclass(frozen=True)
class Actor:
    """The person or system acting, with what the request knows about them."""

    user_id: str
    kind: str  # citizen, staff, system
    roles: frozenset[str] = field(default_factory=frozenset)
    agency_code: str | None = None
    ip: str | None = None
    display_name: str = ""

    @classmethod
    def from_user(cls, user: User, ip: str | None = None) -> "Actor":
        return cls(
            user_id=user.id,
            kind=user.kind,
            roles=frozenset(user.roles or ()),
            agency_code=user.agency_code,
            ip=ip,
            display_name=user.display_name,
        )

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    def has_role(self, role: str) -> bool:
        return role in self.roles


def case_visibility(actor: Actor) -> ColumnElement[bool]:
    """A SQL condition on ``Case`` that is true for the cases ``actor`` may see."""
    if actor.is_admin:
        return true()
    if actor.kind == "citizen":
        return or_(Case.applicant_id == actor.user_id, Case.agent_id == actor.user_id)
    if actor.kind == "staff" and actor.agency_code:
        agency_task = exists(
            select(HumanTask.id).where(
                HumanTask.case_id == Case.id,
                or_(HumanTask.agency_code == actor.agency_code, HumanTask.assignee_id == actor.user_id),
            )
        )
        # staff may also be the applicant themselves (a referral a clerk opened)
        return or_(Case.owner_agency == actor.agency_code, agency_task, Case.applicant_id == actor.user_id)
    return false()


def may_work(actor: Actor, role: str, agency_code: str | None,
             applicants: tuple[str | None, ...]) -> bool:
    """Whether ``actor`` belongs to a task's candidate group.

    Applicant tasks belong to the case's applicant and agent (``applicants``);
    staff tasks to holders of ``role`` in ``agency_code``.
    """
    if role == "applicant":
        return actor.user_id in applicants
    if not actor.has_role(role):
        return False
    return agency_code is None or agency_code == actor.agency_code


def may_supervise(actor: Actor, agency_code: str | None, owner_agency: str) -> bool:
    if actor.is_admin:
        return True
    return actor.has_role("supervisor") and actor.agency_code in {agency_code, owner_agency}


def inbox_condition(actor: Actor) -> ColumnElement[bool]:
    """Open tasks the actor may claim or already holds."""
    role_match = and_(
        HumanTask.role.in_(sorted(actor.roles)) if actor.roles else false(),
        or_(HumanTask.agency_code.is_(None), HumanTask.agency_code == actor.agency_code),
        HumanTask.role != "applicant",
    )
    return and_(HumanTask.status == "open", or_(HumanTask.assignee_id == actor.user_id, role_match))
