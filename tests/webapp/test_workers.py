"""Several `onestop worker` processes on one PostgreSQL: timers fire exactly once, leadership moves."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text

from engine.access import Actor
from engine.db import reading, transaction, utcnow
from engine.models import Case, Notification, Service, User, new_id
from tests.conftest import make_app
from webapp import services
from webapp.worker import SINGLETON_LOCK_KEY

ROOT = Path(__file__).resolve().parents[2]
CASES = 2000

PROBE = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="probe" targetNamespace="t">
  <bpmn:process id="timer_probe" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait" name="wait">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="wait_def">
        <bpmn:timeDate xsi:type="bpmn:tFormalExpression">when</bpmn:timeDate>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:serviceTask id="tell" name="tell">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="notify.applicant" resultVariable="told">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="message" type="str" value="'timer fired'" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="tell" />
    <bpmn:sequenceFlow id="f3" sourceRef="tell" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def _workers(url: str, tmp_path: Path, n: int) -> list[subprocess.Popen]:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "test-secret", "ONESTOP_WORKER_INTERVAL": "0.2",
           "ONESTOP_INSTANCE": str(tmp_path / "instance"), "ONESTOP_MYDATA_SANDBOX": "0",
           "PUBLIC_BASE_URL": "http://onestop.test"}
    env.pop("SMTP_HOST", None)
    return [subprocess.Popen([sys.executable, "-m", "webapp.cli", "worker"], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(n)]


def _stop(processes: list[subprocess.Popen]) -> None:
    for p in processes:
        if p.poll() is None:
            p.terminate()
    for p in processes:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_three_workers_fire_2000_timers_exactly_once_though_one_is_killed(postgres_url, tmp_path):
    app = make_app(postgres_url, tmp_path)
    with app.app_context():
        svc = services.get()
        with transaction(svc.sessions) as s:
            s.add(Service(key="timer_probe", case_prefix="TMR", name="計時測試", owner_agency="TB",
                          application_form="sign_off", statutory_days=7))
        svc.engine.deploy("timer_probe", PROBE)
        with reading(svc.sessions) as s:
            lin = Actor.from_user(s.scalar(select(User).where(User.username == "lin")))
        due = utcnow() + timedelta(seconds=4)
        first = svc.engine.start_case(lin, "timer_probe", {"decision": "agree"},
                                      extra_data={"when": due.isoformat()})
        with transaction(svc.sessions) as s:  # the same waiting case, 1,999 times over
            row = dict(s.execute(select(Case.__table__).where(Case.id == first.case_id)).mappings().one())
            s.execute(insert(Case.__table__), [
                {**row, "id": new_id(), "number": f"TMR-2026-{i:06d}"} for i in range(2, CASES + 1)])
        with reading(svc.sessions) as s:
            waiting = s.scalar(select(func.count()).select_from(Case).where(Case.next_timer_at == due))
        assert waiting == CASES

        def fired() -> int:
            with reading(svc.sessions) as s:
                return s.scalar(select(func.count()).select_from(Notification).where(
                    Notification.text.like("%timer fired")))

        workers = _workers(postgres_url, tmp_path, 3)
        try:
            assert _wait_for(lambda: fired() > 150, 60), "the workers did not start firing"
            workers[0].send_signal(signal.SIGKILL)
            assert _wait_for(lambda: fired() >= CASES, 120), f"only {fired()} of {CASES} fired"
            time.sleep(1)  # anything fired twice would show up now
        finally:
            _stop(workers)
        with reading(svc.sessions) as s:
            per_case = s.execute(select(Notification.link, func.count()).where(
                Notification.text.like("%timer fired")).group_by(Notification.link)).all()
            still_waiting = s.scalar(select(func.count()).select_from(Case).where(
                Case.service_key == "timer_probe", Case.status != "closed"))
        assert len(per_case) == CASES and {n for _link, n in per_case} == {1}
        assert still_waiting == 0
        assert workers[0].returncode == -signal.SIGKILL
        svc.db.dispose()


def test_the_singleton_jobs_move_to_another_worker_when_their_holder_dies(postgres_url, tmp_path):
    app = make_app(postgres_url, tmp_path)
    with app.app_context():
        db = services.get().db

        def holder() -> int | None:
            with db.connect() as c:
                return c.execute(text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = :k AND granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
                    {"k": SINGLETON_LOCK_KEY}).scalar()

        first = _workers(postgres_url, tmp_path, 1)
        try:
            assert _wait_for(lambda: holder() is not None, 30)
            leader = holder()
            second = _workers(postgres_url, tmp_path, 1)
            time.sleep(1.5)
            assert holder() == leader  # one leader at a time
            first[0].send_signal(signal.SIGKILL)
            assert _wait_for(lambda: holder() not in (None, leader), 10), "nobody took over"
        finally:
            _stop(first + second)
        db.dispose()
