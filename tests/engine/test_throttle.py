"""Request limits counted in the database: a sliding window, exact under concurrent requests."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine import throttle
from engine.db import make_engine, make_session_factory, reading, transaction, utcnow
from engine.models import RequestHit

MINUTE = timedelta(minutes=1)


@pytest.fixture
def sessions(database_url):
    db = make_engine(database_url)
    yield make_session_factory(db)
    db.dispose()


def hit(sessions, subject: str, now, limit: int = 2) -> timedelta:
    with transaction(sessions) as s:
        return throttle.request_wait(s, scope="test", subject=subject, limit=limit, window=MINUTE, now=now)


def test_a_client_over_its_limit_waits_until_its_oldest_request_leaves_the_window(sessions):
    start = utcnow()
    assert hit(sessions, "a", start) == timedelta(0)
    assert hit(sessions, "a", start + timedelta(seconds=20)) == timedelta(0)
    assert hit(sessions, "a", start + timedelta(seconds=30)) == timedelta(seconds=30)
    assert hit(sessions, "b", start + timedelta(seconds=30)) == timedelta(0)  # each client its own
    assert hit(sessions, "a", start + timedelta(seconds=61)) == timedelta(0)
    assert hit(sessions, "a", start + timedelta(seconds=62)) == timedelta(seconds=18)
    with reading(sessions) as s:  # a refused request is not counted; a client's old ones are gone
        assert s.scalar(select(func.count()).select_from(RequestHit).where(RequestHit.subject == "a")) == 2


def test_concurrent_requests_are_counted_exactly(sessions):
    now = utcnow()
    allowed: list[bool] = []

    def client():
        for _ in range(10):
            allowed.append(hit(sessions, "c", now, limit=25) == timedelta(0))

    threads = [threading.Thread(target=client) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 60 and sum(allowed) == 25


def test_forget_requests_clears_clients_that_did_not_come_back(sessions):
    start = utcnow()
    hit(sessions, "gone", start)
    hit(sessions, "here", start + timedelta(hours=2))
    with transaction(sessions) as s:
        assert throttle.forget_requests(s, start + timedelta(hours=1)) == 1
    with reading(sessions) as s:
        assert s.scalars(select(RequestHit.subject)).all() == ["here"]
