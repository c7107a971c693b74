"""In headless Chromium: a visitor asks the portal's assistant, opens the service and asks a follow-up."""
from __future__ import annotations

import re

import pytest

from tests.conftest import ARTIFACTS

from .conftest import accessibility_violations
from .test_browser_low_income import TIMEOUT_MS, site  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.browser


def test_ask_the_assistant_open_the_service_and_ask_a_follow_up(site, browser):  # noqa: F811
    from playwright.sync_api import expect

    _app, base = site
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-TW")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{base}/")
    chat = page.locator("#assistant")
    log = chat.get_by_role("log")

    chat.get_by_label("您的問題").fill("家裡長輩需要長照怎麼申請")
    chat.get_by_label("您的問題").press("Enter")

    answer = log.locator(".assistant-msg--bot").first
    expect(answer).to_contain_text("「長照服務申請」可以在本平台線上申辦")
    first = answer.locator(".assistant-item").first
    expect(first.locator(".assistant-item__meta")).to_contain_text("長期照顧")
    expect(first).to_contain_text("長者身分證或健保卡")
    expect(page).to_have_url(f"{base}/")
    expect(chat.get_by_label("您的問題")).to_be_focused()
    assert accessibility_violations(page, chat) == []
    page.screenshot(path=str(ARTIFACTS / "85-assistant-answer.png"), full_page=False)

    follow_up = answer.get_by_role("button", name="長照服務申請要準備什麼文件？")
    follow_up.focus()
    page.keyboard.press("Enter")
    second = log.locator(".assistant-msg--bot").nth(1)
    expect(second).to_contain_text("「長照服務申請」需要準備：長者身分證或健保卡")
    expect(log.locator(".assistant-msg--you")).to_have_count(2)
    chat.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "86-assistant-follow-up.png"), full_page=False)

    first.get_by_role("link", name="長照服務申請").click()
    expect(page).to_have_url(re.compile(r"/services/long_term_care$"))
    expect(page.locator("h1")).to_have_text("長照服務申請")
    context.close()


def test_without_an_answer_the_assistant_offers_the_1999_hotline(site, browser):  # noqa: F811
    from playwright.sync_api import expect

    _app, base = site
    context = browser.new_context(locale="zh-TW")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{base}/")
    chat = page.locator("#assistant")

    chat.get_by_label("您的問題").fill("今天天氣如何")
    chat.get_by_role("button", name="送出").click()

    expect(chat.get_by_role("log")).to_contain_text("請撥 1999 市民服務熱線")
    expect(chat.get_by_role("link", name="請撥 1999 市民服務熱線")).to_have_attribute("href", "tel:1999")

    chat.get_by_label("您的問題").fill("   ")
    chat.get_by_role("button", name="送出").click()
    expect(chat.locator("#assistant-q__error")).to_have_text("請輸入您的問題。")
    expect(chat.get_by_label("您的問題")).to_have_attribute("aria-invalid", "true")
    context.close()
