"""The engine's hot-path statements, sent through the DBAPI in as few round trips as possible.

A command reads its task and case in one statement, works in memory, then hands
this module a ``WriteBatch``: the guarded case update, the derived task rows, the
audit event and the idempotency record. On PostgreSQL the batch and the COMMIT go
out in one pipeline, so a command costs two network round trips (BEGIN with the
read, then the writes with the COMMIT); the guards are checked by the server
(``onestop_expect_one``, migration 0005), which aborts the transaction before
the COMMIT runs. On SQLite the statements run in turn on the already locked
connection and the rows they changed are counted here. Rows written here are the same rows the ORM
reads: timestamps are UTC (naive text on SQLite, as SQLAlchemy stores them) and
JSON is the same text SQLAlchemy would write.
"""
from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson
import psycopg
from sqlalchemy.orm import Session

from . import audit, tallies
from .errors import CaseConflict

CONFLICT_MESSAGE = "case changed since it was loaded"
DUPLICATE_MESSAGE = "the same request is being processed"
GUARD_SQLSTATE = "OS409"
_GUARDED = ("save_case", "bump_case", "assign_task", "complete_task")

_CASE_COLUMNS = ("revision", "state", "updated_at", "next_timer_at", "stage", "fields", "status",
                 "closed_at", "outcome", "due_at")
_TASK_COLUMNS = ("id", "case_id", "spec_name", "name", "lane", "role", "agency_code", "form_key",
                 "status", "assignee_id", "completed_by", "created_at", "claimed_at", "due_at",
                 "completed_at", "result", "context", "remind_at")
_JSON = {"state": "json", "fields": "jsonb", "result": "jsonb", "context": "jsonb", "response": "jsonb"}
_TIMES = {"updated_at", "next_timer_at", "closed_at", "created_at", "claimed_at", "due_at", "remind_at",
          "completed_at", "at"}
_READ_TIMES = ("due_at", "task_created_at")

_READ_TASK = """
SELECT t.id AS task_id, t.role, t.agency_code, t.status AS task_status, t.assignee_id, t.form_key,
       t.spec_name, t.name AS task_name, t.created_at AS task_created_at, c.id, c.number,
       c.service_key, c.owner_agency, c.applicant_id, c.agent_id, c.revision, c.definition_id,
       c.status, c.due_at, s.search_fields{state}
FROM human_tasks t JOIN cases c ON c.id = t.case_id JOIN services s ON s.key = c.service_key
WHERE t.id = :task_id"""


def _placeholder(name: str, dialect: str) -> str:
    if dialect == "postgresql":
        cast = _JSON.get(name)
        return f"CAST(%({name})s AS {cast})" if cast else f"%({name})s"
    return f":{name}"


def _sql(template: str, dialect: str) -> str:
    if dialect == "postgresql":
        template = template.replace("%", "%%")  # the driver's own placeholders use it
    return re.sub(r":(\w+)", lambda m: _placeholder(m.group(1), dialect), template)


def _guarded(update: str, dialect: str, also: str = "") -> str:
    """On PostgreSQL the statement itself fails unless it changed exactly one row.

    ``also`` is a further data-modifying statement over the ``changed`` rows,
    run as part of the same statement (one statement less per command).
    """
    if dialect != "postgresql":
        return update
    counted = f", also AS ({also})" if also else ""
    return (f"WITH changed AS ({update} RETURNING *){counted} "
            "SELECT onestop_expect_one(count(*)) FROM changed")


def _statements(dialect: str) -> dict[str, str]:
    sets = ", ".join(f"{c} = :{c}" for c in _CASE_COLUMNS)
    statements = {
        "read_task": _sql(_READ_TASK.format(state=""), dialect),
        "read_task_state": _sql(_READ_TASK.format(
            state=", CAST(c.state AS text) AS state_text" if dialect == "postgresql"
            else ", c.state AS state_text"), dialect),
        "save_case": _sql(f"UPDATE cases SET {sets} WHERE id = :b_id AND revision = :b_revision",
                          dialect),
        "bump_case": _sql("UPDATE cases SET revision = :revision, updated_at = :updated_at "
                          "WHERE id = :b_id AND revision = :b_revision", dialect),
        "insert_task": _sql(f"INSERT INTO human_tasks ({', '.join(_TASK_COLUMNS)}) VALUES "
                            f"({', '.join(':' + c for c in _TASK_COLUMNS)})", dialect),
        "assign_task": _sql("UPDATE human_tasks SET assignee_id = :assignee_id, claimed_at = :claimed_at "
                            "WHERE id = :b_id AND status = 'open'", dialect),
        "complete_task": _sql("UPDATE human_tasks SET status = 'completed', completed_at = :completed_at, "
                              "completed_by = :completed_by, assignee_id = :assignee_id, "
                              "result = :result WHERE id = :b_id AND status = 'open'", dialect),
        "remember_request": _sql("INSERT INTO idempotency_keys (key, actor_id, command, response, "
                                 "created_at) VALUES (:key, :actor_id, :command, :response, :created_at)",
                                 dialect),
        "count_case": _sql(tallies.count_case_sql(dialect), dialect),
        "count_task": _sql(tallies.count_task_sql(dialect), dialect),
    }
    guarded = {name: _guarded(sql, dialect) if name in _GUARDED else sql for name, sql in statements.items()}
    if dialect == "postgresql":
        guarded["complete_task"] = _guarded(statements["complete_task"], dialect, also=_sql(
            tallies.count_task_sql(dialect, source="changed", where="true"), dialect))
    return guarded


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


class CaseStore:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.sql = _statements(dialect)

    # -- value conversion --------------------------------------------------

    def _value(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        if name in _JSON:
            return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
        if name in _TIMES and self.dialect == "sqlite":
            return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
        return value

    def _params(self, params: dict) -> dict:
        return {k: self._value(k, v) for k, v in params.items()}

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

    def write(self, s: Session, batch: WriteBatch, *, commit: bool = False) -> None:
        """Run the batch in the session's transaction; CaseConflict if a guard did not hold.

        With ``commit`` the batch ends the transaction, and nothing may be
        written after it.
        """
        s.flush()
        driver = s.connection().connection.driver_connection
        if self.dialect == "postgresql":
            self._write_postgresql(driver, batch, commit)
            return
        guarded = []
        try:
            for sql, params, guard in self._statements(batch):
                cursor = self._run(driver, sql, params)
                if guard:
                    guarded.append(cursor)
            for event in batch.events:
                self._audit_sqlite(driver, event)
        except sqlite3.IntegrityError as exc:
            raise _conflict_from(str(exc)) or exc
        if any(cursor.rowcount != 1 for cursor in guarded):
            raise CaseConflict(CONFLICT_MESSAGE)

    def _write_postgresql(self, driver, batch: WriteBatch, commit: bool) -> None:
        """The whole batch in one pipeline, COMMIT included: one network round trip.

        PostgreSQL abandons the rest of the pipeline at the first error (the
        guards raise), so the COMMIT runs only if everything before it succeeded.
        """
        try:
            with driver.pipeline():
                cursor = driver.cursor()
                for sql, params, _ in self._statements(batch):
                    cursor.execute(sql, params)
                if commit:
                    cursor.execute("COMMIT")
        except psycopg.Error as exc:
            conflict = _conflict_from(str(exc), exc.sqlstate)
            if conflict is not None:
                raise conflict from exc
            raise

    def _statements(self, batch: WriteBatch) -> list[tuple[str, dict, bool]]:
        """(SQL, parameters, whether it must change exactly one row) for each write."""
        out = []
        if batch.case is not None:
            out.append((self.sql["bump_case" if batch.bump_only else "save_case"],
                        self._params(batch.case), True))
        out.extend((self.sql["insert_task"], self._params(row), False) for row in batch.new_tasks)
        if batch.task_update is not None:
            statement, params = batch.task_update
            out.append((self.sql[statement], self._params(params), True))
            if statement == "complete_task" and self.dialect != "postgresql":  # there it is one statement
                out.append((self.sql["count_task"], {"task_id": params["b_id"]}, False))
        if batch.cancelled:
            marks = ", ".join(_placeholder(f"c{i}", self.dialect) for i in range(len(batch.cancelled)))
            sql = (f"UPDATE human_tasks SET status = 'cancelled', completed_at = "
                   f"{_placeholder('completed_at', self.dialect)} WHERE status = 'open' AND id IN ({marks})")
            out.append((sql, {"completed_at": self._value("completed_at", batch.cancelled_at),
                              **{f"c{i}": v for i, v in enumerate(batch.cancelled)}}, False))
        if batch.case is not None and batch.case.get("closed_at") and batch.case.get("status") == "closed":
            out.append((self.sql["count_case"], {"case_id": batch.case["b_id"]}, False))
        if self.dialect == "postgresql":
            for event in batch.events:
                out.append((audit.PG_APPEND_SQL, {**event, "detail": orjson.dumps(event["detail"]).decode(),
                                                  "body": audit.body(**event), "genesis": audit.GENESIS}, False))
        if batch.request is not None:
            out.append((self.sql["remember_request"], self._params(batch.request), False))
        return out

    @staticmethod
    def _run(driver, sql: str, params: dict):
        cursor = driver.cursor()
        cursor.execute(sql, params)
        return cursor

    def _audit_sqlite(self, driver, event: dict) -> None:
        body = audit.body(**event)
        detail = orjson.dumps(event["detail"]).decode()
        cursor = driver.cursor()
        cursor.execute("SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1")
        row = cursor.fetchone()
        prev = row[0] if row else audit.GENESIS
        cursor.execute(
            "INSERT INTO audit_events (at, actor_id, on_behalf_of, action, case_id, ip, purpose, result,"
            " detail, prev_hash, hash) VALUES (:at, :actor_id, :on_behalf_of, :action, :case_id, :ip,"
            " :purpose, :result, :detail, :prev_hash, :hash)",
            {**event, "at": self._value("at", event["at"]), "detail": detail, "prev_hash": prev,
             "hash": audit.digest(prev, body)})


def _conflict_from(message: str, sqlstate: str | None = None) -> CaseConflict | None:
    """The conflict a database error stands for: a failed guard or a replayed request."""
    if sqlstate == GUARD_SQLSTATE:
        return CaseConflict(CONFLICT_MESSAGE)
    if "idempotency_keys" in message and (sqlstate == "23505" or "UNIQUE" in message):
        return CaseConflict(DUPLICATE_MESSAGE)
    return None
