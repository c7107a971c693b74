"""The MyData consent round trip in headless Chromium: portal → MyData → back, prefilled."""
from __future__ import annotations

import pytest

from tests.conftest import ARTIFACTS
from webapp.worker import start_in_background

pytestmark = pytest.mark.browser
TIMEOUT_MS = 15_000


def test_consent_round_trip_prefills_the_form(world, browser):
    from playwright.sync_api import expect

    world.app.config["WORKER_INTERVAL_SECONDS"] = 0.3
    stop = start_in_background(world.app)
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-TW")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(f"{world.url}/login")
        page.fill("#username", "company")
        page.fill("#password", "onestop-demo")
        page.click("button[type=submit]")
        page.goto(f"{world.url}/services/large_vehicle_permit")
        page.get_by_role("button", name="線上申辦").click()
        page.fill("#f-purpose-project_name", "南科廠房新建工程")
        expect(page.locator(".mydata-offer")).to_contain_text("車籍資料")
        page.click("#mydata-start")

        expect(page.locator("h1")).to_have_text("身分驗證")
        page.fill("#national_id", "B120863130")
        page.get_by_role("button", name="以行動自然人憑證登入（模擬）").click()
        expect(page.locator("h1")).to_have_text("同意提供資料")
        page.screenshot(path=str(ARTIFACTS / "10-mydata-consent.png"), full_page=True)
        page.click("#agree")

        expect(page.locator("#mydata-sources")).to_be_visible()
        expect(page.locator("#f-vehicles-0-plate")).to_have_value("KLA-1234")
        expect(page.locator("#f-vehicles-1-plate")).to_have_value("KLB-5678")
        expect(page.locator("#f-applicant-name")).to_have_value("南瀛營造股份有限公司")
        expect(page.locator("#f-purpose-project_name")).to_have_value("南科廠房新建工程")
        expect(page.locator("#mydata-sources")).to_contain_text("車籍資料")
        page.screenshot(path=str(ARTIFACTS / "11-mydata-prefilled.png"), full_page=True)
    finally:
        stop.set()
        context.close()
