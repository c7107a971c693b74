"""The report tables (and charts) the pages, the exports and the weekly digest share.

Labels go through ``_``: the web layer passes its gettext, the digest (zh-TW
PDFs) passes nothing and gets the Chinese as written.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from engine.calendar import taipei_minutes

from . import sla
from .export import Table

Gettext = Callable[..., str]
REPORTS = ("sla", "stages", "workload", "cycle")


def as_written(text: str, **params) -> str:
    return text % params if params else text


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def report_table(s: Session, name: str, scope: sla.Scope, _: Gettext = as_written) -> tuple[Table, dict]:
    """One report's table and the chart drawn from it; KeyError for an unknown report."""
    if name == "sla":
        rows = sla.compliance(s, scope)
        months = sorted({r.month for r in rows})
        chart = {"type": "bar", "stacked": True, "labels": months, "datasets": [
            {"label": _("如期結案"), "data": [sum(r.on_time for r in rows if r.month == m) for m in months]},
            {"label": _("逾期結案"), "data": [sum(r.late for r in rows if r.month == m) for m in months]},
            {"label": _("逾期未結"), "data": [sum(r.open_overdue for r in rows if r.month == m) for m in months]},
            {"label": _("處理中"), "data": [sum(r.open_in_time for r in rows if r.month == m) for m in months]},
        ]}
        return Table(_("處理期限達成率"), [_("服務"), _("月份"), _("如期結案"), _("逾期結案"), _("逾期未結"),
                                           _("處理中"), _("如期率")],
                     [[r.service, r.month, r.on_time, r.late, r.open_overdue, r.open_in_time, _pct(r.rate)]
                      for r in rows]), chart
    if name == "stages":
        rows = sla.stage_compliance(s, scope)
        labels = [f"{r.service} · {r.stage}" for r in rows]
        chart = {"type": "bar", "stacked": True, "labels": labels, "datasets": [
            {"label": _("如期"), "data": [r.on_time for r in rows]},
            {"label": _("逾期完成"), "data": [r.late for r in rows]},
            {"label": _("逾期未完成"), "data": [r.open_overdue for r in rows]}]}
        return Table(_("各階段期限達成"), [_("服務"), _("階段"), _("如期"), _("逾期完成"), _("逾期未完成")],
                     [[r.service, r.stage, r.on_time, r.late, r.open_overdue] for r in rows]), chart
    if name == "workload":
        people, pool = sla.workload(s, scope)
        chart = {"type": "bar", "labels": [w.who for w in people], "datasets": [
            {"label": _("持有中"), "data": [w.held for w in people]},
            {"label": _("期間內完成"), "data": [w.done for w in people]}]}
        rows = [[w.who, w.held, w.held_overdue, w.done] for w in people]
        rows += [[_("（待領取）%(stage)s", stage=stage), n, "", ""] for stage, n in pool]
        return Table(_("人員工作量"), [_("人員"), _("持有中"), _("其中逾期"), _("期間內完成")], rows), chart
    if name == "cycle":
        rows = sla.cycle_times(s, scope)
        labels = [f"{c.service} · {c.stage or _('全案')}" for c in rows]
        chart = {"type": "bar", "labels": labels, "datasets": [
            {"label": _("中位數（日）"), "data": [round(c.median_days, 2) for c in rows]},
            {"label": _("第 90 百分位（日）"), "data": [round(c.p90_days, 2) for c in rows]}]}
        return Table(_("處理時間分布"), [_("服務"), _("階段"), _("件數"), _("中位數（日）"), _("第 90 百分位（日）")],
                     [[c.service, c.stage or _("全案"), c.count, f"{c.median_days:.2f}", f"{c.p90_days:.2f}"]
                      for c in rows]), chart
    raise KeyError(name)


def overdue_table(rows: list[sla.Overdue], now: datetime, _: Gettext = as_written) -> Table:
    return Table(_("稽催報表"), [_("案件編號"), _("服務"), _("階段"), _("處理人"), _("起始"), _("期限"), _("逾期日數")],
                 [[r.number, r.service, r.stage, r.holder or _("待領取"), taipei_minutes(r.since), taipei_minutes(r.due_at),
                   f"{r.late_days(now):.1f}"] for r in rows])
