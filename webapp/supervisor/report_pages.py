"""Supervisors' report pages: each a table with a chart, and the same table as CSV."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import audit
from engine.calendar import TAIPEI
from engine.db import reading, transaction, utcnow
from engine.models import Case, HumanTask
from handlers import escalation
from reports import sla, worklists

from .. import services
from ..auth import current_actor, staff_required
from .views import bp

DEFAULT_DAYS = 180


def _scope() -> sla.Scope:
    actor = current_actor()
    now = utcnow()
    try:
        since_day = date.fromisoformat(request.args.get("since", ""))
    except ValueError:
        since_day = (now - timedelta(days=DEFAULT_DAYS)).astimezone(TAIPEI).date()
    since = datetime.combine(since_day, time(0, 0), TAIPEI)
    return sla.Scope(None if actor.is_admin else actor.agency_code, since, now)


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _table(name: str, scope: sla.Scope) -> tuple[str, list[str], list[list], dict]:
    """(title, columns, rows, chart) of one report."""
    with reading(services.get().sessions) as s:
        if name == "sla":
            rows = sla.compliance(s, scope)
            months = sorted({r.month for r in rows})
            chart = {"type": "bar", "stacked": True, "labels": months, "datasets": [
                {"label": _("如期結案"), "data": [sum(r.on_time for r in rows if r.month == m) for m in months]},
                {"label": _("逾期結案"), "data": [sum(r.late for r in rows if r.month == m) for m in months]},
                {"label": _("逾期未結"), "data": [sum(r.open_overdue for r in rows if r.month == m) for m in months]},
            ]}
            return (_("處理期限達成率"), [_("服務"), _("月份"), _("如期結案"), _("逾期結案"), _("逾期未結"),
                                          _("處理中"), _("如期率")],
                    [[r.service, r.month, r.on_time, r.late, r.open_overdue, r.open_in_time, _pct(r.rate)]
                     for r in rows], chart)
        if name == "stages":
            rows = sla.stage_compliance(s, scope)
            labels = [f"{r.service} · {r.stage}" for r in rows]
            chart = {"type": "bar", "stacked": True, "labels": labels, "datasets": [
                {"label": _("如期"), "data": [r.on_time for r in rows]},
                {"label": _("逾期完成"), "data": [r.late for r in rows]},
                {"label": _("逾期未完成"), "data": [r.open_overdue for r in rows]}]}
            return (_("各階段期限達成"), [_("服務"), _("階段"), _("如期"), _("逾期完成"), _("逾期未完成")],
                    [[r.service, r.stage, r.on_time, r.late, r.open_overdue] for r in rows], chart)
        if name == "workload":
            people, pool = sla.workload(s, scope)
            chart = {"type": "bar", "labels": [w.who for w in people], "datasets": [
                {"label": _("持有中"), "data": [w.held for w in people]},
                {"label": _("期間內完成"), "data": [w.done for w in people]}]}
            rows = [[w.who, w.held, w.held_overdue, w.done] for w in people]
            rows += [[_("（待領取）%(stage)s", stage=stage), n, "", ""] for stage, n in pool]
            return (_("人員工作量"), [_("人員"), _("持有中"), _("其中逾期"), _("期間內完成")], rows, chart)
        if name == "cycle":
            rows = sla.cycle_times(s, scope)
            labels = [f"{c.service} · {c.stage or _('全案')}" for c in rows]
            chart = {"type": "bar", "labels": labels, "datasets": [
                {"label": _("中位數（日）"), "data": [round(c.median_days, 2) for c in rows]},
                {"label": _("第 90 百分位（日）"), "data": [round(c.p90_days, 2) for c in rows]}]}
            return (_("處理時間分布"), [_("服務"), _("階段"), _("件數"), _("中位數（日）"), _("第 90 百分位（日）")],
                    [[c.service, c.stage or _("全案"), c.count, f"{c.median_days:.2f}", f"{c.p90_days:.2f}"]
                     for c in rows], chart)
    abort(404)


REPORTS = ("sla", "stages", "workload", "cycle")


@bp.get("/reports")
@staff_required("supervisor", "admin")
def reports_index():
    return redirect(url_for("supervisor.report", name="sla"))


@bp.get("/reports/<name>")
@staff_required("supervisor", "admin")
def report(name: str):
    scope = _scope()
    title, columns, rows, chart = _table(name, scope)
    if request.args.get("format") == "csv":
        return _csv(name, columns, rows)
    return render_template("supervisor/report.html", name=name, reports=REPORTS, title=title,
                           columns=columns, rows=rows, chart=json.dumps(chart, ensure_ascii=False),
                           since=scope.since.astimezone(TAIPEI).date().isoformat())


def _csv(name: str, columns: list[str], rows: list[list]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}.csv"})


@bp.get("/overdue")
@staff_required("supervisor", "admin")
def overdue():
    scope = _scope()
    with reading(services.get().sessions) as s:
        rows = sla.overdue(s, scope)
        candidates = {r.task_id: worklists.assignable_users(s, s.get(HumanTask, r.task_id)) for r in rows}
    if request.args.get("format") == "csv":
        return _csv("overdue", [_("案件編號"), _("服務"), _("階段"), _("處理人"), _("起始"), _("期限"), _("逾期日數")],
                    [[r.number, r.service, r.stage, r.holder or _("待領取"), _local(r.since), _local(r.due_at),
                      f"{r.late_days(scope.now):.1f}"] for r in rows])
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


def _local(when: datetime) -> str:
    return when.astimezone(TAIPEI).strftime("%Y-%m-%d %H:%M")
