"""The permit heatmap's cells, rows and aggregation."""
from __future__ import annotations

import json
import secrets
from datetime import date

import pytest
from sqlalchemy import select

from engine.db import reading, transaction
from engine.errors import InvalidInput
from engine.models import Case, Definition, Permit, User
from reports import heatmap
from reports.heatmap_models import RouteCell
from webapp import services

# 永康區: a straight east–west line along the middle of cell row 4605, and the district office.
YONGKANG_ROW = {"type": "LineString", "coordinates": [[120.2410, 23.0275], [120.2690, 23.0275]]}
YONGKANG_CELLS = [f"4605:{i}" for i in range(24048, 24054)]
YONGKANG_OFFICE = (120.2571, 23.0263)
# 安平區, by 永華市政中心: well away from 永康區.
ANPING_PATH = {"type": "LineString", "coordinates": [[120.1600, 22.9920], [120.1800, 22.9920]]}


def add_permit(session, number: str, *, path: dict | None = None, districts=("永康區",),
               vehicles=("大貨車",), valid_from="2026-12-01", valid_to="2026-12-31",
               windows=(("00:00", "23:59"),), revoked: bool = False,
               holder: str = "南瀛營造股份有限公司", record: bool = True) -> Permit:
    """An issued permit (with the closed case it came from), recorded on the heatmap unless told not to."""
    definition = session.scalar(select(Definition.id).where(Definition.service_key == "large_vehicle_permit")
                                .order_by(Definition.version.desc()).limit(1))
    applicant = session.scalar(select(User.id).where(User.username == "company"))
    case = Case(number=number, service_key="large_vehicle_permit", definition_id=definition,
                applicant_id=applicant, owner_agency="TB", status="closed", outcome="approved",
                fields={}, provenance={}, state={})
    session.add(case)
    session.flush()
    segment = {"from": "永康交流道", "to": "南部科學園區", "roads": "中正北路、中山路", "districts": list(districts)}
    if path is not None:
        segment["path"] = path
    permit = Permit(number=number, case_id=case.id, verify_token=secrets.token_urlsafe(32),
                    holder_name=holder, holder_id="5321****",
                    vehicles=[{"plate": f"KL{i}-100{i}", "type": t, "gross_weight": 35}
                              for i, t in enumerate(vehicles)],
                    route_segments=[segment],
                    time_windows=[{"start": a, "end": b} for a, b in windows], conditions=[],
                    valid_from=valid_from, valid_to=valid_to, issuing_agency="臺南市政府交通局",
                    revoked=revoked)
    session.add(permit)
    session.flush()
    if record:
        heatmap.record_permit(session, permit)
    return permit


@pytest.fixture
def sessions(app):
    with app.app_context():
        return services.get().sessions


def _numbers(sessions, filters: heatmap.Filters, cell: str | None = None) -> set[str]:
    with reading(sessions) as s:
        if cell is not None:
            return {p.number for p in heatmap.permits_in_cell(s, cell, filters).permits}
        found = set(s.scalars(select(RouteCell.permit_number).where(*heatmap._conditions(filters)).distinct()))
        assert heatmap.total_permits(s, filters) == len(found)
        return found


def _filters(**args) -> heatmap.Filters:
    return heatmap.parse_filters({k: v if isinstance(v, list) else [v] for k, v in args.items()})


# -- cells ------------------------------------------------------------------

def test_a_straight_line_passes_through_the_cells_it_crosses():
    assert heatmap.cells_on_path(YONGKANG_ROW["coordinates"]) == YONGKANG_CELLS
    # Diagonal, slope ½ in cell units: enters the next column, then the next row, then the next column.
    assert heatmap.cells_on_path([[120.2510, 23.0260], [120.2610, 23.0310]]) == [
        "4605:24050", "4605:24051", "4606:24051", "4606:24052"]
    # Driven the other way: the same cells, reversed.
    assert heatmap.cells_on_path([[120.2610, 23.0310], [120.2510, 23.0260]]) == [
        "4606:24052", "4606:24051", "4605:24051", "4605:24050"]
    assert heatmap.cells_on_path([[120.2571, 23.0263]]) == ["4605:24051"]


def test_a_cell_id_names_its_centre_and_nothing_else_parses():
    lon, lat = heatmap.cell_centre("4605:24051")
    assert (round(lon, 4), round(lat, 4)) == (120.2575, 23.0275)
    assert heatmap.cell_of(lon, lat) == "4605:24051"
    for bad in ("4605", "a:b", "4605:24051:1", "", "4605:", "１:２"):
        with pytest.raises(ValueError):
            heatmap.parse_cell(bad)


def test_district_centroids_lie_in_their_districts():
    from handlers import geo

    centroids = heatmap.district_centroids()
    assert len(centroids) == 37
    for district in ("永康區", "安平區", "新營區", "東區"):
        assert geo.district_of(*centroids[district]) == district


def test_the_vehicle_bits_cover_every_type_the_permit_form_offers():
    schema = json.loads(heatmap.PERMIT_FORM.read_text(encoding="utf-8"))["schema"]
    offered = schema["properties"]["vehicles"]["items"]["properties"]["type"]["enum"]
    assert set(offered) <= set(heatmap.VEHICLE_TYPES)
    assert heatmap.vehicle_types_of(heatmap.vehicle_mask(["聯結車", "大貨車", "不明"])) == ["大貨車", "聯結車"]


def test_time_windows_become_slots_and_one_past_midnight_is_split():
    assert heatmap.time_slots([{"start": "07:00", "end": "09:30"}]) == [(heatmap.ALL_DAYS, 420, 570)]
    assert heatmap.time_slots([{"start": "22:00", "end": "05:00", "days": [6, 7]}]) == [
        (0b1100000, 1320, 1439), (0b1100000, 0, 300)]
    assert heatmap.time_slots([]) == [(heatmap.ALL_DAYS, 0, 1439)]


# -- rows ---------------------------------------------------------------------

def test_a_drawn_route_is_recorded_cell_by_cell_with_what_the_filters_need(sessions):
    with transaction(sessions) as s:
        add_permit(s, "LVP-2026-000001", path=YONGKANG_ROW, vehicles=("大貨車", "聯結車"),
                   valid_from="2026-12-05", valid_to="2026-12-06",  # a Saturday and a Sunday
                   windows=(("07:00", "09:00"), ("20:00", "22:00")))
    with reading(sessions) as s:
        rows = s.scalars(select(RouteCell).order_by(RouteCell.cell, RouteCell.slot)).all()
    assert sorted({r.cell for r in rows}) == YONGKANG_CELLS
    # Slot 0 is the whole permit; slots 1 and 2 its two daily windows.
    assert len(rows) == 3 * len(YONGKANG_CELLS)
    office = {r.slot: r for r in rows if r.cell == heatmap.cell_of(*YONGKANG_OFFICE)}
    assert [(r.start_minute, r.end_minute, r.windows) for r in office.values()] == [
        (420, 1320, 2), (420, 540, 2), (1200, 1320, 2)]
    whole = office[0]
    assert whole.district == "永康區"
    assert (whole.valid_from, whole.valid_to) == (date(2026, 12, 5), date(2026, 12, 6))
    assert whole.weekdays == 0b1100000
    assert heatmap.vehicle_types_of(whole.vehicle_types) == ["大貨車", "聯結車"]
    assert whole.revoked is False
    assert {r.cell for r in rows if r.first_cell} == {YONGKANG_CELLS[0]}


def test_a_segment_without_a_path_lands_on_its_districts_centroids(sessions):
    with transaction(sessions) as s:
        add_permit(s, "LVP-2026-000002", districts=("永康區", "新市區"))
    centroids = heatmap.district_centroids()
    with reading(sessions) as s:
        rows = s.execute(select(RouteCell.cell, RouteCell.district)).all()
    assert sorted(rows) == sorted([(heatmap.cell_of(*centroids["永康區"]), "永康區"),
                                   (heatmap.cell_of(*centroids["新市區"]), "新市區")])
    assert _numbers(sessions, _filters(district="新市區")) == {"LVP-2026-000002"}


def test_record_permit_then_rebuild_gives_the_same_rows(sessions):
    with transaction(sessions) as s:
        add_permit(s, "LVP-2026-000003", path=YONGKANG_ROW, windows=(("07:00", "09:00"), ("22:00", "02:00")))
        add_permit(s, "LVP-2026-000004", districts=("安平區",), vehicles=("曳引車",))
        add_permit(s, "LVP-2026-000005", path=ANPING_PATH, revoked=True)
        add_permit(s, "LVP-2026-000006", path=ANPING_PATH, record=False)  # issued before the heatmap existed

    def snapshot():
        with reading(sessions) as s:
            return sorted((r.permit_number, *(getattr(r, c.key) for c in RouteCell.__table__.columns))
                          for r in s.scalars(select(RouteCell)))

    recorded = snapshot()
    with transaction(sessions) as s:
        assert heatmap.rebuild(s) > len(recorded)
    rebuilt = snapshot()
    assert [r for r in rebuilt if r[0] != "LVP-2026-000006"] == recorded
    assert any(r[0] == "LVP-2026-000006" for r in rebuilt)


def test_recording_a_permit_again_replaces_its_rows(sessions):
    with transaction(sessions) as s:
        permit = add_permit(s, "LVP-2026-000007", path=YONGKANG_ROW)
    with transaction(sessions) as s:
        permit = s.get(Permit, "LVP-2026-000007")
        permit.revoked = True
        permit.route_segments = [{**permit.route_segments[0], "path": ANPING_PATH}]
        heatmap.record_permit(s, permit)
    with reading(sessions) as s:
        rows = s.execute(select(RouteCell.district, RouteCell.revoked)).all()
    assert set(rows) == {("安平區", True)}
    assert _numbers(sessions, heatmap.Filters()) == set()


# -- filters ------------------------------------------------------------------

@pytest.fixture
def city(sessions):
    """Five permits that differ in one thing each from the first."""
    with transaction(sessions) as s:
        add_permit(s, "LVP-2026-000101", path=YONGKANG_ROW)
        add_permit(s, "LVP-2026-000102", path=YONGKANG_ROW, valid_from="2027-02-01", valid_to="2027-02-28")
        add_permit(s, "LVP-2026-000103", path=YONGKANG_ROW, windows=(("22:00", "23:59"), ("00:00", "05:00")))
        add_permit(s, "LVP-2026-000104", path=ANPING_PATH, vehicles=("聯結車",))
        add_permit(s, "LVP-2026-000105", path=YONGKANG_ROW, revoked=True)
        # Only Saturday 2026-12-12 and Sunday 2026-12-13.
        add_permit(s, "LVP-2026-000106", path=YONGKANG_ROW, valid_from="2026-12-12", valid_to="2026-12-13")
    return sessions


def test_no_filter_counts_every_permit_that_is_not_revoked(city):
    everyone = {"LVP-2026-000101", "LVP-2026-000102", "LVP-2026-000103", "LVP-2026-000104", "LVP-2026-000106"}
    assert _numbers(city, heatmap.Filters()) == everyone
    with reading(city) as s:
        found = heatmap.cells(s)
        assert heatmap.total_permits(s) == 5
    assert {c.cell for c in found} == set(YONGKANG_CELLS) | set(heatmap.cells_on_path(ANPING_PATH["coordinates"]))
    office = next(c for c in found if c.cell == heatmap.cell_of(*YONGKANG_OFFICE))
    assert office.permits == 4
    assert found[0].permits == 4 and found[-1].permits == 1
    assert (round(office.lat, 4), round(office.lon, 4)) == (23.0275, 120.2575)


def test_dates_overlap_the_permit_period(city):
    assert _numbers(city, _filters(date_from="2027-01-15", date_to="2027-02-03")) == {"LVP-2026-000102"}
    assert _numbers(city, _filters(date_from="2027-03-01")) == set()
    assert "LVP-2026-000102" not in _numbers(city, _filters(date_to="2026-12-31"))


def test_times_overlap_the_daily_windows_including_ranges_past_midnight(city):
    assert _numbers(city, _filters(time_from="23:00", time_to="23:30")) == {
        "LVP-2026-000101", "LVP-2026-000102", "LVP-2026-000103", "LVP-2026-000104", "LVP-2026-000106"}
    night = {"LVP-2026-000101", "LVP-2026-000102", "LVP-2026-000103", "LVP-2026-000104", "LVP-2026-000106"}
    assert _numbers(city, _filters(time_from="23:30", time_to="01:00")) == night
    with transaction(city) as s:
        add_permit(s, "LVP-2026-000107", path=YONGKANG_ROW, windows=(("09:00", "16:00"),))
    assert "LVP-2026-000107" not in _numbers(city, _filters(time_from="23:30", time_to="01:00"))
    assert "LVP-2026-000107" not in _numbers(city, _filters(time_from="06:00", time_to="08:59"))
    assert "LVP-2026-000103" not in _numbers(city, _filters(time_from="06:00", time_to="08:59"))
    assert "LVP-2026-000107" in _numbers(city, _filters(time_from="15:59", time_to="18:00"))


def test_weekdays_rule_out_permits_that_only_run_on_other_days(city):
    weekday = _numbers(city, _filters(weekday=["1", "3"]))
    assert "LVP-2026-000106" not in weekday and "LVP-2026-000101" in weekday
    assert "LVP-2026-000106" in _numbers(city, _filters(weekday="7"))
    # A Tuesday: the weekend-only permit's dates overlap, but it does not run that day.
    tuesday = _numbers(city, _filters(date_from="2026-12-08", date_to="2026-12-08"))
    assert "LVP-2026-000106" not in tuesday and "LVP-2026-000101" in tuesday


def test_vehicle_type_and_district(city):
    assert _numbers(city, _filters(vehicle="聯結車")) == {"LVP-2026-000104"}
    assert _numbers(city, _filters(vehicle=["聯結車", "大貨車"])) == {
        "LVP-2026-000101", "LVP-2026-000102", "LVP-2026-000103", "LVP-2026-000104", "LVP-2026-000106"}
    assert _numbers(city, _filters(district="安平區")) == {"LVP-2026-000104"}
    assert "LVP-2026-000104" not in _numbers(city, _filters(district="永康區"))
    with reading(city) as s:
        anping = heatmap.cells(s, _filters(district="安平區"))
    assert anping and all(c.permits == 1 for c in anping)


def test_the_cell_listing_masks_holders_and_describes_the_route(city):
    with transaction(city) as s:
        add_permit(s, "LVP-2026-000108", path=YONGKANG_ROW, holder="王小明", vehicles=("大客車", "大貨車"))
    with reading(city) as s:
        listing = heatmap.permits_in_cell(s, heatmap.cell_of(*YONGKANG_OFFICE), _filters(vehicle="大客車"))
    assert (listing.total, listing.district) == (1, "永康區")
    (permit,) = listing.permits
    assert permit.number == "LVP-2026-000108"
    assert permit.holder == "王○明"
    assert permit.vehicle_types == ["大貨車", "大客車"]
    assert permit.route == "永康交流道 → 南部科學園區（中正北路、中山路）"
    with reading(city) as s:
        everyone = heatmap.permits_in_cell(s, heatmap.cell_of(*YONGKANG_OFFICE))
    assert everyone.total == 5 and "LVP-2026-000105" not in {p.number for p in everyone.permits}
    assert all("營造股份有限公司" not in p.holder for p in everyone.permits)


def test_bad_filters_name_their_fields():
    with pytest.raises(InvalidInput) as bad:
        _filters(date_from="2026-13-01", date_to="tomorrow", time_from="25:00", weekday="8",
                 vehicle="坦克", district="台北市")
    assert set(bad.value.errors) == {"date_from", "date_to", "time_from", "weekday", "vehicle", "district"}
    with pytest.raises(InvalidInput) as bad:
        _filters(date_from="2026-12-31", date_to="2026-12-01", time_from="07:00")
    assert bad.value.errors == {"date_to": ["迄日不可早於起日"], "time_to": ["請同時填寫起訖時間"]}
    parsed = _filters(date_from="2026-12-01", time_from="22:00", time_to="06:00", weekday=["6", "7"],
                      vehicle="聯結車", district="永康區")
    assert parsed.as_dict() == {"date_from": "2026-12-01", "date_to": None, "time_from": "22:00",
                                "time_to": "06:00", "weekdays": [6, 7], "vehicle_types": ["聯結車"],
                                "district": "永康區"}
    assert _filters(weekday=[""], vehicle="", district="") == heatmap.Filters()
