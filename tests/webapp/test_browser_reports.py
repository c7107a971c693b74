"""In headless Chromium: a supervisor reads the compliance report with its chart and the overdue list."""
from __future__ import annotations

import pytest

from tests.conftest import ARTIFACTS, Client

from .flow import submit_application
from .test_browser_low_income import _sign_in, site  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.browser


def test_compliance_chart_is_drawn_and_the_overdue_list_links_its_actions(site, browser):  # noqa: F811
    from playwright.sync_api import expect

    app, base = site
    company = Client(app.test_client()).login("company")
    for _ in range(2):
        submit_application(company)
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = _sign_in(browser, base, "tb.supervisor")
    page.get_by_role("link", name="報表").click()
    expect(page.locator("h1")).to_contain_text("稽催報表")
    page.get_by_role("link", name="處理期限達成率").click()
    expect(page.locator("#report")).to_contain_text("大型車輛行駛管制道路通行證")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('report-chart'))")
    drawn = page.evaluate("() => Chart.getChart(document.getElementById('report-chart')).data.datasets.length")
    assert drawn == 4  # on time, late, open and overdue, open
    page.screenshot(path=str(ARTIFACTS / "40-compliance.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="PDF").click()
    assert download.value.suggested_filename == "sla.pdf"
    context.close()
