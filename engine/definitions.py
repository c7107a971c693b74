"""Deploying diagrams: parse, check (lint) and version them.

Checks run before anything is stored, so a diagram whose conditions or scripts
the restricted evaluator refuses never becomes a definition.
"""
from __future__ import annotations

import ast
import hashlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask

from . import evaluator
from .errors import N_
from .forms import Form, FormDefinitionError, FormNotFound
from .workflow import HandlerRegistry, ParsedDefinition, parse_definition


class FormSource(Protocol):
    """Where a definition's forms come from: the form files, or a draft's own edits over them."""

    def get(self, key: str) -> Form: ...

KNOWN_ROLES = frozenset(
    {"applicant", "counter_clerk", "traffic_clerk", "police_clerk", "case_clerk", "supervisor",
     "district_social_clerk", "social_bureau_clerk", "care_clerk", "care_assessor"}
)
EXPRESSION_PROPERTIES = ("agency", "assignee")


@dataclass(frozen=True)
class Problem:
    """One finding about a diagram, tied to the element it concerns when there is one.

    ``message`` is marked with ``N_`` and may hold ``%(name)s`` placeholders filled
    from ``params``; the web layer translates it before filling them in.
    """

    message: str
    element: str | None = None
    params: Mapping[str, object] = field(default_factory=dict)

    def text(self, translate: Callable[[str], str] = lambda message: message) -> str:
        """The message in the reader's language; marked labels among the params are translated too."""
        template = translate(self.message)
        if not self.params:
            return template
        return template % {k: translate(v) if isinstance(v, str) and v else v for k, v in self.params.items()}

    def __str__(self) -> str:
        return f"{self.element}: {self.text()}" if self.element else self.text()


def sha256(bpmn: bytes) -> str:
    return hashlib.sha256(bpmn).hexdigest()


def _unsafe(element: str, what: str, source: str, mode: str) -> list[Problem]:
    return [Problem(N_("%(what)s無法通過安全檢查：%(detail)s"), element, {"what": what, "detail": detail})
            for detail in evaluator.check(source, mode)]


def lint(
    parsed: ParsedDefinition,
    forms: FormSource,
    handlers: HandlerRegistry,
    roles: Collection[str] = KNOWN_ROLES,
    *,
    messages: Collection[str] = (),
) -> list[Problem]:
    """Every problem that would make the definition unsafe or unrunnable, each on its element.

    A condition's problem is shown on the sequence flow that carries it;
    ``messages`` are the message names the code correlates.
    """
    problems: list[Problem] = []
    for process in (parsed.spec, *parsed.subprocess_specs.values()):
        for spec in process.task_specs.values():
            element = spec.bpmn_id
            if element is None:
                continue
            problems += _lint_scripts(element, spec)
            problems += _lint_conditions(element, spec, parsed.flows)
            problems += _lint_service(element, spec, handlers)
            problems += _lint_timer(element, spec)
            problems += _lint_message(element, spec, messages)
            if spec.manual:
                problems += _lint_user_task(element, spec, forms, roles)
        problems += _lint_loops(process)
    return problems


_SCRIPT_LABELS = {"script": N_("腳本"), "prescript": N_("前置腳本"), "postscript": N_("後置腳本")}


def _lint_scripts(element: str, spec) -> list[Problem]:
    problems = []
    if isinstance(spec, ScriptTask) and not (spec.script or "").strip():
        problems.append(Problem(N_("腳本工作沒有腳本"), element))
    for attr, what in _SCRIPT_LABELS.items():
        source = getattr(spec, attr, None)
        if source:
            problems += _unsafe(element, what, source, "exec")
    return problems


def _lint_conditions(element: str, spec, flows: Mapping[tuple[str, str], str]) -> list[Problem]:
    problems = []
    for entry in getattr(spec, "cond_task_specs", None) or []:
        condition = entry.get("condition") if isinstance(entry, dict) else entry[0]
        target = entry.get("task_spec") if isinstance(entry, dict) else entry[1]
        source = getattr(condition, "args", [condition])[0] if condition is not None else None
        if isinstance(source, str) and source:
            flow = flows.get((element, target))
            problems += [Problem(N_("條件（%(source)s → %(target)s）無法通過安全檢查：%(detail)s"),
                                 flow or element, {"source": element, "target": target, "detail": detail})
                         for detail in evaluator.check(source, "eval")]
    condition = getattr(spec, "condition", None)
    if isinstance(condition, str) and condition:
        problems += _unsafe(element, N_("完成條件"), condition, "eval")
    return problems


def _lint_service(element: str, spec, handlers: HandlerRegistry) -> list[Problem]:
    operation = getattr(spec, "operation_name", None)
    if operation is None:
        return []
    problems = [] if operation in handlers else [
        Problem(N_("沒有名為 %(handler)s 的處理程式"), element, {"handler": operation})]
    for name, param in (getattr(spec, "operation_params", None) or {}).items():
        problems += _unsafe(element, N_("參數 ") + name, str(param.get("value", "")), "eval")
    return problems


def _lint_timer(element: str, spec) -> list[Problem]:
    definition = getattr(spec, "event_definition", None)
    expression = getattr(definition, "expression", None)
    if not (isinstance(spec, CatchingEvent) and isinstance(definition, TimerEventDefinition)):
        return []
    if not isinstance(expression, str) or not expression.strip():
        return [Problem(N_("計時器沒有設定時間"), element)]
    problems = _unsafe(element, N_("計時器"), expression, "eval")
    if problems:
        return problems
    try:
        literal = ast.literal_eval(expression.strip())
    except (ValueError, SyntaxError):
        return []  # computed when the timer is reached; its safety was checked above
    if not isinstance(literal, str) or not _timer_literal_parses(definition, literal):
        return [Problem(N_("計時器的時間 %(value)s 不是有效的 ISO 8601 日期、期間或週期"), element,
                        {"value": expression.strip()})]
    return []


def _timer_literal_parses(definition: TimerEventDefinition, value: str) -> bool:
    try:
        if isinstance(definition, CycleTimerEventDefinition):
            TimerEventDefinition.parse_iso_recurring_interval(value)
        elif isinstance(definition, DurationTimerEventDefinition):
            TimerEventDefinition.parse_time_or_duration(value)
        else:
            TimerEventDefinition.get_datetime(value)
    except Exception:  # noqa: BLE001 - SpiffWorkflow's parsers raise bare Exception
        return False
    return True


def _lint_message(element: str, spec, messages: Collection[str]) -> list[Problem]:
    definition = getattr(spec, "event_definition", None)
    if not isinstance(spec, CatchingEvent) or not isinstance(definition, MessageEventDefinition):
        return []
    if definition.name in messages:
        return []
    return [Problem(N_("沒有程式會傳送訊息 %(message)s，流程會永遠停在這裡"), element,
                    {"message": definition.name or ""})]


def _lint_user_task(element: str, spec, forms: FormSource, roles: Collection[str]) -> list[Problem]:
    problems = []
    if not spec.lane:
        problems.append(Problem(N_("使用者工作不在任何泳道（角色）中"), element))
    elif spec.lane not in roles:
        problems.append(Problem(N_("泳道 %(lane)s 不是已知的角色"), element, {"lane": spec.lane}))
    properties = spec.extensions.get("properties", {}) if hasattr(spec, "extensions") else {}
    form_key = properties.get("formKey")
    if not form_key:
        problems.append(Problem(N_("使用者工作沒有指定表單（formKey）"), element))
    else:
        problems += _lint_form(element, form_key, forms)
    for name in EXPRESSION_PROPERTIES:
        if properties.get(name):
            problems += _unsafe(element, name, properties[name], "eval")
    due_days = properties.get("dueDays")
    if due_days is not None and not str(due_days).isdigit():
        problems.append(Problem(N_("dueDays 必須是工作天數（整數）"), element))
    remind = properties.get("remindHours")
    if remind is not None and not (str(remind).isdigit() and due_days is not None):
        problems.append(Problem(N_("remindHours 必須是整數小時，且需同時設定 dueDays"), element))
    if properties.get("escalate") not in (None, "supervisor"):
        problems.append(Problem(N_("escalate 只能是 supervisor"), element))
    return problems


def _lint_form(element: str, form_key: str, forms: FormSource) -> list[Problem]:
    try:
        forms.get(form_key)
    except FormNotFound:
        return [Problem(N_("表單 %(form)s 不存在"), element, {"form": form_key})]
    except FormDefinitionError as exc:
        return [Problem(N_("表單 %(form)s 的定義有誤：%(detail)s"), element,
                        {"form": form_key, "detail": "; ".join(exc.problems)})]
    return []


def _lint_loops(process) -> list[Problem]:
    """Cycles that never wait for a person, a timer or a message run until SpiffWorkflow gives up."""
    automatic = {name: spec for name, spec in process.task_specs.items()
                 if spec.bpmn_id is not None and not _waits(spec)}
    problems = []
    for cycle in _cycles({name: [o.name for o in spec.outputs if o.name in automatic]
                          for name, spec in automatic.items()}):
        first = automatic[min(cycle)]
        problems.append(Problem(N_("迴圈沒有經過任何需要等待的步驟（使用者工作、計時器或訊息），會無限執行"),
                                first.bpmn_id, {}))
    return problems


def _waits(spec) -> bool:
    return bool(spec.manual) or isinstance(spec, CatchingEvent)


def _cycles(graph: Mapping[str, list[str]]) -> list[set[str]]:
    """Strongly connected components with a cycle in them (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        found.append(component)
    return found


def parse_and_lint(
    bpmn: bytes,
    forms: FormSource,
    handlers: HandlerRegistry,
    process_id: str | None = None,
    *,
    roles: Collection[str] = KNOWN_ROLES,
    messages: Collection[str] = (),
) -> tuple[ParsedDefinition, list[Problem]]:
    if isinstance(bpmn, str):
        raise TypeError("pass BPMN as bytes")
    parsed = parse_definition(bpmn, process_id)
    return parsed, lint(parsed, forms, handlers, roles, messages=messages)
