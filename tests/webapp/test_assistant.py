"""The service catalog and the service-finding assistant (客服小幫手) on the portal."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from engine.db import reading, transaction
from tests.conftest import ROOT, Client
from webapp import seed as seeding
from webapp import services
from webapp.assistant import catalog, evaluation
from webapp.assistant.models import CatalogItem, UnansweredQuestion
from webapp.assistant.unanswered import scrub

from .flow import text_of

RUNNABLE = {"large_vehicle_permit", "low_income", "long_term_care", "care_referral", "road_event"}
PERSONAL = "我叫王大明，身分證A123456789，電話0912-345-678，email wang.daming@example.com，請問我的包裹寄到哪裡了"


def visitor(app) -> Client:
    """A signed-out browser on the portal (the chat box's form carries the CSRF token)."""
    return Client(app.test_client())


def ask(client: Client, question: str):
    return client.api("POST", "/assistant/ask", json={"q": question})


def keys(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["key"] for item in response.get_json()["items"]]


def unanswered_rows(app) -> list[UnansweredQuestion]:
    with app.app_context(), reading(services.get().sessions) as s:
        return list(s.scalars(select(UnansweredQuestion)))


def test_the_evaluation_questions_find_their_services(app):
    questions = evaluation.load(ROOT / "tests" / "assistant_eval.json")
    assert len(questions) >= 100
    assert sum(q.q.isascii() for q in questions) >= 15
    client = visitor(app)

    result = evaluation.evaluate(lambda q: keys(ask(client, q)), questions)

    assert result.top3_rate >= 0.9, result.misses
    assert result.top1_rate >= 0.75, result.summary()
    assert result.median_ms < 50, result.summary()


def test_a_large_vehicle_question_answers_with_the_permit_and_its_mydata(app):
    reply = ask(visitor(app), "我要申請大貨車通行證").get_json()

    first = reply["items"][0]
    assert (first["key"], first["url"], first["agency"]) == (
        "large_vehicle_permit", "/services/large_vehicle_permit", "臺南市政府交通局")
    assert "車籍資料" in first["mydata"] and any("路線圖" in d for d in first["documents"])
    assert "大型車輛行駛管制道路通行證" in reply["answer"] and reply["hotline"] is False


def test_an_elder_care_question_answers_with_long_term_care_and_how_to_apply(app):
    reply = ask(visitor(app), "家裡長輩需要長照怎麼申請").get_json()

    first = reply["items"][0]
    assert (first["key"], first["category"], first["url"]) == ("long_term_care", "長期照顧", "/services/long_term_care")
    assert "線上申辦" in reply["answer"]
    assert "長照服務申請要準備什麼文件？" in reply["suggestions"]


def test_asking_what_to_prepare_answers_with_the_documents_first(app):
    reply = ask(visitor(app), "低收入戶要準備什麼").get_json()

    first = reply["items"][0]
    assert first["key"] == "low_income"
    assert reply["answer"].startswith("「低收入戶／中低收入戶申請」需要準備：申請書")
    assert "MyData" in reply["answer"] and {"所得資料", "財產資料"} <= set(first["mydata"])


def test_a_suggested_follow_up_is_answered_as_asked(app):
    client = visitor(app)
    suggestion = ask(client, "家裡長輩需要長照怎麼申請").get_json()["suggestions"][0]

    follow_up = ask(client, suggestion).get_json()

    assert follow_up["items"][0]["key"] == "long_term_care"
    assert follow_up["answer"].startswith("「長照服務申請」需要準備：")


def test_no_good_answer_offers_1999_and_logs_the_question_without_personal_data(app):
    client = visitor(app)

    reply = ask(client, PERSONAL).get_json()

    assert reply["hotline"] is True and reply["items"] == []
    assert "請撥 1999 市民服務熱線" in reply["answer"]
    (row,) = unanswered_rows(app)
    stored = " ".join(str(getattr(row, c.key)) for c in UnansweredQuestion.__table__.columns)
    for secret in ("A123456789", "0912", "345-678", "wang.daming", "example.com", "王大明"):
        assert secret not in stored
    assert row.text.startswith("我叫○") and "包裹" in row.text and row.count == 1

    ask(client, PERSONAL)
    ask(client, PERSONAL.replace("A123456789", "B223456781").replace("0912-345-678", "0987654321"))
    (row,) = unanswered_rows(app)
    assert row.count == 3


def test_a_question_with_an_answer_is_not_logged(app):
    ask(visitor(app), "身分證不見了怎麼補辦")
    assert unanswered_rows(app) == []


@pytest.mark.parametrize("question, message", [("請" * 201, "問題請在 200 字以內。"), ("   ", "請輸入您的問題。")])
def test_a_question_too_long_or_empty_is_refused_with_a_field_message(app, question, message):
    client = visitor(app)

    response = ask(client, question)

    assert response.status_code == 400 and response.get_json()["errors"] == {"q": [message]}
    page = client.post("/assistant", {"q": question})
    assert page.status_code == 400 and message in text_of(page)
    assert unanswered_rows(app) == []


def test_asking_without_the_csrf_token_is_refused(app):
    response = app.test_client().post("/assistant/ask", json={"q": "低收入戶要準備什麼"})
    assert response.status_code == 400


def test_analysts_see_unanswered_questions_most_asked_first_and_mark_them_handled(app, login):
    client = visitor(app)
    for question in ("台南明天會下雨嗎", "今天天氣如何", "台南明天會下雨嗎？"):
        assert ask(client, question).get_json()["hotline"] is True

    for username in ("citizen", "tb.clerk"):
        assert login(username).get("/assistant/unanswered").status_code == 403
    assert app.test_client().get("/assistant/unanswered").status_code == 302
    assert login("admin").get("/assistant/unanswered").status_code == 200

    analyst = login("analyst")
    page = analyst.get("/assistant/unanswered")
    rows = re.findall(r"<tr>\s*<td>([^<]+)</td>\s*<td>(\d+)</td>", page.get_data(as_text=True))
    assert rows == [("台南明天會下雨嗎", "2"), ("今天天氣如何", "1")]

    rain = next(r for r in unanswered_rows(app) if r.count == 2)
    assert login("citizen").post(f"/assistant/unanswered/{rain.id}/handled").status_code == 403
    assert analyst.post(f"/assistant/unanswered/{rain.id}/handled").status_code == 302
    listed = text_of(analyst.get("/assistant/unanswered"))
    assert "下雨" not in listed and "今天天氣如何" in listed

    ask(client, "台南明天會下雨嗎")
    assert "下雨" in text_of(analyst.get("/assistant/unanswered"))


def test_without_javascript_the_chat_box_posts_and_suggestions_link_by_query_string(app):
    client = visitor(app)
    assert "我要申請大貨車通行證" in text_of(client.get("/assistant"))

    posted = client.post("/assistant", {"q": "低收入戶要準備什麼"})

    html = posted.get_data(as_text=True)
    assert posted.status_code == 200
    assert 'href="/services/low_income"' in html and "存摺封面影本" in html
    assert 'name="q" value="低收入戶／中低收入戶申請怎麼申請？"' in html
    follow_up = client.get("/assistant", query_string={"q": "低收入戶／中低收入戶申請怎麼申請？"})
    assert "「低收入戶／中低收入戶申請」可以在本平台線上申辦" in text_of(follow_up)
    assert app.test_client().post("/assistant", data={"q": "低收入戶要準備什麼"}).status_code == 400


def test_the_catalog_is_seeded_with_the_runnable_services_linked_and_reseeding_changes_nothing(app):
    with app.app_context():
        svc = services.get()
        with reading(svc.sessions) as s:
            count = s.scalar(select(func.count()).select_from(CatalogItem))
            linked = dict(s.execute(select(CatalogItem.key, CatalogItem.service_key)
                                    .where(CatalogItem.service_key.is_not(None))).all())
            before = dict(s.execute(select(CatalogItem.key, CatalogItem.updated_at)).all())
            categories = set(s.scalars(select(CatalogItem.category)))
        seeding.seed(svc.engine, ROOT / "bpmn")
        with reading(svc.sessions) as s:
            after = dict(s.execute(select(CatalogItem.key, CatalogItem.updated_at)).all())
        with transaction(svc.sessions) as s:
            assert catalog.seed(s) == 0
            s.get(CatalogItem, "house_tax").name = "改過的名稱"
            s.delete(s.get(CatalogItem, "tbike"))
        with transaction(svc.sessions) as s:
            assert catalog.seed(s) == 2
            assert s.get(CatalogItem, "house_tax").name == "房屋稅查詢及繳納"

    assert count >= 300 and len(categories) >= 20
    assert linked == {key: key for key in RUNNABLE}
    assert after == before


def test_the_index_follows_a_change_to_the_catalog(app):
    client = visitor(app)
    assert ask(client, "寶可夢道館").get_json()["hotline"] is True
    with app.app_context(), transaction(services.get().sessions) as s:
        item = s.get(CatalogItem, "tourist_info")
        item.keywords = [*item.keywords, "寶可夢道館"]
        item.updated_at = item.updated_at.replace(year=item.updated_at.year + 1)

    assert keys(ask(client, "寶可夢道館"))[0] == "tourist_info"


def test_english_questions_find_services_by_their_english_names(app):
    client = visitor(app)
    client.get("/lang/en")

    first = ask(client, "How do I register my newborn baby?").get_json()["items"][0]

    assert (first["key"], first["name"], first["category"]) == (
        "birth_registration", "Birth registration", "Household registration")
    assert first["agency"] == "Household registration offices"


def test_the_portal_shows_the_chat_box_the_runnable_services_and_the_whole_catalog(app):
    http = app.test_client()

    page = http.get("/")
    html = page.get_data(as_text=True)
    assert '<label class="field__label" for="assistant-q">您的問題</label>' in html
    assert 'role="log" aria-live="polite"' in html
    assert html.index('href="/services/large_vehicle_permit"') < html.index("全市服務項目")
    assert "共 324 項服務" in text_of(page) and 'href="/?page=2#catalog"' in html

    household = text_of(http.get("/", query_string={"category": "戶政"}))
    assert "出生登記" in household and "房屋稅查詢及繳納" not in household

    searched = http.get("/", query_string={"q": "身分證遺失"}).get_data(as_text=True)
    items = re.findall(r'href="/assistant/items/([a-z_]+)"', searched)
    assert items[0] in {"id_card_replacement", "id_card_loss_report"}

    last = http.get("/", query_string={"page": 99})
    assert last.status_code == 200 and "第 9／9 頁" in text_of(last)


def test_a_catalog_entry_shows_documents_agency_and_mydata(app):
    http = app.test_client()

    page = text_of(http.get("/assistant/items/house_tax_self_use"))

    assert "房屋稅自住住家用稅率申請" in page and "臺南市政府財政稅務局" in page
    assert "戶口名簿" in page and "房屋稅籍資料" in page and "可線上申辦" in page
    runnable = http.get("/assistant/items/low_income").get_data(as_text=True)
    assert 'href="/services/low_income"' in runnable
    assert http.get("/assistant/items/no_such_thing").status_code == 404


@pytest.mark.parametrize("raw, kept, gone", [
    ("我是陳美玲，想問低收入戶", "我是○,想問低收入戶", "陳美玲"),
    ("電話 (06)299-1111 找誰", "電話 ○ 找誰", "299"),
    ("身分證Ａ１２３４５６７８９要補辦", "身分證○要補辦", "123456789"),
    ("帳號 00123456789 轉帳", "帳號 ○ 轉帳", "00123456789"),
    ("My name is Amy Chen, mail amy@x.tw", "My name is ○, mail ○", "Chen"),
])
def test_scrubbing_replaces_personal_data(raw, kept, gone):
    assert scrub(raw) == kept and gone not in scrub(raw)
