"""In headless Chromium: the clerk's screen shows a QR code, a phone signs, the clerk sees the signature."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import ARTIFACTS, make_app

from .conftest import _free_port
from .test_browser_low_income import TIMEOUT_MS, _sign_in
from .test_signatures import APPLICANT, APPLICANT_MASKED, start_case

pytestmark = pytest.mark.browser


@pytest.fixture
def counter_site(sqlite_url, tmp_path):
    """A live server whose PUBLIC_BASE_URL is its own address, so the QR link opens on the phone."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    app = make_app(sqlite_url, tmp_path, {"PUBLIC_BASE_URL": base})
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield app, base
    server.shutdown()


def _phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=3,
                                  is_mobile=True, has_touch=True, locale="zh-TW")
    context.set_default_timeout(TIMEOUT_MS)
    return context, context.new_page()


def _mouse_stroke(page, box) -> None:
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + w * 0.15, y + h * 0.6)
    page.mouse.down()
    page.mouse.move(x + w * 0.45, y + h * 0.3, steps=8)
    page.mouse.move(x + w * 0.8, y + h * 0.65, steps=8)
    page.mouse.up()


def _touch_stroke(page, box) -> None:
    """A finger drawing a signature: real touch events, as a phone's screen sends them."""
    cdp = page.context.new_cdp_session(page)
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    points = [(x + w * (0.1 + 0.04 * i), y + h * (0.5 + (0.25 if i % 4 < 2 else -0.25))) for i in range(20)]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]})
    for px, py in points[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": px, "y": py}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def _ink_on(page) -> int:
    """How many pixels of the pad are drawn on."""
    return page.evaluate("""() => {
        const c = document.querySelector('[data-signature-pad]');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }""")


def test_the_clerk_shows_a_qr_code_and_sees_the_phones_signature_arrive(counter_site, browser):
    from playwright.sync_api import expect

    app, base = counter_site
    case_id = start_case(app)
    ARTIFACTS.mkdir(exist_ok=True)

    clerk_context, clerk = _sign_in(browser, base, "tb.counter")
    clerk.goto(f"{base}/my/cases/{case_id}")
    clerk.locator("#counter-signature").get_by_role("button", name="請民眾簽名").click()
    expect(clerk.locator("#signature-qr svg.qr")).to_be_visible()
    expect(clerk.locator("[data-status-label]")).to_have_text("等待民眾簽名")
    link = clerk.locator("#signature-link").inner_text().strip()
    assert link.startswith(f"{base}/sign/")
    clerk.screenshot(path=str(ARTIFACTS / "95-signature-clerk-qr.png"), full_page=True)

    phone_context, phone = _phone(browser)
    phone.goto(link)
    expect(phone.locator("#signing-applicant")).to_have_text(APPLICANT_MASKED)
    assert APPLICANT not in phone.content()
    pad = phone.locator("[data-signature-pad]")
    pad.scroll_into_view_if_needed()

    phone.get_by_role("button", name="確認簽名").click()
    expect(phone.locator("[data-signature-empty]")).to_be_visible()
    assert phone.url == link

    _mouse_stroke(phone, pad.bounding_box())
    assert _ink_on(phone) > 0
    expect(phone.locator("[data-signature-empty]")).to_be_hidden()
    phone.get_by_role("button", name="清除").click()
    assert _ink_on(phone) == 0

    _touch_stroke(phone, pad.bounding_box())
    assert _ink_on(phone) > 0
    phone.screenshot(path=str(ARTIFACTS / "96-signature-phone.png"), full_page=True)
    phone.get_by_role("button", name="確認簽名").click()
    expect(phone.locator("#signature-done")).to_contain_text("簽名完成")
    phone.screenshot(path=str(ARTIFACTS / "97-signature-phone-done.png"), full_page=True)

    image = clerk.locator("#signature-image")
    expect(image).to_be_visible(timeout=8_000)
    assert clerk.evaluate("() => document.getElementById('signature-image').naturalWidth") > 0
    assert image.get_attribute("src").startswith("data:image/png;base64,")
    expect(clerk.locator("[data-status-label]")).to_have_text("民眾已簽名")
    expect(clerk.locator("#signed-document")).to_be_visible()
    expect(clerk.locator("#signature-qr")).to_be_hidden()
    expect(clerk.locator("#signature-link")).to_be_hidden()
    clerk.screenshot(path=str(ARTIFACTS / "98-signature-clerk-signed.png"), full_page=True)

    with clerk.expect_download() as download:
        clerk.locator("#signed-document").click()
    assert download.value.suggested_filename == "申請書（已簽名）.pdf"

    phone.goto(link)
    expect(phone.locator("#signature-gone")).to_contain_text("此簽名連結已失效")
    phone_context.close()
    clerk_context.close()
