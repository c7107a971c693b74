"""Deadlines on Taiwan's calendar, paused by corrections; reminders before, escalation after."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select

from engine.calendar import TAIPEI
from engine.db import reading, transaction
from engine.models import Case, HumanTask, Notification, OutboxMessage, Service, User
from handlers import catalog_review, escalation
from handlers.mail import SmtpSettings
from tests.conftest import Client, make_app
from webapp import services

from .flow import REVISION_RE, claim, inbox_task, submit_application, work
from .test_low_income import apply as apply_low_income
from .test_low_income import application as low_income_application


def taipei(*args) -> datetime:
    return datetime(*args, tzinfo=TAIPEI)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _case(app, case_id: str) -> Case:
    with app.app_context(), reading(services.get().sessions) as s:
        return s.get(Case, case_id)


def test_friday_evening_deadlines_skip_the_lunar_new_year_and_a_correction_moves_them(app, login):
    clock = Clock(taipei(2026, 2, 13, 19, 0))  # Friday evening before 春節 (2/14–2/22 off)
    with app.app_context():
        services.get().engine.clock = clock
    lin = login("lin")
    case_id, number = apply_low_income(lin)
    case = _case(app, case_id)
    # 20 business days: 2/23–2/26, (2/27 和平紀念日補假), 3/2 … 3/23.
    assert case.due_at.astimezone(TAIPEI) == taipei(2026, 3, 23, 23, 59, 59)
    with app.app_context(), reading(services.get().sessions) as s:
        first = s.scalar(select(HumanTask).where(HumanTask.case_id == case_id))
    assert first.due_at.astimezone(TAIPEI) == taipei(2026, 3, 9, 23, 59, 59)  # dueDays 10

    clock.now = taipei(2026, 2, 24, 10, 0)  # Tuesday: the district asks for a correction
    work(login("east.social"), number, decision="correction", correction_note="請補充存摺影本")
    clock.now = taipei(2026, 3, 2, 9, 30)  # the next Monday it comes back: 2/25, 2/26, 3/2 were paused
    page = lin.get("/my/cases").get_data(as_text=True)
    task_id = re.search(r'href="/my/tasks/([0-9a-f-]+)"', page).group(1)
    revision = REVISION_RE.search(lin.get(f"/my/tasks/{task_id}").get_data(as_text=True)).group(1)
    assert lin.post(f"/my/tasks/{task_id}", data={**low_income_application(), "revision": revision},
                    content_type="multipart/form-data").status_code == 302
    assert _case(app, case_id).due_at.astimezone(TAIPEI) == taipei(2026, 3, 26, 23, 59, 59)


def test_the_group_is_reminded_before_and_the_supervisor_told_once_after(database_url, tmp_path):
    app = make_app(database_url, tmp_path, {"SMTP": SmtpSettings(host="127.0.0.1", port=1)})
    clock = Clock(taipei(2026, 11, 23, 9, 0))  # a Monday
    with app.app_context():
        svc = services.get()
        svc.engine.clock = clock
    company = Client(app.test_client()).login("company")
    case_id, number = submit_application(company)
    with app.app_context(), reading(svc.sessions) as s:
        intake = s.scalar(select(HumanTask).where(HumanTask.case_id == case_id))
    assert intake.due_at.astimezone(TAIPEI) == taipei(2026, 11, 25, 23, 59, 59)  # dueDays 2
    assert intake.remind_at == intake.due_at - timedelta(hours=24)

    def notices(username: str) -> list[str]:
        with app.app_context(), reading(svc.sessions) as s:
            return list(s.scalars(select(Notification.text).join(User, User.id == Notification.user_id)
                                  .where(User.username == username, Notification.text.contains(number))))

    with app.app_context():
        settings = svc.engine.settings
        assert escalation.remind_due_soon(svc.sessions, intake.remind_at - timedelta(minutes=1), settings) == 0
        assert escalation.remind_due_soon(svc.sessions, intake.remind_at, settings) == 1
        assert escalation.remind_due_soon(svc.sessions, intake.remind_at, settings) == 0  # once
    for clerk in ("tb.clerk", "tb.clerk2", "tb.supervisor"):  # nobody holds it: the whole group
        assert any("到期，請儘速辦理" in n for n in notices(clerk)), clerk
    assert notices("police.yk") == []

    clerk = Client(app.test_client()).login("tb.clerk")
    claim(clerk, inbox_task(clerk, number))
    with app.app_context():
        assert escalation.escalate_overdue(svc.sessions, intake.due_at, settings) == 0  # not yet
        late = intake.due_at + timedelta(minutes=5)
        assert escalation.escalate_overdue(svc.sessions, late, settings) == 1
        assert escalation.escalate_overdue(svc.sessions, late + timedelta(hours=1), settings) == 0
    told = [n for n in notices("tb.supervisor") if "已逾期" in n]
    assert len(told) == 1 and "由 陳怡君 處理" in told[0]
    assert not any("已逾期" in n for n in notices("tb.clerk2"))
    with app.app_context(), reading(svc.sessions) as s:
        mails = s.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id)).all()
        events = sorted(m.payload["event"] for m in mails)
    assert events.count("task_due_soon") == 3 and events.count("task_overdue") == 1
    with app.app_context():
        svc.db.dispose()


def test_stale_catalog_items_remind_their_owner_weekly_until_reviewed(app, login):
    with app.app_context():
        svc = services.get()
        with transaction(svc.sessions) as s:
            permit = s.get(Service, "large_vehicle_permit")
            permit.reviewed_at = permit.reviewed_at - timedelta(days=200)
        now = datetime.now(TAIPEI)
        assert catalog_review.remind_stale(svc.sessions, now, svc.engine.settings) == 1
        assert catalog_review.remind_stale(svc.sessions, now + timedelta(days=3), svc.engine.settings) == 0
        assert catalog_review.remind_stale(svc.sessions, now + timedelta(days=8), svc.engine.settings) == 1
    boss = login("tb.supervisor")
    page = boss.get("/supervise/catalog").get_data(as_text=True)
    assert "badge--late" in page and "大型車輛行駛管制道路通行證" in page
    with app.app_context(), reading(svc.sessions) as s:
        told = s.scalars(select(Notification.text).join(User, User.id == Notification.user_id)
                         .where(User.username == "tb.supervisor", Notification.text.contains("天未檢視"))).all()
    assert len(told) == 2
    assert boss.post("/supervise/catalog/large_vehicle_permit/reviewed").status_code == 302
    assert "badge--late" not in boss.get("/supervise/catalog").get_data(as_text=True)
    assert login("sb.supervisor").post("/supervise/catalog/large_vehicle_permit/reviewed").status_code == 404
    with app.app_context():
        assert catalog_review.remind_stale(svc.sessions, now + timedelta(days=30), svc.engine.settings) == 0
