"""Benchmark of the supervisors' reports and a clerk's inbox on big tables (PostgreSQL).

The database named by the URL is dropped, recreated, migrated and seeded; then
cases are generated in SQL (``generate_series``): mostly closed, a few percent
open, each with two staff tasks (intake and decision) and an audit event,
spread over two years across the shipped services. Every report is timed
(median of a few runs) beside a plain ``count(*)`` over the same cases table,
measured in the same run; a clerk's inbox is timed at the first size and at
the full size.

Run:

    .venv/bin/python bench/reports_bench.py [--cases 1000000] [--small 10000] [--runs 3]
        [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/onestop_reports_bench]

Progress goes to stderr; the figures to stdout.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from engine import tallies  # noqa: E402
from engine.access import Actor  # noqa: E402
from engine.db import reading, utcnow  # noqa: E402
from engine.models import Case, User  # noqa: E402
from reports import kpi, sla, worklists  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from engine_bench import build_services, postgres_url  # noqa: E402
from engine_bench import median_ms as timed  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/onestop_reports_bench"
BATCH = 200_000

# One INSERT … SELECT per table and batch; numbers are 1-based case ordinals.
CASES_SQL = """
INSERT INTO cases (id, number, service_key, definition_id, applicant_id, agent_id, owner_agency, channel,
                   status, stage, opened_at, due_at, closed_at, outcome, related_case_id, fields, provenance,
                   state, revision, next_timer_at, updated_at)
SELECT md5('case' || g), 'B' || lpad(g::text, 12, '0'), svc.key, svc.definition_id, :applicant, NULL,
       svc.owner, CASE WHEN g % 10 = 0 THEN 'counter' ELSE 'online' END,
       CASE WHEN g % 25 = 0 THEN 'open' ELSE 'closed' END,
       CASE WHEN g % 25 = 0 THEN '收件審查' ELSE '' END,
       o.opened, o.opened + interval '14 days',
       CASE WHEN g % 25 = 0 THEN NULL ELSE o.opened + (1 + (g % 20)) * interval '1 day' END,
       CASE WHEN g % 25 = 0 THEN NULL ELSE 'approved' END, NULL, '{}'::jsonb,
       '{"applicant-name": "identity", "purpose-project_name": "citizen"}'::jsonb, '{}'::json, 2, NULL, o.opened
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g
CROSS JOIN LATERAL (SELECT now() - ((g * 7919) % 730) * interval '1 day' - (g % 1440) * interval '1 minute'
                    AS opened) o
JOIN (SELECT row_number() OVER (ORDER BY s.key) - 1 AS i, s.key, s.owner_agency AS owner,
             (SELECT max(d.id) FROM definitions d WHERE d.service_key = s.key) AS definition_id
      FROM services s) svc ON svc.i = g % 3
"""

TASKS_SQL = """
INSERT INTO human_tasks (id, case_id, spec_name, name, lane, role, agency_code, form_key, status, assignee_id,
                         completed_by, created_at, claimed_at, due_at, completed_at, result, context)
SELECT md5(c.id || t.step), c.id, t.spec, t.label, t.role, t.role, c.owner_agency, t.spec,
       CASE WHEN c.status = 'open' AND t.step = 'b' THEN 'open' ELSE 'completed' END,
       CASE WHEN c.status = 'open' AND t.step = 'b' AND (c.number::text LIKE '%1') THEN :clerk END,
       CASE WHEN c.status = 'open' AND t.step = 'b' THEN NULL ELSE :clerk END,
       c.opened_at + t.offset_days * interval '1 day', NULL,
       c.opened_at + (t.offset_days + 3) * interval '1 day',
       CASE WHEN c.status = 'open' AND t.step = 'b' THEN NULL
            ELSE c.opened_at + (t.offset_days + 1 + (length(c.id) + ascii(c.id)) % 4) * interval '1 day' END,
       '{}'::jsonb, '{}'::jsonb
FROM cases c
CROSS JOIN (VALUES ('a', 'intake', '收件審查', 'traffic_clerk', 0), ('b', 'decide', '核定', 'traffic_clerk', 5))
     AS t(step, spec, label, role, offset_days)
WHERE c.number BETWEEN 'B' || lpad(CAST(:first AS text), 12, '0') AND 'B' || lpad(CAST(:last AS text), 12, '0')
"""

EVENTS_SQL = """
INSERT INTO audit_events (at, actor_id, action, case_id, result, detail, prev_hash, hash)
SELECT c.opened_at, :applicant, 'case.start', c.id, 'ok', '{}'::jsonb, '', md5('event' || c.id) || md5(c.id)
FROM cases c
WHERE c.number BETWEEN 'B' || lpad(CAST(:first AS text), 12, '0') AND 'B' || lpad(CAST(:last AS text), 12, '0')
"""


def generate(svc, first: int, last: int) -> None:
    with reading(svc.sessions) as s:
        applicant = s.scalar(select(User.id).where(User.username == "company"))
        clerk = s.scalar(select(User.id).where(User.username == "tb.clerk"))
    for start in range(first, last + 1, BATCH):
        end = min(last, start + BATCH - 1)
        with svc.db.begin() as conn:
            params = {"first": start, "last": end, "applicant": applicant, "clerk": clerk}
            conn.execute(text(CASES_SQL), params)
            conn.execute(text(TASKS_SQL), params)
            conn.execute(text(EVENTS_SQL), params)
        print(f"  generated {end:,} cases", file=sys.stderr, flush=True)
    with svc.db.begin() as conn:
        tallies.rebuild(conn)  # the generator writes rows directly, as a bulk load would
    print("  recounted the tallies", file=sys.stderr, flush=True)
    with svc.db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE cases"))
        conn.execute(text("VACUUM ANALYZE human_tasks"))


def measure_reports(svc, runs: int) -> list[tuple[str, float]]:
    now = utcnow()
    city = sla.Scope(None, now - timedelta(days=365), now)
    agency = sla.Scope("TB", now - timedelta(days=365), now)

    def run(fn, *args):
        def call():
            with reading(svc.sessions) as s:
                return fn(s, *args)
        return call

    def count_all(s):
        return s.scalar(select(func.count()).select_from(Case))

    return [
        ("count(*) over cases", timed(run(count_all), runs)),
        ("compliance (city, 12 months)", timed(run(sla.compliance, city), runs)),
        ("compliance (交通局, 12 months)", timed(run(sla.compliance, agency), runs)),
        ("stage compliance (交通局)", timed(run(sla.stage_compliance, agency), runs)),
        ("overdue list (交通局)", timed(run(sla.overdue, agency), runs)),
        ("workload (交通局)", timed(run(sla.workload, agency), runs)),
        ("cycle times (交通局)", timed(run(sla.cycle_times, agency), runs)),
        ("KPI panel (city)", timed(run(kpi.panel, city), runs)),
    ]


def measure_inbox(svc, runs: int) -> float:
    with reading(svc.sessions) as s:
        clerk = Actor.from_user(s.scalar(select(User).where(User.username == "tb.clerk")))

    def call():
        with reading(svc.sessions) as s:
            return worklists.inbox(s, clerk)

    return timed(call, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres-url", default=DEFAULT_URL)
    args = parser.parse_args()
    with postgres_url(args.postgres_url) as url:
        if url is None:
            raise SystemExit("PostgreSQL is not reachable")
        print("migrate and seed", file=sys.stderr, flush=True)
        svc = build_services(url)
        try:
            generate(svc, 1, args.small)
            inbox_small = measure_inbox(svc, args.runs)
            generate(svc, args.small + 1, args.cases)
            figures = measure_reports(svc, args.runs)
            inbox_big = measure_inbox(svc, args.runs)
        finally:
            svc.db.dispose()
    baseline = figures[0][1]
    print(f"postgresql, {args.cases:,} cases (2 tasks and 1 audit event each), median of {args.runs} runs:")
    for name, ms in figures:
        ratio = "" if name.startswith("count") else f"  ({ms / baseline:.1f}× count(*))"
        print(f"  {name:<34} {ms:9.1f} ms{ratio}")
    print(f"  clerk's inbox at {args.small:,} cases   {inbox_small:9.1f} ms")
    print(f"  clerk's inbox at {args.cases:,} cases {inbox_big:9.1f} ms")


if __name__ == "__main__":
    main()
