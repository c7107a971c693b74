"""The clerk's workbench: inbox, task pages, claim, release and decide."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from engine import audit, outbox
from engine.masking import mask_address, mask_id
from engine.db import reading, transaction, utcnow
from engine.errors import InvalidInput
from engine.models import HumanTask, Permit
from reports import casefile, worklists

from .. import select_locale, services, submissions
from ..auth import current_actor, staff_required

bp = Blueprint("workbench", __name__, url_prefix="/work")


@bp.get("/inbox")
@staff_required()
def inbox():
    actor = current_actor()
    with reading(services.get().sessions) as s:
        tasks = worklists.inbox(s, actor)
    return render_template("workbench/inbox.html", tasks=tasks, now=utcnow())


def _load(task_id: str, reveal: bool = False):
    """The task and its case, 404 unless the clerk may see the case."""
    svc = services.get()
    actor = current_actor()
    with reading(svc.sessions) as s:
        task = s.get(HumanTask, task_id)
        if task is None or task.role == "applicant":
            abort(404)
        case = svc.engine.visible_case(s, actor, task.case_id)
        same_round = _same_round(s, task)
        page = {
            "task": task,
            "case": case,
            "data": svc.engine.task_data(s, case),
            "siblings": [o for o in casefile.opinions(s, case) if o.task_name == task.name
                         and o.task_id != task.id and o.task_id in same_round],
            "opinions": casefile.opinions(s, case, exclude_task_id=task.id),
            "timeline": casefile.timeline(s, case),
            "permit": s.scalar(select(Permit).where(Permit.case_id == case.id)),
            "mydata": casefile.mydata_records(s, case),
            "incidents": outbox.open_incidents(s, case.id),
            "application_form": svc.engine.forms_of(s, case.definition_id).get(case.service.application_form),
            "form": svc.engine.forms_of(s, case.definition_id).get(task.form_key) if task.form_key else None,
            "now": utcnow(),
            "reveal": reveal,
        }
    page["mydata_fields"] = {r.id: masked(r.fields, reveal) for r, _tx in page["mydata"]}
    return page


def _same_round(s, task: HumanTask) -> set[str]:
    """The tasks dispatched together with ``task``: the same step, opened by the same command.

    A co-handling round that runs again after a correction lists only its own agencies.
    """
    return set(s.scalars(select(HumanTask.id).where(
        HumanTask.case_id == task.case_id, HumanTask.spec_name == task.spec_name,
        HumanTask.created_at == task.created_at)))


@bp.get("/tasks/<task_id>")
@staff_required()
def task(task_id: str):
    reveal = request.args.get("reveal") == "1"
    page = _load(task_id, reveal)
    form = page["form"]
    actor = current_actor()
    with transaction(services.get().sessions) as s:
        if reveal:
            audit.append(s, "case.reveal_identifier", actor_id=actor.user_id,
                         case_id=page["case"].id, ip=actor.ip, purpose="case review",
                         detail={"task_id": task_id})
        if page["mydata"]:
            audit.append(s, "mydata.view", actor_id=actor.user_id, case_id=page["case"].id,
                         ip=actor.ip, purpose="case review",
                         detail={"datasets": [r.resource_id for r, _tx in page["mydata"]],
                                 "revealed": reveal})
    return render_template("workbench/task.html", values=form.defaults() if form else {},
                           errors={}, **page)


def masked(value, reveal: bool, key: str = ""):
    """MyData fields as a clerk first sees them: identifiers and addresses masked."""
    if isinstance(value, dict):
        return {k: masked(v, reveal, k) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, reveal, key) for v in value]
    if reveal or not isinstance(value, str):
        return value
    if "national_id" in key or key in ("id_no", "responsible_person_id"):
        return mask_id(value)
    if "address" in key:
        return mask_address(value)
    return value


@bp.post("/tasks/<task_id>/claim")
@staff_required()
def claim(task_id: str):
    services.get().engine.claim(current_actor(), task_id,
                                expected_revision=request.form.get("revision", type=int))
    flash(_("已領取此工作。"), "success")
    return redirect(url_for("workbench.task", task_id=task_id))


@bp.post("/tasks/<task_id>/release")
@staff_required()
def release(task_id: str):
    services.get().engine.release(current_actor(), task_id,
                                  expected_revision=request.form.get("revision", type=int))
    flash(_("已將此工作退回群組工作匣。"), "success")
    if request.form.get("from") == "supervisor":
        return redirect(url_for("supervisor.open_cases"))
    return redirect(url_for("workbench.inbox"))


@bp.post("/tasks/<task_id>")
@staff_required()
def complete(task_id: str):
    """The engine checks who may complete the task; the full page is built only to show errors."""
    svc = services.get()
    with reading(svc.sessions) as s:
        task = s.get(HumanTask, task_id)
        if task is None or task.role == "applicant" or not task.form_key:
            abort(404)
        form = svc.engine.forms_of(s, task.case.definition_id).get(task.form_key)
    values, uploads = submissions.read(form)
    try:
        result = svc.engine.complete_task(
            current_actor(), task_id, values, uploads=uploads,
            expected_revision=request.form.get("revision", type=int),
            idempotency_key=request.form.get("idempotency_key") or None,
            locale=select_locale())
    except InvalidInput as exc:
        return render_template("workbench/task.html", values=values, errors=exc.errors,
                               **_load(task_id)), 422
    flash(_("已完成「%(name)s」，案件 %(number)s 已送往下一階段。", name=task.name,
            number=result.number), "success")
    return redirect(url_for("workbench.inbox"))
