"""The citizen's case page says where the case is: which stage, which agency, since when, due by."""
from __future__ import annotations

import re

from .flow import submit_application, work


def _progress(client, case_id):
    html = client.get(f"/my/cases/{case_id}").get_data(as_text=True)
    table = re.search(r'<table class="table" id="current-stages">(.*?)</table>', html, re.S)
    return text_of_html(table.group(1)) if table else ""


def text_of_html(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_case_page_lists_each_waiting_stage_with_its_agency_and_due_date(app, login):
    company = login("company")
    case_id, number = submit_application(company)
    assert re.search(r"收件審查 臺南市政府交通局 \d{4}-\d\d-\d\d \d\d:\d\d \d{4}-\d\d-\d\d", _progress(company, case_id))

    work(login("tb.clerk"), number, decision="cosign")
    progress = _progress(company, case_id)
    assert "警察分局會辦 臺南市政府警察局永康分局" in progress
    assert "警察分局會辦 臺南市政府警察局善化分局" in progress and "收件審查" not in progress

    other_id, other = submit_application(company)
    work(login("tb.clerk"), other, decision="correction", correction_note="請補附路線圖")
    assert "您（申請人）" in _progress(company, other_id)

    work(login("police.yk"), number, opinion="agree")
    work(login("police.sh"), number, opinion="agree")
    work(login("tb.clerk"), number, decision="reject", reason="路段施工")
    assert _progress(company, case_id) == ""  # nothing waits once the case is decided
