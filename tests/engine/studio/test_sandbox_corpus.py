"""Known Python sandbox escapes in a diagram: refused when an analyst saves, and at run time if one got in."""
from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.exceptions import WorkflowException

import handlers
from engine import evaluator
from engine.cases import CaseEngine
from engine.db import make_engine, make_session_factory
from engine.forms import FormRegistry
from engine.studio.drafts import Studio
from engine.workflow import HandlerRegistry, RestrictedScriptEngine, new_workflow, parse_definition
from tests.engine.test_evaluator import ESCAPES

ROOT = Path(__file__).resolve().parents[3]
PERMIT = (ROOT / "bpmn" / "large_vehicle_permit.bpmn").read_text(encoding="utf-8")

TINY = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="tiny" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="setup" scriptFormat="python"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>x = {'a': 1}
districts = ['東區']
decision = 'a'
amount = 1
applicant = 'x'</bpmn:script></bpmn:scriptTask>
    <bpmn:scriptTask id="payload" scriptFormat="python"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>%(script)s</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="gw" default="f_default"><bpmn:incoming>f3</bpmn:incoming>
      <bpmn:outgoing>f_escape</bpmn:outgoing><bpmn:outgoing>f_default</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="setup" />
    <bpmn:sequenceFlow id="f2" sourceRef="setup" targetRef="payload" />
    <bpmn:sequenceFlow id="f3" sourceRef="payload" targetRef="gw" />
    <bpmn:sequenceFlow id="f_escape" sourceRef="gw" targetRef="end">
      <bpmn:conditionExpression>%(condition)s</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_default" sourceRef="gw" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>"""


@pytest.fixture(scope="module")
def studio() -> Studio:
    sessions = make_session_factory(make_engine("sqlite://"))
    engine = CaseEngine(sessions, FormRegistry(ROOT / "forms"), handlers.register_all(HandlerRegistry()))
    return Studio(engine)


def _with_escape(source: str, mode: str) -> tuple[bytes, str]:
    """The permit diagram carrying the escape, and the element the problem must be shown on."""
    if mode == "eval":
        return PERMIT.replace("decision == 'reject'", escape(source)).encode(), "f_not_accepted"
    return PERMIT.replace("outcome = 'approved'", escape(source)).encode(), "mark_approved"


@pytest.mark.parametrize("source, mode", ESCAPES)
def test_escape_is_refused_when_the_draft_is_saved(studio, source, mode):
    bpmn, element = _with_escape(source, mode)
    assert "outcome = 'approved'" in PERMIT and "decision == 'reject'" in PERMIT
    problems = studio.check(bpmn, studio.engine.forms)
    assert any(p.element == element and "安全檢查" in p.text() for p in problems), problems


@pytest.mark.parametrize("source, mode", ESCAPES)
def test_escape_that_got_in_unchecked_fails_at_run_time_without_effect(source, mode):
    script, condition = (source, "False") if mode == "exec" else ("y = 1", source)
    parsed = parse_definition((TINY % {"script": escape(script), "condition": escape(condition)}).encode())
    workflow = new_workflow(parsed, RestrictedScriptEngine())
    with pytest.raises(WorkflowException) as failed:
        workflow.do_engine_steps()
    causes = []
    error: BaseException | None = failed.value
    while error is not None:
        causes.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(c, evaluator.ExpressionError) for c in causes), causes
    assert not workflow.is_completed()
