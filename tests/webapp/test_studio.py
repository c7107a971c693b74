"""The analyst studio over HTTP: drafts saved with checks, forms, four-eyes publishing, diff and migration."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.db import reading
from engine.models import AuditEvent, Case, Definition, DefinitionDraft, HumanTask
from tests.engine.test_cases import start
from webapp import services

ROOT = Path(__file__).resolve().parents[2]
BPMN = (ROOT / "bpmn" / "large_vehicle_permit.bpmn").read_text(encoding="utf-8")


@pytest.fixture
def svc(app):
    """The app's services, used outside an app context so requests keep their own (CSRF tokens live there)."""
    with app.app_context():
        return services.get()


def open_draft(client, key: str = "large_vehicle_permit") -> str:
    response = client.post(f"/studio/services/{key}/drafts")
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"].rsplit("/", 1)[1]


def save(client, draft_id: str, bpmn: str, revision: int):
    return client.api("POST", f"/studio/drafts/{draft_id}", json={"bpmn": bpmn, "revision": revision},
                      headers={"Accept": "application/json"})


def studio_data(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="studio-data">(.*?)</script>', page, re.S)
    return json.loads(match.group(1))


def due_days(bpmn: str, days: int) -> str:
    return re.sub(r'(<bpmn:userTask id="intake".*?name="dueDays" value=")\d+', rf"\g<1>{days}", bpmn,
                  count=1, flags=re.S)


def publish(login, bpmn: str, author: str = "analyst", approver: str = "analyst2") -> str:
    writer = login(author)
    draft_id = open_draft(writer)
    assert save(writer, draft_id, bpmn, 0).status_code == 200
    assert writer.post(f"/studio/drafts/{draft_id}/submit", data={"revision": 1}).status_code == 302
    response = login(approver).post(f"/studio/drafts/{draft_id}/publish")
    assert response.status_code == 302 and "/migration" in response.headers["Location"]
    return draft_id


def test_only_analysts_and_admins_reach_the_studio(login):
    assert "流程工作室" in login("analyst").get("/").get_data(as_text=True)
    assert "流程工作室" not in login("tb.clerk").get("/").get_data(as_text=True)
    assert login("tb.clerk").get("/studio/").status_code == 403
    assert login("citizen").get("/studio/").status_code == 403
    page = login("analyst").get("/studio/").get_data(as_text=True)
    assert "大型車輛行駛管制道路通行證" in page and "開新草稿" in page
    admin_page = login("admin").get("/studio/").get_data(as_text=True)
    assert "版本與差異" in admin_page and "開新草稿" not in admin_page


def test_the_modeler_page_carries_the_draft_and_what_the_panel_offers(login):
    analyst = login("analyst")
    draft_id = open_draft(analyst)
    page = analyst.get(f"/studio/drafts/{draft_id}").get_data(as_text=True)
    data = studio_data(page)
    assert data["revision"] == 0 and data["problems"] == []
    assert {"code": "traffic_clerk", "label": "交通局承辦人"} in data["roles"]
    assert "lvp_intake" in {f["key"] for f in data["forms"]}
    assert "permit.issue" in {h["name"] for h in data["handlers"]}
    xml = analyst.get(data["urls"]["diagram"])
    assert xml.status_code == 200 and xml.get_data(as_text=True) == BPMN
    assert login("tb.clerk").get(f"/studio/drafts/{draft_id}").status_code == 403


def test_saving_reports_problems_on_their_elements_and_keeps_the_diagram(login, svc):
    analyst = login("analyst")
    draft_id = open_draft(analyst)
    no_role = BPMN.replace('name="traffic_clerk"', 'name="traffic_desk"')
    response = save(analyst, draft_id, no_role, 0)
    body = response.get_json()
    assert response.status_code == 200 and body["revision"] == 1
    flagged = {p["element"] for p in body["problems"]}
    assert {"intake", "decide"} <= flagged
    assert any("泳道 traffic_desk 不是已知的角色" == p["message"] for p in body["problems"])
    with reading(svc.sessions) as s:
        assert s.get(DefinitionDraft, draft_id).bpmn_xml.decode() == no_role
    fixed = save(analyst, draft_id, due_days(BPMN, 5), 1).get_json()
    assert fixed["problems"] == [] and fixed["revision"] == 2


def test_a_stale_save_is_a_conflict_with_a_clear_message(login, svc):
    first, second = login("analyst"), login("analyst2")
    draft_id = open_draft(first)
    assert save(first, draft_id, due_days(BPMN, 4), 0).status_code == 200
    response = save(second, draft_id, due_days(BPMN, 8), 0)
    assert response.status_code == 409
    assert "已被其他人儲存" in response.get_json()["message"]
    with reading(svc.sessions) as s:
        assert b'name="dueDays" value="4"' in s.get(DefinitionDraft, draft_id).bpmn_xml


def test_saving_without_the_csrf_token_is_refused(login, svc):
    analyst = login("analyst")
    draft_id = open_draft(analyst)
    response = analyst.http.post(f"/studio/drafts/{draft_id}", json={"bpmn": due_days(BPMN, 9), "revision": 0})
    assert response.status_code == 400
    with reading(svc.sessions) as s:
        assert s.get(DefinitionDraft, draft_id).revision == 0


def test_a_bad_save_request_is_refused_without_changing_the_draft(login, svc):
    analyst = login("analyst")
    draft_id = open_draft(analyst)
    response = analyst.api("POST", f"/studio/drafts/{draft_id}", json={"bpmn": BPMN})
    assert response.status_code == 400 and response.get_json()["message"]
    assert save(login("tb.clerk"), draft_id, BPMN, 0).status_code == 403
    with reading(svc.sessions) as s:
        assert s.get(DefinitionDraft, draft_id).revision == 0


def test_form_edits_are_checked_previewed_and_kept_in_the_draft(login, svc):
    analyst = login("analyst")
    draft_id = open_draft(analyst)
    page = analyst.get(f"/studio/drafts/{draft_id}/forms/lvp_intake").get_data(as_text=True)
    definition = json.loads(re.search(r'id="form-editor-data">(.*?)</script>', page, re.S).group(1))["definition"]
    assert definition == json.loads((ROOT / "forms" / "lvp_intake.json").read_text(encoding="utf-8"))

    broken = {**definition, "schema": {**definition["schema"], "properties": {"x": {"type": "nope"}}}}
    refused = analyst.api("POST", f"/studio/drafts/{draft_id}/forms/lvp_intake",
                          json={"definition": broken, "revision": 0})
    assert refused.status_code == 400 and refused.get_json()["problems"]

    definition["schema"]["properties"]["note"] = {"type": "string", "title": "收件備註", "maxLength": 200}
    no_english = analyst.api("POST", f"/studio/drafts/{draft_id}/forms/lvp_intake/preview",
                             json={"definition": definition})
    assert no_english.status_code == 400 and "note: missing ui:title_en" in no_english.get_json()["problems"]
    definition["ui"]["note"] = {"ui:title_en": "Intake note"}
    if "ui:order" in definition["ui"]:
        definition["ui"]["ui:order"].append("note")
    preview = analyst.api("POST", f"/studio/drafts/{draft_id}/forms/lvp_intake/preview",
                          json={"definition": definition, "audience": "applicant"})
    assert preview.status_code == 200 and "收件備註" in preview.get_data(as_text=True)
    assert 'name="note"' in preview.get_data(as_text=True)
    saved = analyst.api("POST", f"/studio/drafts/{draft_id}/forms/lvp_intake",
                        json={"definition": definition, "revision": 0})
    assert saved.status_code == 200 and saved.get_json()["revision"] == 1
    with reading(svc.sessions) as s:
        assert "note" in s.get(DefinitionDraft, draft_id).forms["lvp_intake"]["schema"]["properties"]


def test_publishing_takes_a_second_person_and_running_cases_keep_their_version(login, svc):
    running = start(svc)
    author = login("analyst")
    draft_id = open_draft(author)
    save(author, draft_id, due_days(BPMN, 7), 0)
    author.post(f"/studio/drafts/{draft_id}/submit", data={"revision": 1})
    review = author.get(f"/studio/drafts/{draft_id}/review").get_data(as_text=True)
    assert "核准並發布" not in review and "等待另一位業務分析人員或管理者核准" in review
    refused = author.post(f"/studio/drafts/{draft_id}/publish", follow_redirects=True)
    assert "不能核准自己編修的草稿" in refused.get_data(as_text=True)
    approver = login("analyst2")
    page = approver.get(f"/studio/drafts/{draft_id}/review").get_data(as_text=True)
    assert "核准並發布" in page and 'data-element="intake"' in page
    assert approver.post(f"/studio/drafts/{draft_id}/publish").status_code == 302
    with reading(svc.sessions) as s:
        versions = s.execute(select(Definition.version, Definition.approved_by)
                             .where(Definition.service_key == "large_vehicle_permit")
                             .order_by(Definition.version)).all()
        assert [v.version for v in versions] == [1, 2] and versions[1].approved_by
        assert s.get(Case, running.case_id).definition_id == s.scalar(
            select(Definition.id).where(Definition.version == 1, Definition.service_key == "large_vehicle_permit"))


def test_versions_page_shows_what_changed(login):
    publish(login, due_days(BPMN, 7).replace('name="核定"', 'name="核定（新版）"'))
    page = login("analyst").get("/studio/services/large_vehicle_permit/versions?from=1&to=2").get_data(as_text=True)
    assert 'data-element="intake" data-change="changed"' in page
    assert 'data-element="decide" data-change="changed"' in page
    assert "dueDays" in page


def test_running_cases_move_to_a_new_version_after_a_dry_run(login, svc):
    waiting = start(svc)
    publish(login, due_days(BPMN, 7))
    analyst = login("analyst")
    page = analyst.get("/studio/services/large_vehicle_permit/migration").get_data(as_text=True)
    with reading(svc.sessions) as s:
        number = s.get(Case, waiting.case_id).number
        task_before = s.scalar(select(HumanTask.id).where(HumanTask.case_id == waiting.case_id,
                                                            HumanTask.status == "open"))
    assert f'data-case="{number}" data-movable="yes"' in page
    with reading(svc.sessions) as s:
        assert s.get(Case, waiting.case_id).definition_id == 1
    response = analyst.post("/studio/services/large_vehicle_permit/migration",
                            data={"to": 2, "case": waiting.case_id}, follow_redirects=True)
    assert "已移轉 1 件案件到第 2 版" in response.get_data(as_text=True)
    with reading(svc.sessions) as s:
        case = s.get(Case, waiting.case_id)
        assert s.get(Definition, case.definition_id).version == 2
        task = s.scalar(select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.status == "open"))
        assert task.id == task_before
        assert s.scalar(select(AuditEvent.detail).where(AuditEvent.action == "case.migrate",
                                                        AuditEvent.case_id == case.id))["version"] == 2


def test_a_draft_test_runs_with_sample_answers_and_chosen_ones_change_the_path(login, svc):
    analyst = login("analyst")
    draft_id = open_draft(analyst)
    samples = analyst.get(f"/studio/drafts/{draft_id}/samples").get_json()
    assert set(samples["answers"]) >= {"intake", "cosign", "decide"}
    assert samples["service_results"]["find_police"]

    run = analyst.api("POST", f"/studio/drafts/{draft_id}/test-run", json=samples).get_json()
    assert run["outcome"] == "completed" and run["outcome_label"] == "已走到結束事件"
    assert run["path"][0] == "submitted" and run["end_event"] in {"end_approved", "end_rejected", "end_not_accepted"}

    rejected = analyst.api("POST", f"/studio/drafts/{draft_id}/test-run", json={
        **samples, "answers": {**samples["answers"], "intake": {"decision": "reject", "reason": "路線不明"}}})
    body = rejected.get_json()
    assert body["outcome"] == "completed" and body["end_event"] == "end_not_accepted"
    assert "cosign" not in body["path"]
    approved = analyst.api("POST", f"/studio/drafts/{draft_id}/test-run", json={
        **samples, "answers": {**samples["answers"], "intake": {**samples["answers"]["intake"], "decision": "cosign"},
                               "decide": {**samples["answers"]["decide"], "decision": "approve"}}}).get_json()
    assert approved["end_event"] == "end_approved" and "issue_permit" in approved["path"]
    with reading(svc.sessions) as s:
        assert s.scalar(select(Case.id)) is None


def test_a_test_run_reports_invalid_answers_on_their_task(login):
    analyst = login("analyst")
    draft_id = open_draft(analyst)
    samples = analyst.get(f"/studio/drafts/{draft_id}/samples").get_json()
    body = analyst.api("POST", f"/studio/drafts/{draft_id}/test-run", json={
        **samples, "answers": {**samples["answers"], "intake": {"decision": "maybe"}}}).get_json()
    assert body["outcome"] == "failed"
    assert [p["element"] for p in body["problems"]] == ["intake"]
    assert analyst.api("POST", f"/studio/drafts/{draft_id}/test-run", json={"answers": []}).status_code == 400


def test_an_import_lists_what_cannot_run_and_becomes_a_draft(login, svc):
    analyst = login("analyst")
    data = (ROOT / "tests" / "engine" / "studio" / "data" / "import_camunda7_permit.bpmn").read_bytes()
    response = analyst.post("/studio/import", data={"service": "large_vehicle_permit",
                                                    "file": (io.BytesIO(data), "permit.bpmn")},
                            content_type="multipart/form-data")
    assert response.status_code == 302
    page = analyst.get(response.headers["Location"]).get_data(as_text=True)
    with reading(svc.sessions) as s:
        draft = s.scalar(select(DefinitionDraft).where(DefinitionDraft.source == "import"))
        assert draft.author_id and b"camunda.org/schema" not in draft.bpmn_xml
        unsupported = [r for r in draft.import_report if r["kind"] == "unsupported"]
    assert unsupported and all(r["element"] for r in unsupported)
    assert unsupported[0]["element"] in page


@pytest.mark.parametrize("payload", [
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>',
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;">]>'
    b'<l>&c;</l>',
])
def test_hostile_uploads_are_refused_with_a_clear_message(login, svc, payload):
    analyst = login("analyst")
    response = analyst.post("/studio/import", data={"service": "large_vehicle_permit",
                                                    "file": (io.BytesIO(payload), "x.bpmn")},
                            content_type="multipart/form-data", follow_redirects=True)
    text = response.get_data(as_text=True)
    assert "基於安全理由拒絕匯入" in text and "root:" not in text
    with reading(svc.sessions) as s:
        assert s.scalar(select(DefinitionDraft.id)) is None


def test_an_oversized_upload_is_refused(login, svc):
    analyst = login("analyst")
    big = b"<a>" + b" " * (3 * 1024 * 1024) + b"</a>"
    response = analyst.post("/studio/import", data={"service": "large_vehicle_permit",
                                                    "file": (io.BytesIO(big), "big.bpmn")},
                            content_type="multipart/form-data", follow_redirects=True)
    assert "2 MB" in response.get_data(as_text=True)
    with reading(svc.sessions) as s:
        assert s.scalar(select(DefinitionDraft.id)) is None


def test_a_saved_form_keeps_its_fields_in_the_order_written(login):
    analyst = login("analyst")
    draft_id = open_draft(analyst)
    form = json.loads((ROOT / "forms" / "lvp_intake.json").read_text(encoding="utf-8"))
    form["ui"].pop("ui:order", None)
    properties = form["schema"]["properties"]
    # neither alphabetical nor by key length (JSONB's order)
    form["schema"]["properties"] = {"decision": properties["decision"],
                                    "correction_note": properties["correction_note"], "reason": properties["reason"]}
    body = json.dumps({"definition": form, "revision": 0}, ensure_ascii=False)  # in order, as a browser sends it
    saved = analyst.http.post(f"/studio/drafts/{draft_id}/forms/lvp_intake", data=body.encode(),
                              content_type="application/json", headers={"X-CSRFToken": analyst.csrf()})
    assert saved.status_code == 200
    page = analyst.get(f"/studio/drafts/{draft_id}/forms/lvp_intake").get_data(as_text=True)
    kept = json.loads(re.search(r'id="form-editor-data">(.*?)</script>', page, re.S).group(1))["definition"]
    assert list(kept["schema"]["properties"]) == ["decision", "correction_note", "reason"]


def test_migration_moves_cases_at_several_stages_but_never_one_mid_co_signing_that_changed(login, svc):
    from .flow import submit_application, work

    company, clerk = login("company"), login("tb.clerk")
    at_intake, _ = submit_application(company)
    at_cosign, cosign_number = submit_application(company)
    work(clerk, cosign_number, decision="cosign")
    work(login("police.yk"), cosign_number, opinion="agree")
    at_decide, decide_number = submit_application(company)
    work(clerk, decide_number, decision="cosign")
    work(login("police.yk"), decide_number, opinion="agree")
    work(login("police.sh"), decide_number, opinion="agree")

    cosign_three_to_two = BPMN.replace(
        '<spiffworkflow:property name="agency" value="unit" />\n          <spiffworkflow:property name="dueDays" value="3" />',
        '<spiffworkflow:property name="agency" value="unit" />\n          <spiffworkflow:property name="dueDays" value="2" />')
    assert cosign_three_to_two != BPMN
    publish(login, cosign_three_to_two)

    analyst = login("analyst")
    page = analyst.get("/studio/services/large_vehicle_permit/migration").get_data(as_text=True)
    with reading(svc.sessions) as s:
        numbers = {case_id: s.get(Case, case_id).number for case_id in (at_intake, at_cosign, at_decide)}
    assert f'data-case="{numbers[at_intake]}" data-movable="yes"' in page
    assert f'data-case="{numbers[at_decide]}" data-movable="yes"' in page
    assert f'data-case="{numbers[at_cosign]}" data-movable="no"' in page
    assert "會辦進行中" in page

    moved = analyst.post("/studio/services/large_vehicle_permit/migration",
                         data={"to": 2, "case": [at_intake, at_cosign, at_decide]}, follow_redirects=True)
    text = moved.get_data(as_text=True)
    assert "已移轉 2 件案件到第 2 版" in text and f"{numbers[at_cosign]} 未移轉" in text
    with reading(svc.sessions) as s:
        versions = {case_id: s.get(Definition, s.get(Case, case_id).definition_id).version
                    for case_id in numbers}
        assert versions == {at_intake: 2, at_cosign: 1, at_decide: 2}
        migrated = s.scalars(select(AuditEvent.case_id).where(AuditEvent.action == "case.migrate")).all()
        assert sorted(migrated) == sorted([at_intake, at_decide])

    # The moved cases go on under the new version; the one left behind finishes under its own.
    work(clerk, decide_number, decision="approve", conditions="應依核准路線行駛。")
    work(login("police.sh"), cosign_number, opinion="agree")
    with reading(svc.sessions) as s:
        assert s.get(Case, at_decide).outcome == "approved"
        assert [t.name for t in s.scalars(select(HumanTask).where(
            HumanTask.case_id == at_cosign, HumanTask.status == "open"))] == ["核定"]
