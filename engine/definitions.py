"""Deploying diagrams: parse, check (lint) and version them.

Checks run before anything is stored, so a diagram whose conditions or scripts
the restricted evaluator refuses never becomes a definition.
"""
from __future__ import annotations

import hashlib
from collections.abc import Collection

from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent

from . import evaluator
from .forms import FormNotFound, FormRegistry
from .workflow import HandlerRegistry, ParsedDefinition, parse_definition

KNOWN_ROLES = frozenset(
    {"applicant", "counter_clerk", "traffic_clerk", "police_clerk", "case_clerk", "supervisor",
     "district_social_clerk", "social_bureau_clerk", "care_clerk", "care_assessor"}
)
EXPRESSION_PROPERTIES = ("agency", "assignee")


def sha256(bpmn: bytes) -> str:
    return hashlib.sha256(bpmn).hexdigest()


def _check(where: str, source: str, mode: str) -> list[str]:
    return [f"{where}: {problem}" for problem in evaluator.check(source, mode)]


def lint(
    parsed: ParsedDefinition,
    forms: FormRegistry,
    handlers: HandlerRegistry,
    roles: Collection[str] = KNOWN_ROLES,
) -> list[str]:
    """Every problem that would make the definition unsafe or unrunnable."""
    problems: list[str] = []
    for spec in parsed.spec.task_specs.values():
        where = f"{spec.bpmn_id or spec.name} ({spec.bpmn_name or type(spec).__name__})"
        problems += _lint_scripts(where, spec)
        problems += _lint_conditions(where, spec)
        problems += _lint_service(where, spec, handlers)
        problems += _lint_timer(where, spec)
        if spec.manual:
            problems += _lint_user_task(where, spec, forms, roles)
    return problems


def _lint_scripts(where: str, spec) -> list[str]:
    problems = []
    for attr in ("script", "prescript", "postscript"):
        source = getattr(spec, attr, None)
        if source:
            problems += _check(f"{where} {attr}", source, "exec")
    return problems


def _lint_conditions(where: str, spec) -> list[str]:
    problems = []
    for entry in getattr(spec, "cond_task_specs", None) or []:
        condition = entry.get("condition") if isinstance(entry, dict) else entry[0]
        source = getattr(condition, "args", [condition])[0] if condition is not None else None
        if isinstance(source, str) and source:
            problems += _check(f"{where} condition", source, "eval")
    condition = getattr(spec, "condition", None)
    if isinstance(condition, str) and condition:
        problems += _check(f"{where} completion condition", condition, "eval")
    return problems


def _lint_service(where: str, spec, handlers: HandlerRegistry) -> list[str]:
    operation = getattr(spec, "operation_name", None)
    if operation is None:
        return []
    problems = [] if operation in handlers else [f"{where}: no handler registered as {operation!r}"]
    for name, param in (getattr(spec, "operation_params", None) or {}).items():
        problems += _check(f"{where} parameter {name}", str(param.get("value", "")), "eval")
    return problems


def _lint_timer(where: str, spec) -> list[str]:
    definition = getattr(spec, "event_definition", None)
    expression = getattr(definition, "expression", None)
    if isinstance(spec, CatchingEvent) and isinstance(expression, str):
        return _check(f"{where} timer", expression, "eval")
    return []


def _lint_user_task(where: str, spec, forms: FormRegistry, roles: Collection[str]) -> list[str]:
    problems = []
    if not spec.lane:
        problems.append(f"{where}: user task is not in a lane")
    elif spec.lane not in roles:
        problems.append(f"{where}: lane {spec.lane!r} names no known role")
    properties = spec.extensions.get("properties", {}) if hasattr(spec, "extensions") else {}
    form_key = properties.get("formKey")
    if not form_key:
        problems.append(f"{where}: user task has no formKey property")
    else:
        try:
            forms.get(form_key)
        except FormNotFound:
            problems.append(f"{where}: form {form_key!r} does not exist")
    for name in EXPRESSION_PROPERTIES:
        if properties.get(name):
            problems += _check(f"{where} property {name}", properties[name], "eval")
    due_days = properties.get("dueDays")
    if due_days is not None and not str(due_days).isdigit():
        problems.append(f"{where}: dueDays must be a whole number of business days")
    remind = properties.get("remindHours")
    if remind is not None and not (str(remind).isdigit() and due_days is not None):
        problems.append(f"{where}: remindHours must be a whole number of hours, with dueDays")
    if properties.get("escalate") not in (None, "supervisor"):
        problems.append(f"{where}: escalate must be 'supervisor'")
    return problems


def parse_and_lint(
    bpmn: bytes,
    forms: FormRegistry,
    handlers: HandlerRegistry,
    process_id: str | None = None,
) -> tuple[ParsedDefinition, list[str]]:
    if isinstance(bpmn, str):
        raise TypeError("pass BPMN as bytes")
    parsed = parse_definition(bpmn, process_id)
    return parsed, lint(parsed, forms, handlers)
