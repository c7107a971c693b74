"""代辦: a principal authorises an agent, who accepts and applies in the principal's name."""
from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select

from engine.db import reading
from engine.models import AuditEvent, Case, Notification, User
from tests.factories import application_form, files
from webapp import services

from .flow import text_of

SERVICE = "large_vehicle_permit"


def _authorize(principal, agent_id: str = "A123456789", birth: str = "1985-06-12"):
    until = (date.today() + timedelta(days=90)).isoformat()
    return principal.post("/my/agents", {"agent_national_id": agent_id, "agent_birth_date": birth,
                                         "services": SERVICE, "valid_until": until})


def _serial(client) -> str:
    return re.search(r"代辦序號 ([A-Z0-9]{8})", text_of(client.get("/my/agents"))).group(1)


def _user_id(app, username: str) -> str:
    with app.app_context(), reading(services.get().sessions) as s:
        return s.scalar(select(User.id).where(User.username == username))


def test_agent_accepts_and_applies_in_the_principals_name(app, login):
    lin, wang = login("lin"), login("citizen")
    assert _authorize(lin).status_code == 302
    serial = _serial(lin)

    preview = wang.post("/my/agents/preview", {"serial": serial})
    assert "林○麗" in text_of(preview) and "林美麗" not in text_of(preview)
    assert wang.post("/my/agents/accept", {"serial": serial}).status_code == 302
    assert "王○明 已接受您的代辦授權" in text_of(lin.get("/my/cases"))

    page = wang.get(f"/services/{SERVICE}")
    principal = re.search(r'name="principal" value="([0-9a-f]{32})"', page.get_data(as_text=True)).group(1)
    assert principal == _user_id(app, "lin")
    draft = wang.post(f"/services/{SERVICE}/apply", {"principal": principal}).location
    assert "代理 林○麗" in text_of(wang.get(draft))
    done = wang.post(draft, data={**application_form(**{"applicant-kind": "person",
                                                        "applicant-id_no": "R223456785",
                                                        "applicant-name": "林美麗"}),
                                  **files(), "action": "submit"}, content_type="multipart/form-data")
    assert done.status_code == 302, text_of(done)[:800]
    case_id = done.location.rsplit("/", 1)[1]
    with app.app_context(), reading(services.get().sessions) as s:
        case = s.get(Case, case_id)
        assert case.applicant_id == principal and case.agent_id == _user_id(app, "citizen")
        start = s.scalar(select(AuditEvent).where(AuditEvent.case_id == case_id,
                                                  AuditEvent.action == "case.start"))
        assert start.actor_id == case.agent_id and start.on_behalf_of == principal
    assert case.number in text_of(lin.get("/my/cases"))  # the principal follows it
    assert lin.get(f"/my/cases/{case_id}").status_code == 200


def test_only_the_named_agent_can_accept(app, login):
    lin = login("lin")
    _authorize(lin, birth="1985-06-13")  # wrong birth date for 王小明
    serial = _serial(lin)
    wang = login("citizen")
    refused = wang.post("/my/agents/accept", {"serial": serial})
    assert refused.status_code == 422 and "代辦人不符" in text_of(refused)
    assert wang.post("/my/agents/accept", {"serial": "ZZZZZZZZ"}).status_code == 422


def test_bad_authorisation_gets_field_errors(app, login):
    lin = login("lin")
    response = lin.post("/my/agents", {"agent_national_id": "A123456780", "agent_birth_date": "x",
                                       "valid_until": "2000-01-01"})
    page = text_of(response)
    assert response.status_code == 422
    assert "身分證字號不正確" in page and "日期格式不正確" in page and "期限須晚於今天" in page
    assert "請至少選擇一項服務" in page


def test_revoked_agent_cannot_apply(app, login):
    lin, wang = login("lin"), login("citizen")
    _authorize(lin)
    serial = _serial(lin)
    wang.post("/my/agents/preview", {"serial": serial})
    wang.post("/my/agents/accept", {"serial": serial})
    principal = _user_id(app, "lin")
    grant_id = re.search(r'/my/agents/([0-9a-f]{32})/revoke', lin.get("/my/agents").get_data(as_text=True)).group(1)
    assert lin.post(f"/my/agents/{grant_id}/revoke").status_code == 302
    assert wang.post(f"/services/{SERVICE}/apply", {"principal": principal}).status_code == 403
    with app.app_context(), reading(services.get().sessions) as s:
        texts = s.scalars(select(Notification.text).where(Notification.user_id == _user_id(app, "citizen"))).all()
    assert any("撤銷" in t for t in texts)
