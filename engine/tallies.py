"""Running counts of finished cases and tasks, for reports that must stay fast at a million cases.

A finished case or task never changes again, so its outcome is counted once,
in the transaction that finishes it, into ``case_tallies`` / ``task_tallies``
(see the models). Reports add the few open ones live. ``rebuild`` recounts
everything from the derived rows, for a migration or after bulk loads.

Days are Taipei calendar days, so a report's period, which starts at a Taipei
midnight, selects whole rows. Each row also carries how long its cases took,
in whole hours, in buckets (``_hours``), so cycle-time percentiles come from the
tallies too, to within a bucket's width.
"""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection


IDENTITY = "identity"          # provenance of a field taken from the signed-in account
MYDATA_PREFIX = "mydata:"      # … and of one taken from a MyData dataset


def _day(column: str, dialect: str) -> str:
    if dialect == "postgresql":
        return f"CAST(timezone('Asia/Taipei', {column}) AS date)"
    return f"date({column}, '+8 hours')"


def _hours(start: str, end: str, dialect: str) -> str:
    """Whole hours from ``start`` to ``end``: one-hour buckets up to 3 days, 6 hours to 30 days, then days."""
    if dialect == "postgresql":
        hours = f"(extract(epoch FROM {end} - {start}) / 3600)"
        floor = "floor"
    else:
        hours = f"((julianday({end}) - julianday({start})) * 24)"
        floor = ""  # CAST truncates, and durations are not negative
    def whole(expr: str) -> str:
        return f"CAST({floor}({expr}) AS integer)"
    return (f"CASE WHEN {hours} < 72 THEN {whole(hours)} "
            f"WHEN {hours} < 720 THEN {whole(hours + ' / 6')} * 6 "
            f"ELSE {whole(hours + ' / 24')} * 24 END")


def _fields(provenance: str, dialect: str, only_automatic: bool = False) -> str:
    """How many fields the case's provenance lists; with ``only_automatic``, those that came
    from the signed-in identity or MyData rather than being typed (the KPI 降低人工錄案)."""
    each = (f"jsonb_each_text({provenance})" if dialect == "postgresql"
            else f"json_each({provenance})")
    automatic = (f" WHERE e.value = '{IDENTITY}' OR e.value LIKE '{MYDATA_PREFIX}%'"
                 if only_automatic else "")
    return f"(SELECT count(*) FROM {each} e{automatic})"


def is_automatic(source: str) -> bool:
    """Python's reading of the same rule, for the few open cases counted live."""
    return source == IDENTITY or source.startswith(MYDATA_PREFIX)


def _case_rows(dialect: str, where: str) -> str:
    """(agency, service, day, outcome, owner) for each agency of each closed case ``where`` selects."""
    return f"""
SELECT a.agency_code, c.service_key, {_day('c.opened_at', dialect)} AS opened_on,
       CASE WHEN c.closed_at <= c.due_at THEN 'on_time' ELSE 'late' END AS outcome,
       a.agency_code = c.owner_agency AS owner, c.channel,
       {_hours('c.opened_at', 'c.closed_at', dialect)} AS hours,
       {_fields('c.provenance', dialect)} AS fields,
       {_fields('c.provenance', dialect, only_automatic=True)} AS automatic_fields
FROM cases c JOIN (
    SELECT id AS case_id, owner_agency AS agency_code FROM cases WHERE {where.format(id='id')}
    UNION
    SELECT case_id, agency_code FROM human_tasks
    WHERE agency_code IS NOT NULL AND {where.format(id='case_id')}
) a ON a.case_id = c.id
WHERE c.status = 'closed'"""


def _task_rows(dialect: str, where: str, source: str = "human_tasks") -> str:
    return f"""
SELECT coalesce(t.agency_code, '') AS agency_code, c.service_key, t.name AS stage,
       {_day('t.created_at', dialect)} AS created_on,
       CASE WHEN t.completed_at <= t.due_at THEN 'on_time' ELSE 'late' END AS outcome,
       {_hours('t.created_at', 't.completed_at', dialect)} AS hours
FROM {source} t JOIN cases c ON c.id = t.case_id
WHERE t.status = 'completed' AND t.role <> 'applicant' AND t.due_at IS NOT NULL AND {where}"""


_CASE_KEY = "agency_code, service_key, opened_on, outcome, owner, channel, hours"
_CASE_SUMS = "fields, automatic_fields"
_TASK_KEY = "agency_code, service_key, stage, created_on, outcome, hours"


def count_case_sql(dialect: str, case_id: str = ":case_id") -> str:
    """Count one just-closed case for each agency it involved.

    ``case_id`` is the SQL that names the case: a bound parameter by default,
    or a variable of the PL/pgSQL function that runs a command's writes.
    """
    return (f"INSERT INTO case_tallies ({_CASE_KEY}, n, {_CASE_SUMS}) "
            f"SELECT {_CASE_KEY}, 1, {_CASE_SUMS} FROM ({_case_rows(dialect, '{id} = ' + case_id)}) r "
            f"WHERE true ON CONFLICT ({_CASE_KEY}) DO UPDATE SET n = case_tallies.n + excluded.n, "
            + ", ".join(f"{c} = case_tallies.{c} + excluded.{c}" for c in _CASE_SUMS.split(", ")))


def count_task_sql(dialect: str, source: str = "human_tasks", where: str = "t.id = :task_id") -> str:
    """Count one just-completed task (parameter ``task_id``), if it is a staff task with a deadline.

    ``source`` may instead name the rows an UPDATE … RETURNING just completed,
    so that on PostgreSQL the count rides in the completing statement.
    """
    return (f"INSERT INTO task_tallies ({_TASK_KEY}, n) "
            f"SELECT r.*, 1 FROM ({_task_rows(dialect, where, source)}) r WHERE true "
            f"ON CONFLICT ({_TASK_KEY}) DO UPDATE SET n = task_tallies.n + excluded.n")


def rebuild(connection: Connection) -> None:
    """Recount both tallies from the cases and tasks in the database."""
    dialect = connection.dialect.name
    connection.execute(text("DELETE FROM case_tallies"))
    connection.execute(text(
        f"INSERT INTO case_tallies ({_CASE_KEY}, n, {_CASE_SUMS}) SELECT {_CASE_KEY}, count(*), "
        + ", ".join(f"sum({c})" for c in _CASE_SUMS.split(", ")) + " "
        f"FROM ({_case_rows(dialect, 'true')}) r GROUP BY {_CASE_KEY}"))
    connection.execute(text("DELETE FROM task_tallies"))
    connection.execute(text(
        f"INSERT INTO task_tallies ({_TASK_KEY}, n) SELECT {_TASK_KEY}, count(*) "
        f"FROM ({_task_rows(dialect, 'true')}) r GROUP BY {_TASK_KEY}"))
