from __future__ import annotations

from apiflask import abort
from flask import g, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from engine import documents
from engine.access import case_visibility
from engine.db import reading, transaction, utcnow
from engine.documents import Upload
from engine.errors import CaseConflict, EngineError, Forbidden, InvalidInput, NotFound
from engine.models import Case, HumanTask, Permit, Service
from handlers import permits
from reports import worklists

from .. import conflict_message, select_locale, services
from ..auth import current_actor
from ..extensions import csrf
from . import bp
from .schemas import (
    CaseOut,
    CasesOut,
    CommandOut,
    CompleteTaskIn,
    DocumentOut,
    RevisionIn,
    ServicesOut,
    StartCaseIn,
    TasksOut,
    VerificationOut,
)

csrf.exempt(bp)
SAFE = {"GET", "HEAD", "OPTIONS"}


PUBLIC = {"api.list_services", "api.verify_permit"}


@bp.before_request
def _authenticate():
    """Who it is comes before what they sent: 401 for strangers, CSRF for browser sessions."""
    signed_in = current_user.is_authenticated
    if not signed_in and request.endpoint not in PUBLIC:
        abort(401, _("請先登入"))
    if request.method not in SAFE and signed_in and not g.get("bearer_auth"):
        csrf.protect()


def _signed_in():
    if not current_user.is_authenticated:
        abort(401, _("請先登入"))
    return current_actor()


@bp.errorhandler(EngineError)
def _engine_error(exc: EngineError):
    status = {InvalidInput: 422, CaseConflict: 409, NotFound: 404, Forbidden: 403}.get(type(exc), 400)
    message = {
        409: conflict_message(),
        404: _("找不到此案件或工作，或您沒有檢視權限。"),
        403: _("您沒有執行此動作的權限。"),
        422: _("資料有誤，請依欄位說明修正。"),
    }.get(status, exc.message)
    body = {"error": exc.code, "message": message}
    if isinstance(exc, InvalidInput):
        body["errors"] = exc.errors
    return body, status


def _task_out(t: HumanTask) -> dict:
    return {"id": t.id, "case_id": t.case_id, "case_number": t.case.number, "name": t.name,
            "role": t.role, "agency_code": t.agency_code, "status": t.status,
            "assignee_id": t.assignee_id, "form_key": t.form_key, "created_at": t.created_at,
            "due_at": t.due_at, "completed_at": t.completed_at, "result": t.result}


def _case_out(s, case: Case, with_tasks: bool = False) -> dict:
    out = {c: getattr(case, c) for c in ("id", "number", "service_key", "status", "stage", "outcome",
                                         "revision", "opened_at", "due_at", "closed_at", "fields")}
    if with_tasks:
        out["tasks"] = [_task_out(t) for t in s.scalars(
            select(HumanTask).where(HumanTask.case_id == case.id).order_by(HumanTask.created_at))]
        out["permit_number"] = s.scalar(select(Permit.number).where(Permit.case_id == case.id))
    return out


@bp.get("/services")
@bp.output(ServicesOut)
@bp.doc(summary="The service catalog")
def list_services():
    with reading(services.get().sessions) as s:
        return {"items": s.scalars(select(Service).order_by(Service.name)).all()}


@bp.get("/cases")
@bp.output(CasesOut)
@bp.doc(summary="Cases the caller may see, newest first", responses={401: "Not signed in"})
def list_cases():
    actor = _signed_in()
    with reading(services.get().sessions) as s:
        cases = s.scalars(select(Case).where(case_visibility(actor))
                          .order_by(Case.opened_at.desc()).limit(200)).all()
        return {"items": [_case_out(s, c) for c in cases]}


@bp.get("/cases/<case_id>")
@bp.output(CaseOut)
@bp.doc(summary="One case with its tasks", responses={404: "No such case, or not visible"})
def get_case(case_id: str):
    actor = _signed_in()
    svc = services.get()
    with reading(svc.sessions) as s:
        return _case_out(s, svc.engine.visible_case(s, actor, case_id), with_tasks=True)


@bp.post("/cases")
@bp.input(StartCaseIn)
@bp.output(CommandOut, status_code=201)
@bp.doc(summary="Start a case (apply); send an Idempotency-Key header to make retries safe",
        responses={422: "Field errors", 404: "No such service"})
def start_case(json_data):
    actor = _signed_in()
    if actor.kind != "citizen":
        abort(403, _("只有申請人可以送出申請"))
    result = services.get().engine.start_case(
        actor, json_data["service"], json_data["application"],
        idempotency_key=request.headers.get("Idempotency-Key"), locale=select_locale())
    return result.as_dict()


@bp.post("/documents")
@bp.output(DocumentOut, status_code=201)
@bp.doc(summary="Upload an attachment (multipart field 'file'); reference its document_id in a form")
def upload_document():
    actor = _signed_in()
    storage = request.files.get("file")
    if storage is None or not storage.filename:
        return {"error": "invalid", "message": _("請選擇檔案"), "errors": {"file": [_("請選擇檔案")]}}, 422
    upload = Upload("file", storage.filename, storage.read())
    with transaction(services.get().sessions) as s:
        doc = documents.store(s, upload, actor.user_id)
        return documents.descriptor(doc)


@bp.get("/tasks")
@bp.output(TasksOut)
@bp.doc(summary="The caller's inbox: open tasks they hold or may claim")
def list_tasks():
    actor = _signed_in()
    with reading(services.get().sessions) as s:
        tasks = worklists.inbox(s, actor) if actor.is_staff else worklists.applicant_tasks(s, actor)
        return {"items": [_task_out(t) for t in tasks]}


@bp.post("/tasks/<task_id>/claim")
@bp.input(RevisionIn)
@bp.output(CommandOut)
@bp.doc(summary="Claim a task", responses={409: "Already claimed or case changed"})
def claim_task(task_id: str, json_data):
    result = services.get().engine.claim(_signed_in(), task_id,
                                         expected_revision=json_data.get("revision"))
    return result.as_dict()


@bp.post("/tasks/<task_id>/complete")
@bp.input(CompleteTaskIn)
@bp.output(CommandOut)
@bp.doc(summary="Complete a task with its form data; send an Idempotency-Key header",
        responses={409: "Case changed since it was loaded", 422: "Field errors"})
def complete_task(task_id: str, json_data):
    result = services.get().engine.complete_task(
        _signed_in(), task_id, json_data["data"], expected_revision=json_data.get("revision"),
        idempotency_key=request.headers.get("Idempotency-Key"), locale=select_locale())
    return result.as_dict()


@bp.get("/permits/<token>/verification")
@bp.output(VerificationOut)
@bp.doc(summary="Verify a permit from its QR code (public)", responses={404: "Unknown permit"})
def verify_permit(token: str):
    with reading(services.get().sessions) as s:
        result = permits.verify(s, token[:64], utcnow())
    if result is None:
        abort(404, _("查無此通行證"))
    return {**result.__dict__, "valid_now": result.valid_now}

