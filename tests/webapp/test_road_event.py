"""道路使用／大型活動申請 through the pages: rule-based dispatch to the agencies that co-handle
it in parallel, one merged correction, the agencies seeing each other, and 交通局's decision."""
from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from engine.db import reading
from engine.models import Case, HumanTask, Notification, User
from tests.factories import PDF, PNG
from webapp import services

from .flow import REVISION_RE, claim, complete, inbox_task, text_of, work

SERVICE = "road_event"
#: Everyone a 3000-person festival in 永康區 goes to, and a co-handling clerk of each.
FESTIVAL_AGENCIES = {"TNPD-YK": "police.yk", "FB": "fb.clerk", "EPB": "epb.clerk", "PWB": "pwb.clerk",
                     "D31": "yk.office"}


def event_form(**overrides) -> dict:
    """A street-corner event in 永康區: 200 people, nothing on the road, no closure."""
    fields = {
        "applicant-kind": "company",
        "applicant-id_no": "53212539",
        "applicant-name": "南瀛營造股份有限公司",
        "applicant-responsible_person": "陳大文",
        "applicant-contact_name": "林小姐",
        "applicant-phone": "06-2991111",
        "applicant-email": "contact@example.tw",
        "event-name": "大灣里中秋聯歡晚會",
        "event-date": (date.today() + timedelta(days=30)).isoformat(),
        "event-start_time": "18:00",
        "event-end_time": "22:00",
        "event-district": "永康區",
        "event-location": "永康區大灣路與中華路口廣場",
        "event-attendance": "200",
    }
    fields.update(overrides)
    return fields


FESTIVAL = {
    "event-name": "永康國際踩街嘉年華",
    "event-attendance": "3000",
    "event-location": "永康區中華路（中正南路至大灣路）",
    "arrangements-fireworks": "true",
    "arrangements-stage": "true",
    "arrangements-food_stalls": "true",
    "arrangements-stall_count": "40",
    "arrangements-road_closure": "true",
    "arrangements-closure_description": "中華路中正南路至大灣路段，當日 15:00 至 23:00 全線封閉",
}


def event_files(safety_plan: bool = False) -> dict:
    files = {"attachments-site_plan": (io.BytesIO(PNG), "site.png")}
    if safety_plan:
        files["attachments-safety_plan"] = (io.BytesIO(PDF), "safety.pdf")
    return files


def submit_event(client, festival: bool = False, safety_plan: bool | None = None,
                 **overrides) -> tuple[str, str]:
    """Apply for the road-use permit of an event; returns (case id, case number)."""
    draft = client.post(f"/services/{SERVICE}/apply").location
    fields = event_form(**{**(FESTIVAL if festival else {}), **overrides})
    files = event_files(safety_plan=festival if safety_plan is None else safety_plan)
    response = client.post(draft, data={**fields, **files, "action": "submit"},
                           content_type="multipart/form-data")
    assert response.status_code == 302, text_of(response)[:2000]
    case_id = response.location.rsplit("/", 1)[1]
    number = re.search(r"REV-\d{4}-\d{6}", text_of(client.get(response.location))).group(0)
    return case_id, number


def open_tasks(app, case_id: str, **where) -> list[HumanTask]:
    with app.app_context(), reading(services.get().sessions) as s:
        query = select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.status == "open")
        for column, value in where.items():
            query = query.where(getattr(HumanTask, column) == value)
        return list(s.scalars(query))


def cohandling_agencies(app, case_id: str) -> set[str]:
    return {t.agency_code for t in open_tasks(app, case_id, spec_name="cohandle")}


def dispatched(app, login, festival: bool = False, **overrides) -> tuple[str, str]:
    """A submitted event that 交通局 has accepted, now with the co-handling agencies."""
    case_id, number = submit_event(login("company"), festival, **overrides)
    work(login("tb.clerk"), number, decision="cosign")
    return case_id, number


# -- (1) the dispatch rules -------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "expected"), [
    ({}, {"D31"}),
    ({"event-attendance": "300"}, {"TNPD-YK", "D31"}),
    ({"event-attendance": "600"}, {"TNPD-YK", "EPB", "D31"}),
    ({"event-attendance": "1000", "safety_plan": True},
     {"TNPD-YK", "FB", "EPB", "D31"}),
    ({"arrangements-road_closure": "true", "arrangements-closure_description": "大灣路 18:00–22:00 封閉"},
     {"TNPD-YK", "PWB", "D31"}),
    ({"arrangements-food_stalls": "true", "arrangements-stall_count": "5"}, {"EPB", "D31"}),
    ({"event-district": "東區", "event-attendance": "400"}, {"TNPD-1", "D32"}),
])
def test_the_dispatch_rules_pick_the_agencies(app, login, overrides, expected):
    case_id, _ = dispatched(app, login, **overrides)
    assert cohandling_agencies(app, case_id) == expected


def test_a_small_event_goes_to_the_district_office_and_a_festival_to_all_five(app, login):
    small_id, small = dispatched(app, login)
    assert cohandling_agencies(app, small_id) == {"D31"}
    assert small in text_of(login("yk.office").get("/work/inbox"))

    festival_id, festival = dispatched(app, login, festival=True)
    assert cohandling_agencies(app, festival_id) == set(FESTIVAL_AGENCIES)
    for username in FESTIVAL_AGENCIES.values():
        assert festival in text_of(login(username).get("/work/inbox")), username
    with app.app_context(), reading(services.get().sessions) as s:
        case = s.get(Case, festival_id)
        assert case.stage == "會辦" and case.fields["cohandlers"] == ["TNPD-YK", "FB", "EPB", "PWB", "D31"]


def test_the_safety_plan_is_required_for_big_events_and_fireworks(app, login):
    company = login("company")
    draft = company.post(f"/services/{SERVICE}/apply").location
    for overrides in ({"event-attendance": "1500"}, {"arrangements-fireworks": "true"}):
        response = company.post(draft, data={**event_form(**overrides), **event_files(), "action": "submit"},
                                content_type="multipart/form-data")
        assert response.status_code == 422
        assert "此欄位為必填" in text_of(response)
    response = company.post(draft, data={**event_form(**{"arrangements-food_stalls": "true",
                                                         "arrangements-road_closure": "true"}),
                                         **event_files(), "action": "submit"},
                            content_type="multipart/form-data")
    assert response.status_code == 422
    shown = text_of(response)
    assert shown.count("此欄位為必填") >= 2  # the stall count and the closure description


# -- (2) two agencies ask for corrections: one merged request, then everyone again -------------

def _applicant_task(app, case_id: str) -> list[HumanTask]:
    return open_tasks(app, case_id, role="applicant")


def _notices(app, username: str, containing: str) -> list[str]:
    with app.app_context(), reading(services.get().sessions) as s:
        user = s.scalar(select(User.id).where(User.username == username))
        texts = s.scalars(select(Notification.text).where(Notification.user_id == user)).all()
    return [t for t in texts if containing in t]


def test_corrections_are_merged_into_one_request_and_everyone_co_handles_again(app, login):
    case_id, number = dispatched(app, login, festival=True)
    work(login("fb.clerk"), number, opinion="conditions", comment="煙火施放區距觀眾應 30 公尺以上",
         needs_correction="true", correction_note="請補附煙火施放許可及施放位置圖")
    work(login("epb.clerk"), number, opinion="agree",
         needs_correction="true", correction_note="請補附攤位廢棄物清運及資源回收計畫")
    assert not _applicant_task(app, case_id)  # not before every agency has answered
    for username in ("police.yk", "pwb.clerk", "yk.office"):
        work(login(username), number, opinion="agree")

    corrections = _applicant_task(app, case_id)
    assert len(corrections) == 1 and corrections[0].context["pauses_clock"] is True
    assert not open_tasks(app, case_id, spec_name="cohandle")
    company = login("company")
    page = company.get(f"/my/tasks/{corrections[0].id}")
    shown = text_of(page)
    assert "消防局：請補附煙火施放許可及施放位置圖" in shown
    assert "環保局：請補附攤位廢棄物清運及資源回收計畫" in shown
    assert "工務局：" not in shown  # only the agencies that asked
    assert "補正" in text_of(company.get(f"/my/cases/{case_id}"))

    html = page.get_data(as_text=True)
    kept = dict(re.findall(r'name="(attachments-[a-z_]+__(?:document|filename))" value="([^"]*)"', html))
    resubmitted = company.post(
        f"/my/tasks/{corrections[0].id}",
        data={**event_form(**FESTIVAL), **kept, "revision": REVISION_RE.search(html).group(1),
              "attachments-safety_plan": (io.BytesIO(PDF), "safety-v2.pdf")},
        content_type="multipart/form-data")
    assert resubmitted.status_code == 302, text_of(resubmitted)[:1500]
    assert not _applicant_task(app, case_id)
    assert cohandling_agencies(app, case_id) == set(FESTIVAL_AGENCIES)

    # The second round: each page lists this round's other agencies, not the first round's answers.
    fb = login("fb.clerk")
    fb_task = inbox_task(fb, number)
    claim(fb, fb_task)
    siblings = text_of(fb.get(f"/work/tasks/{fb_task}")).split("其他會辦單位辦理情形")[1].split("歷次審查")[0]
    assert siblings.count("辦理中") == 4 and "已回覆" not in siblings
    assert complete(fb, fb_task, opinion="conditions", comment="煙火施放區距觀眾應 30 公尺以上").status_code == 302
    for username in ("epb.clerk", "police.yk", "pwb.clerk", "yk.office"):
        work(login(username), number, opinion="agree")

    clerk = login("tb.clerk")
    decide = inbox_task(clerk, number)
    claim(clerk, decide)
    summary = text_of(clerk.get(f"/work/tasks/{decide}"))
    assert "消防局：附條件同意，煙火施放區距觀眾應 30 公尺以上" in summary
    assert "環保局：同意" in summary and "警察局永康分局：同意" in summary and "永康區公所：同意" in summary
    assert complete(clerk, decide, decision="approve",
                    conditions="煙火施放區距觀眾應 30 公尺以上。\n活動結束後應立即恢復路面原狀。").status_code == 302

    with app.app_context(), reading(services.get().sessions) as s:
        case = s.get(Case, case_id)
        assert (case.status, case.outcome) == ("closed", "approved")
    approved = _notices(app, "company", "道路使用已核准")
    assert len(approved) == 1 and number in approved[0] and "煙火施放區距觀眾應 30 公尺以上" in approved[0]
    assert "核准" in text_of(company.get(f"/my/cases/{case_id}"))


def test_traffic_bureau_rejects_after_co_handling(app, login):
    case_id, number = dispatched(app, login)
    work(login("yk.office"), number, opinion="object", comment="該路口為里民出入要道，不宜使用")
    work(login("tb.clerk"), number, decision="reject", reason="區公所不同意使用該路口")
    with app.app_context(), reading(services.get().sessions) as s:
        case = s.get(Case, case_id)
        assert (case.status, case.outcome) == ("closed", "rejected")
    assert len(_notices(app, "company", "區公所不同意使用該路口")) == 1


def test_traffic_bureau_may_refuse_at_intake(app, login):
    case_id, number = submit_event(login("company"))
    work(login("tb.clerk"), number, decision="reject", reason="活動地點非屬道路範圍，請洽場地管理機關")
    with app.app_context(), reading(services.get().sessions) as s:
        assert s.get(Case, case_id).outcome == "not_accepted"
    assert _notices(app, "company", "活動地點非屬道路範圍")


def test_an_opinion_with_conditions_needs_its_conditions(app, login):
    _case_id, number = dispatched(app, login)
    office = login("yk.office")
    task = inbox_task(office, number)
    claim(office, task)
    response = complete(office, task, opinion="conditions")
    assert response.status_code == 422 and "此欄位為必填" in text_of(response)
    response = complete(office, task, opinion="agree", needs_correction="true")
    assert response.status_code == 422 and "此欄位為必填" in text_of(response)


# -- (3) the agencies see each other (互為獲知會辦情形) ------------------------------------------

def test_each_agency_sees_the_others_statuses_and_opinions(app, login):
    _case_id, number = dispatched(app, login, festival=True)
    work(login("fb.clerk"), number, opinion="conditions", comment="舞台周邊應留設 4 公尺消防通道")
    work(login("pwb.clerk"), number, opinion="agree", needs_correction="true",
         correction_note="請補附舞台結構安全證明")

    epb = login("epb.clerk")
    task = inbox_task(epb, number)
    page = epb.get(f"/work/tasks/{task}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    panel = text_of(page).split("其他會辦單位辦理情形")[1].split("歷次審查")[0]
    assert 'id="siblings"' in html
    assert "臺南市政府消防局" in panel and "附條件同意" in panel and "舞台周邊應留設 4 公尺消防通道" in panel
    assert "臺南市政府工務局" in panel and "請補附舞台結構安全證明" in panel
    assert panel.count("已回覆") == 2 and panel.count("辦理中") == 2
    assert "臺南市政府警察局永康分局" in panel and "臺南市永康區公所" in panel
    assert "臺南市政府環境保護局" not in panel  # its own task is not a sibling


# -- (4) an agency that was not dispatched cannot reach the task ------------------------------

def test_an_agency_not_dispatched_gets_404(app, login):
    case_id, number = dispatched(app, login)  # the district office only
    (task,) = open_tasks(app, case_id, spec_name="cohandle")
    outsider = login("fb.clerk")
    assert number not in text_of(outsider.get("/work/inbox"))
    assert outsider.get(f"/work/tasks/{task.id}").status_code == 404
    assert outsider.post(f"/work/tasks/{task.id}/claim", {"revision": "1"}).status_code == 404
    assert outsider.post(f"/work/tasks/{task.id}", {"opinion": "agree"}).status_code == 404
    assert outsider.api("GET", f"/api/v1/cases/{case_id}").status_code == 404
    assert login("fb.supervisor").get(f"/work/tasks/{task.id}").status_code == 404
    assert login("yk.office").get(f"/work/tasks/{task.id}").status_code == 200


def test_the_case_page_draws_the_co_handling_diagram(app, login):
    case_id, _number = dispatched(app, login, festival=True)
    body = login("company").get(f"/my/cases/{case_id}/diagram.json").get_json()
    assert body["current"] == ["cohandle"] and "intake" in body["done"]
    assert 'bpmnElement="cohandle"' in body["xml"] and "bpmndi:BPMNEdge" in body["xml"]
