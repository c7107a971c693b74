"""Append-only, hash-chained audit trail.

Each event's hash covers its content and the previous event's hash, so deleting
or editing any row breaks the chain from that row on; ``verify_chain`` finds it.

Appends serialise. On SQLite the writer already holds the database lock, and
``sqlite_append`` chains the events on the driver's connection, for ``append``
and the engine's write batches alike. On PostgreSQL the server chains the
events (``pg_append_block``): it takes an advisory lock held to the end of the
transaction, reads the last hash and inserts each event with its hash. The
block runs inside ``onestop_write`` for the engine's commands and inside
``onestop_append_events`` for every other append; migration 0019 installs both.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import json_text, sqlite_time, utcnow
from .models import AuditEvent

GENESIS = "0" * 64
CHAIN_LOCK = 7202611  # the advisory lock a PostgreSQL append holds until its transaction ends
PG_APPEND_SQL = "SELECT onestop_append_events(CAST(%(events)s AS jsonb), %(genesis)s)"
PG_APPEND_VARIABLES = "v_prev text; v_hash text; v_event record;"
_PG_EVENT_COLUMNS = ("at timestamptz, actor_id text, on_behalf_of text, action text, case_id text, ip text, "
                     "purpose text, result text, detail jsonb, body text")
_SQLITE_LAST_HASH = "SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1"
_SQLITE_INSERT = (
    "INSERT INTO audit_events (at, actor_id, on_behalf_of, action, case_id, ip, purpose, result, detail,"
    " prev_hash, hash) VALUES (:at, :actor_id, :on_behalf_of, :action, :case_id, :ip, :purpose, :result,"
    " :detail, :prev_hash, :hash)")


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_id: int | None = None


def body(at: datetime, actor_id, on_behalf_of, action, case_id, ip, purpose, result, detail) -> str:
    return json.dumps([at.isoformat(), actor_id, on_behalf_of, action, case_id, ip, purpose, result,
                       detail], ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def digest(prev_hash: str, body: str) -> str:
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def event(action: str, *, actor_id: str | None = None, on_behalf_of: str | None = None,
          case_id: str | None = None, ip: str | None = None, purpose: str | None = None,
          result: str = "ok", detail: dict | None = None, at: datetime | None = None) -> dict:
    """The columns of one event, as ``append`` and the engine's write batches take them."""
    return dict(at=at or utcnow(), actor_id=actor_id, on_behalf_of=on_behalf_of, action=action,
                case_id=case_id, ip=ip, purpose=purpose, result=result, detail=detail or {})


def append(
    session: Session,
    action: str,
    *,
    actor_id: str | None = None,
    on_behalf_of: str | None = None,
    case_id: str | None = None,
    ip: str | None = None,
    purpose: str | None = None,
    result: str = "ok",
    detail: dict | None = None,
    at: datetime | None = None,
) -> None:
    """Append one event inside the caller's transaction (call it last: it serialises)."""
    values = event(action, actor_id=actor_id, on_behalf_of=on_behalf_of, case_id=case_id, ip=ip,
                   purpose=purpose, result=result, detail=detail, at=at)
    session.flush()
    driver = session.connection().connection.driver_connection
    if session.get_bind().dialect.name == "postgresql":
        driver.cursor().execute(PG_APPEND_SQL, {"events": pg_events([values]), "genesis": GENESIS})
    else:
        sqlite_append(driver, [values])


def sqlite_append(driver: sqlite3.Connection, events: list[dict]) -> None:
    """Chain the events (as ``event`` makes them) onto the trail, in the driver's open transaction."""
    if not events:
        return
    cursor = driver.cursor()
    row = cursor.execute(_SQLITE_LAST_HASH).fetchone()
    prev = row[0] if row else GENESIS
    for values in events:
        hashed = digest(prev, body(**values))
        cursor.execute(_SQLITE_INSERT, {
            **values, "at": sqlite_time(values["at"]), "prev_hash": prev, "hash": hashed,
            "detail": json_text(values["detail"])})
        prev = hashed


def pg_events(events: list[dict]) -> str:
    """The events (as ``event`` makes them) as the JSON array the PostgreSQL append reads."""
    return orjson.dumps([{**values, "body": body(**values)} for values in events],
                        option=orjson.OPT_NAIVE_UTC).decode()


def pg_append_block(events: str, genesis: str) -> str:
    """PL/pgSQL that appends the events of the jsonb array named ``events`` (see ``pg_events``).

    The enclosing function declares ``PG_APPEND_VARIABLES``; ``genesis`` names
    the hash the first event of an empty trail follows.
    """
    return f"""
    IF jsonb_array_length({events}) > 0 THEN
        PERFORM pg_advisory_xact_lock({CHAIN_LOCK});
        SELECT hash INTO v_prev FROM audit_events ORDER BY id DESC LIMIT 1;
        v_prev := coalesce(v_prev, {genesis});
        FOR v_event IN SELECT * FROM jsonb_to_recordset({events}) AS e({_PG_EVENT_COLUMNS}) LOOP
            v_hash := encode(sha256(convert_to(v_prev || v_event.body, 'UTF8')), 'hex');
            INSERT INTO audit_events (at, actor_id, on_behalf_of, action, case_id, ip, purpose, result,
                                      detail, prev_hash, hash)
            VALUES (v_event.at, v_event.actor_id, v_event.on_behalf_of, v_event.action, v_event.case_id,
                    v_event.ip, v_event.purpose, v_event.result, v_event.detail, v_prev, v_hash);
            v_prev := v_hash;
        END LOOP;
    END IF;"""


def pg_append_function_sql() -> str:
    """``onestop_append_events``: an append on its own, for everything but the engine's commands."""
    return f"""
CREATE OR REPLACE FUNCTION onestop_append_events(p_events jsonb, p_genesis text) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    {PG_APPEND_VARIABLES}
BEGIN{pg_append_block("p_events", "p_genesis")}
END
$fn$"""


def verify_chain(session: Session, batch: int = 1000) -> ChainReport:
    """Walk the whole chain in id order; report the first event that does not fit."""
    prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            return ChainReport(True, checked)
        for row in rows:
            text_body = body(row.at, row.actor_id, row.on_behalf_of, row.action, row.case_id,
                             row.ip, row.purpose, row.result, row.detail)
            if row.prev_hash != prev or digest(prev, text_body) != row.hash:
                return ChainReport(False, checked, row.id)
            prev = row.hash
            checked += 1
            last_id = row.id
