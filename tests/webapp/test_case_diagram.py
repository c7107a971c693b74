"""The case page's process diagram: the pinned BPMN with the current and finished stages."""
from __future__ import annotations

from .flow import submit_application, work


def _diagram(client, case_id: str):
    return client.get(f"/my/cases/{case_id}/diagram.json")


def test_the_diagram_follows_the_case_from_intake_to_cosigning(app, login):
    company = login("company")
    case_id, number = submit_application(company)
    page = company.get(f"/my/cases/{case_id}").get_data(as_text=True)
    assert f'data-diagram-src="/my/cases/{case_id}/diagram.json"' in page
    assert "bpmn-navigated-viewer.production.min.js" in page

    response = _diagram(company, case_id)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["current"] == ["intake"]
    assert body["done"] == []
    assert "bpmn:definitions" in body["xml"]
    assert 'id="intake"' in body["xml"]

    work(login("tb.clerk"), number, decision="cosign")
    body = _diagram(company, case_id).get_json()
    assert body["current"] == ["cosign"]  # two police precincts, one element
    assert "intake" in body["done"]
    assert "cosign" not in body["done"]


def test_the_diagram_card_speaks_english(app, login):
    company = login("company")
    case_id, _ = submit_application(company)
    company.get("/lang/en")
    html = company.get(f"/my/cases/{case_id}").get_data(as_text=True)
    assert "Process diagram" in html and "Not reached yet" in html
    assert 'data-label-current="Current stage: {stages}"' in html


def test_only_those_who_may_see_the_case_get_its_diagram(app, login):
    case_id, _ = submit_application(login("company"))
    assert _diagram(login("citizen"), case_id).status_code == 404
    assert _diagram(login("citizen"), "0" * 32).status_code == 404
    anonymous = app.test_client().get(f"/my/cases/{case_id}/diagram.json")
    assert anonymous.status_code == 302
    assert "/login" in anonymous.location
