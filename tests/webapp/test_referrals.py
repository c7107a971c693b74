"""Care referrals: opened by citizens, village chiefs or staff, routed by a table admins edit."""
from __future__ import annotations

import re

from sqlalchemy import select

from engine.db import reading
from engine.models import Case, HumanTask, Notification, User
from webapp import services

from .flow import claim, complete, inbox_task, text_of


def refer(client, **fields) -> tuple[str, str]:
    """Open a referral; returns (case id, case number)."""
    opened = client.post("/services/care_referral/apply")
    assert opened.status_code == 302, text_of(opened)[:500]
    data = {"category": "寵物照顧", "person-name": "獨居的張伯伯", "person-phone": "0912345678",
            "person-district": "永康區", "person-address": "永康區中華路 100 號", "urgency": "normal",
            "reporter": "neighbour", "description": "張伯伯住院，家中兩隻狗無人餵養已兩天。",
            "action": "submit", **fields}
    response = client.post(opened.location, data=data)
    assert response.status_code == 302, text_of(response)[:2000]
    case_id = response.location.rsplit("/", 1)[1]
    number = re.search(r"REF-\d{4}-\d{6}", text_of(client.get(response.location))).group(0)
    return case_id, number


def _open_tasks(app, case_id):
    with app.app_context(), reading(services.get().sessions) as s:
        return list(s.scalars(select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.status == "open")))


def test_a_citizen_referral_goes_to_the_routed_agency_and_its_outcome_comes_back(app, login):
    citizen = login("citizen")
    bad = citizen.post(citizen.post("/services/care_referral/apply").location,
                       data={"category": "寵物照顧", "description": "太短", "action": "submit"})
    assert bad.status_code == 422 and "需要協助的對象" in text_of(bad)

    case_id, number = refer(citizen)
    (task,) = _open_tasks(app, case_id)
    assert (task.agency_code, task.name, task.due_at is not None) == ("ADPP", "處理轉介", True)
    page = text_of(citizen.get(f"/my/cases/{case_id}"))
    assert "已轉介臺南市動物防疫保護處處理" in page or "處理轉介" in page

    vet = login("adpp.clerk")
    task_id = inbox_task(vet, number)
    claim(vet, task_id)
    missing = complete(vet, task_id, decision="handled")
    assert missing.status_code == 422 and "處理情形" in text_of(missing)
    assert complete(vet, task_id, decision="handled",
                    action="已聯繫志工每日餵養，並通知家屬。").status_code == 302
    with app.app_context(), reading(services.get().sessions) as s:
        case = s.get(Case, case_id)
        told = s.scalars(select(Notification.text).join(User, User.id == Notification.user_id)
                         .where(User.username == "citizen", Notification.text.contains(number))).all()
    assert (case.status, case.outcome) == ("closed", "completed")
    assert any("轉介臺南市動物防疫保護處" in t for t in told)
    assert any("已聯繫志工每日餵養" in t for t in told)
    assert "已聯繫志工每日餵養" in text_of(citizen.get(f"/my/cases/{case_id}"))


def test_not_ours_is_rerouted_to_the_agency_of_the_new_category(app, login):
    case_id, number = refer(login("vc.yk"), category="勞工權益",
                            description="里民反映雇主積欠三個月工資，已無力支付房租。")
    labour = login("lb.clerk")
    task_id = inbox_task(labour, number)
    claim(labour, task_id)
    assert complete(labour, task_id, decision="reroute", new_category="孤老弱勢及身障服務",
                    reroute_reason="當事人為獨居長者，需先安排生活協助").status_code == 302
    (task,) = _open_tasks(app, case_id)
    assert task.agency_code == "SB"
    assert inbox_task(login("sb.care"), number)
    with app.app_context(), reading(services.get().sessions) as s:
        assert s.get(Case, case_id).owner_agency == "CA"


def test_staff_open_referrals_and_admins_reroute_a_category(app, login):
    admin = login("admin")
    page = admin.get("/admin/referral-routes")
    assert page.status_code == 200 and "寵物照顧" in text_of(page)
    index = list(re.findall(r'<label for="route-(\d+)">([^<]+)</label>', page.get_data(as_text=True)))
    routes = {name: idx for idx, name in index}
    current = dict(re.findall(r'name="(route-\d+)".*?<option value="([^"]+)"[^>]*selected',
                              page.get_data(as_text=True), flags=re.S))
    bad = admin.post("/admin/referral-routes", data={**current, f"route-{routes['寵物照顧']}": "NOPE"})
    assert bad.status_code == 422 and "請選擇承辦機關" in text_of(bad)
    moved = admin.post("/admin/referral-routes", data={**current, f"route-{routes['寵物照顧']}": "HB"})
    assert moved.status_code == 302

    clerk = login("tb.clerk")  # staff who notice a need open a referral themselves
    case_id, _number = refer(clerk, reporter="staff")
    (task,) = _open_tasks(app, case_id)
    assert task.agency_code == "HB"
    with app.app_context(), reading(services.get().sessions) as s:
        assert s.get(Case, case_id).channel == "counter"
    assert login("tb.clerk").post("/services/large_vehicle_permit/apply").status_code == 403
    assert login("ltc.clerk").get("/admin/referral-routes").status_code == 403
