"""In headless Chromium: a family books the home assessment, the assessor records the outcome."""
from __future__ import annotations

import re

import pytest

from tests.conftest import ARTIFACTS, Client

from .flow import work
from .test_browser_low_income import _sign_in, site  # noqa: F401 - the fixture is used by name
from .test_long_term_care import application

pytestmark = pytest.mark.browser


def test_family_books_a_visit_and_the_assessor_records_a_care_plan(site, browser):  # noqa: F811
    from playwright.sync_api import expect

    app, base = site
    lin = Client(app.test_client()).login("lin")
    draft = lin.post("/services/long_term_care/apply").location
    done = lin.post(draft, data={**application(), "action": "submit"}, content_type="multipart/form-data")
    number = re.search(r"LTC-\d{4}-\d{6}", lin.get(done.location).get_data(as_text=True)).group(0)
    work(Client(app.test_client()).login("ltc.clerk"), number, decision="follow")
    ARTIFACTS.mkdir(exist_ok=True)

    family, page = _sign_in(browser, base, "lin")
    page.goto(f"{base}/my/cases")
    page.get_by_role("link", name=re.compile("預約到府評估")).click()
    first = page.locator("#f-slot_id label").first
    chosen = first.inner_text()
    first.locator("input").check()
    page.fill("#f-contact_phone", "0922333444")
    page.screenshot(path=str(ARTIFACTS / "30-booking.png"), full_page=True)
    page.get_by_role("button", name="送出").click()
    expect(page.locator(".notice--success").first).to_contain_text("已送出")
    page.goto(f"{base}/my/cases")
    expect(page.locator("#notices")).to_contain_text("已預約到府評估")
    assessor = re.search(r"照管專員 (\S+)", chosen).group(1)
    family.close()

    username = {"謝照專": "ltc.assessor", "何照專": "ltc.assessor2"}[assessor]
    visit, page = _sign_in(browser, base, username)
    page.goto(f"{base}/work/inbox")
    page.get_by_role("link", name=number).click()
    expect(page.locator("#booking")).to_contain_text(assessor)
    page.select_option("#f-cms_level", "5")
    page.fill("#f-findings", "行走需扶持，夜間需協助如廁。")
    page.get_by_label("居家照顧").check()
    page.get_by_label("喘息服務").check()
    page.fill("#f-care_plan", "每週五次居家照顧，每年喘息服務 21 日。")
    page.screenshot(path=str(ARTIFACTS / "31-assessment.png"), full_page=True)
    page.get_by_role("button", name="送出").click()
    expect(page.locator(".notice--success").first).to_contain_text(number)
    visit.close()
