"""The engine's hot-path statements, sent through the DBAPI in as few round trips as possible.

A command reads its task and case in one statement (or not at all, when it starts
from the in-process snapshot of ``engine.live``), works in memory, then hands
this module a ``WriteBatch``: the guarded case update, the derived task rows, the
tallies, the audit events and the idempotency record.

On PostgreSQL the whole batch is one statement, a call of ``onestop_write``
(``write_function_sql``, installed by migration 0019). The function checks the
guards and raises (SQLSTATE ``OS409``) when one does not hold, so nothing of a
lost race is written. When the command sent nothing else (it never opened its
session, see ``engine.db.LazySession``, or has not used it yet), the call runs
as a transaction of its own: one message, one round trip, one durable commit.
Otherwise it goes out with the COMMIT in one pipeline. On SQLite the statements
run in turn on the already locked connection and the rows they changed are
counted here.

Rows written here are the same rows the ORM reads: timestamps are UTC (naive
text on SQLite, as SQLAlchemy stores them) and JSON is the same JSON
SQLAlchemy would write.
"""
from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson
import psycopg
from psycopg import pq
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from . import audit, tallies
from .db import LazySession, sqlite_time
from .errors import CaseConflict

CONFLICT_MESSAGE = "case changed since it was loaded"
DUPLICATE_MESSAGE = "the same request is being processed"
GUARD_SQLSTATE = "OS409"

_CASE_COLUMNS = ("revision", "state", "updated_at", "next_timer_at", "stage", "fields", "status",
                 "closed_at", "outcome", "due_at")
_TASK_COLUMNS = ("id", "case_id", "spec_name", "name", "lane", "role", "agency_code", "form_key",
                 "status", "assignee_id", "completed_by", "created_at", "claimed_at", "due_at",
                 "completed_at", "result", "context", "remind_at")
_REQUEST_COLUMNS = ("key", "actor_id", "command", "response", "created_at")
_JSON = {"state", "fields", "result", "context", "response"}
_TIMES = {"updated_at", "next_timer_at", "closed_at", "created_at", "claimed_at", "due_at", "remind_at",
          "completed_at", "at"}
_READ_TIMES = ("due_at", "task_created_at")
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_NAIVE_UTC

_READ_TASK = """
SELECT t.id AS task_id, t.role, t.agency_code, t.status AS task_status, t.assignee_id, t.form_key,
       t.spec_name, t.name AS task_name, t.created_at AS task_created_at, c.id, c.number,
       c.service_key, c.owner_agency, c.applicant_id, c.agent_id, c.revision, c.definition_id,
       c.status, c.due_at, s.search_fields{state}
FROM human_tasks t JOIN cases c ON c.id = t.case_id JOIN services s ON s.key = c.service_key
WHERE t.id = :task_id"""

_PG_WRITE = (
    "SELECT onestop_write(%(case_id)s, CAST(%(seen)s AS integer), %(full)s, CAST(%(case)s AS jsonb), "
    "CAST(%(state)s AS json), CAST(%(new_tasks)s AS jsonb), %(task_op)s, CAST(%(task)s AS jsonb), "
    "CAST(%(cancelled)s AS text[]), %(cancelled_at)s, %(closed)s, CAST(%(events)s AS jsonb), "
    "%(genesis)s, CAST(%(request)s AS jsonb))"
)
_TASK_OPS = {"assign_task": "assign", "complete_task": "complete"}


def write_function_sql() -> str:
    """``onestop_write``: every write of one command, as one PostgreSQL statement.

    The parameters are the parts of a ``WriteBatch`` (see ``_pg_params``). Rows
    travel as JSON and become typed rows with ``jsonb_populate_record``, except
    the workflow state, which is passed as ``json`` so that it is not parsed
    into ``jsonb`` and back. The tallies are the statements ``engine.tallies``
    writes for SQLite, so both databases count alike, and the audit events are
    chained by ``audit.pg_append_block``. A change to what this
    generates needs a migration that installs it again; a test checks that the
    function in a migrated database is the one this code generates.
    """
    task_columns = ", ".join(_TASK_COLUMNS)
    request_columns = ", ".join(_REQUEST_COLUMNS)
    case_sets = ", ".join("state = p_state" if c == "state" else f"{c} = v_case.{c}" for c in _CASE_COLUMNS)
    guard = (f"IF v_changed <> 1 THEN RAISE EXCEPTION '{CONFLICT_MESSAGE}' "
             f"USING ERRCODE = '{GUARD_SQLSTATE}'; END IF;")
    return f"""
CREATE OR REPLACE FUNCTION onestop_write(
    p_case_id text, p_seen integer, p_full boolean, p_case jsonb, p_state json,
    p_new_tasks jsonb, p_task_op text, p_task jsonb,
    p_cancelled text[], p_cancelled_at timestamptz, p_closed boolean,
    p_events jsonb, p_genesis text, p_request jsonb
) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    v_case cases;
    v_task human_tasks;
    v_changed bigint;
    {audit.PG_APPEND_VARIABLES}
BEGIN
    IF p_case_id IS NOT NULL THEN
        v_case := jsonb_populate_record(NULL::cases, p_case);
        IF p_full THEN
            UPDATE cases SET {case_sets} WHERE id = p_case_id AND revision = p_seen;
        ELSE
            UPDATE cases SET revision = v_case.revision, updated_at = v_case.updated_at
            WHERE id = p_case_id AND revision = p_seen;
        END IF;
        GET DIAGNOSTICS v_changed = ROW_COUNT;
        {guard}
    END IF;
    IF p_new_tasks IS NOT NULL THEN
        INSERT INTO human_tasks ({task_columns})
        SELECT {task_columns} FROM jsonb_populate_recordset(NULL::human_tasks, p_new_tasks);
    END IF;
    IF p_task_op IS NOT NULL THEN
        v_task := jsonb_populate_record(NULL::human_tasks, p_task);
        IF p_task_op = 'assign' THEN
            UPDATE human_tasks SET assignee_id = v_task.assignee_id, claimed_at = v_task.claimed_at
            WHERE id = v_task.id AND status = 'open';
            GET DIAGNOSTICS v_changed = ROW_COUNT;
        ELSE
            WITH changed AS (
                UPDATE human_tasks SET status = 'completed', completed_at = v_task.completed_at,
                       completed_by = v_task.completed_by, assignee_id = v_task.assignee_id,
                       result = v_task.result
                WHERE id = v_task.id AND status = 'open' RETURNING *
            ), counted AS ({tallies.count_task_sql("postgresql", source="changed", where="true")})
            SELECT count(*) INTO v_changed FROM changed;
        END IF;
        {guard}
    END IF;
    IF p_cancelled IS NOT NULL THEN
        UPDATE human_tasks SET status = 'cancelled', completed_at = p_cancelled_at
        WHERE status = 'open' AND id = ANY(p_cancelled);
    END IF;
    IF p_closed THEN
        {tallies.count_case_sql("postgresql", case_id="p_case_id")};
    END IF;
{audit.pg_append_block("p_events", "p_genesis")}
    IF p_request IS NOT NULL THEN
        INSERT INTO idempotency_keys ({request_columns})
        SELECT {request_columns} FROM jsonb_populate_record(NULL::idempotency_keys, p_request);
    END IF;
END
$fn$"""


def _statements() -> dict[str, str]:
    """The SQLite statements; on PostgreSQL ``onestop_write`` does the same work."""
    sets = ", ".join(f"{c} = :{c}" for c in _CASE_COLUMNS)
    return {
        "read_task": _READ_TASK.format(state=""),
        "read_task_state": _READ_TASK.format(state=", c.state AS state_text"),
        "save_case": f"UPDATE cases SET {sets} WHERE id = :b_id AND revision = :b_revision",
        "bump_case": ("UPDATE cases SET revision = :revision, updated_at = :updated_at "
                      "WHERE id = :b_id AND revision = :b_revision"),
        "insert_task": (f"INSERT INTO human_tasks ({', '.join(_TASK_COLUMNS)}) VALUES "
                        f"({', '.join(':' + c for c in _TASK_COLUMNS)})"),
        "assign_task": ("UPDATE human_tasks SET assignee_id = :assignee_id, claimed_at = :claimed_at "
                        "WHERE id = :b_id AND status = 'open'"),
        "complete_task": ("UPDATE human_tasks SET status = 'completed', completed_at = :completed_at, "
                          "completed_by = :completed_by, assignee_id = :assignee_id, "
                          "result = :result WHERE id = :b_id AND status = 'open'"),
        "remember_request": (f"INSERT INTO idempotency_keys ({', '.join(_REQUEST_COLUMNS)}) VALUES "
                             f"({', '.join(':' + c for c in _REQUEST_COLUMNS)})"),
        "count_case": tallies.count_case_sql("sqlite"),
        "count_task": tallies.count_task_sql("sqlite"),
    }


_PG_READS = {
    "read_task": re.sub(r":(\w+)", r"%(\1)s", _READ_TASK.format(state="")),
    "read_task_state": re.sub(r":(\w+)", r"%(\1)s",
                              _READ_TASK.format(state=", CAST(c.state AS text) AS state_text")),
}


def _as_datetime(value) -> datetime | None:
    """Aware UTC, whether the driver gave a datetime (PostgreSQL) or SQLite's text."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)


@dataclass
class WriteBatch:
    """Everything one command writes besides what handlers wrote through the session."""

    case: dict | None = None          # save_case or bump_case parameters
    bump_only: bool = False
    new_tasks: list[dict] = field(default_factory=list)
    task_update: tuple[str, dict] | None = None   # ("assign_task" | "complete_task", params)
    cancelled: list[str] = field(default_factory=list)
    cancelled_at: datetime | None = None
    events: list[dict] = field(default_factory=list)
    request: dict | None = None       # idempotency record: key, actor_id, command, response, created_at

    @property
    def closes_case(self) -> bool:
        return bool(self.case and self.case.get("closed_at") and self.case.get("status") == "closed")


class CaseStore:
    def __init__(self, db: Engine) -> None:
        self.db = db
        self.dialect = db.dialect.name
        self.sql = _PG_READS if self.dialect == "postgresql" else _statements()

    # -- reads -------------------------------------------------------------

    def read_task(self, s: Session, task_id: str, with_state: bool = False) -> dict | None:
        driver = s.connection().connection.driver_connection
        cursor = driver.cursor()
        try:
            sql = self.sql["read_task_state" if with_state else "read_task"]
            if self.dialect == "postgresql":
                with driver.pipeline():  # the transaction's BEGIN travels with the query
                    cursor.execute(sql, {"task_id": task_id})
            else:
                cursor.execute(sql, {"task_id": task_id})
            row = cursor.fetchone()
            if row is None:
                return None
            names = [d[0] for d in cursor.description]
        finally:
            cursor.close()
        found = dict(zip(names, row))
        for name in _READ_TIMES:
            found[name] = _as_datetime(found[name])
        fields = found["search_fields"]
        found["search_fields"] = orjson.loads(fields) if isinstance(fields, (str, bytes)) else fields or {}
        return found

    # -- writes ------------------------------------------------------------

    def write(self, s: Session | LazySession, batch: WriteBatch) -> None:
        """Run the batch and commit the session's transaction; CaseConflict if a guard did not hold.

        Nothing may be written in the session after it. A session that was
        never opened has nothing of its own to commit: the batch is then a
        transaction of its own on a connection from the pool.
        """
        if isinstance(s, LazySession) and not s.opened:
            self._write_alone(batch)
            return
        s.flush()
        driver = s.connection().connection.driver_connection
        if self.dialect == "postgresql":
            _write_postgresql(driver, batch)
        else:
            self._write_sqlite(driver, batch)

    def _write_alone(self, batch: WriteBatch) -> None:
        pooled = self.db.raw_connection()
        try:
            driver = pooled.driver_connection
            if self.dialect == "postgresql":
                _write_postgresql(driver, batch)
                return
            driver.execute("BEGIN IMMEDIATE")
            try:
                self._write_sqlite(driver, batch)
            except BaseException:
                driver.execute("ROLLBACK")
                raise
            driver.execute("COMMIT")
        finally:
            pooled.close()

    def _write_sqlite(self, driver: sqlite3.Connection, batch: WriteBatch) -> None:
        guarded = []
        try:
            for sql, params, guard in self._sqlite_statements(batch):
                cursor = driver.cursor()
                cursor.execute(sql, params)
                if guard:
                    guarded.append(cursor)
            audit.sqlite_append(driver, batch.events)
        except sqlite3.IntegrityError as exc:
            raise _conflict_from(str(exc)) or exc
        if any(cursor.rowcount != 1 for cursor in guarded):
            raise CaseConflict(CONFLICT_MESSAGE)

    def _sqlite_statements(self, batch: WriteBatch) -> list[tuple[str, dict, bool]]:
        """(SQL, parameters, whether it must change exactly one row) for each write."""
        out = []
        if batch.case is not None:
            out.append((self.sql["bump_case" if batch.bump_only else "save_case"],
                        _sqlite_params(batch.case), True))
        out.extend((self.sql["insert_task"], _sqlite_params(row), False) for row in batch.new_tasks)
        if batch.task_update is not None:
            statement, params = batch.task_update
            out.append((self.sql[statement], _sqlite_params(params), True))
            if statement == "complete_task":
                out.append((self.sql["count_task"], {"task_id": params["b_id"]}, False))
        if batch.cancelled:
            marks = ", ".join(f":c{i}" for i in range(len(batch.cancelled)))
            sql = (f"UPDATE human_tasks SET status = 'cancelled', completed_at = :completed_at "
                   f"WHERE status = 'open' AND id IN ({marks})")
            out.append((sql, {"completed_at": _sqlite_value("completed_at", batch.cancelled_at),
                              **{f"c{i}": v for i, v in enumerate(batch.cancelled)}}, False))
        if batch.closes_case:
            out.append((self.sql["count_case"], {"case_id": batch.case["b_id"]}, False))
        if batch.request is not None:
            out.append((self.sql["remember_request"], _sqlite_params(batch.request), False))
        return out


def _sqlite_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _JSON:
        return _json(value)
    if name in _TIMES:
        return sqlite_time(value)
    return value


def _sqlite_params(params: dict) -> dict:
    return {k: _sqlite_value(k, v) for k, v in params.items()}


def _write_postgresql(driver: psycopg.Connection, batch: WriteBatch) -> None:
    """One call of ``onestop_write``, committed.

    When the transaction has sent nothing yet (the command started from its
    snapshot and no handler wrote), the call is a transaction of its own.
    Otherwise the call and the COMMIT share one pipeline; PostgreSQL abandons
    the rest of a pipeline at the first error, so the COMMIT runs only if
    every guard held.
    """
    params = _pg_params(batch)
    try:
        if driver.info.transaction_status == pq.TransactionStatus.IDLE:
            driver.autocommit = True
            try:
                driver.execute(_PG_WRITE, params)
            finally:
                driver.autocommit = False
            return
        with driver.pipeline():
            driver.execute(_PG_WRITE, params)
            driver.execute("COMMIT")
    except psycopg.Error as exc:
        conflict = _conflict_from(str(exc), exc.sqlstate)
        if conflict is not None:
            raise conflict from exc
        raise


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, option=_JSON_OPTIONS).decode()


def _pg_params(batch: WriteBatch) -> dict:
    """The arguments of ``onestop_write`` for a batch."""
    case = batch.case or {}
    task_op, task = None, None
    if batch.task_update is not None:
        statement, values = batch.task_update
        task_op, task = _TASK_OPS[statement], {"id": values["b_id"], **values}
    return {
        "case_id": case.get("b_id"),
        "seen": case.get("b_revision"),
        "full": not batch.bump_only,
        "case": _json({k: v for k, v in case.items() if k != "state" and not k.startswith("b_")} or None),
        "state": _json(case.get("state")),
        "new_tasks": _json(batch.new_tasks or None),
        "task_op": task_op,
        "task": _json(task),
        "cancelled": batch.cancelled or None,
        "cancelled_at": batch.cancelled_at,
        "closed": batch.closes_case,
        "events": audit.pg_events(batch.events),
        "genesis": audit.GENESIS,
        "request": _json(batch.request),
    }


def _conflict_from(message: str, sqlstate: str | None = None) -> CaseConflict | None:
    """The conflict a database error stands for: a failed guard or a replayed request."""
    if sqlstate == GUARD_SQLSTATE:
        return CaseConflict(CONFLICT_MESSAGE)
    if "idempotency_keys" in message and (sqlstate == "23505" or "UNIQUE" in message):
        return CaseConflict(DUPLICATE_MESSAGE)
    return None
