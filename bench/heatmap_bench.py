"""Benchmark of the permit heatmap's aggregation over 100,000 issued permits.

For each database (SQLite in a temporary directory; PostgreSQL when
``--postgres-url``, BENCH_DATABASE_URL or TEST_DATABASE_URL names a reachable
server) the schema is migrated and the demo data seeded; then permits are
generated and bulk-inserted (each with the closed case it came from), the
heatmap's rows are recounted with ``reports.heatmap.rebuild``, and the
aggregation the page and the city dashboard run is timed for a few filter
combinations, as is the listing of the busiest cell.

The permits drive along a few hundred corridors: random walks (Brownian
bridges, a few hundred metres to each side) between the centroids of nearby
districts, weighted towards the busy ones; each permit takes a stretch of one
corridor, so some roads get hot. One in ten has a segment drawn without a map
(it counts at its districts' centroids); dates, daily time windows, weekdays,
vehicle types and revocations vary as they do in practice.

Run:

    .venv/bin/python bench/heatmap_bench.py [--permits 100000] [--runs 5]
        [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/onestop_heatmap_bench]

With TEST_DATABASE_URL, the server is used with a database of the bench's own
name, never the test database. The bench's database is dropped and recreated
at the start and dropped at the end. Progress goes to stderr; one line of
figures per database to stdout.
"""
from __future__ import annotations

import argparse
import itertools
import math
import os
import random
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import func, select, text  # noqa: E402

from engine.db import reading, transaction  # noqa: E402
from engine.models import Case, Definition, Permit, User  # noqa: E402
from reports import heatmap  # noqa: E402
from reports.heatmap_models import RouteCell  # noqa: E402

from engine_bench import build_services, postgres_url, sqlite_url  # noqa: E402
from engine_bench import median_ms as timed  # noqa: E402

BENCH_DB = "onestop_heatmap_bench"
BATCH = 10_000
CORRIDORS = 400
FIRST_DAY = date(2025, 1, 1)
DAYS = 730
BUSY = {"永康區": 6, "東區": 5, "安南區": 5, "仁德區": 4, "善化區": 4, "新市區": 4, "北區": 3, "南區": 3,
        "中西區": 3, "安平區": 3, "歸仁區": 3, "新營區": 3, "麻豆區": 2, "佳里區": 2, "新化區": 2}
VEHICLES = (("大貨車", 55), ("聯結車", 25), ("曳引車", 10), ("大客車", 5), ("特種車", 5))
WINDOWS = (
    ([("09:00", "16:00")], 30), ([("22:00", "23:59"), ("00:00", "06:00")], 25), ([("00:00", "23:59")], 20),
    ([("10:00", "12:00"), ("14:00", "16:00")], 15), ([("06:00", "07:00")], 10),
)
NIGHT = {"time_from": ["22:00"], "time_to": ["06:00"]}


# -- generating permits ----------------------------------------------------------

def _bridge(rng: random.Random, a: tuple[float, float], b: tuple[float, float]) -> list[list[float]]:
    """A wandering line from a to b: points every ~500 m, pushed sideways by a Brownian bridge."""
    (ax, ay), (bx, by) = a, b
    length_km = math.hypot((bx - ax) * 102.5, (by - ay) * 110.7)
    steps = max(2, int(length_km / 0.5))
    nx, ny = -(by - ay), bx - ax
    norm = math.hypot(nx, ny) or 1.0
    nx, ny = nx / norm, ny / norm
    walk = [0.0]
    for _ in range(steps):
        walk.append(walk[-1] + rng.gauss(0, 0.0015))
    drift = walk[-1]
    points = []
    for i, w in enumerate(walk):
        t = i / steps
        side = w - drift * t
        points.append([round(ax + (bx - ax) * t + nx * side, 6), round(ay + (by - ay) * t + ny * side, 6)])
    return points


def corridors(rng: random.Random, centroids: dict[str, tuple[float, float]]) -> list[tuple[list, tuple[str, str]]]:
    """(path, (from district, to district)) between busy districts and their near neighbours."""
    names = list(centroids)
    weights = [BUSY.get(n, 1) for n in names]
    out = []
    for _ in range(CORRIDORS):
        start = rng.choices(names, weights)[0]
        sx, sy = centroids[start]
        near = sorted((n for n in names if n != start),
                      key=lambda n: math.hypot(centroids[n][0] - sx, centroids[n][1] - sy))[:6]
        end = rng.choice(near)
        out.append((_bridge(rng, centroids[start], centroids[end]), (start, end)))
    return out


def permit_values(rng: random.Random, n: int, routes: list, weights: list[float], case_id: str,
                  number: str) -> dict:
    path, (start, end) = rng.choices(routes, cum_weights=weights)[0]
    first = rng.randrange(0, max(1, len(path) // 3))
    last = rng.randrange(max(first + 1, 2 * len(path) // 3), len(path))
    segment = {"from": f"{start}工地", "to": f"{end}工地", "roads": "", "districts": [start, end]}
    if rng.random() >= 0.1:
        segment["path"] = {"type": "LineString", "coordinates": path[first:last + 1]}
    valid_from = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
    windows = rng.choices([w for w, _ in WINDOWS], [p for _, p in WINDOWS])[0]
    weekdays_only = rng.random() < 0.2
    kinds = [t for t, _ in VEHICLES]
    return {
        "number": number, "case_id": case_id, "verify_token": f"bench-{n:037d}",
        "holder_name": "南瀛營造股份有限公司", "holder_id": "5321****",
        "vehicles": [{"plate": f"KL{i}-{n % 10000:04d}", "type": rng.choices(kinds, [p for _, p in VEHICLES])[0],
                      "gross_weight": 35} for i in range(rng.randint(1, 3))],
        "route_segments": [segment],
        "time_windows": [{"start": s, "end": e, **({"days": [1, 2, 3, 4, 5]} if weekdays_only else {})}
                         for s, e in windows],
        "conditions": [], "valid_from": valid_from.isoformat(),
        "valid_to": (valid_from + timedelta(days=rng.randint(1, 90))).isoformat(),
        "issuing_agency": "臺南市政府交通局", "issued_at": datetime.combine(valid_from, datetime.min.time(), timezone.utc),
        "renewal_of": None, "revoked": rng.random() < 0.02,
    }


def generate(svc, permits: int, rng: random.Random) -> None:
    with reading(svc.sessions) as s:
        definition = s.scalar(select(func.max(Definition.id)).where(Definition.service_key == "large_vehicle_permit"))
        applicant = s.scalar(select(User.id).where(User.username == "company"))
    routes = corridors(rng, heatmap.district_centroids())
    weights = list(itertools.accumulate(1 / rank for rank in range(1, len(routes) + 1)))  # a few corridors are busy
    now = datetime.now(timezone.utc)
    for first in range(1, permits + 1, BATCH):
        ordinals = range(first, min(permits, first + BATCH - 1) + 1)
        cases = [{"id": f"bench{n:027d}", "number": f"LVP-B-{n:08d}", "service_key": "large_vehicle_permit",
                  "definition_id": definition, "applicant_id": applicant, "agent_id": None, "owner_agency": "TB",
                  "channel": "online", "status": "closed", "stage": "", "outcome": "approved", "opened_at": now,
                  "due_at": None, "closed_at": now, "related_case_id": None, "fields": {}, "provenance": {},
                  "state": {}, "revision": 1, "next_timer_at": None, "updated_at": now} for n in ordinals]
        rows = [permit_values(rng, n, routes, weights, c["id"], c["number"]) for n, c in zip(ordinals, cases)]
        with svc.db.begin() as conn:
            conn.execute(Case.__table__.insert(), cases)
            conn.execute(Permit.__table__.insert(), rows)
        print(f"  generated {ordinals[-1]:,} permits", file=sys.stderr, flush=True)


def recount(svc) -> tuple[int, float]:
    started = time.perf_counter()
    with transaction(svc.sessions) as s:
        rows = heatmap.rebuild(s)
    elapsed = time.perf_counter() - started
    with svc.db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    return rows, elapsed


# -- timing ------------------------------------------------------------------------

def measure(svc, runs: int) -> list[tuple[str, float]]:
    def aggregate(args: dict) -> Callable[[], object]:
        filters = heatmap.parse_filters(args)

        def call():
            with reading(svc.sessions) as s:
                return heatmap.cells(s, filters), heatmap.total_permits(s, filters)
        return call

    with reading(svc.sessions) as s:
        hottest = heatmap.cells(s)[0].cell

    def cell_list():
        with reading(svc.sessions) as s:
            return heatmap.permits_in_cell(s, hottest)

    month = {"date_from": ["2025-11-01"], "date_to": ["2025-11-30"]}
    return [
        ("aggregate all", timed(aggregate({}), runs)),
        ("one district", timed(aggregate({"district": ["永康區"]}), runs)),
        ("weekday+vehicle", timed(aggregate({"weekday": ["6", "7"], "vehicle": ["聯結車"]}), runs)),
        ("one month at night", timed(aggregate({**month, **NIGHT}), runs)),
        ("cell list", timed(cell_list, runs)),
    ]


def bench(name: str, url: str, permits: int, runs: int) -> str:
    print(f"{name}: migrate and seed", file=sys.stderr, flush=True)
    svc = build_services(url)
    try:
        generate(svc, permits, random.Random(8))
        rows, seconds = recount(svc)
        print(f"  {rows:,} cell rows in {seconds:.1f} s", file=sys.stderr, flush=True)
        with reading(svc.sessions) as s:
            assert s.scalar(select(func.count()).select_from(RouteCell)) == rows
        figures = measure(svc, runs)
    finally:
        svc.db.dispose()
    timings = ", ".join(f"{label} {ms:.0f} ms" for label, ms in figures[:-1])
    return (f"heatmap {name}: {permits} permits, {_count(rows)} cell rows (rebuilt in {seconds:.0f} s); "
            f"aggregate: {timings}; {figures[-1][0]} {figures[-1][1]:.0f} ms")


def _count(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1_000_000 else f"{n:,}"


def _postgres_target(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    if os.environ.get("TEST_DATABASE_URL"):
        return os.environ["TEST_DATABASE_URL"].rsplit("/", 1)[0] + "/" + BENCH_DB
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--permits", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres-url", default=None)
    args = parser.parse_args()
    lines = []
    with sqlite_url() as url:
        lines.append(bench("sqlite", url, args.permits, args.runs))
    target = _postgres_target(args.postgres_url)
    if target is None:
        print("postgresql: skipped, no --postgres-url, BENCH_DATABASE_URL or TEST_DATABASE_URL",
              file=sys.stderr)
    else:
        with postgres_url(target) as url:
            if url is not None:
                lines.append(bench("postgresql", url, args.permits, args.runs))
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
