"""長照服務申請 through the pages: triage with the rules and overrides, booking, assessment."""
from __future__ import annotations

import re
import threading
import time
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from engine.access import Actor
from engine.db import reading, transaction
from engine.errors import InvalidInput
from engine.models import AssessmentSlot, Case, HumanTask, Notification, User
from handlers.care import SLOT_TAKEN
from tests.conftest import make_app
from webapp import services

from .flow import complete, inbox_task, text_of, work

SERVICE = "long_term_care"


def application(**overrides) -> dict:
    fields = {
        "recipient-name": "林美麗", "recipient-id_no": "R223456785", "recipient-birth_date": "1948-09-05",
        "recipient-sex": "女", "recipient-phone": "0912345678", "recipient-district": "東區",
        "recipient-address": "臺南市東區東門路一段100號",
        "welfare_status": "一般戶", "living": "與家人同住",
        "caregiver-name": "王小明", "caregiver-relation": "子女", "caregiver-phone": "0922333444",
        "services": ["居家照顧", "交通接送"], "visit_times": ["平日上午"],
        "visit_note": "住三樓無電梯", "consent": "true",
    }
    fields.update(overrides)
    return fields


def apply(client, principal: str | None = None, **overrides) -> tuple[str, str]:
    draft = client.post(f"/services/{SERVICE}/apply", {"principal": principal} if principal else {}).location
    response = client.post(draft, data={**application(**overrides), "action": "submit"},
                           content_type="multipart/form-data")
    assert response.status_code == 302, text_of(response)[:1500]
    case_id = response.location.rsplit("/", 1)[1]
    number = re.search(r"LTC-\d{4}-\d{6}", text_of(client.get(response.location))).group(0)
    return case_id, number


def user_id(app, username: str) -> str:
    with app.app_context(), reading(services.get().sessions) as s:
        return s.scalar(select(User.id).where(User.username == username))


def case_of(app, case_id: str) -> Case:
    with app.app_context(), reading(services.get().sessions) as s:
        return s.get(Case, case_id)


def notices(app, username: str) -> list[str]:
    with app.app_context(), reading(services.get().sessions) as s:
        return list(s.scalars(select(Notification.text).join(User, User.id == Notification.user_id)
                              .where(User.username == username).order_by(Notification.id)))


def authorise(principal, agent) -> str:
    """The principal authorises ``agent`` (王小明) for long-term care; returns the principal's id."""
    until = (date.today() + timedelta(days=90)).isoformat()
    assert principal.post("/my/agents", {"agent_national_id": "A123456789", "agent_birth_date": "1985-06-12",
                                         "services": SERVICE, "valid_until": until}).status_code == 302
    serial = re.search(r"代辦序號 ([A-Z0-9]{8})", text_of(principal.get("/my/agents"))).group(1)
    agent.post("/my/agents/preview", {"serial": serial})
    assert agent.post("/my/agents/accept", {"serial": serial}).status_code == 302
    page = agent.get(f"/services/{SERVICE}").get_data(as_text=True)
    return re.search(r'name="principal" value="([0-9a-f]{32})"', page).group(1)


def booking_task(client) -> tuple[str, list[str]]:
    """The applicant's open booking task and the slot ids it offers, soonest first."""
    page = client.get("/my/cases").get_data(as_text=True)
    task_id = re.search(r'href="/my/tasks/([0-9a-f-]+)"[^>]*>[^<]*預約到府評估', page).group(1)
    html = client.get(f"/my/tasks/{task_id}").get_data(as_text=True)
    return task_id, re.findall(r'name="slot_id" value="([0-9a-f]{32})"', html)


def book(client, task_id: str, slot_id: str):
    page = client.get(f"/my/tasks/{task_id}").get_data(as_text=True)
    revision = re.search(r'name="revision" value="(\d+)"', page).group(1)
    return client.post(f"/my/tasks/{task_id}", {"revision": revision, "slot_id": slot_id,
                                                "contact_phone": "0922333444"})


def test_family_applies_as_agent_books_a_visit_and_gets_a_care_plan(app, login):
    lin, wang = login("lin"), login("citizen")
    principal = authorise(lin, wang)
    case_id, number = apply(wang, principal)
    case = case_of(app, case_id)
    assert case.applicant_id == principal and case.agent_id == user_id(app, "citizen")
    assert case.provenance["recipient-name"] == "identity"  # prefilled from the elder's account

    clerk = login("ltc.clerk")
    task_id = inbox_task(clerk, number)
    page = text_of(clerk.get(f"/work/tasks/{task_id}"))
    assert "符合長照服務資格：年滿 65 歲（78 歲）" in page
    work(clerk, number, decision="follow")

    task_id, slots = booking_task(wang)  # the agent books for the family
    assert len(slots) >= 5
    with app.app_context(), reading(services.get().sessions) as s:
        from handlers.care import preferred

        fits = [preferred(s.get(AssessmentSlot, x).starts_at, ["平日上午"]) for x in slots]
    assert fits[0] and fits == sorted(fits, reverse=True)  # weekday mornings, as asked, come first
    with app.app_context(), reading(services.get().sessions) as s:
        chosen = s.get(AssessmentSlot, slots[0])
        assessor, label_day = chosen.assessor.username, chosen.starts_at
    assert book(wang, task_id, slots[0]).status_code == 302
    booked = [n for n in notices(app, "lin") if "已預約到府評估" in n]
    assert booked and booked[-1] in notices(app, "citizen")  # the agent hears it too
    assert not any("提醒您" in n for n in notices(app, "lin"))  # reminded later, not at once
    with app.app_context(), reading(services.get().sessions) as s:
        slot = s.get(AssessmentSlot, slots[0])
        assert slot.case_id == case_id and slot.booked_by == user_id(app, "citizen")
        visit = s.scalar(select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.status == "open"))
        assert visit.assignee_id == slot.assessor_id  # handed straight to the assessor who was booked
    assert label_day > datetime.now(timezone.utc)

    other = login("ltc.assessor2" if assessor == "ltc.assessor" else "ltc.assessor")
    task_id = inbox_task(other, number)  # the centre's group sees it, held by the booked assessor
    assert "處理中" in text_of(other.get(f"/work/tasks/{task_id}"))
    assert other.post(f"/work/tasks/{task_id}", {"cms_level": "3", "findings": "x",
                                                 "plan_services": "居家照顧", "care_plan": "x"}).status_code == 403
    visitor = login(assessor)
    assert "照管專員" in text_of(visitor.get(f"/work/tasks/{task_id}"))
    missing = complete(visitor, task_id, cms_level="4", findings="行走需扶持，如廁需協助。")
    assert missing.status_code == 422 and "此欄位為必填" in text_of(missing)
    done = complete(visitor, task_id, cms_level="4", findings="行走需扶持，如廁需協助。",
                    plan_services=["居家照顧", "交通接送"], care_plan="每週三次居家照顧，就醫交通接送。")
    assert done.status_code == 302, text_of(done)[:1500]
    closed = case_of(app, case_id)
    assert (closed.status, closed.outcome) == ("closed", "care_plan")
    assert any("長照需要等級第 4 級" in n and "每週三次居家照顧" in n for n in notices(app, "lin"))
    assert "已核定照顧計畫" in text_of(lin.get(f"/my/cases/{case_id}"))


def test_triage_follows_or_overrides_the_rules_with_a_reason(app, login):
    wang = login("citizen")  # 41 years old, no certificate
    _case_id, number = apply(wang, **{"recipient-name": "王小明", "recipient-id_no": "A123456789",
                                      "recipient-birth_date": "1985-06-12", "recipient-district": "永康區"})
    clerk = login("ltc.clerk")
    task_id = inbox_task(clerk, number)
    assert "不符合長照服務資格：未滿 65 歲（41 歲）；未領有身心障礙證明" in text_of(clerk.get(f"/work/tasks/{task_id}"))
    work_id = task_id
    clerk.post(f"/work/tasks/{work_id}/claim", {"revision": re.search(
        r'name="revision" value="(\d+)"', clerk.get(f"/work/tasks/{work_id}").get_data(as_text=True)).group(1)})
    refused = complete(clerk, work_id, decision="override")
    assert refused.status_code == 422 and "改判理由" in text_of(refused)
    assert complete(clerk, work_id, decision="override",
                    override_reason="車禍後下肢癱瘓，身障證明鑑定中，先行評估。").status_code == 302
    task_id, slots = booking_task(wang)
    assert slots  # overridden to eligible: the family may book

    young_id, young = apply(wang, **{"recipient-name": "王小明", "recipient-id_no": "A123456789",
                                     "recipient-birth_date": "1985-06-12"})
    work(clerk, young, decision="follow")
    closed = case_of(app, young_id)
    assert (closed.status, closed.outcome) == ("closed", "ineligible")
    assert any("經審查不符長照服務資格：未滿 65 歲（41 歲）" in n for n in notices(app, "citizen"))


def test_disability_indigenous_and_dementia_rules(app, login):
    wang, clerk = login("citizen"), login("ltc.clerk")
    cases = {
        "領有身心障礙證明": {"disability-certificate": "true", "disability-level": "中度"},
        "原住民族年滿 55 歲（57 歲）": {"recipient-indigenous": "true", "recipient-birth_date": "1969-01-15"},
        "經診斷失智症且年滿 50 歲（51 歲）": {"dementia": "true", "recipient-birth_date": "1975-03-01"},
    }
    for reason, fields in cases.items():
        _case_id, number = apply(wang, **{"recipient-birth_date": "1985-06-12", **fields})
        assert reason in text_of(clerk.get(f"/work/tasks/{inbox_task(clerk, number)}"))
    _case_id, number = apply(wang, **{"recipient-indigenous": "true", "recipient-birth_date": "1975-03-01"})
    assert "原住民族未滿 55 歲" in text_of(clerk.get(f"/work/tasks/{inbox_task(clerk, number)}"))


def test_a_slot_taken_meanwhile_is_refused_on_the_field_and_the_list_is_fresh(app, login):
    lin, wang = login("lin"), login("citizen")
    _first, first_number = apply(lin)
    principal = authorise(lin, wang)
    second_id, second_number = apply(wang, principal)
    clerk = login("ltc.clerk")
    work(clerk, first_number, decision="follow")
    work(clerk, second_number, decision="follow")

    page = lin.get("/my/cases").get_data(as_text=True)
    tasks = re.findall(r'href="/my/tasks/([0-9a-f-]+)"', page)
    assert len(tasks) == 2  # lin sees both: her own and the one her son filed for her
    with app.app_context(), reading(services.get().sessions) as s:
        mine = {t: s.get(HumanTask, t).case_id for t in tasks}
    first_task = next(t for t, c in mine.items() if c != second_id)
    second_task = next(t for t, c in mine.items() if c == second_id)
    slot = re.findall(r'name="slot_id" value="([0-9a-f]{32})"',
                      wang.get(f"/my/tasks/{second_task}").get_data(as_text=True))[0]
    assert book(lin, first_task, slot).status_code == 302
    refused = book(wang, second_task, slot)
    assert refused.status_code == 422
    assert SLOT_TAKEN in text_of(refused)
    assert f'value="{slot}"' not in refused.get_data(as_text=True)
    with app.app_context(), reading(services.get().sessions) as s:
        assert s.get(AssessmentSlot, slot).case_id != second_id
        assert s.get(HumanTask, second_task).status == "open"
        assert s.scalar(select(func.count()).select_from(AssessmentSlot).where(
            AssessmentSlot.case_id == second_id)) == 0


def test_level_one_ends_as_ineligible_with_an_explanation(app, login):
    lin = login("lin")
    case_id, number = apply(lin)
    work(login("ltc.clerk"), number, decision="follow")
    task_id, slots = booking_task(lin)
    book(lin, task_id, slots[0])
    with app.app_context(), reading(services.get().sessions) as s:
        assessor = s.get(AssessmentSlot, slots[0]).assessor.username
    visitor = login(assessor)
    task_id = inbox_task(visitor, number)
    missing = complete(visitor, task_id, cms_level="1", findings="日常生活可自理。")
    assert missing.status_code == 422 and "不符長照需要等級之說明" in text_of(missing)
    assert complete(visitor, task_id, cms_level="1", findings="日常生活可自理。",
                    explanation="目前可自行處理日常生活，建議參加社區據點活動。").status_code == 302
    closed = case_of(app, case_id)
    assert (closed.status, closed.outcome) == ("closed", "ineligible")
    assert any("第 1 級" in n and "社區據點" in n for n in notices(app, "lin"))


def test_the_family_is_reminded_the_day_before_the_visit(app, login):
    lin = login("lin")
    case_id, number = apply(lin)
    work(login("ltc.clerk"), number, decision="follow")
    soon = datetime.now(timezone.utc) + timedelta(days=1, seconds=2)
    with app.app_context(), transaction(services.get().sessions) as s:
        assessor = s.scalar(select(User).where(User.username == "ltc.assessor2"))
        slot = AssessmentSlot(agency_code="LTCC", assessor_id=assessor.id, starts_at=soon,
                              ends_at=soon + timedelta(minutes=90), districts=[])
        s.add(slot)
        s.flush()
        slot_id = slot.id
    task_id, slots = booking_task(lin)
    assert slot_id in slots
    assert book(lin, task_id, slot_id).status_code == 302
    assert case_of(app, case_id).next_timer_at is not None
    with app.app_context():
        engine = services.get().engine
        assert engine.fire_due_timers() == 0  # never early
        assert not any("提醒您" in n for n in notices(app, "lin"))
        time.sleep(max(0.0, (soon - timedelta(days=1) - datetime.now(timezone.utc)).total_seconds()) + 0.2)
        assert engine.fire_due_timers() == 1
    reminders = [n for n in notices(app, "lin") if "提醒您" in n]
    assert len(reminders) == 1 and "何照專" in reminders[0]
    case = case_of(app, case_id)
    assert case.status == "open" and case.next_timer_at is None  # the assessment still waits


def test_concurrent_bookings_of_one_slot_on_postgresql(postgres_url, tmp_path):
    """Real threads: of several families reaching for one slot at once, exactly one gets it."""
    app = make_app(postgres_url, tmp_path)
    with app.app_context():
        svc = services.get()
        with reading(svc.sessions) as s:
            lin = Actor.from_user(s.scalar(select(User).where(User.username == "lin")))
            clerk = Actor.from_user(s.scalar(select(User).where(User.username == "ltc.clerk")))
        form = svc.forms.get("ltc_application")
        from werkzeug.datastructures import MultiDict

        data = form.parse(MultiDict([(k, v) for k, vs in application().items()
                                     for v in (vs if isinstance(vs, list) else [vs])]))
        bookings = []
        for _ in range(4):
            started = svc.engine.start_case(lin, SERVICE, data)
            with reading(svc.sessions) as s:
                triage = s.scalar(select(HumanTask.id).where(HumanTask.case_id == started.case_id,
                                                             HumanTask.status == "open"))
            svc.engine.claim(clerk, triage)
            svc.engine.complete_task(clerk, triage, {"decision": "follow"})
            with reading(svc.sessions) as s:
                bookings.append((started.case_id, s.scalar(select(HumanTask.id).where(
                    HumanTask.case_id == started.case_id, HumanTask.status == "open"))))
            with reading(svc.sessions) as s:
                slot_id = s.scalar(select(AssessmentSlot.id).where(AssessmentSlot.case_id.is_(None))
                                   .order_by(AssessmentSlot.starts_at.desc()).limit(1))
        barrier = threading.Barrier(len(bookings))
        outcomes: dict[str, str] = {}

        def attempt(case_id: str, task_id: str) -> None:
            barrier.wait()
            try:
                svc.engine.complete_task(lin, task_id, {"slot_id": slot_id})
                outcomes[case_id] = "booked"
            except InvalidInput as exc:
                outcomes[case_id] = exc.errors["slot_id"][0]

        threads = [threading.Thread(target=attempt, args=pair) for pair in bookings]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes.values()) == sorted(["booked"] + [SLOT_TAKEN] * (len(bookings) - 1))
        winner = next(c for c, o in outcomes.items() if o == "booked")
        with reading(svc.sessions) as s:
            assert s.get(AssessmentSlot, slot_id).case_id == winner
            for case_id, task_id in bookings:
                assert s.get(HumanTask, task_id).status == ("completed" if case_id == winner else "open")
        svc.db.dispose()


def test_the_centre_publishes_slots_and_cannot_double_up_an_assessor(app, login):
    supervisor = login("ltc.supervisor")
    page = supervisor.get("/care/slots").get_data(as_text=True)
    assessor = re.search(r'<option value="([0-9a-f]{32})"[^>]*>謝照專</option>', page).group(1)
    day = (date.today() + timedelta(days=30)).isoformat()
    form = {"assessor": assessor, "date": day, "start": "13:00", "minutes": "60", "weeks": "2"}
    assert supervisor.post("/care/slots", form).status_code == 302
    with app.app_context(), reading(services.get().sessions) as s:
        added = s.scalars(select(AssessmentSlot).where(AssessmentSlot.assessor_id == assessor)
                          .order_by(AssessmentSlot.starts_at.desc()).limit(2)).all()
    assert added[0].starts_at - added[1].starts_at == timedelta(weeks=1)  # weekly, as asked

    clash = supervisor.post("/care/slots", {**form, "start": "13:30", "weeks": "1"})
    assert clash.status_code == 422 and "既有的時段重疊" in text_of(clash)
    bad = supervisor.post("/care/slots", {"assessor": "", "date": "明天", "start": "25:99", "minutes": "5"})
    assert bad.status_code == 422
    for message in ("請選擇照管專員", "請輸入日期", "請輸入開始時間", "每個時段 30 至 240 分鐘"):
        assert message in text_of(bad)
    supervisor.get("/lang/en")
    english = supervisor.post("/care/slots", {**form, "assessor": ""})
    assert "Choose a care manager" in text_of(english) and "請選擇照管專員" not in text_of(english)
    supervisor.get("/lang/zh_TW")
    past = supervisor.post("/care/slots", {**form, "date": "2020-01-01"})
    assert past.status_code == 422 and "開始時間已過" in text_of(past)
    with app.app_context(), reading(services.get().sessions) as s:
        assert s.scalar(select(func.count()).select_from(AssessmentSlot).where(
            AssessmentSlot.assessor_id == assessor, AssessmentSlot.starts_at >= added[-1].starts_at)) == 2

    assert supervisor.post(f"/care/slots/{added[0].id}/withdraw").status_code == 302
    with app.app_context(), reading(services.get().sessions) as s:
        assert s.get(AssessmentSlot, added[0].id) is None
    for outsider in ("tb.clerk", "citizen", "sb.supervisor"):
        assert login(outsider).get("/care/slots").status_code == 403


def test_a_booked_slot_cannot_be_withdrawn(app, login):
    lin = login("lin")
    _case_id, number = apply(lin)
    work(login("ltc.clerk"), number, decision="follow")
    task_id, slots = booking_task(lin)
    book(lin, task_id, slots[0])
    clerk = login("ltc.clerk")
    refused = clerk.post(f"/care/slots/{slots[0]}/withdraw")
    assert "此時段已有民眾預約" in text_of(clerk.get(refused.location))
    assert number in text_of(clerk.get("/care/slots"))  # the schedule shows who booked it
    with app.app_context(), reading(services.get().sessions) as s:
        assert s.get(AssessmentSlot, slots[0]) is not None


def test_a_correction_reruns_the_rules_on_the_corrected_data(app, login):
    wang = login("citizen")
    case_id, number = apply(wang, **{"recipient-name": "王小明", "recipient-id_no": "A123456789",
                                     "recipient-birth_date": "1985-06-12"})
    clerk = login("ltc.clerk")
    work(clerk, number, decision="correction", correction_note="請確認是否領有身心障礙證明")
    page = wang.get("/my/cases").get_data(as_text=True)
    task_id = re.search(r'href="/my/tasks/([0-9a-f-]+)"', page).group(1)
    form = text_of(wang.get(f"/my/tasks/{task_id}"))
    assert "請確認是否領有身心障礙證明" in form
    revision = re.search(r'name="revision" value="(\d+)"', wang.get(f"/my/tasks/{task_id}").get_data(as_text=True)).group(1)
    fixed = {**application(**{"recipient-name": "王小明", "recipient-id_no": "A123456789",
                              "recipient-birth_date": "1985-06-12", "disability-certificate": "true",
                              "disability-level": "重度"}), "revision": revision}
    assert wang.post(f"/my/tasks/{task_id}", data=fixed, content_type="multipart/form-data").status_code == 302
    again = inbox_task(clerk, number)
    assert "符合長照服務資格：領有身心障礙證明" in text_of(clerk.get(f"/work/tasks/{again}"))
    assert case_of(app, case_id).status == "open"
