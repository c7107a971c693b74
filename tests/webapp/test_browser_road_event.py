"""In headless Chromium: an agency co-handling a road event sees the other agencies and answers."""
from __future__ import annotations

import re

import pytest

from tests.conftest import ARTIFACTS, Client

from .flow import work
from .test_browser_low_income import _sign_in, site  # noqa: F401 - the fixture is used by name
from .test_road_event import submit_event

pytestmark = pytest.mark.browser


def test_an_agency_records_an_opinion_with_conditions_beside_the_others(site, browser):  # noqa: F811
    from playwright.sync_api import expect

    app, base = site
    case_id, number = submit_event(Client(app.test_client()).login("company"), festival=True)
    work(Client(app.test_client()).login("tb.clerk"), number, decision="cosign")
    work(Client(app.test_client()).login("fb.clerk"), number, opinion="conditions",
         comment="舞台周邊應留設 4 公尺消防通道")
    ARTIFACTS.mkdir(exist_ok=True)

    context, page = _sign_in(browser, base, "epb.clerk")
    page.goto(f"{base}/work/inbox")
    page.get_by_role("link", name=number).click()
    task_url = page.url
    siblings = page.locator("#siblings")
    expect(siblings.locator("tbody tr")).to_have_count(4)
    fire = siblings.locator("tbody tr").filter(has_text="臺南市政府消防局")
    expect(fire).to_contain_text("已回覆")
    expect(fire).to_contain_text("附條件同意")
    expect(fire).to_contain_text("舞台周邊應留設 4 公尺消防通道")
    expect(siblings.locator("tbody tr").filter(has_text="臺南市政府工務局")).to_contain_text("辦理中")
    expect(siblings).to_contain_text("臺南市政府警察局永康分局")
    expect(siblings).to_contain_text("臺南市永康區公所")

    page.get_by_role("button", name="領取").click()
    form = page.locator("aside")
    form.get_by_label("附條件同意", exact=True).check()
    page.fill("#f-comment", "攤位區應設置垃圾分類回收站，活動結束後 2 小時內清運完畢")
    page.screenshot(path=str(ARTIFACTS / "60-road-event-cohandle.png"), full_page=True)
    form.get_by_role("button", name="送出").click()
    expect(page.locator(".notice--success")).to_contain_text(number)
    expect(page.locator("#inbox")).not_to_contain_text(number)

    page.goto(task_url)
    expect(page.locator("aside")).to_contain_text("此工作已完成")
    saved = page.locator(".timeline__item--complete").filter(has_text="臺南市政府環境保護局")
    expect(saved).to_contain_text("附條件同意")
    expect(saved).to_contain_text("攤位區應設置垃圾分類回收站，活動結束後 2 小時內清運完畢")
    page.screenshot(path=str(ARTIFACTS / "61-road-event-saved.png"), full_page=True)
    context.close()

    # Saved for the others too: the public works bureau sees the answer beside its own task.
    context, page = _sign_in(browser, base, "pwb.clerk")
    page.goto(f"{base}/work/inbox")
    page.get_by_role("link", name=number).click()
    environment = page.locator("#siblings tbody tr").filter(has_text="臺南市政府環境保護局")
    expect(environment).to_contain_text("已回覆")
    expect(environment).to_contain_text("附條件同意")
    expect(environment).to_contain_text("攤位區應設置垃圾分類回收站")
    page.screenshot(path=str(ARTIFACTS / "62-road-event-siblings.png"), full_page=True)
    context.close()

    # The applicant's case page draws the co-handling diagram with the open stage marked.
    context, page = _sign_in(browser, base, "company")
    page.goto(f"{base}/my/cases/{case_id}")
    canvas = page.locator(".case-diagram__canvas")
    expect(canvas.locator('[data-element-id="cohandle"]')).to_have_class(re.compile(r"(^|\s)is-current(\s|$)"))
    expect(canvas.locator('[data-element-id="intake"]')).to_have_class(re.compile(r"(^|\s)is-done(\s|$)"))
    expect(canvas.locator('[data-element-id="dispatch_rules"]')).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "63-road-event-diagram.png"), full_page=True)
    context.close()
