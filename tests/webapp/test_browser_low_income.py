"""In headless Chromium: a district clerk's 初審 and the bureau's 複審 of a low-income application."""
from __future__ import annotations

import re
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import ARTIFACTS, make_app

from .test_low_income import application

pytestmark = pytest.mark.browser
TIMEOUT_MS = 10_000


@pytest.fixture
def site(sqlite_url, tmp_path):
    app = make_app(sqlite_url, tmp_path)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _sign_in(browser, base: str, username: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-TW")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", "onestop-demo")
    page.click("button[type=submit]")
    return context, page


def _apply(app, number_holder: list) -> None:
    from tests.conftest import Client

    lin = Client(app.test_client()).login("lin")
    draft = lin.post("/services/low_income/apply").location
    done = lin.post(draft, data={**application(), "action": "submit"}, content_type="multipart/form-data")
    text = lin.get(done.location).get_data(as_text=True)
    number_holder.append(re.search(r"LIH-\d{4}-\d{6}", text).group(0))


def test_district_first_review_then_bureau_second_review(site, browser):
    from playwright.sync_api import expect

    app, base = site
    numbers: list[str] = []
    _apply(app, numbers)
    number = numbers[0]
    ARTIFACTS.mkdir(exist_ok=True)

    district, page = _sign_in(browser, base, "east.social")
    page.goto(f"{base}/work/inbox")
    page.get_by_role("link", name=number).click()
    page.get_by_role("button", name="領取").click()
    page.get_by_label("送社會局複審").check()
    page.fill("#f-opinion", "家庭總收入平均每人每月低於最低生活費。")
    page.screenshot(path=str(ARTIFACTS / "20-first-review.png"), full_page=True)
    page.get_by_role("button", name="送出").click()
    expect(page.locator("#inbox")).not_to_contain_text(number)
    district.close()

    bureau, page = _sign_in(browser, base, "sb.clerk")
    page.goto(f"{base}/work/inbox")
    page.get_by_role("link", name=number).click()
    page.get_by_role("button", name="領取").click()
    expect(page.locator("#opinions")).to_contain_text("家庭總收入平均每人每月低於最低生活費")
    page.get_by_label("核定", exact=True).check()
    page.select_option("#f-low_type", "第2款")
    page.fill("#f-effective_from", "2026-12-01")
    page.fill("#f-reasons", "家庭總收入及財產符合低收入戶標準。")
    page.screenshot(path=str(ARTIFACTS / "21-second-review.png"), full_page=True)
    page.get_by_role("button", name="送出").click()
    expect(page.locator(".notice--success")).to_contain_text(number)
    bureau.close()

    applicant, page = _sign_in(browser, base, "lin")
    page.goto(f"{base}/my/cases")
    page.get_by_role("link", name=number).click()
    expect(page.locator("#case-files")).to_contain_text("核定函")
    page.screenshot(path=str(ARTIFACTS / "22-decision.png"), full_page=True)
    applicant.close()
