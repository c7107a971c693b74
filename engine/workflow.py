"""The adapter to SpiffWorkflow: parsing, the spec cache, the restricted script
engine and serialisation of state without its spec.

Everything that touches SpiffWorkflow's classes lives here, so the rest of the
engine speaks of definitions, tasks and data.
"""
from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from . import evaluator
from .errors import CaseConflict, DeploymentError, HandlerFailed, InvalidInput

if TYPE_CHECKING:
    from .forms import Form

MAX_BPMN_BYTES = 2 * 1024 * 1024

Handler = Callable[..., Any]


class HandlerRegistry:
    """Service-task handlers by name. The app wires them at start; the engine only calls."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._examples: dict[str, Any] = {}

    def register(self, name: str, handler: Handler, *, example: Any = None) -> None:
        """``example`` is a result shaped like the handler's, used when a draft is test-run."""
        self._handlers[name] = handler
        if example is None:
            self._examples.pop(name, None)
        else:
            self._examples[name] = example

    def example(self, name: str) -> Any:
        """A copy of the example result registered with ``name``; None when there is none."""
        return copy.deepcopy(self._examples.get(name))

    def get(self, name: str) -> Handler:
        try:
            return self._handlers[name]
        except KeyError:
            raise HandlerFailed(f"no handler registered as {name!r}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._handlers

    def names(self) -> list[str]:
        return sorted(self._handlers)


class _RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """Runs diagram expressions and scripts through the restricted evaluator."""

    def __init__(self, call: Callable[[str, dict, dict], Any] | None) -> None:
        super().__init__({})
        self._call = call

    def evaluate(self, expression, context, external_context=None):
        names = dict(context)
        if external_context:
            names.update(external_context)
        return evaluator.evaluate(expression, names)

    def execute(self, script, context, external_context=None):
        evaluator.execute(script, context)
        return True

    def call_service(self, context, operation_name=None, operation_params=None, **_):
        if self._call is None:
            raise HandlerFailed(f"service task {operation_name!r} cannot run here")
        params = {name: spec["value"] for name, spec in (operation_params or {}).items()}
        return json.dumps(self._call(operation_name, params, context))


class RestrictedScriptEngine(PythonScriptEngine):
    """Script engine whose service calls report the handler's own error.

    SpiffWorkflow 3.2's ``call_service`` turns any handler exception into a
    misleading ``NameError``; catching here keeps the real cause. A handler that
    refuses the user's input (``InvalidInput``, e.g. a slot someone else just
    booked) or finds the case changed (``CaseConflict``) is reported as such.
    """

    def __init__(self, call: Callable[[str, dict, dict], Any] | None = None) -> None:
        super().__init__(environment=_RestrictedEnvironment(call))

    def validate(self, expression):
        problems = evaluator.check(expression, "eval")
        if problems:
            raise evaluator.UnsafeExpression("; ".join(problems))

    def call_service(self, task, **kwargs):
        try:
            return self.environment.call_service(task.data, **kwargs)
        except (HandlerFailed, InvalidInput, CaseConflict):
            raise
        except Exception as exc:  # noqa: BLE001 - any handler failure aborts the command
            raise HandlerFailed(
                f"{kwargs.get('operation_name')}: {exc.__class__.__name__}: {exc}"
            ) from exc


@dataclass
class ParsedDefinition:
    process_id: str
    spec: Any
    subprocess_specs: dict
    lanes: set[str] = field(default_factory=set)
    has_timers: bool = False
    # (source id, target id) -> sequence flow id: SpiffWorkflow's specs keep no flow ids.
    flows: dict[tuple[str, str], str] = field(default_factory=dict)


_PARSER_OPTIONS = dict(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
)


def secure_root(bpmn: bytes) -> etree._Element:
    """BPMN parsed with entities, DTDs and network access off and a size cap; the only way in."""
    if len(bpmn) > MAX_BPMN_BYTES:
        raise DeploymentError("diagram too large", [f"diagram exceeds {MAX_BPMN_BYTES} bytes"])
    refused = DeploymentError("diagram refused", ["DOCTYPE and entity declarations are not allowed"])
    if b"<!DOCTYPE" in bpmn.upper() or b"<!ENTITY" in bpmn.upper():
        raise refused
    try:
        root = etree.fromstring(bpmn, etree.XMLParser(**_PARSER_OPTIONS))
    except etree.XMLSyntaxError as exc:
        raise DeploymentError("diagram is not well-formed XML", [str(exc)]) from exc
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise refused  # declared in an encoding the byte check above cannot read (UTF-16, say)
    return root


_BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def parse_definition(bpmn: bytes, process_id: str | None = None) -> ParsedDefinition:
    """Parse BPMN bytes (never ``str``) into an executable spec."""
    root = secure_root(bpmn)
    flows = {(flow.get("sourceRef"), flow.get("targetRef")): flow.get("id")
             for flow in root.iter(f"{{{_BPMN_NS}}}sequenceFlow")}
    parser = SpiffBpmnParser()
    try:
        parser.add_bpmn_xml(root, filename="definition.bpmn")
        ids = parser.get_process_ids()
        executable = [pid for pid in ids if pid == process_id] if process_id else ids
        if not executable:
            raise DeploymentError("no process found", [f"process {process_id!r} not in diagram"])
        pid = executable[0]
        spec = parser.get_spec(pid)
        subprocess_specs = parser.get_subprocess_specs(pid)
    except DeploymentError:
        raise
    except Exception as exc:  # noqa: BLE001 - SpiffWorkflow raises many kinds
        raise DeploymentError("diagram cannot be parsed", [str(exc)]) from exc
    every = [*spec.task_specs.values(),
             *(ts for sub in subprocess_specs.values() for ts in sub.task_specs.values())]
    _connect_instances(spec, *subprocess_specs.values())
    lanes = {ts.lane for ts in every if getattr(ts, "lane", None)}
    timers = any(isinstance(getattr(ts, "event_definition", None), TimerEventDefinition) for ts in every)
    return ParsedDefinition(pid, spec, subprocess_specs, lanes, timers, flows)


def _connect_instances(*processes) -> None:
    """Let every multi-instance task hear its instances finish, whoever created them.

    SpiffWorkflow connects an instance's completion to its multi-instance parent
    only when it creates the instance. A case whose instances were created by
    another process (before a restart, say) would otherwise never get past the
    multi-instance task on a freshly parsed spec.
    """
    for process in processes:
        for spec in process.task_specs.values():
            if isinstance(spec, LoopTask):
                child = process.task_specs[spec.task_spec]
                if not child.completed_event.is_connected(spec.merge_child):
                    child.completed_event.connect(spec.merge_child)


class SpecCache:
    """Parsed specs by SHA-256: parsing is the expensive part and specs are immutable."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, ParsedDefinition] = {}

    def get(self, sha256: str, bpmn: bytes, process_id: str) -> ParsedDefinition:
        with self._lock:
            hit = self._items.get(sha256)
        if hit is not None:
            return hit
        parsed = parse_definition(bpmn, process_id)
        with self._lock:
            self._items[sha256] = parsed
        return parsed


class _StateConverter(BpmnWorkflowConverter):
    """Workflow <-> dict without the spec; specs come from the cache instead."""

    def state_to_dict(self, workflow: BpmnWorkflow) -> dict:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def state_from_dict(self, dct: dict, parsed: ParsedDefinition) -> BpmnWorkflow:
        dct = _tasks_parents_first(dict(dct))
        dct["subprocesses"] = {k: _tasks_parents_first(dict(v))
                               for k, v in dct.get("subprocesses", {}).items()}
        workflow = self.target_class(parsed.spec, parsed.subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dict(dct["subprocesses"]), workflow)
        workflow.bpmn_events = self.registry.restore(dct.get("bpmn_events", []))
        return workflow


def _tasks_parents_first(dct: dict) -> dict:
    """Order ``tasks`` so every parent precedes its children.

    SpiffWorkflow restores a task's data as a delta over its parent's, so the
    parent must be restored first; JSONB does not keep the key order it was given.
    """
    tasks = dct["tasks"]
    ordered: dict = {}
    stack = [dct["root"]]
    while stack:
        task_id = stack.pop()
        if task_id in ordered or task_id not in tasks:
            continue
        ordered[task_id] = tasks[task_id]
        stack.extend(reversed(tasks[task_id]["children"]))
    for task_id, task in tasks.items():
        ordered.setdefault(task_id, task)
    dct["tasks"] = ordered
    return dct


_registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
_serializer = BpmnWorkflowSerializer(_registry)
_converter = _StateConverter(BpmnWorkflow, _registry)
STATE_VERSION = _serializer.VERSION


def new_workflow(parsed: ParsedDefinition, engine: PythonScriptEngine) -> BpmnWorkflow:
    return BpmnWorkflow(parsed.spec, parsed.subprocess_specs, script_engine=engine)


def dump_state(workflow: BpmnWorkflow) -> dict:
    _registry._encoder_mode = True
    try:
        dct = _converter.state_to_dict(workflow)
    finally:
        _registry._encoder_mode = False
    dct["serializer_version"] = STATE_VERSION
    return dct


def load_state(state: Mapping, parsed: ParsedDefinition, engine: PythonScriptEngine) -> BpmnWorkflow:
    workflow = _converter.state_from_dict(dict(state), parsed)
    workflow.script_engine = engine
    return workflow


_ENDED = (TaskState.COMPLETED, TaskState.CANCELLED, TaskState.ERROR)


def user_task_changes(workflow: BpmnWorkflow, since: float) -> tuple[list, list, list]:
    """(ready, newly ready, no longer ready) user tasks, in one pass over the task table.

    Tasks whose state changed at or after ``since`` are the ones a command touched;
    walking the task dictionaries is much cheaper than iterating the task tree.
    """
    ready, new, gone = [], [], []
    tables = [workflow.tasks, *(sub.tasks for sub in workflow.subprocesses.values())]
    for table in tables:
        for task in table.values():
            if not task.task_spec.manual:
                continue
            if task.state == TaskState.READY:
                ready.append(task)
                if task.last_state_change >= since:
                    new.append(task)
            elif task.last_state_change >= since and task.state in _ENDED:
                gone.append(task)
    return ready, new, gone


def ready_user_tasks(workflow: BpmnWorkflow) -> list:
    return [t for t in workflow.get_tasks(state=TaskState.READY, manual=True)]


_TIMER_EVENT_TYPES = frozenset(
    cls.__name__ for cls in (TimeDateEventDefinition, DurationTimerEventDefinition, CycleTimerEventDefinition))


def earliest_timer(workflow: BpmnWorkflow) -> datetime | None:
    """The earliest deadline among waiting timer events, as aware UTC."""
    earliest = None
    for event in workflow.waiting_events():
        if event.event_type not in _TIMER_EVENT_TYPES:
            continue
        value = event.value
        if isinstance(value, dict):
            value = value.get("next")
        try:
            when = TimerEventDefinition.get_datetime(value)
        except Exception:  # noqa: BLE001 - durations are resolved to dates when waiting
            continue
        if earliest is None or when < earliest:
            earliest = when
    return earliest


def task_properties(task) -> dict[str, str]:
    return dict(task.task_spec.extensions.get("properties", {}) or {})


def apply_answers(task, form: Form, submitted: Mapping) -> dict:
    """Put a user task's validated answers into its data; returns what was stored.

    Every property of the form is stored (``None`` when not submitted), under the
    task's ``resultKey`` property when it has one, else as top-level names.
    """
    result = {name: submitted.get(name) for name in form.schema.get("properties", {})}
    result_key = task_properties(task).get("resultKey")
    if result_key:
        task.data[result_key] = result
    else:
        task.data.update(result)
    return result
