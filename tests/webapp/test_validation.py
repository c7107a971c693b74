"""Bad input gets field-level errors in zh-TW and changes nothing."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from engine.db import reading
from engine.models import Case, Document
from tests.factories import PDF, application_form, files
from webapp import services

from .flow import submit_application, text_of


def _counts(app) -> tuple[int, int]:
    with app.app_context(), reading(services.get().sessions) as s:
        return (s.scalar(select(func.count()).select_from(Case)),
                s.scalar(select(func.count()).select_from(Document)))


def _error(html: str, field: str) -> str:
    match = re.search(rf'id="f-{field}__error"[^>]*>(.*?)</p>', html, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


CASES = [
    ({"applicant-name": ""}, {}, "applicant-name", "此欄位為必填"),
    ({"vehicles-0-gross_weight": "-5"}, {}, "vehicles-0-gross_weight", "必須大於 0"),
    ({"vehicles-0-gross_weight": "很重"}, {}, "vehicles-0-gross_weight", "請輸入數字"),
    ({"period-end_date": "2020-01-01"}, {}, "period-end_date", "不可早於"),
    ({"route_segments-0-districts": ["信義區"]}, {}, "route_segments-0-districts", "請從選項中選擇"),
    ({"vehicles-0-plate": "not a plate"}, {}, "vehicles-0-plate", "車牌格式不正確"),
    ({"applicant-id_no": "53212538"}, {}, "applicant-id_no", "統一編號不正確"),
    ({}, {"contract": b"MZ\x90\x00 not a document", "contract_name": "contract.exe"},
     "attachments-contract", "檔案類型不支援"),
    ({}, {"contract": PDF + b"0" * (10 * 1024 * 1024 + 1)}, "attachments-contract", "檔案過大"),
]


@pytest.mark.parametrize("overrides, file_overrides, field, message", CASES,
                         ids=[c[2] + ":" + c[3] for c in CASES])
def test_bad_application_gets_a_field_error_and_creates_nothing(app, login, overrides,
                                                                  file_overrides, field, message):
    company = login("company")
    draft = company.post("/services/large_vehicle_permit/apply").location
    before = _counts(app)
    data = {**application_form(**overrides), **files(**file_overrides), "action": "submit"}
    response = company.post(draft, data=data, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in _error(html, field)
    cases, documents = _counts(app)
    assert cases == before[0]
    # The good attachment is kept for the next try; the refused one is not stored.
    assert documents <= before[1] + (1 if file_overrides else 2)
    assert 'value="永康區住宅新建工程"' in html or overrides.get("purpose-project_name") == ""


def test_missing_everything_lists_each_required_field(app, login):
    company = login("company")
    draft = company.post("/services/large_vehicle_permit/apply").location
    response = company.post(draft, data={"action": "submit"}, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for field in ("purpose-project_name", "attachments-contract", "period-start_date"):
        assert _error(html, field) == "此欄位為必填", field
    assert _counts(app)[0] == 0


def test_draft_is_saved_without_validation_and_comes_back(app, login):
    company = login("company")
    draft = company.post("/services/large_vehicle_permit/apply").location
    partial = {"purpose-project_name": "安南區倉儲新建工程", "vehicles-0-plate": "kla-9999",
               "action": "save"}
    assert company.post(draft, data=partial, content_type="multipart/form-data").status_code == 302
    html = company.get(draft).get_data(as_text=True)
    assert 'value="安南區倉儲新建工程"' in html and 'value="KLA-9999"' in html
    assert "草稿" in text_of(company.get("/my/cases"))
    assert _counts(app)[0] == 0


def test_bad_clerk_decision_changes_nothing(app, login):
    company, clerk = login("company"), login("tb.clerk")
    case_id, number = submit_application(company)
    from .flow import claim, complete, inbox_task

    task_id = inbox_task(clerk, number)
    claim(clerk, task_id)
    response = complete(clerk, task_id, decision="correction")
    assert response.status_code == 422
    assert _error(response.get_data(as_text=True), "correction_note") == "此欄位為必填"
    assert inbox_task(clerk, number) == task_id  # still open, same task
    work_done = complete(clerk, task_id, decision="cosign")
    assert work_done.status_code == 302
