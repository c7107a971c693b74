"""The large-vehicle permit, end to end through the pages, on both databases."""
from __future__ import annotations

import io
import re

from pypdf import PdfReader
from sqlalchemy import select

from engine.audit import verify_chain
from engine.db import reading
from engine.models import Case, HumanTask, Permit
from webapp import services

from .flow import REVISION_RE, claim, complete, inbox_task, submit_application, text_of, work


def _case(app, case_id: str) -> Case:
    with app.app_context(), reading(services.get().sessions) as s:
        return s.get(Case, case_id)


def _open_tasks(app, case_id: str) -> list[HumanTask]:
    with app.app_context(), reading(services.get().sessions) as s:
        return list(s.scalars(select(HumanTask).where(HumanTask.case_id == case_id,
                                                      HumanTask.status == "open")))


def test_apply_correct_cosign_approve_and_verify(app, login):
    company = login("company")
    clerk = login("tb.clerk")
    case_id, number = submit_application(company)
    assert "收件審查" in text_of(company.get(f"/my/cases/{case_id}"))

    work(clerk, number, decision="correction", correction_note="請補附最新版路線圖")
    page = company.get("/my/cases")
    task_id = re.search(r'href="/my/tasks/([0-9a-f-]+)"', page.get_data(as_text=True)).group(1)
    correction = company.get(f"/my/tasks/{task_id}")
    assert "請補附最新版路線圖" in text_of(correction)
    html = correction.get_data(as_text=True)
    kept = dict(re.findall(r'name="(attachments-[a-z_]+__(?:document|filename))" value="([^"]*)"', html))
    from tests.factories import application_form

    resubmitted = company.post(
        f"/my/tasks/{task_id}",
        data={**application_form(**{"route_segments-0-roads": "中正北路、中山路、南科北路"}), **kept,
              "revision": REVISION_RE.search(html).group(1)},
        content_type="multipart/form-data")
    assert resubmitted.status_code == 302, text_of(resubmitted)[:1500]

    # Back in the traffic bureau's group inbox, for any of its clerks.
    assert inbox_task(login("tb.clerk2"), number)
    work(clerk, number, decision="cosign")

    cosigns = _open_tasks(app, case_id)
    assert sorted(t.agency_code for t in cosigns) == ["TNPD-SH", "TNPD-YK"]
    yk, sh = login("police.yk"), login("police.sh")
    work(yk, number, opinion="agree")
    sh_task = inbox_task(sh, number)
    claim(sh, sh_task)
    siblings = text_of(sh.get(f"/work/tasks/{sh_task}"))
    assert "永康分局" in siblings and "已回覆" in siblings
    assert complete(sh, sh_task, opinion="object", comment="中山路段上午上學時段請避開").status_code == 302

    decide = inbox_task(clerk, number)
    claim(clerk, decide)
    page = text_of(clerk.get(f"/work/tasks/{decide}"))
    assert "中山路段上午上學時段請避開" in page and "同意" in page
    assert complete(clerk, decide, decision="approve",
                    conditions="應依核准路線行駛。\n上午7至8時不得行經中山路。").status_code == 302

    case = _case(app, case_id)
    assert (case.status, case.outcome) == ("closed", "approved")
    case_page = company.get(f"/my/cases/{case_id}")
    assert "核准" in text_of(case_page)
    pdf = company.get(f"/permits/{number}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages))
    assert "KLA-1234" in text and "KLB-5678" in text and "南科北路" in text
    assert "上午7至8時不得行經中山路。" in text and number in text

    with app.app_context(), reading(services.get().sessions) as s:
        permit = s.scalar(select(Permit).where(Permit.case_id == case_id))
        assert verify_chain(s).ok
    anonymous = app.test_client()
    verification = anonymous.get(f"/verify/{permit.verify_token}")
    shown = text_of(verification)
    assert verification.status_code == 200
    assert "有效" in shown and "KLA-1234" in shown and "永康區" in shown
    assert "南瀛營造" not in shown and "53212539" not in shown and "陳大文" not in shown
    assert anonymous.get("/verify/not-a-real-token").status_code == 404


def test_timeline_shows_who_decided_what(app, login):
    company, clerk = login("company"), login("tb.clerk")
    case_id, number = submit_application(company)
    work(clerk, number, decision="reject", reason="申請路線非屬管制道路，無須申請")
    case = _case(app, case_id)
    assert (case.status, case.outcome) == ("closed", "not_accepted")
    timeline = text_of(company.get(f"/my/cases/{case_id}"))
    assert "送出申請" in timeline and "收件審查：完成" in timeline
    assert "臺南市政府交通局" in timeline and "申請路線非屬管制道路" in timeline
    assert "陳怡君" not in timeline  # citizens see the agency, not the clerk's name


def test_the_timeline_shows_a_cosigners_opinion_as_a_word_and_their_comment_beside_it(app, login):
    company = login("company")
    case_id, number = submit_application(company)
    work(login("tb.clerk"), number, decision="cosign")
    work(login("police.yk"), number, opinion="agree")
    work(login("police.sh"), number, opinion="object", comment="中山路段上午上學時段請避開")
    timeline = text_of(company.get(f"/my/cases/{case_id}"))
    assert "完成 · 同意" in timeline and "完成 · 有意見" in timeline and "中山路段上午上學時段請避開" in timeline
    assert "agree" not in timeline and "object" not in timeline  # the codes behind the words


def _approve(app, login, number: str) -> None:
    clerk = login("tb.clerk")
    work(clerk, number, decision="cosign")
    work(login("police.yk"), number, opinion="agree")
    work(login("police.sh"), number, opinion="agree")
    work(clerk, number, decision="approve", conditions="應依核准路線行駛。")


def test_renewal_on_the_same_route_skips_cosigning(app, login):
    company = login("company")
    case_id, number = submit_application(company)
    _approve(app, login, number)

    renewal = company.post(f"/my/cases/{case_id}/renew")
    assert renewal.status_code == 302
    draft_page = company.get(renewal.location)
    html = draft_page.get_data(as_text=True)
    assert "KLA-1234" in html and "永康交流道" in html  # prefilled from the permit
    from tests.factories import application_form, files

    submitted = company.post(renewal.location, data={
        **application_form(**{"period-start_date": "2027-03-01", "period-end_date": "2027-03-31"}),
        **files(), "action": "submit"}, content_type="multipart/form-data")
    assert submitted.status_code == 302, text_of(submitted)[:1500]
    new_id = submitted.location.rsplit("/", 1)[1]
    new_case = _case(app, new_id)
    assert new_case.related_case_id == case_id and new_case.number != number

    clerk = login("tb.clerk")
    work(clerk, new_case.number, decision="cosign")
    assert [t.name for t in _open_tasks(app, new_id)] == ["核定"]  # no co-signing
    work(clerk, new_case.number, decision="approve", conditions="應依核准路線行駛。")
    with app.app_context(), reading(services.get().sessions) as s:
        permit = s.scalar(select(Permit).where(Permit.case_id == new_id))
        assert permit.renewal_of == number and permit.valid_from == "2027-03-01"


def test_renewal_with_a_new_route_is_cosigned_again(app, login):
    company = login("company")
    case_id, number = submit_application(company)
    _approve(app, login, number)
    draft = company.post(f"/my/cases/{case_id}/renew").location
    from tests.factories import application_form, files

    changed = application_form(**{"route_segments-0-districts": ["永康區", "東區"]})
    response = company.post(draft, data={**changed, **files(), "action": "submit"},
                            content_type="multipart/form-data")
    new_id = response.location.rsplit("/", 1)[1]
    work(login("tb.clerk"), _case(app, new_id).number, decision="cosign")
    assert sorted(t.agency_code for t in _open_tasks(app, new_id)) == ["TNPD-1", "TNPD-YK"]


def test_supervisor_sees_open_cases_and_reassigns(app, login):
    company = login("company")
    _case_id, number = submit_application(company)
    clerk = login("tb.clerk")
    task_id = inbox_task(clerk, number)
    claim(clerk, task_id)

    boss = login("tb.supervisor")
    page = boss.get("/supervise/cases")
    shown = text_of(page)
    assert number in shown and "收件審查" in shown and "陳怡君" in shown
    html = page.get_data(as_text=True)
    option = re.search(r'<option value="([0-9a-f]+)"[^>]*>林志豪</option>', html).group(1)
    rev = re.search(rf'/supervise/tasks/{task_id}/reassign".*?name="revision" value="(\d+)"', html, re.S).group(1)
    response = boss.post(f"/supervise/tasks/{task_id}/reassign", {"assignee": option, "revision": rev})
    assert response.status_code == 302
    assert "林志豪" in text_of(boss.get("/supervise/cases"))
    assert clerk.post(f"/work/tasks/{task_id}", {"decision": "cosign"}).status_code == 403
    html = boss.get("/supervise/cases").get_data(as_text=True)
    rev = re.search(rf'/work/tasks/{task_id}/release".*?name="revision" value="(\d+)"', html, re.S).group(1)
    released = boss.post(f"/work/tasks/{task_id}/release", {"revision": rev, "from": "supervisor"})
    assert released.status_code == 302 and released.location.endswith("/supervise/cases")
    assert "待領取" in text_of(boss.get("/supervise/cases"))
    other = login("tb.clerk2")
    claim(other, task_id)
    assert complete(other, task_id, decision="cosign").status_code == 302
    # a clerk cannot reassign
    assert clerk.post(f"/supervise/tasks/{task_id}/reassign", {"assignee": option}).status_code == 403


def test_submitting_twice_makes_one_case(app, login):
    from tests.factories import application_form, files

    company = login("company")
    draft = company.post("/services/large_vehicle_permit/apply").location
    responses = [company.post(draft, data={**application_form(), **files(), "action": "submit"},
                              content_type="multipart/form-data") for _ in range(2)]
    assert [r.status_code for r in responses] == [302, 302]
    assert responses[0].location == responses[1].location
    with app.app_context(), reading(services.get().sessions) as s:
        assert len(s.scalars(select(Case)).all()) == 1


def test_cosigning_started_before_a_restart_finishes_after_it(app, login, tmp_path):
    """A server that parsed the diagram afresh still merges co-signing instances another one created."""
    from tests.conftest import Client, make_app

    case_id, number = submit_application(login("company"))
    work(login("tb.clerk"), number, decision="cosign")
    restarted = make_app(app.config["DATABASE_URL"], tmp_path, seeded=True)
    work(Client(restarted.test_client()).login("police.yk"), number, opinion="agree")
    work(Client(restarted.test_client()).login("police.sh"), number, opinion="agree")
    assert [t.name for t in _open_tasks(restarted, case_id)] == ["核定"]
