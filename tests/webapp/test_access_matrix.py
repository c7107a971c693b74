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


# -- every demo role against a case of each service ---------------------------------------------

def _every_user() -> dict[str, set[str]]:
    """Every demo account and its roles, and a citizen with no case at all."""
    from webapp.seed import DEMO_USERS

    return {row[0]: set(row[3]) for row in DEMO_USERS} | {"stranger": set()}


def _case_scoped(case_id: str, staff_task: str, applicant_task: str | None, doc: str | None,
                 permit_number: str | None) -> list[tuple[str, str]]:
    urls = [("GET", f"/my/cases/{case_id}"), ("POST", f"/my/cases/{case_id}/renew"),
            ("GET", f"/work/tasks/{staff_task}"), ("POST", f"/work/tasks/{staff_task}"),
            ("POST", f"/work/tasks/{staff_task}/claim"), ("POST", f"/work/tasks/{staff_task}/release"),
            ("POST", f"/supervise/tasks/{staff_task}/reassign"),
            ("GET", f"/api/v1/cases/{case_id}"), ("POST", f"/api/v1/tasks/{staff_task}/claim"),
            ("POST", f"/api/v1/tasks/{staff_task}/complete")]
    if applicant_task:
        urls += [("GET", f"/my/tasks/{applicant_task}"), ("POST", f"/my/tasks/{applicant_task}"),
                 ("POST", f"/api/v1/tasks/{applicant_task}/complete")]
    if doc:
        urls.append(("GET", f"/documents/{doc}"))
    if permit_number:
        urls.append(("GET", f"/permits/{permit_number}.pdf"))
    return urls


def _open_task(app, case_id: str, **where) -> str | None:
    with app.app_context(), reading(services.get().sessions) as s:
        query = select(HumanTask.id).where(HumanTask.case_id == case_id)
        for column, value in where.items():
            query = query.where(getattr(HumanTask, column) == value)
        return s.scalar(query.order_by(HumanTask.created_at.desc()).limit(1))


def _permit_scene(app, login) -> dict:
    from engine.models import Permit

    company = login("company")
    case_id, number = submit_application(company)
    work(login("tb.clerk"), number, decision="cosign")
    issued_id, issued = submit_application(company)
    work(login("tb.clerk"), issued, decision="cosign")
    work(login("police.yk"), issued, opinion="agree")
    work(login("police.sh"), issued, opinion="agree")
    work(login("tb.clerk"), issued, decision="approve")
    with app.app_context(), reading(services.get().sessions) as s:
        doc = s.scalar(select(Document.id).where(Document.case_id == case_id))
        permit = s.scalar(select(Permit.number).where(Permit.case_id == issued_id))
    return {"cases": [case_id, issued_id], "staff_task": _open_task(app, case_id, agency_code="TNPD-YK"),
            "applicant_task": None, "doc": doc, "permit": permit,
            "insiders": {"company", "tb.clerk", "tb.clerk2", "tb.supervisor", "tb.counter", "police.yk",
                         "police.sh", "admin"}}


def _low_income_scene(app, login) -> dict:
    from .test_low_income import apply

    lin = login("lin")
    case_id, _number = apply(lin)  # registered in 東區: at the 東區 office's social section
    corrected_id, corrected = apply(lin)
    work(login("east.social"), corrected, decision="correction", correction_note="請補附存摺影本")
    return {"cases": [case_id, corrected_id], "staff_task": _open_task(app, case_id, status="open"),
            "applicant_task": _open_task(app, corrected_id, status="open"), "doc": None, "permit": None,
            "insiders": {"lin", "east.social", "east.chief", "sb.clerk", "sb.supervisor", "sb.care", "admin"}}


def _care_scene(app, login) -> dict:
    from .test_long_term_care import apply

    lin = login("lin")
    case_id, number = apply(lin)
    work(login("ltc.clerk"), number, decision="follow")  # now waiting for the family to book
    return {"cases": [case_id], "staff_task": _open_task(app, case_id, role="care_clerk"),
            "applicant_task": _open_task(app, case_id, status="open"), "doc": None, "permit": None,
            "insiders": {"lin", "ltc.clerk", "ltc.assessor", "ltc.assessor2", "ltc.supervisor", "admin"}}


def _referral_scene(app, login) -> dict:
    from .test_referrals import refer

    case_id, _number = refer(login("citizen"))  # 寵物照顧: routed to 動物防疫保護處
    return {"cases": [case_id], "staff_task": _open_task(app, case_id, status="open"),
            "applicant_task": None, "doc": None, "permit": None,
            "insiders": {"citizen", "adpp.clerk", "ca.clerk", "ca.supervisor", "admin"}}


def _road_event_scene(app, login) -> dict:
    from .test_road_event import FESTIVAL_AGENCIES, dispatched

    case_id, number = dispatched(app, login, festival=True)  # 永康區: five agencies co-handle it
    work(login("fb.clerk"), number, opinion="agree")
    with app.app_context(), reading(services.get().sessions) as s:
        doc = s.scalar(select(Document.id).where(Document.case_id == case_id))
    return {"cases": [case_id], "staff_task": _open_task(app, case_id, agency_code="EPB"),
            "applicant_task": None, "doc": doc, "permit": None,
            "insiders": {"company", "tb.clerk", "tb.clerk2", "tb.supervisor", "tb.counter", "admin",
                         "fb.supervisor", *FESTIVAL_AGENCIES.values()}}


SCENES = {"large_vehicle_permit": _permit_scene, "low_income": _low_income_scene,
          "long_term_care": _care_scene, "care_referral": _referral_scene,
          "road_event": _road_event_scene}


@pytest.mark.parametrize("service", sorted(SCENES))
def test_every_role_against_every_case_scoped_page_of_each_service(app, login, scene, service):
    """Everyone not on the case gets 404 on every page and endpoint (citizens: 403 at the workbench)."""
    world = SCENES[service](app, login)
    from webapp.seed import DEMO_USERS

    citizens = {row[0] for row in DEMO_USERS if row[2] == "citizen"} | {"stranger"}
    for username, roles in _every_user().items():
        client = login(username)
        for case_id in world["cases"]:
            insider = username in world["insiders"]
            seen = client.api("GET", f"/api/v1/cases/{case_id}").status_code
            assert seen == (200 if insider else 404), (service, username, seen)
            if insider:
                continue
            for method, url in _case_scoped(case_id, world["staff_task"], world["applicant_task"],
                                            world["doc"], world["permit"]):
                if method == "GET":
                    response = client.get(url)
                elif url.startswith("/api/"):
                    response = client.api("POST", url, json={"data": {}} if url.endswith("/complete") else {})
                else:
                    response = client.post(url, {"decision": "follow", "assignee": "x"})
                expected = {404}
                if username in citizens and url.startswith(("/work/", "/supervise/")):
                    expected = {403}  # turned away from staff pages before any lookup
                elif url.startswith("/supervise/") and not roles & {"supervisor", "admin"}:
                    expected = {403}  # only supervisors reach the page at all
                assert response.status_code in expected, (service, username, method, url,
                                                          response.status_code)
