"""Supervisor pages: every open case of the agency, reassignment, and the catalog items to review."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from engine import audit
from engine.db import reading, transaction, utcnow
from engine.errors import InvalidInput
from engine.models import HumanTask, Service
from handlers import catalog_review
from handlers import news as service_news
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


NEWS_MAX = 500


@bp.get("/catalog")
@staff_required("supervisor")
def catalog():
    actor = current_actor()
    now = utcnow()
    with reading(services.get().sessions) as s:
        items = s.scalars(select(Service).where(Service.owner_agency == actor.agency_code)
                          .order_by(Service.name)).all()
    return render_template("supervisor/catalog.html", items=items, now=now, stale=catalog_review.stale,
                           timedelta=timedelta)


@bp.post("/catalog/<key>/reviewed")
@staff_required("supervisor")
def reviewed(key: str):
    actor = current_actor()
    with transaction(services.get().sessions) as s:
        item = s.get(Service, key)
        if item is None or item.owner_agency != actor.agency_code:
            abort(404)
        item.reviewed_at = utcnow()
        audit.append(s, "catalog.review", actor_id=actor.user_id, ip=actor.ip, detail={"service": key})
    flash(_("已標示「%(name)s」內容已檢視。", name=item.name), "success")
    return redirect(url_for("supervisor.catalog"))


@bp.post("/catalog/<key>/news")
@staff_required("supervisor")
def news(key: str):
    """Publish a short news item of one of the agency's services to the members who follow it."""
    actor = current_actor()
    text = request.form.get("text", "").strip()
    if not text or len(text) > NEWS_MAX:
        flash(_("請輸入消息內容（最多 %(n)d 字）。", n=NEWS_MAX), "error")
        return redirect(url_for("supervisor.catalog"))
    svc = services.get()
    with transaction(svc.sessions) as s:
        item = s.get(Service, key)
        if item is None or item.owner_agency != actor.agency_code:
            abort(404)
        told = service_news.publish(s, item, text, svc.engine.settings)
        audit.append(s, "catalog.news", actor_id=actor.user_id, ip=actor.ip,
                     detail={"service": key, "readers": told})
    flash(_("已發布「%(name)s」最新消息，通知 %(n)d 位訂閱會員。", name=item.name, n=told), "success")
    return redirect(url_for("supervisor.catalog"))


from . import report_pages  # noqa: E402,F401 - registers the report pages on bp
