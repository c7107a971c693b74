"""A permit route drawn on the map: the districts, the co-signing police and the permit follow the drawing."""
from __future__ import annotations

import json
import re

from sqlalchemy import func, select

from engine.db import reading
from engine.models import Case, HumanTask, Permit
from tests.factories import application_form, files
from webapp import services

from .flow import submit_application, text_of, work
from .test_api import _application as api_application

YONGKANG_TO_EAST = {"type": "LineString", "coordinates": [[120.2571, 23.0263], [120.235, 22.98]]}
INTO_KAOHSIUNG = {"type": "LineString", "coordinates": [[120.2571, 23.0263], [120.30, 22.63]]}
PATH = "route_segments-0-path"
DISTRICTS = "route_segments-0-districts"


def drawn(path) -> dict:
    """The route field as the map widget posts it: the path as JSON text, the district boxes disabled."""
    return {PATH: path if isinstance(path, str) else json.dumps(path), DISTRICTS: []}


def _application(app, case_id: str) -> dict:
    with app.app_context():
        svc = services.get()
        with reading(svc.sessions) as s:
            return svc.engine.task_data(s, s.get(Case, case_id))["application"]


def _open_cosigns(app, case_id: str) -> list[str]:
    with app.app_context(), reading(services.get().sessions) as s:
        return sorted(s.scalars(select(HumanTask.agency_code).where(
            HumanTask.case_id == case_id, HumanTask.status == "open")))


def _case_count(app) -> int:
    with app.app_context(), reading(services.get().sessions) as s:
        return s.scalar(select(func.count()).select_from(Case))


def _rejected(client, **fields):
    draft = client.post("/services/large_vehicle_permit/apply").location
    return client.post(draft, data={**application_form(**fields), **files(), "action": "submit"},
                       content_type="multipart/form-data")


def test_drawn_route_sets_the_districts_and_the_co_signing_police(app, login):
    company, clerk = login("company"), login("tb.clerk")
    case_id, number = submit_application(company, **drawn(YONGKANG_TO_EAST))

    segment = _application(app, case_id)["route_segments"][0]
    assert segment["districts"] == ["永康區", "東區"]
    assert segment["path"] == YONGKANG_TO_EAST
    assert "永康區、東區" in text_of(company.get(f"/my/cases/{case_id}"))

    work(clerk, number, decision="cosign")
    assert _open_cosigns(app, case_id) == ["TNPD-1", "TNPD-YK"]


def test_typed_districts_that_contradict_the_drawing_are_replaced(app, login):
    company = login("company")
    case_id, _ = submit_application(company, **{PATH: json.dumps(YONGKANG_TO_EAST), DISTRICTS: ["新市區"]})
    assert _application(app, case_id)["route_segments"][0]["districts"] == ["永康區", "東區"]


def test_a_route_without_a_drawing_keeps_the_districts_picked_by_hand(app, login):
    case_id, _ = submit_application(login("company"))
    segment = _application(app, case_id)["route_segments"][0]
    assert segment["districts"] == ["永康區", "新市區"]
    assert "path" not in segment


def test_a_route_leaving_the_city_is_a_field_error_and_nothing_is_saved(app, login):
    company = login("company")
    response = _rejected(company, **drawn(INTO_KAOHSIUNG))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="f-{PATH}__error">路線不在臺南市範圍內<' in html
    assert _case_count(app) == 0
    # The drawing comes back as it was, for the applicant to correct.
    assert "120.3" in re.search(rf'name="{PATH}" value="([^"]*)"', html).group(1)


def test_unusable_drawings_are_field_errors(app, login):
    company = login("company")
    one_point = {"type": "LineString", "coordinates": [[120.2571, 23.0263]]}
    for path, message in ((one_point, "請在地圖上畫出路線，或改為手動選擇行經行政區"),
                          ('{"type": "LineString", "coordinates": [[120.2, "north"], [120.3, 23]]}',
                           "路線座標格式不正確"),
                          ("not json", "資料格式不正確")):
        response = _rejected(company, **drawn(path))
        assert response.status_code == 422, path
        assert f'id="f-{PATH}__error">{message}' in response.get_data(as_text=True), path
    assert _case_count(app) == 0


def test_the_api_computes_districts_from_the_path_too(app, login):
    company = login("company")
    application = api_application(company)
    segment = {**application["route_segments"][0], "path": YONGKANG_TO_EAST, "districts": ["新市區"]}
    body = {"service": "large_vehicle_permit", "application": {**application, "route_segments": [segment]}}
    created = company.api("POST", "/api/v1/cases", json=body)
    assert created.status_code == 201, created.get_json()
    stored = _application(app, created.get_json()["case_id"])["route_segments"][0]
    assert stored["path"] == YONGKANG_TO_EAST and stored["districts"] == ["永康區", "東區"]

    segment["path"] = {"type": "LineString", "coordinates": [[120.2571, 23.0263], [121.5, 25.0]]}
    refused = company.api("POST", "/api/v1/cases", json=body)
    assert refused.status_code == 422 and refused.get_json()["errors"]
    assert _case_count(app) == 1


def test_the_issued_permit_keeps_the_drawn_path(app, login):
    company, clerk = login("company"), login("tb.clerk")
    case_id, number = submit_application(company, **drawn(YONGKANG_TO_EAST))
    work(clerk, number, decision="cosign")
    work(login("police.yk"), number, opinion="agree")
    work(login("police.e1"), number, opinion="agree")
    work(clerk, number, decision="approve", conditions="應依核准路線行駛。")

    with app.app_context(), reading(services.get().sessions) as s:
        permit = s.scalar(select(Permit).where(Permit.case_id == case_id))
    assert permit.route_segments[0]["path"] == YONGKANG_TO_EAST
    assert permit.route_segments[0]["districts"] == ["永康區", "東區"]
