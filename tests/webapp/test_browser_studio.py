"""In headless Chromium: an analyst edits a diagram and a form, is stopped by a check, test-runs, and a colleague publishes."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine.db import reading
from engine.models import Definition
from tests.conftest import ARTIFACTS
from webapp import services

from .test_browser_low_income import _sign_in, site  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.browser


def _select(page, element_id: str) -> None:
    """Click an element of the diagram (a lane on its title band), unless it is selected already."""
    shape = page.locator(f'#studio-canvas .djs-element[data-element-id="{element_id}"]').first
    if "selected" in (shape.get_attribute("class") or "").split():
        return  # clicking a selected element again deselects it
    if element_id.startswith("lane_"):
        box = shape.bounding_box()
        page.mouse.click(box["x"] + 12, box["y"] + box["height"] / 2)
    else:
        shape.click()


def test_analyst_edits_checks_test_runs_and_a_second_analyst_publishes(site, browser):  # noqa: F811
    from playwright.sync_api import expect

    app, base = site
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = _sign_in(browser, base, "analyst")
    page.goto(f"{base}/studio/")
    page.locator('[data-service="large_vehicle_permit"]').get_by_role("button", name="開新草稿").click()
    expect(page.locator("#studio")).to_have_attribute("data-ready", "true")
    draft_url = page.url

    # An SLA: the intake's deadline in business days.
    _select(page, "intake")
    panel = page.locator("#studio-panel")
    due = panel.get_by_label("處理期限（工作天）")
    expect(due).to_have_value("2")
    due.fill("3")
    due.press("Tab")

    # A new form needs a proper key before the task points at it.
    panel.get_by_label("或建立新表單（表單代碼）").fill("Bad Key")
    panel.get_by_role("button", name="建立新表單").click()
    expect(panel.locator(".field__error")).to_contain_text("小寫英文字母")

    # A form field of the same task, in the form editor with its live preview.
    with context.expect_page() as opened:
        page.locator("#studio-form-link").click()
    form_page = opened.value
    row = form_page.locator('#form-fields tr[data-field="correction_note"]')
    row.locator('input[name="title"]').fill("補正事項（請逐項說明）")
    expect(form_page.locator("#form-preview")).to_contain_text("補正事項（請逐項說明）")
    form_page.get_by_role("button", name="儲存表單").click()
    expect(form_page.locator("#form-status")).to_contain_text("已儲存")
    form_page.screenshot(path=str(ARTIFACTS / "70-studio-form-editor.png"), full_page=True)
    form_page.close()

    # Removing the role of the traffic bureau's lane is caught on save, on each of its user tasks.
    _select(page, "lane_traffic")
    role = panel.get_by_label("角色")
    role.select_option("")
    page.get_by_role("button", name="儲存草稿").click()
    problems = page.locator("#studio-problems")
    expect(problems.locator('li[data-element="intake"]')).to_contain_text("不在任何泳道")
    expect(page.locator('#studio-canvas [data-element-id="intake"]')).to_have_class(re.compile(r"studio-problem"))
    page.screenshot(path=str(ARTIFACTS / "71-studio-lint.png"), full_page=True)

    _select(page, "lane_traffic")
    panel.get_by_label("角色").select_option("traffic_clerk")
    page.get_by_role("button", name="儲存草稿").click()
    expect(page.locator("#studio-status")).to_contain_text("已儲存")
    expect(problems.locator("li")).to_have_count(0)

    # A test run with the sample answers walks to an end event and draws its path.
    page.get_by_role("button", name="試跑", exact=True).click()
    page.get_by_role("button", name="開始試跑").click()
    expect(page.locator("#studio-testrun")).to_have_attribute("data-outcome", "completed")
    expect(page.locator('#studio-canvas [data-element-id="intake"]')).to_have_class(re.compile(r"studio-visited"))
    page.screenshot(path=str(ARTIFACTS / "72-studio-test-run.png"), full_page=True)

    # Submitted by its author, who cannot approve it ...
    page.get_by_role("link", name="送審與發布").click()
    page.get_by_role("button", name="送審").click()
    expect(page.locator("#draft-status")).to_have_text("送審中")
    expect(page.get_by_role("button", name="核准並發布")).to_have_count(0)
    context.close()

    # ... and published by a colleague after reading the changes.
    context, page = _sign_in(browser, base, "analyst2")
    page.goto(draft_url.replace(draft_url.rsplit("/", 1)[1], "") + draft_url.rsplit("/", 1)[1] + "/review")
    expect(page.locator('#diff-elements tr[data-element="intake"]')).to_contain_text("dueDays")
    expect(page.locator('#diff-forms tr[data-form="lvp_intake"]')).to_contain_text("correction_note")
    page.screenshot(path=str(ARTIFACTS / "73-studio-review.png"), full_page=True)
    page.get_by_role("button", name="核准並發布").click()
    expect(page.locator(".notice--success")).to_contain_text("已發布新版本")
    context.close()

    with app.app_context():
        svc = services.get()
    with reading(svc.sessions) as s:
        newest = s.scalars(select(Definition).where(Definition.service_key == "large_vehicle_permit")
                           .order_by(Definition.version.desc())).first()
        assert newest.version == 2 and newest.approved_by
        assert b'name="dueDays" value="3"' in newest.bpmn_xml
        assert newest.forms["lvp_intake"]["schema"]["properties"]["correction_note"]["title"] == "補正事項（請逐項說明）"
