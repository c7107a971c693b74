"""Authorisation on every case access: what you may not see answers 404, and is audited."""
from __future__ import annotations

from sqlalchemy import select

from engine.db import reading, transaction
from engine.models import AuditEvent, User
from webapp import services
from webapp.auth import hash_password

from .flow import inbox_task, submit_application, work


def _add_citizen(app, username: str) -> None:
    with app.app_context(), transaction(services.get().sessions) as s:
        s.add(User(username=username, display_name="路人甲", kind="citizen", roles=[],
                   national_id="R223456785", password_hash=hash_password("onestop-demo")))


def _denials(app, case_id: str) -> int:
    with app.app_context(), reading(services.get().sessions) as s:
        return len(s.scalars(select(AuditEvent).where(
            AuditEvent.case_id == case_id, AuditEvent.result == "denied")).all())


def test_citizen_cannot_open_another_citizens_case(app, login):
    case_id, number = submit_application(login("company"))
    _add_citizen(app, "stranger")
    stranger = login("stranger")
    assert stranger.get(f"/my/cases/{case_id}").status_code == 404
    assert stranger.get(f"/my/cases/{'0' * 32}").status_code == 404  # same answer as nonexistent
    assert stranger.api("GET", f"/api/v1/cases/{case_id}").status_code == 404
    assert number not in stranger.get("/my/cases").get_data(as_text=True)
    assert _denials(app, case_id) == 2


def test_sub_bureau_sees_only_cases_crossing_its_districts(app, login):
    company = login("company")
    case_id, number = submit_application(company)  # 永康區 + 新市區
    work(login("tb.clerk"), number, decision="cosign")
    outsider = login("police.e1")  # 第一分局, 東區
    assert number not in outsider.get("/work/inbox").get_data(as_text=True)
    yk = login("police.yk")
    task_id = inbox_task(yk, number)
    assert outsider.get(f"/work/tasks/{task_id}").status_code == 404
    assert outsider.post(f"/work/tasks/{task_id}/claim").status_code == 404
    assert outsider.api("GET", f"/api/v1/cases/{case_id}").status_code == 404
    assert outsider.api("POST", f"/api/v1/tasks/{task_id}/claim", json={}).status_code == 404
    ids = [c["id"] for c in outsider.api("GET", "/api/v1/cases").get_json()["items"]]
    assert case_id not in ids
    assert yk.get(f"/work/tasks/{task_id}").status_code == 200


def test_pages_need_the_right_kind_of_user(app, login):
    anonymous = app.test_client()
    assert anonymous.get("/my/cases").status_code == 302
    assert anonymous.get("/work/inbox").status_code == 302
    citizen = login("citizen")
    assert citizen.get("/work/inbox").status_code == 403
    assert citizen.get("/supervise/cases").status_code == 403
    assert login("tb.clerk").get("/supervise/cases").status_code == 403


def test_forms_without_csrf_token_are_refused(app, login):
    company = login("company")
    response = company.http.post("/services/large_vehicle_permit/apply", data={})
    assert response.status_code == 400
    session_api = company.http.post("/api/v1/cases", json={"service": "x", "application": {}})
    assert session_api.status_code == 400


def test_sign_in_is_audited_and_wrong_password_refused(app):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    bad = client.post("/login", data={"username": "company", "password": "wrong", "csrf_token": token})
    assert bad.status_code == 401 and "帳號或密碼錯誤" in bad.get_data(as_text=True)
    with app.app_context(), reading(services.get().sessions) as s:
        results = [e.result for e in s.scalars(select(AuditEvent).where(
            AuditEvent.action == "auth.sign_in"))]
    assert results == ["failed"]


def test_identifiers_are_masked_until_a_clerk_reveals_them(app, login):
    company = login("company")
    case_id, number = submit_application(company)
    assert "53212539" not in company.get(f"/my/cases/{case_id}").get_data(as_text=True)
    clerk = login("tb.clerk")
    task_id = inbox_task(clerk, number)
    page = clerk.get(f"/work/tasks/{task_id}").get_data(as_text=True)
    assert "5321****" in page and "53212539" not in page
    revealed = clerk.get(f"/work/tasks/{task_id}?reveal=1").get_data(as_text=True)
    assert "53212539" in revealed
    with app.app_context(), reading(services.get().sessions) as s:
        reveals = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "case.reveal_identifier", AuditEvent.case_id == case_id)).all()
    assert len(reveals) == 1
