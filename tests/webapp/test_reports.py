"""Supervisors' reports from the derived rows: compliance, overdue list, workload, cycle times."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from engine import tallies
from engine.db import reading, transaction, utcnow
from engine.models import Case, CaseTally, HumanTask, Notification, TaskTally, User
from reports import sla
from webapp import services

from .flow import claim, inbox_task, submit_application, text_of, work


def _shape(app, case_id: str, *, opened_days_ago: float, closed_after: float | None = None,
           due_after: float) -> None:
    """Move a case's timestamps: opened N days ago, closed after M days, due after D days.

    Rewriting history is a bulk load, so the tallies are recounted as after one.
    """
    now = utcnow()
    opened = now - timedelta(days=opened_days_ago)
    values = {"opened_at": opened, "due_at": opened + timedelta(days=due_after)}
    if closed_after is not None:
        values.update(status="closed", closed_at=opened + timedelta(days=closed_after), outcome="approved")
    with app.app_context(), transaction(services.get().sessions) as s:
        s.execute(update(Case).where(Case.id == case_id).values(**values))
        tallies.rebuild(s.connection())


@pytest.fixture
def figures(app, login):
    company, clerk = login("company"), login("tb.clerk")
    made = [submit_application(company) for _ in range(4)]
    # three finished in 1, 2 and 5 days against a 3-day deadline; one open and past due
    for (case_id, _n), took in zip(made[:3], (1, 2, 5)):
        _shape(app, case_id, opened_days_ago=10, closed_after=took, due_after=3)
    open_id, open_number = made[3]
    _shape(app, open_id, opened_days_ago=9, due_after=3)
    task_id = inbox_task(clerk, open_number)
    claim(clerk, task_id)
    with app.app_context(), transaction(services.get().sessions) as s:
        s.execute(update(HumanTask).where(HumanTask.id == task_id).values(due_at=utcnow() - timedelta(days=2)))
    return open_number, task_id


def test_compliance_counts_on_time_late_and_open_overdue(app, login, figures):
    with app.app_context(), reading(services.get().sessions) as s:
        rows = sla.compliance(s, sla.Scope("TB", utcnow() - timedelta(days=30), utcnow()))
    total = {k: sum(getattr(r, k) for r in rows) for k in ("on_time", "late", "open_overdue")}
    assert total == {"on_time": 2, "late": 1, "open_overdue": 1}
    page = login("tb.supervisor").get("/supervise/reports/sla")
    assert page.status_code == 200 and "大型車輛行駛管制道路通行證" in text_of(page)
    assert "66.7%" in text_of(page)  # 2 of 3 finished on time
    assert login("sb.supervisor").get("/supervise/reports/sla").status_code == 200
    assert "大型車輛" not in text_of(login("sb.supervisor").get("/supervise/reports/sla"))  # another agency
    assert login("tb.clerk").get("/supervise/reports/sla").status_code == 403


def test_a_case_finished_through_the_engine_counts_at_once_for_each_agency_once_citywide(app, login):
    company, clerk = login("company"), login("tb.clerk")
    _case_id, number = submit_application(company)
    work(clerk, number, decision="cosign")
    work(login("police.yk"), number, opinion="agree")
    work(login("police.sh"), number, opinion="agree")
    work(clerk, number, decision="approve", conditions="應依核准路線行駛。")

    def finished(agency):
        with app.app_context(), reading(services.get().sessions) as s:
            scope = sla.Scope(agency, utcnow() - timedelta(days=1), utcnow())
            return (sum(r.on_time for r in sla.compliance(s, scope)),
                    {r.stage: r.on_time for r in sla.stage_compliance(s, scope)})

    assert finished("TB") == (1, {"收件審查": 1, "核定": 1})
    assert finished("TNPD-YK")[0] == 1 and finished("TNPD-SH")[0] == 1  # co-signers see the case too
    assert finished("TNPD-YK")[1] == {"警察分局會辦": 1}
    city_cases, city_stages = finished(None)
    assert city_cases == 1 and city_stages["警察分局會辦"] == 2  # the case once, each co-signing task

    def counted():
        with app.app_context(), reading(services.get().sessions) as s:
            return (sorted(tuple(r) for r in s.execute(select(CaseTally.__table__)).all()),
                    sorted(tuple(r) for r in s.execute(select(TaskTally.__table__)).all()))

    as_written = counted()
    with app.app_context(), transaction(services.get().sessions) as s:
        tallies.rebuild(s.connection())
    assert counted() == as_written  # counting as cases finish agrees with recounting from scratch


def test_cycle_time_median_and_90th_percentile(app, login, figures):
    with app.app_context(), reading(services.get().sessions) as s:
        rows = sla.cycle_times(s, sla.Scope("TB", utcnow() - timedelta(days=30), utcnow()))
    whole = next(r for r in rows if r.stage is None)
    assert whole.count == 3 and whole.median_days == pytest.approx(2.0)
    assert whole.p90_days == pytest.approx(4.4)  # 2 + (5 - 2) × 0.8, as percentile_cont interpolates
    body = login("tb.supervisor").get("/supervise/reports/cycle?format=csv").get_data(as_text=True)
    table = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert table[0][:3] == ["服務", "階段", "件數"]
    assert ["大型車輛行駛管制道路通行證", "全案", "3", "2.00", "4.40"] in table


def test_overdue_list_reminds_and_reassigns(app, login, figures):
    number, task_id = figures
    boss = login("tb.supervisor")
    page = boss.get("/supervise/overdue")
    assert number in text_of(page) and "陳怡君" in text_of(page) and "2.0 天" in text_of(page)
    assert boss.post(f"/supervise/overdue/{task_id}/remind").status_code == 302
    with app.app_context(), reading(services.get().sessions) as s:
        told = s.scalars(select(Notification.text).join(User, User.id == Notification.user_id)
                         .where(User.username == "tb.clerk", Notification.text.contains("稽催"))).all()
    assert len(told) == 1 and number in told[0]
    assert login("sb.supervisor").post(f"/supervise/overdue/{task_id}/remind").status_code == 404
    body = boss.get("/supervise/overdue?format=csv").get_data(as_text=True)
    assert number in body and "陳怡君" in body

    workload = text_of(boss.get("/supervise/reports/workload"))
    assert "陳怡君" in workload
    with app.app_context(), reading(services.get().sessions) as s:
        people, _pool = sla.workload(s, sla.Scope("TB", utcnow() - timedelta(days=30), utcnow()))
    chen = next(w for w in people if w.who == "陳怡君")
    assert (chen.held, chen.held_overdue) == (1, 1)


def test_stage_compliance_uses_the_diagrams_deadlines(app, login, figures):
    with app.app_context(), reading(services.get().sessions) as s:
        rows = sla.stage_compliance(s, sla.Scope("TB", utcnow() - timedelta(days=30), utcnow()))
    intake = next(r for r in rows if r.stage == "收件審查")
    assert intake.open_overdue == 1
    assert "收件審查" in text_of(login("admin").get("/supervise/reports/stages"))


@pytest.mark.parametrize("name, heading, figure", [
    ("sla", "處理期限達成率", "66.7%"),
    ("stages", "各階段期限達成", "收件審查"),
    ("workload", "人員工作量", "陳怡君"),
    ("cycle", "處理時間分布", "4.40"),
])
def test_every_report_as_pdf_and_xlsx_carries_its_headings_and_figures(app, login, figures, name, heading,
                                                                       figure):
    from openpyxl import load_workbook
    from pypdf import PdfReader

    boss = login("tb.supervisor")
    pdf = boss.get(f"/supervise/reports/{name}?format=pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert heading in text and figure in text
    assert "臺南市政府交通局" in text and "統計期間" in text and "第 1 頁，共 1 頁" in text
    book = load_workbook(io.BytesIO(boss.get(f"/supervise/reports/{name}?format=xlsx").data))
    cells = [str(c.value) for row in book.active.iter_rows() for c in row if c.value is not None]
    assert figure in cells and book.active.title == heading


def test_the_overdue_list_as_pdf(app, login, figures):
    from pypdf import PdfReader

    number, _task = figures
    pdf = login("tb.supervisor").get("/supervise/overdue?format=pdf")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "稽催報表" in text and number in text and "陳怡君" in text


def test_kpi_panel_shows_each_figure_with_its_counts(app, login, figures):
    from reports import kpi

    from .test_long_term_care import apply as apply_for_care

    apply_for_care(login("lin"))  # recipient name, ID, birth date and phone come from the account
    _closed, closed_number = apply_for_care(login("lin"))
    work(login("ltc.clerk"), closed_number, decision="override", override_reason="不符資格")  # ends the case
    with app.app_context(), transaction(services.get().sessions) as s:
        s.execute(update(Case).where(Case.number == figures[0]).values(channel="counter"))
    with app.app_context(), reading(services.get().sessions) as s:
        scope = sla.Scope(None, utcnow() - timedelta(days=30), utcnow())
        panel = {k.key: k for k in kpi.panel(s, scope)}
        care = s.scalars(select(Case).where(Case.service_key == "long_term_care")).all()
    assert sorted(c.status for c in care) == ["closed", "open"]  # one counted from the tallies, one live
    assert (panel["online_applications"].numerator, panel["online_applications"].denominator) == (5, 6)
    expected = sum(1 for c in care for v in c.provenance.values() if v == "identity")
    assert expected >= 6 and panel["manual_entry"].numerator == expected
    assert panel["manual_entry"].denominator == sum(len(c.provenance) for c in care)
    assert panel["manual_entry"].note == "2 件申請"
    assert panel["satisfaction"].value is None
    page = text_of(login("admin").get("/supervise/kpi"))
    assert "83.3%" in page and "線上送出的申請 ÷ 全部申請" in page and "5 / 6" in page
