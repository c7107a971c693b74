"""Comparing definition versions and moving running permit cases onto a new one."""
from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest
from SpiffWorkflow.util.task import TaskState
from werkzeug.datastructures import MultiDict

from engine.errors import CaseConflict
from engine.forms import FormRegistry
from engine.studio.versions import (
    CASE_FINISHED,
    DEADLINE_CHANGED,
    FORM_CONTENT_CHANGED,
    HISTORY_REMOVED,
    HISTORY_RESHAPED,
    REGION_CHANGED,
    STEP_ADDED,
    WAITING_REBOUND,
    WAITING_REMOVED,
    WAITING_RETYPED,
    ElementChange,
    FormChange,
    MigrationRefused,
    diff_definitions,
    migrate_state,
    plan_case,
)
from engine.workflow import (
    RestrictedScriptEngine,
    dump_state,
    load_state,
    new_workflow,
    parse_definition,
    ready_user_tasks,
    task_properties,
    user_task_changes,
)
from tests.factories import application_form

ROOT = Path(__file__).resolve().parents[3]
BPMN = (ROOT / "bpmn" / "large_vehicle_permit.bpmn").read_bytes()
PARALLEL = (Path(__file__).parent / "data" / "versions_parallel.bpmn").read_bytes()
FORMS = ROOT / "forms"
POLICE_UNITS = ["TNPD-XS", "TNPD-YK"]
STAGES = ["intake", "correction", "mid_cosign", "decide"]


# -- diagrams -----------------------------------------------------------------


def edited(source: bytes, *replacements: tuple[str, str]) -> bytes:
    """``source`` with each (old, new) applied; every ``old`` must occur exactly once."""
    text = source.decode()
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text.encode()


def with_legal_review() -> bytes:
    """A user task 法制審查 between the approval branch of 核定 and issuing the permit."""
    return edited(
        BPMN,
        ('<bpmn:sequenceFlow id="f_approved" name="核准" sourceRef="gw_decision" targetRef="issue_permit">',
         '<bpmn:sequenceFlow id="f_approved" name="核准" sourceRef="gw_decision" targetRef="legal_review">'),
        ('<bpmn:sequenceFlow id="f_issued"',
         '<bpmn:sequenceFlow id="f_reviewed" sourceRef="legal_review" targetRef="issue_permit" />\n'
         '    <bpmn:sequenceFlow id="f_issued"'),
        ('<bpmn:flowNodeRef>issue_permit</bpmn:flowNodeRef>',
         '<bpmn:flowNodeRef>legal_review</bpmn:flowNodeRef><bpmn:flowNodeRef>issue_permit</bpmn:flowNodeRef>'),
        ('    <bpmn:serviceTask id="issue_permit"', """    <bpmn:userTask id="legal_review" name="法制審查">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formKey" value="lvp_cosign" />
          <spiffworkflow:property name="agency" value="'TB'" />
          <spiffworkflow:property name="resultKey" value="legal_opinion" />
          <spiffworkflow:property name="dueDays" value="3" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f_approved</bpmn:incoming>
      <bpmn:outgoing>f_reviewed</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:serviceTask id="issue_permit\""""),
    )


INTAKE_DUE = ('<spiffworkflow:property name="formKey" value="lvp_intake" />\n'
              '          <spiffworkflow:property name="agency" value="\'TB\'" />\n'
              '          <spiffworkflow:property name="dueDays" value="2" />')


def with_intake_due(days: int) -> bytes:
    return edited(BPMN, (INTAKE_DUE, INTAKE_DUE.replace('value="2"', f'value="{days}"')))


def without_intake() -> bytes:
    """收件審查 deleted: the police lookup leads straight to the intake gateway."""
    start = BPMN.index(b'    <bpmn:userTask id="intake"')
    end = BPMN.index(b"</bpmn:userTask>", start) + len(b"</bpmn:userTask>\n")
    return edited(
        BPMN[:start] + BPMN[end:],
        ("<bpmn:flowNodeRef>intake</bpmn:flowNodeRef>", ""),
        ('<bpmn:sequenceFlow id="f_to_intake" sourceRef="find_police" targetRef="intake" />',
         '<bpmn:sequenceFlow id="f_to_intake" sourceRef="find_police" targetRef="gw_intake" />'),
        ('<bpmn:sequenceFlow id="f_to_gw_intake" sourceRef="intake" targetRef="gw_intake" />', ""),
        ("<bpmn:incoming>f_to_gw_intake</bpmn:incoming>", "<bpmn:incoming>f_to_intake</bpmn:incoming>"),
        ('<bpmndi:BPMNShape id="intake_di" bpmnElement="intake"><dc:Bounds x="410" y="230" width="120" '
         'height="80" /></bpmndi:BPMNShape>', ""),
    )


def with_cosign_collection() -> bytes:
    """The co-signing units come from another variable."""
    return edited(
        BPMN,
        ('resultVariable="cosign_units"', 'resultVariable="police_units"'),
        ("<bpmn:loopDataInputRef>cosign_units</bpmn:loopDataInputRef>",
         "<bpmn:loopDataInputRef>police_units</bpmn:loopDataInputRef>"),
    )


def with_cosign_summary() -> bytes:
    """A second task in the co-signing branch: 彙整會辦意見 after the police co-signing."""
    return edited(
        BPMN,
        ('<bpmn:sequenceFlow id="f_cosigned" sourceRef="cosign" targetRef="decide" />',
         '<bpmn:sequenceFlow id="f_cosigned" sourceRef="cosign" targetRef="summarise" />\n'
         '    <bpmn:sequenceFlow id="f_summarised" sourceRef="summarise" targetRef="decide" />'),
        ("<bpmn:incoming>f_cosigned</bpmn:incoming>", "<bpmn:incoming>f_summarised</bpmn:incoming>"),
        ('    <bpmn:userTask id="decide"', """    <bpmn:userTask id="summarise" name="彙整會辦意見">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formKey" value="lvp_cosign" />
          <spiffworkflow:property name="resultKey" value="summary" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f_cosigned</bpmn:incoming>
      <bpmn:outgoing>f_summarised</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:userTask id="decide\""""),
    )


DECIDE_DUE = ('<spiffworkflow:property name="formKey" value="lvp_decision" />\n'
              '          <spiffworkflow:property name="agency" value="\'TB\'" />\n'
              '          <spiffworkflow:property name="dueDays" value="2" />')


def with_decide_due(days: int) -> bytes:
    return edited(BPMN, (DECIDE_DUE, DECIDE_DUE.replace('value="2"', f'value="{days}"')))


INTAKE_REMINDER = ('    <bpmn:exclusiveGateway id="gw_intake"', """    <bpmn:boundaryEvent id="intake_reminder" name="收件提醒" cancelActivity="false" attachedToRef="intake">
      <bpmn:outgoing>f_remind</bpmn:outgoing>
      <bpmn:timerEventDefinition id="intake_reminder_timer">
        <bpmn:timeDuration>"P1D"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="end_reminded" name="已提醒"><bpmn:incoming>f_remind</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f_remind" sourceRef="intake_reminder" targetRef="end_reminded" />
    <bpmn:exclusiveGateway id="gw_intake\"""")


def with_intake_reminder(source: bytes = BPMN) -> bytes:
    """A non-interrupting timer on 收件審查 a day after it opens."""
    return edited(source, INTAKE_REMINDER)


def raw_form(key: str) -> dict:
    return json.loads((FORMS / f"{key}.json").read_text(encoding="utf-8"))


def permit_forms() -> dict[str, dict]:
    return {key: raw_form(key) for key in ("lvp_application", "lvp_intake", "lvp_cosign", "lvp_decision")}


def decision_form_with_validity() -> dict[str, dict]:
    """The decision form asks how long the permit is valid, and allows longer reasons."""
    forms = permit_forms()
    schema = forms["lvp_decision"]["schema"]
    schema["properties"]["valid_months"] = {"type": "integer", "title": "有效月數", "minimum": 1}
    schema["properties"]["reason"]["maxLength"] = 4000
    return forms


# -- cases, driven the way engine/cases.py drives them -----------------------------


def handler_call(operation: str, params: dict, data: dict):
    if operation == "directory.police_for_districts":
        assert params["districts"] == ["新市區", "永康區"]
        return list(POLICE_UNITS)
    if operation == "permit.issue":
        return {"number": "TB-P-0001", "conditions": params["conditions"]}
    raise AssertionError(f"unexpected handler {operation}")


def engine() -> RestrictedScriptEngine:
    return RestrictedScriptEngine(handler_call)


def application() -> dict:
    fields = application_form()
    form = FormRegistry(FORMS).get("lvp_application")
    return form.parse(MultiDict([(k, v) for k, vs in fields.items() for v in (vs if isinstance(vs, list) else [vs])]))


APPLICATION = application()


def run(workflow) -> None:
    workflow.do_engine_steps()
    workflow.refresh_waiting_tasks()
    workflow.do_engine_steps()


def start(parsed) -> dict:
    workflow = new_workflow(parsed, engine())
    workflow.task_tree.data.update({"application": copy.deepcopy(APPLICATION), "previous": None})
    run(workflow)
    return dump_state(workflow)


def ready(state: dict, parsed) -> list[tuple[str, str]]:
    """(element, task id) of each READY user task."""
    workflow = load_state(state, parsed, engine())
    return [(t.task_spec.bpmn_id, str(t.id)) for t in ready_user_tasks(workflow)]


def complete(state: dict, parsed, element: str, answers: dict) -> dict:
    """Complete the first READY user task of ``element`` with form ``answers``."""
    workflow = load_state(state, parsed, engine())
    task = next(t for t in ready_user_tasks(workflow) if t.task_spec.bpmn_id == element)
    result_key = task_properties(task).get("resultKey")
    if result_key:
        task.data[result_key] = answers
    else:
        task.data.update(answers)
    task.run()
    run(workflow)
    return dump_state(workflow)


def case_at(parsed, stage: str) -> dict:
    state = start(parsed)
    if stage == "intake":
        return state
    if stage == "correction":
        return complete(state, parsed, "intake", {"decision": "correction", "correction_note": "請補路線圖"})
    state = complete(state, parsed, "intake", {"decision": "cosign"})
    state = complete(state, parsed, "cosign", {"opinion": "agree"})
    if stage == "mid_cosign":
        return state
    state = complete(state, parsed, "cosign", {"opinion": "agree"})
    if stage == "decide":
        return state
    assert stage == "completed"
    return complete(state, parsed, "decide", {"decision": "approve", "conditions": "依核准路線行駛"})


def final_data(state: dict, parsed) -> dict:
    workflow = load_state(state, parsed, engine())
    assert workflow.is_completed()
    return workflow.data


@pytest.fixture(scope="module")
def v1():
    return parse_definition(BPMN)


# -- the diff -----------------------------------------------------------------------


def test_unchanged_diagram_and_forms_give_an_empty_diff(v1):
    diff = diff_definitions(v1, parse_definition(BPMN), permit_forms(), permit_forms())
    assert diff.empty
    assert diff.elements == () and diff.forms == ()


def test_an_added_step_is_listed_with_the_elements_rewired_around_it(v1):
    diff = diff_definitions(v1, parse_definition(with_legal_review()))
    assert diff.elements == (
        ElementChange("legal_review", "法制審查", "userTask", "added"),
        ElementChange("gw_decision", "核定結果", "exclusiveGateway", "changed", ("flow",)),
        ElementChange("issue_permit", "核發通行證", "serviceTask", "changed", ("flow",)),
    )
    assert diff.forms == ()  # lvp_cosign was already in use


def test_a_removed_step_is_listed_and_internal_specs_never_are(v1):
    diff = diff_definitions(v1, parse_definition(without_intake()))
    assert [(c.element, c.kind, c.change, c.details) for c in diff.elements] == [
        ("intake", "userTask", "removed", ()),
        ("find_police", "serviceTask", "changed", ("flow",)),
        ("gw_intake", "exclusiveGateway", "changed", ("flow",)),
    ]
    assert [f.key for f in diff.forms] == ["lvp_intake"]
    assert diff.forms[0].change == "removed"
    names = {c.element for c in diff_definitions(v1, parse_definition(with_cosign_summary())).elements}
    assert not {"Start", "End", "lvp_permit.EndJoin", "cosign [child]"} & names


def test_changed_settings_are_named_in_the_analysts_vocabulary(v1):
    new = parse_definition(edited(
        BPMN,
        (INTAKE_DUE, INTAKE_DUE.replace('value="2"', 'value="3"').replace("'TB'", "'TB2'")),
        ('<bpmn:userTask id="intake" name="收件審查">', '<bpmn:userTask id="intake" name="收件初審">'),
        ("<bpmn:conditionExpression>decision == 'reject'</bpmn:conditionExpression>",
         "<bpmn:conditionExpression>decision in ('reject', 'withdrawn')</bpmn:conditionExpression>"),
        ("<bpmn:script>outcome = 'approved'</bpmn:script>", "<bpmn:script>outcome = 'issued'</bpmn:script>"),
        ('<spiffworkflow:parameter id="conditions" type="str" value="conditions" />',
         '<spiffworkflow:parameter id="conditions" type="str" value="conditions.strip()" />'),
        ("<bpmn:flowNodeRef>cosign</bpmn:flowNodeRef>", ""),
        ("<bpmn:flowNodeRef>decide</bpmn:flowNodeRef>",
         "<bpmn:flowNodeRef>decide</bpmn:flowNodeRef><bpmn:flowNodeRef>cosign</bpmn:flowNodeRef>"),
        ('<spiffworkflow:property name="resultKey" value="cosign_result" />',
         '<spiffworkflow:property name="resultKey" value="cosign_result" />\n'
         '          <spiffworkflow:property name="instructions" value="cosign_note" />'),
        ("<bpmn:loopDataInputRef>cosign_units</bpmn:loopDataInputRef>",
         "<bpmn:loopDataInputRef>cosign_agencies</bpmn:loopDataInputRef>"),
    ))
    changed = {c.element: c for c in diff_definitions(v1, new).elements}
    assert all(c.change == "changed" for c in changed.values())
    assert changed["intake"].name == "收件初審"
    assert changed["intake"].details == ("name", "dueDays", "agency")
    assert changed["gw_intake"].details == ("condition",)
    assert changed["mark_approved"].details == ("script",)
    assert changed["issue_permit"].details == ("parameters",)
    assert changed["cosign"].details == ("lane", "property:instructions", "multiInstance")
    assert changed["cosign"].kind == "userTask"
    assert set(changed) == {"intake", "gw_intake", "mark_approved", "issue_permit", "cosign"}


def test_a_waiting_step_changing_type_is_a_type_change(v1):
    new = parse_definition(edited(BPMN, ('<bpmn:userTask id="intake" name="收件審查">',
                                         '<bpmn:manualTask id="intake" name="收件審查">'),
                                  ("</bpmn:userTask>\n\n    <bpmn:exclusiveGateway id=\"gw_intake\"",
                                   "</bpmn:manualTask>\n\n    <bpmn:exclusiveGateway id=\"gw_intake\"")))
    change = diff_definitions(v1, new).element("intake")
    assert (change.kind, change.details[0]) == ("manualTask", "type")
    plan = plan_case(case_at(v1, "intake"), v1, new)
    assert not plan.movable
    assert [r.message for r in plan.reasons] == [WAITING_RETYPED]


def test_form_changes_list_fields_by_path(v1):
    old_forms, new_forms = permit_forms(), permit_forms()
    application_schema = new_forms["lvp_application"]["schema"]
    vehicles = application_schema["properties"]["vehicles"]["items"]["properties"]
    vehicles["plate"]["maxLength"] = 12
    vehicles["axles"] = {"type": "integer", "title": "軸數"}
    del application_schema["properties"]["time_windows"]
    application_schema["required"].remove("time_windows")
    new_forms["lvp_application"]["ui"]["purpose"]["project_name"] = {"ui:help": "請填工程全名"}
    diff = diff_definitions(v1, parse_definition(BPMN), old_forms, new_forms)
    assert diff.elements == ()
    (change,) = diff.forms
    assert change.key == "lvp_application" and change.change == "changed"
    assert change.fields_added == ("vehicles/axles",)
    assert set(change.fields_removed) == {"time_windows", "time_windows/start", "time_windows/end"}
    assert set(change.fields_changed) == {"vehicles/plate", "purpose/project_name"}


def test_a_newly_used_form_is_added_with_its_fields(v1):
    new = parse_definition(edited(BPMN, ('<spiffworkflow:property name="formKey" value="lvp_cosign" />',
                                         '<spiffworkflow:property name="formKey" value="lvp_police_opinion" />')))
    new_forms = {**permit_forms(), "lvp_police_opinion": raw_form("lvp_cosign")}
    diff = diff_definitions(v1, new, permit_forms(), new_forms)
    assert diff.forms == (
        FormChange("lvp_police_opinion", "added", fields_added=("opinion", "comment")),
        FormChange("lvp_cosign", "removed", fields_removed=("opinion", "comment")),
    )
    assert diff.element("cosign").details == ("formKey",)


# -- plans --------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_unchanged_diagram_moves_every_running_case_with_no_changes(v1, stage):
    state = case_at(v1, stage)
    same = parse_definition(BPMN)
    plan = plan_case(state, v1, same)
    assert plan.movable and plan.reasons == () and plan.changes == ()
    moved = migrate_state(state, v1, same, engine())
    assert ready(moved, same) == ready(state, v1)


def test_waiting_at_each_stage_names_the_waiting_steps(v1):
    waiting = {stage: plan_case(case_at(v1, stage), v1, v1).waiting for stage in STAGES}
    assert waiting == {"intake": ("intake",), "correction": ("correction",),
                       "mid_cosign": ("cosign",), "decide": ("decide",)}


def withdrawn_mid_cosigning(parsed) -> dict:
    workflow = load_state(case_at(parsed, "mid_cosign"), parsed, engine())
    workflow.cancel()
    return dump_state(workflow)


@pytest.mark.parametrize("finish", [lambda p: case_at(p, "completed"), withdrawn_mid_cosigning])
def test_a_finished_case_is_not_movable(v1, finish):
    state = finish(v1)
    plan = plan_case(state, v1, parse_definition(BPMN))
    assert not plan.movable
    assert [r.text() for r in plan.reasons] == ["案件已結束"]
    assert plan.reasons[0].message == CASE_FINISHED
    assert plan.waiting == ()


def test_a_changed_deadline_of_the_waiting_step_moves_and_is_listed(v1):
    new = parse_definition(with_intake_due(3))
    plan = plan_case(case_at(v1, "intake"), v1, new)
    assert plan.movable
    assert [(c.message, c.element, dict(c.params)) for c in plan.changes] == [
        (DEADLINE_CHANGED, "intake", {"name": "收件審查", "old": "2", "new": "3"})]
    assert plan.changes[0].text() == "「收件審查」的辦理期限由 2 個工作天改為 3 個工作天"


def test_a_case_waiting_at_a_removed_step_cannot_move(v1):
    new = parse_definition(without_intake())
    plan = plan_case(case_at(v1, "intake"), v1, new)
    assert not plan.movable
    assert [(r.message, r.element) for r in plan.reasons] == [(WAITING_REMOVED, "intake")]
    assert plan.reasons[0].text() == "等待中的步驟「收件審查」在新版本中已刪除"
    with pytest.raises(MigrationRefused) as refused:
        migrate_state(case_at(v1, "intake"), v1, new, engine())
    assert isinstance(refused.value, CaseConflict)
    assert refused.value.reasons == plan.reasons


def test_a_case_past_a_removed_step_cannot_keep_its_history(v1):
    plan = plan_case(case_at(v1, "decide"), v1, parse_definition(without_intake()))
    assert not plan.movable
    assert [(r.message, r.element) for r in plan.reasons] == [(HISTORY_REMOVED, "intake")]


@pytest.mark.parametrize("variant", [with_cosign_collection, with_cosign_summary])
def test_mid_cosigning_never_moves_when_the_cosigning_changes(v1, variant):
    new = parse_definition(variant())
    state = case_at(v1, "mid_cosign")
    plan = plan_case(state, v1, new)
    assert not plan.movable
    assert {r.message for r in plan.reasons} == {REGION_CHANGED}
    assert "cosign" in {r.element for r in plan.reasons}
    assert "會辦進行中，新版本變更了會辦流程（警察分局會辦），需人工處理" in {r.text() for r in plan.reasons}
    with pytest.raises(MigrationRefused):
        migrate_state(state, v1, new, engine())


@pytest.mark.parametrize("variant", [with_cosign_collection, with_cosign_summary])
def test_the_same_cosigning_change_moves_cases_outside_the_cosigning(v1, variant):
    new = parse_definition(variant())
    for stage in ("intake", "decide"):
        assert plan_case(case_at(v1, stage), v1, new).movable


def test_mid_cosigning_moves_when_only_the_decision_changed_and_finishes_on_the_new_version(v1):
    forms = decision_form_with_validity()
    new = parse_definition(with_decide_due(5))
    diff = diff_definitions(v1, new, permit_forms(), forms)
    assert diff.form("lvp_decision").fields_added == ("valid_months",)
    state = case_at(v1, "mid_cosign")
    plan = plan_case(state, v1, new, diff)
    assert plan.movable
    assert [(c.element, c.params.get("details")) for c in plan.changes] == [("decide", "dueDays")]

    moved = migrate_state(state, v1, new, engine())
    assert ready(moved, new) == ready(state, v1)
    workflow = load_state(moved, new, engine())
    (waiting,) = ready_user_tasks(workflow)
    assert waiting.data["unit"] == POLICE_UNITS[1]
    moved = complete(moved, new, "cosign", {"opinion": "object", "comment": "夜間通行"})
    ((element, _),) = ready(moved, new)
    assert element == "decide"
    decide = next(t for t in load_state(moved, new, engine()).get_tasks(state=TaskState.READY))
    assert task_properties(decide)["dueDays"] == "5"
    assert [r["opinion"] for r in decide.data["cosign_results"]] == ["agree", "object"]


def test_waiting_step_form_change_is_listed(v1):
    forms = decision_form_with_validity()
    diff = diff_definitions(v1, parse_definition(BPMN), permit_forms(), forms)
    plan = plan_case(case_at(v1, "decide"), v1, parse_definition(BPMN), diff)
    assert plan.movable
    assert [(c.message, c.element) for c in plan.changes] == [(FORM_CONTENT_CHANGED, "decide")]


@pytest.mark.parametrize("stage", ["intake", "correction", "decide"])
def test_a_moved_case_keeps_its_ready_task_ids_and_reaches_the_added_step(v1, stage):
    new = parse_definition(with_legal_review())
    state = case_at(v1, stage)
    plan = plan_case(state, v1, new)
    assert plan.movable
    assert (STEP_ADDED, "legal_review") in {(c.message, c.element) for c in plan.changes}

    since = time.time()
    moved = migrate_state(state, v1, new, engine())
    assert ready(moved, new) == ready(state, v1)
    _, newly_ready, gone = user_task_changes(load_state(moved, new, engine()), since)
    assert newly_ready == [] and gone == []  # the open task rows stay as they are
    if stage == "correction":
        moved = complete(moved, new, "correction", copy.deepcopy(APPLICATION))
    if stage in ("intake", "correction"):
        moved = complete(moved, new, "intake", {"decision": "cosign"})
        moved = complete(moved, new, "cosign", {"opinion": "agree"})
        moved = complete(moved, new, "cosign", {"opinion": "agree"})
    moved = complete(moved, new, "decide", {"decision": "approve", "conditions": "依核准路線行駛"})
    assert [e for e, _ in ready(moved, new)] == ["legal_review"]
    moved = complete(moved, new, "legal_review", {"opinion": "agree"})
    data = final_data(moved, new)
    assert data["outcome"] == "approved" and data["permit"]["number"] == "TB-P-0001"


def test_a_case_moved_back_skips_the_removed_step(v1):
    new = parse_definition(with_legal_review())
    state = case_at(new, "decide")
    plan = plan_case(state, new, v1)
    assert plan.movable
    moved = migrate_state(state, new, v1, engine())
    moved = complete(moved, v1, "decide", {"decision": "approve", "conditions": "依核准路線行駛"})
    assert final_data(moved, v1)["outcome"] == "approved"


def test_a_waiting_timer_keeps_its_deadline():
    """The reminder on 收件審查 still fires a day after the step opened, not a day after the move."""
    old = parse_definition(with_intake_reminder())
    new = parse_definition(with_intake_reminder(with_intake_due(3)))
    state = case_at(old, "intake")
    plan = plan_case(state, old, new)
    assert plan.movable and set(plan.waiting) == {"intake", "intake_reminder"}
    before = [e.value for e in load_state(state, old, engine()).waiting_events()]
    moved = migrate_state(state, old, new, engine())
    after = [e.value for e in load_state(moved, new, engine()).waiting_events()]
    assert before and after == before
    assert ready(moved, new) == ready(state, old)


# -- a parallel gateway -------------------------------------------------------------


def parallel_case(parsed) -> dict:
    """Split to 交通局會辦 and 警察局會辦; the traffic branch is done and waits at the join."""
    workflow = new_workflow(parsed, engine())
    run(workflow)
    state = dump_state(workflow)
    return complete(state, parsed, "traffic_review", {"opinion": "agree"})


def test_inside_a_parallel_region_a_change_within_it_blocks_the_move():
    old = parse_definition(PARALLEL)
    new = parse_definition(edited(PARALLEL, ('<spiffworkflow:property name="resultKey" value="traffic_opinion" />',
                                             '<spiffworkflow:property name="resultKey" value="traffic_result" />')))
    state = parallel_case(old)
    assert [e for e, _ in ready(state, old)] == ["police_review"]
    plan = plan_case(state, old, new)
    assert not plan.movable
    assert [(r.message, r.element) for r in plan.reasons] == [(REGION_CHANGED, "traffic_review")]


def test_inside_a_parallel_region_a_change_after_it_moves_and_the_join_still_waits():
    old = parse_definition(PARALLEL)
    new = parse_definition(edited(PARALLEL, ('<spiffworkflow:property name="dueDays" value="2" />',
                                             '<spiffworkflow:property name="dueDays" value="4" />')))
    state = parallel_case(old)
    plan = plan_case(state, old, new)
    assert plan.movable
    assert [(c.element, c.params.get("details")) for c in plan.changes] == [("decide", "dueDays")]
    moved = migrate_state(state, old, new, engine())
    assert ready(moved, new) == ready(state, old)
    moved = complete(moved, new, "police_review", {"opinion": "agree"})
    workflow = load_state(moved, new, engine())
    (decide,) = ready_user_tasks(workflow)
    assert task_properties(decide)["dueDays"] == "4"
    assert decide.data["traffic_opinion"] == decide.data["police_opinion"] == {"opinion": "agree"}


# -- boundary events ----------------------------------------------------------------


def test_a_boundary_event_added_to_the_waiting_step_blocks_the_move(v1):
    """SpiffWorkflow cannot wrap a task that is already open in the new boundary event."""
    new = parse_definition(with_intake_reminder())
    plan = plan_case(case_at(v1, "intake"), v1, new)
    assert not plan.movable
    assert [(r.message, r.element) for r in plan.reasons] == [(WAITING_REBOUND, "intake")]


def test_a_boundary_event_added_elsewhere_applies_the_next_time_the_step_opens(v1):
    new = parse_definition(with_intake_reminder())
    state = case_at(v1, "correction")
    assert plan_case(state, v1, new).movable
    moved = migrate_state(state, v1, new, engine())
    moved = complete(moved, new, "correction", copy.deepcopy(APPLICATION))
    assert plan_case(moved, new, new).waiting == ("intake", "intake_reminder")


def test_a_boundary_event_removed_from_a_passed_step_blocks_the_move(v1):
    old = parse_definition(with_intake_reminder())
    plan = plan_case(case_at(old, "decide"), old, v1)
    assert not plan.movable
    assert (HISTORY_RESHAPED, "intake") in {(r.message, r.element) for r in plan.reasons}
    assert (HISTORY_REMOVED, "intake_reminder") in {(r.message, r.element) for r in plan.reasons}
