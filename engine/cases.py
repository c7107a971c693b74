"""The case engine's commands.

Each command is one database transaction: load the case, check its revision,
apply the change, run the engine steps, save the state, rewrite the derived rows
(human tasks, searchable fields, next timer), append audit events, commit. A
stale revision raises ``CaseConflict`` and nothing is written.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from . import audit, documents, evaluator
from .access import Actor, case_visibility, may_supervise, may_work
from .calendar import TAIPEI, BusinessCalendar
from .db import transaction, utcnow
from .definitions import parse_and_lint, sha256
from .documents import Upload
from .errors import CaseConflict, DeploymentError, Forbidden, InvalidInput, NotFound
from .forms import Form, FormRegistry
from .models import (
    Case,
    CaseSequence,
    Definition,
    Document,
    Draft,
    HumanTask,
    IdempotencyKey,
    Service,
    User,
)
from .workflow import (
    HandlerRegistry,
    ParsedDefinition,
    RestrictedScriptEngine,
    SpecCache,
    dump_state,
    earliest_timer,
    load_state,
    new_workflow,
    ready_user_tasks,
    task_properties,
)

CONFLICT_MESSAGE = "case changed since it was loaded"


@dataclass
class HandlerContext:
    """What a service-task handler may use: the open transaction and the case."""

    session: Session
    case: Case
    task_data: dict
    actor: Actor | None
    now: datetime
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CommandResult:
    case_id: str
    number: str
    revision: int
    status: str

    def as_dict(self) -> dict:
        return {"case_id": self.case_id, "number": self.number, "revision": self.revision,
                "status": self.status}


class CaseEngine:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        forms: FormRegistry,
        handlers: HandlerRegistry,
        *,
        calendar: BusinessCalendar | None = None,
        clock: Callable[[], datetime] = utcnow,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.sessions = sessions
        self.forms = forms
        self.handlers = handlers
        self.calendar = calendar or BusinessCalendar()
        self.clock = clock
        self.settings = dict(settings or {})
        self.specs = SpecCache()

    # -- definitions -------------------------------------------------------

    def deploy(self, service_key: str, bpmn: bytes, *, actor_id: str | None = None,
               process_id: str | None = None) -> Definition:
        """Store a new published version, or return the latest one if unchanged."""
        parsed, problems = parse_and_lint(bpmn, self.forms, self.handlers, process_id)
        if problems:
            raise DeploymentError("diagram has problems", problems)
        digest = sha256(bpmn)
        with transaction(self.sessions) as s:
            latest = s.scalar(
                select(Definition).where(Definition.service_key == service_key)
                .order_by(Definition.version.desc()).limit(1)
            )
            if latest is not None and latest.sha256 == digest:
                return latest
            definition = Definition(
                service_key=service_key,
                version=(latest.version + 1) if latest else 1,
                process_id=parsed.process_id,
                bpmn_xml=bpmn,
                sha256=digest,
                status="published",
                lint=[],
                created_by=actor_id,
            )
            s.add(definition)
            s.flush()
            audit.append(s, "definition.deploy", actor_id=actor_id,
                         detail={"service": service_key, "version": definition.version, "sha256": digest})
        return definition

    def parsed(self, definition: Definition) -> ParsedDefinition:
        return self.specs.get(definition.sha256, definition.bpmn_xml, definition.process_id)

    def current_definition(self, s: Session, service_key: str) -> Definition:
        definition = s.scalar(
            select(Definition)
            .where(Definition.service_key == service_key, Definition.status == "published")
            .order_by(Definition.version.desc()).limit(1)
        )
        if definition is None:
            raise NotFound("service has no published definition")
        return definition

    # -- plumbing ----------------------------------------------------------

    @contextmanager
    def _command(self, name: str, actor: Actor, key: str | None) -> Iterator[tuple[Session, dict]]:
        """A transaction with idempotency; ``box['result']`` is what the command returns."""
        box: dict = {}
        try:
            with transaction(self.sessions) as s:
                if key:
                    done = s.get(IdempotencyKey, (key, actor.user_id))
                    if done is not None:
                        if done.command != name:
                            raise InvalidInput("idempotency key reused", {"idempotency_key": [
                                "this key was used for another command"]})
                        box["replayed"] = done.response
                        yield s, box
                        return
                yield s, box
                if key and "result" in box:
                    s.add(IdempotencyKey(key=key, actor_id=actor.user_id, command=name,
                                         response=box["result"].as_dict()))
        except StaleDataError as exc:
            raise CaseConflict(CONFLICT_MESSAGE) from exc
        except IntegrityError as exc:
            if key and "idempotency_keys" in str(exc.orig):
                raise CaseConflict("the same request is being processed") from exc
            raise

    def _script_engine(self, s: Session, case: Case, actor: Actor | None) -> RestrictedScriptEngine:
        def call(operation: str, params: dict, data: dict) -> Any:
            handler = self.handlers.get(operation)
            return handler(HandlerContext(s, case, data, actor, self.clock(), self.settings), **params)

        return RestrictedScriptEngine(call)

    def _load(self, s: Session, case: Case, actor: Actor | None):
        return load_state(case.state, self.parsed(case.definition), self._script_engine(s, case, actor))

    @staticmethod
    def _run(workflow) -> None:
        workflow.do_engine_steps()
        workflow.refresh_waiting_tasks()
        workflow.do_engine_steps()

    def _save(self, s: Session, case: Case, workflow, actor: Actor | None,
              completed: HumanTask | None = None) -> None:
        now = self.clock()
        case.state = dump_state(workflow)
        case.updated_at = now
        case.next_timer_at = earliest_timer(workflow)
        self._sync_tasks(s, case, workflow, now, completed)
        data = workflow.data if workflow.is_completed() else self._latest_data(workflow)
        case.fields = self._search_fields(case.service, data)
        if workflow.is_completed() and case.status == "open":
            case.status = "closed"
            case.closed_at = now
            case.outcome = workflow.data.get("outcome") or "completed"
            case.stage = ""

    @staticmethod
    def _latest_data(workflow) -> dict:
        tasks = ready_user_tasks(workflow)
        return tasks[0].data if tasks else workflow.last_task.data if workflow.last_task else {}

    def _search_fields(self, service: Service, data: Mapping) -> dict:
        fields = {}
        for name, expression in (service.search_fields or {}).items():
            try:
                fields[name] = evaluator.evaluate(expression, data)
            except evaluator.ExpressionError:
                fields[name] = None
        return fields

    def _sync_tasks(self, s: Session, case: Case, workflow, now: datetime,
                    completed: HumanTask | None) -> None:
        existing = {t.id: t for t in s.scalars(
            select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.status == "open"))}
        ready = ready_user_tasks(workflow)
        names = []
        for task in ready:
            task_id = str(task.id)
            names.append(task.task_spec.bpmn_name or task.task_spec.name)
            if task_id in existing:
                existing.pop(task_id)
                continue
            s.add(self._new_human_task(case, task, now))
        for leftover in existing.values():
            if completed is None or leftover.id != completed.id:
                leftover.status = "cancelled"
                leftover.completed_at = now
        case.stage = "、".join(dict.fromkeys(names))

    def _new_human_task(self, case: Case, task, now: datetime) -> HumanTask:
        spec = task.task_spec
        props = task_properties(task)
        role = spec.lane or "applicant"
        agency = None
        if props.get("agency"):
            agency = evaluator.evaluate(props["agency"], task.data)
        elif role != "applicant":
            agency = case.owner_agency
        due_days = props.get("dueDays")
        context = {}
        if props.get("instructions"):
            context["instructions"] = task.data.get(props["instructions"])
        return HumanTask(
            id=str(task.id),
            case_id=case.id,
            spec_name=spec.bpmn_id or spec.name,
            name=spec.bpmn_name or spec.name,
            lane=spec.lane,
            role=role,
            agency_code=agency,
            form_key=props.get("formKey"),
            status="open",
            assignee_id=case.applicant_id if role == "applicant" else None,
            created_at=now,
            due_at=self.calendar.add_business_days(now, int(due_days)) if due_days else None,
            context=context,
        )

    def _next_number(self, s: Session, prefix: str, year: int) -> str:
        dialect = s.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = (
            insert(CaseSequence)
            .values(prefix=prefix, year=year, last=1)
            .on_conflict_do_update(
                index_elements=["prefix", "year"], set_={"last": CaseSequence.last + 1})
            .returning(CaseSequence.last)
        )
        last = s.execute(stmt).scalar_one()
        return f"{prefix}-{year}-{last:06d}"

    def _validated(self, form: Form, data: dict, locale: str) -> None:
        errors = form.validate(data, locale)
        if errors:
            raise InvalidInput("the form has errors", errors)

    def _attach(self, s: Session, actor: Actor, case: Case, data: dict, form: Form,
                uploads: Mapping[str, Upload], draft_id: str | None) -> dict:
        """Store new uploads and adopt referenced documents; returns data with descriptors."""
        data = copy.deepcopy(data)
        for path, descriptor in documents.attachment_fields(form.schema, data):
            if descriptor.get("upload"):
                upload = uploads[descriptor["upload"]]
                doc = documents.store(s, upload, actor.user_id, case_id=case.id)
            else:
                doc = s.get(Document, descriptor.get("document_id") or "")
                if doc is None or not _may_use_document(doc, actor, case, draft_id):
                    raise InvalidInput("unknown document", {path: ["file not found"]})
                doc.case_id = case.id
            documents.set_path(data, path, documents.descriptor(doc))
        return data

    # -- commands ----------------------------------------------------------

    def start_case(
        self,
        actor: Actor,
        service_key: str,
        application: dict,
        *,
        uploads: Mapping[str, Upload] | None = None,
        applicant_id: str | None = None,
        extra_data: Mapping[str, Any] | None = None,
        related_case_id: str | None = None,
        draft_id: str | None = None,
        channel: str = "online",
        idempotency_key: str | None = None,
        locale: str = "zh_TW",
    ) -> CommandResult:
        with self._command("start_case", actor, idempotency_key) as (s, box):
            if "replayed" in box:
                return CommandResult(**box["replayed"])
            service = s.get(Service, service_key)
            if service is None:
                raise NotFound("no such service")
            form = self.forms.get(service.application_form)
            self._validated(form, application, locale)
            definition = self.current_definition(s, service_key)
            now = self.clock()
            case = Case(
                number=self._next_number(s, service.case_prefix, now.astimezone(TAIPEI).year),
                service_key=service_key,
                service=service,
                definition_id=definition.id,
                definition=definition,
                applicant_id=applicant_id or actor.user_id,
                agent_id=actor.user_id if applicant_id and applicant_id != actor.user_id else None,
                owner_agency=service.owner_agency,
                channel=channel,
                opened_at=now,
                due_at=self.calendar.add_business_days(now, service.statutory_days),
                related_case_id=related_case_id,
                state={},
                revision=1,
            )
            s.add(case)
            s.flush()
            application = self._attach(s, actor, case, application, form, uploads or {}, draft_id)
            if draft_id:
                draft = s.get(Draft, draft_id)
                if draft is None or draft.user_id != actor.user_id:
                    raise NotFound("no such draft")
                s.delete(draft)
            engine = self._script_engine(s, case, actor)
            workflow = new_workflow(self.parsed(definition), engine)
            workflow.task_tree.data.update({"application": application, "previous": None,
                                            **(extra_data or {})})
            self._run(workflow)
            self._save(s, case, workflow, actor)
            audit.append(s, "case.start", actor_id=actor.user_id, case_id=case.id, ip=actor.ip,
                         on_behalf_of=case.applicant_id if case.agent_id else None,
                         detail={"service": service_key, "number": case.number,
                                 "version": definition.version})
            s.flush()
            box["result"] = CommandResult(case.id, case.number, case.revision, case.status)
        return box["result"]

    def _task_for_update(self, s: Session, actor: Actor, task_id: str) -> HumanTask:
        task = s.get(HumanTask, task_id)
        if task is None:
            raise NotFound("no such task")
        visible = s.scalar(select(func.count()).select_from(Case).where(
            Case.id == task.case_id, case_visibility(actor)))
        if not visible and not may_work(actor, task):
            raise NotFound("no such task")
        return task

    @staticmethod
    def _check_revision(case: Case, expected: int | None) -> None:
        if expected is not None and case.revision != expected:
            raise CaseConflict(CONFLICT_MESSAGE)

    def claim(self, actor: Actor, task_id: str, *, expected_revision: int | None = None) -> CommandResult:
        with self._command("claim", actor, None) as (s, box):
            task = self._task_for_update(s, actor, task_id)
            case = task.case
            self._check_revision(case, expected_revision)
            if task.status != "open":
                raise CaseConflict("task is no longer open")
            if not may_work(actor, task):
                raise Forbidden("not in the task's group")
            if task.assignee_id and task.assignee_id != actor.user_id:
                raise CaseConflict("task already claimed by someone else")
            task.assignee_id = actor.user_id
            task.claimed_at = self.clock()
            self._touch(case)
            audit.append(s, "task.claim", actor_id=actor.user_id, case_id=case.id, ip=actor.ip,
                         detail={"task": task.spec_name, "task_id": task.id})
            s.flush()
            box["result"] = CommandResult(case.id, case.number, case.revision, case.status)
        return box["result"]

    def release(self, actor: Actor, task_id: str, *, expected_revision: int | None = None) -> CommandResult:
        with self._command("release", actor, None) as (s, box):
            task = self._task_for_update(s, actor, task_id)
            case = task.case
            self._check_revision(case, expected_revision)
            if task.status != "open":
                raise CaseConflict("task is no longer open")
            if task.assignee_id != actor.user_id and not may_supervise(actor, task):
                raise Forbidden("only the holder or a supervisor may release a task")
            previous = task.assignee_id
            task.assignee_id = None
            task.claimed_at = None
            self._touch(case)
            audit.append(s, "task.release", actor_id=actor.user_id, case_id=case.id, ip=actor.ip,
                         detail={"task": task.spec_name, "task_id": task.id, "from": previous})
            s.flush()
            box["result"] = CommandResult(case.id, case.number, case.revision, case.status)
        return box["result"]

    def reassign(self, actor: Actor, task_id: str, to_user_id: str, *,
                 expected_revision: int | None = None) -> CommandResult:
        with self._command("reassign", actor, None) as (s, box):
            task = self._task_for_update(s, actor, task_id)
            case = task.case
            self._check_revision(case, expected_revision)
            if task.status != "open":
                raise CaseConflict("task is no longer open")
            if not may_supervise(actor, task):
                raise Forbidden("only a supervisor may reassign")
            target = s.get(User, to_user_id)
            if target is None or not target.active or not may_work(Actor.from_user(target), task):
                raise InvalidInput("bad assignee", {"assignee": ["not in the task's group"]})
            previous = task.assignee_id
            task.assignee_id = target.id
            task.claimed_at = self.clock()
            self._touch(case)
            audit.append(s, "task.reassign", actor_id=actor.user_id, case_id=case.id, ip=actor.ip,
                         detail={"task": task.spec_name, "task_id": task.id, "from": previous,
                                 "to": target.id})
            s.flush()
            box["result"] = CommandResult(case.id, case.number, case.revision, case.status)
        return box["result"]

    def complete_task(
        self,
        actor: Actor,
        task_id: str,
        submitted: dict,
        *,
        uploads: Mapping[str, Upload] | None = None,
        expected_revision: int | None = None,
        idempotency_key: str | None = None,
        locale: str = "zh_TW",
    ) -> CommandResult:
        with self._command("complete_task", actor, idempotency_key) as (s, box):
            if "replayed" in box:
                return CommandResult(**box["replayed"])
            task = self._task_for_update(s, actor, task_id)
            case = task.case
            self._check_revision(case, expected_revision)
            if task.status != "open":
                raise CaseConflict("task is no longer open")
            if not may_work(actor, task):
                raise Forbidden("not in the task's group")
            if task.assignee_id and task.assignee_id != actor.user_id and task.role != "applicant":
                raise Forbidden("task is held by someone else")
            form = self.forms.get(task.form_key)
            self._validated(form, submitted, locale)
            if documents.attachment_fields(form.schema, submitted):
                submitted = self._attach(s, actor, case, submitted, form, uploads or {}, None)
            workflow = self._load(s, case, actor)
            spiff_task = workflow.get_task_from_id(UUID(task.id))
            props = task_properties(spiff_task)
            result = {name: submitted.get(name) for name in form.schema.get("properties", {})}
            if props.get("resultKey"):
                spiff_task.data[props["resultKey"]] = result
            else:
                spiff_task.data.update(result)
            spiff_task.run()
            self._run(workflow)
            now = self.clock()
            task.status = "completed"
            task.completed_at = now
            task.completed_by = actor.user_id
            task.assignee_id = task.assignee_id or actor.user_id
            task.result = result
            self._save(s, case, workflow, actor, completed=task)
            self._touch(case)
            audit.append(s, "task.complete", actor_id=actor.user_id, case_id=case.id, ip=actor.ip,
                         on_behalf_of=case.applicant_id if task.role == "applicant"
                         and actor.user_id != case.applicant_id else None,
                         detail={"task": task.spec_name, "task_id": task.id,
                                 "decision": _decision_of(result)})
            s.flush()
            box["result"] = CommandResult(case.id, case.number, case.revision, case.status)
        return box["result"]

    def cancel_case(self, actor: Actor, case_id: str, reason: str, *,
                    expected_revision: int | None = None) -> CommandResult:
        with self._command("cancel_case", actor, None) as (s, box):
            case = s.scalar(select(Case).where(Case.id == case_id, case_visibility(actor)))
            if case is None:
                raise NotFound("no such case")
            self._check_revision(case, expected_revision)
            if case.status != "open":
                raise CaseConflict("case is not open")
            if actor.user_id != case.applicant_id and not actor.is_admin:
                raise Forbidden("only the applicant may withdraw an application")
            workflow = self._load(s, case, actor)
            workflow.cancel()
            now = self.clock()
            for task in s.scalars(select(HumanTask).where(HumanTask.case_id == case.id,
                                                          HumanTask.status == "open")):
                task.status = "cancelled"
                task.completed_at = now
            case.state = dump_state(workflow)
            case.status = "cancelled"
            case.outcome = "withdrawn"
            case.closed_at = now
            case.stage = ""
            case.next_timer_at = None
            self._touch(case)
            audit.append(s, "case.cancel", actor_id=actor.user_id, case_id=case.id, ip=actor.ip,
                         detail={"reason": reason[:500]})
            s.flush()
            box["result"] = CommandResult(case.id, case.number, case.revision, case.status)
        return box["result"]

    def fire_due_timers(self, limit: int = 100) -> int:
        """Advance cases whose earliest timer is due; each case in its own transaction."""
        now = self.clock()
        fired = 0
        with self.sessions() as s:
            due = s.scalars(select(Case.id).where(Case.status == "open", Case.next_timer_at <= now)
                            .order_by(Case.next_timer_at).limit(limit)).all()
        for case_id in due:
            try:
                with transaction(self.sessions) as s:
                    query = select(Case).where(Case.id == case_id, Case.next_timer_at <= now)
                    if s.get_bind().dialect.name == "postgresql":
                        query = query.with_for_update(skip_locked=True)
                    case = s.scalar(query)
                    if case is None:
                        continue
                    workflow = self._load(s, case, None)
                    workflow.refresh_waiting_tasks()
                    self._run(workflow)
                    self._save(s, case, workflow, None)
                    self._touch(case)
                    audit.append(s, "case.timers", case_id=case.id)
                    fired += 1
            except StaleDataError:
                continue
        return fired

    def _touch(self, case: Case) -> None:
        case.updated_at = self.clock()

    # -- reads -------------------------------------------------------------

    def replayed(self, actor: Actor, key: str, command: str = "start_case") -> CommandResult | None:
        """The result an earlier request with this idempotency key produced, if any."""
        with self.sessions() as s:
            done = s.get(IdempotencyKey, (key, actor.user_id))
            if done is None or done.command != command:
                return None
            return CommandResult(**done.response)

    def visible_case(self, s: Session, actor: Actor, case_id: str) -> Case:
        """The case if ``actor`` may see it; otherwise NotFound (and the attempt is audited)."""
        case = s.scalar(select(Case).where(Case.id == case_id, case_visibility(actor)))
        if case is None:
            with transaction(self.sessions) as audit_session:
                audit.append(audit_session, "case.view", actor_id=actor.user_id, case_id=case_id[:32],
                             ip=actor.ip, result="denied")
            raise NotFound("no such case")
        return case

    def task_data(self, s: Session, case: Case) -> dict:
        """The data a reader of the case sees: the latest task data, or the final data."""
        workflow = load_state(case.state, self.parsed(case.definition), RestrictedScriptEngine())
        if workflow.is_completed():
            return dict(workflow.data)
        return dict(self._latest_data(workflow))


def _decision_of(result: dict) -> str | None:
    for key in ("decision", "opinion"):
        if isinstance(result.get(key), str):
            return result[key]
    return None


def _may_use_document(doc: Document, actor: Actor, case: Case, draft_id: str | None) -> bool:
    if doc.case_id == case.id:
        return True
    if doc.case_id is None and doc.owner_id in {actor.user_id, case.applicant_id}:
        return draft_id is None or doc.draft_id in (None, draft_id)
    return False
