"""Every role against every case-scoped page and endpoint of a case it has no business with."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.db import reading, transaction
from engine.models import Document, HumanTask, User
from webapp import services
from webapp.auth import hash_password

from .flow import submit_application, work

OUTSIDERS = ["stranger", "police.e1", "admin_less_clerk"]


def _urls(case_id: str, clerk_task: str, applicant_doc: str) -> list[tuple[str, str]]:
    return [
        ("GET", f"/my/cases/{case_id}"),
        ("GET", f"/work/tasks/{clerk_task}"),
        ("POST", f"/work/tasks/{clerk_task}/claim"),
        ("POST", f"/work/tasks/{clerk_task}/release"),
        ("POST", f"/work/tasks/{clerk_task}"),
        ("GET", f"/documents/{applicant_doc}"),
        ("POST", f"/my/cases/{case_id}/renew"),
        ("GET", f"/api/v1/cases/{case_id}"),
        ("POST", f"/api/v1/tasks/{clerk_task}/claim"),
        ("POST", f"/api/v1/tasks/{clerk_task}/complete"),
    ]


@pytest.fixture
def scene(app, login):
    """A permit case in co-signing (永康區 + 新市區), and people with no business in it."""
    with app.app_context(), transaction(services.get().sessions) as s:
        s.add(User(username="stranger", display_name="路人甲", kind="citizen", roles=[],
                   national_id="R223456785", password_hash=hash_password("onestop-demo")))
        s.add(User(username="admin_less_clerk", display_name="他局承辦", kind="staff",
                   roles=["traffic_clerk", "supervisor"], agency_code="TNPD",
                   password_hash=hash_password("onestop-demo")))
    company = login("company")
    case_id, number = submit_application(company)
    work(login("tb.clerk"), number, decision="cosign")
    with app.app_context(), reading(services.get().sessions) as s:
        task = s.scalar(select(HumanTask.id).where(HumanTask.case_id == case_id,
                                                   HumanTask.agency_code == "TNPD-YK"))
        doc = s.scalar(select(Document.id).where(Document.case_id == case_id))
    return case_id, task, doc


@pytest.mark.parametrize("username", OUTSIDERS)
def test_outsiders_get_404_everywhere(app, login, scene, username):
    case_id, task, doc = scene
    client = login(username)
    for method, url in _urls(case_id, task, doc):
        if method == "GET":
            response = client.get(url)
        elif url.startswith("/api/"):
            body = {"data": {"opinion": "agree"}} if url.endswith("/complete") else {}
            response = client.api("POST", url, json=body)
        else:
            response = client.post(url, {"opinion": "agree"})
        expected = {404}
        if url.startswith("/work/") and username == "stranger":
            expected = {403}  # citizens are turned away from the workbench before any lookup
        assert response.status_code in expected, (username, method, url, response.status_code)


def test_anonymous_is_sent_to_sign_in_and_learns_nothing(app, scene):
    case_id, task, doc = scene
    anonymous = app.test_client()
    for method, url in _urls(case_id, task, doc):
        response = anonymous.open(url, method=method)
        assert response.status_code in {302, 400, 401}, (url, response.status_code)
        body = response.get_data(as_text=True)
        assert "LVP-" not in body and "南瀛營造" not in body and "KLA-1234" not in body


def test_the_people_on_the_case_do_get_in(app, login, scene):
    case_id, task, doc = scene
    assert login("company").get(f"/my/cases/{case_id}").status_code == 200
    assert login("company").get(f"/documents/{doc}").status_code == 200
    assert login("police.yk").get(f"/work/tasks/{task}").status_code == 200
    assert login("police.sh").api("GET", f"/api/v1/cases/{case_id}").status_code == 200
    assert login("tb.supervisor").get(f"/work/tasks/{task}").status_code == 200
    assert login("admin").api("GET", f"/api/v1/cases/{case_id}").status_code == 200


def test_every_denied_look_is_audited(app, login, scene):
    from engine.models import AuditEvent

    case_id, _task, _doc = scene
    login("stranger").get(f"/my/cases/{case_id}")
    login("police.e1").api("GET", f"/api/v1/cases/{case_id}")
    with app.app_context(), reading(services.get().sessions) as s:
        denied = s.scalars(select(AuditEvent.actor_id).where(
            AuditEvent.case_id == case_id, AuditEvent.result == "denied")).all()
        names = {s.get(User, a).username for a in denied}
    assert names == {"stranger", "police.e1"}


def test_district_clerks_see_only_their_districts_cases(app, login):
    from .test_low_income import apply

    case_id, number = apply(login("lin"))  # registered in 東區
    with app.app_context(), reading(services.get().sessions) as s:
        task = s.scalar(select(HumanTask.id).where(HumanTask.case_id == case_id))
    other_district = login("yk.social")
    assert number not in other_district.get("/work/inbox").get_data(as_text=True)
    assert other_district.get(f"/work/tasks/{task}").status_code == 404
    assert other_district.api("GET", f"/api/v1/cases/{case_id}").status_code == 404
    assert other_district.api("POST", f"/api/v1/tasks/{task}/claim", json={}).status_code == 404
    assert login("east.social").get(f"/work/tasks/{task}").status_code == 200
    assert login("police.yk").api("GET", f"/api/v1/cases/{case_id}").status_code == 404
