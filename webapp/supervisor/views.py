"""Supervisor pages: every open case of the agency, and reassignment."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.db import reading, utcnow
from engine.errors import InvalidInput
from engine.models import HumanTask
from reports import worklists

from .. import services
from ..auth import current_actor, staff_required

bp = Blueprint("supervisor", __name__, url_prefix="/supervise")


@bp.get("/cases")
@staff_required("supervisor")
def open_cases():
    actor = current_actor()
    now = utcnow()
    with reading(services.get().sessions) as s:
        rows = worklists.open_cases(s, actor.agency_code, now)
        candidates = {t.id: worklists.assignable_users(s, t) for r in rows for t in r.tasks}
    return render_template("supervisor/open_cases.html", rows=rows, candidates=candidates, now=now)


@bp.post("/tasks/<task_id>/reassign")
@staff_required("supervisor")
def reassign(task_id: str):
    svc = services.get()
    with reading(svc.sessions) as s:
        if s.get(HumanTask, task_id) is None:
            abort(404)
    try:
        svc.engine.reassign(current_actor(), task_id, request.form.get("assignee", ""),
                            expected_revision=request.form.get("revision", type=int))
    except InvalidInput:
        flash(_("無法改派：請選擇該工作所屬群組中的人員。"), "error")
    else:
        flash(_("已改派。"), "success")
    return redirect(url_for("supervisor.open_cases"))
from . import report_pages  # noqa: E402,F401 - registers the report pages on bp
