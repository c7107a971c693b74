"""Engine commands: deployment checks, one transaction each, revisions and idempotency."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from engine.access import Actor
from engine.audit import verify_chain
from engine.cases import CaseEngine
from engine.db import reading, transaction
from engine.errors import CaseConflict, DeploymentError, Forbidden, InvalidInput, NotFound
from engine.models import AuditEvent, Case, Definition, HumanTask, User
from tests.conftest import make_app
from webapp import services
from webapp.seed import SERVICES

BPMN = (Path(__file__).resolve().parents[2] / "bpmn" / "large_vehicle_permit.bpmn").read_bytes()


@pytest.fixture
def svc(app):
    with app.app_context():
        yield services.get()


def actor(svc, username: str) -> Actor:
    with reading(svc.sessions) as s:
        return Actor.from_user(s.scalar(select(User).where(User.username == username)))


def application(svc) -> dict:
    from werkzeug.datastructures import MultiDict

    from tests.factories import application_form

    form = svc.forms.get("lvp_application")
    data = form.parse(MultiDict([(k, v) for k, vs in application_form().items()
                                 for v in (vs if isinstance(vs, list) else [vs])]))
    return data


def uploads():
    from engine.documents import Upload
    from tests.factories import PDF, PNG

    return {"attachments-contract": Upload("attachments-contract", "c.pdf", PDF),
            "attachments-route_map": Upload("attachments-route_map", "r.png", PNG)}


def with_uploads(data: dict) -> dict:
    data = dict(data)
    data["attachments"] = {
        "contract": {"filename": "c.pdf", "content_type": "application/pdf", "size": 10,
                     "upload": "attachments-contract", "document_id": None},
        "route_map": {"filename": "r.png", "content_type": "image/png", "size": 10,
                      "upload": "attachments-route_map", "document_id": None},
    }
    return data


def start(svc, key: str | None = None):
    return svc.engine.start_case(actor(svc, "company"), "large_vehicle_permit",
                                 with_uploads(application(svc)), uploads=uploads(),
                                 idempotency_key=key)


def open_task(svc, case_id: str) -> HumanTask:
    with reading(svc.sessions) as s:
        return s.scalar(select(HumanTask).where(HumanTask.case_id == case_id,
                                                HumanTask.status == "open"))


def _diagram_with(condition: str) -> bytes:
    return BPMN.replace(b"decision == 'reject'", condition.encode())


@pytest.mark.parametrize("condition", [
    "().__class__.__mro__[1].__subclasses__()",
    "__import__('os')",
    "getattr(decision, '__class__')",
    "open('/etc/passwd')",
])
def test_unsafe_condition_is_refused_at_deploy_time(svc, condition):
    with pytest.raises(DeploymentError) as refused:
        svc.engine.deploy("large_vehicle_permit", _diagram_with(condition))
    assert any("gw_intake" in p for p in refused.value.problems)
    with reading(svc.sessions) as s:
        assert s.scalar(select(func.count()).select_from(Definition).where(
            Definition.service_key == "large_vehicle_permit")) == 1


def test_unsafe_script_and_unknown_handler_are_refused(svc):
    script = BPMN.replace(b"outcome = 'approved'", b"import os\noutcome = os.name")
    handler = BPMN.replace(b'id="permit.issue"', b'id="os.system"')
    for bad, expected in ((script, "import"), (handler, "os.system")):
        with pytest.raises(DeploymentError) as refused:
            svc.engine.deploy("large_vehicle_permit", bad)
        assert any(expected in p for p in refused.value.problems)


def test_xml_entities_are_refused(svc):
    xxe = b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + BPMN.split(b"?>", 1)[1]
    with pytest.raises(DeploymentError) as refused:
        svc.engine.deploy("large_vehicle_permit", xxe)
    assert "DOCTYPE" in refused.value.problems[0]


def test_entities_declared_in_utf16_are_refused_too(svc):
    declared = b'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    xxe = (declared.decode() + BPMN.split(b"?>", 1)[1].decode()).encode("utf-16")
    with pytest.raises(DeploymentError) as refused:
        svc.engine.deploy("large_vehicle_permit", xxe)
    assert "DOCTYPE" in refused.value.problems[0]


def test_redeploying_changed_diagram_makes_a_new_version_and_cases_keep_theirs(svc):
    first = start(svc)
    changed = BPMN.replace('name="核定"'.encode(), 'name="核定（新版）"'.encode())
    definition = svc.engine.deploy("large_vehicle_permit", changed)
    assert definition.version == 2
    assert svc.engine.deploy("large_vehicle_permit", changed).id == definition.id
    second = start(svc)
    with reading(svc.sessions) as s:
        versions = {c.number: c.definition.version for c in s.scalars(select(Case))}
    assert versions == {first.number: 1, second.number: 2}


def test_start_is_idempotent_with_a_key(svc):
    a = start(svc, key="apply-1")
    b = start(svc, key="apply-1")
    assert a == b
    with reading(svc.sessions) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 1


def test_stale_revision_is_a_conflict_and_writes_nothing(svc):
    case = start(svc)
    task = open_task(svc, case.case_id)
    clerk = actor(svc, "tb.clerk")
    svc.engine.claim(clerk, task.id, expected_revision=case.revision)
    with reading(svc.sessions) as s:
        before = s.get(Case, case.case_id)
        snapshot = (before.revision, before.state, before.stage)
        events = s.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(CaseConflict):
        svc.engine.complete_task(clerk, task.id, {"decision": "cosign"},
                                 expected_revision=case.revision)
    with reading(svc.sessions) as s:
        after = s.get(Case, case.case_id)
        assert (after.revision, after.state, after.stage) == snapshot
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == events
        assert s.get(HumanTask, task.id).status == "open"


def test_complete_is_idempotent_and_checks_the_group(svc):
    case = start(svc)
    task = open_task(svc, case.case_id)
    with pytest.raises(NotFound):  # a sub-bureau not on the route cannot even see it
        svc.engine.complete_task(actor(svc, "police.yk"), task.id, {"decision": "cosign"})
    with pytest.raises(Forbidden):  # sees everything, but is not in the clerks' group
        svc.engine.complete_task(actor(svc, "admin"), task.id, {"decision": "cosign"})
    with pytest.raises(InvalidInput) as invalid:
        svc.engine.complete_task(actor(svc, "tb.clerk"), task.id, {"decision": "maybe"})
    assert "decision" in invalid.value.errors
    clerk = actor(svc, "tb.clerk")
    first = svc.engine.complete_task(clerk, task.id, {"decision": "cosign"}, idempotency_key="k1")
    again = svc.engine.complete_task(clerk, task.id, {"decision": "cosign"}, idempotency_key="k1")
    assert first == again
    with reading(svc.sessions) as s:
        opened = s.scalars(select(HumanTask.agency_code).where(
            HumanTask.case_id == case.case_id, HumanTask.status == "open")).all()
    assert sorted(opened) == ["TNPD-SH", "TNPD-YK"]


def test_audit_chain_detects_tampering(svc):
    start(svc)
    with reading(svc.sessions) as s:
        report = verify_chain(s)
    assert report.ok and report.checked == 2 + len(SERVICES)  # seed, one deployment per service, start
    with transaction(svc.sessions) as s:
        victim = s.scalar(select(AuditEvent.id).where(AuditEvent.action == "case.start"))
        s.execute(update(AuditEvent).where(AuditEvent.id == victim).values(actor_id="someone-else"))
    with reading(svc.sessions) as s:
        report = verify_chain(s)
    assert not report.ok and report.first_bad_id == victim


def test_two_clerks_completing_at_once_one_wins(postgres_url, tmp_path):
    """Real threads on PostgreSQL: exactly one completion lands, the other is a conflict."""
    app = make_app(postgres_url, tmp_path)
    with app.app_context():
        svc = services.get()
        for _round in range(5):
            case = start(svc)
            task = open_task(svc, case.case_id)
            clerks = [actor(svc, "tb.clerk"), actor(svc, "tb.clerk2")]
            barrier = threading.Barrier(2)
            outcomes: list[str] = []

            def attempt(clerk, decision):
                barrier.wait()
                try:
                    svc.engine.complete_task(clerk, task.id, {"decision": decision,
                                                              "reason": "路線不符"},
                                             expected_revision=case.revision)
                    outcomes.append("ok")
                except CaseConflict:
                    outcomes.append("conflict")

            threads = [threading.Thread(target=attempt, args=(clerks[0], "cosign")),
                       threading.Thread(target=attempt, args=(clerks[1], "reject"))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(outcomes) == ["conflict", "ok"]
            with reading(svc.sessions) as s:
                done = s.get(HumanTask, task.id)
                assert done.status == "completed"
                winner = done.result["decision"]
                row = s.get(Case, case.case_id)
                opened = s.scalars(select(HumanTask.name).where(
                    HumanTask.case_id == case.case_id, HumanTask.status == "open")).all()
                assert s.scalar(text("SELECT count(*) FROM audit_events WHERE case_id = :c "
                                     "AND action = 'task.complete'"), {"c": case.case_id}) == 1
            if winner == "cosign":
                assert row.status == "open" and sorted(opened) == ["警察分局會辦", "警察分局會辦"]
            else:
                assert row.status == "closed" and row.outcome == "not_accepted" and opened == []
            assert verify_chain_ok(svc)
        svc.db.dispose()


def verify_chain_ok(svc) -> bool:
    with reading(svc.sessions) as s:
        return verify_chain(s).ok


def another_process(svc) -> CaseEngine:
    """An engine with its own memory of cases, on the same database: as a second worker process."""
    engine = svc.engine
    return CaseEngine(engine.sessions, engine.forms, engine.handlers, calendar=engine.calendar,
                      clock=engine.clock, settings=engine.settings)


def test_a_command_after_another_process_changed_the_case_reads_it_again(svc):
    case = start(svc)
    task = open_task(svc, case.case_id)
    clerk = actor(svc, "tb.clerk")
    svc.engine.claim(clerk, task.id)
    another_process(svc).release(clerk, task.id)  # this engine still remembers the task as claimed
    done = svc.engine.complete_task(clerk, task.id, {"decision": "cosign"})
    assert done.revision == 4  # start, claim, release, complete: nothing lost, nothing twice
    with reading(svc.sessions) as s:
        completed = s.get(HumanTask, task.id)
        assert (completed.status, completed.completed_by) == ("completed", clerk.user_id)
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "task.complete")) == 1
    assert verify_chain_ok(svc)


def test_a_task_completed_by_another_process_is_a_conflict_here(svc):
    case = start(svc)
    task = open_task(svc, case.case_id)
    clerk, clerk2 = actor(svc, "tb.clerk"), actor(svc, "tb.clerk2")
    svc.engine.claim(clerk, task.id)
    other = another_process(svc)
    other.reassign(actor(svc, "tb.supervisor"), task.id, clerk2.user_id)
    other.complete_task(clerk2, task.id, {"decision": "reject", "reason": "路線不符"})
    with pytest.raises(CaseConflict):
        svc.engine.complete_task(clerk, task.id, {"decision": "cosign"})
    with reading(svc.sessions) as s:
        row = s.get(Case, case.case_id)
        assert (row.status, row.outcome, row.revision) == ("closed", "not_accepted", 4)
        assert s.get(HumanTask, task.id).completed_by == clerk2.user_id
    assert verify_chain_ok(svc)
