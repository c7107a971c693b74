"""Satisfaction: asked once a case closes, rated once, only by its applicant; the KPI shows it."""
from __future__ import annotations

from sqlalchemy import func, select

from engine.db import reading
from engine.models import Notification, Rating, User
from webapp import services

from .flow import submit_application, text_of, work


def _closed_case(login):
    company = login("company")
    case_id, number = submit_application(company)
    work(login("tb.clerk"), number, decision="reject", reason="路線經過施工封閉路段")
    return company, case_id, number


def _ratings(app, case_id):
    with app.app_context(), reading(services.get().sessions) as s:
        return [(r.score, r.comment) for r in s.scalars(select(Rating).where(Rating.case_id == case_id))]


def test_the_applicant_is_asked_once_the_case_closes_and_rates_it_once(app, login):
    company, case_id, number = _closed_case(login)
    with app.app_context(), reading(services.get().sessions) as s:
        asked = s.scalar(select(func.count()).select_from(Notification).join(User, User.id == Notification.user_id)
                         .where(User.username == "company", Notification.text.contains("評分"),
                                Notification.text.contains(number)))
    assert asked == 1
    page = text_of(company.get(f"/my/cases/{case_id}"))
    assert "服務滿意度調查" in page and "非常滿意" in page

    bad = company.post(f"/my/cases/{case_id}/rating", data={"score": "9", "comment": "很快"})
    assert bad.status_code == 422
    assert "請選擇 1 到 5 分。" in text_of(bad) and "很快" in bad.get_data(as_text=True)
    assert _ratings(app, case_id) == []

    done = company.post(f"/my/cases/{case_id}/rating", data={"score": "4", "comment": "承辦人說明清楚"})
    assert done.status_code == 302
    page = text_of(company.get(f"/my/cases/{case_id}"))
    assert "您的評分：4 分" in page and "承辦人說明清楚" in page and "送出評分" not in page

    again = company.post(f"/my/cases/{case_id}/rating", data={"score": "1"}, follow_redirects=True)
    assert "此案件已經評分過" in text_of(again)
    assert _ratings(app, case_id) == [(4, "承辦人說明清楚")]


def test_only_the_applicant_rates_and_only_a_closed_case(app, login):
    _company, case_id, _number = _closed_case(login)
    assert login("tb.clerk").post(f"/my/cases/{case_id}/rating", data={"score": "5"}).status_code == 403
    assert login("citizen").post(f"/my/cases/{case_id}/rating", data={"score": "5"}).status_code == 404
    assert "送出評分" not in text_of(login("tb.clerk").get(f"/my/cases/{case_id}"))

    company = login("company")
    open_id, _ = submit_application(company)
    early = company.post(f"/my/cases/{open_id}/rating", data={"score": "5"}, follow_redirects=True)
    assert "案件結案後才能評分" in text_of(early)
    assert "送出評分" not in text_of(company.get(f"/my/cases/{open_id}"))
    assert _ratings(app, case_id) == [] and _ratings(app, open_id) == []


def test_ratings_feed_the_satisfaction_kpi_by_service(app, login):
    for score in ("5", "4", "2"):
        company, case_id, _ = _closed_case(login)
        assert company.post(f"/my/cases/{case_id}/rating", data={"score": score}).status_code == 302
    panel = login("tb.supervisor").get("/supervise/kpi")
    html = panel.get_data(as_text=True)
    card = text_of(panel).split("民眾服務滿意度", 1)[1].split("線上申辦比率", 1)[0]
    assert "66.7%" in card and "2 / 3" in card and "平均 3.67 分" in card
    assert "大型車輛行駛管制道路通行證" in card and 'id="kpi-satisfaction"' in html
    other = text_of(login("sb.supervisor").get("/supervise/kpi"))
    assert "2 / 3" not in other.split("民眾服務滿意度", 1)[1].split("線上申辦比率", 1)[0]
