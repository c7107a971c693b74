"""Supervisors' report pages: each a table with a chart, and the same table as CSV, XLSX and PDF."""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import audit
from engine.calendar import TAIPEI
from engine.db import reading, transaction, utcnow
from engine.models import Agency, Case, HumanTask
from handlers import escalation
from reports import export, kpi as kpis, sla, tables, worklists
from reports.export import Table
from reports.tables import REPORTS

from .. import services
from ..auth import current_actor, staff_required
from .views import bp

DEFAULT_DAYS = 180
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _scope() -> sla.Scope:
    actor = current_actor()
    now = utcnow()
    try:
        since_day = date.fromisoformat(request.args.get("since", ""))
    except ValueError:
        since_day = (now - timedelta(days=DEFAULT_DAYS)).astimezone(TAIPEI).date()
    since = datetime.combine(since_day, time(0, 0), TAIPEI)
    return sla.Scope(None if actor.is_admin else actor.agency_code, since, now)


def _table(name: str, scope: sla.Scope) -> tuple[Table, dict]:
    with reading(services.get().sessions) as s:
        try:
            return tables.report_table(s, name, scope, _)
        except KeyError:
            abort(404)


@bp.get("/reports")
@staff_required("supervisor", "admin")
def reports_index():
    return redirect(url_for("supervisor.report", name="sla"))


@bp.get("/reports/<name>")
@staff_required("supervisor", "admin")
def report(name: str):
    scope = _scope()
    table, chart = _table(name, scope)
    exported = _export(name, table, scope)
    if exported is not None:
        return exported
    return render_template("supervisor/report.html", name=name, reports=REPORTS, table=table,
                           chart=json.dumps(chart, ensure_ascii=False), since=_day(scope.since))


def _export(name: str, table: Table, scope: sla.Scope) -> Response | None:
    """The table as CSV, XLSX or PDF when ``?format=`` asks for one."""
    wanted = request.args.get("format")
    if wanted == "csv":
        return _download(export.to_csv(table).encode(), "text/csv; charset=utf-8", f"{name}.csv")
    if wanted == "xlsx":
        return _download(export.to_xlsx(table), XLSX, f"{name}.xlsx")
    if wanted == "pdf":
        pdf = export.to_pdf([table], _agency_name(scope), _period(scope), scope.now.astimezone(TAIPEI),
                            table.title)
        return _download(pdf, "application/pdf", f"{name}.pdf")
    return None


def _download(content: bytes, mimetype: str, filename: str) -> Response:
    return Response(content, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={filename}"})


def _day(when: datetime) -> str:
    return when.astimezone(TAIPEI).date().isoformat()


def _period(scope: sla.Scope) -> str:
    return f"{_day(scope.since)} 至 {_day(scope.now)}"


def _agency_name(scope: sla.Scope) -> str:
    if scope.agency is None:
        return "臺南市政府（全市）"
    with reading(services.get().sessions) as s:
        agency = s.get(Agency, scope.agency)
        return agency.name if agency else scope.agency


@bp.get("/overdue")
@staff_required("supervisor", "admin")
def overdue():
    scope = _scope()
    with reading(services.get().sessions) as s:
        rows = sla.overdue(s, scope)
        candidates = {r.task_id: worklists.assignable_users(s, s.get(HumanTask, r.task_id)) for r in rows}
    exported = _export("overdue", tables.overdue_table(rows, scope.now, _), scope)
    if exported is not None:
        return exported
    return render_template("supervisor/overdue.html", rows=rows, candidates=candidates, now=scope.now,
                           reports=REPORTS)


@bp.post("/overdue/<task_id>/remind")
@staff_required("supervisor", "admin")
def remind(task_id: str):
    actor = current_actor()
    svc = services.get()
    with transaction(svc.sessions) as s:
        task = s.get(HumanTask, task_id)
        if task is None or task.status != "open" or not (actor.is_admin or task.agency_code == actor.agency_code):
            abort(404)
        number = s.get(Case, task.case_id).number
        told = escalation.chase(s, task, number, svc.engine.settings)
        audit.append(s, "task.chase", actor_id=actor.user_id, case_id=task.case_id, ip=actor.ip,
                     detail={"task_id": task_id, "told": told})
    flash(_("已稽催 %(number)s（通知 %(n)d 人）。", number=number, n=told), "success")
    return redirect(url_for("supervisor.overdue"))


@bp.get("/kpi")
@staff_required("supervisor", "admin")
def kpi():
    scope = _scope()
    with reading(services.get().sessions) as s:
        figures = kpis.panel(s, scope)
    return render_template("supervisor/kpi.html", figures=figures, reports=REPORTS, name="kpi",
                           since=_day(scope.since))
