"""The analyst studio: diagrams and forms edited in the browser, checked, test-run, published, migrated.

Pages are for analysts (and admins, who approve); the modeler and the form
editor talk JSON to the endpoints here. Every command is the engine's
(``engine.studio``); a view only reads the request and shapes the answer.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from engine.db import reading
from engine.definitions import KNOWN_ROLES, Problem
from engine.errors import CaseConflict, DeploymentError, EngineError, Forbidden, InvalidInput, NotFound
from engine.forms import FormDefinitionError, FormNotFound, form_from_definition
from engine.models import Case, Definition, DefinitionDraft, Service, User
from engine.studio import drafts as studio_drafts
from engine.studio.importer import import_bpmn
from engine.studio.testrun import sample_answers
from handlers.mydata import extract

from .. import labels, localtime, select_locale, services
from ..auth import current_actor, staff_required

bp = Blueprint("studio", __name__, url_prefix="/studio")

MAX_UPLOAD = 2 * 1024 * 1024
DRAFT_STATUSES = {"editing": _l("編修中"), "submitted": _l("送審中"), "published": _l("已發布"),
                  "discarded": _l("已捨棄")}


def _studio() -> studio_drafts.Studio:
    return services.get().studio


def problem_json(problem: Problem) -> dict:
    return {"element": problem.element, "message": problem.text(_)}


def _problems(rows) -> list[dict]:
    return [problem_json(p) for p in studio_drafts.problems_from_json(rows)]


def _json_error(exc: EngineError):
    status = {InvalidInput: 400, DeploymentError: 400, CaseConflict: 409, NotFound: 404,
              Forbidden: 403}.get(type(exc), 400)
    body = {"message": _(exc.message) if status != 404 else _("找不到這份草稿。")}
    if isinstance(exc, InvalidInput):
        body["errors"] = {k: [_(m) for m in v] for k, v in exc.errors.items()}
        body["problems"] = [m for v in body["errors"].values() for m in v]
    if isinstance(exc, DeploymentError):
        body["problems"] = list(exc.problems)
    return body, status


def _draft_or_404(s, draft_id: str) -> DefinitionDraft:
    try:
        return _studio().draft(s, current_actor(), draft_id)
    except NotFound:
        abort(404)


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400)
    return body


def _draft_view(s, draft: DefinitionDraft) -> dict:
    base = s.get(Definition, draft.base_definition_id) if draft.base_definition_id else None
    return {"id": draft.id, "service_key": draft.service_key, "revision": draft.revision, "status": draft.status,
            "status_label": str(DRAFT_STATUSES.get(draft.status, draft.status)),
            "base_version": base.version if base else None, "author_name": draft.author.display_name,
            "updated_at": draft.updated_at, "review_note": draft.review_note, "source": draft.source,
            "problem_count": len(draft.problems or [])}


def _can_edit(draft: DefinitionDraft) -> bool:
    return draft.status == "editing" and studio_drafts.may_edit(current_actor())


# -- overview --------------------------------------------------------------

@bp.get("/")
@staff_required("analyst")
def index():
    with reading(services.get().sessions) as s:
        catalog = s.scalars(select(Service).order_by(Service.key)).all()
        latest = dict(s.execute(select(Definition.service_key, func.max(Definition.version))
                                .where(Definition.status == "published").group_by(Definition.service_key)).all())
        open_by_version = {}
        for key, version, count in s.execute(
                select(Case.service_key, Definition.version, func.count())
                .join(Definition, Definition.id == Case.definition_id)
                .where(Case.status == "open").group_by(Case.service_key, Definition.version)):
            open_by_version.setdefault(key, []).append((version, count))
        rows = s.scalars(select(DefinitionDraft).where(DefinitionDraft.status.in_(("editing", "submitted")))
                         .order_by(DefinitionDraft.updated_at.desc())).all()
        names = {svc.key: svc.name for svc in catalog}
        pending = [{**_draft_view(s, d), "service_name": names.get(d.service_key, d.service_key),
                    "approvable": studio_drafts.may_approve(current_actor(), d)} for d in rows]
    return render_template("studio/index.html", services=[s_ for s_ in catalog if s_.key in latest],
                           latest=latest, open_by_version=open_by_version, drafts=pending,
                           can_edit=studio_drafts.may_edit(current_actor()))


@bp.post("/services/<key>/drafts")
@staff_required("analyst")
def open_draft(key: str):
    try:
        draft_id = _studio().open_draft(current_actor(), key, version=request.form.get("version", type=int))
    except NotFound:
        abort(404)
    return redirect(url_for("studio.draft", draft_id=draft_id))


@bp.post("/import")
@staff_required("analyst")
def import_file():
    upload = request.files.get("file")
    key = request.form.get("service", "")
    data = upload.read(MAX_UPLOAD + 1) if upload else b""
    if not data:
        flash(_("請選擇要匯入的 BPMN 檔案。"), "error")
        return redirect(url_for("studio.index"))
    if len(data) > MAX_UPLOAD:
        flash(_("檔案超過 2 MB 上限，無法匯入。"), "error")
        return redirect(url_for("studio.index"))
    svc = services.get()
    try:
        report = import_bpmn(data, forms=svc.forms.keys(), handlers=svc.engine.handlers.names(), roles=KNOWN_ROLES)
        draft_id = _studio().open_imported(current_actor(), key, report.bpmn,
                                           converted=report.converted, unsupported=report.unsupported)
    except DeploymentError as exc:
        flash(_("無法匯入：%(reason)s", reason=_(exc.message)), "error")
        return redirect(url_for("studio.index"))
    except NotFound:
        abort(404)
    flash(_("已匯入為新草稿：%(count)d 項需要在工作室中處理。", count=len(report.unsupported))
          if report.unsupported else _("已匯入為新草稿，所有元素都可以執行。"),
          "info" if report.unsupported else "success")
    return redirect(url_for("studio.draft", draft_id=draft_id))


# -- the modeler -----------------------------------------------------------

@bp.get("/drafts/<draft_id>")
@staff_required("analyst")
def draft(draft_id: str):
    svc = services.get()
    with reading(svc.sessions) as s:
        record = _draft_or_404(s, draft_id)
        service = s.get(Service, record.service_key)
        forms = _studio().forms_of(record)
        view = _draft_view(s, record)
        import_report = [{**problem_json(p), "kind": row.get("kind", "unsupported")} for row, p in
                         zip(record.import_report or [], studio_drafts.problems_from_json(record.import_report))]
        studio_data = {
            "revision": record.revision,
            "urls": {"diagram": url_for("studio.diagram", draft_id=draft_id),
                     "save": url_for("studio.save", draft_id=draft_id),
                     "samples": url_for("studio.samples", draft_id=draft_id),
                     "test_run": url_for("studio.test_run", draft_id=draft_id),
                     "form_editor": url_for("studio.form_editor", draft_id=draft_id, key="__KEY__")},
            "roles": [{"code": code, "label": labels.label(labels.ROLES, code)} for code in sorted(KNOWN_ROLES)],
            "forms": [{"key": key, "title": _form_title(forms, key)} for key in forms.keys()],
            "handlers": [{"name": name} for name in svc.engine.handlers.names()],
            "messages": sorted(_studio().messages),
            "problems": _problems(record.problems),
        }
    return render_template("studio/modeler.html", draft=view, service=service, studio_data=studio_data,
                           can_edit=_can_edit(record), import_report=import_report)


def _form_title(forms, key: str) -> str:
    try:
        return forms.get(key).label(select_locale())
    except (FormNotFound, FormDefinitionError):
        return key


@bp.get("/drafts/<draft_id>/diagram.bpmn")
@staff_required("analyst")
def diagram(draft_id: str):
    with reading(services.get().sessions) as s:
        xml = _draft_or_404(s, draft_id).bpmn_xml
    return xml, 200, {"Content-Type": "application/xml; charset=utf-8", "Cache-Control": "no-store",
                      "Content-Disposition": f'inline; filename="{draft_id}.bpmn"'}


@bp.post("/drafts/<draft_id>")
@staff_required("analyst")
def save(draft_id: str):
    body = _json_body()
    bpmn, revision = body.get("bpmn"), body.get("revision")
    if not isinstance(bpmn, str) or not isinstance(revision, int):
        return {"message": _("儲存內容不完整，請重新整理頁面後再試。")}, 400
    try:
        saved = _studio().save(current_actor(), draft_id, bpmn.encode("utf-8"), revision=revision)
    except EngineError as exc:
        return _json_error(exc)
    return {"revision": saved.revision, "problems": [problem_json(p) for p in saved.problems],
            "saved_at": localtime(saved.updated_at)}


@bp.get("/drafts/<draft_id>/samples")
@staff_required("analyst")
def samples(draft_id: str):
    with reading(services.get().sessions) as s:
        record = _draft_or_404(s, draft_id)
        try:
            return _studio().samples(record)
        except DeploymentError as exc:
            return _json_error(exc)


@bp.post("/drafts/<draft_id>/test-run")
@staff_required("analyst")
def test_run(draft_id: str):
    body = _json_body()
    answers, results = body.get("answers", {}), body.get("service_results", {})
    application = body.get("application")
    if not isinstance(answers, dict) or not isinstance(results, dict) or not isinstance(application, (dict, type(None))):
        return {"message": _("試跑資料格式不正確。")}, 400
    with reading(services.get().sessions) as s:
        record = _draft_or_404(s, draft_id)
        try:
            run = _studio().test_run(record, answers=answers, service_results=results, application=application,
                                     start_data=extract.case_facts({}))
        except DeploymentError as exc:
            return _json_error(exc)
    return _run_json(run)


OUTCOMES = {"completed": _l("已走到結束事件"), "stuck": _l("停在等待中的步驟"),
            "runaway": _l("迴圈沒有結束，已中止"), "failed": _l("執行失敗")}


def _run_json(run) -> dict:
    return {"outcome": run.outcome, "outcome_label": str(OUTCOMES.get(run.outcome, run.outcome)),
            "end_event": run.end_event, "path": list(run.path),
            "steps": [{"element": st.element, "name": st.name, "kind": st.kind, "lane": st.lane,
                       "answers": st.answers, "params": st.params, "result": st.result, "data": st.data,
                       "instance": st.instance} for st in run.steps],
            "timers": [{"element": t.element, "name": t.name, "expression": t.expression,
                        "fires_at": t.fires_at, "attached_to": t.attached_to} for t in run.timers],
            "problems": [problem_json(p) for p in run.problems]}


# -- forms -----------------------------------------------------------------

@bp.get("/drafts/<draft_id>/forms/<key>")
@staff_required("analyst")
def form_editor(draft_id: str, key: str):
    with reading(services.get().sessions) as s:
        record = _draft_or_404(s, draft_id)
        forms = _studio().forms_of(record)
        try:
            definition = forms.raw(key)
        except FormNotFound:
            definition = {"title": key, "title_en": key, "schema": {"type": "object", "properties": {}}, "ui": {}}
        view = _draft_view(s, record)
        record_revision = record.forms_revision
        service = s.get(Service, record.service_key)
        used_by = _studio().form_users(record, key)
    editor_data = {"definition": definition, "revision": record_revision,
                   "urls": {"save": url_for("studio.save_form", draft_id=draft_id, key=key),
                            "preview": url_for("studio.preview_form", draft_id=draft_id, key=key),
                            "back": url_for("studio.draft", draft_id=draft_id)}}
    return render_template("studio/form_editor.html", draft=view, service=service, form_key=key,
                           can_edit=_can_edit(record), used_by=used_by, editor_data=editor_data)


@bp.post("/drafts/<draft_id>/forms/<key>")
@staff_required("analyst")
def save_form(draft_id: str, key: str):
    body = _json_body()
    definition, revision = body.get("definition"), body.get("revision")
    if not isinstance(definition, dict) or not isinstance(revision, int):
        return {"message": _("儲存內容不完整，請重新整理頁面後再試。")}, 400
    try:
        saved = _studio().save_form(current_actor(), draft_id, key, definition, revision=revision)
    except EngineError as exc:
        body, status = _json_error(exc)
        if status == 400:
            body["message"] = _("表單定義有誤，沒有儲存。")
        return body, status
    return {"revision": saved.revision, "problems": [problem_json(p) for p in saved.problems],
            "saved_at": localtime(saved.updated_at)}


@bp.post("/drafts/<draft_id>/forms/<key>/preview")
@staff_required("analyst")
def preview_form(draft_id: str, key: str):
    body = _json_body()
    with reading(services.get().sessions) as s:
        _draft_or_404(s, draft_id)
    try:
        form = form_from_definition(key, body.get("definition") or {})
    except FormDefinitionError as exc:
        return {"problems": exc.problems}, 400
    locale = "en" if body.get("locale") == "en" else "zh_TW"
    audience = "clerk" if body.get("audience") == "clerk" else "applicant"
    with force_locale(locale):
        return render_template("studio/_form_preview.html", form=form, locale=locale, audience=audience,
                               data=sample_answers(form) if audience == "clerk" else {})


# -- review, publish -------------------------------------------------------

@bp.get("/drafts/<draft_id>/review")
@staff_required("analyst")
def review(draft_id: str):
    with reading(services.get().sessions) as s:
        record = _draft_or_404(s, draft_id)
        view = _draft_view(s, record)
        service = s.get(Service, record.service_key)
        try:
            diff = _studio().draft_diff(s, record)
        except DeploymentError:
            diff = None
        problems = _problems(record.problems)
        approvable = studio_drafts.may_approve(current_actor(), record)
    return render_template("studio/review.html", draft=view, service=service, diff=diff, problems=problems,
                           approvable=approvable, can_edit=_can_edit(record),
                           is_editor=studio_drafts.may_edit(current_actor()))


def _command(draft_id: str, run, done: str):
    try:
        run()
    except EngineError as exc:
        body, _status = _json_error(exc)
        flash(body["message"], "error")
        return redirect(url_for("studio.review", draft_id=draft_id))
    flash(done, "success")
    return None


@bp.post("/drafts/<draft_id>/submit")
@staff_required("analyst")
def submit(draft_id: str):
    revision = request.form.get("revision", type=int)
    failed = _command(draft_id, lambda: _studio().submit(current_actor(), draft_id, revision=revision),
                      _("已送審，請另一位業務分析人員或管理者核准發布。"))
    return failed or redirect(url_for("studio.review", draft_id=draft_id))


@bp.post("/drafts/<draft_id>/return")
@staff_required("analyst")
def return_draft(draft_id: str):
    note = request.form.get("note", "").strip()
    failed = _command(draft_id, lambda: _studio().withdraw(current_actor(), draft_id, note=note),
                      _("草稿已退回編修。"))
    return failed or redirect(url_for("studio.review", draft_id=draft_id))


@bp.post("/drafts/<draft_id>/publish")
@staff_required("analyst")
def publish(draft_id: str):
    published = {}

    def run():
        published["definition"] = _studio().publish(current_actor(), draft_id)

    failed = _command(draft_id, run, _("已發布新版本，新案件將使用新版本；進行中的案件維持原版本。"))
    if failed:
        return failed
    definition = published["definition"]
    return redirect(url_for("studio.migration", key=definition.service_key, to=definition.version))


@bp.post("/drafts/<draft_id>/discard")
@staff_required("analyst")
def discard(draft_id: str):
    revision = request.form.get("revision", type=int)
    failed = _command(draft_id, lambda: _studio().discard(current_actor(), draft_id, revision=revision),
                      _("草稿已捨棄。"))
    return failed or redirect(url_for("studio.index"))


# -- versions and migration --------------------------------------------------

@bp.get("/services/<key>/versions")
@staff_required("analyst")
def versions(key: str):
    with reading(services.get().sessions) as s:
        service = s.get(Service, key)
        if service is None:
            abort(404)
        rows = s.execute(select(Definition.id, Definition.version, Definition.created_at, Definition.sha256,
                                Definition.created_by, Definition.approved_by)
                         .where(Definition.service_key == key).order_by(Definition.version.desc())).all()
        if not rows:
            abort(404)
        people = dict(s.execute(select(User.id, User.display_name).where(
            User.id.in_({r.created_by for r in rows} | {r.approved_by for r in rows}))).all())
        newest = rows[0].version
        to_version = request.args.get("to", type=int) or newest
        from_version = request.args.get("from", type=int) or max(to_version - 1, 1)
        diff = _studio().diff(s, key, from_version, to_version) if from_version != to_version else None
    return render_template("studio/versions.html", service=service, versions=rows, people=people, diff=diff,
                           from_version=from_version, to_version=to_version)


@bp.get("/services/<key>/migration")
@staff_required("analyst")
def migration(key: str):
    with reading(services.get().sessions) as s:
        service = s.get(Service, key)
        if service is None:
            abort(404)
        try:
            target, plans = _studio().migration_plan(s, key, request.args.get("to", type=int))
        except NotFound:
            abort(404)
    return render_template("studio/migration.html", service=service, target=target, plans=plans)


@bp.post("/services/<key>/migration")
@staff_required("analyst")
def migrate(key: str):
    to_version = request.form.get("to", type=int)
    chosen = request.form.getlist("case")
    if not chosen:
        flash(_("請勾選要移轉的案件。"), "error")
        return redirect(url_for("studio.migration", key=key, to=to_version))
    try:
        moved, refused = _studio().migrate(current_actor(), key, to_version, chosen)
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403)
    if moved:
        flash(_("已移轉 %(count)d 件案件到第 %(version)d 版。", count=len(moved), version=to_version), "success")
    for number, reason in refused:
        flash(_("%(number)s 未移轉：%(reason)s", number=number, reason=reason.text(_)), "error")
    return redirect(url_for("studio.migration", key=key, to=to_version))
