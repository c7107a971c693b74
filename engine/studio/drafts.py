"""Analysts' drafts of a service's diagram and forms: save with checks, submit, publish.

A draft starts from a published version (or an imported file) and is saved as
often as the analyst likes, problems and all: nothing typed is lost. Each save
runs the deploy-time checks and keeps their report beside the draft. Publishing
needs a clean report and a second person: someone who never saved the draft.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .. import audit
from ..access import Actor
from ..cases import CaseEngine
from ..db import reading, transaction
from ..definitions import KNOWN_ROLES, Problem, parse_and_lint, sha256
from ..errors import N_, CaseConflict, DeploymentError, Forbidden, InvalidInput, NotFound
from ..forms import FormDefinitionError, FormNotFound, FormOverlay, check_form_definition, is_form_key
from ..models import Case, Definition, DefinitionDraft, Service
from ..workflow import ParsedDefinition
from . import testrun, versions

ANALYST = "analyst"
EDITING, SUBMITTED, PUBLISHED, DISCARDED = "editing", "submitted", "published", "discarded"
DRAFT_CONFLICT = N_("這份草稿已被其他人儲存，請重新載入最新版本後再修改。")


@dataclass(frozen=True)
class Saved:
    revision: int
    problems: tuple[Problem, ...]
    updated_at: datetime


@dataclass(frozen=True)
class CasePlanRow:
    case_id: str
    number: str
    version: int
    stage: str
    plan: versions.CasePlan


def may_edit(actor: Actor) -> bool:
    return ANALYST in actor.roles


def may_approve(actor: Actor, draft: DefinitionDraft) -> bool:
    """Four eyes: an analyst or an admin who has not saved this draft themselves."""
    if not (ANALYST in actor.roles or actor.is_admin):
        return False
    return actor.user_id != draft.author_id and actor.user_id not in (draft.editors or [])


def problems_to_json(problems: Collection[Problem]) -> list[dict]:
    return [{"message": p.message, "element": p.element, "params": dict(p.params)} for p in problems]


def problems_from_json(rows: Collection[Mapping]) -> tuple[Problem, ...]:
    return tuple(Problem(r["message"], r.get("element"), r.get("params") or {}) for r in rows or ())


class Studio:
    """The studio's commands over drafts; each is one transaction and leaves an audit event."""

    def __init__(self, engine: CaseEngine, *, roles: Collection[str] = KNOWN_ROLES,
                 messages: Collection[str] = ()) -> None:
        self.engine = engine
        self.roles = frozenset(roles)
        self.messages = frozenset(messages)

    # -- reading -----------------------------------------------------------

    def draft(self, s: Session, actor: Actor, draft_id: str) -> DefinitionDraft:
        """A draft, for analysts and admins only (404 for anyone else, as for a case)."""
        draft = s.get(DefinitionDraft, draft_id)
        if draft is None or not (may_edit(actor) or actor.is_admin):
            raise NotFound("no such draft")
        return draft

    def forms_of(self, draft: DefinitionDraft) -> FormOverlay:
        return FormOverlay(self.engine.forms, draft.forms or {})

    def parsed(self, draft: DefinitionDraft) -> ParsedDefinition:
        """The draft's diagram parsed; raises DeploymentError when it cannot be."""
        bpmn = draft.bpmn_xml
        return self.engine.specs.get(sha256(bpmn), bpmn, None)

    def check(self, bpmn: bytes, forms: FormOverlay) -> list[Problem]:
        """The deploy-time checks, as a report: a diagram that does not parse is one problem."""
        try:
            _, problems = parse_and_lint(bpmn, forms, self.engine.handlers, roles=self.roles,
                                         messages=self.messages)
        except DeploymentError as exc:
            return [Problem(N_("流程圖無法解析：%(detail)s"), None, {"detail": "; ".join(exc.problems) or exc.message})]
        return problems

    def form_keys(self, draft: DefinitionDraft) -> list[str]:
        """The forms the draft uses: its user tasks' and the service's application form."""
        try:
            parsed = self.parsed(draft)
        except DeploymentError:
            return []
        return sorted({*form_keys(parsed), draft.service.application_form})

    def form_users(self, draft: DefinitionDraft, key: str) -> list[dict]:
        """The user tasks of the draft that show form ``key``."""
        try:
            parsed = self.parsed(draft)
        except DeploymentError:
            return []
        return [{"element": spec.bpmn_id, "name": spec.bpmn_name or spec.bpmn_id}
                for spec in user_tasks(parsed) if _properties(spec).get("formKey") == key]

    def samples(self, draft: DefinitionDraft) -> dict:
        """Answers and handler results a test run starts from, for the analyst to change."""
        parsed = self.parsed(draft)
        forms = self.forms_of(draft)
        answers = {}
        for spec in user_tasks(parsed):
            key = _properties(spec).get("formKey")
            try:
                answers[spec.bpmn_id] = testrun.sample_answers(forms.get(key)) if key else {}
            except (FormNotFound, FormDefinitionError):
                answers[spec.bpmn_id] = {}
        results = {spec.bpmn_id: self.engine.handlers.example(spec.operation_name)
                   for spec in service_tasks(parsed)}
        return {"application": testrun.sample_answers(forms.get(draft.service.application_form)),
                "answers": answers, "service_results": results}

    def test_run(self, draft: DefinitionDraft, *, answers: Mapping, service_results: Mapping,
                 application: Mapping | None = None, start_data: Mapping | None = None) -> testrun.TestRun:
        """The draft run in memory with sample answers; no case, handler or mail is touched.

        ``start_data`` is what the portal adds to a new case besides the application
        (verified records, say), so the diagram sees the same names as in production.
        """
        parsed = self.parsed(draft)
        forms = self.forms_of(draft)
        if application is None:
            application = testrun.sample_answers(forms.get(draft.service.application_form))
        return testrun.run(parsed, form=forms.get, application=application, answers=answers,
                           service_results=service_results, examples=self.engine.handlers.example,
                           now=self.engine.clock(), extra_data=start_data or {})

    # -- versions ----------------------------------------------------------

    def diff(self, s: Session, service_key: str, from_version: int, to_version: int) -> versions.DefinitionDiff:
        old, new = self._version(s, service_key, from_version), self._version(s, service_key, to_version)
        old_parsed, new_parsed = self.engine.spec_of(s, old.id), self.engine.spec_of(s, new.id)
        service = s.get(Service, service_key)
        return versions.diff_definitions(
            old_parsed, new_parsed,
            self._raw_forms(FormOverlay(self.engine.forms, old.forms or {}), old_parsed, service),
            self._raw_forms(FormOverlay(self.engine.forms, new.forms or {}), new_parsed, service))

    def draft_diff(self, s: Session, draft: DefinitionDraft) -> versions.DefinitionDiff:
        """What publishing the draft would change, against the version it started from."""
        base = s.get(Definition, draft.base_definition_id) if draft.base_definition_id else None
        if base is None:
            base = self._version(s, draft.service_key, None)
        base_parsed, parsed = self.engine.spec_of(s, base.id), self.parsed(draft)
        return versions.diff_definitions(
            base_parsed, parsed,
            self._raw_forms(FormOverlay(self.engine.forms, base.forms or {}), base_parsed, draft.service),
            self._raw_forms(self.forms_of(draft), parsed, draft.service))

    def migration_plan(self, s: Session, service_key: str, to_version: int | None = None,
                       limit: int = 500) -> tuple[Definition, list[CasePlanRow]]:
        """Dry run: for each open case on another version, whether it can move and what changes."""
        target = self._version(s, service_key, to_version)
        new = self.engine.spec_of(s, target.id)
        rows = s.execute(select(Case.id, Case.number, Case.stage, Case.state, Case.definition_id,
                                Definition.version)
                         .join(Definition, Definition.id == Case.definition_id)
                         .where(Case.service_key == service_key, Case.status == "open",
                                Case.definition_id != target.id)
                         .order_by(Case.opened_at).limit(limit)).all()
        diffs: dict[int, versions.DefinitionDiff] = {}
        plans = []
        for row in rows:
            old = self.engine.spec_of(s, row.definition_id)
            if row.definition_id not in diffs:
                diffs[row.definition_id] = versions.diff_definitions(old, new)
            plans.append(CasePlanRow(row.id, row.number, row.version, row.stage,
                                     versions.plan_case(row.state, old, new, diffs[row.definition_id])))
        return target, plans

    def migrate(self, actor: Actor, service_key: str, to_version: int,
                case_ids: Collection[str]) -> tuple[list[str], list[tuple[str, Problem]]]:
        """Move the chosen cases, each in its own transaction; a case the plan refuses stays put."""
        if not (may_edit(actor) or actor.is_admin):
            raise Forbidden(N_("只有業務分析人員或管理者可以移轉案件"))
        with reading(self.engine.sessions) as s:
            target = self._version(s, service_key, to_version)
            cases = s.execute(select(Case.id, Case.number, Case.revision).where(
                Case.id.in_(list(case_ids)), Case.service_key == service_key)).all()
        moved, refused = [], []
        for case in cases:
            try:
                self.engine.move_to_definition(actor, case.id, target.id, versions.migrate_state,
                                               expected_revision=case.revision)
            except versions.MigrationRefused as exc:
                refused.append((case.number, exc.reasons[0] if exc.reasons else Problem(exc.message)))
            except CaseConflict:
                refused.append((case.number, Problem(N_("案件剛被其他人更新，請重新檢視後再移轉"))))
            else:
                moved.append(case.number)
        return moved, refused

    def _raw_forms(self, forms: FormOverlay, parsed: ParsedDefinition, service: Service) -> dict[str, dict]:
        raw = {}
        for key in sorted({*form_keys(parsed), service.application_form}):
            try:
                raw[key] = forms.raw(key)
            except FormNotFound:
                continue
        return raw

    # -- commands ----------------------------------------------------------

    def open_draft(self, actor: Actor, service_key: str, *, version: int | None = None) -> str:
        """A new draft copied from a published version (the newest unless ``version`` is given)."""
        self._require_editor(actor)
        with transaction(self.engine.sessions) as s:
            base = self._version(s, service_key, version)
            draft = DefinitionDraft(service_key=service_key, base_definition_id=base.id, bpmn_xml=base.bpmn_xml,
                                    forms=dict(base.forms or {}), author_id=actor.user_id, editors=[actor.user_id],
                                    problems=[], import_report=[], status=EDITING, revision=0, forms_revision=0,
                                    review_note="")
            draft.problems = problems_to_json(self.check(base.bpmn_xml, self.forms_of(draft)))
            s.add(draft)
            s.flush()
            audit.append(s, "studio.draft_open", actor_id=actor.user_id, ip=actor.ip,
                         detail={"draft": draft.id, "service": service_key, "from_version": base.version})
            return draft.id

    def open_imported(self, actor: Actor, service_key: str, bpmn: bytes, *,
                      converted: Collection[Problem] = (), unsupported: Collection[Problem] = ()) -> str:
        """A new draft holding a diagram imported from another modeler, with what the import found."""
        self._require_editor(actor)
        with transaction(self.engine.sessions) as s:
            if s.get(Service, service_key) is None:
                raise NotFound("no such service")
            base = s.scalar(self._published(service_key).limit(1))
            draft = DefinitionDraft(service_key=service_key, base_definition_id=base.id if base else None,
                                    bpmn_xml=bpmn, forms=dict(base.forms or {}) if base else {},
                                    author_id=actor.user_id, editors=[actor.user_id], source="import",
                                    import_report=[*_kind(converted, "converted"), *_kind(unsupported, "unsupported")],
                                    status=EDITING, revision=0, forms_revision=0,
                                    review_note="")
            draft.problems = problems_to_json(self.check(bpmn, self.forms_of(draft)))
            s.add(draft)
            s.flush()
            audit.append(s, "studio.import", actor_id=actor.user_id, ip=actor.ip,
                         detail={"draft": draft.id, "service": service_key, "sha256": sha256(bpmn),
                                 "unsupported": len(unsupported)})
            return draft.id

    def save(self, actor: Actor, draft_id: str, bpmn: bytes, *, revision: int) -> Saved:
        """Keep the analyst's diagram whatever its state, and report what the checks find."""
        if not isinstance(bpmn, bytes):
            raise TypeError("pass BPMN as bytes")
        with transaction(self.engine.sessions) as s:
            draft = self._editable(s, actor, draft_id)
            problems = self.check(bpmn, self.forms_of(draft))
            saved = self._write(s, actor, draft, revision, bpmn_xml=bpmn, problems=problems_to_json(problems))
            audit.append(s, "studio.save", actor_id=actor.user_id, ip=actor.ip,
                         detail={"draft": draft_id, "revision": saved.revision, "sha256": sha256(bpmn),
                                 "problems": len(problems)})
            return Saved(saved.revision, tuple(problems), saved.updated_at)

    def save_form(self, actor: Actor, draft_id: str, key: str, definition: Mapping, *,
                  revision: int) -> Saved:
        """Keep an edited form in the draft; a definition the renderer would refuse is not kept."""
        if not is_form_key(key):
            raise InvalidInput("bad form key", {"key": [N_("表單代碼只能用小寫英文字母、數字與底線")]})
        problems = check_form_definition(definition)
        if problems:
            raise InvalidInput("the form definition has problems", {"definition": problems})
        with transaction(self.engine.sessions) as s:
            draft = self._editable(s, actor, draft_id)
            forms = {**(draft.forms or {}), key: dict(definition)}
            overlay = FormOverlay(self.engine.forms, forms)
            diagram_problems = self.check(draft.bpmn_xml, overlay)
            saved = self._write(s, actor, draft, revision, guard="forms_revision", forms=forms,
                                problems=problems_to_json(diagram_problems))
            audit.append(s, "studio.form_save", actor_id=actor.user_id, ip=actor.ip,
                         detail={"draft": draft_id, "form": key, "revision": saved.revision})
            return Saved(saved.revision, tuple(diagram_problems), saved.updated_at)

    def submit(self, actor: Actor, draft_id: str, *, revision: int) -> None:
        """Ask for approval; only a draft whose checks pass may be submitted."""
        with transaction(self.engine.sessions) as s:
            draft = self._editable(s, actor, draft_id)
            if draft.problems:
                raise InvalidInput("draft has problems", {"draft": [N_("草稿仍有問題，修正後才能送審")]})
            self._write(s, actor, draft, revision, status=SUBMITTED,
                        submitted_at=self.engine.clock(), review_note="", record_editor=False)
            audit.append(s, "studio.submit", actor_id=actor.user_id, ip=actor.ip, detail={"draft": draft_id})

    def withdraw(self, actor: Actor, draft_id: str, *, note: str = "") -> None:
        """Back to editing: the author takes it back, or an approver returns it with a note."""
        with transaction(self.engine.sessions) as s:
            draft = self.draft(s, actor, draft_id)
            if draft.status != SUBMITTED:
                raise CaseConflict(N_("這份草稿目前不在送審中"))
            if not (may_edit(actor) or may_approve(actor, draft)):
                raise Forbidden("may not return this draft")
            self._write(s, actor, draft, draft.revision, status=EDITING, review_note=note[:1000],
                        reviewed_by=None if may_edit(actor) and not may_approve(actor, draft) else actor.user_id,
                        record_editor=False)
            audit.append(s, "studio.return", actor_id=actor.user_id, ip=actor.ip,
                         detail={"draft": draft_id, "note": bool(note)})

    def publish(self, actor: Actor, draft_id: str) -> Definition:
        """Make the submitted draft the service's newest version; new cases start on it."""
        with transaction(self.engine.sessions) as s:
            draft = self.draft(s, actor, draft_id)
            if draft.status != SUBMITTED:
                raise CaseConflict(N_("只有送審中的草稿可以發布"))
            if not may_approve(actor, draft):
                raise Forbidden(N_("發布需要另一位業務分析人員或管理者核准，不能核准自己編修的草稿"))
            problems = self.check(draft.bpmn_xml, self.forms_of(draft))
            if problems:
                raise DeploymentError("draft has problems", [str(p) for p in problems])
            parsed = self.parsed(draft)
            latest = s.scalar(select(func.max(Definition.version))
                              .where(Definition.service_key == draft.service_key)) or 0
            definition = Definition(service_key=draft.service_key, version=latest + 1,
                                    process_id=parsed.process_id, bpmn_xml=draft.bpmn_xml,
                                    sha256=sha256(draft.bpmn_xml), status="published", lint=[],
                                    forms=dict(draft.forms or {}), created_by=draft.author_id,
                                    approved_by=actor.user_id)
            s.add(definition)
            s.flush()
            now = self.engine.clock()
            self._write(s, actor, draft, draft.revision, status=PUBLISHED, reviewed_by=actor.user_id,
                        reviewed_at=now, definition_id=definition.id, record_editor=False)
            audit.append(s, "studio.publish", actor_id=actor.user_id, ip=actor.ip,
                         detail={"draft": draft_id, "service": draft.service_key,
                                 "version": definition.version, "sha256": definition.sha256,
                                 "author": draft.author_id})
            return definition

    def discard(self, actor: Actor, draft_id: str, *, revision: int) -> None:
        with transaction(self.engine.sessions) as s:
            draft = self._editable(s, actor, draft_id)
            self._write(s, actor, draft, revision, status=DISCARDED, record_editor=False)
            audit.append(s, "studio.discard", actor_id=actor.user_id, ip=actor.ip, detail={"draft": draft_id})

    # -- plumbing ----------------------------------------------------------

    @staticmethod
    def _require_editor(actor: Actor) -> None:
        if not may_edit(actor):
            raise Forbidden(N_("只有業務分析人員可以編修流程"))

    def _editable(self, s: Session, actor: Actor, draft_id: str) -> DefinitionDraft:
        draft = self.draft(s, actor, draft_id)
        self._require_editor(actor)
        if draft.status != EDITING:
            raise CaseConflict(N_("這份草稿已送審或已發布，不能再修改"))
        return draft

    def _write(self, s: Session, actor: Actor, draft: DefinitionDraft, revision: int, *,
               record_editor: bool = True, guard: str = "revision", **values) -> Saved:
        """A guarded update: the part being saved must still be at the revision its editor loaded.

        The diagram (with the draft's status) and the forms are guarded apart, so
        an analyst may save a form in one tab and the diagram in another.
        """
        now = self.engine.clock()
        if record_editor and actor.user_id not in (draft.editors or []):
            values["editors"] = [*(draft.editors or []), actor.user_id]
        column = getattr(DefinitionDraft, guard)
        result = s.execute(update(DefinitionDraft)
                           .where(DefinitionDraft.id == draft.id, column == revision)
                           .values({guard: revision + 1, "updated_at": now, **values})
                           .execution_options(synchronize_session=False))
        if result.rowcount != 1:
            raise CaseConflict(DRAFT_CONFLICT)
        s.expire(draft)
        return Saved(revision + 1, (), now)

    @staticmethod
    def _published(service_key: str):
        return (select(Definition).where(Definition.service_key == service_key,
                                         Definition.status == "published")
                .order_by(Definition.version.desc()))

    def _version(self, s: Session, service_key: str, version: int | None) -> Definition:
        query = self._published(service_key)
        if version is not None:
            query = query.where(Definition.version == version)
        definition = s.scalar(query.limit(1))
        if definition is None:
            raise NotFound("no such version")
        return definition


def _kind(problems: Collection[Problem], kind: str) -> list[dict]:
    return [{**row, "kind": kind} for row in problems_to_json(problems)]


def user_tasks(parsed: ParsedDefinition) -> list:
    return [spec for spec in _specs(parsed) if spec.manual and spec.bpmn_id]


def service_tasks(parsed: ParsedDefinition) -> list:
    return [spec for spec in _specs(parsed) if getattr(spec, "operation_name", None) and spec.bpmn_id]


def form_keys(parsed: ParsedDefinition) -> set[str]:
    return {key for spec in user_tasks(parsed) if (key := _properties(spec).get("formKey"))}


def _specs(parsed: ParsedDefinition) -> list:
    return [spec for process in (parsed.spec, *parsed.subprocess_specs.values())
            for spec in process.task_specs.values()]


def _properties(spec) -> dict:
    return dict((getattr(spec, "extensions", None) or {}).get("properties", {}) or {})
