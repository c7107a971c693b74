"""In headless Chromium: a company draws its route on the map of Tainan and the districts follow."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.conftest import ARTIFACTS
from tests.factories import PDF, PNG

from .test_browser import fill_contact_and_purpose, fill_vehicle
from .conftest import accessibility_violations
from .test_browser_low_income import _sign_in, site  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.browser

YONGKANG = (120.2571, 23.0263)     # 永康區公所
EAST = (120.235, 22.98)            # 東區; the straight line from 永康區公所 meets no third district
SERVICE_NAME = "大型車輛行駛管制道路通行證"


def click_at(page, widget, lon: float, lat: float) -> None:
    """Click the map where (lon, lat) is shown, as a person pointing at that place would."""
    widget.locator("[data-route-canvas]").scroll_into_view_if_needed()
    x, y = widget.evaluate("(el, p) => { const c = el.routeMap.latLngToContainerPoint([p[1], p[0]]);"
                           " return [c.x, c.y]; }", [lon, lat])
    box = widget.locator("[data-route-canvas]").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)


def test_draw_a_route_and_the_computed_districts_reach_the_case(site, browser, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    _app, base = site
    start = date.today() + timedelta(days=3)
    contract, route_map = tmp_path / "contract.pdf", tmp_path / "route.png"
    contract.write_bytes(PDF)
    route_map.write_bytes(PNG)
    ARTIFACTS.mkdir(exist_ok=True)

    context, page = _sign_in(browser, base, "company")
    page.goto(f"{base}/")
    page.get_by_role("link", name=SERVICE_NAME, exact=True).click()
    page.get_by_role("button", name="線上申辦").click()
    form = page.locator("form.schema-form")
    widget = form.locator("[data-route-map]").first
    expect(widget).to_have_attribute("data-route-ready", "")
    status = widget.locator("[data-route-status]")
    districts = form.locator("#f-route_segments-0-districts")
    expect(status).to_contain_text("尚未畫出路線")

    # Zoom to where the route runs, then click two places in two districts.
    widget.evaluate("el => el.routeMap.setView([23.012, 120.238], 13, {animate: false})")
    click_at(page, widget, *YONGKANG)
    expect(widget.locator("[data-route-points] li")).to_have_count(1)
    expect(widget.locator("[data-route-points] li").first).to_contain_text("永康區")
    click_at(page, widget, *EAST)
    expect(status).to_have_text("行經行政區：永康區、東區")
    expect(districts.get_by_label("永康區", exact=True)).to_be_checked()
    expect(districts.get_by_label("東區", exact=True)).to_be_checked()
    expect(districts.get_by_label("新市區", exact=True)).not_to_be_checked()
    expect(districts.get_by_label("永康區", exact=True)).to_be_disabled()

    # Undo gives the choice back; the second point is then added from the keyboard at the map's centre.
    widget.get_by_role("button", name="復原上一點").click()
    expect(status).to_contain_text("尚未畫出路線")
    expect(districts.get_by_label("新市區", exact=True)).to_be_enabled()
    widget.evaluate("(el, p) => el.routeMap.setView([p[1], p[0]], 13, {animate: false})", list(EAST))
    widget.get_by_role("button", name="在地圖中心加入一點").focus()
    page.keyboard.press("Enter")
    expect(status).to_have_text("行經行政區：永康區、東區")
    expect(widget.locator("[data-route-points] li")).to_have_count(2)
    expect(widget.locator("[data-route-points] li").nth(1)).to_contain_text("東區")

    assert accessibility_violations(page, widget) == []

    fill_contact_and_purpose(form)
    fill_vehicle(form, 0, "KLA-1234", "大貨車", "35", start + timedelta(days=365))
    form.locator("#f-route_segments-0-from").fill("永康區公所")
    form.locator("#f-route_segments-0-to").fill("東區崇德路工地")
    form.locator("#f-route_segments-0-roads").fill("中正南路、東門路、崇德路")
    form.locator("#f-period-start_date").fill(start.isoformat())
    form.locator("#f-period-end_date").fill((start + timedelta(days=30)).isoformat())
    form.locator("#f-time_windows-0-start").fill("00:00")
    form.locator("#f-time_windows-0-end").fill("23:59")
    form.locator("#f-attachments-contract").set_input_files(contract)
    form.locator("#f-attachments-route_map").set_input_files(route_map)
    page.screenshot(path=str(ARTIFACTS / "70-route-drawn.png"), full_page=True)

    form.get_by_role("button", name="送出申請").click()
    expect(page.locator(".notice--success")).to_contain_text("申請已送出")
    expect(page).to_have_url(re.compile(r"/my/cases/[^/]+$"))
    view = page.locator("[data-route-map][data-route-view]")
    expect(view).to_have_count(1)
    expect(view).to_have_attribute("data-route-ready", "")
    row = view.locator("xpath=ancestor::tr")
    expect(row).to_contain_text("永康區、東區")
    expect(row).to_contain_text("路線共 2 個點")
    view.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "71-route-on-case.png"), full_page=True)
    context.close()
