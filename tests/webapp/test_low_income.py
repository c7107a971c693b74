"""Low-income status with two-stage review (多級多審) through the pages, on both databases."""
from __future__ import annotations

import io
import re
from pathlib import Path

from pypdf import PdfReader
from sqlalchemy import select

from engine.db import reading
from engine.models import Case, Document, HumanTask, Notification, User
from webapp import services

from .flow import REVISION_RE, claim, complete, inbox_task, text_of, work

BPMN = Path(__file__).resolve().parents[2] / "bpmn" / "low_income.bpmn"


def application(**overrides) -> dict:
    fields = {
        "category": "低收入戶",
        "applicant-name": "林美麗", "applicant-id_no": "R223456785", "applicant-phone": "0912345678",
        "applicant-district": "東區", "applicant-address": "臺南市東區東門路一段100號",
        "members-0-name": "林美麗", "members-0-relation": "本人", "members-0-birth_date": "1948-09-05",
        "members-1-name": "陳志明", "members-1-relation": "子",
        "situation": "獨力扶養，無固定收入。", "declaration": "true",
    }
    fields.update(overrides)
    return fields


def apply(client, **overrides) -> tuple[str, str]:
    draft = client.post("/services/low_income/apply").location
    response = client.post(draft, data={**application(**overrides), "action": "submit"},
                           content_type="multipart/form-data")
    assert response.status_code == 302, text_of(response)[:1500]
    case_id = response.location.rsplit("/", 1)[1]
    number = re.search(r"LIH-\d{4}-\d{6}", text_of(client.get(response.location))).group(0)
    return case_id, number


def _case(app, case_id):
    with app.app_context(), reading(services.get().sessions) as s:
        return s.get(Case, case_id)


def test_district_reviews_bureau_returns_then_approves_and_letter_is_issued(app, login):
    lin = login("lin")
    case_id, number = apply(lin)
    east, yk, bureau = login("east.social"), login("yk.social"), login("sb.clerk")
    assert number not in yk.get("/work/inbox").get_data(as_text=True)  # another district's office
    assert number not in bureau.get("/work/inbox").get_data(as_text=True)  # not at the bureau yet

    due_before = _case(app, case_id).due_at
    work(east, number, decision="correction", correction_note="請補充子女就學證明")
    page = lin.get("/my/cases").get_data(as_text=True)
    task_id = re.search(r'href="/my/tasks/([0-9a-f-]+)"', page).group(1)
    html = lin.get(f"/my/tasks/{task_id}").get_data(as_text=True)
    resubmitted = lin.post(f"/my/tasks/{task_id}", data={**application(situation="已補充就學證明"),
                                                       "revision": REVISION_RE.search(html).group(1)},
                           content_type="multipart/form-data")
    assert resubmitted.status_code == 302
    assert _case(app, case_id).due_at == due_before  # answered the same day: no business day was paused
    with app.app_context(), reading(services.get().sessions) as s:
        pause = s.scalar(select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.role == "applicant"))
        assert pause.context.get("pauses_clock") and pause.completed_at

    work(east, number, decision="forward", opinion="家庭總收入平均每人每月低於最低生活費。")
    second = inbox_task(bureau, number)
    claim(bureau, second)
    shown = text_of(bureau.get(f"/work/tasks/{second}"))
    assert "家庭總收入平均每人每月低於最低生活費" in shown  # the district's opinion travels with the case
    assert "臺南市東區＊＊＊" in shown and "東門路" not in shown  # the address stays masked
    assert complete(bureau, second, decision="return", return_reason="請查核不動產價值").status_code == 302
    first_again = inbox_task(east, number)
    assert "請查核不動產價值" in text_of(east.get(f"/work/tasks/{first_again}"))
    work(east, number, decision="forward", opinion="已查核，不動產價值未逾限額。")
    work(bureau, number, decision="approve", low_type="第2款", effective_from="2026-12-01",
         reasons="家庭總收入及財產符合低收入戶標準。\n依社會救助法第4條核列。")

    case = _case(app, case_id)
    assert (case.status, case.outcome) == ("closed", "approved")
    with app.app_context(), reading(services.get().sessions) as s:
        letter = s.scalar(select(Document).where(Document.case_id == case_id,
                                                 Document.filename.like("核定函%")))
        notices = s.scalars(select(Notification.text).where(
            Notification.user_id == s.scalar(select(User.id).where(User.username == "lin")))).all()
    assert any(number in n for n in notices)
    assert letter.filename in text_of(lin.get(f"/my/cases/{case_id}"))
    pdf = lin.get(f"/documents/{letter.id}")
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages))
    assert number in text and "第2款" in text and "臺南市東區區公所" in text and "R22****785" in text


def test_first_review_can_reject_with_a_letter(app, login):
    lin = login("lin")
    case_id, number = apply(lin, category="中低收入戶")
    work(login("east.social"), number, decision="reject", reason="戶籍不在本市。")
    case = _case(app, case_id)
    assert (case.status, case.outcome) == ("closed", "rejected")
    with app.app_context(), reading(services.get().sessions) as s:
        assert s.scalar(select(Document.filename).where(Document.case_id == case_id)).startswith("核定函")


def test_an_analyst_adds_a_third_level_by_editing_the_diagram_only(app, login):
    """A section chief's sign-off between 初審 and forwarding, deployed as a new version."""
    xml = BPMN.read_text()
    xml = xml.replace('<bpmn:lane id="lane_bureau" name="social_bureau_clerk">',
                      '<bpmn:lane id="lane_chief" name="supervisor"><bpmn:flowNodeRef>chief_signoff</bpmn:flowNodeRef>'
                      '</bpmn:lane>\n      <bpmn:lane id="lane_bureau" name="social_bureau_clerk">')
    xml = xml.replace('<bpmn:sequenceFlow id="f_forward" name="送複審" sourceRef="gw_first" targetRef="second_review" />',
                      '<bpmn:sequenceFlow id="f_forward" name="送課長核章" sourceRef="gw_first" targetRef="chief_signoff" />'
                      '<bpmn:sequenceFlow id="f_signed" sourceRef="chief_signoff" targetRef="second_review" />')
    xml = xml.replace('<bpmn:incoming>f_forward</bpmn:incoming>', '<bpmn:incoming>f_signed</bpmn:incoming>')
    xml = xml.replace('<bpmn:endEvent id="end"', '''<bpmn:userTask id="chief_signoff" name="課長核章">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="sign_off" />
        <spiffworkflow:property name="agency" value="district_section" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f_forward</bpmn:incoming><bpmn:outgoing>f_signed</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"''')
    with app.app_context():
        definition = services.get().engine.deploy("low_income", xml.encode())
    assert definition.version == 2

    lin = login("lin")
    _case_id, number = apply(lin)
    work(login("east.social"), number, decision="forward", opinion="符合。")
    bureau = login("sb.clerk")
    assert number not in bureau.get("/work/inbox").get_data(as_text=True)
    chief = login("east.chief")
    work(chief, number, decision="agree")
    assert inbox_task(bureau, number)  # only after the chief signed
