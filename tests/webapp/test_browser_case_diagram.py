"""In headless Chromium: the applicant's case page draws the process diagram with the current stage marked."""
from __future__ import annotations

import re

import pytest

from tests.conftest import ARTIFACTS, Client

from .flow import submit_application
from .test_browser_low_income import _sign_in, site  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.browser


def test_the_case_page_marks_the_current_stage_on_the_diagram(site, browser):  # noqa: F811
    from playwright.sync_api import expect

    app, base = site
    case_id, number = submit_application(Client(app.test_client()).login("company"))
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = _sign_in(browser, base, "company")
    page.goto(f"{base}/my/cases/{case_id}")
    expect(page.locator("h1")).to_contain_text(number)
    container = page.locator(".case-diagram__canvas")
    expect(container.locator("svg").first).to_be_visible()
    intake = container.locator('[data-element-id="intake"]')
    expect(intake).to_have_class(re.compile(r"(^|\s)is-current(\s|$)"))
    decide = container.locator('[data-element-id="decide"]')
    expect(decide).not_to_have_class(re.compile(r"(^|\s)is-(current|done)(\s|$)"))
    expect(container).to_have_attribute("aria-label", re.compile(r"目前階段：.*收件審查"))
    stroke = intake.evaluate("e => getComputedStyle(e.querySelector('.djs-visual > :first-child')).strokeWidth")
    assert stroke == "3px"
    page.screenshot(path=str(ARTIFACTS / "50-case-diagram.png"), full_page=True)
    context.close()
