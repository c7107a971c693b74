"""Drafts in the studio: saved with their check report, guarded, submitted and published by four eyes."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.access import Actor
from engine.db import reading
from engine.errors import CaseConflict, DeploymentError, Forbidden, InvalidInput, NotFound
from engine.models import AuditEvent, Case, Definition, DefinitionDraft, User
from engine.studio.drafts import Studio
from tests.engine.test_cases import application, start, uploads, with_uploads
from webapp import services

BPMN = (Path(__file__).resolve().parents[3] / "bpmn" / "large_vehicle_permit.bpmn").read_bytes()


@pytest.fixture
def svc(app):
    with app.app_context():
        yield services.get()


@pytest.fixture
def studio(svc):
    return Studio(svc.engine)


def actor(svc, username: str) -> Actor:
    with reading(svc.sessions) as s:
        return Actor.from_user(s.scalar(select(User).where(User.username == username)))


def versions(svc) -> list[int]:
    with reading(svc.sessions) as s:
        return list(s.scalars(select(Definition.version).where(Definition.service_key == "large_vehicle_permit")
                              .order_by(Definition.version)))


def stored(svc, draft_id: str) -> DefinitionDraft:
    with reading(svc.sessions) as s:
        draft = s.get(DefinitionDraft, draft_id)
        draft.bpmn_xml  # noqa: B018 - load the deferred column before the session closes
        return draft


def with_due_days(bpmn: bytes, days: int) -> bytes:
    return re.sub(rb'(<bpmn:userTask id="intake".*?name="dueDays" value=")\d+', rb"\g<1>" + str(days).encode(),
                  bpmn, count=1, flags=re.S)


def test_a_draft_starts_as_the_published_version_with_a_clean_report(svc, studio):
    draft_id = studio.open_draft(actor(svc, "analyst"), "large_vehicle_permit")
    draft = stored(svc, draft_id)
    assert draft.bpmn_xml == BPMN and draft.problems == [] and draft.status == "editing"
    assert versions(svc) == [1]


def test_saving_keeps_the_diagram_and_reports_problems_on_their_elements(svc, studio):
    analyst = actor(svc, "analyst")
    draft_id = studio.open_draft(analyst, "large_vehicle_permit")
    no_role = BPMN.replace(b'name="traffic_clerk"', b'name="traffic_desk"')
    saved = studio.save(analyst, draft_id, no_role, revision=0)
    elements = {p.element for p in saved.problems}
    assert {"intake", "decide"} <= elements
    assert all("traffic_desk" in p.text() for p in saved.problems)
    draft = stored(svc, draft_id)
    assert draft.bpmn_xml == no_role and draft.revision == 1 and len(draft.problems) == len(saved.problems)
    fixed = studio.save(analyst, draft_id, with_due_days(BPMN, 5), revision=1)
    assert fixed.problems == () and stored(svc, draft_id).problems == []


def test_a_diagram_that_does_not_parse_is_still_kept(svc, studio):
    analyst = actor(svc, "analyst")
    draft_id = studio.open_draft(analyst, "large_vehicle_permit")
    broken = BPMN[: len(BPMN) // 2]
    saved = studio.save(analyst, draft_id, broken, revision=0)
    assert len(saved.problems) == 1 and saved.problems[0].element is None
    assert "無法解析" in saved.problems[0].text()
    assert stored(svc, draft_id).bpmn_xml == broken


def test_a_save_over_someone_elses_save_is_a_conflict_and_changes_nothing(svc, studio):
    first, second = actor(svc, "analyst"), actor(svc, "analyst2")
    draft_id = studio.open_draft(first, "large_vehicle_permit")
    studio.save(first, draft_id, with_due_days(BPMN, 4), revision=0)
    with pytest.raises(CaseConflict):
        studio.save(second, draft_id, with_due_days(BPMN, 9), revision=0)
    draft = stored(svc, draft_id)
    assert draft.revision == 1 and b'name="dueDays" value="4"' in draft.bpmn_xml
    assert second.user_id not in draft.editors


def test_only_analysts_open_and_save_drafts_and_others_do_not_see_them(svc, studio):
    clerk = actor(svc, "tb.clerk")
    with pytest.raises(Forbidden):
        studio.open_draft(clerk, "large_vehicle_permit")
    draft_id = studio.open_draft(actor(svc, "analyst"), "large_vehicle_permit")
    with reading(svc.sessions) as s, pytest.raises(NotFound):
        studio.draft(s, clerk, draft_id)
    with pytest.raises(NotFound):
        studio.save(clerk, draft_id, BPMN, revision=0)
    assert stored(svc, draft_id).revision == 0


def test_publishing_needs_a_clean_report_and_a_second_person(svc, studio):
    author, other, admin = actor(svc, "analyst"), actor(svc, "analyst2"), actor(svc, "admin")
    draft_id = studio.open_draft(author, "large_vehicle_permit")
    studio.save(author, draft_id, BPMN.replace(b'value="lvp_intake"', b'value="lvp_nothing"'), revision=0)
    with pytest.raises(InvalidInput):
        studio.submit(author, draft_id, revision=1)
    studio.save(author, draft_id, with_due_days(BPMN, 6), revision=1)
    studio.submit(author, draft_id, revision=2)
    with pytest.raises(CaseConflict):
        studio.save(author, draft_id, BPMN, revision=3)
    with pytest.raises(Forbidden):
        studio.publish(author, draft_id)
    assert versions(svc) == [1]
    definition = studio.publish(other, draft_id)
    assert (definition.version, definition.created_by, definition.approved_by) == (2, author.user_id, other.user_id)
    assert versions(svc) == [1, 2]
    assert stored(svc, draft_id).status == "published"
    with pytest.raises(CaseConflict):
        studio.publish(admin, draft_id)


def test_an_editor_of_the_draft_cannot_approve_it_but_an_admin_can(svc, studio):
    author, helper, admin = actor(svc, "analyst"), actor(svc, "analyst2"), actor(svc, "admin")
    draft_id = studio.open_draft(author, "large_vehicle_permit")
    studio.save(helper, draft_id, with_due_days(BPMN, 3), revision=0)
    studio.submit(author, draft_id, revision=1)
    with pytest.raises(Forbidden):
        studio.publish(helper, draft_id)
    assert studio.publish(admin, draft_id).approved_by == admin.user_id


def test_a_returned_draft_can_be_edited_again_with_the_approvers_note(svc, studio):
    author, other = actor(svc, "analyst"), actor(svc, "analyst2")
    draft_id = studio.open_draft(author, "large_vehicle_permit")
    studio.submit(author, draft_id, revision=0)
    studio.withdraw(other, draft_id, note="期限請改為 3 天")
    draft = stored(svc, draft_id)
    assert (draft.status, draft.review_note, draft.reviewed_by) == ("editing", "期限請改為 3 天", other.user_id)
    studio.save(author, draft_id, with_due_days(BPMN, 3), revision=draft.revision)


def test_new_cases_start_on_the_published_version_and_running_ones_keep_theirs(svc, studio):
    running = start(svc)
    author, other = actor(svc, "analyst"), actor(svc, "analyst2")
    draft_id = studio.open_draft(author, "large_vehicle_permit")
    studio.save(author, draft_id, with_due_days(BPMN, 9), revision=0)
    studio.submit(author, draft_id, revision=1)
    published = studio.publish(other, draft_id)
    fresh = start(svc)
    with reading(svc.sessions) as s:
        assert s.get(Case, running.case_id).definition_id != published.id
        assert s.get(Case, fresh.case_id).definition_id == published.id


def test_an_edited_form_is_checked_and_runs_with_the_version_it_was_published_in(svc, studio):
    author, other = actor(svc, "analyst"), actor(svc, "analyst2")
    draft_id = studio.open_draft(author, "large_vehicle_permit")
    with reading(svc.sessions) as s:
        form = studio.forms_of(studio.draft(s, author, draft_id)).raw("lvp_application")
    broken = {**form, "schema": {**form["schema"], "type": "nonsense"}}
    with pytest.raises(InvalidInput) as refused:
        studio.save_form(author, draft_id, "lvp_application", broken, revision=0)
    assert refused.value.errors["definition"]
    assert stored(svc, draft_id).forms == {} and stored(svc, draft_id).revision == 0

    schema = form["schema"]
    form["schema"] = {**schema, "required": [*schema.get("required", []), "remark"],
                      "properties": {**schema["properties"], "remark": {"type": "string", "title": "備註", "minLength": 1}}}
    form["ui"] = {**form.get("ui", {}), "remark": {"ui:title_en": "Remark"},
                  "ui:order": [*form.get("ui", {}).get("ui:order", list(schema["properties"])), "remark"]}
    studio.save_form(author, draft_id, "lvp_application", form, revision=0)
    studio.submit(author, draft_id, revision=0)
    studio.publish(other, draft_id)

    data = with_uploads(application(svc))
    with pytest.raises(InvalidInput) as missing:
        svc.engine.start_case(actor(svc, "company"), "large_vehicle_permit", data, uploads=uploads())
    assert "remark" in missing.value.errors
    done = svc.engine.start_case(actor(svc, "company"), "large_vehicle_permit", {**data, "remark": "夜間施工"},
                                 uploads=uploads())
    assert done.status == "open"


def test_publishing_rechecks_the_draft(svc, studio):
    author, other = actor(svc, "analyst"), actor(svc, "analyst2")
    draft_id = studio.open_draft(author, "large_vehicle_permit")
    studio.submit(author, draft_id, revision=0)
    strict = Studio(svc.engine, roles={"applicant"})
    with pytest.raises(DeploymentError):
        strict.publish(other, draft_id)
    assert versions(svc) == [1]


def test_every_studio_command_is_audited(svc, studio):
    author, other = actor(svc, "analyst"), actor(svc, "analyst2")
    draft_id = studio.open_draft(author, "large_vehicle_permit")
    studio.save(author, draft_id, with_due_days(BPMN, 4), revision=0)
    studio.submit(author, draft_id, revision=1)
    studio.publish(other, draft_id)
    with reading(svc.sessions) as s:
        actions = s.execute(select(AuditEvent.action, AuditEvent.actor_id)
                            .where(AuditEvent.action.like("studio.%")).order_by(AuditEvent.id)).all()
        assert [tuple(a) for a in actions] == [
            ("studio.draft_open", author.user_id), ("studio.save", author.user_id),
            ("studio.submit", author.user_id), ("studio.publish", other.user_id)]
        assert s.scalar(select(func.count()).select_from(DefinitionDraft)) == 1


def test_a_form_and_the_diagram_are_saved_apart_but_one_form_edit_cannot_overwrite_another(svc, studio):
    first, second = actor(svc, "analyst"), actor(svc, "analyst2")
    draft_id = studio.open_draft(first, "large_vehicle_permit")
    with reading(svc.sessions) as s:
        form = studio.forms_of(studio.draft(s, first, draft_id)).raw("lvp_intake")
    studio.save_form(first, draft_id, "lvp_intake", {**form, "title": "收件審查（新）"}, revision=0)
    studio.save(second, draft_id, with_due_days(BPMN, 4), revision=0)
    with pytest.raises(CaseConflict):
        studio.save_form(second, draft_id, "lvp_intake", {**form, "title": "收件"}, revision=0)
    draft = stored(svc, draft_id)
    assert draft.forms["lvp_intake"]["title"] == "收件審查（新）"
    assert b'name="dueDays" value="4"' in draft.bpmn_xml
    assert (draft.revision, draft.forms_revision) == (1, 1)
