"""Admin pages: incidents (outside calls that failed for good) and their retry."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from engine import outbox
from engine.db import reading, transaction, utcnow
from engine.models import Case

from .. import services
from ..auth import current_actor, staff_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/incidents")
@staff_required("admin")
def incidents():
    with reading(services.get().sessions) as s:
        rows = outbox.open_incidents(s)
        numbers = dict(s.execute(select(Case.id, Case.number).where(
            Case.id.in_({i.case_id for i in rows if i.case_id}))).all())
    return render_template("admin/incidents.html", incidents=rows, numbers=numbers)


@bp.post("/incidents/<int:incident_id>/retry")
@staff_required("admin")
def retry(incident_id: int):
    actor = current_actor()
    try:
        with transaction(services.get().sessions) as s:
            outbox.retry(s, incident_id, actor.user_id, utcnow())
    except LookupError:
        abort(404)
    flash(_("已重新排入寄送，將由背景工作重試。"), "success")
    return redirect(url_for("admin.incidents"))
