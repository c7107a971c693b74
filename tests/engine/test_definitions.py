"""Deploy-time checks: each problem is found and shown on the element it concerns."""
from __future__ import annotations

from pathlib import Path

import pytest

import handlers
from engine.definitions import parse_and_lint
from engine.forms import FormOverlay, FormRegistry
from engine.workflow import HandlerRegistry

ROOT = Path(__file__).resolve().parents[2]
PERMIT = (ROOT / "bpmn" / "large_vehicle_permit.bpmn").read_text(encoding="utf-8")
FORMS = FormRegistry(ROOT / "forms")
HANDLERS = handlers.register_all(HandlerRegistry())

SMALL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="small" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="lane" name="traffic_clerk"><bpmn:flowNodeRef>review</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="審查">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="lvp_intake" /></spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    %(middle)s
    <bpmn:endEvent id="end"><bpmn:incoming>f_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    %(flows)s
  </bpmn:process>
  %(extra)s
</bpmn:definitions>"""


def problems(bpmn: str, forms=FORMS, **kwargs) -> list[tuple[str | None, str]]:
    _, found = parse_and_lint(bpmn.encode(), forms, HANDLERS, **kwargs)
    return [(p.element, p.text()) for p in found]


def small(middle: str, flows: str, extra: str = "") -> str:
    return SMALL % {"middle": middle, "flows": flows, "extra": extra}


def test_the_shipped_diagrams_are_clean():
    for path in sorted((ROOT / "bpmn").glob("*.bpmn")):
        assert problems(path.read_text(encoding="utf-8")) == [], path.name


def test_an_unsafe_condition_is_shown_on_its_flow():
    found = problems(PERMIT.replace("decision == 'reject'", "().__class__"))
    assert [element for element, _ in found] == ["f_not_accepted"]
    assert "gw_intake → mark_not_accepted" in found[0][1] and "安全檢查" in found[0][1]


def test_a_lane_naming_no_role_is_shown_on_each_of_its_user_tasks():
    found = problems(PERMIT.replace('name="traffic_clerk"', 'name="desk"'))
    assert {"intake", "decide"} <= {element for element, _ in found}
    assert all(text == "泳道 desk 不是已知的角色" for _, text in found)


def test_a_missing_or_broken_form_is_named():
    assert problems(PERMIT.replace('value="lvp_intake"', 'value="lvp_gone"')) == [
        ("intake", "表單 lvp_gone 不存在")]
    broken = FormOverlay(FORMS, {"lvp_intake": {"title": "x", "title_en": "x", "schema": {"type": "wrong"}}})
    [(element, text)] = problems(PERMIT, forms=broken)
    assert element == "intake" and text.startswith("表單 lvp_intake 的定義有誤")


def test_a_script_task_without_a_script_is_a_problem():
    assert problems(PERMIT.replace("outcome = 'approved'", "")) == [("mark_approved", "腳本工作沒有腳本")]


def test_an_unknown_handler_is_named():
    assert problems(PERMIT.replace('id="permit.issue"', 'id="permit.print"')) == [
        ("issue_permit", "沒有名為 permit.print 的處理程式")]


def test_a_loop_that_never_waits_runs_away():
    loop = small(
        """<bpmn:scriptTask id="count" scriptFormat="python"><bpmn:script>n = 1</bpmn:script></bpmn:scriptTask>
           <bpmn:exclusiveGateway id="again" default="f_back" />""",
        """<bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="count" />
           <bpmn:sequenceFlow id="f3" sourceRef="count" targetRef="again" />
           <bpmn:sequenceFlow id="f_back" sourceRef="again" targetRef="count" />
           <bpmn:sequenceFlow id="f_end" sourceRef="again" targetRef="end">
             <bpmn:conditionExpression>n &gt; 5</bpmn:conditionExpression></bpmn:sequenceFlow>""")
    found = problems(loop)
    assert len(found) == 1 and found[0][0] in {"count", "again"} and "無限執行" in found[0][1]


def test_a_loop_through_a_person_is_fine():
    loop = small(
        """<bpmn:exclusiveGateway id="again" default="f_back" />""",
        """<bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="again" />
           <bpmn:sequenceFlow id="f_back" sourceRef="again" targetRef="review" />
           <bpmn:sequenceFlow id="f_end" sourceRef="again" targetRef="end">
             <bpmn:conditionExpression>decision == 'cosign'</bpmn:conditionExpression></bpmn:sequenceFlow>""")
    assert problems(loop) == []


@pytest.mark.parametrize("kind, value, ok", [
    ("timeDuration", "'P3D'", True),
    ("timeDuration", "'PT48H'", True),
    ("timeDuration", "'three days'", False),
    ("timeDate", "'2026-12-01T09:00:00+08:00'", True),
    ("timeDate", "'next monday'", False),
    ("timeCycle", "'R3/PT1H'", True),
    ("timeDuration", "due_in", True),
    ("timeDuration", "__import__('os')", False),
])
def test_timer_expressions_must_parse(kind, value, ok):
    timer = small(
        f"""<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition id="t">
              <bpmn:{kind}>{value}</bpmn:{kind}></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>""",
        """<bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="wait" />
           <bpmn:sequenceFlow id="f_end" sourceRef="wait" targetRef="end" />""")
    found = problems(timer)
    assert (found == []) is ok, found
    assert all(element == "wait" for element, _ in found)


def test_a_message_nobody_sends_would_wait_forever():
    waiting = small(
        """<bpmn:intermediateCatchEvent id="reply"><bpmn:messageEventDefinition messageRef="m" />
           </bpmn:intermediateCatchEvent>""",
        """<bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="reply" />
           <bpmn:sequenceFlow id="f_end" sourceRef="reply" targetRef="end" />""",
        '<bpmn:message id="m" name="petition_reply" />')
    assert problems(waiting) == [("reply", "沒有程式會傳送訊息 petition_reply，流程會永遠停在這裡")]
    assert problems(waiting, messages={"petition_reply"}) == []
