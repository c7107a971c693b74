"""Benchmark of the case engine on the large-vehicle permit flow.

The flow: the applicant starts a case, the traffic clerk accepts it for
co-signing, the two police sub-bureaus on the route (永康區 -> TNPD-YK,
新市區 -> TNPD-SH) co-sign in parallel, the clerk approves and the permit is
issued. That is one start, four claims and four task completions per case.

Two measurements, interleaved case by case so that both see the same load:

* persisted -- for each database (SQLite in a temporary directory; PostgreSQL
  when reachable) the schema is migrated, the demo data seeded, and N cases run
  through ``CaseEngine.start_case`` / ``claim`` / ``complete_task`` as the demo
  users would. Every command call is timed on its own. The SQL statements each
  command sends (BEGIN and COMMIT excluded) are counted over a few more cases
  after the timed ones, at the driver. Cases per second is N over
  the summed wall-clock time of the N cases, which includes looking up the open
  tasks between commands.
* in-memory -- the same cases with SpiffWorkflow alone: per completion, JSON
  text -> dict -> ``load_state``, set the task data, run the task and the
  engine steps, list the ready user tasks, ``dump_state`` -> JSON text. Service
  tasks use offline handlers that return what the real ones return.

The headline is the median time per task completion, persisted against
in-memory, and its ratio. A few warm-up cases precede each measurement.

On PostgreSQL every command ends with a durable commit, which waits for the
server to flush its WAL to disk; SQLite (WAL mode, synchronous=NORMAL) does not
wait for the disk at commit. How long that flush takes depends on the disk and
on what else is writing to it, and waking a server process that slept while
the client worked depends on the machine, so the report also gives, for the
same server just after the run, the median time of a one-row commit: after as
much client work as an in-memory completion takes (the floor under every
command), back to back, and back to back without waiting for the flush.

Run:

    .venv/bin/python bench/engine_bench.py [--cases 200] [--profile]
        [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/onestop_bench]

The PostgreSQL database named in the URL (also read from BENCH_DATABASE_URL) is
dropped and recreated at the start and dropped at the end. Progress goes to
stderr; ``--profile`` also profiles a batch of further persisted cases per
database with cProfile and prints the top entries to stderr.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import json
import os
import pstats
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import create_engine, event, func, select, text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402
from werkzeug.datastructures import MultiDict  # noqa: E402

from engine.access import Actor  # noqa: E402
from engine.db import reading  # noqa: E402
from engine.documents import Upload  # noqa: E402
from engine.forms import FormRegistry, UploadInfo  # noqa: E402
from engine.migrate import upgrade  # noqa: E402
from engine.models import Case, HumanTask, Permit, User  # noqa: E402
from engine.workflow import (  # noqa: E402
    ParsedDefinition,
    RestrictedScriptEngine,
    dump_state,
    load_state,
    new_workflow,
    parse_definition,
    ready_user_tasks,
    task_properties,
)
from tests.factories import PDF, PNG, application_form  # noqa: E402
from webapp import services  # noqa: E402
from webapp.seed import POLICE_SUB_BUREAUS, seed  # noqa: E402

SERVICE = "large_vehicle_permit"
BPMN_DIR = ROOT / "bpmn"
BPMN = BPMN_DIR / "large_vehicle_permit.bpmn"
FORMS_DIR = ROOT / "forms"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/onestop_bench"
WARMUP_CASES = 3
PROGRESS_EVERY = 50
PROFILE_CASES = 50

APPLICANT = "company"
CLERK = "tb.clerk"
COSIGNER_BY_AGENCY = {"TNPD-YK": "police.yk", "TNPD-SH": "police.sh"}
USERNAMES = [APPLICANT, CLERK, *COSIGNER_BY_AGENCY.values()]

T = TypeVar("T")


# -- shared inputs ---------------------------------------------------------

@dataclass(frozen=True)
class Inputs:
    """What the users submit: the application with its uploads, and each task form's data."""

    application: dict
    uploads: dict[str, Upload]
    submitted: dict[str, dict]  # form key -> data as Form.parse would produce it


def build_inputs(forms: FormRegistry) -> Inputs:
    uploads = {
        "attachments-contract": Upload("attachments-contract", "contract.pdf", PDF),
        "attachments-route_map": Upload("attachments-route_map", "route.png", PNG),
    }
    infos = {name: UploadInfo(u.filename, u.content_type, u.size) for name, u in uploads.items()}
    application = forms.get("lvp_application").parse(MultiDict(application_form()), infos)
    conditions = forms.get("lvp_decision").defaults()["conditions"]
    submitted = {
        "lvp_intake": {"decision": "cosign"},
        "lvp_cosign": {"opinion": "agree", "comment": "無意見"},
        "lvp_decision": {"decision": "approve", "conditions": conditions},
    }
    for key, data in submitted.items():
        errors = forms.get(key).validate(data)
        if errors:
            raise SystemExit(f"sample data for {key} is invalid: {errors}")
    return Inputs(application, uploads, submitted)


# -- timing ----------------------------------------------------------------

@dataclass
class Timings:
    """Milliseconds per call by command, SQL statements per call, and time spent on whole cases."""

    start: list[float] = field(default_factory=list)
    claim: list[float] = field(default_factory=list)
    complete: list[float] = field(default_factory=list)
    statements: dict[str, list[int]] = field(default_factory=dict)
    case_seconds: float = 0.0
    cases: int = 0

    @property
    def cases_per_second(self) -> float:
        return self.cases / self.case_seconds if self.case_seconds else 0.0

    def statements_per_call(self, command: str) -> float:
        counts = self.statements.get(command, [])
        return sum(counts) / len(counts) if counts else 0.0


def timed(samples: list[float], fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    samples.append((time.perf_counter() - started) * 1000.0)
    return result


def median_ms(fn: Callable[[], object], runs: int) -> float:
    """Median milliseconds of ``runs`` calls after one warm-up call (for the read-side benches)."""
    fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def median(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


def percentile(samples: list[float], pct: int) -> float:
    return statistics.quantiles(samples, n=100)[pct - 1] if len(samples) > 1 else median(samples)


CaseRunner = Callable[[Timings], None]


def run_timed_case(run_case: CaseRunner, timings: Timings) -> None:
    started = time.perf_counter()
    run_case(timings)
    timings.case_seconds += time.perf_counter() - started
    timings.cases += 1


def measure(label: str, n: int, runners: dict[str, CaseRunner]) -> dict[str, Timings]:
    """A short warm-up, then ``n`` rounds of one case per runner, in turn.

    Interleaving keeps the compared runners under the same machine load; each
    case is timed on its own and the case times are summed for cases per second.
    """
    for run_case in runners.values():
        for _ in range(WARMUP_CASES):
            run_case(Timings())
    timings = {name: Timings() for name in runners}
    for i in range(1, n + 1):
        for name, run_case in runners.items():
            run_timed_case(run_case, timings[name])
        if i % PROGRESS_EVERY == 0 or i == n:
            print(f"  {label}: {i}/{n} cases", file=sys.stderr, flush=True)
    return timings


# -- in-memory: SpiffWorkflow alone ----------------------------------------

DISTRICT_UNITS = {d: code for code, (_, districts) in POLICE_SUB_BUREAUS.items() for d in districts}


def offline_handlers() -> Callable[[str, dict, dict], Any]:
    """Service-task results shaped like the real handlers', without a database."""
    numbers = itertools.count(1)

    def call(operation: str, params: dict, data: dict) -> Any:
        if operation == "directory.police_for_districts":
            return sorted({DISTRICT_UNITS[d] for d in params["districts"]})
        if operation == "permit.issue":
            return {"number": f"LVP-2025-{next(numbers):06d}"}
        raise LookupError(f"no offline handler for {operation!r}")

    return call


def stored_application(inputs: Inputs) -> dict:
    """The application as the engine keeps it: uploads replaced by document descriptors."""
    application = json.loads(json.dumps(inputs.application))
    for i, (name, upload) in enumerate(sorted(inputs.uploads.items())):
        key = name.split("-", 1)[1]
        application["attachments"][key] = {
            "document_id": f"{i:032x}",
            "filename": upload.filename,
            "content_type": upload.content_type,
            "size": upload.size,
            "upload": None,
        }
    return application


@dataclass(frozen=True)
class ReadyTask:
    id: UUID
    form_key: str
    result_key: str | None


def ready_tasks(workflow) -> list[ReadyTask]:
    found = []
    for task in ready_user_tasks(workflow):
        props = task_properties(task)
        found.append(ReadyTask(task.id, props["formKey"], props.get("resultKey")))
    return found


def run_engine_steps(workflow) -> None:
    """What ``CaseEngine._run`` does after a change."""
    workflow.do_engine_steps()
    workflow.refresh_waiting_tasks()
    workflow.do_engine_steps()


class InMemoryFlow:
    """The same cases with SpiffWorkflow only; the state travels as JSON text between steps."""

    def __init__(self, forms: FormRegistry, inputs: Inputs) -> None:
        self.parsed: ParsedDefinition = parse_definition(BPMN.read_bytes())
        self.script_engine = RestrictedScriptEngine(offline_handlers())
        self.application = stored_application(inputs)
        self.results = {  # what complete_task stores: every form property, None when absent
            key: {name: data.get(name) for name in forms.get(key).schema["properties"]}
            for key, data in inputs.submitted.items()
        }

    def run_case(self, t: Timings) -> None:
        stored, ready = timed(t.start, self.start)
        while ready:  # the second co-sign task is still listed after the first is done
            stored, ready = timed(t.complete, self.complete, stored, ready[0])
        if json.loads(stored)["data"].get("outcome") != "approved":
            raise RuntimeError("in-memory case did not end approved")

    def start(self) -> tuple[str, list[ReadyTask]]:
        workflow = new_workflow(self.parsed, self.script_engine)
        workflow.task_tree.data.update({"application": self.application, "previous": None})
        run_engine_steps(workflow)
        ready = ready_tasks(workflow)
        return json.dumps(dump_state(workflow)), ready

    def complete(self, stored: str, task: ReadyTask) -> tuple[str, list[ReadyTask]]:
        workflow = load_state(json.loads(stored), self.parsed, self.script_engine)
        spiff_task = workflow.get_task_from_id(task.id)
        result = dict(self.results[task.form_key])
        if task.result_key:
            spiff_task.data[task.result_key] = result
        else:
            spiff_task.data.update(result)
        spiff_task.run()
        run_engine_steps(workflow)
        ready = ready_tasks(workflow)
        return json.dumps(dump_state(workflow)), ready


# -- persisted: the case engine on a database ------------------------------

@dataclass(frozen=True)
class OpenTask:
    id: str
    agency_code: str | None


class PersistedFlow:
    """Drives the permit flow through the engine's commands as the demo users."""

    def __init__(self, svc: services.Services, inputs: Inputs) -> None:
        self.engine = svc.engine
        self.sessions = svc.sessions
        self.inputs = inputs
        self.actors = load_actors(svc)
        self.sent = 0  # SQL statements sent on watched connections (see count_statements)

    def _count(self, statement: str | bytes) -> None:
        sql = statement.decode() if isinstance(statement, bytes) else str(statement)
        if not sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            self.sent += 1

    def watch(self, dbapi_connection: Any, _record: Any) -> None:
        """Count what a new connection's driver sends, through SQLAlchemy or from the engine's store."""
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.set_trace_callback(self._count)
            return
        flow = self

        class CountingCursor(psycopg.Cursor):
            def execute(self, query, params=None, **kwargs):
                flow._count(query if isinstance(query, (str, bytes)) else query.as_string(self))
                return super().execute(query, params, **kwargs)

        dbapi_connection.cursor_factory = CountingCursor

    def run_case(self, t: Timings) -> None:
        started = self.command(t, "start", t.start, self.engine.start_case, self.actors[APPLICANT],
                               SERVICE, self.inputs.application, uploads=self.inputs.uploads)
        case_id = started.case_id
        (intake,) = self.open_tasks(case_id)
        self.work(t, CLERK, intake, "lvp_intake")
        cosigns = self.open_tasks(case_id)
        if len(cosigns) != len(COSIGNER_BY_AGENCY):
            raise RuntimeError(f"expected {len(COSIGNER_BY_AGENCY)} co-sign tasks, got {cosigns}")
        for task in cosigns:
            self.work(t, COSIGNER_BY_AGENCY[task.agency_code], task, "lvp_cosign")
        (decide,) = self.open_tasks(case_id)
        self.work(t, CLERK, decide, "lvp_decision")

    def work(self, t: Timings, username: str, task: OpenTask, form_key: str) -> None:
        actor = self.actors[username]
        self.command(t, "claim", t.claim, self.engine.claim, actor, task.id)
        self.command(t, "complete", t.complete, self.engine.complete_task, actor, task.id,
                     self.inputs.submitted[form_key])

    def command(self, t: Timings, name: str, samples: list[float], fn: Callable[..., T],
                *args: Any, **kwargs: Any) -> T:
        """Run one engine command, timing it and counting the SQL statements it sends."""
        before = self.sent
        result = timed(samples, fn, *args, **kwargs)
        t.statements.setdefault(name, []).append(self.sent - before)
        return result

    def open_tasks(self, case_id: str) -> list[OpenTask]:
        """What the inbox would show for the case; not part of any timed command."""
        with reading(self.sessions) as s:
            rows = s.execute(
                select(HumanTask.id, HumanTask.agency_code)
                .where(HumanTask.case_id == case_id, HumanTask.status == "open")
                .order_by(HumanTask.agency_code)
            ).all()
        return [OpenTask(row.id, row.agency_code) for row in rows]

    def check_outcome(self, expected: int) -> None:
        """Every case must have ended approved with a permit issued."""
        with reading(self.sessions) as s:
            approved = s.scalar(select(func.count()).select_from(Case).where(
                Case.status == "closed", Case.outcome == "approved"))
            permits = s.scalar(select(func.count()).select_from(Permit))
        if approved != expected or permits != expected:
            raise RuntimeError(f"expected {expected} approved cases with permits, "
                               f"found {approved} approved and {permits} permits")


def load_actors(svc: services.Services) -> dict[str, Actor]:
    with reading(svc.sessions) as s:
        users = s.scalars(select(User).where(User.username.in_(USERNAMES))).all()
        return {u.username: Actor.from_user(u, ip="127.0.0.1") for u in users}


def build_services(url: str) -> services.Services:
    upgrade(url)
    svc = services.build({"DATABASE_URL": url, "FORMS_DIR": str(FORMS_DIR),
                          "PUBLIC_BASE_URL": "http://onestop.bench", "SECRET_KEY": "bench"})
    seed(svc.engine, BPMN_DIR)
    return svc


@dataclass
class DatabaseResult:
    name: str
    persisted: Timings
    in_memory: Timings
    counted: Timings
    profile: str | None = None
    commits: CommitCosts | None = None  # PostgreSQL only


COMMIT_SAMPLES = 100


@dataclass(frozen=True)
class CommitCosts:
    """Median ms of a one-row commit on the bench database (PostgreSQL)."""

    pause_ms: float     # the client work before each ``after_pause`` commit
    after_pause: float  # durable, after the client worked for ``pause_ms`` as it does between commands
    durable: float      # durable, back to back
    unflushed: float    # back to back, not waiting for the WAL flush


def client_work(ms: float) -> None:
    """Keep this process busy for ``ms`` allocating small objects, as the engine's Python does."""
    end = time.perf_counter() + ms / 1000.0
    while time.perf_counter() < end:
        [bytearray(256) for _ in range(16)]


def commit_costs(svc: services.Services, pause_ms: float, n: int = COMMIT_SAMPLES) -> CommitCosts:
    """The floor under every PostgreSQL command: what a one-row commit costs here.

    Back to back, the server process is busy and warm. Between the engine's
    commands the client works for a millisecond or more and the server sleeps;
    waking it costs more, on some machines several times more, so the commit
    is also timed after ``pause_ms`` of client work. The kinds alternate, so
    all see the same load.
    """
    raw = svc.db.raw_connection()
    try:
        conn = raw.driver_connection
        conn.autocommit = True  # each UPDATE is a transaction of its own
        conn.execute("CREATE TABLE bench_commit_probe (id integer PRIMARY KEY, n integer NOT NULL)")
        conn.execute("INSERT INTO bench_commit_probe VALUES (1, 0)")
        samples: dict[str, list[float]] = {"after_pause": [], "durable": [], "unflushed": []}
        for _ in range(n):
            for kind, out in samples.items():
                conn.execute(f"SET synchronous_commit = {'off' if kind == 'unflushed' else 'on'}")
                if kind == "after_pause":
                    client_work(pause_ms)
                started = time.perf_counter()
                conn.execute("UPDATE bench_commit_probe SET n = n + 1 WHERE id = 1")
                out.append((time.perf_counter() - started) * 1000.0)
        conn.execute("RESET synchronous_commit")
        conn.execute("DROP TABLE bench_commit_probe")
        conn.autocommit = False
    finally:
        raw.close()
    return CommitCosts(pause_ms, **{kind: median(out) for kind, out in samples.items()})


def bench_database(name: str, url: str, n: int, inputs: Inputs, memory: InMemoryFlow,
                   profile: bool) -> DatabaseResult:
    print(f"{name}: migrate and seed", file=sys.stderr, flush=True)
    svc = build_services(url)
    try:
        flow = PersistedFlow(svc, inputs)
        timings = measure(name, n, {"persisted": flow.run_case, "in-memory": memory.run_case})
        flow.check_outcome(n + WARMUP_CASES)
        counted = count_statements(svc, flow)
        pause = median(timings["in-memory"].complete)
        commits = commit_costs(svc, pause) if svc.db.dialect.name == "postgresql" else None
        report = profile_cases(flow, min(n, PROFILE_CASES)) if profile else None
        return DatabaseResult(name, timings["persisted"], timings["in-memory"], counted, report, commits)
    finally:
        svc.db.dispose()


COUNT_CASES = 5


def count_statements(svc: services.Services, flow: PersistedFlow, n: int = COUNT_CASES) -> Timings:
    """SQL statements per command, over ``n`` more cases after the timed ones.

    Counting sees every statement the drivers send (SQLite's trace callback
    even writes out each statement with its parameters), so it stays out of
    the timed cases.
    """
    svc.db.dispose()
    event.listen(svc.db, "connect", flow.watch)
    try:
        counted = Timings()
        for _ in range(n):
            flow.run_case(counted)
    finally:
        event.remove(svc.db, "connect", flow.watch)
        svc.db.dispose()
    return counted


def profile_cases(flow: PersistedFlow, n: int) -> str:
    """cProfile over ``n`` more persisted cases (after the measured ones)."""
    profiler = cProfile.Profile()
    scratch = Timings()
    profiler.enable()
    for _ in range(n):
        flow.run_case(scratch)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    out.write(f"{n} cases, sorted by cumulative time\n")
    stats.sort_stats("cumulative").print_stats(25)
    out.write(f"{n} cases, sorted by own time\n")
    stats.sort_stats("tottime").print_stats(15)
    return out.getvalue()


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="onestop-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'onestop.db'}"


@contextmanager
def postgres_url(url: str) -> Iterator[str | None]:
    """A freshly created database at ``url``, or ``None`` when the server is unreachable."""
    base, name = url.rsplit("/", 1)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise SystemExit(f"unsupported database name {name!r}")
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        print(f"postgresql: skipped, server not reachable ({reason})", file=sys.stderr)
        yield None
        return
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- report ----------------------------------------------------------------

def print_report(results: list[DatabaseResult]) -> None:
    """The headline lines, then cases per second, then the other commands' figures."""
    for r in results:
        persisted, in_memory = median(r.persisted.complete), median(r.in_memory.complete)
        print(f"{r.name}: persisted {persisted:.1f} ms, in-memory {in_memory:.1f} ms, "
              f"ratio {persisted / in_memory:.2f}")
    for r in results:
        t = r.persisted
        print(f"{r.name}: {t.cases_per_second:.1f} cases/s "
              f"({t.cases} cases, {len(t.complete)} task completions)")
    for r in results:
        t, c = r.persisted, r.counted
        print(f"{r.name}: median start {median(t.start):.1f} ms, claim {median(t.claim):.1f} ms, "
              f"complete p90 {percentile(t.complete, 90):.1f} ms; SQL statements per call: "
              f"start {c.statements_per_call('start'):.1f}, claim {c.statements_per_call('claim'):.1f}, "
              f"complete {c.statements_per_call('complete'):.1f}; "
              f"in-memory {r.in_memory.cases_per_second:.1f} cases/s")
    for r in results:
        if r.commits is not None:
            c = r.commits
            print(f"{r.name}: a one-row commit takes {c.after_pause:.2f} ms after {c.pause_ms:.1f} ms "
                  f"of client work, as between commands; back to back {c.durable:.2f} ms, "
                  f"{c.unflushed:.2f} ms without waiting for the WAL flush")


def print_profiles(results: list[DatabaseResult]) -> None:
    for r in results:
        if r.profile:
            print(f"\n===== {r.name}: where persisted time goes =====", file=sys.stderr)
            print(r.profile, file=sys.stderr)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=200, help="cases per measurement (default 200)")
    parser.add_argument("--profile", action="store_true",
                        help=f"also profile {PROFILE_CASES} persisted cases per database (stderr)")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG_URL),
                        help="database to drop, recreate and use (default %(default)s)")
    args = parser.parse_args(argv)
    if args.cases < 1:
        parser.error("--cases must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    forms = FormRegistry(FORMS_DIR)
    inputs = build_inputs(forms)
    memory = InMemoryFlow(forms, inputs)

    results = []
    with sqlite_url() as url:
        results.append(bench_database("sqlite", url, args.cases, inputs, memory, args.profile))
    with postgres_url(args.postgres_url) as url:
        if url is not None:
            results.append(bench_database("postgresql", url, args.cases, inputs, memory, args.profile))

    print_profiles(results)
    print_report(results)


if __name__ == "__main__":
    main()
