"""The engine's write batches: all or nothing, guarded, and on PostgreSQL the function the code describes."""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, func, select, text

from engine import audit
from engine.db import lazy_transaction, reading, transaction, utcnow
from engine.errors import CaseConflict
from engine.models import AuditEvent, Case, IdempotencyKey
from engine.store import CONFLICT_MESSAGE, DUPLICATE_MESSAGE, WriteBatch, write_function_sql
from tests.engine.test_cases import actor, start
from webapp import services


@pytest.fixture
def svc(app):
    with app.app_context():
        yield services.get()


def _bump(case_id: str, seen: int, **extra) -> WriteBatch:
    now = utcnow()
    return WriteBatch(case={"b_id": case_id, "b_revision": seen, "revision": seen + 1, "updated_at": now},
                      bump_only=True, events=[audit.event("case.touch", case_id=case_id, at=now)], **extra)


def _written(svc, case_id: str) -> tuple[int, int]:
    with reading(svc.sessions) as s:
        return (s.get(Case, case_id).revision,
                s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.case_id == case_id)))


@contextmanager
def unit_of_work(svc, how: str):
    """The three ways a batch is sent: on a pooled connection of its own (the session was never
    opened), first in an open transaction, or after the transaction has read something."""
    with (lazy_transaction if how == "unopened" else transaction)(svc.sessions) as s:
        if how == "after-a-read":
            s.execute(text("SELECT 1"))
        yield s


WAYS = ["unopened", "first", "after-a-read"]


@pytest.mark.parametrize("how", WAYS)
def test_a_stale_revision_writes_nothing(svc, how):
    case = start(svc)
    before = _written(svc, case.case_id)
    with pytest.raises(CaseConflict, match=CONFLICT_MESSAGE):
        with unit_of_work(svc, how) as s:
            svc.engine.store.write(s, _bump(case.case_id, case.revision - 1))
    assert _written(svc, case.case_id) == before


@pytest.mark.parametrize("how", WAYS)
def test_a_batch_failing_at_its_last_write_writes_nothing(svc, how):
    """A replayed idempotency key fails the batch after the case, audit and key writes were sent."""
    case = start(svc)
    company = actor(svc, "company")
    with transaction(svc.sessions) as s:
        s.add(IdempotencyKey(key="once", actor_id=company.user_id, command="claim", response={},
                             created_at=utcnow()))
    before = _written(svc, case.case_id)
    request = {"key": "once", "actor_id": company.user_id, "command": "claim", "response": {},
               "created_at": utcnow()}
    with pytest.raises(CaseConflict, match=DUPLICATE_MESSAGE):
        with unit_of_work(svc, how) as s:
            svc.engine.store.write(s, _bump(case.case_id, case.revision, request=request))
    assert _written(svc, case.case_id) == before
    with unit_of_work(svc, how) as s:
        svc.engine.store.write(s, _bump(case.case_id, case.revision))
    assert _written(svc, case.case_id) == (before[0] + 1, before[1] + 1)
    with reading(svc.sessions) as s:
        assert audit.verify_chain(s).ok


@pytest.mark.postgres
@pytest.mark.parametrize("name, generated", [("onestop_write", write_function_sql),
                                             ("onestop_append_events", audit.pg_append_function_sql)])
def test_the_database_runs_the_functions_this_code_generates(postgres_url, name, generated):
    """Changing a generated function without a migration that installs it again fails here."""
    db = create_engine(postgres_url)
    try:
        with db.connect() as conn:
            installed = conn.scalar(text("SELECT prosrc FROM pg_proc WHERE proname = :name"), {"name": name})
    finally:
        db.dispose()
    assert installed == generated().split("$fn$")[1]
