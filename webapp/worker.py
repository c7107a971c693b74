"""Background work: due timers and MyData downloads.

``onestop worker`` runs this loop; the single-process demo (``onestop run``)
runs it in a thread beside the web server.
"""
from __future__ import annotations

import logging
import threading

from flask import Flask

from handlers.mydata import jobs

from . import services

log = logging.getLogger(__name__)


def sweep(app: Flask) -> None:
    with app.app_context():
        svc = services.get()
        svc.engine.fire_due_timers()
        if svc.mydata is not None:
            jobs.run_due(svc.sessions, svc.mydata)
            jobs.purge_expired(svc.sessions, svc.mydata.retention)


def run_forever(app: Flask, interval: float, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            sweep(app)
        except Exception:  # noqa: BLE001 - one failed sweep must not stop the worker
            log.exception("worker sweep failed")
        stop.wait(interval)


def start_in_background(app: Flask) -> threading.Event:
    stop = threading.Event()
    interval = app.config["WORKER_INTERVAL_SECONDS"]
    threading.Thread(target=run_forever, args=(app, interval, stop), name="onestop-worker",
                     daemon=True).start()
    return stop

