"""Importing a diagram made in another modeler (Camunda 7, Camunda 8, bpmn.io).

The upload is untrusted: it is read only through ``workflow.secure_root`` (entities,
DTDs and network off, size capped), and a DTD that slipped past the byte check in
another encoding is refused after parsing too.

What this platform can run is rewritten into its own dialect: forms become
``spiffworkflow`` formKey properties, JUEL conditions become restricted Python,
literal ISO 8601 timers become quoted expressions, external tasks whose topic
names a registered handler become ``serviceTaskOperator``s. Everything else is
listed in the report, tied to its element, and every foreign attribute and
extension element is removed so nothing written for another engine stays in the
draft. Foreign scripts are emptied rather than kept, so they can never run here.
"""
from __future__ import annotations

import keyword
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from lxml import etree

from .. import evaluator
from ..definitions import Problem
from ..errors import N_, DeploymentError
from ..workflow import MAX_BPMN_BYTES, parse_definition, secure_root
from .expressions import feel_value, is_juel, iso_literal, juel_to_python, juel_value

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
MODELER = "http://camunda.org/schema/modeler/1.0"
BIOC = "http://bpmn.io/schema/bpmn/biocolor/1.0"
COLOR = "http://www.omg.org/spec/BPMN/non-normative/color/1.0"

KEPT_NAMESPACES = frozenset({BPMN, BPMNDI, DC, DI, XSI, SPIFF, BIOC, COLOR})
_PREFIXES = {CAMUNDA: "camunda", ZEEBE: "zeebe", MODELER: "modeler"}

# Settings that change nothing about what the process does here; removed without a word.
_COSMETIC = frozenset(
    {(CAMUNDA, name) for name in (
        "modelerTemplate", "modelerTemplateVersion", "versionTag", "historyTimeToLive",
        "isStartableInTasklist", "asyncBefore", "asyncAfter", "async", "exclusive", "jobPriority",
        "taskPriority", "failedJobRetryTimeCycle", "properties", "candidateStarterGroups",
        "candidateStarterUsers", "formRefBinding", "formRefVersion", "calledElementBinding",
        "calledElementVersion", "calledElementVersionTag", "calledElementTenantId",
        "decisionRefBinding", "decisionRefVersion", "decisionRefVersionTag", "decisionRefTenantId",
        "mapDecisionResult")}
    | {(ZEEBE, name) for name in (
        "modelerTemplate", "modelerTemplateVersion", "modelerTemplateIcon", "versionTag",
        "properties", "userTask", "priorityDefinition", "userTaskForm", "subscription")}
)

_PYTHON_FORMATS = frozenset({"", "python", "python3", "jython", "text/x-python"})
_EXPRESSION_LANGUAGES = frozenset({"", "python", "python3", "juel", "text/x-python"})
_FORM_PREFIXES = (
    "embedded:app:", "embedded:deployment:", "embedded:", "camunda-forms:app:",
    "camunda-forms:deployment:", "camunda-forms:bpmn:", "camunda-forms:", "app:", "deployment:",
)
_HUMAN_TASKS = ("userTask", "manualTask")
_TIMER_KINDS = ("timeDate", "timeDuration", "timeCycle")
_SERVICE_LIKE = ("serviceTask", "sendTask", "businessRuleTask")
_CATCHING = ("startEvent", "intermediateCatchEvent", "boundaryEvent")
_THROWING = ("intermediateThrowEvent", "endEvent")
_MULTI_INSTANCE_ORDER = (
    "loopCardinality", "loopDataInputRef", "loopDataOutputRef", "inputDataItem", "outputDataItem",
    "complexBehaviorDefinition", "completionCondition", "oneBehaviorEventRef", "noneBehaviorEventRef",
)

_UNSUPPORTED_ELEMENTS = {
    "complexGateway": N_("複雜閘道 %(name)s 無法執行，請改用排他、包容或平行閘道"),
    "transaction": N_("交易子流程 %(name)s 無法執行，請改用一般子流程"),
    "adHocSubProcess": N_("臨機子流程 %(name)s 無法執行，請改用一般子流程"),
}
_UNSUPPORTED_EVENTS = {
    "compensateEventDefinition": N_("補償事件 %(name)s 無法執行"),
    "conditionalEventDefinition": N_("條件事件 %(name)s 無法執行，請改用閘道條件"),
    "escalationEventDefinition": N_("升級事件 %(name)s 無法執行"),
}


@dataclass(frozen=True)
class ImportReport:
    """The converted diagram and what the analyst must know about the conversion."""

    bpmn: bytes
    process_id: str
    converted: tuple[Problem, ...]
    unsupported: tuple[Problem, ...]

    @property
    def runnable(self) -> bool:
        return not self.unsupported


def import_bpmn(
    data: bytes,
    *,
    forms: Collection[str],
    handlers: Collection[str],
    roles: Collection[str],
    messages: Collection[str] = (),
) -> ImportReport:
    """Convert an uploaded .bpmn file; raises ``DeploymentError`` for files that are not safe BPMN 2.0.

    ``messages`` are the message names the platform's code sends to cases (as for
    ``definitions.lint``); an event waiting for any other message must get it from
    this same process.
    """
    if not isinstance(data, bytes):
        raise TypeError("pass the uploaded file as bytes")
    root = _read(data)
    process = _choose_process(root)
    conversion = _Conversion(root, process, set(forms), set(handlers), set(roles), set(messages))
    conversion.run()
    bpmn = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    process_id = process.get("id")
    conversion.unsupported.extend(_parse_problems(bpmn, process_id))
    return ImportReport(bpmn, process_id, tuple(conversion.converted), tuple(conversion.unsupported))


# --------------------------------------------------------------------------
# Reading the upload
# --------------------------------------------------------------------------

def _read(data: bytes) -> etree._Element:
    try:
        root = secure_root(data)
    except DeploymentError as exc:
        raise _refusal(data, exc) from exc
    if root.tag != _bpmn("definitions"):
        raise DeploymentError(N_("檔案不是 BPMN 2.0 圖：根元素必須是 BPMN 2.0 命名空間的 definitions"),
                              [f"root element is {root.tag}"])
    return root


def _refusal(data: bytes, error: DeploymentError) -> DeploymentError:
    """Restate what ``secure_root`` refused in words an analyst understands."""
    if len(data) > MAX_BPMN_BYTES:
        return DeploymentError(N_("檔案太大，無法匯入"),
                               [f"{len(data):,} bytes; the limit is {MAX_BPMN_BYTES:,} bytes"])
    if any("DOCTYPE" in problem for problem in error.problems):
        return DeploymentError(N_("檔案含有 DOCTYPE 或實體宣告，基於安全理由拒絕匯入"), error.problems)
    return DeploymentError(N_("檔案不是有效的 XML，無法匯入"), error.problems)


def _choose_process(root: etree._Element) -> etree._Element:
    """The first executable process, else the only one, else the first that can start."""
    processes = root.findall(_bpmn("process"))
    if not processes:
        raise DeploymentError(N_("檔案中沒有流程（bpmn:process），無法匯入"), [])
    executable = [p for p in processes if p.get("isExecutable") in ("true", "1")]
    if executable:
        chosen = executable[0]
    else:
        chosen = next((p for p in processes if p.find(_bpmn("startEvent")) is not None), processes[0])
    if not chosen.get("id"):
        raise DeploymentError(N_("流程沒有 id，無法匯入"), [])
    return chosen


def _parse_problems(bpmn: bytes, process_id: str) -> list[Problem]:
    try:
        parse_definition(bpmn, process_id)
    except DeploymentError as exc:
        detail = "; ".join(exc.problems) or exc.message
        return [Problem(N_("轉換後的圖仍無法解析，請在工作室修正：%(error)s"), process_id, {"error": detail})]
    return []


# --------------------------------------------------------------------------
# The conversion
# --------------------------------------------------------------------------

class _Implementation:
    """A service task's implementation in the source engine, read and removed from the element."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.topic: str | None = None
        self.result_variable: str | None = None

    @property
    def description(self) -> str:
        return "; ".join(self.parts)


class _Conversion:
    """Rewrites one parsed document in place and collects what was converted or refused."""

    def __init__(self, root: etree._Element, process: etree._Element,
                 forms: set[str], handlers: set[str], roles: set[str], messages: set[str]) -> None:
        self.root = root
        self.process = process
        self.forms = forms
        self.handlers = handlers
        self.roles = roles
        self.messages = messages
        self.kept: list[etree._Element] = [process]
        self.lanes: dict[str, str] = {}
        self.converted: list[Problem] = []
        self.unsupported: list[Problem] = []

    def note(self, message: str, element: etree._Element | str | None, /, **params: object) -> None:
        self.converted.append(Problem(message, _element_id(element), params))

    def refuse(self, message: str, element: etree._Element | str | None, /, **params: object) -> None:
        self.unsupported.append(Problem(message, _element_id(element), params))

    def run(self) -> None:
        self._keep_processes()
        self._read_lanes()
        for node in list(self._nodes()):
            self._convert(node)
        self._check_gateways()
        self._check_messages()
        self._strip_foreign(self.root)
        etree.cleanup_namespaces(self.root, top_nsmap={"spiffworkflow": SPIFF})
        etree.indent(self.root, space="  ")

    def _nodes(self) -> Iterator[etree._Element]:
        for process in self.kept:
            yield from process.iter(_bpmn("*"))

    def _convert(self, node: etree._Element) -> None:
        local = etree.QName(node).localname
        if local in _HUMAN_TASKS:
            self._human_task(node)
        elif local == "startEvent":
            self._start_form(node)
        elif local == "scriptTask":
            self._script_task(node)
        elif local in _SERVICE_LIKE:
            self._service_task(node)
        elif local == "sequenceFlow":
            self._sequence_flow(node)
        elif local == "multiInstanceLoopCharacteristics":
            self._multi_instance(node)
        elif local == "timerEventDefinition":
            self._timer(node)
        elif local == "callActivity":
            self._call_activity(node)
        elif local in _UNSUPPORTED_ELEMENTS:
            self.refuse(_UNSUPPORTED_ELEMENTS[local], node, name=_name(node))
        elif local in _UNSUPPORTED_EVENTS:
            event = node.getparent()
            self.refuse(_UNSUPPORTED_EVENTS[local], event, name=_name(event))
        if node.get("isForCompensation") == "true":
            self.refuse(N_("補償活動 %(name)s 無法執行"), node, name=_name(node))
        self._spiff_scripts(node)

    # -- processes and participants ---------------------------------------

    def _keep_processes(self) -> None:
        processes = {p.get("id"): p for p in self.root.findall(_bpmn("process"))}
        wanted = _called_processes(self.process, processes)
        for participant in self.root.iter(_bpmn("participant")):
            if participant.get("processRef") is None:
                self.note(N_("參與者 %(name)s 保留為外部參與者，不會執行"), participant, name=_name(participant))
        removed: dict[str, str] = {}
        for pid, process in processes.items():
            if pid in wanted:
                process.set("isExecutable", "true")
            else:
                removed.update(self._drop_process(process))
        self.kept = [processes[pid] for pid in processes if pid in wanted]
        self._put_first(self.process)
        self._drop_references(removed)

    def _drop_process(self, process: etree._Element) -> dict[str, str]:
        """Remove a process that is not imported; its pool stays as an outside participant.

        Returns the removed element ids, each mapped to what now stands for it (the pool).
        """
        participant = self._participant_of(process.get("id"))
        element = participant if participant is not None else process
        name = _name(participant) if participant is not None and participant.get("name") else _name(process)
        if any(_is_flow_node(child) for child in process):
            self.refuse(N_("流程 %(name)s 未匯入：本平台一次只匯入一個可執行的流程"), element, name=name)
        elif participant is not None:
            self.note(N_("參與者 %(name)s 保留為外部參與者，不會執行"), participant, name=name)
        if participant is not None:
            del participant.attrib["processRef"]
        owner = element.get("id")
        removed = {node.get("id"): owner for node in process.iter() if node.get("id")}
        _remove(process)
        return removed

    def _participant_of(self, process_id: str) -> etree._Element | None:
        for participant in self.root.iter(_bpmn("participant")):
            if participant.get("processRef") == process_id:
                return participant
        return None

    def _put_first(self, process: etree._Element) -> None:
        """Spiff takes the first process when none is named; the imported one must be it."""
        first = self.root.find(_bpmn("process"))
        if first is not process:
            first.addprevious(process)

    def _drop_references(self, removed: dict[str, str]) -> None:
        """Point message flows at the pool of a removed process and drop the removed elements' shapes."""
        for flow in self.root.iter(_bpmn("messageFlow")):
            for end in ("sourceRef", "targetRef"):
                if flow.get(end) in removed:
                    flow.set(end, removed[flow.get(end)])
        for association in list(self.root.iter(_bpmn("association"))):
            if association.get("sourceRef") in removed or association.get("targetRef") in removed:
                _remove(association)
        for diagram in list(self.root.iter(f"{{{BPMNDI}}}BPMNDiagram")):
            plane = diagram.find(f"{{{BPMNDI}}}BPMNPlane")
            if plane is not None and plane.get("bpmnElement") in removed:
                _remove(diagram)
                continue
            for shape in list(diagram.iter(f"{{{BPMNDI}}}BPMNShape", f"{{{BPMNDI}}}BPMNEdge")):
                if shape.get("bpmnElement") in removed:
                    _remove(shape)

    # -- lanes and human tasks ---------------------------------------------

    def _read_lanes(self) -> None:
        for process in self.kept:
            for lane in process.iter(_bpmn("lane")):
                name = (lane.get("name") or "").strip()
                for ref in lane.findall(_bpmn("flowNodeRef")):
                    if ref.text:
                        self.lanes[ref.text.strip()] = name
                if lane.find(_bpmn("childLaneSet")) is None and name not in self.roles:
                    self.refuse(N_("泳道 %(lane)s 不是已知角色"), lane, lane=name or lane.get("id"))

    def _human_task(self, task: etree._Element) -> None:
        self._task_form(task)
        self._task_lane(task, _take_assignment(task))

    def _task_form(self, task: etree._Element) -> None:
        native = _spiff_property(task, "formKey")
        foreign = _take_form(task)
        form_data = _extension(task, CAMUNDA, "formData")
        if native is not None:
            if native not in self.forms:
                self.refuse(N_("表單 %(form)s 不存在，請在表單編輯器建立或選擇既有表單"), task, form=native)
        elif foreign is not None:
            setting, key = foreign
            _set_spiff_property(task, "formKey", key)
            if key in self.forms:
                self.note(N_("%(setting)s 轉為表單 %(form)s"), task, setting=setting, form=key)
            else:
                self.refuse(N_("表單 %(form)s 不存在，請在表單編輯器建立或選擇既有表單"), task, form=key)
        elif form_data is not None:
            self.refuse(N_("使用者工作 %(name)s 的 camunda:formData 表單欄位無法匯入，請在表單編輯器建立表單並選擇"),
                        task, name=_name(task))
        else:
            self.refuse(N_("使用者工作 %(name)s 沒有表單，請選擇表單"), task, name=_name(task))
        if form_data is not None:
            _remove(form_data)

    def _task_lane(self, task: etree._Element, assignment: list[tuple[str, str]]) -> None:
        lane = self.lanes.get(task.get("id"))
        if lane is not None:
            for setting, value in assignment:
                self.note(N_("%(setting)s=%(value)s 不再使用：承辦角色由泳道 %(lane)s 決定"),
                          task, setting=setting, value=value, lane=lane)
        elif assignment:
            self.refuse(N_("使用者工作 %(name)s 不在任何泳道中：%(setting)s 無法轉換，"
                           "承辦角色由泳道決定，請把工作放入角色泳道"),
                        task, name=_name(task), setting=", ".join(f"{s}={v}" for s, v in assignment))
        else:
            self.refuse(N_("使用者工作 %(name)s 不在任何泳道中，請放入角色泳道"), task, name=_name(task))

    def _start_form(self, event: etree._Element) -> None:
        form = _take_form(event)
        if form is not None:
            self.note(N_("開始事件的表單 %(form)s 未放入流程：申請表單在服務設定中選擇"), event, form=form[1])

    # -- scripts -----------------------------------------------------------

    def _script_task(self, task: etree._Element) -> None:
        name = _name(task)
        resource = _pop(task, CAMUNDA, "resource")
        feel = _extension(task, ZEEBE, "script")
        script = task.find(_bpmn("script"))
        source = script.text if script is not None and script.text else ""
        language = (task.get("scriptFormat") or "").strip()
        if resource is not None:
            self.refuse(N_("腳本工作 %(name)s 的腳本放在外部檔案 %(resource)s，無法匯入"),
                        task, name=name, resource=resource)
        if feel is not None:
            self.refuse(N_("腳本工作 %(name)s 使用 FEEL 運算式 %(expression)s，本平台只執行受限 Python"),
                        task, name=name, expression=feel.get("expression", ""))
            _remove(feel)
        if language.lower() not in _PYTHON_FORMATS:
            self.refuse(N_("腳本工作 %(name)s 使用 %(format)s 腳本，本平台只執行受限 Python；腳本已移除"),
                        task, name=name, format=language)
            _pop(task, None, "scriptFormat")
            _pop(task, CAMUNDA, "resultVariable")
            _clear(script)
            return
        problems = evaluator.check(source, "exec") if source.strip() else []
        if problems:
            self.refuse(N_("腳本工作 %(name)s 的 Python 腳本不符合受限 Python 規則，已清空：%(problem)s"),
                        task, name=name, problem=problems[0])
            _clear(script)

    def _spiff_scripts(self, node: etree._Element) -> None:
        for local in ("preScript", "postScript"):
            script = _extension(node, SPIFF, local)
            if script is None or not (script.text or "").strip():
                continue
            problems = evaluator.check(script.text, "exec")
            if problems:
                self.refuse(N_("%(name)s 的 %(setting)s 不符合受限 Python 規則，已移除：%(problem)s"),
                            node, name=_name(node), setting=f"spiffworkflow:{local}", problem=problems[0])
                _remove(script)

    # -- service, send and business rule tasks -----------------------------

    def _service_task(self, task: etree._Element) -> None:
        local = etree.QName(task).localname
        implementation = _take_implementation(task)
        operator = _extension(task, SPIFF, "serviceTaskOperator")
        if local == "sendTask" and not implementation.parts and operator is None:
            return
        if operator is not None and local == "serviceTask":
            if operator.get("id") not in self.handlers:
                self.refuse(N_("服務工作 %(name)s 使用的處理程式 %(handler)s 未註冊，請選擇平台的處理程式"),
                            task, name=_name(task), handler=operator.get("id"))
            return
        task.tag = _bpmn("serviceTask")
        _pop(task, None, "messageRef")
        if implementation.topic in self.handlers:
            self._bind_handler(task, implementation)
            return
        _write_operator(task, "", None, [])
        self._refuse_implementation(task, local, implementation)

    def _refuse_implementation(self, task: etree._Element, local: str, implementation: _Implementation) -> None:
        name = _name(task)
        if local == "businessRuleTask":
            self.refuse(N_("商業規則工作 %(name)s 的決策（%(implementation)s）無法執行，"
                           "已改為服務工作，請選擇平台的處理程式"),
                        task, name=name, implementation=implementation.description or "DMN")
        elif implementation.parts:
            self.refuse(N_("服務工作 %(name)s 需要選擇平台的處理程式（原實作：%(implementation)s）"),
                        task, name=name, implementation=implementation.description)
        else:
            self.refuse(N_("服務工作 %(name)s 需要選擇平台的處理程式"), task, name=name)

    def _bind_handler(self, task: etree._Element, implementation: _Implementation) -> None:
        parameters = self._input_parameters(task)
        _write_operator(task, implementation.topic, implementation.result_variable, parameters)
        self.note(N_("%(implementation)s 轉為處理程式 %(handler)s"), task,
                  implementation=implementation.description, handler=implementation.topic)

    def _input_parameters(self, task: etree._Element) -> list[tuple[str, str]]:
        """Input mappings become handler parameters when their values translate; outputs cannot."""
        parameters = []
        for target, source, python in _input_mappings(task):
            if python is None:
                self.refuse(N_("輸入對應 %(target)s 的值 %(source)s 無法轉換，請在工作室設定參數"),
                            task, target=target, source=source)
            else:
                parameters.append((target, python))
                self.note(N_("輸入對應 %(target)s 轉為參數 %(expression)s"), task, target=target, expression=python)
        for target in _output_targets(task):
            self.refuse(N_("輸出對應 %(target)s 無法轉換：處理程式的結果存放在結果變數，請在工作室調整"),
                        task, target=target)
        for mapping in (_extension(task, CAMUNDA, "inputOutput"), _extension(task, ZEEBE, "ioMapping")):
            if mapping is not None:
                _remove(mapping)
        return parameters

    # -- expressions ---------------------------------------------------------

    def _sequence_flow(self, flow: etree._Element) -> None:
        expression = flow.find(_bpmn("conditionExpression"))
        if expression is not None:
            self._expression(flow, expression, N_("條件 %(original)s 轉為 %(expression)s"),
                             N_("條件 %(expression)s 無法自動轉換為 Python，請在工作室改寫"))

    def _expression(self, owner: etree._Element, node: etree._Element, converted: str, refused: str) -> None:
        """Translate a JUEL expression to restricted Python in place; foreign or unsafe ones are reported."""
        text = (node.text or "").strip()
        language = (node.get("language") or "").strip()
        resource = _pop(node, CAMUNDA, "resource")
        if resource is not None:
            self.refuse(refused, owner, expression=resource)
            return
        if not text:
            return
        if language.lower() not in _EXPRESSION_LANGUAGES:
            self.refuse(refused, owner, expression=f"{language}: {text}")
            return
        if not is_juel(text):
            if evaluator.check(text, "eval"):
                self.refuse(refused, owner, expression=text)
            return
        python = juel_to_python(text)
        if python is None or evaluator.check(python, "eval"):
            self.refuse(refused, owner, expression=text)
            return
        node.text = python
        _pop(node, None, "language")
        self.note(converted, owner, original=text, expression=python)

    def _multi_instance(self, loop: etree._Element) -> None:
        activity = loop.getparent()
        for local in ("loopCardinality", "completionCondition"):
            node = loop.find(_bpmn(local))
            if node is not None:
                self._expression(activity, node, N_("運算式 %(original)s 轉為 %(expression)s"),
                                 N_("運算式 %(expression)s 無法自動轉換為 Python，請在工作室改寫"))
        data = _take_loop_data(loop, activity)
        if data is None:
            return
        if not data.convertible:
            self.refuse(N_("多重執行的集合 %(expression)s 無法轉換，請在工作室設定輸入集合"),
                        activity, expression=data.source)
            return
        _set_loop_data(loop, data)
        self.note(N_("%(setting)s 轉為多重執行的輸入集合 %(collection)s"), activity,
                  setting=data.setting, collection=data.collection)

    def _timer(self, definition: etree._Element) -> None:
        event = definition.getparent()
        times = [child for child in definition if etree.QName(child).localname in _TIMER_KINDS]
        if not any((node.text or "").strip() for node in times):
            self.refuse(N_("計時器 %(name)s 沒有設定時間"), event, name=_name(event))
            return
        for node in times:
            self._timer_value(event, node)

    def _timer_value(self, event: etree._Element, node: etree._Element) -> None:
        text = (node.text or "").strip()
        kind = etree.QName(node).localname
        literal = iso_literal(kind, text)
        if literal is not None:
            node.text = repr(literal)
            self.note(N_("計時器 %(name)s 的時間 %(value)s 轉為運算式 %(expression)s"),
                      event, name=_name(event), value=text, expression=node.text)
        elif any(iso_literal(other, text) for other in _TIMER_KINDS):
            self.refuse(N_("計時器 %(name)s 的時間 %(expression)s 與計時器類型（日期、期間或週期）不符"),
                        event, name=_name(event), expression=text)
        elif is_juel(text):
            self.refuse(N_("計時器 %(name)s 的時間 %(expression)s 是 JUEL 運算式，無法轉換，"
                           "請改用 ISO 8601 時間或 Python 運算式"), event, name=_name(event), expression=text)
        elif evaluator.check(text, "eval"):
            self.refuse(N_("計時器 %(name)s 的時間 %(expression)s 無法轉換，請改用 ISO 8601 時間或 Python 運算式"),
                        event, name=_name(event), expression=text)

    # -- call activities -----------------------------------------------------

    def _call_activity(self, activity: etree._Element) -> None:
        called = _called_element(activity)
        for local in ("in", "out"):
            for mapping in _extensions(activity, CAMUNDA, local):
                if mapping.get("variables") == "all":
                    _remove(mapping)
        if called is None or called not in {p.get("id") for p in self.kept}:
            self.refuse(N_("呼叫活動 %(name)s 呼叫的流程 %(process)s 不在檔案中，無法匯入"),
                        activity, name=_name(activity), process=called or "")
        else:
            activity.set("calledElement", called)

    # -- whole-diagram checks ------------------------------------------------

    def _check_gateways(self) -> None:
        flows = [flow for flow in self._nodes() if etree.QName(flow).localname == "sequenceFlow"]
        for gateway in self._nodes():
            if etree.QName(gateway).localname not in ("exclusiveGateway", "inclusiveGateway"):
                continue
            outgoing = [flow for flow in flows if flow.get("sourceRef") == gateway.get("id")]
            if len(outgoing) < 2:
                continue
            for flow in outgoing:
                condition = flow.find(_bpmn("conditionExpression"))
                unconditional = condition is None or not (condition.text or "").strip()
                if unconditional and flow.get("id") != gateway.get("default"):
                    self.refuse(N_("閘道 %(name)s 的出口 %(flow)s 沒有條件，請設定條件或設為預設路徑"),
                                flow, name=_name(gateway), flow=_name(flow))

    def _check_messages(self) -> None:
        """A message reaches an event only from this process or from the platform's own code."""
        names = {m.get("id"): m.get("name") or m.get("id") for m in self.root.iter(_bpmn("message"))}
        catches, throws = self._message_events(names)
        thrown = {message for _, message in throws} | self.messages
        caught = {message for _, message in catches}
        for event, message in catches:
            if etree.QName(event).localname == "startEvent" and event.getparent() in self.kept:
                self.refuse(N_("訊息開始事件 %(name)s 無法執行：案件由申請開始，請改用一般開始事件"),
                            event, name=_name(event))
            elif message is None or message not in thrown:
                self.refuse(N_("訊息事件 %(name)s 等待的訊息 %(message)s 沒有由本流程或平台送出，流程會永遠停在這裡"),
                            event, name=_name(event), message=message or "")
        for event, message in throws:
            if message is None or message not in caught:
                self.refuse(N_("訊息事件 %(name)s 送出的訊息 %(message)s 沒有本流程的接收者，本平台不會送出外部訊息"),
                            event, name=_name(event), message=message or "")

    def _message_events(self, names: dict[str, str]) -> tuple[list, list]:
        catches, throws = [], []
        for node in self._nodes():
            local = etree.QName(node).localname
            definition = node.find(_bpmn("messageEventDefinition"))
            if local in ("receiveTask", "sendTask"):
                target = catches if local == "receiveTask" else throws
                target.append((node, names.get(node.get("messageRef"))))
            elif definition is not None and local in _CATCHING:
                catches.append((node, names.get(definition.get("messageRef"))))
            elif definition is not None and local in _THROWING:
                throws.append((node, names.get(definition.get("messageRef"))))
        return catches, throws

    # -- foreign namespaces --------------------------------------------------

    def _strip_foreign(self, node: etree._Element) -> None:
        for attribute in list(node.attrib):
            namespace = etree.QName(attribute).namespace
            if namespace is not None and namespace not in KEPT_NAMESPACES:
                value = node.attrib.pop(attribute)
                self._report_foreign(node, attribute, value)
        for child in list(node):
            if not isinstance(child.tag, str):
                _remove(child)
            elif etree.QName(child).namespace not in KEPT_NAMESPACES:
                self._report_foreign_element(child)
                _remove(child)
            else:
                self._strip_foreign(child)
        if node.tag == _bpmn("extensionElements") and len(node) == 0:
            _remove(node)

    def _report_foreign(self, node: etree._Element, attribute: str, value: str) -> None:
        qname = etree.QName(attribute)
        if _is_cosmetic(qname):
            return
        self.refuse(N_("%(setting)s=%(value)s 無法在本平台執行，已移除"), _owner(node),
                    setting=_label(qname, node), value=value)

    def _report_foreign_element(self, element: etree._Element) -> None:
        qname = etree.QName(element)
        owner = _owner(element)
        local = qname.localname
        if _is_cosmetic(qname):
            return
        if local in ("executionListener", "executionListeners"):
            self.refuse(N_("執行監聽器無法執行：%(listener)s"), owner, listener=_describe_listeners(element))
        elif local in ("taskListener", "taskListeners"):
            self.refuse(N_("工作監聽器無法執行：%(listener)s"), owner, listener=_describe_listeners(element))
        elif local in ("inputOutput", "ioMapping"):
            self.refuse(N_("輸入輸出對應無法執行：%(mapping)s"), owner, mapping=_describe_mappings(element))
        else:
            self.refuse(N_("%(setting)s 無法在本平台執行，已移除"), owner, setting=_label(qname, element))


# --------------------------------------------------------------------------
# Reading foreign settings (each one read is removed from the element)
# --------------------------------------------------------------------------

def _take_form(node: etree._Element) -> tuple[str, str] | None:
    """(setting, form key) from camunda:formKey/formRef or zeebe:formDefinition."""
    found = None
    for local in ("formKey", "formRef"):
        value = _pop(node, CAMUNDA, local)
        if value and found is None:
            found = (f"camunda:{local}", value)
    definition = _extension(node, ZEEBE, "formDefinition")
    if definition is not None:
        for attribute in ("formId", "formKey", "externalReference"):
            if definition.get(attribute) and found is None:
                found = (f"zeebe:formDefinition {attribute}", definition.get(attribute))
        _remove(definition)
    if found is None:
        return None
    key = form_key(found[1])
    return (found[0], key) if key else None


def form_key(reference: str) -> str:
    """The bare form key in a Camunda form reference: ``embedded:app:forms/x.html`` is ``x``."""
    key = reference.strip()
    for prefix in _FORM_PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix):]
            break
    key = key.rsplit("/", 1)[-1]
    stem, dot, _ = key.rpartition(".")
    return stem if dot and stem else key


def _take_assignment(task: etree._Element) -> list[tuple[str, str]]:
    found = []
    for local in ("assignee", "candidateGroups", "candidateUsers"):
        value = _pop(task, CAMUNDA, local)
        if value:
            found.append((f"camunda:{local}", value))
    definition = _extension(task, ZEEBE, "assignmentDefinition")
    if definition is not None:
        found += [(f"zeebe:{local}", definition.get(local))
                  for local in ("assignee", "candidateGroups", "candidateUsers") if definition.get(local)]
        _remove(definition)
    return found


def _take_implementation(task: etree._Element) -> _Implementation:
    implementation = _Implementation()
    kind = _pop(task, CAMUNDA, "type")
    topic = _pop(task, CAMUNDA, "topic")
    if kind == "external":
        implementation.parts.append(f"camunda:topic={topic or ''}")
        implementation.topic = topic
    elif kind:
        implementation.parts.append(f"camunda:type={kind}")
    for local in ("class", "delegateExpression", "expression", "decisionRef"):
        value = _pop(task, CAMUNDA, local)
        if value:
            implementation.parts.append(f"camunda:{local}={value}")
    implementation.result_variable = _pop(task, CAMUNDA, "resultVariable")
    connector = _extension(task, CAMUNDA, "connector")
    if connector is not None:
        implementation.parts.append(f"camunda:connector={_connector_id(connector)}")
        _remove(connector)
    definition = _extension(task, ZEEBE, "taskDefinition")
    if definition is not None:
        kind = (definition.get("type") or "").strip()
        implementation.parts.append(f"zeebe:taskDefinition type={kind}")
        if kind and not kind.startswith("="):
            implementation.topic = kind
        _remove(definition)
    for decision, label in ((_extension(task, ZEEBE, "calledDecision"), "zeebe:calledDecision"),
                            (_extension(task, SPIFF, "calledDecisionId"), "spiffworkflow:calledDecisionId")):
        if decision is not None:
            implementation.parts.append(f"{label}={(decision.get('decisionId') or decision.text or '').strip()}")
            _remove(decision)
    return implementation


def _connector_id(connector: etree._Element) -> str:
    node = connector.find(f"{{{CAMUNDA}}}connectorId")
    return node.text if node is not None and node.text else ""


def _input_mappings(task: etree._Element) -> Iterator[tuple[str, str, str | None]]:
    """(target, source as written, Python or None) for each input mapping of a service task."""
    camunda = _extension(task, CAMUNDA, "inputOutput")
    for parameter in camunda.findall(f"{{{CAMUNDA}}}inputParameter") if camunda is not None else ():
        text = parameter.text or ""
        python = None if len(parameter) else juel_value(text)
        yield parameter.get("name", ""), text.strip(), _checked(python, parameter.get("name", ""))
    zeebe = _extension(task, ZEEBE, "ioMapping")
    for mapping in zeebe.findall(f"{{{ZEEBE}}}input") if zeebe is not None else ():
        source = mapping.get("source", "")
        yield mapping.get("target", ""), source, _checked(feel_value(source), mapping.get("target", ""))


def _output_targets(task: etree._Element) -> list[str]:
    targets = []
    camunda = _extension(task, CAMUNDA, "inputOutput")
    if camunda is not None:
        targets += [parameter.get("name", "") for parameter in camunda.findall(f"{{{CAMUNDA}}}outputParameter")]
    zeebe = _extension(task, ZEEBE, "ioMapping")
    if zeebe is not None:
        targets += [mapping.get("target", "") for mapping in zeebe.findall(f"{{{ZEEBE}}}output")]
    return targets


def _checked(python: str | None, target: str) -> str | None:
    if python is None or not target.isidentifier() or keyword.iskeyword(target):
        return None
    return None if evaluator.check(python, "eval") else python


class _LoopData(NamedTuple):
    """A multi-instance's collection as the source engine wrote it, and as Python names."""

    setting: str
    source: str
    collection: str | None
    item: str | None = None
    output: str | None = None
    output_item: str | None = None

    @property
    def convertible(self) -> bool:
        names = (self.collection, self.item, self.output, self.output_item)
        return self.collection is not None and all(
            name is None or (name.isidentifier() and not keyword.iskeyword(name)) for name in names)


def _take_loop_data(loop: etree._Element, activity: etree._Element) -> _LoopData | None:
    collection = _pop(loop, CAMUNDA, "collection")
    item = _pop(loop, CAMUNDA, "elementVariable")
    if collection:
        python = juel_to_python(collection) if is_juel(collection) else collection.strip()
        return _LoopData("camunda:collection", collection, python, item)
    zeebe = _extension(activity, ZEEBE, "loopCharacteristics")
    if zeebe is None:
        return None
    _remove(zeebe)
    source = zeebe.get("inputCollection", "")
    output_element = zeebe.get("outputElement")
    return _LoopData(
        "zeebe:loopCharacteristics", source,
        feel_value(source) if source.startswith("=") else None,
        zeebe.get("inputElement"),
        zeebe.get("outputCollection"),
        (feel_value(output_element) or output_element) if output_element else None,
    )


def _set_loop_data(loop: etree._Element, data: _LoopData) -> None:
    """Write Spiff's loop data children, keeping the order the BPMN schema requires."""
    children = {etree.QName(child).localname: child for child in loop}
    children["loopDataInputRef"] = _text_element("loopDataInputRef", data.collection)
    if data.item:
        children["inputDataItem"] = _bpmn_element("inputDataItem", id=data.item, name=data.item)
    if data.output:
        children["loopDataOutputRef"] = _text_element("loopDataOutputRef", data.output)
    if data.output_item:
        children["outputDataItem"] = _bpmn_element("outputDataItem", id=data.output_item, name=data.output_item)
    for child in list(loop):
        loop.remove(child)
    for local in _MULTI_INSTANCE_ORDER:
        if local in children:
            loop.append(children[local])
    for local, child in children.items():
        if local not in _MULTI_INSTANCE_ORDER:
            loop.append(child)


def _called_element(activity: etree._Element) -> str | None:
    zeebe = _extension(activity, ZEEBE, "calledElement")
    called = activity.get("calledElement")
    if zeebe is not None:
        process_id = zeebe.get("processId", "")
        if not called and process_id and not process_id.startswith("="):
            called = process_id
        _remove(zeebe)
    return called


def _called_processes(process: etree._Element, processes: dict[str, etree._Element]) -> set[str]:
    """The chosen process and every process of the file its call activities reach."""
    wanted, pending = set(), [process.get("id")]
    while pending:
        pid = pending.pop()
        if pid in wanted or pid not in processes:
            continue
        wanted.add(pid)
        for activity in processes[pid].iter(_bpmn("callActivity")):
            zeebe = _extension(activity, ZEEBE, "calledElement")
            pending += [activity.get("calledElement"), zeebe.get("processId") if zeebe is not None else None]
    return wanted


# --------------------------------------------------------------------------
# Writing this platform's dialect
# --------------------------------------------------------------------------

def _extension_elements(node: etree._Element) -> etree._Element:
    """The node's extensionElements, created after its documentation if missing (BPMN's order)."""
    existing = node.find(_bpmn("extensionElements"))
    if existing is not None:
        return existing
    created = _bpmn_element("extensionElements")
    documentation = node.findall(_bpmn("documentation"))
    if documentation:
        documentation[-1].addnext(created)
    else:
        node.insert(0, created)
    return created


def _spiff_property(node: etree._Element, name: str) -> str | None:
    for prop in node.iterfind(f"{_bpmn('extensionElements')}/{{{SPIFF}}}properties/{{{SPIFF}}}property"):
        if prop.get("name") == name:
            return prop.get("value")
    return None


def _set_spiff_property(node: etree._Element, name: str, value: str) -> None:
    extensions = _extension_elements(node)
    properties = extensions.find(f"{{{SPIFF}}}properties")
    if properties is None:
        properties = etree.SubElement(extensions, f"{{{SPIFF}}}properties")
    for prop in properties.findall(f"{{{SPIFF}}}property"):
        if prop.get("name") == name:
            prop.set("value", value)
            return
    etree.SubElement(properties, f"{{{SPIFF}}}property", name=name, value=value)


def _write_operator(task: etree._Element, handler: str, result_variable: str | None,
                    parameters: list[tuple[str, str]]) -> None:
    extensions = _extension_elements(task)
    operator = etree.SubElement(extensions, f"{{{SPIFF}}}serviceTaskOperator", id=handler)
    if result_variable:
        operator.set("resultVariable", result_variable)
    if parameters:
        holder = etree.SubElement(operator, f"{{{SPIFF}}}parameters")
        for name, value in parameters:
            etree.SubElement(holder, f"{{{SPIFF}}}parameter", id=name, type="any", value=value)


# --------------------------------------------------------------------------
# Small tree helpers
# --------------------------------------------------------------------------

def _bpmn(local: str) -> str:
    return f"{{{BPMN}}}{local}"


def _bpmn_element(local: str, **attributes: str) -> etree._Element:
    return etree.Element(_bpmn(local), **attributes)


def _text_element(local: str, text: str) -> etree._Element:
    element = _bpmn_element(local)
    element.text = text
    return element


def _extensions(node: etree._Element, namespace: str, local: str) -> list[etree._Element]:
    return node.findall(f"{_bpmn('extensionElements')}/{{{namespace}}}{local}")


def _extension(node: etree._Element, namespace: str, local: str) -> etree._Element | None:
    found = _extensions(node, namespace, local)
    return found[0] if found else None


def _pop(node: etree._Element, namespace: str | None, local: str) -> str | None:
    return node.attrib.pop(f"{{{namespace}}}{local}" if namespace else local, None)


def _remove(node: etree._Element) -> None:
    parent = node.getparent()
    if parent is not None:
        parent.remove(node)


def _clear(script: etree._Element | None) -> None:
    if script is not None:
        for child in list(script):
            script.remove(child)
        script.text = None


def _name(node: etree._Element | None) -> str:
    if node is None:
        return ""
    return " ".join((node.get("name") or node.get("id") or "").split())


def _element_id(element: etree._Element | str | None) -> str | None:
    if element is None or isinstance(element, str):
        return element
    return element.get("id")


def _owner(node: etree._Element) -> etree._Element | None:
    """The nearest BPMN element with an id: what a foreign setting belongs to."""
    current = node
    while current is not None:
        if current.get("id") and etree.QName(current).namespace in KEPT_NAMESPACES:
            return current
        current = current.getparent()
    return None


def _is_flow_node(node: etree._Element) -> bool:
    if not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN:
        return False
    return etree.QName(node).localname not in (
        "laneSet", "documentation", "extensionElements", "sequenceFlow", "textAnnotation",
        "association", "dataObject", "property", "ioSpecification", "group")


def _is_cosmetic(qname: etree.QName) -> bool:
    return qname.namespace == MODELER or (qname.namespace, qname.localname) in _COSMETIC


def _label(qname: etree.QName, node: etree._Element) -> str:
    prefixes = {uri: prefix for prefix, uri in node.nsmap.items() if prefix}
    prefix = _PREFIXES.get(qname.namespace) or prefixes.get(qname.namespace) or qname.namespace
    return f"{prefix}:{qname.localname}"


def _describe_listeners(element: etree._Element) -> str:
    listeners = [element] if etree.QName(element).localname.endswith("Listener") else list(element)
    described = []
    for listener in listeners:
        event = listener.get("event") or listener.get("eventType") or ""
        script = listener.find(f"{{{CAMUNDA}}}script")
        written = f"{script.get('scriptFormat', '')} script" if script is not None else ""
        target = next((listener.get(attribute) for attribute in ("class", "expression", "delegateExpression", "type")
                       if listener.get(attribute)), written)
        described.append(f"{event} {target}".strip())
    return ", ".join(described)


def _describe_mappings(element: etree._Element) -> str:
    children = [child for child in element if isinstance(child.tag, str)]
    return ", ".join(child.get("name") or child.get("target") or "" for child in children)
