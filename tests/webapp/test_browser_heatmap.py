"""In headless Chromium: a traffic clerk reads the permit heatmap, filters it and lists a hot cell's permits."""
from __future__ import annotations

import pytest

from engine.db import transaction
from tests.conftest import ARTIFACTS
from tests.reports.test_heatmap import ANPING_PATH, YONGKANG_ROW, add_permit
from webapp import services

from .conftest import accessibility_violations
from .test_browser_low_income import _sign_in, site  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.browser

# Where the heat canvas is most intense, in page coordinates.
HOTTEST_PIXEL = """() => {
  const canvas = document.querySelector('#heatmap-map canvas.leaflet-heatmap-layer');
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let best = -1, at = -1, painted = 0;
  for (let i = 3; i < pixels.length; i += 4) {
    if (pixels[i]) painted++;
    const heat = pixels[i] + pixels[i - 3] - pixels[i - 1];  // opaque and red rather than blue
    if (pixels[i] && heat > best) { best = heat; at = (i - 3) / 4; }
  }
  const box = canvas.getBoundingClientRect();
  return {painted, x: box.left + (at % canvas.width) * box.width / canvas.width,
          y: box.top + Math.floor(at / canvas.width) * box.height / canvas.height};
}"""


def test_the_clerk_sees_the_heat_filters_it_and_lists_the_permits_of_a_hot_cell(site, browser):  # noqa: F811
    from playwright.sync_api import expect

    app, base = site
    with app.app_context():
        sessions = services.get().sessions
    with transaction(sessions) as s:
        for i in range(6):
            add_permit(s, f"LVP-2026-00040{i}", path=YONGKANG_ROW, vehicles=("大貨車",))
        add_permit(s, "LVP-2026-000410", path=ANPING_PATH, vehicles=("聯結車",), holder="王小明")
    ARTIFACTS.mkdir(exist_ok=True)

    context, page = _sign_in(browser, base, "tb.clerk")
    failures: list[str] = []
    page.on("pageerror", lambda error: failures.append(str(error)))
    page.goto(f"{base}/dashboard/heatmap")
    expect(page.locator("#heatmap-map canvas.leaflet-heatmap-layer")).to_have_count(1)
    expect(page.locator("#heatmap-map .heatmap__label")).to_have_count(37)
    expect(page.locator("#heatmap-map .heatmap__label", has_text="永康區")).to_be_visible()
    expect(page.locator("#heatmap-total")).to_have_text("7")
    assert page.evaluate(HOTTEST_PIXEL)["painted"] > 0

    # A filter refreshes the map in place, and the address keeps it.
    page.select_option("#vehicle", "聯結車")
    expect(page.locator("#heatmap-total")).to_have_text("1")
    expect(page.locator("#heatmap-hot tbody tr")).to_have_count(len(set(_anping_cells())))
    expect(page.locator("#heatmap-hot tbody")).to_contain_text("安平區")
    assert "vehicle=" in page.url
    page.select_option("#vehicle", "")
    expect(page.locator("#heatmap-total")).to_have_text("7")

    # Bad input is a field message, and the map stays as it was.
    page.fill("#time_from", "08:00")
    page.locator("#time_from").dispatch_event("change")
    expect(page.locator("#f-time_to__error")).to_have_text("請同時填寫起訖時間")
    expect(page.locator("#heatmap-total")).to_have_text("7")
    page.fill("#time_from", "")
    page.locator("#time_from").dispatch_event("change")
    expect(page.locator("#f-time_to__error")).to_have_count(0)

    # Clicking the hottest spot lists the permits that pass through it.
    page.locator("#heatmap-map").scroll_into_view_if_needed()
    hottest = page.evaluate(HOTTEST_PIXEL)
    page.mouse.click(hottest["x"], hottest["y"])
    listing = page.locator("#heatmap-cell-body")
    expect(listing.locator("tbody tr")).to_have_count(6)
    expect(listing).to_contain_text("永康區")
    expect(listing).to_contain_text("LVP-2026-000400")
    expect(listing).to_contain_text("南○○○○○○○○司")
    expect(listing).not_to_contain_text("南瀛營造股份有限公司")
    page.screenshot(path=str(ARTIFACTS / "80-heatmap.png"), full_page=True)

    # The table below the map reaches the same listing without a pointer.
    anping = page.locator("#heatmap-hot tbody tr", has_text="安平區").first
    anping.get_by_role("link", name="列出通行證").click()
    expect(listing).to_contain_text("LVP-2026-000410")
    expect(listing).to_contain_text("王○明")
    expect(listing.locator("tbody tr")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "81-heatmap-table.png"), full_page=True)

    assert accessibility_violations(page, page.locator("#main")) == []
    assert failures == []
    context.close()


def _anping_cells() -> list[str]:
    from reports import heatmap

    return heatmap.cells_on_path(ANPING_PATH["coordinates"])
