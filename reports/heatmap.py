"""The permit heatmap: which map cells issued permits' routes pass through, and how many permits each.

The city is cut into a fixed grid of ``1 / CELLS_PER_DEGREE`` degree cells (about
500 m). A cell's id is ``"lat_index:lon_index"``, the floors of latitude and
longitude times ``CELLS_PER_DEGREE``. A drawn route (a GeoJSON LineString of
(lon, lat)) is walked cell by cell, so every cell a straight stretch passes
through counts, however briefly; a segment drawn without a map counts in the
cell of each listed district's centroid.

Each permit has a ``route_cells`` row per cell carrying what the filters need
(dates, minutes of the day, a weekday mask, a vehicle-type mask, the district,
the revoked flag), plus a row per daily window when it has several (see
``reports.heatmap_models.RouteCell``). The rows are written in the transaction
that issues the permit (``record_permit``) and recounted by ``rebuild``. The
heatmap itself is one GROUP BY over them, on SQLite and PostgreSQL alike.

The districts come from ``handlers.geo``, imported when first needed.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import delete, distinct, func, or_, select, true
from sqlalchemy.orm import Session

from engine.errors import N_, InvalidInput
from engine.masking import mask_name
from engine.models import Permit

from .heatmap_models import RouteCell

CELLS_PER_DEGREE = 200          # 0.005° cells: 556 m north–south, 512 m east–west in Tainan
CELL_SIZE_M = 500               # what the page tells its readers
ALL_DAYS = 0b1111111            # bit 0 = Monday … bit 6 = Sunday
LAST_MINUTE = 24 * 60 - 1
#: Bit i of a vehicle-type mask is VEHICLE_TYPES[i]; append new types, never reorder.
VEHICLE_TYPES = ("大貨車", "聯結車", "曳引車", "大客車", "特種車")
PERMIT_FORM = Path(__file__).resolve().parent.parent / "forms" / "lvp_application.json"
BATCH = 5000

Point = tuple[float, float]


# --------------------------------------------------------------------------
# Cells

def cell_of(lon: float, lat: float) -> str:
    return f"{math.floor(lat * CELLS_PER_DEGREE)}:{math.floor(lon * CELLS_PER_DEGREE)}"


def parse_cell(cell: str) -> tuple[int, int]:
    """(lat index, lon index) of a cell id; ``ValueError`` for anything else."""
    lat_index, sep, lon_index = cell.partition(":")
    if not sep or not _is_index(lat_index) or not _is_index(lon_index):
        raise ValueError(f"not a cell id: {cell!r}")
    return int(lat_index), int(lon_index)


def _is_index(text: str) -> bool:
    digits = text.removeprefix("-")
    return digits.isascii() and digits.isdigit() and len(digits) <= 6


@lru_cache(maxsize=65536)
def cell_centre(cell: str) -> Point:
    """(lon, lat) of the middle of the cell, to the micro-degree."""
    lat_index, lon_index = parse_cell(cell)
    return round((lon_index + 0.5) / CELLS_PER_DEGREE, 6), round((lat_index + 0.5) / CELLS_PER_DEGREE, 6)


def cells_on_line(a: Point, b: Point) -> Iterator[str]:
    """Every cell the straight stretch a→b (lon, lat) passes through, in driving order.

    A grid walk: from the cell of ``a``, step into whichever neighbour the line
    reaches first, until the cell of ``b``.
    """
    x0, y0 = a[0] * CELLS_PER_DEGREE, a[1] * CELLS_PER_DEGREE
    x1, y1 = b[0] * CELLS_PER_DEGREE, b[1] * CELLS_PER_DEGREE
    i, j = math.floor(x0), math.floor(y0)
    i_end, j_end = math.floor(x1), math.floor(y1)
    step_i, next_x, delta_x = _axis(x0, x1, i)
    step_j, next_y, delta_y = _axis(y0, y1, j)
    yield f"{j}:{i}"
    for _ in range(abs(i_end - i) + abs(j_end - j)):
        if j == j_end or (i != i_end and next_x < next_y):
            i += step_i
            next_x += delta_x
        else:
            j += step_j
            next_y += delta_y
        yield f"{j}:{i}"


def _axis(start: float, end: float, index: int) -> tuple[int, float, float]:
    """(step, where along the line the first boundary is crossed, distance between boundaries) on one axis."""
    span = end - start
    if span == 0:
        return 0, math.inf, math.inf
    step = 1 if span > 0 else -1
    boundary = index + 1 if span > 0 else index
    return step, (boundary - start) / span, abs(1 / span)


def cells_on_path(coordinates: Sequence[Sequence[float]]) -> list[str]:
    """The distinct cells a polyline passes through, in order of first visit."""
    points = [(float(c[0]), float(c[1])) for c in coordinates]
    if len(points) == 1:
        return [cell_of(*points[0])]
    seen: dict[str, None] = {}
    for a, b in zip(points, points[1:]):
        seen.update(dict.fromkeys(cells_on_line(a, b)))
    return list(seen)


# --------------------------------------------------------------------------
# Districts

def _geo():
    from handlers import geo

    return geo


@cache
def district_centroids() -> dict[str, Point]:
    """District → (lon, lat) of the area-weighted centroid of its polygons' outer rings."""
    return {name: _centroid(polygons) for name, polygons in _geo().district_polygons().items() if polygons}


def _centroid(polygons: Sequence[Sequence[Sequence[Point]]]) -> Point:
    area = cx = cy = 0.0
    for polygon in polygons:
        a, x, y = _ring_moments(polygon[0])
        area, cx, cy = area + a, cx + x, cy + y
    return cx / area, cy / area


def _ring_moments(ring: Sequence[Point]) -> tuple[float, float, float]:
    """(area, area × centroid x, area × centroid y) of a ring, whatever its winding."""
    a = x = y = 0.0
    for (x1, y1), (x2, y2) in zip(ring, list(ring[1:]) + [ring[0]]):
        cross = x1 * y2 - x2 * y1
        a += cross
        x += (x1 + x2) * cross
        y += (y1 + y2) * cross
    sign = 1 if a >= 0 else -1
    return sign * a / 2, sign * x / 6, sign * y / 6


@lru_cache(maxsize=65536)
def cell_district(cell: str) -> str | None:
    """The district of the cell's centre, or of another point of the cell when the centre is outside the city."""
    lon, lat = cell_centre(cell)
    quarter = 0.25 / CELLS_PER_DEGREE
    district_of = _geo().district_of
    for dx, dy in ((0, 0), (-quarter, -quarter), (quarter, -quarter), (-quarter, quarter), (quarter, quarter)):
        found = district_of(lon + dx, lat + dy)
        if found:
            return found
    return None


def route_cells(segments: Iterable[Mapping[str, Any]]) -> dict[str, str | None]:
    """Cell → the district a pathless segment named for it (``None`` for cells on a drawn path)."""
    cells: dict[str, str | None] = {}
    for segment in segments:
        coordinates = _coordinates(segment.get("path"))
        if coordinates:
            for cell in cells_on_path(coordinates):
                cells.setdefault(cell, None)
            continue
        centroids = district_centroids()
        for district in segment.get("districts") or ():
            if district in centroids:
                cells.setdefault(cell_of(*centroids[district]), district)
    return cells


def _coordinates(path: Any) -> list:
    if isinstance(path, Mapping) and path.get("type") == "LineString":
        return list(path.get("coordinates") or ())
    return []


# --------------------------------------------------------------------------
# The rows of one permit

def minute_of(hhmm: str) -> int:
    """``"07:30"`` (or ``"07:30:00"``) → 450."""
    hours, minutes = hhmm.split(":")[:2]
    return int(hours) * 60 + int(minutes)


def weekday_bit(day: date) -> int:
    return 1 << day.weekday()


def days_mask(first: date, last: date) -> int:
    """The weekdays that occur from ``first`` to ``last`` inclusive."""
    if (last - first).days >= 6:
        return ALL_DAYS
    mask = 0
    day = first
    while day <= last:
        mask |= weekday_bit(day)
        day += timedelta(days=1)
    return mask


def _window_days(days: Any) -> int:
    """A window's ``days`` (ISO weekday numbers, 1 = Monday), or every day when it names none."""
    mask = 0
    for day in days or ():
        if str(day).isdigit() and 1 <= int(day) <= 7:
            mask |= 1 << (int(day) - 1)
    return mask or ALL_DAYS


def time_slots(windows: Iterable[Mapping[str, Any]]) -> list[tuple[int, int, int]]:
    """(weekday mask, first minute, last minute) per daily window; one past midnight becomes two."""
    slots = []
    for window in windows or ():
        days = _window_days(window.get("days"))
        start, end = minute_of(window.get("start") or "00:00"), minute_of(window.get("end") or "23:59")
        if end < start:
            slots += [(days, start, LAST_MINUTE), (days, 0, end)]
        else:
            slots.append((days, start, end))
    return slots or [(ALL_DAYS, 0, LAST_MINUTE)]


def vehicle_mask(types: Iterable[str]) -> int:
    mask = 0
    for kind in types:
        if kind in VEHICLE_TYPES:
            mask |= 1 << VEHICLE_TYPES.index(kind)
    return mask


def vehicle_types_of(mask: int) -> list[str]:
    return [kind for i, kind in enumerate(VEHICLE_TYPES) if mask & (1 << i)]


COLUMNS = ("slot", "cell", "permit_number", "windows", "first_cell", "lat", "lon", "district", "valid_from",
           "valid_to", "weekdays", "start_minute", "end_minute", "vehicle_types", "revoked")


def permit_slots(windows: Iterable[Mapping[str, Any]], period: int) -> list[tuple[int, int, int]]:
    """Slot 0, the permit as a whole (any of its days, first start to last end), then each window if several."""
    each = [(days & period, start, end) for days, start, end in time_slots(windows)]
    if len(each) == 1:
        return each
    whole = (_union(days for days, _, _ in each), min(s for _, s, _ in each), max(e for _, _, e in each))
    return [whole, *each]


def _union(masks: Iterable[int]) -> int:
    mask = 0
    for m in masks:
        mask |= m
    return mask


def permit_rows(permit: Any) -> list[tuple]:
    """The ``route_cells`` rows of a permit, in ``COLUMNS`` order (a ``Permit`` or a row with its attributes)."""
    valid_from, valid_to = date.fromisoformat(permit.valid_from), date.fromisoformat(permit.valid_to)
    slots = permit_slots(permit.time_windows, days_mask(valid_from, valid_to))
    windows = max(1, len(slots) - 1)
    vehicles = vehicle_mask(v.get("type") for v in permit.vehicles or ())
    revoked = bool(permit.revoked)
    rows = []
    for n, (cell, named) in enumerate(route_cells(permit.route_segments or ()).items()):
        lon, lat = cell_centre(cell)
        district = named or cell_district(cell)
        for slot, (days, start, end) in enumerate(slots):
            rows.append((slot, cell, permit.number, windows, n == 0, lat, lon, district,
                         permit.valid_from, permit.valid_to, days, start, end, vehicles, revoked))
    return rows


# --------------------------------------------------------------------------
# Keeping the rows current

def record_permit(session: Session, permit: Permit) -> int:
    """(Re)write the rows of one permit in the caller's transaction; returns how many.

    Call it when a permit is issued, and again whenever it changes (revoked, say).
    """
    session.flush()
    session.execute(delete(RouteCell).where(RouteCell.permit_number == permit.number))
    rows = permit_rows(permit)
    _insert(session, rows)
    return len(rows)


def rebuild(session: Session) -> int:
    """Recount every permit's rows (after a bulk load, or to repair them); returns how many rows."""
    session.flush()
    session.execute(delete(RouteCell))
    columns = (Permit.number, Permit.route_segments, Permit.time_windows, Permit.vehicles,
               Permit.valid_from, Permit.valid_to, Permit.revoked)
    written, after = 0, ""
    while True:
        permits = session.execute(select(*columns).where(Permit.number > after)
                                  .order_by(Permit.number).limit(BATCH)).all()
        if not permits:
            return written
        rows = [row for permit in permits for row in permit_rows(permit)]
        _insert(session, sorted(rows))
        written += len(rows)
        after = permits[-1].number


def _insert(session: Session, rows: list[tuple]) -> None:
    """One executemany straight to the driver: at a million rows, building SQLAlchemy's
    parameters costs more than the inserts themselves."""
    if not rows:
        return
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    connection.exec_driver_sql(f"INSERT INTO route_cells ({', '.join(COLUMNS)}) "
                               f"VALUES ({', '.join([mark] * len(COLUMNS))})", rows)


# --------------------------------------------------------------------------
# Filters

@cache
def districts() -> tuple[str, ...]:
    """The 37 districts, in the permit form's order."""
    schema = json.loads(PERMIT_FORM.read_text(encoding="utf-8"))["schema"]
    item = schema["properties"]["route_segments"]["items"]["properties"]["districts"]["items"]
    return tuple(item["enum"])


@dataclass(frozen=True)
class Filters:
    """What the heatmap shows; ``None`` or an empty mask means no restriction."""

    date_from: date | None = None
    date_to: date | None = None
    time_from: int | None = None   # minutes of the day; a range past midnight wraps
    time_to: int | None = None
    weekdays: int = ALL_DAYS
    vehicle_types: int = 0
    district: str | None = None

    @property
    def timed(self) -> bool:
        return self.time_from is not None and self.time_to is not None

    @property
    def effective_weekdays(self) -> int:
        """The chosen weekdays that occur in the chosen dates (a short range rules some out)."""
        if self.date_from and self.date_to:
            return self.weekdays & days_mask(self.date_from, self.date_to)
        return self.weekdays

    def as_dict(self) -> dict:
        return {
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "time_from": _hhmm(self.time_from), "time_to": _hhmm(self.time_to),
            "weekdays": [i + 1 for i in range(7) if self.weekdays & (1 << i)],
            "vehicle_types": vehicle_types_of(self.vehicle_types),
            "district": self.district,
        }


def _hhmm(minute: int | None) -> str | None:
    return None if minute is None else f"{minute // 60:02d}:{minute % 60:02d}"


def parse_filters(args: Mapping[str, Sequence[str]]) -> Filters:
    """Filters from query parameters (each name → its values); ``InvalidInput`` names the bad fields."""
    errors: dict[str, list[str]] = {}

    def values(name: str) -> list[str]:
        return [v.strip() for v in args.get(name) or () if v and v.strip()]

    def one(name: str) -> str | None:
        found = values(name)
        return found[0] if found else None

    def parsed(name: str, parse, message: str):
        text = one(name)
        if text is None:
            return None
        try:
            return parse(text)
        except ValueError:
            errors.setdefault(name, []).append(message)
            return None

    date_from = parsed("date_from", date.fromisoformat, N_("日期格式應為 YYYY-MM-DD"))
    date_to = parsed("date_to", date.fromisoformat, N_("日期格式應為 YYYY-MM-DD"))
    if date_from and date_to and date_to < date_from:
        errors.setdefault("date_to", []).append(N_("迄日不可早於起日"))
    time_from = parsed("time_from", _minute_of_day, N_("時間格式應為 HH:MM"))
    time_to = parsed("time_to", _minute_of_day, N_("時間格式應為 HH:MM"))
    if (time_from is None) != (time_to is None) and not errors.keys() & {"time_from", "time_to"}:
        missing = "time_to" if time_to is None else "time_from"
        errors.setdefault(missing, []).append(N_("請同時填寫起訖時間"))
    weekdays = 0
    for day in values("weekday"):
        if not (day.isascii() and day.isdigit() and 1 <= int(day) <= 7):
            errors.setdefault("weekday", []).append(N_("星期應為 1（週一）到 7（週日）"))
            break
        weekdays |= 1 << (int(day) - 1)
    vehicles = values("vehicle")
    if any(v not in VEHICLE_TYPES for v in vehicles):
        errors.setdefault("vehicle", []).append(N_("請從清單中選擇車種"))
    district = one("district")
    if district is not None and district not in districts():
        errors.setdefault("district", []).append(N_("請從清單中選擇行政區"))
    if errors:
        raise InvalidInput(N_("篩選條件有誤"), errors)
    return Filters(date_from, date_to, time_from, time_to, weekdays or ALL_DAYS, vehicle_mask(vehicles),
                   district)


def _minute_of_day(text: str) -> int:
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError(text)
    return int(match[1]) * 60 + int(match[2])


_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)(?::[0-5]\d)?")


def _conditions(filters: Filters) -> list:
    """What the rows must satisfy, including which of a permit's slots answer the question.

    Without a time of day, slot 0 stands for the whole permit, one row per cell, so
    rows can simply be counted. With one, each daily window must be tried on its
    own: slot 0 of a one-window permit, or slots 1… of the others, counted distinct.
    """
    where = [RouteCell.revoked.is_(False)]
    if filters.date_from:
        where.append(RouteCell.valid_to >= filters.date_from)
    if filters.date_to:
        where.append(RouteCell.valid_from <= filters.date_to)
    if filters.timed:
        where.append(or_(RouteCell.windows == 1, RouteCell.slot > 0))
        if filters.time_from <= filters.time_to:
            where += [RouteCell.start_minute <= filters.time_to, RouteCell.end_minute >= filters.time_from]
        else:
            where.append(or_(RouteCell.end_minute >= filters.time_from, RouteCell.start_minute <= filters.time_to))
    else:
        where.append(RouteCell.slot == 0)
    weekdays = filters.effective_weekdays
    if weekdays != ALL_DAYS:
        where.append(RouteCell.weekdays.op("&")(weekdays) != 0)
    if filters.vehicle_types:
        where.append(RouteCell.vehicle_types.op("&")(filters.vehicle_types) != 0)
    if filters.district:
        where.append(RouteCell.district == filters.district)
    return where


def _permit_count(filters: Filters):
    """Rows of one permit in one cell are one row unless a time of day brings in its windows."""
    return func.count(distinct(RouteCell.permit_number)) if filters.timed else func.count()


# --------------------------------------------------------------------------
# Reading

class HeatCell(NamedTuple):
    cell: str
    lat: float
    lon: float
    permits: int
    district: str | None


def cells(session: Session, filters: Filters = Filters()) -> list[HeatCell]:
    """Each cell with at least one permit matching ``filters``, busiest first.

    The centre and district of a cell follow from its id, so the query only counts.
    """
    query = select(RouteCell.cell, _permit_count(filters)).where(*_conditions(filters)).group_by(RouteCell.cell)
    found = []
    for cell, permits in session.execute(query):
        lon, lat = cell_centre(cell)
        found.append(HeatCell(cell, lat, lon, permits, cell_district(cell)))
    found.sort(key=lambda c: (-c.permits, c.cell))
    return found


def total_permits(session: Session, filters: Filters = Filters()) -> int:
    """How many permits match ``filters`` anywhere on the map.

    Within a district, those with a row there; elsewhere each permit's first cell
    stands for it, as the other filters hold for all its cells alike.
    """
    where = _conditions(filters)
    if filters.district:
        count = func.count(distinct(RouteCell.permit_number))
    else:
        where.append(RouteCell.first_cell == true())  # as the partial index ix_route_cells_first says it
        count = _permit_count(filters)
    return session.scalar(select(count).where(*where))


@dataclass(frozen=True)
class PermitSummary:
    """One permit as the cell listing shows it; the holder's name is masked."""

    number: str
    holder: str
    valid_from: str
    valid_to: str
    vehicle_types: list[str]
    route: str

    def as_dict(self) -> dict:
        return {"number": self.number, "holder": self.holder, "valid_from": self.valid_from,
                "valid_to": self.valid_to, "vehicle_types": self.vehicle_types, "route": self.route}


@dataclass(frozen=True)
class CellListing:
    cell: str
    lat: float
    lon: float
    district: str | None
    total: int
    permits: list[PermitSummary]

    def as_dict(self) -> dict:
        return {"cell": self.cell, "lat": self.lat, "lon": self.lon, "district": self.district,
                "total": self.total, "permits": [p.as_dict() for p in self.permits]}


def permits_in_cell(session: Session, cell: str, filters: Filters = Filters(), limit: int = 100) -> CellListing:
    """The permits matching ``filters`` whose routes pass through ``cell``, latest first (at most ``limit``)."""
    lon, lat = cell_centre(cell)
    numbers = select(RouteCell.permit_number).where(RouteCell.cell == cell, *_conditions(filters)).distinct()
    total = session.scalar(select(func.count()).select_from(numbers.subquery()))
    permits = session.scalars(select(Permit).where(Permit.number.in_(numbers))
                              .order_by(Permit.valid_from.desc(), Permit.number).limit(limit)).all()
    return CellListing(cell, lat, lon, cell_district(cell), total,
                       [summary(p) for p in permits])


def summary(permit: Permit) -> PermitSummary:
    return PermitSummary(
        number=permit.number,
        holder=mask_name(permit.holder_name),
        valid_from=permit.valid_from,
        valid_to=permit.valid_to,
        vehicle_types=vehicle_types_of(vehicle_mask(v.get("type") for v in permit.vehicles or ())),
        route=route_text(permit.route_segments or ()),
    )


def route_text(segments: Iterable[Mapping[str, Any]]) -> str:
    """起點 → 迄點（道路）, segment after segment."""
    parts = []
    for s in segments:
        roads = (s.get("roads") or "").strip()
        parts.append(f"{s.get('from', '')} → {s.get('to', '')}" + (f"（{roads}）" if roads else ""))
    return "；".join(parts)
