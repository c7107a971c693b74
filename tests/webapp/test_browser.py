"""End to end in headless Chromium: a company applies for a large-vehicle permit,
the traffic bureau accepts it, two police sub-bureaus co-sign, the bureau approves
and the applicant downloads the permit PDF.

Screenshots of the main pages go to <repo>/test-artifacts/.
"""
from __future__ import annotations

import re
import threading
from datetime import date, timedelta

import pytest
from werkzeug.serving import make_server

from tests.conftest import ARTIFACTS, make_app
from tests.factories import PDF, PNG

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

TIMEOUT_MS = 10_000
SERVICE_NAME = "大型車輛行駛管制道路通行證"
CASE_NUMBER = re.compile(r"LVP-\d{4}-\d{6}")

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(sqlite_url, tmp_path):
    app = make_app(sqlite_url, tmp_path)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        from webapp import services

        with app.app_context():
            services.get().db.dispose()



@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def open_session(browser, base_url: str, username: str, accept_downloads: bool = False):
    """A fresh browser context signed in through the login page; returns (context, page)."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900},
                                  locale="zh-TW", accept_downloads=accept_downloads)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill("onestop-demo")
    page.locator("main").get_by_role("button", name="登入").click()
    page.wait_for_load_state()
    expect(page.locator(".nav__user")).to_be_visible()
    return context, page


def open_task(page, case_number: str, task_name: str):
    """From the inbox, open the row of this case and task, then claim it."""
    page.goto("/work/inbox")
    row = page.locator("#inbox tbody tr").filter(has_text=case_number).filter(has_text=task_name)
    expect(row).to_have_count(1)
    row.get_by_role("link", name=case_number).click()
    expect(page.locator("h1")).to_contain_text(f"{case_number} · {task_name}")
    page.get_by_role("button", name="領取", exact=True).click()
    expect(page.locator(".notice--success")).to_contain_text("已領取此工作")
    return page


def submit_task(page):
    page.locator("aside").get_by_role("button", name="送出", exact=True).click()
    expect(page).to_have_url(re.compile(r"/work/inbox$"))
    expect(page.locator(".notice--success")).to_contain_text("已完成")


def fill_contact_and_purpose(form):
    """The applicant's contact and the purpose, as the company types them after the MyData prefill."""
    form.locator("#f-applicant-responsible_person").fill("陳大文")
    form.locator("#f-applicant-contact_name").fill("林小姐")
    form.locator("#f-applicant-phone").fill("06-2991111")
    form.locator("#f-applicant-email").fill("contact@example.tw")
    form.get_by_label("興修房屋或其他工程施工", exact=True).check()
    form.locator("#f-purpose-project_name").fill("永康區住宅新建工程")
    form.locator("#f-purpose-site_address").fill("臺南市永康區中正路100號")


def fill_vehicle(form, index: int, plate: str, kind: str, weight: str, expiry: date):
    form.locator(f"#f-vehicles-{index}-plate").fill(plate)
    form.locator(f"#f-vehicles-{index}-type").select_option(kind)
    form.locator(f"#f-vehicles-{index}-gross_weight").fill(weight)
    form.locator(f"#f-vehicles-{index}-licence_expiry").fill(expiry.isoformat())


def test_permit_from_application_to_download(live_server, browser, artifacts, tmp_path):
    start = date.today() + timedelta(days=3)
    contract = tmp_path / "contract.pdf"
    contract.write_bytes(PDF)
    route_map = tmp_path / "route.png"
    route_map.write_bytes(PNG)

    # --- citizen applies ------------------------------------------------------------
    citizen_ctx, citizen = open_session(browser, live_server, "company", accept_downloads=True)
    citizen.goto("/")
    citizen.get_by_role("link", name=SERVICE_NAME, exact=True).click()
    expect(citizen.locator("h1")).to_have_text(SERVICE_NAME)
    citizen.get_by_role("button", name="線上申辦").click()
    expect(citizen).to_have_url(re.compile(r"/drafts/[^/]+$"))
    form = citizen.locator("form.schema-form")

    # What the signed-in identity already filled in.
    expect(form.locator("#f-applicant-name")).to_have_value("南瀛營造股份有限公司")
    expect(form.locator("#f-applicant-id_no")).to_have_value("53212539")
    expect(form.get_by_label("公司行號", exact=True)).to_be_checked()

    form.get_by_label("公司行號", exact=True).check()
    fill_contact_and_purpose(form)

    # First vehicle with an impossible weight; then a second row through the add button.
    fill_vehicle(form, 0, "KLA-1234", "大貨車", "-5", start + timedelta(days=365))
    vehicles = form.locator("#f-vehicles")
    expect(vehicles.locator("[data-repeat-item]")).to_have_count(1)
    vehicles.get_by_role("button", name="新增一筆").click()
    expect(vehicles.locator("[data-repeat-item]")).to_have_count(2)
    expect(vehicles.locator("[data-repeat-item]").nth(1).locator("[data-repeat-number]")).to_have_text("2")
    fill_vehicle(form, 1, "KLB-5678", "聯結車", "42.5", start + timedelta(days=200))

    form.locator("#f-route_segments-0-from").fill("永康交流道")
    form.locator("#f-route_segments-0-to").fill("南部科學園區")
    form.locator("#f-route_segments-0-roads").fill("中正北路、中山路")
    districts = form.locator("#f-route_segments-0-districts")
    districts.get_by_label("永康區", exact=True).check()
    districts.get_by_label("新市區", exact=True).check()

    form.locator("#f-period-start_date").fill(start.isoformat())
    form.locator("#f-period-end_date").fill((start + timedelta(days=30)).isoformat())
    form.locator("#f-time_windows-0-start").fill("00:00")
    form.locator("#f-time_windows-0-end").fill("23:59")

    form.locator("#f-attachments-contract").set_input_files(contract)
    form.locator("#f-attachments-route_map").set_input_files(route_map)

    form.get_by_role("button", name="送出申請").click()
    expect(citizen.locator("#form-errors")).to_be_visible()
    weight_error = citizen.locator("#f-vehicles-0-gross_weight__error")
    expect(weight_error).to_have_text(re.compile("不可小於|必須大於"))
    expect(citizen.locator("#f-vehicles-0-gross_weight")).to_have_attribute("aria-invalid", "true")
    # Everything else the citizen typed is still there.
    expect(form.locator("#f-purpose-project_name")).to_have_value("永康區住宅新建工程")
    expect(form.locator("#f-applicant-responsible_person")).to_have_value("陳大文")
    expect(form.locator("#f-vehicles-0-gross_weight")).to_have_value("-5")
    expect(form.locator("#f-vehicles-1-plate")).to_have_value("KLB-5678")
    expect(form.locator("#f-route_segments-0-districts").get_by_label("新市區", exact=True)).to_be_checked()
    expect(form.locator("#f-period-start_date")).to_have_value(start.isoformat())
    expect(form.locator("#f-attachments-contract__stored")).to_contain_text("contract.pdf")
    expect(form.locator("#f-attachments-route_map__stored")).to_contain_text("route.png")
    citizen.screenshot(path=str(artifacts / "01-application-errors.png"), full_page=True)

    form.locator("#f-vehicles-0-gross_weight").fill("35")
    form.get_by_role("button", name="送出申請").click()
    expect(citizen.locator(".notice--success")).to_contain_text("申請已送出")
    expect(citizen).to_have_url(re.compile(r"/my/cases/[^/]+$"))
    case_url = citizen.url
    case_number = citizen.locator("h1").inner_text()
    match = CASE_NUMBER.search(case_number)
    assert match, case_number
    case_number = match.group(0)
    expect(citizen.locator(".notice--success")).to_contain_text(case_number)
    citizen.screenshot(path=str(artifacts / "02-case-submitted.png"), full_page=True)

    # --- traffic bureau intake ------------------------------------------------------
    clerk_ctx, clerk = open_session(browser, live_server, "tb.clerk")
    open_task(clerk, case_number, "收件審查")
    clerk.locator("aside").get_by_label("受理並送會辦", exact=True).check()
    clerk.screenshot(path=str(artifacts / "03-clerk-intake.png"), full_page=True)
    submit_task(clerk)
    expect(clerk.locator("#inbox tbody tr").filter(has_text=case_number)
           .filter(has_text="收件審查")).to_have_count(0)

    # --- police sub-bureaus co-sign ------------------------------------------------
    first_ctx, first = open_session(browser, live_server, "police.yk")
    second_ctx, second = open_session(browser, live_server, "police.sh")
    open_task(first, case_number, "警察分局會辦")
    first.locator("aside").get_by_label("同意", exact=True).check()
    submit_task(first)

    open_task(second, case_number, "警察分局會辦")
    siblings = second.locator("#siblings")
    expect(siblings).to_contain_text("永康分局")
    expect(siblings).to_contain_text("已回覆")
    second.locator("aside").get_by_label("同意", exact=True).check()
    submit_task(second)

    # --- traffic bureau decides ------------------------------------------------------
    open_task(clerk, case_number, "核定")
    opinions = clerk.locator("#opinions tbody tr")
    expect(opinions.filter(has_text="同意")).to_have_count(2)
    expect(opinions.filter(has_text="永康分局")).to_contain_text("同意")
    expect(opinions.filter(has_text="善化分局")).to_contain_text("同意")
    clerk.locator("aside").get_by_label("核准", exact=True).check()
    clerk.screenshot(path=str(artifacts / "04-clerk-decision.png"), full_page=True)
    submit_task(clerk)

    # --- citizen downloads the permit -------------------------------------------------
    citizen.goto(case_url)
    expect(citizen.locator("h1 .badge")).to_have_text("核准")
    download_link = citizen.get_by_role("link", name="下載通行證 PDF")
    expect(download_link).to_be_visible()
    citizen.screenshot(path=str(artifacts / "05-case-approved.png"), full_page=True)
    with citizen.expect_download() as info:
        download_link.click()
    assert info.value.suggested_filename == f"{case_number}.pdf"
    saved = tmp_path / "permit.pdf"
    info.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")

    for context in (citizen_ctx, clerk_ctx, first_ctx, second_ctx):
        context.close()
