"""Test runs of a draft diagram: the whole workflow in memory, nothing outside touched.

An analyst picks answers for the user tasks (or lets ``sample_answers`` fill
them from the forms) and the diagram runs to its end exactly as the case engine
would run it, with three differences that keep the run harmless and quick:

* service tasks never reach a handler; they get the result the analyst chose or
  the handler's registered example, and the parameters they would have sent are
  recorded;
* timers are computed and listed but never waited for: boundary timers on user
  tasks never fire (the task is completed first), intermediate timers fire at
  once;
* a loop that never ends is cut off after ``max_steps`` steps.

Scripts, conditions and timer expressions still run in the restricted evaluator.
"""
from __future__ import annotations

import copy
import json
import mimetypes
import re
import re._parser as regex_parser  # the standard library's own parser of regular expressions
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from jsonschema import Draft202012Validator
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins import (
    BoundaryEventMixin,
    CallActivityMixin,
    EndEventMixin,
    EventBasedGatewayMixin,
    ExclusiveGatewayMixin,
    InclusiveGatewayMixin,
    IntermediateCatchEventMixin,
    IntermediateThrowEventMixin,
    ManualTaskMixin,
    NoneTaskMixin,
    ParallelGatewayMixin,
    ReceiveTaskMixin,
    ScriptTaskMixin,
    SendTaskMixin,
    ServiceTaskMixin,
    StartEventMixin,
    SubWorkflowTaskMixin,
    TransactionSubprocessMixin,
    UserTaskMixin,
)
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from .. import evaluator
from ..calendar import TAIPEI
from ..definitions import Problem
from ..errors import N_, HandlerFailed
from ..forms import FORMAT_CHECKER, Form
from ..workflow import (
    ParsedDefinition,
    RestrictedScriptEngine,
    apply_answers,
    new_workflow,
    ready_user_tasks,
    task_properties,
)

__all__ = ["Step", "TestRun", "TimerPreview", "run", "sample_answers"]


# -- messages --------------------------------------------------------------------------------------

INVALID_ANSWERS = N_("「%(name)s」的答案不符合表單：%(errors)s")
NO_FORM = N_("「%(name)s」的表單 %(form)s 無法載入")
PROPERTY_FAILED = N_("「%(name)s」的屬性 %(property)s 運算失敗：%(error)s")
CONDITION_FAILED = N_("條件運算失敗：%(error)s")
SCRIPT_FAILED = N_("腳本執行失敗：%(error)s")
PARAMETER_FAILED = N_("服務任務參數運算失敗：%(error)s")
EXAMPLE_FAILED = N_("服務任務的範例結果無法使用：%(error)s")
TIMER_FAILED = N_("計時器運算失敗：%(error)s")
RUN_FAILED = N_("試跑失敗：%(error)s")
NO_EXAMPLE = N_("服務任務「%(name)s」（%(operation)s）沒有範例結果，以空值繼續試跑")
RUNAWAY = N_("試跑超過 %(limit)s 步仍未結束，可能是無法離開的迴圈：「%(name)s」重複了 %(count)s 次")
WAITING_MESSAGE = N_("試跑在此停住：等待訊息 %(name)s")
WAITING = N_("試跑在此停住：「%(name)s」在等待，無法繼續")
NOTHING_READY = N_("試跑在此停住：沒有可以繼續的步驟")


# -- results ---------------------------------------------------------------------------------------

@dataclass
class Step:
    """One element the run passed through, in order."""

    element: str
    name: str
    kind: str
    lane: str | None
    answers: dict | None
    params: dict | None
    result: Any
    data: dict
    instance: int | None


@dataclass
class TimerPreview:
    """A timer the workflow would set, with when it would fire (ISO UTC, None if unknown)."""

    element: str
    name: str
    expression: str
    fires_at: str | None
    attached_to: str | None


@dataclass
class TestRun:
    """What a test run did: ``outcome`` is completed, stuck, runaway or failed."""

    __test__ = False  # not a pytest test class, whatever its name

    outcome: str
    steps: list[Step] = field(default_factory=list)
    path: list[str] = field(default_factory=list)
    timers: list[TimerPreview] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    end_event: str | None = None


# -- sample answers --------------------------------------------------------------------------------

SAMPLE_TEXT = "範例"
SAMPLE_TIME = "09:00"
SAMPLE_DOCUMENT_ID = "testrun-sample"
_FORMAT_SAMPLES = {
    "time": SAMPLE_TIME,
    "email": "sample@example.com",
    "tw-national-id": "A123456789",
    "tw-business-id": "53212539",
}
_CONDITION_ROUNDS = 4
_OMIT = object()


def sample_answers(form: Form, *, today: date | None = None) -> dict:
    """A valid answer for ``form``, as an analyst would give it without thinking.

    Each property takes its ``default``, else its first ``enum``/``oneOf``
    option, else the smallest value its limits and format allow (dates are
    today in Taipei). Arrays get ``minItems`` items (one if required), files
    are left out unless required, and ``if``/``then``/``else`` rules are
    followed, so a first option that makes a reason required gets a reason.
    """
    day = today or datetime.now(TAIPEI).date()
    value = _sample(form.schema, True, day)
    return value if isinstance(value, dict) else {}


def _sample(schema: Mapping, required: bool, today: date) -> Any:
    for keyword in ("default", "const"):
        if keyword in schema:
            return copy.deepcopy(schema[keyword])
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return copy.deepcopy(schema["enum"][0])
    for keyword in ("oneOf", "anyOf"):
        options = schema.get(keyword)
        if isinstance(options, list) and options and isinstance(options[0], Mapping):
            rest = {k: v for k, v in schema.items() if k != keyword}
            return _sample(_merge(rest, options[0]), required, today)
    if "x-attachment" in schema:
        return _descriptor(schema) if required else _OMIT
    types = _types(schema)
    if "object" in types or isinstance(schema.get("properties"), Mapping):
        return _sample_object(schema, today)
    if "array" in types:
        return _sample_array(schema, required, today)
    if "string" in types:
        return _sample_string(schema, today)
    if types & {"integer", "number"}:
        return _sample_number(schema, "integer" in types)
    if "boolean" in types:
        return False
    return None if required or "null" in types else _OMIT


def _types(schema: Mapping) -> set[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    return set(declared) if isinstance(declared, list) else set()


def _sample_object(schema: Mapping, today: date) -> dict:
    required = set(schema.get("required", []))
    value = {}
    for name, sub in (schema.get("properties") or {}).items():
        if isinstance(sub, Mapping):
            item = _sample(sub, name in required, today)
            if item is not _OMIT:
                value[name] = item
    return _follow_rules(schema, value, today)


def _sample_array(schema: Mapping, required: bool, today: date) -> list:
    count = max(schema.get("minItems", 0), 1 if required else 0)
    items = schema.get("items") if isinstance(schema.get("items"), Mapping) else {}
    if isinstance(items.get("enum"), list):
        return copy.deepcopy(items["enum"][:count])
    row = _sample(items, True, today)
    return [copy.deepcopy(row) for _ in range(count)]


def _sample_string(schema: Mapping, today: date) -> str:
    fmt = schema.get("format")
    if fmt == "date":
        return today.isoformat()
    if fmt in _FORMAT_SAMPLES:
        return _FORMAT_SAMPLES[fmt]
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    text = SAMPLE_TEXT * (low // len(SAMPLE_TEXT) + 1)
    text = text[:max(low, len(SAMPLE_TEXT))]
    if isinstance(high, int):
        text = text[:high]
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and not re.search(pattern, text):
        text = _matching(pattern) or text
    return text


def _sample_number(schema: Mapping, integer: bool) -> int | float:
    """0 moved just inside the limits; halfway between open limits a whole step apart or less."""
    low, high = _limit(schema, "minimum"), _limit(schema, "maximum")
    above, below = _limit(schema, "exclusiveMinimum"), _limit(schema, "exclusiveMaximum")
    value: float = 0
    if low is not None and value < low:
        value = low
    if above is not None and value <= above:
        value = above + 1
    if high is not None and value > high:
        value = high
    if below is not None and value >= below:
        value = below - 1
    if not integer and above is not None and below is not None and not above < value < below:
        value = (above + below) / 2
    step = _limit(schema, "multipleOf")
    if step and value % step:
        value = (value // step + 1) * step
    return int(value) if integer else value


def _limit(schema: Mapping, keyword: str) -> float | None:
    value = schema.get(keyword)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _descriptor(schema: Mapping) -> dict:
    """A stored-document descriptor the attachment field accepts."""
    spec = schema.get("x-attachment") if isinstance(schema.get("x-attachment"), Mapping) else {}
    accepted = [t for t in spec.get("accept", []) if isinstance(t, str)]
    content_type = accepted[0] if accepted else "application/pdf"
    limit = spec.get("maxBytes")
    return {
        "filename": SAMPLE_TEXT + (mimetypes.guess_extension(content_type) or ""),
        "content_type": content_type,
        "size": min(1024, limit) if isinstance(limit, int) else 1024,
        "document_id": SAMPLE_DOCUMENT_ID,
        "upload": None,
    }


def _follow_rules(schema: Mapping, value: dict, today: date) -> dict:
    """``value`` changed until it also meets the schema's ``allOf`` and ``if``/``then``/``else`` rules."""
    rules = [schema, *(r for r in schema.get("allOf", []) if isinstance(r, Mapping))]
    for _ in range(_CONDITION_ROUNDS):
        before = copy.deepcopy(value)
        for rule in rules:
            branch = _branch(rule, value, is_root=rule is schema)
            if branch is not None:
                value = _conform(schema, branch, value, today)
        if value == before:
            break
    return value


def _branch(rule: Mapping, value: Any, is_root: bool) -> Mapping | None:
    if isinstance(rule.get("if"), Mapping):
        branch = rule.get("then") if _satisfies(rule["if"], value) else rule.get("else")
        return branch if isinstance(branch, Mapping) else None
    return None if is_root else rule


def _conform(base: Mapping, patch: Mapping, value: Any, today: date) -> Any:
    """``value`` changed as little as possible so that it also satisfies ``patch``."""
    merged = _merge(base, patch)
    if _satisfies(merged, value):
        return value
    if not isinstance(value, dict):
        fresh = _sample(merged, True, today)
        return value if fresh is _OMIT else fresh
    fixed = dict(value)
    properties = merged.get("properties") or {}
    for name in merged.get("required", []):
        if name not in fixed and isinstance(properties.get(name), Mapping):
            item = _sample(properties[name], True, today)
            if item is not _OMIT:
                fixed[name] = item
    base_properties = base.get("properties") or {}
    for name, sub_patch in (patch.get("properties") or {}).items():
        if name in fixed and isinstance(sub_patch, Mapping):
            fixed[name] = _conform(base_properties.get(name) or {}, sub_patch, fixed[name], today)
    return fixed


def _merge(base: Mapping, patch: Mapping) -> dict:
    merged = {**base, **{k: v for k, v in patch.items() if k not in ("properties", "required")}}
    required = [*base.get("required", []), *patch.get("required", [])]
    if required:
        merged["required"] = list(dict.fromkeys(required))
    properties = dict(base.get("properties") or {})
    for name, sub in (patch.get("properties") or {}).items():
        properties[name] = _merge(properties.get(name) or {}, sub) if isinstance(sub, Mapping) else sub
    if properties:
        merged["properties"] = properties
    return merged


def _satisfies(schema: Mapping, value: Any) -> bool:
    return Draft202012Validator(schema, format_checker=FORMAT_CHECKER).is_valid(value)


def _matching(pattern: str) -> str | None:
    """The shortest text the simple regular expression ``pattern`` matches, if it can be built."""
    try:
        text = _emit(regex_parser.parse(pattern))
    except (ValueError, TypeError, re.error):
        return None
    return text if re.search(pattern, text) else None


_C = regex_parser  # the opcode constants live in the parser's namespace
_CATEGORY_SAMPLES = {
    _C.CATEGORY_DIGIT: "0", _C.CATEGORY_NOT_DIGIT: "a", _C.CATEGORY_SPACE: " ",
    _C.CATEGORY_NOT_SPACE: "a", _C.CATEGORY_WORD: "a", _C.CATEGORY_NOT_WORD: "-",
}


def _emit(items) -> str:
    parts = []
    for op, av in items:
        if op is _C.LITERAL:
            parts.append(chr(av))
        elif op in (_C.ANY, _C.NOT_LITERAL):
            parts.append("a" if av != ord("a") else "b")
        elif op is _C.IN:
            parts.append(_in_set(av))
        elif op is _C.CATEGORY:
            parts.append(_CATEGORY_SAMPLES[av])
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT):
            low, _high, sub = av
            parts.append(_emit(sub) * low)
        elif op is _C.SUBPATTERN:
            parts.append(_emit(av[-1]))
        elif op is _C.BRANCH:
            parts.append(_emit(av[1][0]))
        elif op not in (_C.AT, _C.ASSERT, _C.ASSERT_NOT):
            raise ValueError(f"cannot build text for {op}")
    return "".join(parts)


def _in_set(members) -> str:
    if members and members[0][0] is _C.NEGATE:
        rest = members[1:]
        for candidate in "a0A_- ":
            if not any(_in_member(candidate, op, av) for op, av in rest):
                return candidate
        raise ValueError("no character outside the set")
    op, av = members[0]
    if op is _C.LITERAL:
        return chr(av)
    if op is _C.RANGE:
        return chr(av[0])
    if op is _C.CATEGORY:
        return _CATEGORY_SAMPLES[av]
    raise ValueError(f"cannot build text for {op}")


def _in_member(char: str, op, av) -> bool:
    if op is _C.LITERAL:
        return ord(char) == av
    if op is _C.RANGE:
        return av[0] <= ord(char) <= av[1]
    if op is _C.CATEGORY:
        return re.fullmatch(f"[{_category_class(av)}]", char) is not None
    return False


def _category_class(category) -> str:
    return {_C.CATEGORY_DIGIT: r"\d", _C.CATEGORY_NOT_DIGIT: r"\D", _C.CATEGORY_SPACE: r"\s",
            _C.CATEGORY_NOT_SPACE: r"\S", _C.CATEGORY_WORD: r"\w", _C.CATEGORY_NOT_WORD: r"\W"}[category]


# -- the run ---------------------------------------------------------------------------------------

_KINDS = (
    (StartEventMixin, "startEvent"), (EndEventMixin, "endEvent"), (BoundaryEventMixin, "boundaryEvent"),
    (EventBasedGatewayMixin, "eventBasedGateway"), (ReceiveTaskMixin, "receiveTask"),
    (SendTaskMixin, "sendTask"), (IntermediateCatchEventMixin, "intermediateCatchEvent"),
    (IntermediateThrowEventMixin, "intermediateThrowEvent"), (UserTaskMixin, "userTask"),
    (ManualTaskMixin, "manualTask"), (ServiceTaskMixin, "serviceTask"), (ScriptTaskMixin, "scriptTask"),
    (ExclusiveGatewayMixin, "exclusiveGateway"), (InclusiveGatewayMixin, "inclusiveGateway"),
    (ParallelGatewayMixin, "parallelGateway"), (CallActivityMixin, "callActivity"),
    (TransactionSubprocessMixin, "transaction"), (SubWorkflowTaskMixin, "subProcess"),
    (NoneTaskMixin, "task"),
)
_FAR_FUTURE = "9999-12-31T00:00:00+00:00"
_LONG_AGO = "2000-01-01T00:00:00+00:00"
_TIMER_RETRIES = 3


def run(
    parsed: ParsedDefinition,
    *,
    form: Callable[[str], Form],
    application: Mapping,
    answers: Mapping[str, Mapping | Sequence[Mapping]] = {},
    service_results: Mapping[str, Any] = {},
    examples: Callable[[str], Any] = lambda name: None,
    now: datetime | None = None,
    max_steps: int = 300,
    extra_data: Mapping[str, Any] = {},
) -> TestRun:
    """Run ``parsed`` to its end in memory and report every step.

    ``answers`` holds the answers of a user task by its BPMN id: a mapping, or a
    list whose item *i* answers the *i*-th instance of a multi-instance task (or
    the *i*-th visit of a task the run comes back to); the last item repeats.
    Tasks without answers get ``sample_answers`` of their form. A service task
    returns ``service_results[its id]`` if given, else ``examples(operation)``.
    ``extra_data`` joins the start data as the case engine's ``extra_data``
    does. The path includes the ids of the sequence flows taken.
    """
    return _Run(parsed, form, answers, service_results, examples, _aware(now), max_steps).go(
        {**copy.deepcopy(dict(extra_data)), "application": _json_like(application), "previous": None})


def _aware(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    return now if now.tzinfo else now.replace(tzinfo=timezone.utc)


class _Runaway(Exception):
    pass


class _Stop(Exception):
    """The run ends here for a reason already recorded as a problem."""


class _DryRunEngine(RestrictedScriptEngine):
    """The restricted script engine, with service calls and timers answered by the run."""

    def __init__(self, owner: _Run) -> None:
        super().__init__(self._answer)
        self._owner = owner
        self._task = None

    def call_service(self, task, **kwargs):
        self._task = task
        return super().call_service(task, **kwargs)

    def _answer(self, operation: str, params: dict, data: dict) -> Any:
        return self._owner.service_result(self._task, operation, params)

    def evaluate(self, task, expression, external_context=None):
        value = super().evaluate(task, expression, external_context)
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition) and expression == definition.expression:
            return self._owner.timer_set(task, definition, value)
        return value


class _Run:
    def __init__(self, parsed: ParsedDefinition, form: Callable[[str], Form], answers: Mapping,
                 service_results: Mapping, examples: Callable[[str], Any], now: datetime,
                 max_steps: int) -> None:
        self.parsed = parsed
        self.form = form
        self.answers = answers
        self.service_results = service_results
        self.examples = examples
        self.now = now
        self.max_steps = max_steps
        self.flows = parsed.flows
        self.result = TestRun(outcome="completed")
        self.count = 0
        self.current = None
        self.calls: dict[Any, tuple[dict, Any]] = {}
        self.timers: dict[Any, TimerPreview] = {}
        self.visits: Counter[str] = Counter()

    # -- driving the workflow

    def go(self, start_data: dict) -> TestRun:
        workflow = new_workflow(self.parsed, _DryRunEngine(self))
        workflow.task_tree.data.update(start_data)
        try:
            self._advance(workflow)
            while not workflow.is_completed():
                ready = ready_user_tasks(workflow)
                if not ready:
                    self._stuck(workflow)
                    break
                self._complete(ready[0])
                self._advance(workflow)
        except _Stop:
            self.result.outcome = "failed"
        except _Runaway:
            self._runaway()
        except Exception as exc:  # noqa: BLE001 - whatever a diagram does wrong is reported, not raised
            self._failed(workflow, exc)
        self.result.timers = list(self.timers.values())
        return self.result

    def _advance(self, workflow) -> None:
        """The case engine's sequence, again while an intermediate timer is about to fire."""
        for _ in range(_TIMER_RETRIES):
            workflow.do_engine_steps(self._will_run, self._did_run)
            workflow.refresh_waiting_tasks()
            workflow.do_engine_steps(self._will_run, self._did_run)
            if workflow.is_completed() or ready_user_tasks(workflow) or not self._catching_timer(workflow):
                return

    def _catching_timer(self, workflow) -> bool:
        return any(isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition)
                   and not isinstance(t.task_spec, BoundaryEventMixin)
                   for t in workflow.get_tasks(state=TaskState.WAITING))

    def _will_run(self, task) -> None:
        self.current = task
        self._count(task)

    def _did_run(self, task) -> None:
        if task.state == TaskState.COMPLETED and _element(task) and not isinstance(task.task_spec, LoopTask):
            params, result = self.calls.pop(task.id, (None, None))
            self._record(task, params=params, result=result)
            if isinstance(task.task_spec, EndEventMixin) and task.workflow is task.workflow.top_workflow:
                self.result.end_event = task.task_spec.bpmn_id

    def _count(self, task) -> None:
        self.count += 1
        if self.count > self.max_steps:
            self.current = task
            raise _Runaway()

    # -- user tasks

    def _complete(self, task) -> None:
        self.current = task
        self._count(task)
        chosen = self._chosen(task)
        form = self._form_of(task)
        submitted = dict(chosen) if chosen is not None else sample_answers(
            form, today=self.now.astimezone(TAIPEI).date())
        errors = form.validate(submitted)
        if errors:
            self._problem(INVALID_ANSWERS, task, errors=_joined(errors), fields="、".join(errors))
            raise _Stop()
        self._check_properties(task)
        apply_answers(task, form, submitted)
        task.run()
        self._record(task, answers=submitted)

    def _chosen(self, task) -> Mapping | None:
        given = self.answers.get(task.task_spec.bpmn_id)
        if given is None or isinstance(given, Mapping):
            return given
        items = list(given)
        if not items:
            return None
        index = _instance(task)
        if index is None:
            index = self.visits[task.task_spec.bpmn_id]
        return items[min(index, len(items) - 1)]

    def _form_of(self, task) -> Form:
        key = task_properties(task).get("formKey") or ""
        try:
            return self.form(key)
        except Exception:  # noqa: BLE001 - a missing or broken form stops the run with a problem
            self._problem(NO_FORM, task, form=key or "—")
            raise _Stop() from None

    def _check_properties(self, task) -> None:
        """The expressions the case engine evaluates when it opens the task for someone."""
        properties = task_properties(task)
        for name in ("agency", "assignee"):
            if properties.get(name):
                try:
                    evaluator.evaluate(properties[name], task.data)
                except evaluator.ExpressionError as exc:
                    self._problem(PROPERTY_FAILED, task, property=name, error=str(exc))
                    raise _Stop() from None

    # -- what the script engine asks

    def service_result(self, task, operation: str, params: dict) -> Any:
        element = task.task_spec.bpmn_id
        if element in self.service_results:
            result = copy.deepcopy(self.service_results[element])
        else:
            result = self.examples(operation)
            if result is None:
                self._problem(NO_EXAMPLE, task, operation=operation)
        self.calls[task.id] = (_json_like(params), _json_like(result))
        return result

    def timer_set(self, task, definition: TimerEventDefinition, value: Any) -> Any:
        """Record the timer and give SpiffWorkflow a value that fires it now or never."""
        spec = task.task_spec
        boundary = isinstance(spec, BoundaryEventMixin)
        self.timers[task.id] = TimerPreview(
            element=spec.bpmn_id, name=spec.bpmn_name or spec.bpmn_id, expression=definition.expression,
            fires_at=_fires_at(definition, value, self.now), attached_to=_attached_to(spec) if boundary else None)
        return _timer_value(definition, fire=not boundary)

    # -- results

    def _record(self, task, *, answers: Mapping | None = None, params: dict | None = None,
                result: Any = None) -> None:
        spec, instance = task.task_spec, _instance(task)
        self._extend_path(task)
        self.result.steps.append(Step(
            element=spec.bpmn_id, name=spec.bpmn_name or spec.bpmn_id, kind=_kind(spec),
            lane=getattr(spec, "lane", None), answers=_json_like(answers) if answers is not None else None,
            params=params, result=result, data=_json_like(task.data), instance=instance))
        if instance is None:
            self.visits[spec.bpmn_id] += 1

    def _extend_path(self, task) -> None:
        element = task.task_spec.bpmn_id
        sources = [_source(task)]
        if isinstance(task.task_spec, (ParallelGatewayMixin, InclusiveGatewayMixin)):
            visited = set(self.result.path)
            sources += [spec.bpmn_id for spec in task.task_spec.inputs if spec.bpmn_id in visited]
        for source in sources:
            flow = self.flows.get((source, element)) if source else None
            if flow and flow not in self.result.path:
                self.result.path.append(flow)
        if element not in self.result.path:
            self.result.path.append(element)

    def _problem(self, message: str, task, **params: Any) -> None:
        spec = task.task_spec if task is not None else None
        element = spec.bpmn_id if spec is not None else None
        name = (spec.bpmn_name or element) if spec is not None else None
        self.result.problems.append(Problem(message, element, {"name": name, **params}))

    def _runaway(self) -> None:
        self.result.outcome = "runaway"
        repeated = Counter(step.element for step in self.result.steps)
        if self.current is not None and _element(self.current):
            repeated[self.current.task_spec.bpmn_id] += 1
        element, count = repeated.most_common(1)[0] if repeated else (None, 0)
        names = {step.element: step.name for step in self.result.steps}
        self.result.problems.append(Problem(RUNAWAY, element, {
            "name": names.get(element, element), "count": count, "limit": self.max_steps}))

    def _stuck(self, workflow) -> None:
        self.result.outcome = "stuck"
        waiting = [t for t in workflow.get_tasks(state=TaskState.WAITING) if _element(t)]
        if not waiting:
            self.result.problems.append(Problem(NOTHING_READY))
            return
        task = waiting[0]
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, MessageEventDefinition):
            self._problem(WAITING_MESSAGE, task, **({"name": definition.name} if definition.name else {}))
        else:
            self._problem(WAITING, task)

    def _failed(self, workflow, exc: Exception) -> None:
        self.result.outcome = "failed"
        task = getattr(exc, "task", None)
        if task is None:
            errored = workflow.get_tasks(state=TaskState.ERROR)
            task = errored[-1] if errored else self.current
        self._problem(_failure_message(task, exc), task, error=_error_text(exc))


# -- helpers of the run ----------------------------------------------------------------------------

def _element(task) -> bool:
    return bool(getattr(task.task_spec, "bpmn_id", None))


def _kind(spec) -> str:
    for mixin, kind in _KINDS:
        if isinstance(spec, mixin):
            return kind
    return type(spec).__name__[:1].lower() + type(spec).__name__[1:]


def _instance(task) -> int | None:
    """The index of a multi-instance (or loop) instance; None outside one."""
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, LoopTask):
        return None
    if parent.task_spec.task_spec != task.task_spec.name:
        return None
    key = task.internal_data.get("key_or_index")
    if isinstance(key, int):
        return key
    siblings = [child for child in parent.children if child.task_spec is task.task_spec]
    return siblings.index(task) if task in siblings else None


def _source(task) -> str | None:
    """The BPMN element the run came from to reach ``task``."""
    element = task.task_spec.bpmn_id
    parent = task.parent
    while parent is not None and (not _element(parent) or parent.task_spec.bpmn_id == element):
        parent = parent.parent
    return parent.task_spec.bpmn_id if parent is not None else None


def _attached_to(spec) -> str | None:
    for split in spec.inputs:
        if isinstance(split, BoundaryEventSplit):
            main = next((o for o in split.outputs if not isinstance(o, BoundaryEventMixin)), None)
            return main.bpmn_id if main is not None else None
    return None


def _fires_at(definition: TimerEventDefinition, value: Any, now: datetime) -> str | None:
    try:
        when = _when(definition, value, now)
    except Exception:  # noqa: BLE001 - an expression SpiffWorkflow cannot read has no known time
        return None
    return when.astimezone(timezone.utc).isoformat() if when is not None else None


def _when(definition: TimerEventDefinition, value: Any, now: datetime) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(definition, DurationTimerEventDefinition):
        duration = TimerEventDefinition.parse_iso_duration(value)
        return now + TimerEventDefinition.get_timedelta_from_start(duration, now)
    if isinstance(definition, CycleTimerEventDefinition):
        _cycles, start, duration = TimerEventDefinition.parse_iso_recurring_interval(value)
        only_duration = len(value.upper().replace("--", "/").strip("R").split("/")) == 2
        return now + duration if only_duration else start
    parsed = TimerEventDefinition.parse_time_or_duration(value)
    return parsed if isinstance(parsed, datetime) else None


def _timer_value(definition: TimerEventDefinition, fire: bool) -> str:
    if isinstance(definition, DurationTimerEventDefinition):
        return "PT0S" if fire else "P36500D"
    if isinstance(definition, CycleTimerEventDefinition):
        return f"R1/{_LONG_AGO}/PT1S" if fire else f"R/{_FAR_FUTURE}/P1D"
    return _LONG_AGO if fire else _FAR_FUTURE


def _failure_message(task, exc: Exception) -> str:
    spec = task.task_spec if task is not None else None
    definition = getattr(spec, "event_definition", None)
    if isinstance(definition, TimerEventDefinition):
        return TIMER_FAILED
    if isinstance(spec, (ExclusiveGatewayMixin, InclusiveGatewayMixin)):
        return CONDITION_FAILED
    if isinstance(spec, ServiceTaskMixin):
        return EXAMPLE_FAILED if isinstance(_cause(exc), HandlerFailed) else PARAMETER_FAILED
    if isinstance(spec, ScriptTaskMixin) or getattr(exc, "error_line", None) is not None:
        return SCRIPT_FAILED
    return RUN_FAILED


def _cause(exc: BaseException) -> BaseException:
    """The error SpiffWorkflow wrapped (it raises its own while handling the original)."""
    while isinstance(exc, SpiffWorkflowException) and (exc.__cause__ or exc.__context__) is not None:
        exc = exc.__cause__ or exc.__context__
    return exc


def _error_text(exc: BaseException) -> str:
    cause = _cause(exc)
    if isinstance(cause, SpiffWorkflowException) and cause.args:
        return str(cause.args[0])
    return str(getattr(cause, "message", None) or cause or type(cause).__name__)


def _joined(errors: Mapping[str, list[str]]) -> str:
    return "；".join(f"{name}：{'、'.join(messages)}" for name, messages in errors.items())


def _json_like(value: Any) -> Any:
    """A deep copy the web layer can return as JSON (anything else becomes its text)."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))

