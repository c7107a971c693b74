"""Comparing two versions of a definition, and moving running cases onto the newer one.

The diff is what an analyst sees: BPMN elements matched by id, each described by
the settings the studio edits (lane, form, deadline, conditions, scripts…), and
the forms those elements use. SpiffWorkflow's internal task specs (``Start``,
``End``, ``*.EndJoin``, boundary-event helpers, the instance spec of a
multi-instance task) are folded into the elements they serve.

Moving a case is SpiffWorkflow's ``diff_workflow``/``migrate_workflow``, guarded
by a plan: a case moves only when every step it waits at still exists with the
same type, its history can be kept, and it is not part-way through a parallel
co-signing the new version changes. The task ids of waiting user tasks survive a
move (the database keys each open task row, with its assignee, by them), and so
do their data and internal data: a co-signing instance keeps the unit it was
created for, a waiting timer keeps its deadline.
"""
from __future__ import annotations

import json
import weakref
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from ..definitions import Problem
from ..errors import N_, CaseConflict
from ..workflow import ParsedDefinition, RestrictedScriptEngine, dump_state, load_state

ADDED, REMOVED, CHANGED = "added", "removed", "changed"

CASE_FINISHED = N_("案件已結束")
WAITING_REMOVED = N_("等待中的步驟「%(name)s」在新版本中已刪除")
WAITING_RETYPED = N_("等待中的步驟「%(name)s」在新版本中改為其他類型")
WAITING_REBOUND = N_("等待中的步驟「%(name)s」在新版本中增減了邊界事件")
REGION_CHANGED = N_("會辦進行中，新版本變更了會辦流程（%(element)s），需人工處理")
HISTORY_REMOVED = N_("已辦理的步驟「%(name)s」在新版本中已刪除，無法保留案件歷程")
HISTORY_RESHAPED = N_("步驟「%(name)s」在新版本中的結構不同（例如增減了邊界事件），無法保留案件歷程")
SUBPROCESS_REMOVED = N_("新版本缺少子流程「%(name)s」")
UNMAPPED_TASK = N_("案件的步驟「%(name)s」無法對應到新版本")
MIGRATION_REFUSED = N_("案件無法移轉到新版本")

FORM_SWITCHED = N_("「%(name)s」改用表單 %(form)s")
DEADLINE_CHANGED = N_("「%(name)s」的辦理期限由 %(old)s 個工作天改為 %(new)s 個工作天")
LANE_CHANGED = N_("「%(name)s」改由 %(lane)s 辦理")
AGENCY_CHANGED = N_("「%(name)s」的承辦機關改為 %(agency)s")
WAITING_SETTINGS_CHANGED = N_("「%(name)s」的其他設定有變更")
FORM_CONTENT_CHANGED = N_("「%(name)s」使用的表單 %(form)s 內容有變更")
STEP_ADDED = N_("新增步驟：%(name)s")
STEP_REMOVED = N_("刪除步驟：%(name)s")
STEP_CHANGED = N_("後續步驟「%(name)s」有變更")

_PROPERTY_DETAILS = ("formKey", "dueDays", "remindHours", "escalate", "agency")
_DETAIL_ORDER = ("type", "name", "lane", *_PROPERTY_DETAILS, "condition", "script", "preScript",
                 "postScript", "handler", "parameters", "timer", "multiInstance", "flow")
_WAITING_SPECIFIC = {"formKey", "dueDays", "lane", "agency"}
_FORKING = frozenset({"parallelGateway", "inclusiveGateway"})
_KIND_NAMES = {"NoneTask": "task", "SubWorkflowTask": "subProcess", "TransactionSubprocess": "transaction"}
_TIMERS = frozenset({"TimeDateEventDefinition", "DurationTimerEventDefinition", "CycleTimerEventDefinition"})
# Serialised task-spec keys read into named details, or without meaning to an analyst.
_HANDLED_KEYS = frozenset({
    "name", "description", "manual", "lookahead", "inputs", "outputs", "bpmn_id", "bpmn_name", "lane",
    "documentation", "typename", "extensions", "prescript", "postscript", "script", "event_definition",
    "cancel_activity", "cond_task_specs", "default_task_spec", "choice", "operation_name",
    "operation_params", "result_variable", "task_spec",
})
_NAMED_EXTENSIONS = frozenset({"properties", "serviceTaskOperator", "preScript", "postScript"})
_DEFAULT_FLOW = "<default>"
_ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
_WAITING = TaskState.READY | TaskState.WAITING
_UNREACHED = TaskState.FUTURE | TaskState.PREDICTED_MASK

_REGISTRY = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)


@dataclass(frozen=True)
class ElementChange:
    element: str
    name: str
    kind: str
    change: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class FormChange:
    key: str
    change: str
    fields_added: tuple[str, ...] = ()
    fields_removed: tuple[str, ...] = ()
    fields_changed: tuple[str, ...] = ()


@dataclass(frozen=True)
class DefinitionDiff:
    elements: tuple[ElementChange, ...]
    forms: tuple[FormChange, ...]

    @property
    def empty(self) -> bool:
        return not self.elements and not self.forms

    def element(self, element_id: str) -> ElementChange | None:
        return next((c for c in self.elements if c.element == element_id), None)

    def form(self, key: str) -> FormChange | None:
        return next((f for f in self.forms if f.key == key), None)


@dataclass(frozen=True)
class CasePlan:
    movable: bool
    waiting: tuple[str, ...]
    reasons: tuple[Problem, ...]
    changes: tuple[Problem, ...]


class MigrationRefused(CaseConflict):
    """The case cannot move to the new version; ``reasons`` says why."""

    def __init__(self, reasons: Iterable[Problem]) -> None:
        reasons = tuple(reasons)
        super().__init__(MIGRATION_REFUSED, reasons=reasons)
        self.reasons = reasons


# --------------------------------------------------------------------------
# Elements: the BPMN view of a parsed definition


@dataclass(frozen=True)
class _Element:
    id: str
    name: str
    kind: str
    profile: Mapping[str, Any]
    incoming: frozenset[str]
    outgoing: frozenset[str]
    boundary_events: frozenset[str]

    @property
    def form_key(self) -> str | None:
        return self.profile.get("formKey")


_ELEMENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _elements(parsed: ParsedDefinition) -> dict[str, _Element]:
    """Elements by BPMN id, kept per parsed spec (parsed specs never change)."""
    found = _ELEMENTS.get(parsed.spec)
    if found is None:
        found = _ELEMENTS[parsed.spec] = _read_elements(parsed)
    return found


def _every_spec(parsed: ParsedDefinition) -> list:
    processes = [parsed.spec, *parsed.subprocess_specs.values()]
    return [ts for process in processes for ts in process.task_specs.values()]


def _read_elements(parsed: ParsedDefinition) -> dict[str, _Element]:
    specs = _every_spec(parsed)
    by_name = {ts.name: ts for ts in specs}
    loop_children = {ts.task_spec for ts in specs if isinstance(ts, LoopTask)}
    elements = {}
    for spec in specs:
        if spec.bpmn_id is None or spec.name in loop_children:
            continue
        work = by_name[spec.task_spec] if isinstance(spec, LoopTask) else spec
        elements[spec.bpmn_id] = _Element(
            id=spec.bpmn_id,
            name=work.bpmn_name or spec.bpmn_id,
            kind=_kind(work),
            profile=_profile(spec, work),
            incoming=_linked(spec, "inputs"),
            outgoing=_linked(spec, "outputs"),
            boundary_events=_boundary_events(spec),
        )
    return elements


def _kind(spec) -> str:
    typename = type(spec).__name__
    return _KIND_NAMES.get(typename, typename[:1].lower() + typename[1:])


def _linked(spec, direction: str) -> frozenset[str]:
    """BPMN ids of the elements connected to ``spec``, looking through internal specs."""
    found: set[str] = set()
    seen: set[str] = set()
    stack = list(getattr(spec, direction))
    while stack:
        other = stack.pop()
        if other.name in seen:
            continue
        seen.add(other.name)
        if other.bpmn_id is not None:
            found.add(other.bpmn_id)
        else:
            stack.extend(getattr(other, direction))
    return frozenset(found)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _profile(main, work) -> dict[str, Any]:
    """The element's settings under the names ``ElementChange.details`` uses.

    ``main`` is the element's spec in the process; ``work`` the one a person or
    the engine performs (the instance spec of a multi-instance task, else ``main``).
    """
    dct = _REGISTRY.convert(work)
    event = dct.get("event_definition") or {}
    profile: dict[str, Any] = {
        "type": (_kind(work), isinstance(main, LoopTask), event.get("typename"), dct.get("cancel_activity")),
        "name": work.bpmn_name,
        "lane": work.lane,
        "script": dct.get("script"),
        "preScript": dct.get("prescript"),
        "postScript": dct.get("postscript"),
        "flow": (sorted(_linked(main, "inputs")), sorted(_linked(main, "outputs")),
                 _attached_to(work), sorted(_boundary_events(main))),
    }
    extensions = _extension_details(dct.get("extensions") or {})
    service_parameters = extensions.pop("parameters", None)
    profile.update(extensions)
    if dct.get("cond_task_specs"):
        profile["condition"] = _conditions(work, dct["cond_task_specs"])
    if event.get("typename") in _TIMERS:
        profile["timer"] = event.get("expression")
    profile["parameters"] = _canonical(_parameters(dct, event, service_parameters))
    if isinstance(main, LoopTask):
        loop = _REGISTRY.convert(main)
        profile["multiInstance"] = _canonical(
            {k: v for k, v in loop.items() if k not in _HANDLED_KEYS or k == "typename"})
    return profile


def _parameters(dct: Mapping[str, Any], event: Mapping[str, Any], service: Any) -> dict[str, Any]:
    """Everything else that affects how the element runs: data associations, event details…"""
    parameters = {key: value for key, value in dct.items() if key not in _HANDLED_KEYS}
    if event and event.get("typename") not in _TIMERS:
        parameters["event"] = {k: v for k, v in event.items() if k not in ("typename", "description")}
    if service is not None:
        parameters["service"] = service
    return parameters


def _extension_details(extensions: Mapping[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for name, value in (extensions.get("properties") or {}).items():
        details[name if name in _PROPERTY_DETAILS else f"property:{name}"] = value
    operator = extensions.get("serviceTaskOperator")
    if operator:
        details["handler"] = (operator.get("name"), operator.get("resultVariable"))
        details["parameters"] = operator.get("parameters")
    for name, value in extensions.items():
        if name not in _NAMED_EXTENSIONS:
            details[f"property:{name}"] = _canonical(value)
    return details


def _conditions(gateway, entries: list[dict]) -> tuple[tuple[str, str], ...]:
    """(target element ids, condition) for each outgoing flow; the default flow as ``<default>``."""
    specs = {ts.name: ts for ts in gateway.outputs}
    pairs = []
    for entry in entries:
        target = specs.get(entry["task_spec"])
        ids = {target.bpmn_id} if target is not None and target.bpmn_id else (
            _linked(target, "outputs") if target is not None else {entry["task_spec"]})
        pairs.append((",".join(sorted(ids)), entry.get("condition") or _DEFAULT_FLOW))
    return tuple(sorted(pairs))


def _boundary_events(spec) -> frozenset[str]:
    """BPMN ids of the boundary events attached to ``spec``."""
    return frozenset(out.bpmn_id for split in spec.inputs if split.bpmn_id is None for out in split.outputs
                     if isinstance(out, BoundaryEvent) and out is not spec)


def _attached_to(spec) -> tuple[str, ...]:
    """For a boundary event, the activity it is attached to."""
    if not isinstance(spec, BoundaryEvent):
        return ()
    return tuple(sorted(out.bpmn_id for split in spec.inputs for out in split.outputs
                        if out.bpmn_id and not isinstance(out, BoundaryEvent)))


# --------------------------------------------------------------------------
# The diff


def diff_definitions(
    old: ParsedDefinition,
    new: ParsedDefinition,
    old_forms: Mapping[str, dict] = {},
    new_forms: Mapping[str, dict] = {},
) -> DefinitionDiff:
    """What changed from ``old`` to ``new``: BPMN elements by id, and the forms either side uses.

    Forms are raw definitions (``{"title", "title_en", "schema", "ui"}``) by key.
    A form referenced on both sides is compared only when both mappings hold it.
    A changed condition on a sequence flow is reported on its gateway as
    ``condition``: the parsed spec keeps no sequence-flow ids.
    """
    before, after = _elements(old), _elements(new)
    return DefinitionDiff(_element_changes(before, after),
                          _form_changes(before, after, old_forms, new_forms))


def _element_changes(before: Mapping[str, _Element], after: Mapping[str, _Element]) -> tuple[ElementChange, ...]:
    added = [ElementChange(e.id, e.name, e.kind, ADDED) for i, e in sorted(after.items()) if i not in before]
    removed = [ElementChange(e.id, e.name, e.kind, REMOVED) for i, e in sorted(before.items()) if i not in after]
    changed = []
    for element_id in sorted(set(before) & set(after)):
        details = _details(before[element_id], after[element_id])
        if details:
            new = after[element_id]
            changed.append(ElementChange(element_id, new.name, new.kind, CHANGED, details))
    return tuple(added + removed + changed)


def _details(old: _Element, new: _Element) -> tuple[str, ...]:
    keys = set(old.profile) | set(new.profile)
    differing = {key for key in keys if old.profile.get(key) != new.profile.get(key)}
    if "condition" in differing and not _conditions_differ(old, new):
        differing.discard("condition")
    return tuple(sorted(differing, key=_detail_rank))


def _conditions_differ(old: _Element, new: _Element) -> bool:
    """Re-routed flows are a ``flow`` change; ``condition`` is for the expressions themselves."""
    before, after = old.profile.get("condition") or (), new.profile.get("condition") or ()
    if old.outgoing == new.outgoing:
        return before != after
    return sorted(c for _, c in before) != sorted(c for _, c in after)


def _detail_rank(detail: str) -> tuple[int, str]:
    if detail.startswith("property:"):
        return _DETAIL_ORDER.index("agency") + 1, detail
    return (_DETAIL_ORDER.index(detail) if detail in _DETAIL_ORDER else len(_DETAIL_ORDER)), detail


def _form_changes(before: Mapping[str, _Element], after: Mapping[str, _Element],
                  old_forms: Mapping[str, dict], new_forms: Mapping[str, dict]) -> tuple[FormChange, ...]:
    used_before = {e.form_key for e in before.values() if e.form_key}
    used_after = {e.form_key for e in after.values() if e.form_key}
    changes = []
    for key in sorted(used_after - used_before):
        changes.append(FormChange(key, ADDED, fields_added=tuple(_form_fields(new_forms.get(key)))))
    for key in sorted(used_before - used_after):
        changes.append(FormChange(key, REMOVED, fields_removed=tuple(_form_fields(old_forms.get(key)))))
    for key in sorted(used_before & used_after):
        if key in old_forms and key in new_forms and old_forms[key] != new_forms[key]:
            changes.append(_form_change(key, old_forms[key], new_forms[key]))
    order = {ADDED: 0, REMOVED: 1, CHANGED: 2}
    return tuple(sorted(changes, key=lambda c: (order[c.change], c.key)))


def _form_change(key: str, old: Mapping, new: Mapping) -> FormChange:
    before, after = _form_fields(old), _form_fields(new)
    return FormChange(
        key, CHANGED,
        fields_added=tuple(p for p in after if p not in before),
        fields_removed=tuple(p for p in before if p not in after),
        fields_changed=tuple(p for p in after if p in before and before[p] != after[p]),
    )


def _form_fields(raw: Mapping | None) -> dict[str, str]:
    """Every property path (``vehicles/plate``) with what describes it: schema, ui and required."""
    fields: dict[str, str] = {}
    if raw:
        _walk_fields(raw.get("schema") or {}, raw.get("ui") or {}, "", fields)
    return fields


def _walk_fields(schema: Mapping, ui: Mapping, prefix: str, fields: dict[str, str]) -> None:
    required = set(schema.get("required") or ())
    for key, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, Mapping):
            continue
        path = f"{prefix}/{key}" if prefix else key
        sub_ui = ui.get(key) if isinstance(ui.get(key), Mapping) else {}
        items = sub.get("items") if isinstance(sub.get("items"), Mapping) else {}
        items_ui = sub_ui.get("items") if isinstance(sub_ui.get("items"), Mapping) else sub_ui
        fields[path] = _canonical({
            "schema": _own(sub), "items": _own(items), "required": key in required,
            "ui": {k: v for k, v in {**items_ui, **sub_ui}.items() if k.startswith("ui:")},
        })
        if "x-attachment" in sub:
            continue
        if isinstance(sub.get("properties"), Mapping):
            _walk_fields(sub, sub_ui, path, fields)
        if isinstance(items.get("properties"), Mapping):
            _walk_fields(items, items_ui, path, fields)


def _own(schema: Mapping) -> dict:
    """A property's own schema, without its children (they are fields of their own)."""
    return {k: v for k, v in schema.items() if k not in ("properties", "required", "items")}


# --------------------------------------------------------------------------
# Plans


def plan_case(state: Mapping, old: ParsedDefinition, new: ParsedDefinition,
              diff: DefinitionDiff | None = None) -> CasePlan:
    """Whether the case whose state is ``state`` (on ``old``) can move to ``new``, and what changes for it.

    Pass the ``diff`` computed once (with forms) when planning many cases.
    """
    workflow = load_state(state, old, RestrictedScriptEngine())
    return _plan(workflow, old, new, diff or diff_definitions(old, new))


def _plan(workflow, old: ParsedDefinition, new: ParsedDefinition, diff: DefinitionDiff) -> CasePlan:
    waiting = _waiting(workflow)
    if workflow.is_completed():
        return CasePlan(False, waiting, (Problem(CASE_FINISHED),), ())
    before, after = _elements(old), _elements(new)
    reasons = [*_waiting_problems(waiting, before, after, diff),
               *_region_problems(workflow, before, after, diff),
               *_unmatched_problems(workflow, new, before)]
    if reasons:
        return CasePlan(False, waiting, tuple(_unique(reasons)), ())
    return CasePlan(True, waiting, (), tuple(_unique(_changes(waiting, before, after, diff))))


def _unique(problems: Iterable[Problem]) -> list[Problem]:
    seen, kept = set(), []
    for problem in problems:
        key = (problem.message, problem.element, _canonical(dict(problem.params)))
        if key not in seen:
            seen.add(key)
            kept.append(problem)
    return kept


def _waiting(workflow) -> tuple[str, ...]:
    ids = (t.task_spec.bpmn_id for t in workflow.get_tasks(state=_WAITING))
    return tuple(dict.fromkeys(i for i in ids if i))


def _waiting_problems(waiting: Iterable[str], before: Mapping[str, _Element],
                      after: Mapping[str, _Element], diff: DefinitionDiff) -> Iterable[Problem]:
    for element_id in waiting:
        change = diff.element(element_id)
        if element_id not in after:
            yield Problem(WAITING_REMOVED, element_id, {"name": _name(element_id, before)})
        elif change is not None and "type" in change.details:
            yield Problem(WAITING_RETYPED, element_id, {"name": _name(element_id, before)})
        elif element_id in before and before[element_id].boundary_events != after[element_id].boundary_events:
            yield Problem(WAITING_REBOUND, element_id, {"name": _name(element_id, before)})


def _name(element_id: str, *sides: Mapping[str, _Element]) -> str:
    return next((side[element_id].name for side in sides if element_id in side), element_id)


def _region_problems(workflow, before: Mapping[str, _Element], after: Mapping[str, _Element],
                     diff: DefinitionDiff) -> Iterable[Problem]:
    """The case is part-way through a parallel region (or multi-instance task) the new version changes."""
    touched = {c.element for c in diff.elements}
    for region in _open_regions(workflow, before, after):
        for element_id in sorted(region & touched):
            yield Problem(REGION_CHANGED, element_id, {"element": _name(element_id, after, before)})


def _open_regions(workflow, before: Mapping[str, _Element],
                  after: Mapping[str, _Element]) -> list[frozenset[str]]:
    """Element ids of each region the case is inside, as drawn in either version."""
    active = [t for t in workflow.get_tasks(state=_ACTIVE)]
    regions = [frozenset({t.task_spec.bpmn_id}) for t in active
               if isinstance(t.task_spec, LoopTask) and t.task_spec.bpmn_id]
    active_ids = {t.task_spec.bpmn_id for t in active if t.task_spec.bpmn_id}
    for split_id, members in _parallel_regions(before).items():
        if active_ids & (members - {split_id}):
            regions.append(members | _parallel_regions(after).get(split_id, frozenset()))
    return regions


def _parallel_regions(elements: Mapping[str, _Element]) -> dict[str, frozenset[str]]:
    """For each forking gateway, the elements from it up to and including its join."""
    return {e.id: _region(elements, e) for e in elements.values()
            if e.kind in _FORKING and len(e.outgoing) > 1}


def _region(elements: Mapping[str, _Element], split: _Element) -> frozenset[str]:
    join = _join_of(elements, split)
    members = {split.id}
    stack = list(split.outgoing)
    while stack:
        element_id = stack.pop()
        if element_id in members or element_id not in elements:
            continue
        members.add(element_id)
        if element_id != join:
            stack.extend(elements[element_id].outgoing)
    return frozenset(members)


def _join_of(elements: Mapping[str, _Element], split: _Element) -> str | None:
    """The nearest merging gateway every branch of ``split`` reaches; ``None`` when they never meet."""
    distance = _distances(elements, split.outgoing, stop=split.id)
    branches = [set(_distances(elements, [b], stop=split.id)) for b in sorted(split.outgoing)]
    common = set.intersection(*branches) if branches else set()
    joins = [i for i in common if elements[i].kind in _FORKING and len(elements[i].incoming) > 1]
    return min(joins, key=lambda i: (distance[i], i)) if joins else None


def _distances(elements: Mapping[str, _Element], starts: Iterable[str], stop: str | None = None) -> dict[str, int]:
    distance: dict[str, int] = {}
    queue = deque((s, 0) for s in starts)
    while queue:
        element_id, steps = queue.popleft()
        if element_id in distance or element_id == stop or element_id not in elements:
            continue
        distance[element_id] = steps
        queue.extend((o, steps + 1) for o in elements[element_id].outgoing)
    return distance


def _unmatched_problems(workflow, new: ParsedDefinition, before: Mapping[str, _Element]) -> Iterable[Problem]:
    """Tasks SpiffWorkflow cannot match to a spec of the new version, other than those not reached yet.

    Steps not reached are predicted again after the move; any other task would be
    left pointing at a spec the new version does not have.
    """
    top, subs = diff_workflow(_REGISTRY, workflow, new.spec, new.subprocess_specs)
    for sp_id, sp in workflow.subprocesses.items():
        if subs.get(sp_id) is None:
            yield Problem(SUBPROCESS_REMOVED, None, {"name": sp.spec.name})
    for diff in [top, *(d for d in subs.values() if d is not None)]:
        for task in diff.removed:
            spec = task.task_spec
            if task.has_state(_ACTIVE) and spec.bpmn_id:
                yield Problem(WAITING_REMOVED, spec.bpmn_id, {"name": _name(spec.bpmn_id, before)})
            elif task.has_state(TaskState.FINISHED_MASK) and spec.bpmn_id:
                yield Problem(HISTORY_REMOVED, spec.bpmn_id, {"name": _name(spec.bpmn_id, before)})
            elif task.has_state(TaskState.FINISHED_MASK):
                served = _served(spec)
                yield Problem(HISTORY_RESHAPED, served, {"name": _name(served, before) if served else spec.name})


def _served(internal) -> str | None:
    """The BPMN element an internal spec (a boundary-event split or join) wraps."""
    for neighbours in (internal.outputs, internal.inputs):
        ids = sorted(s.bpmn_id for s in neighbours if s.bpmn_id and not isinstance(s, BoundaryEvent))
        if ids:
            return ids[0]
    return None


def _changes(waiting: tuple[str, ...], before: Mapping[str, _Element], after: Mapping[str, _Element],
             diff: DefinitionDiff) -> list[Problem]:
    changes: list[Problem] = []
    for element_id in waiting:
        changes += _waiting_changes(before[element_id], after[element_id], diff)
    ahead_after = set(_distances(after, _next(waiting, after))) - set(waiting)
    ahead_before = set(_distances(before, _next(waiting, before))) - set(waiting)
    for change in diff.elements:
        if change.change == ADDED and change.element in ahead_after:
            changes.append(Problem(STEP_ADDED, change.element, {"name": change.name}))
        elif change.change == REMOVED and change.element in ahead_before:
            changes.append(Problem(STEP_REMOVED, change.element, {"name": change.name}))
        elif change.change == CHANGED and change.element in ahead_after:
            changes.append(Problem(STEP_CHANGED, change.element,
                                   {"name": change.name, "details": ",".join(change.details)}))
    return changes


def _next(waiting: Iterable[str], elements: Mapping[str, _Element]) -> list[str]:
    return [o for w in waiting if w in elements for o in elements[w].outgoing]


def _waiting_changes(old: _Element, new: _Element, diff: DefinitionDiff) -> list[Problem]:
    change = diff.element(new.id)
    details = change.details if change is not None else ()
    name = {"name": new.name}
    changes = []
    if "formKey" in details:
        changes.append(Problem(FORM_SWITCHED, new.id, {**name, "form": _shown(new.profile.get("formKey"))}))
    if "dueDays" in details:
        changes.append(Problem(DEADLINE_CHANGED, new.id, {**name, "old": _shown(old.profile.get("dueDays")),
                                                          "new": _shown(new.profile.get("dueDays"))}))
    if "lane" in details:
        changes.append(Problem(LANE_CHANGED, new.id, {**name, "lane": _shown(new.profile.get("lane"))}))
    if "agency" in details:
        changes.append(Problem(AGENCY_CHANGED, new.id, {**name, "agency": _shown(new.profile.get("agency"))}))
    others = [d for d in details if d not in _WAITING_SPECIFIC]
    if others:
        changes.append(Problem(WAITING_SETTINGS_CHANGED, new.id, {**name, "details": ",".join(others)}))
    form = diff.form(new.form_key) if new.form_key else None
    if form is not None and form.change == CHANGED:
        changes.append(Problem(FORM_CONTENT_CHANGED, new.id, {**name, "form": form.key}))
    return changes


def _shown(value: Any) -> str:
    return "—" if value in (None, "") else str(value)


# --------------------------------------------------------------------------
# Moving a case


def migrate_state(state: Mapping, old: ParsedDefinition, new: ParsedDefinition, script_engine) -> dict:
    """The case's state moved onto ``new``; ``MigrationRefused`` if ``plan_case`` says it cannot move.

    Nothing runs here: the caller runs the engine steps (or not) and rewrites the
    derived rows. Waiting user tasks keep their ids, data and assignees' rows;
    steps not yet reached are predicted again from the new diagram.
    """
    workflow = load_state(state, old, script_engine)
    plan = _plan(workflow, old, new, diff_definitions(old, new))
    if not plan.movable:
        raise MigrationRefused(plan.reasons)
    top, subs = diff_workflow(_REGISTRY, workflow, new.spec, new.subprocess_specs)
    _move(top, workflow, new.spec)
    for sp_id, sp in workflow.subprocesses.items():
        _move(subs[sp_id], sp, new.subprocess_specs[sp.spec.name])
    workflow.subprocess_specs = new.subprocess_specs
    stale = _stale_tasks(workflow)
    if stale:
        raise MigrationRefused(Problem(UNMAPPED_TASK, t.task_spec.bpmn_id, {"name": t.task_spec.name})
                               for t in stale)
    return dump_state(workflow)


def _move(diff, workflow, spec) -> None:
    """Point every task at its spec in the new version, then predict the steps not yet reached.

    ``migrate_workflow`` resets the tasks matching its mask; its default
    (READY|WAITING) rebuilds them from their parent's data, which would drop a
    co-signing instance's unit and restart a waiting timer. Only failed tasks
    are reset here.
    """
    migrate_workflow(diff, workflow, spec, reset_mask=TaskState.ERROR)
    _repredict(workflow)


def _repredict(workflow) -> None:
    """Replace the predicted branches below active tasks with ones from their (new) specs."""
    roots = [t for t in workflow.tasks.values() if t.has_state(_UNREACHED) and not t.triggered
             and t.parent is not None and t.parent.has_state(_ACTIVE)]
    parents = list({t.parent.id: t.parent for t in roots}.values())
    for task in roots:
        workflow._remove_task(task.id)
    for task in parents:
        task.task_spec._predict(task, mask=_UNREACHED | task.state)


def _stale_tasks(workflow) -> list:
    """Tasks still pointing at a spec of the old version (none, when the plan allowed the move)."""
    processes = [workflow, *workflow.subprocesses.values()]
    return [t for process in processes for t in process.tasks.values()
            if process.spec.task_specs.get(t.task_spec.name) is not t.task_spec]
