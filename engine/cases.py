"""The case engine's commands.

Each command is one database transaction: load the case, check its revision,
apply the change, run the engine steps, save the state, rewrite the derived rows
(human tasks, searchable fields, next timer), append audit events, commit. A
stale revision raises ``CaseConflict`` and nothing is written.

The hot path goes through ``store.CaseStore``: one joined read (none when this
process changed the case last and kept its snapshot, see ``live``), then the
guarded ``UPDATE … WHERE revision = :seen``, the derived rows, the audit event
and the COMMIT in one batch. The ORM stays for the rarer commands and for reads.
"""
from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import exists, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from . import agents, audit, documents, evaluator
from .access import Actor, case_visibility, may_supervise, may_work
from .calendar import TAIPEI, BusinessCalendar
from .db import LazySession, lazy_transaction, transaction, utcnow
from .definitions import parse_and_lint, sha256
from .documents import Upload
from .errors import CaseConflict, DeploymentError, EngineError, Forbidden, InvalidInput, NotFound
from .forms import Form, FormOverlay, FormRegistry
from .live import LiveCases, Snapshot, StaleSnapshot
from .live import from_row as snapshot_of
from .store import CONFLICT_MESSAGE, CaseStore, WriteBatch
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
    new_id,
)
from .workflow import (
    HandlerRegistry,
    ParsedDefinition,
    RestrictedScriptEngine,
    SpecCache,
    apply_answers,
    dump_state,
    earliest_timer,
    load_state,
    new_workflow,
    ready_user_tasks,
    task_properties,
    user_task_changes,
)

_TASKS = HumanTask.__table__
_CASES = Case.__table__
_SERVICES = Service.__table__
_CASE_COLUMNS = (
    _CASES.c.id, _CASES.c.number, _CASES.c.service_key, _CASES.c.owner_agency,
    _CASES.c.applicant_id, _CASES.c.agent_id, _CASES.c.revision, _CASES.c.definition_id,
    _CASES.c.status, _CASES.c.due_at, _SERVICES.c.search_fields,
)
_CASE_ROW = (select(*_CASE_COLUMNS, _CASES.c.state)
             .select_from(_CASES.join(_SERVICES, _SERVICES.c.key == _CASES.c.service_key)))

@dataclass(frozen=True)
class CaseRef:
    """What commands and handlers know of a case, read without the ORM."""

    id: str
    number: str
    service_key: str
    owner_agency: str
    applicant_id: str
    agent_id: str | None
    revision: int
    definition_id: int
    status: str
    search_fields: Mapping[str, str]
    due_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping) -> "CaseRef":
        return cls(row["id"], row["number"], row["service_key"], row["owner_agency"],
                   row["applicant_id"], row["agent_id"], row["revision"], row["definition_id"],
                   row["status"], row["search_fields"] or {}, row["due_at"])


@dataclass
class HandlerContext:
    """What a service-task handler may use: the open transaction and the case."""

    session: Session
    case: CaseRef
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
        on_closed: Sequence[Callable[[Session, CaseRef, Mapping[str, Any]], None]] = (),
    ) -> None:
        self.sessions = sessions
        self.forms = forms
        self.handlers = handlers
        self.calendar = calendar or BusinessCalendar()
        self.clock = clock
        self.settings = dict(settings or {})
        self.on_closed = tuple(on_closed)
        self.specs = SpecCache()
        self._by_definition: dict[int, ParsedDefinition] = {}
        self._forms_by_definition: dict[int, FormOverlay] = {}
        self._live = LiveCases()
        self.store = CaseStore(sessions.kw["bind"])

    # -- definitions -------------------------------------------------------

    def deploy(self, service_key: str, bpmn: bytes, *, actor_id: str | None = None,
               process_id: str | None = None) -> Definition:
        """Store a new published version, or return the latest one if unchanged."""
        parsed, problems = parse_and_lint(bpmn, self.forms, self.handlers, process_id)
        if problems:
            raise DeploymentError("diagram has problems", [str(p) for p in problems])
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

    def spec_of(self, s: Session, definition_id: int) -> ParsedDefinition:
        """The parsed diagram of a deployed definition, kept by id: definitions never change once deployed."""
        parsed = self._by_definition.get(definition_id)
        if parsed is None:
            row = s.execute(select(Definition.sha256, Definition.bpmn_xml, Definition.process_id)
                            .where(Definition.id == definition_id)).one()
            parsed = self._by_definition[definition_id] = self.specs.get(*row)
        return parsed

    def forms_of(self, s: Session, definition_id: int) -> FormOverlay:
        """The forms a definition runs with: its studio edits over the form files."""
        forms = self._forms_by_definition.get(definition_id)
        if forms is None:
            edited = s.scalar(select(Definition.forms).where(Definition.id == definition_id))
            forms = self._forms_by_definition[definition_id] = FormOverlay(self.forms, edited or {})
        return forms

    def application_form(self, s: Session, service: Service) -> Form:
        """The application form new cases of ``service`` are started with."""
        definition = self.current_definition(s, service.key)
        return self.forms_of(s, definition.id).get(service.application_form)

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
    def _command(self, name: str, actor: Actor, key: str | None) -> Iterator[tuple[LazySession, dict]]:
        """A transaction with idempotency; ``box['result']`` is what the command returns.

        A command that writes ends with ``_finish``, which sends its batch together
        with the COMMIT; nothing may change in the session after that. The session
        opens only if the command uses it; when it does not, the batch is a
        transaction of its own (see ``CaseStore.write``).
        """
        box: dict = {"command": name, "key": key, "actor_id": actor.user_id}
        with lazy_transaction(self.sessions) as s:
            if key:
                done = s.execute(select(IdempotencyKey.command, IdempotencyKey.response).where(
                    IdempotencyKey.key == key, IdempotencyKey.actor_id == actor.user_id)).first()
                if done is not None:
                    if done.command != name:
                        raise InvalidInput("idempotency key reused", {"idempotency_key": [
                            "this key was used for another command"]})
                    box["result"] = CommandResult(**done.response)
                    yield s, box
                    return
            yield s, box
            if box.get("finished") and s.opened and (s.new or s.dirty or s.deleted):
                raise RuntimeError(f"{name} changed the session after its final write")

    def _finish(self, s: Session, box: dict, batch: WriteBatch, result: CommandResult,
                workflow=None) -> CommandResult:
        """Write the command's batch, with its idempotency record, and commit.

        A command that closes its case first lets the ``on_closed`` listeners
        write in the same transaction (a satisfaction survey, say).
        """
        if batch.closes_case:
            closed = CaseRef.from_row(box["snapshot"].case)
            for listener in self.on_closed:
                listener(s, closed, self.settings)
        if box["key"]:
            batch.request = {"key": box["key"], "actor_id": box["actor_id"], "command": box["command"],
                             "response": result.as_dict(), "created_at": self.clock()}
        try:
            self.store.write(s, batch)
        except CaseConflict as exc:
            if box.get("from_snapshot"):
                raise StaleSnapshot(str(exc)) from exc
            raise
        box["finished"] = True
        box["result"] = result
        box["after"] = box["snapshot"].after(batch, workflow)
        return result

    def _kept(self, box: dict) -> CommandResult:
        """After the commit: remember the case as this command left it."""
        if "after" in box:
            self._live.keep(box["after"])
        return box["result"]

    @staticmethod
    def _retried(command: Callable[[], CommandResult]) -> CommandResult:
        """Run a command; once more from the database if its snapshot was stale."""
        try:
            return command()
        except StaleSnapshot:
            return command()

    def _script_engine(self, s: Session, case: CaseRef, actor: Actor | None) -> RestrictedScriptEngine:
        def call(operation: str, params: dict, data: dict) -> Any:
            handler = self.handlers.get(operation)
            return handler(HandlerContext(s, case, data, actor, self.clock(), self.settings), **params)

        return RestrictedScriptEngine(call)

    def _load(self, s: Session, case: CaseRef, state: Mapping, actor: Actor | None):
        parsed = self.spec_of(s, case.definition_id)
        return load_state(state, parsed, self._script_engine(s, case, actor))

    @staticmethod
    def _run(workflow) -> None:
        workflow.do_engine_steps()
        workflow.refresh_waiting_tasks()
        workflow.do_engine_steps()


    def _case_values(self, s: Session, case: CaseRef, workflow, ready: list, now: datetime) -> dict:
        """Every column of ``cases`` that derives from the workflow."""
        timers = self.spec_of(s, case.definition_id).has_timers
        values = {
            "state": dump_state(workflow),
            "updated_at": now,
            "next_timer_at": earliest_timer(workflow) if timers else None,
            "stage": "、".join(dict.fromkeys(t.task_spec.bpmn_name or t.task_spec.name for t in ready)),
        }
        completed = workflow.is_completed()
        data = workflow.data if completed else (ready[0].data if ready else
                                                workflow.last_task.data if workflow.last_task else {})
        values["fields"] = self._search_fields(case.search_fields, data)
        values.update(status=case.status, closed_at=None, outcome=None, due_at=case.due_at)
        if completed and case.status == "open":
            values.update(status="closed", closed_at=now, stage="",
                          outcome=workflow.data.get("outcome") or "completed")
        return values

    @staticmethod
    def _search_fields(expressions: Mapping[str, str], data: Mapping) -> dict:
        fields = {}
        for name, expression in expressions.items():
            try:
                fields[name] = evaluator.evaluate(expression, data)
            except evaluator.ExpressionError:
                fields[name] = None
        return fields

    def _save(self, s: Session, case: CaseRef, workflow, now: datetime, since: float,
              completed_id: str | None = None) -> WriteBatch:
        """The writes that persist a changed workflow: state, derived columns and task rows.

        ``since`` is when the command started changing the workflow: user tasks
        that changed state after it are the ones whose rows need writing. The
        case update is guarded by the revision the command read, which is what
        detects a lost race.
        """
        ready, new, gone = user_task_changes(workflow, since)
        values = self._case_values(s, case, workflow, ready, now)
        return WriteBatch(
            case={"b_id": case.id, "b_revision": case.revision, "revision": case.revision + 1,
                  **values},
            new_tasks=[self._human_task_row(case, t, now) for t in new],
            cancelled=sorted({str(t.id) for t in gone} - {completed_id}),
            cancelled_at=now,
        )

    def _human_task_row(self, case: CaseRef, task, now: datetime) -> dict:
        spec = task.task_spec
        props = task_properties(task)
        role = spec.lane or "applicant"
        agency = None
        if props.get("agency"):
            agency = evaluator.evaluate(props["agency"], task.data)
        elif role != "applicant":
            agency = case.owner_agency
        # An ``assignee`` expression hands the task to one person (e.g. the assessor a family booked).
        assignee = case.applicant_id if role == "applicant" else None
        if props.get("assignee"):
            assignee = evaluator.evaluate(props["assignee"], task.data)
        due_days = props.get("dueDays")
        due_at = self.calendar.add_business_days(now, int(due_days)) if due_days else None
        context = {}
        if props.get("instructions"):
            context["instructions"] = task.data.get(props["instructions"])
        if props.get("pausesClock") == "true":
            context["pauses_clock"] = True
        if props.get("escalate"):
            context["escalate"] = props["escalate"]
        return {
            "id": str(task.id), "case_id": case.id, "spec_name": spec.bpmn_id or spec.name,
            "name": spec.bpmn_name or spec.name, "lane": spec.lane, "role": role,
            "agency_code": agency, "form_key": props.get("formKey"), "status": "open",
            "assignee_id": assignee,
            "completed_by": None, "created_at": now, "claimed_at": now if assignee and role != "applicant" else None,
            "due_at": due_at,
            "completed_at": None, "result": None, "context": context,
            "remind_at": due_at - timedelta(hours=int(props["remindHours"]))
            if due_at and props.get("remindHours") else None,
        }

    def _next_number(self, s: Session, prefix: str, year: int) -> str:
        dialect = s.get_bind().dialect.name
        upsert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = (
            upsert(CaseSequence)
            .values(prefix=prefix, year=year, last=1)
            .on_conflict_do_update(
                index_elements=["prefix", "year"], set_={"last": CaseSequence.last + 1})
            .returning(CaseSequence.last)
        )
        last = s.execute(stmt).scalar_one()
        return f"{prefix}-{year}-{last:06d}"

    def _validated(self, form: Form, data: dict, locale: str) -> dict:
        """The data with its derived fields filled in (districts from a drawn route, say), if valid."""
        data = form.derive(data)
        errors = form.validate(data, locale)
        if errors:
            raise InvalidInput("the form has errors", errors)
        return data

    def _attach(self, s: Session, actor: Actor, case: CaseRef, data: dict, form: Form,
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

    def _task_row(self, s: Session, actor: Actor, task_id: str, box: dict,
                  check: Callable[[Mapping], None], with_state: bool = False) -> dict:
        """The task joined with its case, passed by the command's ``check``.

        When this process changed the case last, the row comes from its snapshot
        and costs no read; the command's guarded write proves it was current.
        Otherwise it is read, and NotFound unless the actor may work or see it.
        """
        snapshot = self._live.take_task(task_id)
        if snapshot is not None and (snapshot.workflow is not None or not with_state):
            row = snapshot.row(task_id)
            try:
                if not may_work(actor, row["role"], row["agency_code"], (row["applicant_id"], row["agent_id"])):
                    raise Forbidden("not in the task's group")
                check(row)
            except EngineError:
                pass
            else:
                box.update(snapshot=snapshot, from_snapshot=True)
                return row
        row = self.store.read_task(s, task_id, with_state)
        if row is None:
            raise NotFound("no such task")
        if not may_work(actor, row["role"], row["agency_code"], (row["applicant_id"], row["agent_id"])):
            visible = s.scalar(select(exists().where(_CASES.c.id == row["id"], case_visibility(actor))))
            if not visible:
                raise NotFound("no such task")
        check(row)
        fresh = snapshot_of(row)
        if snapshot is not None and snapshot.case["revision"] == row["revision"]:
            fresh.workflow = snapshot.workflow
        else:
            fresh.workflow = self._live.take_workflow(row["id"], row["revision"])
        box["snapshot"] = fresh
        return row

    @staticmethod
    def _open_case_row(s: Session, case_id: str, expected_revision: int | None, *conditions) -> Mapping:
        """The case's row with its state, if it exists (and meets ``conditions``), is open and unchanged."""
        row = s.execute(_CASE_ROW.where(_CASES.c.id == case_id, *conditions)).mappings().first()
        if row is None:
            raise NotFound("no such case")
        if expected_revision is not None and row["revision"] != expected_revision:
            raise CaseConflict(CONFLICT_MESSAGE)
        if row["status"] != "open":
            raise CaseConflict("case is not open")
        return row

    @staticmethod
    def _check_open(row: Mapping, expected: int | None) -> None:
        if expected is not None and row["revision"] != expected:
            raise CaseConflict(CONFLICT_MESSAGE)
        if row["task_status"] != "open":
            raise CaseConflict("task is no longer open")

    @staticmethod
    def _reassigned(row: Mapping, assignee_id: str | None, now: datetime, event: dict) -> WriteBatch:
        """A change of who holds a task: the workflow stays as it is, the revision moves on."""
        return WriteBatch(
            case={"b_id": row["id"], "b_revision": row["revision"], "revision": row["revision"] + 1,
                  "updated_at": now},
            bump_only=True,
            task_update=("assign_task", {"b_id": row["task_id"], "assignee_id": assignee_id,
                                         "claimed_at": now if assignee_id else None}),
            events=[event],
        )

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
        provenance: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        locale: str = "zh_TW",
    ) -> CommandResult:
        with self._command("start_case", actor, idempotency_key) as (s, box):
            if "result" in box:
                return box["result"]
            service = s.get(Service, service_key)
            if service is None:
                raise NotFound("no such service")
            definition = self.current_definition(s, service_key)
            form = self.forms_of(s, definition.id).get(service.application_form)
            application = self._validated(form, application, locale)
            now = self.clock()
            applicant = applicant_id or actor.user_id
            if applicant != actor.user_id:
                if actor.kind == "citizen":
                    agents.check_may_act(s, actor, applicant, service_key, now.astimezone(TAIPEI).date())
                elif not actor.has_role("counter_clerk"):
                    raise Forbidden("only an authorised agent or a counter clerk may apply for someone else")
            case = CaseRef(new_id(), self._next_number(s, service.case_prefix, now.astimezone(TAIPEI).year),
                           service_key, service.owner_agency, applicant,
                           actor.user_id if applicant != actor.user_id else None, 0, definition.id,
                           "open", service.search_fields or {},
                           self.calendar.add_business_days(now, service.statutory_days))
            s.execute(insert(_CASES).values(
                id=case.id, number=case.number, service_key=service_key,
                definition_id=definition.id, applicant_id=case.applicant_id, agent_id=case.agent_id,
                owner_agency=case.owner_agency, channel=channel, status="open", stage="",
                opened_at=now, due_at=case.due_at,
                related_case_id=related_case_id, fields={}, provenance=dict(provenance or {}), state={},
                revision=0, updated_at=now))
            application = self._attach(s, actor, case, application, form, uploads or {}, draft_id)
            if draft_id:
                draft = s.get(Draft, draft_id)
                if draft is None or draft.user_id != actor.user_id:
                    raise NotFound("no such draft")
                s.execute(update(Document).where(Document.draft_id == draft_id, Document.case_id.is_(None))
                          .values(case_id=case.id))
                s.delete(draft)
            workflow = new_workflow(self.spec_of(s, definition.id), self._script_engine(s, case, actor))
            workflow.task_tree.data.update({"application": application, "previous": None,
                                            **(extra_data or {})})
            self._run(workflow)
            batch = self._save(s, case, workflow, now, 0.0)
            batch.events.append(audit.event(
                "case.start", actor_id=actor.user_id, case_id=case.id, ip=actor.ip,
                on_behalf_of=case.applicant_id if case.agent_id else None, at=now,
                detail={"service": service_key, "number": case.number, "version": definition.version}))
            status = "closed" if workflow.is_completed() else "open"
            box["snapshot"] = Snapshot(asdict(case))
            self._finish(s, box, batch, CommandResult(case.id, case.number, case.revision + 1, status),
                         workflow)
        return self._kept(box)

    def claim(self, actor: Actor, task_id: str, *, expected_revision: int | None = None) -> CommandResult:
        return self._retried(lambda: self._claim(actor, task_id, expected_revision))

    def _claim(self, actor: Actor, task_id: str, expected_revision: int | None) -> CommandResult:
        def check(row: Mapping) -> None:
            self._check_open(row, expected_revision)
            if not may_work(actor, row["role"], row["agency_code"], (row["applicant_id"], row["agent_id"])):
                raise Forbidden("not in the task's group")
            if row["assignee_id"] and row["assignee_id"] != actor.user_id:
                raise CaseConflict("task already claimed by someone else")

        with self._command("claim", actor, None) as (s, box):
            row = self._task_row(s, actor, task_id, box, check)
            now = self.clock()
            self._finish(s, box, self._reassigned(row, actor.user_id, now, audit.event(
                "task.claim", actor_id=actor.user_id, case_id=row["id"], ip=actor.ip, at=now,
                detail={"task": row["spec_name"], "task_id": task_id})),
                         CommandResult(row["id"], row["number"], row["revision"] + 1, row["status"]),
                         box["snapshot"].workflow)
        return self._kept(box)

    def release(self, actor: Actor, task_id: str, *, expected_revision: int | None = None) -> CommandResult:
        return self._retried(lambda: self._release(actor, task_id, expected_revision))

    def _release(self, actor: Actor, task_id: str, expected_revision: int | None) -> CommandResult:
        def check(row: Mapping) -> None:
            self._check_open(row, expected_revision)
            if row["assignee_id"] != actor.user_id and not may_supervise(
                    actor, row["agency_code"], row["owner_agency"]):
                raise Forbidden("only the holder or a supervisor may release a task")

        with self._command("release", actor, None) as (s, box):
            row = self._task_row(s, actor, task_id, box, check)
            now = self.clock()
            self._finish(s, box, self._reassigned(row, None, now, audit.event(
                "task.release", actor_id=actor.user_id, case_id=row["id"], ip=actor.ip, at=now,
                detail={"task": row["spec_name"], "task_id": task_id, "from": row["assignee_id"]})),
                         CommandResult(row["id"], row["number"], row["revision"] + 1, row["status"]),
                         box["snapshot"].workflow)
        return self._kept(box)

    def reassign(self, actor: Actor, task_id: str, to_user_id: str, *,
                 expected_revision: int | None = None) -> CommandResult:
        return self._retried(lambda: self._reassign(actor, task_id, to_user_id, expected_revision))

    def _reassign(self, actor: Actor, task_id: str, to_user_id: str,
                  expected_revision: int | None) -> CommandResult:
        def check(row: Mapping) -> None:
            self._check_open(row, expected_revision)
            if not may_supervise(actor, row["agency_code"], row["owner_agency"]):
                raise Forbidden("only a supervisor may reassign")

        with self._command("reassign", actor, None) as (s, box):
            row = self._task_row(s, actor, task_id, box, check)
            target = s.get(User, to_user_id)
            if target is None or not target.active or not may_work(
                    Actor.from_user(target), row["role"], row["agency_code"], ()):
                raise InvalidInput("bad assignee", {"assignee": ["not in the task's group"]})
            now = self.clock()
            self._finish(s, box, self._reassigned(row, target.id, now, audit.event(
                "task.reassign", actor_id=actor.user_id, case_id=row["id"], ip=actor.ip, at=now,
                detail={"task": row["spec_name"], "task_id": task_id, "from": row["assignee_id"],
                        "to": target.id})),
                         CommandResult(row["id"], row["number"], row["revision"] + 1, row["status"]),
                         box["snapshot"].workflow)
        return self._kept(box)

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
        return self._retried(lambda: self._complete_task(
            actor, task_id, submitted, uploads or {}, expected_revision, idempotency_key, locale))

    def _complete_task(self, actor: Actor, task_id: str, submitted: dict, uploads: Mapping[str, Upload],
                       expected_revision: int | None, idempotency_key: str | None,
                       locale: str) -> CommandResult:
        def check(row: Mapping) -> None:
            self._check_open(row, expected_revision)
            if not may_work(actor, row["role"], row["agency_code"], (row["applicant_id"], row["agent_id"])):
                raise Forbidden("not in the task's group")
            if row["assignee_id"] and row["assignee_id"] != actor.user_id and row["role"] != "applicant":
                raise Forbidden("task is held by someone else")

        with self._command("complete_task", actor, idempotency_key) as (s, box):
            if "result" in box:
                return box["result"]
            row = self._task_row(s, actor, task_id, box, check, with_state=True)
            form = self.forms_of(s, row["definition_id"]).get(row["form_key"])
            submitted = self._validated(form, submitted, locale)
            case = CaseRef.from_row(row)
            if documents.attachment_fields(form.schema, submitted):
                submitted = self._attach(s, actor, case, submitted, form, uploads, None)
            workflow = box["snapshot"].workflow
            if workflow is None:
                workflow = self._load(s, case, orjson.loads(row["state_text"]), actor)
            else:
                workflow.script_engine = self._script_engine(s, case, actor)
            since = time.time()
            spiff_task = workflow.get_task_from_id(UUID(task_id))
            result = apply_answers(spiff_task, form, submitted)
            spiff_task.run()
            self._run(workflow)
            now = self.clock()
            batch = self._save(s, case, workflow, now, since, completed_id=task_id)
            if task_properties(spiff_task).get("pausesClock") == "true" and case.due_at:
                # A correction stops the statutory clock: the deadline moves by the business days it took.
                paused = self.calendar.business_days_between(row["task_created_at"], now)
                batch.case["due_at"] = self.calendar.add_business_days(case.due_at, paused) if paused \
                    else case.due_at
            batch.task_update = ("complete_task", {
                "b_id": task_id, "completed_at": now, "completed_by": actor.user_id,
                "assignee_id": row["assignee_id"] or actor.user_id, "result": result})
            for_applicant = row["role"] == "applicant" and actor.user_id != row["applicant_id"]
            batch.events.append(audit.event(
                "task.complete", actor_id=actor.user_id, case_id=case.id, ip=actor.ip, at=now,
                on_behalf_of=row["applicant_id"] if for_applicant else None,
                detail={"task": row["spec_name"], "task_id": task_id, "decision": _decision_of(result)}))
            status = "closed" if workflow.is_completed() else "open"
            self._finish(s, box, batch, CommandResult(case.id, case.number, case.revision + 1, status),
                         workflow)
        return self._kept(box)

    def cancel_case(self, actor: Actor, case_id: str, reason: str, *,
                    expected_revision: int | None = None) -> CommandResult:
        with self._command("cancel_case", actor, None) as (s, box):
            row = self._open_case_row(s, case_id, expected_revision, case_visibility(actor))
            if actor.user_id != row["applicant_id"] and not actor.is_admin:
                raise Forbidden("only the applicant may withdraw an application")
            case = CaseRef.from_row(row)
            workflow = self._load(s, case, row["state"], actor)
            workflow.cancel()
            now = self.clock()
            result = s.execute(update(_CASES)
                               .where(_CASES.c.id == case.id, _CASES.c.revision == case.revision)
                               .values(revision=case.revision + 1, state=dump_state(workflow),
                                       status="cancelled", outcome="withdrawn", closed_at=now,
                                       stage="", next_timer_at=None, updated_at=now))
            if result.rowcount != 1:
                raise CaseConflict(CONFLICT_MESSAGE)
            s.execute(update(_TASKS).where(_TASKS.c.case_id == case.id, _TASKS.c.status == "open")
                      .values(status="cancelled", completed_at=now))
            audit.append(s, "case.cancel", actor_id=actor.user_id, case_id=case.id, ip=actor.ip,
                         at=now, detail={"reason": reason[:500]})
            box["result"] = CommandResult(case.id, case.number, case.revision + 1, "cancelled")
        return box["result"]

    def move_to_definition(
        self,
        actor: Actor,
        case_id: str,
        definition_id: int,
        transform: Callable[[Mapping, ParsedDefinition, ParsedDefinition, Any], dict],
        *,
        expected_revision: int | None = None,
    ) -> CommandResult:
        """Move an open case onto another version of its service's diagram, in one transaction.

        ``transform`` turns the case's state into state for the new version (or
        refuses, raising). Open task rows keep their holder and start; what the
        new version says of them (name, role, form, deadline) is rewritten.
        """
        with transaction(self.sessions) as s:
            row = self._open_case_row(s, case_id, expected_revision)
            target = s.get(Definition, definition_id)
            if target is None or target.service_key != row["service_key"] or target.status != "published":
                raise NotFound("no such definition")
            old = self.spec_of(s, row["definition_id"])
            new = self.spec_of(s, definition_id)
            case = dataclasses.replace(CaseRef.from_row(row), definition_id=definition_id)
            engine = self._script_engine(s, case, actor)
            workflow = load_state(transform(row["state"], old, new, engine), new, engine)
            now = self.clock()
            ready = ready_user_tasks(workflow)
            values = self._case_values(s, case, workflow, ready, now)
            result = s.execute(update(_CASES)
                               .where(_CASES.c.id == case.id, _CASES.c.revision == case.revision)
                               .values(definition_id=definition_id, revision=case.revision + 1, **values))
            if result.rowcount != 1:
                raise CaseConflict(CONFLICT_MESSAGE)
            self._rewrite_open_tasks(s, case, ready, now)
            self._live.forget(case.id)
            audit.append(s, "case.migrate", actor_id=actor.user_id, case_id=case.id, ip=actor.ip, at=now,
                         detail={"from": row["definition_id"], "to": definition_id,
                                 "version": target.version})
            return CommandResult(case.id, case.number, case.revision + 1, values["status"])

    def _rewrite_open_tasks(self, s: Session, case: CaseRef, ready: list, now: datetime) -> None:
        open_rows = {r.id: r for r in s.execute(select(_TASKS.c.id, _TASKS.c.created_at)
                                               .where(_TASKS.c.case_id == case.id, _TASKS.c.status == "open"))}
        kept = ("spec_name", "name", "lane", "role", "agency_code", "form_key", "context", "due_at", "remind_at")
        for task in ready:
            task_id = str(task.id)
            previous = open_rows.pop(task_id, None)
            if previous is None:
                s.execute(insert(_TASKS).values(**self._human_task_row(case, task, now)))
                continue
            fresh = self._human_task_row(case, task, previous.created_at)
            s.execute(update(_TASKS).where(_TASKS.c.id == task_id).values({k: fresh[k] for k in kept}))
        if open_rows:
            s.execute(update(_TASKS).where(_TASKS.c.id.in_(list(open_rows)))
                      .values(status="cancelled", completed_at=now))

    def fire_due_timers(self, limit: int = 100) -> int:
        """Advance cases whose earliest timer is due; each case in its own transaction."""
        now = self.clock()
        with self.sessions() as s:
            due = s.scalars(select(Case.id).where(Case.status == "open", Case.next_timer_at <= now)
                            .order_by(Case.next_timer_at).limit(limit)).all()
        fired = 0
        for case_id in due:
            try:
                with transaction(self.sessions) as s:
                    query = _CASE_ROW.where(_CASES.c.id == case_id, _CASES.c.next_timer_at <= now)
                    if s.get_bind().dialect.name == "postgresql":
                        query = query.with_for_update(skip_locked=True, of=_CASES)
                    row = s.execute(query).mappings().first()
                    if row is None:
                        continue
                    case = CaseRef.from_row(row)
                    workflow = self._load(s, case, row["state"], None)
                    since = time.time()
                    self._run(workflow)
                    batch = self._save(s, case, workflow, now, since)
                    batch.events.append(audit.event("case.timers", case_id=case.id, at=now))
                    self.store.write(s, batch)
                    fired += 1
            except CaseConflict:
                continue
        return fired

    # -- reads -------------------------------------------------------------

    def replayed(self, actor: Actor, key: str, command: str = "start_case") -> CommandResult | None:
        """The result an earlier request with this idempotency key produced, if any."""
        with self.sessions() as s:
            done = s.get(IdempotencyKey, (key, actor.user_id))
            if done is None or done.command != command:
                return None
            return CommandResult(**done.response)

    def visible_case(self, s: Session, actor: Actor, case_id: str) -> Case:
        """The case if ``actor`` may see it; otherwise NotFound (and the attempt is audited).

        Call it from a read session: the denial is written in a transaction of its
        own, which on SQLite would wait forever behind a write the caller holds.
        """
        if s.connection().get_execution_options().get("sqlite_immediate"):
            raise RuntimeError("visible_case needs a read session, not a write transaction")
        case = s.scalar(select(Case).where(Case.id == case_id, case_visibility(actor)))
        if case is None:
            with transaction(self.sessions) as audit_session:
                audit.append(audit_session, "case.view", actor_id=actor.user_id, case_id=case_id[:32],
                             ip=actor.ip, result="denied")
            raise NotFound("no such case")
        return case

    def task_data(self, s: Session, case: Case) -> dict:
        """The data a reader of the case sees: the latest task data, or the final data."""
        workflow = load_state(case.state, self.spec_of(s, case.definition_id), RestrictedScriptEngine())
        if workflow.is_completed():
            return dict(workflow.data)
        ready = ready_user_tasks(workflow)
        if ready:
            return dict(ready[0].data)
        return dict(workflow.last_task.data) if workflow.last_task else {}


def _decision_of(result: dict) -> str | None:
    for key in ("decision", "opinion"):
        if isinstance(result.get(key), str):
            return result[key]
    return None


def _may_use_document(doc: Document, actor: Actor, case: CaseRef, draft_id: str | None) -> bool:
    if doc.case_id == case.id:
        return True
    if doc.case_id is None and doc.owner_id in {actor.user_id, case.applicant_id}:
        return draft_id is None or doc.draft_id in (None, draft_id)
    return False
