"""Background work: due timers, the outbox (mail), MyData downloads, retention purges.

``onestop worker`` runs this loop; any number may run against one PostgreSQL.
Per-item work (timers, outbox messages, MyData downloads) is claimed row by row
with ``FOR UPDATE SKIP LOCKED``, so workers share it. Singleton jobs (purges, the weekly digest, catalog reviews)
run only in the worker that holds a PostgreSQL advisory lock; the lock lives
on that worker's own connection, so when the worker dies the server drops it
and another worker takes over at its next sweep. The single-process demo
(``onestop run``) runs the loop in a thread beside the web server.
"""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from engine import outbox, throttle
from engine.db import transaction, utcnow
from handlers import catalog_review, digest, escalation
from handlers.mydata import jobs
from handlers.petitions import opinions
from handlers.petitions.client import PetitionUnavailable

from . import services
from .opendata.limits import PERIODS

log = logging.getLogger(__name__)
SINGLETON_LOCK_KEY = 7_202_612


class Leadership:
    """Whether this process runs the singleton jobs: the holder of a session advisory lock.

    On SQLite there is only ever one worker, which always leads.
    """

    def __init__(self, db: Engine, key: int = SINGLETON_LOCK_KEY) -> None:
        self.db, self.key = db, key
        self._conn: Connection | None = None

    def held(self) -> bool:
        if self.db.dialect.name != "postgresql":
            return True
        try:
            if self._conn is None:
                self._conn = self.db.connect().execution_options(isolation_level="AUTOCOMMIT")
                if not self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar():
                    self.release()
                    return False
                log.info("this worker now runs the singleton jobs")
            else:
                self._conn.execute(text("SELECT 1"))  # still connected, so still holding it
            return True
        except Exception:  # noqa: BLE001 - a lost connection means the lock is gone too
            log.warning("lost the singleton lock's connection")
            self.release()
            return False

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001
                pass
            self._conn = None


REQUESTS_KEPT = timedelta(seconds=max(PERIODS.values()))  # the longest window a rate limit can name


def sweep(app: Flask, leadership: Leadership | None = None) -> None:
    with app.app_context():
        svc = services.get()
        svc.engine.fire_due_timers()
        now = utcnow()
        escalation.remind_due_soon(svc.sessions, now, svc.engine.settings)
        escalation.escalate_overdue(svc.sessions, now, svc.engine.settings)
        outbox.process_due(svc.sessions, svc.senders)
        if svc.mydata is not None:
            jobs.run_due(svc.sessions, svc.mydata)
        if leadership is None or leadership.held():
            digest.send_weekly_digests(svc.sessions, now, svc.engine.settings)
            catalog_review.remind_stale(svc.sessions, now, svc.engine.settings)
            if svc.mydata is not None:
                jobs.purge_expired(svc.sessions, svc.mydata.retention)
            with transaction(svc.sessions) as s:
                throttle.forget_requests(s, now - REQUESTS_KEPT)
            if svc.petitions is not None:
                _poll_1999(svc, now)


def _poll_1999(svc: services.Services, now) -> None:
    try:
        opinions.poll(svc.sessions, svc.petitions, now, svc.engine.settings)
    except PetitionUnavailable:
        log.warning("1999 unreachable; its replies are read on a later sweep")


def run_forever(app: Flask, interval: float, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    with app.app_context():
        leadership = Leadership(services.get().db)
    try:
        while not stop.is_set():
            try:
                sweep(app, leadership)
            except Exception:  # noqa: BLE001 - one failed sweep must not stop the worker
                log.exception("worker sweep failed")
            stop.wait(interval)
    finally:
        leadership.release()


def start_in_background(app: Flask) -> threading.Event:
    stop = threading.Event()
    interval = app.config["WORKER_INTERVAL_SECONDS"]
    threading.Thread(target=run_forever, args=(app, interval, stop), name="onestop-worker",
                     daemon=True).start()
    return stop
