"""Importing diagrams made in Camunda Modeler (7 and 8) and bpmn.io."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

import handlers
from engine import evaluator
from engine.definitions import KNOWN_ROLES, parse_and_lint
from engine.errors import DeploymentError
from engine.forms import FormRegistry
from engine.studio.expressions import iso_literal, juel_to_python
from engine.studio.importer import ImportReport, form_key, import_bpmn
from engine.workflow import MAX_BPMN_BYTES, HandlerRegistry, parse_definition

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[3]
FORMS = FormRegistry(ROOT / "forms")
HANDLERS = handlers.register_all(HandlerRegistry())

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
MODELER = "http://camunda.org/schema/modeler/1.0"
NS = {"bpmn": BPMN, "bpmndi": BPMNDI, "spiffworkflow": SPIFF}

DTD_REFUSED = "檔案含有 DOCTYPE 或實體宣告，基於安全理由拒絕匯入"


def run(data: bytes, **options) -> ImportReport:
    return import_bpmn(data, forms=FORMS.keys(), handlers=HANDLERS.names(), roles=KNOWN_ROLES, **options)


def fixture(name: str) -> bytes:
    return (DATA / name).read_bytes()


def tree(report: ImportReport) -> etree._Element:
    return etree.fromstring(report.bpmn)


def element(report: ImportReport, element_id: str) -> etree._Element | None:
    found = tree(report).xpath("//*[@id=$id]", id=element_id)
    return found[0] if found else None


def texts(problems, element_id: str) -> list[str]:
    return [problem.text() for problem in problems if problem.element == element_id]


def diagram(body: str, *, lanes: dict[str, list[str]] | None = None, head: str = "") -> bytes:
    """A Camunda 7 style file holding one executable process with ``body``."""
    lane_set = ""
    if lanes:
        lane_set = '<bpmn:laneSet id="lanes">' + "".join(
            f'<bpmn:lane id="lane_{name}" name="{name}">'
            + "".join(f"<bpmn:flowNodeRef>{ref}</bpmn:flowNodeRef>" for ref in refs)
            + "</bpmn:lane>" for name, refs in lanes.items()) + "</bpmn:laneSet>"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<bpmn:definitions xmlns:bpmn="{BPMN}" xmlns:camunda="{CAMUNDA}" xmlns:zeebe="{ZEEBE}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="http://bpmn.io/schema/bpmn">'
        f'{head}<bpmn:process id="p" isExecutable="true">{lane_set}{body}</bpmn:process></bpmn:definitions>'
    ).encode()


def straight(middle: str, middle_id: str = "work") -> str:
    """start -> ``middle`` -> end."""
    return (
        '<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>'
        + middle
        + '<bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>'
        f'<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="{middle_id}" />'
        f'<bpmn:sequenceFlow id="f2" sourceRef="{middle_id}" targetRef="end" />'
    )


# --------------------------------------------------------------------------
# Camunda 7 (Camunda Modeler 5)
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def camunda7() -> ImportReport:
    return run(fixture("import_camunda7_permit.bpmn"))


def test_camunda7_diagram_parses_after_conversion(camunda7):
    parsed = parse_definition(camunda7.bpmn, camunda7.process_id)

    assert camunda7.process_id == "Process_LargeVehiclePermit"
    assert parsed.lanes == {"traffic_clerk", "applicant"}
    assert parsed.has_timers
    assert texts(camunda7.unsupported, camunda7.process_id) == []


def test_camunda7_unsupported_items_name_their_elements(camunda7):
    found = {problem.element for problem in camunda7.unsupported}

    assert found == {"Participant_Applicant", "Activity_ComputeFee", "Activity_Review",
                     "Activity_IssuePermit", "Activity_Intake"}
    assert not camunda7.runnable
    assert "javascript" in texts(camunda7.unsupported, "Activity_ComputeFee")[0]
    assert any("表單 unknown 不存在" in text for text in texts(camunda7.unsupported, "Activity_Review"))
    assert any("camunda:dueDate" in text for text in texts(camunda7.unsupported, "Activity_Review"))
    assert "camunda:class=org.tainan.permit.IssuePermitDelegate" in texts(camunda7.unsupported, "Activity_IssuePermit")[0]
    assert texts(camunda7.unsupported, "Activity_Intake") == ["執行監聽器無法執行：start org.tainan.permit.AuditListener"]
    assert "未匯入" in texts(camunda7.unsupported, "Participant_Applicant")[0]


def test_camunda7_juel_conditions_become_restricted_python(camunda7):
    root = tree(camunda7)
    conditions = {flow.get("id"): flow.findtext("bpmn:conditionExpression", namespaces=NS)
                  for flow in root.iterfind(".//bpmn:sequenceFlow", NS)
                  if flow.find("bpmn:conditionExpression", NS) is not None}

    assert conditions == {"Flow_Approve": "decision == 'approve'", "Flow_Urgent": "amount > 100 and urgent"}
    assert evaluator.evaluate(conditions["Flow_Urgent"], {"amount": 120, "urgent": True}) is True
    assert evaluator.evaluate(conditions["Flow_Urgent"], {"amount": 120, "urgent": False}) is False
    assert texts(camunda7.converted, "Flow_Urgent") == ["條件 ${amount > 100 && urgent} 轉為 amount > 100 and urgent"]


def test_camunda7_javascript_never_reaches_the_output(camunda7):
    script = element(camunda7, "Activity_ComputeFee")

    assert b"execution.setVariable" not in camunda7.bpmn
    assert b"Math.ceil" not in camunda7.bpmn
    assert not script.findtext("bpmn:script", namespaces=NS)
    assert script.get("scriptFormat") is None


def test_camunda7_nothing_from_camunda_namespaces_remains(camunda7):
    root = tree(camunda7)
    namespaces = {etree.QName(node).namespace for node in root.iter()}
    namespaces |= {etree.QName(name).namespace for node in root.iter() for name in node.attrib}

    assert CAMUNDA.encode() not in camunda7.bpmn
    assert MODELER.encode() not in camunda7.bpmn
    assert b"camunda:" not in camunda7.bpmn
    assert namespaces <= {BPMN, BPMNDI, SPIFF, None, "http://www.omg.org/spec/DD/20100524/DC",
                          "http://www.omg.org/spec/DD/20100524/DI", "http://www.w3.org/2001/XMLSchema-instance"}


def test_camunda7_form_keys_become_form_properties(camunda7):
    def form_of(task_id: str) -> str:
        return element(camunda7, task_id).xpath(
            "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property[@name='formKey']/@value",
            namespaces=NS)[0]

    assert form_of("Activity_Intake") == "lvp_intake"
    assert "camunda:formKey 轉為表單 lvp_intake" in texts(camunda7.converted, "Activity_Intake")
    assert form_of("Activity_Review") == "unknown"
    assert "請在表單編輯器建立或選擇既有表單" in texts(camunda7.unsupported, "Activity_Review")[0]


def test_camunda7_candidate_groups_give_way_to_lanes(camunda7):
    assert ("camunda:candidateGroups=traffic_clerk 不再使用：承辦角色由泳道 traffic_clerk 決定"
            in texts(camunda7.converted, "Activity_Intake"))


def test_camunda7_timer_becomes_a_quoted_iso_expression(camunda7):
    parsed = parse_definition(camunda7.bpmn, camunda7.process_id)
    timer = next(spec for spec in parsed.spec.task_specs.values() if spec.bpmn_id == "Event_Overdue")

    assert timer.event_definition.expression == "'PT48H'"
    assert evaluator.evaluate(timer.event_definition.expression, {}) == "PT48H"


def test_camunda7_external_task_with_a_known_topic_calls_the_handler(camunda7):
    parsed = parse_definition(camunda7.bpmn, camunda7.process_id)
    remind = next(spec for spec in parsed.spec.task_specs.values() if spec.bpmn_id == "Activity_RemindClerk")
    issue = next(spec for spec in parsed.spec.task_specs.values() if spec.bpmn_id == "Activity_IssuePermit")

    assert remind.operation_name == "notify.applicant"
    assert evaluator.evaluate(remind.operation_params["message"]["value"], {}).startswith("您的大型車輛通行許可申請")
    assert issue.operation_name == ""


def test_camunda7_other_participant_stays_only_as_a_pool(camunda7):
    root = tree(camunda7)
    ids = {node.get("id") for node in root.iter() if node.get("id")}
    referenced = {shape.get("bpmnElement") for shape in root.iter(f"{{{BPMNDI}}}BPMNShape", f"{{{BPMNDI}}}BPMNEdge")}
    flow = element(camunda7, "MessageFlow_Application")

    assert [p.get("id") for p in root.iterfind("bpmn:process", NS)] == ["Process_LargeVehiclePermit"]
    assert "Activity_SubmitOnline" not in ids
    assert element(camunda7, "Participant_Applicant").get("processRef") is None
    assert flow.get("sourceRef") == "Participant_Applicant"
    assert referenced <= ids
    assert "Participant_Applicant_di" in ids


def test_every_reported_message_fills_its_placeholders(camunda7):
    for problem in (*camunda7.converted, *camunda7.unsupported):
        assert "%(" not in problem.text()


# --------------------------------------------------------------------------
# bpmn.io and Camunda 8
# --------------------------------------------------------------------------

def test_bpmnio_diagram_imports_and_lists_what_the_task_needs():
    data = fixture("import_bpmnio_simple.bpmn")
    report = run(data)
    task = texts(report.unsupported, "Activity_0lq1v2c")

    assert report.process_id == "Process_0n1h7vb"
    assert element(report, "Process_0n1h7vb").get("isExecutable") == "true"
    assert task == ["使用者工作 審查陳情 沒有表單，請選擇表單", "使用者工作 審查陳情 不在任何泳道中，請放入角色泳道"]
    assert texts(report.unsupported, "Flow_13c9hyo") == ["閘道 是否受理？ 的出口 是 沒有條件，請設定條件或設為預設路徑"]
    assert len(tree(report).findall(".//bpmndi:BPMNShape", NS)) == data.count(b"<bpmndi:BPMNShape ")
    assert len(tree(report).findall(".//bpmndi:BPMNEdge", NS)) == data.count(b"<bpmndi:BPMNEdge ")


def test_bpmnio_diagram_with_its_condition_filled_in_parses():
    data = fixture("import_bpmnio_simple.bpmn").replace(
        b'<bpmn:sequenceFlow id="Flow_13c9hyo" name="\xe6\x98\xaf" sourceRef="Gateway_1u4x0kq" targetRef="Event_1c7yq2h" />',
        '<bpmn:sequenceFlow id="Flow_13c9hyo" name="是" sourceRef="Gateway_1u4x0kq" targetRef="Event_1c7yq2h">'
        "<bpmn:conditionExpression>accepted == True</bpmn:conditionExpression></bpmn:sequenceFlow>".encode())
    report = run(data)

    assert {p.element for p in report.unsupported} == {"Activity_0lq1v2c"}
    assert parse_definition(report.bpmn, report.process_id).process_id == "Process_0n1h7vb"


def test_zeebe_export_imports_runnable_and_passes_lint():
    report = run(fixture("import_zeebe.bpmn"))
    parsed, problems = parse_and_lint(report.bpmn, FORMS, HANDLERS, report.process_id)
    find_police = next(s for s in parsed.spec.task_specs.values() if s.bpmn_id == "Activity_FindPolice")

    assert report.runnable, [str(p) for p in report.unsupported]
    assert problems == []
    assert find_police.operation_name == "directory.police_for_districts"
    assert find_police.operation_params["districts"]["value"] == "application['event']['districts']"
    assert "zeebe:formDefinition formId 轉為表單 rev_intake" in texts(report.converted, "Activity_Intake")
    assert ZEEBE.encode() not in report.bpmn and b"zeebe:" not in report.bpmn


def test_zeebe_form_key_and_unknown_job_type_are_reported():
    data = fixture("import_zeebe.bpmn").replace(
        b'<zeebe:formDefinition formId="rev_intake" />',
        b'<zeebe:formDefinition formKey="camunda-forms:bpmn:UserTaskForm_0d8cs2l" />',
    ).replace(b'type="directory.police_for_districts"', b'type="payment.charge"')
    report = run(data)

    assert texts(report.unsupported, "Activity_Intake") == [
        "表單 UserTaskForm_0d8cs2l 不存在，請在表單編輯器建立或選擇既有表單"]
    assert texts(report.unsupported, "Activity_FindPolice") == [
        "服務工作 找出轄區警察分局 需要選擇平台的處理程式（原實作：zeebe:taskDefinition type=payment.charge）",
        "輸入輸出對應無法執行：districts"]
    assert parse_definition(report.bpmn, report.process_id)


def test_a_shipped_diagram_imports_unchanged_in_meaning():
    report = run((ROOT / "bpmn" / "road_event.bpmn").read_bytes())

    assert report.runnable, [str(p) for p in report.unsupported]
    assert report.converted == ()
    assert parse_and_lint(report.bpmn, FORMS, HANDLERS, report.process_id)[1] == []


# --------------------------------------------------------------------------
# Refused files
# --------------------------------------------------------------------------

def _definitions(inner: str = '<bpmn:process id="p" />') -> str:
    return f'<bpmn:definitions xmlns:bpmn="{BPMN}" id="d" targetNamespace="x">{inner}</bpmn:definitions>'


def _passwd_lines() -> list[str]:
    try:
        return [line for line in Path("/etc/passwd").read_text().splitlines() if line.strip()]
    except OSError:
        return ["root:x:0:0"]


def _everything_said(error: DeploymentError) -> str:
    said, current = [], error
    while current is not None:
        said += [str(current), *getattr(current, "problems", [])]
        current = current.__cause__ or current.__context__
    return "\n".join(said)


XXE = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
       + _definitions('<bpmn:process id="p"><bpmn:documentation>&e;</bpmn:documentation></bpmn:process>'))
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
    + "]>" + _definitions('<bpmn:process id="p"><bpmn:documentation>&lol9;</bpmn:documentation></bpmn:process>'))
PARAMETER_ENTITY = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>'
                    + _definitions())
EXTERNAL_DTD = '<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd">' + _definitions()


@pytest.mark.parametrize("data", [
    pytest.param(XXE.encode(), id="xxe"),
    pytest.param(XXE.encode("utf-16"), id="xxe-utf16"),
    pytest.param(XXE.replace("DOCTYPE", "doctype").encode(), id="xxe-lowercase"),
    pytest.param(BILLION_LAUGHS.encode(), id="billion-laughs"),
    pytest.param(PARAMETER_ENTITY.encode(), id="parameter-entity"),
    pytest.param(EXTERNAL_DTD.encode(), id="external-dtd"),
])
def test_doctype_and_entities_are_refused(data):
    with pytest.raises(DeploymentError) as caught:
        run(data)

    assert caught.value.message == DTD_REFUSED
    said = _everything_said(caught.value)
    assert not any(line in said for line in _passwd_lines())
    assert "lollollol" not in said


@pytest.mark.parametrize(("data", "message"), [
    pytest.param(_definitions(f'<bpmn:process id="p"><bpmn:documentation>{"x" * (3 * 1024 * 1024)}'
                              "</bpmn:documentation></bpmn:process>").encode(), "檔案太大，無法匯入", id="3MB"),
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "檔案不是有效的 XML，無法匯入", id="png"),
    pytest.param(b"<bpmn:definitions><unclosed>", "檔案不是有效的 XML，無法匯入", id="broken-xml"),
    pytest.param(b"<html><body>hello</body></html>",
                 "檔案不是 BPMN 2.0 圖：根元素必須是 BPMN 2.0 命名空間的 definitions", id="html"),
    pytest.param(b'<definitions xmlns="http://www.omg.org/bpmn20"><process id="p"/></definitions>',
                 "檔案不是 BPMN 2.0 圖：根元素必須是 BPMN 2.0 命名空間的 definitions", id="other-namespace"),
    pytest.param(_definitions('<bpmn:collaboration id="c" />').encode(),
                 "檔案中沒有流程（bpmn:process），無法匯入", id="no-process"),
])
def test_files_that_are_not_bpmn_are_refused_clearly(data, message):
    with pytest.raises(DeploymentError) as caught:
        run(data)

    assert caught.value.message == message


def test_the_size_limit_is_the_deployment_limit():
    assert len(_definitions("x" * MAX_BPMN_BYTES)) > MAX_BPMN_BYTES
    with pytest.raises(DeploymentError, match="檔案太大"):
        run(_definitions("x" * MAX_BPMN_BYTES).encode())


def test_text_instead_of_bytes_is_a_programming_error():
    with pytest.raises(TypeError):
        run(_definitions())


# --------------------------------------------------------------------------
# Elements and settings
# --------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "element_id", "words"), [
    ('<bpmn:complexGateway id="g" name="複雜" />', "g", "複雜閘道"),
    ('<bpmn:transaction id="t" name="交易" />', "t", "交易子流程"),
    ('<bpmn:adHocSubProcess id="a" name="臨機" />', "a", "臨機子流程"),
    ('<bpmn:intermediateThrowEvent id="e"><bpmn:escalationEventDefinition /></bpmn:intermediateThrowEvent>',
     "e", "升級事件"),
    ('<bpmn:intermediateCatchEvent id="c"><bpmn:conditionalEventDefinition><bpmn:condition>${x}</bpmn:condition>'
     "</bpmn:conditionalEventDefinition></bpmn:intermediateCatchEvent>", "c", "條件事件"),
    ('<bpmn:boundaryEvent id="b" attachedToRef="x"><bpmn:compensateEventDefinition /></bpmn:boundaryEvent>',
     "b", "補償事件"),
    ('<bpmn:task id="undo" isForCompensation="true" />', "undo", "補償活動"),
])
def test_elements_this_platform_cannot_run_are_reported(body, element_id, words):
    report = run(diagram(body))

    assert any(words in text for text in texts(report.unsupported, element_id))


def test_untranslatable_juel_condition_is_reported_with_its_original_text():
    body = ('<bpmn:exclusiveGateway id="g" default="no" />'
            '<bpmn:sequenceFlow id="yes" sourceRef="g" targetRef="e1"><bpmn:conditionExpression>'
            "${execution.getVariable('approved')}</bpmn:conditionExpression></bpmn:sequenceFlow>"
            '<bpmn:sequenceFlow id="no" sourceRef="g" targetRef="e2" />'
            '<bpmn:sequenceFlow id="python" sourceRef="g" targetRef="e3"><bpmn:conditionExpression>'
            "len(items) &gt; 2</bpmn:conditionExpression></bpmn:sequenceFlow>")
    report = run(diagram(body))

    assert texts(report.unsupported, "yes") == [
        "條件 ${execution.getVariable('approved')} 無法自動轉換為 Python，請在工作室改寫"]
    assert texts(report.unsupported, "python") == []
    assert element(report, "python").findtext("bpmn:conditionExpression", namespaces=NS) == "len(items) > 2"


def test_javascript_condition_is_reported():
    body = ('<bpmn:sequenceFlow id="js" sourceRef="a" targetRef="b">'
            '<bpmn:conditionExpression language="javascript">amount === 3</bpmn:conditionExpression>'
            "</bpmn:sequenceFlow>")

    assert texts(run(diagram(body)).unsupported, "js") == [
        "條件 javascript: amount === 3 無法自動轉換為 Python，請在工作室改寫"]


@pytest.mark.parametrize(("kind", "value", "expression"), [
    ("timeDuration", "P3D", "'P3D'"),
    ("timeDate", "2025-03-01T09:00:00", "'2025-03-01T09:00:00+08:00'"),
    ("timeCycle", "R3/PT1H", "'R3/PT1H'"),
    ("timeDuration", "'P3D'", "'P3D'"),
    ("timeDate", "booking['remind_at']", "booking['remind_at']"),
])
def test_timer_values_become_runnable_expressions(kind, value, expression):
    body = straight(f'<bpmn:intermediateCatchEvent id="work"><bpmn:incoming>f1</bpmn:incoming>'
                    f"<bpmn:outgoing>f2</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:{kind}>{value}</bpmn:{kind}>"
                    "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>")
    report = run(diagram(body))
    parsed = parse_definition(report.bpmn, "p")
    timer = next(spec for spec in parsed.spec.task_specs.values() if spec.bpmn_id == "work")

    assert report.runnable, [str(p) for p in report.unsupported]
    assert timer.event_definition.expression == expression


@pytest.mark.parametrize("value", ["${dueDate}", "0 0 9 * * ?", "=now() + duration(\"P1D\")"])
def test_timer_values_that_cannot_be_converted_are_reported(value):
    body = ('<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
            f"<bpmn:timeCycle>{value}</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>")

    assert value in texts(run(diagram(body)).unsupported, "wait")[0]


def test_python_scripts_are_kept_only_when_the_evaluator_accepts_them():
    body = ('<bpmn:scriptTask id="good" scriptFormat="python"><bpmn:script>total = price * 2</bpmn:script></bpmn:scriptTask>'
            "<bpmn:scriptTask id=\"bad\"><bpmn:script>x = ().__class__.__mro__</bpmn:script></bpmn:scriptTask>"
            '<bpmn:scriptTask id="groovy" scriptFormat="groovy"><bpmn:script>println "hi"</bpmn:script></bpmn:scriptTask>')
    report = run(diagram(body))

    assert element(report, "good").findtext("bpmn:script", namespaces=NS) == "total = price * 2"
    assert texts(report.unsupported, "good") == []
    assert not element(report, "bad").findtext("bpmn:script", namespaces=NS)
    assert "__class__" not in report.bpmn.decode()
    assert "受限 Python" in texts(report.unsupported, "bad")[0]
    assert b"println" not in report.bpmn
    assert "groovy" in texts(report.unsupported, "groovy")[0]


def test_dmn_business_rule_task_is_reported_and_left_as_a_service_task_to_complete():
    body = straight('<bpmn:businessRuleTask id="work" name="判定資格" camunda:decisionRef="eligibility">'
                    "<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:businessRuleTask>")
    report = run(diagram(body))

    assert texts(report.unsupported, "work") == [
        "商業規則工作 判定資格 的決策（camunda:decisionRef=eligibility）無法執行，已改為服務工作，請選擇平台的處理程式"]
    assert etree.QName(element(report, "work")).localname == "serviceTask"
    assert parse_definition(report.bpmn, "p")


def test_lane_that_names_no_role_is_reported():
    body = straight('<bpmn:userTask id="work" camunda:formKey="lvp_intake">'
                    "<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>")
    report = run(diagram(body, lanes={"承辦人": ["work"]}))

    assert texts(report.unsupported, "lane_承辦人") == ["泳道 承辦人 不是已知角色"]
    assert texts(report.unsupported, "work") == []


def test_assignment_outside_any_lane_is_reported():
    body = straight('<bpmn:userTask id="work" camunda:formKey="lvp_intake" camunda:candidateGroups="traffic_clerk">'
                    "<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>")
    report = run(diagram(body))

    assert texts(report.unsupported, "work") == [
        "使用者工作 work 不在任何泳道中：camunda:candidateGroups=traffic_clerk 無法轉換，承辦角色由泳道決定，請把工作放入角色泳道"]


def test_camunda_multi_instance_collection_becomes_loop_data():
    body = straight('<bpmn:userTask id="work" camunda:formKey="rev_cohandle">'
                    "<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>"
                    '<bpmn:multiInstanceLoopCharacteristics camunda:collection="${agencies}" '
                    'camunda:elementVariable="agency" /></bpmn:userTask>')
    report = run(diagram(body, lanes={"case_clerk": ["start", "work", "end"]}))
    loop = element(report, "work").find("bpmn:multiInstanceLoopCharacteristics", NS)

    assert report.runnable, [str(p) for p in report.unsupported]
    assert loop.findtext("bpmn:loopDataInputRef", namespaces=NS) == "agencies"
    assert loop.find("bpmn:inputDataItem", NS).get("name") == "agency"
    assert parse_definition(report.bpmn, "p")


def test_messages_must_be_sent_by_this_process_or_the_platform():
    head = '<bpmn:message id="m_paid" name="paid" /><bpmn:message id="m_done" name="done" />'
    catch = ('<bpmn:intermediateCatchEvent id="wait_paid" name="等待繳費">'
             '<bpmn:messageEventDefinition messageRef="m_paid" /></bpmn:intermediateCatchEvent>')
    pair = ('<bpmn:intermediateThrowEvent id="send_done"><bpmn:messageEventDefinition messageRef="m_done" />'
            "</bpmn:intermediateThrowEvent><bpmn:boundaryEvent id=\"got_done\" attachedToRef=\"x\">"
            '<bpmn:messageEventDefinition messageRef="m_done" /></bpmn:boundaryEvent>')

    alone = run(diagram(catch + pair, head=head))
    sent_by_code = run(diagram(catch + pair, head=head), messages={"paid"})

    assert texts(alone.unsupported, "wait_paid") == [
        "訊息事件 等待繳費 等待的訊息 paid 沒有由本流程或平台送出，流程會永遠停在這裡"]
    assert texts(alone.unsupported, "send_done") == texts(alone.unsupported, "got_done") == []
    assert texts(sent_by_code.unsupported, "wait_paid") == []


def test_process_that_can_start_is_chosen_when_none_is_executable():
    data = (
        f'<bpmn:definitions xmlns:bpmn="{BPMN}" id="d" targetNamespace="x">'
        '<bpmn:process id="empty_pool" isExecutable="false" />'
        '<bpmn:process id="main" isExecutable="false">'
        '<bpmn:startEvent id="s"><bpmn:outgoing>f</bpmn:outgoing></bpmn:startEvent>'
        '<bpmn:endEvent id="e"><bpmn:incoming>f</bpmn:incoming></bpmn:endEvent>'
        '<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e" /></bpmn:process></bpmn:definitions>'
    ).encode()
    report = run(data)

    assert report.process_id == "main"
    assert report.runnable
    assert parse_definition(report.bpmn).process_id == "main"


# --------------------------------------------------------------------------
# The translations on their own
# --------------------------------------------------------------------------

@pytest.mark.parametrize(("juel", "python"), [
    ("${decision == 'approve'}", "decision == 'approve'"),
    ("${amount > 100 && urgent}", "amount > 100 and urgent"),
    ('#{kind eq "truck" or not urgent}', "kind == 'truck' or not urgent"),
    ("${!approved}", "not approved"),
    ("${!a == b}", "(not a) == b"),
    ("${!(a == b)}", "not (a == b)"),
    ("${empty note}", "not note"),
    ("${x == null}", "x == None"),
    ("${flag != true && other == false}", "flag != True and other == False"),
    ("${applicant.age >= 65}", "applicant['age'] >= 65"),
    ("${a.b.c != 'x'}", "a['b']['c'] != 'x'"),
    ("${items[0].name == 'y'}", "items[0]['name'] == 'y'"),
    ("${(a || b) && c}", "(a or b) and c"),
    ("${a || b && c}", "a or b and c"),
    ("${a < b == c < d}", "(a < b) == (c < d)"),
    ("${a - (b - c) le 2.5}", "a - (b - c) <= 2.5"),
    ("${weight div 1000 gt 3}", "weight / 1000 > 3"),
    ("${-x < 0}", "-x < 0"),
    (r"${name == 'it\'s'}", "name == \"it's\""),
])
def test_simple_juel_translates_to_python(juel, python):
    assert juel_to_python(juel) == python
    assert evaluator.check(python, "eval") == []


@pytest.mark.parametrize("juel", [
    "${execution.getVariable('x')}",
    "${a ? b : c}",
    "${from == 1}",
    "${x}${y}",
    "${}",
    "${a = b}",
    "${a instanceof b}",
    "${list.size() > 0}",
    "decision == 'approve'",
    "${" + "(" * 3000 + "a" + ")" * 3000 + "}",
])
def test_other_juel_is_not_translated(juel):
    assert juel_to_python(juel) is None


def test_juel_precedence_matches_after_translation():
    python = juel_to_python("${!a == b}")

    assert evaluator.evaluate(python, {"a": False, "b": True}) is True
    assert evaluator.evaluate(python, {"a": True, "b": True}) is False


@pytest.mark.parametrize(("reference", "key"), [
    ("lvp_intake", "lvp_intake"),
    ("embedded:app:forms/unknown.html", "unknown"),
    ("embedded:deployment:lvp_decision.html", "lvp_decision"),
    ("camunda-forms:bpmn:UserTaskForm_1", "UserTaskForm_1"),
    ("camunda-forms:deployment:forms/lvp_cosign.form", "lvp_cosign"),
])
def test_form_references_reduce_to_keys(reference, key):
    assert form_key(reference) == key


@pytest.mark.parametrize(("kind", "text", "literal"), [
    ("timeDuration", "PT48H", "PT48H"),
    ("timeDuration", "P1W", "P1W"),
    ("timeDuration", "P1Y2M3DT4H5M6S", "P1Y2M3DT4H5M6S"),
    ("timeDate", "2025-03-01T09:00", "2025-03-01T09:00+08:00"),
    ("timeDate", "2025-03-01T09:00:00Z", "2025-03-01T09:00:00Z"),
    ("timeDate", "2025-03-01", "2025-03-01T00:00:00+08:00"),
    ("timeCycle", "R5/PT10M", "R5/PT10M"),
    ("timeCycle", "R/2025-03-01T09:00:00/P1D", "R/2025-03-01T09:00:00+08:00/P1D"),
])
def test_iso_literals_are_ones_spiffworkflow_reads(kind, text, literal):
    assert iso_literal(kind, text) == literal
    if kind == "timeCycle":
        TimerEventDefinition.parse_iso_recurring_interval(literal)
    else:
        TimerEventDefinition.parse_time_or_duration(literal)


@pytest.mark.parametrize(("kind", "text"), [
    ("timeDuration", "PT"), ("timeDuration", "P1DT"), ("timeDuration", "${d}"),
    ("timeDate", "tomorrow"), ("timeCycle", "0 0 9 * * ?"), ("timeDate", "P3D"),
])
def test_non_literals_are_not_iso(kind, text):
    assert iso_literal(kind, text) is None


@pytest.mark.parametrize(("definition", "words"), [
    ("<bpmn:timeDate>P3D</bpmn:timeDate>", "與計時器類型（日期、期間或週期）不符"),
    ("<bpmn:timeDuration />", "沒有設定時間"),
    ("", "沒有設定時間"),
])
def test_timer_without_a_usable_time_is_reported(definition, words):
    body = ('<bpmn:intermediateCatchEvent id="wait" name="等候"><bpmn:timerEventDefinition>'
            f"{definition}</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>")

    assert words in texts(run(diagram(body)).unsupported, "wait")[0]


def test_zeebe_multi_instance_becomes_loop_data():
    body = straight(
        '<bpmn:userTask id="work"><bpmn:extensionElements>'
        '<zeebe:formDefinition formId="rev_cohandle" />'
        '<zeebe:loopCharacteristics inputCollection="=agencies" inputElement="agency" '
        'outputCollection="results" outputElement="=result" /></bpmn:extensionElements>'
        "<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>"
        "<bpmn:multiInstanceLoopCharacteristics /></bpmn:userTask>")
    report = run(diagram(body, lanes={"case_clerk": ["work"]}))
    loop = element(report, "work").find("bpmn:multiInstanceLoopCharacteristics", NS)

    assert [etree.QName(child).localname for child in loop] == [
        "loopDataInputRef", "loopDataOutputRef", "inputDataItem", "outputDataItem"]
    assert loop.findtext("bpmn:loopDataOutputRef", namespaces=NS) == "results"
    assert texts(report.unsupported, "work") == []
    assert parse_definition(report.bpmn, "p")


def test_feel_condition_is_reported():
    body = ('<bpmn:sequenceFlow id="feel" sourceRef="a" targetRef="b">'
            '<bpmn:conditionExpression>=decision = "approve"</bpmn:conditionExpression></bpmn:sequenceFlow>')

    assert texts(run(diagram(body)).unsupported, "feel") == [
        '條件 =decision = "approve" 無法自動轉換為 Python，請在工作室改寫']


def test_call_activity_keeps_a_called_process_of_the_same_file():
    called = ('<bpmn:process id="sub" isExecutable="false">'
              '<bpmn:startEvent id="s2"><bpmn:outgoing>g</bpmn:outgoing></bpmn:startEvent>'
              '<bpmn:endEvent id="e2"><bpmn:incoming>g</bpmn:incoming></bpmn:endEvent>'
              '<bpmn:sequenceFlow id="g" sourceRef="s2" targetRef="e2" /></bpmn:process>')
    body = straight('<bpmn:callActivity id="work" calledElement="sub">'
                    '<bpmn:extensionElements><camunda:in variables="all" /><camunda:out variables="all" />'
                    "</bpmn:extensionElements><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>"
                    "</bpmn:callActivity>")
    data = diagram(body).replace(b"</bpmn:definitions>", called.encode() + b"</bpmn:definitions>")
    report = run(data)
    missing = run(data.replace(b'calledElement="sub"', b'calledElement="elsewhere"'))

    assert report.runnable, [str(p) for p in report.unsupported]
    assert "sub" in parse_definition(report.bpmn, "p").subprocess_specs
    assert texts(missing.unsupported, "work")[0] == "呼叫活動 work 呼叫的流程 elsewhere 不在檔案中，無法匯入"


def test_unsafe_spiffworkflow_pre_script_is_removed():
    body = (f'<bpmn:task id="t"><bpmn:extensionElements><spiffworkflow:preScript xmlns:spiffworkflow="{SPIFF}">'
            "x = ().__class__</spiffworkflow:preScript></bpmn:extensionElements></bpmn:task>")
    report = run(diagram(body))

    assert "spiffworkflow:preScript" in texts(report.unsupported, "t")[0]
    assert b"__class__" not in report.bpmn
