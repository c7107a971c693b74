"""Open data (去識別化統計): applications, processing times and satisfaction, with small counts withheld.

Only codes and counts leave the database: a service key, a Taipei month, one
of the city's districts (anything else a case holds under ``district`` is
dropped), an outcome code. Nothing is read that could name or locate a person.

Counts are protected as a whole, not one table at a time. Each figure is
computed once at the finest grouping, every coarser grouping is summed from
it (``protect``), and a cell is withheld in every grouping the same way:

* primary suppression: a cell counting fewer than ``k`` is withheld;
* complementary suppression: a coarser cell is the sum of a line of finer
  cells, so in every such relation (coarse cell = its line) either nothing
  is withheld, or at least two members are, and when the coarse cell is
  shown, the withheld line cells add up to at least ``k``. Otherwise the
  next smallest cell of the line is withheld too, until every relation holds.

Whichever grouping a client asks for, and whatever it subtracts from
whatever other grouping, a withheld count is not one subtraction away.
Only whole Taipei months are published, so a cell does not change day by day
while its month runs.
"""
from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import combinations

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from engine.calendar import TAIPEI
from engine.models import Case, CaseTally, Rating

from . import sla

APPLICATION_DIMENSIONS = ("service", "month", "district", "outcome")
RATING_DIMENSIONS = ("service", "month")
TIMING_DIMENSIONS = ("service", "month")
OUTCOMES = ("approved", "rejected", "not_accepted", "withdrawn", "completed", "ineligible", "care_plan")
OPEN = "open"      # the case is still being worked
OTHER = "other"    # an outcome code this list does not know

Key = tuple[str | None, ...]


# -- months ----------------------------------------------------------------------------------------

def running_month(now: datetime) -> str:
    """The Taipei month ``now`` falls in, as YYYY-MM: the first month not yet published."""
    return now.astimezone(TAIPEI).strftime("%Y-%m")


def first_day(month: str) -> date:
    year, number = month.split("-")
    return date(int(year), int(number), 1)


def month_start(month: str) -> datetime:
    """Taipei midnight on the first day of ``month``."""
    day = first_day(month)
    return datetime(day.year, day.month, 1, tzinfo=TAIPEI)


def next_month(month: str) -> str:
    day = first_day(month)
    return f"{day.year + day.month // 12:04d}-{day.month % 12 + 1:02d}"


# -- protection ------------------------------------------------------------------------------------

class _Cell:
    """One cell of one grouping: its sums (the count first) and whether it is withheld."""

    __slots__ = ("values", "withheld")

    def __init__(self, values: Sequence[int]) -> None:
        self.values = list(values)
        self.withheld = False

    @property
    def count(self) -> int:
        return self.values[0]

    def add(self, values: Sequence[int]) -> None:
        for i, value in enumerate(values):
            self.values[i] += value


@dataclass(frozen=True)
class Row:
    """One published cell: its key by dimension, and its sums, or None when withheld."""

    key: dict[str, str | None]
    values: tuple[int, ...] | None

    @property
    def withheld(self) -> bool:
        return self.values is None


class Protected:
    """Every grouping of one fine table, each cell withheld or shown the same way wherever it is read."""

    def __init__(self, dimensions: tuple[str, ...], tables: dict[tuple[int, ...], dict[Key, _Cell]]) -> None:
        self.dimensions = dimensions
        self._tables = tables

    def rows(self, by: Iterable[str],
             where: Mapping[str, Callable[[str | None], bool]] | None = None) -> list[Row]:
        """The cells grouped ``by`` these dimensions, those ``where`` accepts, in key order.

        A filter may only test a dimension the rows are grouped by: filtering
        on anything else would publish a sum the protection never saw.
        """
        where = dict(where or {})
        names = [d for d in self.dimensions if d in set(by)]
        if set(where) - set(names):
            raise ValueError("filter on a dimension that is not grouped by")
        positions = tuple(self.dimensions.index(d) for d in names)
        out = []
        for key, cell in self._tables[positions].items():
            labelled = dict(zip(names, key))
            if all(accept(labelled[d]) for d, accept in where.items()):
                out.append(Row(labelled, None if cell.withheld else tuple(cell.values)))
        return sorted(out, key=lambda row: [(v is None, v or "") for v in row.key.values()])


def protect(dimensions: Sequence[str], fine: Mapping[Key, Sequence[int]], k: int) -> Protected:
    """Every grouping of ``fine`` (sums by key; the first sum is the count), with small counts withheld."""
    tables = _groupings(len(dimensions), fine)
    for table in tables.values():
        for cell in table.values():
            cell.withheld = cell.count < k
    _complete(_relations(tables), k)
    return Protected(tuple(dimensions), tables)


def _groupings(width: int, fine: Mapping[Key, Sequence[int]]) -> dict[tuple[int, ...], dict[Key, _Cell]]:
    """For each subset of the dimensions (positions, in order), the fine cells summed over the rest."""
    tables: dict[tuple[int, ...], dict[Key, _Cell]] = {}
    for size in range(width + 1):
        for subset in combinations(range(width), size):
            table: dict[Key, _Cell] = {}
            for key, values in fine.items():
                part = tuple(key[i] for i in subset)
                if part in table:
                    table[part].add(values)
                else:
                    table[part] = _Cell(values)
            tables[subset] = table
    return tables


def _relations(tables: dict[tuple[int, ...], dict[Key, _Cell]]) -> list[tuple[_Cell, list[_Cell]]]:
    """Each coarse cell with the line of finer cells that sum to it, one dimension finer."""
    relations = []
    for subset, table in tables.items():
        for position in range(len(subset)):
            coarse = tables[subset[:position] + subset[position + 1:]]
            lines: dict[Key, list[_Cell]] = defaultdict(list)
            for key, cell in table.items():
                lines[key[:position] + key[position + 1:]].append(cell)
            relations += [(coarse[key], line) for key, line in lines.items()]
    return relations


def _complete(relations: list[tuple[_Cell, list[_Cell]]], k: int) -> None:
    """Withhold more cells until no relation gives a withheld cell away; rechecks only what a change touches."""
    involved: dict[int, list[int]] = defaultdict(list)
    for i, (total, line) in enumerate(relations):
        for cell in (total, *line):
            involved[id(cell)].append(i)
    pending = deque(range(len(relations)))
    queued = set(pending)
    while pending:
        i = pending.popleft()
        queued.discard(i)
        extra = _complement(*relations[i], k)
        if extra is None:
            continue
        extra.withheld = True
        for j in involved[id(extra)]:
            if j not in queued:
                pending.append(j)
                queued.add(j)


def _complement(total: _Cell, line: list[_Cell], k: int) -> _Cell | None:
    """The cell to withhold next so that ``total = sum(line)`` reveals no withheld count, or None."""
    hidden = [cell for cell in line if cell.withheld]
    unknowns = len(hidden) + total.withheld
    if unknowns == 0 or (unknowns >= 2 and (total.withheld or sum(c.count for c in hidden) >= k)):
        return None
    shown = [cell for cell in line if not cell.withheld]
    if shown:
        return min(shown, key=lambda cell: cell.count)
    return None if total.withheld else total


# -- the figures -----------------------------------------------------------------------------------

def applications(s: Session, districts: Sequence[str], before: datetime, k: int) -> Protected:
    """Applications opened before ``before`` by service, Taipei month, district and outcome.

    The district is the case's searchable ``district`` when it is one of
    ``districts``, else None (the service has none, or several, or it is not
    a district name); open cases count as ``open``.
    """
    district = Case.fields["district"].as_string()
    outcome = case((Case.status == "open", OPEN), (Case.outcome.in_(OUTCOMES), Case.outcome), else_=OTHER)
    cases = (select(Case.service_key.label("service"), sla.month_of(s, Case.opened_at).label("month"),
                    case((district.in_(list(districts)), district)).label("district"),
                    outcome.label("outcome"))
             .where(Case.opened_at < before).subquery())
    keys = [cases.c.service, cases.c.month, cases.c.district, cases.c.outcome]
    fine = {tuple(row[:4]): (int(row[4]),)
            for row in s.execute(select(*keys, func.count()).group_by(*keys))}
    return protect(APPLICATION_DIMENSIONS, fine, k)


def ratings(s: Session, before: datetime, k: int) -> Protected:
    """Ratings given before ``before`` by service and Taipei month: (count, of them 4 or 5, sum of scores)."""
    given = (select(Case.service_key.label("service"), sla.month_of(s, Rating.rated_at).label("month"),
                    Rating.score.label("score"))
             .join(Case, Case.id == Rating.case_id)
             .where(Rating.rated_at < before, Rating.score.between(1, 5)).subquery())
    keys = [given.c.service, given.c.month]
    rows = s.execute(select(*keys, func.count(), func.sum(case((given.c.score >= 4, 1), else_=0)),
                            func.sum(given.c.score)).group_by(*keys))
    fine = {(service, month): (int(n), int(high), int(total)) for service, month, n, high, total in rows}
    return protect(RATING_DIMENSIONS, fine, k)


@dataclass(frozen=True)
class Satisfaction:
    ratings: int
    satisfied_share: float   # the share of ratings that are 4 or 5
    mean_score: float


def satisfaction_of(values: tuple[int, ...]) -> Satisfaction:
    """The published figures of one shown cell of ``ratings``."""
    n, high, total = values
    return Satisfaction(n, high / n, total / n)


@dataclass(frozen=True)
class ProcessingTime:
    """Median and 90th percentile days from application to closing; None where fewer than k cases finished."""

    key: dict[str, str | None]
    median_days: float | None
    p90_days: float | None

    @property
    def withheld(self) -> bool:
        return self.median_days is None


def processing_times(s: Session, by: Iterable[str], first: str | None, end: str, k: int) -> list[ProcessingTime]:
    """Finished cases opened from month ``first`` up to, not including, month ``end``, from the city's tallies.

    No count is published with them: the number of finished cases, beside
    the applications by outcome, would let a withheld outcome be worked out.
    """
    names = [d for d in TIMING_DIMENSIONS if d in set(by)]
    columns = {"service": CaseTally.service_key, "month": _date_month(s, CaseTally.opened_on)}
    window = [CaseTally.owner.is_(True), CaseTally.opened_on < first_day(end)]
    if first:
        window.append(CaseTally.opened_on >= first_day(first))
    tallies = (select(*[columns[d].label(d) for d in names], CaseTally.hours.label("hours"),
                      CaseTally.n.label("n")).where(*window).subquery())
    keys = [tallies.c[d] for d in names] + [tallies.c.hours]
    histograms: dict[Key, dict[int, int]] = defaultdict(dict)
    for row in s.execute(select(*keys, func.sum(tallies.c.n)).group_by(*keys)):
        histograms[tuple(row[:len(names)])][row[len(names)]] = int(row[-1])
    out = [_timing(dict(zip(names, key)), histogram, k) for key, histogram in histograms.items()]
    return sorted(out, key=lambda t: [(v is None, v or "") for v in t.key.values()])


def _timing(key: dict[str, str | None], histogram: dict[int, int], k: int) -> ProcessingTime:
    if sum(histogram.values()) < k:
        return ProcessingTime(key, None, None)
    return ProcessingTime(key, round(sla.quantile(histogram, 0.5) / 24, 1),
                          round(sla.quantile(histogram, 0.9) / 24, 1))


def _date_month(s: Session, column):
    """YYYY-MM of a date column, in the database's own dialect."""
    if s.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)
