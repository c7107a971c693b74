"""Members choose their notices and channels; every mail's unsubscribe link works without signing in."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from engine.db import reading
from engine.models import Notification, OutboxMessage, Subscription, User
from tests.conftest import CSRF_RE
from webapp import services

from .flow import submit_application, text_of, work
from .test_notifications import deliver, login, mail_app, smtp  # noqa: F401 - fixtures used by name


def _count(app, model, *where):
    with app.app_context(), reading(services.get().sessions) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _user_id(app, username):
    with app.app_context(), reading(services.get().sessions) as s:
        return s.scalar(select(User.id).where(User.username == username))


def test_a_member_turns_case_mail_off_and_still_gets_the_in_app_notice(mail_app):
    company = login(mail_app, "company")
    page = company.get("/my/notices")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(r'value="case_updates\|email"[^>]*checked', html)
    assert not re.search(r'value="used_services\|email"[^>]*checked', html)
    assert "「交通」類服務的最新消息" in text_of(page)

    saved = company.post("/my/notices", data={"on": ["case_updates|in_app", "category:交通|email"]})
    assert saved.status_code == 302
    me = _user_id(mail_app, "company")
    assert _count(mail_app, Subscription, Subscription.user_id == me, Subscription.active.is_(False)) == 1

    case_id, number = submit_application(company)
    work(login(mail_app, "tb.clerk"), number, decision="reject", reason="路線經過施工封閉路段")
    assert _count(mail_app, Notification, Notification.user_id == me, Notification.text.contains(number)) == 1
    assert _count(mail_app, OutboxMessage, OutboxMessage.kind == "email", OutboxMessage.case_id == case_id) == 0


def test_the_unsubscribe_link_in_a_mail_works_without_signing_in(mail_app, smtp):
    inbox, _port, _controller = smtp
    company = login(mail_app, "company")
    _case_id, number = submit_application(company)
    work(login(mail_app, "tb.clerk"), number, decision="reject", reason="路線經過施工封閉路段")
    assert deliver(mail_app) == 1
    (survey,) = inbox.messages
    link = re.search(r"https?://\S+/unsubscribe/\S+", survey.get_body(preferencelist=("plain",)).get_content())
    assert link and survey["List-Unsubscribe"] == f"<{link.group(0)}>"
    path = "/unsubscribe/" + link.group(0).rsplit("/unsubscribe/", 1)[1]

    anonymous = mail_app.test_client()
    page = anonymous.get(path)
    assert page.status_code == 200 and "我的案件進度" in text_of(page)
    token = CSRF_RE.search(page.get_data(as_text=True)).group(1)
    done = anonymous.post(path, data={"csrf_token": token})
    assert done.status_code == 200 and "已取消訂閱" in text_of(done)
    assert anonymous.post(path, data={}).status_code == 400  # the form still needs its CSRF token
    assert anonymous.get(path[:-3] + "xyz").status_code == 404  # a link we did not sign

    _other, second = submit_application(company)
    work(login(mail_app, "tb.clerk"), second, decision="reject", reason="文件不全")
    assert deliver(mail_app) == 0  # no more case mail for this member
    settings = company.get("/my/notices").get_data(as_text=True)
    assert not re.search(r'value="case_updates\|email"[^>]*checked', settings)
    assert re.search(r'value="case_updates\|in_app"[^>]*checked', settings)


def test_service_news_reaches_members_who_follow_the_category_or_used_the_service(mail_app, smtp):
    inbox, _port, _controller = smtp
    company, citizen = login(mail_app, "company"), login(mail_app, "citizen")
    submit_application(company)
    assert company.post("/my/notices", data={"on": ["case_updates|in_app", "case_updates|email",
                                                    "used_services|email"]}).status_code == 302
    assert citizen.post("/my/notices", data={"on": ["case_updates|in_app", "category:交通|in_app"]}).status_code == 302
    boss = login(mail_app, "tb.supervisor")
    published = boss.post("/supervise/catalog/large_vehicle_permit/news",
                          data={"text": "自 12 月起可線上申請夜間通行時段。"}, follow_redirects=True)
    assert "通知 2 位訂閱會員" in text_of(published)
    assert deliver(mail_app) == 1
    (news,) = inbox.messages
    assert news["To"] == "company@example.tw" and "最新消息" in news["Subject"]
    citizen_id, company_id = _user_id(mail_app, "citizen"), _user_id(mail_app, "company")
    assert _count(mail_app, Notification, Notification.user_id == citizen_id,
                  Notification.text.contains("夜間通行")) == 1
    assert _count(mail_app, Notification, Notification.user_id == company_id,
                  Notification.text.contains("夜間通行")) == 0  # mail only, as chosen
    assert login(mail_app, "sb.supervisor").post("/supervise/catalog/large_vehicle_permit/news",
                                                 data={"text": "x"}).status_code == 404
