"""Test runs of draft diagrams: in memory, with chosen or sample answers, never touching handlers."""
from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from engine.forms import Form, FormRegistry
from engine.studio.testrun import run, sample_answers
from engine.workflow import HandlerRegistry, parse_definition
from handlers import register_all

ROOT = Path(__file__).resolve().parents[3]
FORMS = FormRegistry(ROOT / "forms")
HANDLERS = register_all(HandlerRegistry())
NOW = datetime(2025, 11, 20, 2, 0, tzinfo=timezone.utc)
APPLICATION_FORMS = {
    "large_vehicle_permit": "lvp_application",
    "low_income": "lih_application",
    "long_term_care": "ltc_application",
    "care_referral": "ref_application",
    "road_event": "rev_application",
}
#: What the portal adds to every case's start data (the verified MyData household, none here).
EXTRA_DATA = {"household": None}


def shipped(name: str, **kwargs):
    bpmn = (ROOT / "bpmn" / f"{name}.bpmn").read_bytes()
    application = kwargs.pop("application", None) or sample_answers(FORMS.get(APPLICATION_FORMS[name]))
    return run(parse_definition(bpmn), form=FORMS.get, application=application, examples=HANDLERS.example,
               now=NOW, extra_data=EXTRA_DATA, **kwargs)


def elements(result) -> list[str]:
    return [step.element for step in result.steps]


def diagram(body: str, extra: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="defs" targetNamespace="https://example.org/bpmn">
  {extra}
  <bpmn:process id="proc" isExecutable="true">
    {body}
  </bpmn:process>
</bpmn:definitions>""".encode()


def run_small(bpmn: bytes, **kwargs):
    kwargs.setdefault("form", FORMS.get)
    kwargs.setdefault("application", {})
    return run(parse_definition(bpmn), now=NOW, **kwargs)


# -- sample answers ------------------------------------------------------------------------------

@pytest.mark.parametrize("key", FORMS.keys())
def test_sample_answers_are_valid_for_every_shipped_form(key):
    form = FORMS.get(key)
    answers = sample_answers(form)
    assert form.validate(answers) == {}
    json.dumps(answers)


def test_sample_answers_take_defaults_first_options_and_today_in_taipei():
    answers = sample_answers(FORMS.get("lvp_decision"))
    assert answers["decision"] == "approve"
    assert answers["conditions"] == FORMS.get("lvp_decision").schema["properties"]["conditions"]["default"]

    second = sample_answers(FORMS.get("lih_second_review"), today=date(2026, 1, 2))
    assert second["effective_from"] == "2026-01-02"


def test_sample_answers_follow_conditional_rules_and_formats():
    application = sample_answers(FORMS.get("lvp_application"))
    # the first kind is a company, whose id must then be a valid business id and who needs a responsible person
    assert application["applicant"]["kind"] == "company"
    assert application["applicant"]["responsible_person"]
    assert FORMS.get("lvp_application").validate(application) == {}
    assert len(application["vehicles"]) == 1
    assert set(application["attachments"]) == {"contract", "route_map"}


def test_sample_answers_leave_optional_files_out_and_honour_limits():
    form = Form("probe", "試", "Probe", {
        "type": "object",
        "required": ["count", "note", "tags", "code"],
        "properties": {
            "count": {"type": "integer", "title": "數量", "minimum": 3, "maximum": 9},
            "weight": {"type": "number", "title": "重量", "exclusiveMinimum": 0, "exclusiveMaximum": 0.5},
            "note": {"type": "string", "title": "說明", "minLength": 5},
            "tags": {"type": "array", "title": "標籤", "minItems": 2, "uniqueItems": True,
                     "items": {"type": "string", "enum": ["a", "b", "c"]}},
            "code": {"type": "string", "title": "代碼", "pattern": "^[A-Z]{2}-\\d{3}$"},
            "level": {"type": "integer", "title": "等級", "enum": [2, 1]},
            "extra": {"type": "array", "title": "其他", "items": {"type": "string", "enum": ["x", "y"]}},
            "photo": {"type": "object", "title": "照片",
                      "x-attachment": {"accept": ["image/png"], "maxBytes": 100}},
        },
        "allOf": [{"if": {"properties": {"level": {"const": 1}}, "required": ["level"]},
                   "else": {"properties": {"extra": {"minItems": 1}}}}],
    }, {})
    answers = sample_answers(form)
    assert form.validate(answers) == {}
    assert answers["count"] == 3
    assert 0 < answers["weight"] < 0.5
    assert len(answers["note"]) == 5
    assert answers["tags"] == ["a", "b"]
    assert answers["extra"] == ["x"]
    assert "photo" not in answers


def test_a_required_file_gets_a_descriptor_the_form_accepts():
    form = Form("probe", "試", "Probe", {
        "type": "object", "required": ["scan"],
        "properties": {"scan": {"type": "object", "title": "掃描",
                                "x-attachment": {"accept": ["image/png"], "maxBytes": 100}}},
    }, {})
    answers = sample_answers(form)
    assert form.validate(answers) == {}
    assert answers["scan"]["content_type"] == "image/png"
    assert answers["scan"]["size"] <= 100


# -- the shipped diagrams ------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(APPLICATION_FORMS))
def test_every_shipped_diagram_runs_to_its_end_with_sample_answers(name):
    result = shipped(name)
    assert result.outcome == "completed", [str(p) for p in result.problems]
    assert result.problems == []
    assert result.steps[0].kind == "startEvent"
    assert result.path[0] == result.steps[0].element
    assert result.steps[-1].kind == "endEvent"
    assert result.path[-1] == result.end_event == result.steps[-1].element
    json.dumps([step.__dict__ for step in result.steps], ensure_ascii=False)


def test_rejected_intake_ends_at_not_accepted():
    result = shipped("large_vehicle_permit", answers={"intake": {"decision": "reject", "reason": "文件不全"}})
    assert result.outcome == "completed"
    assert result.end_event == "end_not_accepted"
    assert "cosign" not in elements(result)
    assert result.path[-3:] == ["mark_not_accepted", "f_end_not_accepted", "end_not_accepted"]
    assert "f_not_accepted" in result.path
    assert result.steps[-1].data["outcome"] == "not_accepted"


def test_correction_visits_the_correction_task_then_comes_back():
    result = shipped("large_vehicle_permit", answers={
        "intake": [{"decision": "correction", "correction_note": "請補路線圖"}, {"decision": "cosign"}]})
    assert result.outcome == "completed"
    order = elements(result)
    assert order.count("intake") == 2
    last_lookup = max(i for i, element in enumerate(order) if element == "find_police")
    assert order.index("correction") < last_lookup
    assert "f_correction" in result.path and "f_resubmitted" in result.path
    correction = next(step for step in result.steps if step.element == "correction")
    assert correction.kind == "userTask" and correction.lane == "applicant"
    assert correction.data["application"] == correction.answers


def test_approval_cosigns_once_per_police_unit_and_issues_the_permit():
    result = shipped("large_vehicle_permit", service_results={"find_police": ["TNPD-YK", "TNPD-1"]}, answers={
        "cosign": [{"opinion": "agree"}, {"opinion": "object", "comment": "須避開上學時段"}],
        "decide": {"decision": "approve"},
    })
    assert result.outcome == "completed"
    assert result.end_event == "end_approved"
    cosigns = [step for step in result.steps if step.element == "cosign"]
    assert [step.instance for step in cosigns] == [0, 1]
    assert [step.answers["opinion"] for step in cosigns] == ["agree", "object"]
    assert [step.data["unit"] for step in cosigns] == ["TNPD-YK", "TNPD-1"]
    assert "issue_permit" in elements(result)
    issue = next(step for step in result.steps if step.element == "issue_permit")
    assert issue.result == HANDLERS.example("permit.issue")
    assert issue.params == {"conditions": None}
    decide = next(step for step in result.steps if step.element == "decide")
    assert [r["opinion"] for r in decide.data["cosign_results"]] == ["agree", "object"]


def test_invalid_answers_fail_the_run_naming_the_task_and_field():
    result = shipped("large_vehicle_permit", answers={"intake": {"decision": "reject"}})
    assert result.outcome == "failed"
    [problem] = result.problems
    assert problem.element == "intake"
    assert problem.params["fields"] == "reason"
    assert "reason" in problem.text() and "收件審查" in problem.text()
    assert elements(result)[-1] == "find_police"


def test_long_term_care_lists_its_reminder_timer_without_firing_it():
    result = shipped("long_term_care")
    assert result.outcome == "completed"
    [timer] = result.timers
    assert timer.element == "remind_timer"
    assert timer.attached_to == "assessment"
    assert timer.expression == "booking['remind_at']"
    booking = HANDLERS.example("care.book_slot")
    assert datetime.fromisoformat(timer.fires_at) == datetime.fromisoformat(booking["remind_at"])
    assert "remind_family" not in elements(result)
    assert result.end_event == "end"


def test_a_missing_start_fact_is_reported_not_raised():
    bpmn = (ROOT / "bpmn" / "low_income.bpmn").read_bytes()
    result = run(parse_definition(bpmn), form=FORMS.get, application=sample_answers(FORMS.get("lih_application")),
                 examples=HANDLERS.example)
    assert result.outcome == "failed"
    assert result.problems[0].element == "find_section"
    assert "household" in result.problems[0].text()


# -- small diagrams ------------------------------------------------------------------------------

USER_TASK_WITH_TIMER = """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="審查">
      <bpmn:extensionElements>
        <spiffworkflow:properties><spiffworkflow:property name="formKey" value="sign_off" /></spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="overdue" name="逾期" attachedToRef="review">
      <bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'P3D'</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:scriptTask id="escalate" name="升級"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:script>escalated = True</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end_escalated"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end" />
    <bpmn:sequenceFlow id="f3" sourceRef="overdue" targetRef="escalate" />
    <bpmn:sequenceFlow id="f4" sourceRef="escalate" targetRef="end_escalated" />
"""


def test_a_boundary_timer_is_listed_with_its_fire_time_and_never_fires():
    result = run_small(diagram(USER_TASK_WITH_TIMER))
    assert result.outcome == "completed"
    assert result.end_event == "end"
    [timer] = result.timers
    assert (timer.element, timer.name, timer.attached_to) == ("overdue", "逾期", "review")
    assert timer.expression == "'P3D'"
    assert datetime.fromisoformat(timer.fires_at) == NOW + timedelta(days=3)
    assert "escalate" not in elements(result)
    assert result.path == ["start", "f1", "review", "f2", "end"]


WAIT_THEN_SCRIPT = """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="cool_off" name="冷靜期">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'PT2H'</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="after" name="之後"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>waited = True</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="cool_off" />
    <bpmn:sequenceFlow id="f2" sourceRef="cool_off" targetRef="after" />
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end" />
"""


def test_an_intermediate_timer_fires_at_once_and_is_listed():
    started = time.monotonic()
    result = run_small(diagram(WAIT_THEN_SCRIPT))
    assert time.monotonic() - started < 5
    assert result.outcome == "completed"
    assert elements(result) == ["start", "cool_off", "after", "end"]
    assert [step.kind for step in result.steps][:2] == ["startEvent", "intermediateCatchEvent"]
    [timer] = result.timers
    assert timer.attached_to is None
    assert datetime.fromisoformat(timer.fires_at) == NOW + timedelta(hours=2)
    assert result.steps[-1].data["waited"] is True


ENDLESS_LOOP = """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="init" name="起始"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>count = 0</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="gw" name="夠了嗎？" default="f_again">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:incoming>f_back</bpmn:incoming>
      <bpmn:outgoing>f_done</bpmn:outgoing><bpmn:outgoing>f_again</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:scriptTask id="again" name="再一次"><bpmn:incoming>f_again</bpmn:incoming><bpmn:outgoing>f_back</bpmn:outgoing>
      <bpmn:script>count = count + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f_done</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="init" />
    <bpmn:sequenceFlow id="f2" sourceRef="init" targetRef="gw" />
    <bpmn:sequenceFlow id="f_done" sourceRef="gw" targetRef="end">
      <bpmn:conditionExpression>count &lt; 0</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_again" sourceRef="gw" targetRef="again" />
    <bpmn:sequenceFlow id="f_back" sourceRef="again" targetRef="gw" />
"""


def test_a_loop_that_never_exits_is_cut_off_as_runaway():
    started = time.monotonic()
    result = run_small(diagram(ENDLESS_LOOP), max_steps=50)
    assert time.monotonic() - started < 5
    assert result.outcome == "runaway"
    assert len(result.steps) <= 50
    [problem] = result.problems
    assert problem.element in {"gw", "again"}
    assert problem.params["limit"] == 50
    assert problem.params["count"] >= 20


def test_a_user_task_loop_with_the_same_answer_is_runaway():
    result = shipped("large_vehicle_permit", max_steps=60,
                     answers={"intake": {"decision": "correction", "correction_note": "再補"}})
    assert result.outcome == "runaway"
    assert result.problems[0].element in {"intake", "correction", "find_police", "gw_intake"}


SERVICE = """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="lookup" name="查詢">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="spy.lookup" resultVariable="found">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="district" type="str" value="application['district'] + '區'" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:scriptTask id="use" name="使用結果"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>agency = found['agency']</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="lookup" />
    <bpmn:sequenceFlow id="f2" sourceRef="lookup" targetRef="use" />
    <bpmn:sequenceFlow id="f3" sourceRef="use" targetRef="end" />
"""


def spy_registry(calls: list) -> HandlerRegistry:
    def handler(ctx, **params):
        calls.append(params)
        raise AssertionError("a test run reached a real handler")

    registry = HandlerRegistry()
    registry.register("spy.lookup", handler, example={"agency": "D31"})
    return registry


def test_service_tasks_get_the_example_and_never_reach_the_handler():
    calls: list = []
    registry = spy_registry(calls)
    result = run_small(diagram(SERVICE), application={"district": "永康"}, examples=registry.example)
    assert calls == []
    assert result.outcome == "completed"
    lookup = result.steps[1]
    assert (lookup.element, lookup.kind) == ("lookup", "serviceTask")
    assert lookup.params == {"district": "永康區"}
    assert lookup.result == {"agency": "D31"}
    assert result.steps[2].data["agency"] == "D31"


def test_a_chosen_service_result_wins_over_the_example():
    calls: list = []
    result = run_small(diagram(SERVICE), application={"district": "東"}, examples=spy_registry(calls).example,
                       service_results={"lookup": {"agency": "D32"}})
    assert calls == []
    assert result.steps[2].data["agency"] == "D32"


def test_a_handler_without_example_is_reported_and_its_use_fails():
    result = run_small(diagram(SERVICE), application={"district": "東"})
    assert result.outcome == "failed"
    assert [p.element for p in result.problems] == ["lookup", "use"]
    assert "spy.lookup" in result.problems[0].text()


def test_an_example_that_raises_fails_on_the_service_task():
    def broken(name):
        raise LookupError("no such example")

    result = run_small(diagram(SERVICE), application={"district": "東"}, examples=broken)
    assert result.outcome == "failed"
    [problem] = result.problems
    assert problem.element == "lookup"
    assert problem.text().startswith("服務任務的範例結果無法使用")


PARALLEL = """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:parallelGateway id="split"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>fa</bpmn:outgoing><bpmn:outgoing>fb</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="sign" name="核章">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="sign_off" />
        <spiffworkflow:property name="resultKey" value="signed" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>fa</bpmn:incoming><bpmn:outgoing>fa2</bpmn:outgoing></bpmn:userTask>
    <bpmn:scriptTask id="count" name="計數"><bpmn:incoming>fb</bpmn:incoming><bpmn:outgoing>fb2</bpmn:outgoing>
      <bpmn:script>copies = 2</bpmn:script></bpmn:scriptTask>
    <bpmn:parallelGateway id="join"><bpmn:incoming>fa2</bpmn:incoming><bpmn:incoming>fb2</bpmn:incoming>
      <bpmn:outgoing>f9</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:endEvent id="end"><bpmn:incoming>f9</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="split" />
    <bpmn:sequenceFlow id="fa" sourceRef="split" targetRef="sign" />
    <bpmn:sequenceFlow id="fb" sourceRef="split" targetRef="count" />
    <bpmn:sequenceFlow id="fa2" sourceRef="sign" targetRef="join" />
    <bpmn:sequenceFlow id="fb2" sourceRef="count" targetRef="join" />
    <bpmn:sequenceFlow id="f9" sourceRef="join" targetRef="end" />
"""


def test_the_path_shows_both_branches_into_a_parallel_join():
    result = run_small(diagram(PARALLEL), answers={"sign": {"decision": "agree"}})
    assert result.outcome == "completed"
    assert {"fa", "fb", "fa2", "fb2", "sign", "count"} <= set(result.path)
    assert result.path[-3:] == ["join", "f9", "end"]
    assert result.path.index("fa2") < result.path.index("join")
    assert result.path.index("fb2") < result.path.index("join")
    assert result.steps[-1].data["signed"] == {"decision": "agree", "comment": None}
    assert result.steps[-1].data["copies"] == 2


BROKEN_SCRIPT = """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="calc" name="計算"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>total = application['amount'] / 0</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="calc" />
    <bpmn:sequenceFlow id="f2" sourceRef="calc" targetRef="end" />
"""


def test_a_script_that_raises_fails_the_run_on_that_element():
    result = run_small(diagram(BROKEN_SCRIPT), application={"amount": 3})
    assert result.outcome == "failed"
    [problem] = result.problems
    assert problem.element == "calc"
    assert problem.text().startswith("腳本執行失敗：")
    assert "division" in problem.params["error"]
    assert elements(result) == ["start"]


BROKEN_CONDITION = """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="gw" name="金額？" default="f_small">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f_big</bpmn:outgoing><bpmn:outgoing>f_small</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="big"><bpmn:incoming>f_big</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="small"><bpmn:incoming>f_small</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="gw" />
    <bpmn:sequenceFlow id="f_big" sourceRef="gw" targetRef="big">
      <bpmn:conditionExpression>amout &gt; 100</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_small" sourceRef="gw" targetRef="small" />
"""


def test_a_condition_that_raises_fails_on_the_gateway():
    result = run_small(diagram(BROKEN_CONDITION))
    assert result.outcome == "failed"
    [problem] = result.problems
    assert problem.element == "gw"
    assert problem.text().startswith("條件運算失敗：")
    assert "amout" in problem.text()


WAIT_FOR_MESSAGE = """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="paid" name="收到繳費">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:messageEventDefinition messageRef="payment" />
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="paid" />
    <bpmn:sequenceFlow id="f2" sourceRef="paid" targetRef="end" />
"""


def test_waiting_for_a_message_is_stuck_naming_the_waiting_element():
    result = run_small(diagram(WAIT_FOR_MESSAGE, '<bpmn:message id="payment" name="payment_received" />'))
    assert result.outcome == "stuck"
    [problem] = result.problems
    assert problem.element == "paid"
    assert "payment_received" in problem.text()
    assert result.end_event is None


def test_steps_are_copies_of_the_data_at_each_step():
    result = shipped("care_referral")
    route = next(step for step in result.steps if step.element == "route")
    assert "routing" in route.data and "notice_done" not in route.data
    route.data["routing"]["agency"] = "XX"
    assert next(s for s in result.steps if s.element == "handle").data["routing"]["agency"] == "CA"
