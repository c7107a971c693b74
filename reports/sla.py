"""Supervisors' reports: SLA compliance, the overdue list, workload, cycle times.

Every figure comes from the indexed derived rows (``cases``, ``human_tasks`` and
the tallies of finished ones, ``engine.tallies``), never from workflow state. A case's ``due_at`` already carries the pauses for
corrections, so "on time" here means on time with those pauses taken out.
An agency's scope is the cases it owns and the tasks it works.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, literal, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from engine.calendar import TAIPEI
from engine.models import Case, CaseTally, HumanTask, Service, TaskTally, User

STAFF = HumanTask.role != "applicant"


@dataclass(frozen=True)
class Scope:
    """Whose figures: one agency's (a supervisor's) or, with ``agency`` None, the city's."""

    agency: str | None
    since: datetime
    now: datetime

    def cases(self):
        """Cases the agency owns or works on.

        One ``IN`` over a ``UNION ALL`` rather than ``owner = … OR id IN (…)``:
        PostgreSQL turns the former into a hash semi-join (duplicates cost nothing
        there, so no sort to remove them), while the OR form re-scans the subquery
        per case once its result no longer fits in work_mem.
        """
        if self.agency is None:
            return True
        owned = select(Case.id).where(Case.owner_agency == self.agency)
        worked = select(HumanTask.case_id).where(HumanTask.agency_code == self.agency)
        return Case.id.in_(union_all(owned, worked))

    def open_cases(self):
        """Open cases the agency owns or works on: few, so a per-case EXISTS is cheap."""
        if self.agency is None:
            return True
        worked = select(HumanTask.id).where(HumanTask.case_id == Case.id,
                                            HumanTask.agency_code == self.agency).exists()
        return or_(Case.owner_agency == self.agency, worked)

    @property
    def since_day(self) -> date:
        """The Taipei day the period starts on; tallies count whole days."""
        return self.since.astimezone(TAIPEI).date()

    def case_tallies(self):
        """Tally rows in scope: the agency's own, or for the city each case's owner row only."""
        return CaseTally.owner.is_(True) if self.agency is None else CaseTally.agency_code == self.agency

    def task_tallies(self):
        return True if self.agency is None else TaskTally.agency_code == self.agency

    def tasks(self):
        return True if self.agency is None else HumanTask.agency_code == self.agency


def month_of(s: Session, column):
    """The Taipei calendar month of a timestamp, as YYYY-MM, in the database's own dialect."""
    if s.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("Asia/Taipei", column), "YYYY-MM")
    return func.strftime("%Y-%m", column, "+8 hours")


# -- SLA compliance ---------------------------------------------------------------------------------

@dataclass
class Compliance:
    service: str
    month: str
    on_time: int = 0
    late: int = 0
    open_overdue: int = 0
    open_in_time: int = 0

    @property
    def closed(self) -> int:
        return self.on_time + self.late

    @property
    def rate(self) -> float | None:
        """Share of the finished cases finished on time."""
        return self.on_time / self.closed if self.closed else None


def compliance(s: Session, scope: Scope) -> list[Compliance]:
    """Cases opened in the period by service and month: on time, late, open and overdue, open.

    Finished cases come from ``case_tallies``; only the open ones are read live.
    """
    narrow = scope.case_tallies()
    finished = s.execute(
        select(Service.name, CaseTally.opened_on, CaseTally.outcome, func.sum(CaseTally.n))
        .join(Service, Service.key == CaseTally.service_key)
        .where(narrow, CaseTally.opened_on >= scope.since_day)
        .group_by(Service.name, CaseTally.opened_on, CaseTally.outcome)).all()
    rows = [(name, day.strftime("%Y-%m"), outcome, int(n)) for name, day, outcome, n in finished]
    month = month_of(s, Case.opened_at)
    state = case((Case.due_at < scope.now, "open_overdue"), else_="open_in_time")
    rows += s.execute(
        select(Service.name, month.label("month"), state.label("state"), func.count())
        .join(Service, Service.key == Case.service_key)
        .where(Case.status == "open", Case.opened_at >= scope.since, scope.open_cases())
        .group_by(Service.name, month, state)).all()
    return sorted(_tally(rows, Compliance), key=lambda c: (c.service, c.month))


@dataclass
class StageCompliance:
    service: str
    stage: str
    on_time: int = 0
    late: int = 0
    open_overdue: int = 0


def stage_compliance(s: Session, scope: Scope) -> list[StageCompliance]:
    """Staff tasks by service and stage, against the deadlines their diagrams set.

    Completed tasks come from ``task_tallies``; the open overdue ones are read live.
    """
    narrow = scope.task_tallies()
    rows = s.execute(
        select(Service.name, TaskTally.stage, TaskTally.outcome, func.sum(TaskTally.n))
        .join(Service, Service.key == TaskTally.service_key)
        .where(narrow, TaskTally.created_on >= scope.since_day)
        .group_by(Service.name, TaskTally.stage, TaskTally.outcome)).all()
    rows = [(name, stage, outcome, int(n)) for name, stage, outcome, n in rows]
    rows += s.execute(
        select(Service.name, HumanTask.name, literal("open_overdue"), func.count())
        .join(Case, Case.id == HumanTask.case_id).join(Service, Service.key == Case.service_key)
        .where(scope.tasks(), STAFF, HumanTask.status == "open", HumanTask.due_at < scope.now,
               HumanTask.created_at >= scope.since)
        .group_by(Service.name, HumanTask.name)).all()
    return sorted(_tally(rows, StageCompliance), key=lambda c: (c.service, c.stage))


def _tally(rows, make):
    """Rows of (group, group, state, count) folded into one record per group, counts under their state."""
    table: dict = {}
    for first, second, kind, n in rows:
        record = table.setdefault((first, second), make(first, second))
        if kind != "other":
            setattr(record, kind, getattr(record, kind) + n)
    return list(table.values())


# -- the overdue list (稽催報表) -------------------------------------------------------------------

@dataclass(frozen=True)
class Overdue:
    task_id: str
    case_id: str
    number: str
    service: str
    stage: str
    holder: str | None
    since: datetime
    due_at: datetime
    revision: int

    def late_days(self, now: datetime) -> float:
        return (now - self.due_at).total_seconds() / 86400


def overdue(s: Session, scope: Scope, limit: int = 500) -> list[Overdue]:
    """Every open staff task past its deadline, the latest first."""
    holder = aliased(User)
    rows = s.execute(
        select(HumanTask.id, Case.id, Case.number, Service.name, HumanTask.name, holder.display_name,
               func.coalesce(HumanTask.claimed_at, HumanTask.created_at), HumanTask.due_at, Case.revision)
        .join(Case, Case.id == HumanTask.case_id).join(Service, Service.key == Case.service_key)
        .outerjoin(holder, holder.id == HumanTask.assignee_id)
        .where(scope.tasks(), STAFF, HumanTask.status == "open", HumanTask.due_at < scope.now)
        .order_by(HumanTask.due_at).limit(limit)).all()
    return [Overdue(*row) for row in rows]


# -- workload ---------------------------------------------------------------------------------------

@dataclass
class Workload:
    who: str
    held: int = 0
    held_overdue: int = 0
    done: int = 0


def workload(s: Session, scope: Scope) -> tuple[list[Workload], list[tuple[str, int]]]:
    """Per clerk: tasks held, of them overdue, done in the period; per group: tasks nobody holds."""
    people: dict[str, Workload] = {}
    held = s.execute(
        select(User.display_name, func.count(), func.sum(case((HumanTask.due_at < scope.now, 1), else_=0)))
        .select_from(HumanTask).join(User, User.id == HumanTask.assignee_id)
        .where(scope.tasks(), STAFF, HumanTask.status == "open").group_by(User.display_name)).all()
    for name, n, late in held:
        people[name] = Workload(name, n, int(late or 0))
    done = s.execute(
        select(User.display_name, func.count()).select_from(HumanTask)
        .join(User, User.id == HumanTask.completed_by)
        .where(scope.tasks(), STAFF, HumanTask.status == "completed", HumanTask.completed_at >= scope.since)
        .group_by(User.display_name)).all()
    for name, n in done:
        people.setdefault(name, Workload(name)).done = n
    pool = s.execute(
        select(HumanTask.name, func.count())
        .where(scope.tasks(), STAFF, HumanTask.status == "open", HumanTask.assignee_id.is_(None))
        .group_by(HumanTask.name).order_by(func.count().desc())).all()
    return sorted(people.values(), key=lambda w: (-w.held, w.who)), [(stage, n) for stage, n in pool]


# -- cycle times ------------------------------------------------------------------------------------

@dataclass
class CycleTime:
    service: str
    stage: str | None        # None: the whole case
    count: int
    median_days: float
    p90_days: float


def cycle_times(s: Session, scope: Scope) -> list[CycleTime]:
    """Median and 90th percentile, in days, of the period's finished cases per service and of each stage.

    From the tallies' duration buckets: exact to the hour up to three days,
    to six hours up to thirty, to the day beyond.
    """
    narrow = scope.case_tallies()
    whole = s.execute(
        select(Service.name, literal(None), CaseTally.hours, func.sum(CaseTally.n))
        .join(Service, Service.key == CaseTally.service_key)
        .where(narrow, CaseTally.opened_on >= scope.since_day)
        .group_by(Service.name, CaseTally.hours)).all()
    stages = s.execute(
        select(Service.name, TaskTally.stage, TaskTally.hours, func.sum(TaskTally.n))
        .join(Service, Service.key == TaskTally.service_key)
        .where(scope.task_tallies(),
               TaskTally.created_on >= scope.since_day)
        .group_by(Service.name, TaskTally.stage, TaskTally.hours)).all()
    histograms: dict[tuple[str, str | None], dict[int, int]] = defaultdict(dict)
    for service, stage, hours, n in [*whole, *stages]:
        histograms[(service, stage)][hours] = int(n)
    out = [CycleTime(service, stage, sum(h.values()), quantile(h, 0.5) / 24, quantile(h, 0.9) / 24)
           for (service, stage), h in histograms.items()]
    return sorted(out, key=lambda c: (c.service, c.stage is not None, c.stage or ""))


def quantile(histogram: dict[int, int], p: float) -> float:
    """The ``p`` quantile of the values the histogram counts, interpolated between closest ranks
    as PostgreSQL's percentile_cont does."""
    values = sorted(histogram.items())
    rank = p * (sum(histogram.values()) - 1)
    low = int(rank)

    def at(index: int) -> int:
        seen = 0
        for value, n in values:
            seen += n
            if index < seen:
                return value
        return values[-1][0]

    below = at(low)
    return below + (at(low + 1) - below) * (rank - low)
