"""The JSON API: OpenAPI 3.1 document, the same rules and errors as the pages."""
from __future__ import annotations

import io

from tests.factories import PDF, PNG

from .flow import submit_application


def _application(client) -> dict:
    docs = {}
    for field, name, content in (("contract", "c.pdf", PDF), ("route_map", "r.png", PNG)):
        response = client.http.post("/api/v1/documents", data={"file": (io.BytesIO(content), name)},
                                    headers={"X-CSRFToken": client.csrf()},
                                    content_type="multipart/form-data")
        assert response.status_code == 201, response.get_json()
        docs[field] = response.get_json()
    return {
        "applicant": {"kind": "company", "id_no": "53212539", "name": "南瀛營造股份有限公司",
                      "responsible_person": "陳大文", "contact_name": "林小姐",
                      "phone": "06-2991111", "email": "a@example.tw"},
        "purpose": {"category": "freight", "project_name": "鋼材運送", "site_address": "安平工業區"},
        "vehicles": [{"plate": "KLC-2468", "type": "聯結車", "gross_weight": 40,
                      "licence_expiry": "2027-12-31"}],
        "route_segments": [{"from": "安平港", "to": "台86線", "roads": "新港路",
                            "districts": ["安平區", "南區"]}],
        "period": {"start_date": "2027-01-05", "end_date": "2027-01-20"},
        "time_windows": [{"start": "09:00", "end": "16:00"}],
        "attachments": docs,
    }


def test_openapi_document_is_3_1_and_lists_the_endpoints(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    for path in ("/api/v1/cases", "/api/v1/tasks/{task_id}/complete", "/api/v1/services",
                 "/api/v1/permits/{token}/verification"):
        assert path in spec["paths"], path
    # one component per schema: none registered twice under a numbered name
    assert not [name for name in spec["components"]["schemas"] if name[-1].isdigit()]
    assert "tasks" in spec["components"]["schemas"]["CaseOut"]["properties"]
    assert "tasks" not in spec["components"]["schemas"]["CaseSummaryOut"]["properties"]


def test_apply_claim_complete_and_conflict_through_the_api(app, login):
    company = login("company")
    body = {"service": "large_vehicle_permit", "application": _application(company)}
    created = company.api("POST", "/api/v1/cases", json=body, headers={"Idempotency-Key": "a1"})
    assert created.status_code == 201
    again = company.api("POST", "/api/v1/cases", json=body, headers={"Idempotency-Key": "a1"})
    assert again.get_json() == created.get_json()
    case_id = created.get_json()["case_id"]

    clerk, other = login("tb.clerk"), login("tb.clerk2")
    inbox = clerk.api("GET", "/api/v1/tasks").get_json()["items"]
    task = next(t for t in inbox if t["case_id"] == case_id)
    revision = company.api("GET", f"/api/v1/cases/{case_id}").get_json()["revision"]
    claimed = clerk.api("POST", f"/api/v1/tasks/{task['id']}/claim", json={"revision": revision})
    assert claimed.status_code == 200
    taken = other.api("POST", f"/api/v1/tasks/{task['id']}/claim", json={})
    assert taken.status_code == 409 and "重新載入" in taken.get_json()["message"]

    invalid = clerk.api("POST", f"/api/v1/tasks/{task['id']}/complete",
                        json={"data": {"decision": "reject"}})
    assert invalid.status_code == 422
    assert invalid.get_json()["errors"]["reason"] == ["此欄位為必填"]

    stale = clerk.api("POST", f"/api/v1/tasks/{task['id']}/complete",
                      json={"data": {"decision": "cosign"}, "revision": revision})
    assert stale.status_code == 409
    current = claimed.get_json()["revision"]
    done = clerk.api("POST", f"/api/v1/tasks/{task['id']}/complete",
                     json={"data": {"decision": "cosign"}, "revision": current})
    assert done.status_code == 200
    detail = company.api("GET", f"/api/v1/cases/{case_id}").get_json()
    cosigns = [t for t in detail["tasks"] if t["status"] == "open"]
    assert sorted(t["agency_code"] for t in cosigns) == ["TNPD-4", "TNPD-6"]


def test_api_field_errors_for_a_bad_application(app, login):
    company = login("company")
    body = {"service": "large_vehicle_permit",
            "application": {**_application(company), "vehicles": [{"plate": "KLC-2468",
                                                                    "type": "坦克", "gross_weight": -1,
                                                                    "licence_expiry": "2027-12-31"}]}}
    response = company.api("POST", "/api/v1/cases", json=body)
    errors = response.get_json()["errors"]
    assert response.status_code == 422
    assert "vehicles-0-type" in errors and "vehicles-0-gross_weight" in errors
    assert company.api("GET", "/api/v1/cases").get_json()["items"] == []


def test_permit_verification_for_systems_with_a_token(app, login):
    company = login("company")
    case_id, number = submit_application(company)
    anonymous = app.test_client()
    assert anonymous.get("/api/v1/cases").status_code == 401
    system = anonymous.get("/api/v1/cases", headers={"Authorization": "Bearer demo-police-verify-token"})
    assert system.status_code == 200 and system.get_json()["items"] == []
    assert anonymous.get("/api/v1/permits/nope/verification").status_code == 404
