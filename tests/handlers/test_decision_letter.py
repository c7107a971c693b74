import io
import re
from dataclasses import replace
from datetime import date

import pytest
from pypdf import PdfReader

from handlers.decision_letter import DecisionLetter, decision_letter_html, render_decision_letter
from tests.handlers.pdfs import all_noto_cjk, embedded_fonts

APPEAL = "如不服本處分，得於收受本處分之次日起30日內，經由原處分機關向臺南市政府提起訴願。"
UNMASKED_ID = "R223456785"


@pytest.fixture
def approval() -> DecisionLetter:
    return DecisionLetter(
        case_number="LIH-2026-000012",
        applicant_name="林美麗",
        applicant_id_masked="R22****785",
        address_masked="臺南市東區＊＊＊",
        category="低收入戶",
        approved=True,
        low_type="第2款",
        members=[
            {"name": "林美麗", "relation": "本人"},
            {"name": "陳小明", "relation": "子"},
            {"name": "陳小華", "relation": "女"},
        ],
        reasons=[
            "臺端家庭應計算人口3人，平均每人每月收入新臺幣8,500元，未超過本市最低生活費。",
            "家庭財產之動產及不動產均未超過本市公告之限額。",
        ],
        effective_from=date(2026, 12, 1),
        legal_basis="社會救助法第4條、第4條之1",
        district_office="臺南市東區區公所",
        bureau="臺南市政府社會局",
        issued_on=date(2026, 11, 20),
        appeal_note=APPEAL,
    )


@pytest.fixture
def rejection(approval) -> DecisionLetter:
    return replace(
        approval,
        approved=False,
        low_type=None,
        effective_from=None,
        reasons=["臺端家庭平均每人每月收入超過本市最低生活費。", "家庭不動產價值超過本市公告之限額。"],
    )


def pdf_reader(letter: DecisionLetter) -> PdfReader:
    data = render_decision_letter(letter)
    assert data.startswith(b"%PDF")
    return PdfReader(io.BytesIO(data))


def flat_text(reader: PdfReader) -> str:
    """All pages' text with whitespace removed (pypdf breaks CJK lines at arbitrary places)."""
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


def flat(s: str) -> str:
    return re.sub(r"\s+", "", s)


def test_approval_letter_contents(approval):
    text = flat_text(pdf_reader(approval))
    for expected in [
        "臺南市東區區公所函",
        "LIH-2026-000012",
        "R22****785",
        "臺南市東區＊＊＊",
        "受文者：林美麗君",
        "中華民國115年11月20日（2026-11-20）",
        "臺端申請低收入戶資格，經審核符合規定，自115年12月1日起核列為低收入戶第2款，請查照。",
        "未超過本市最低生活費",
        "依據社會救助法第4條、第4條之1規定辦理。",
        "陳小明",
        "陳小華",
        APPEAL,
        "臺南市政府社會局",
    ]:
        assert flat(expected) in text, expected
    assert "歉難同意" not in text
    assert UNMASKED_ID not in text


def test_members_carry_names_only(approval):
    """Whatever else a member record holds (here an unmasked id), only name and relation are printed."""
    members = [dict(m, id_no=UNMASKED_ID, birth="1980-01-01") for m in approval.members]
    letter = replace(approval, members=members)
    assert UNMASKED_ID not in decision_letter_html(letter)
    text = flat_text(pdf_reader(letter))
    assert UNMASKED_ID not in text and "1980-01-01" not in text
    assert "R22****785" in text


def test_items_are_numbered_the_official_way(approval):
    reasons = [f"理由{i}。" for i in range(1, 11)]
    text = flat_text(pdf_reader(replace(approval, reasons=reasons)))
    for marker in ["一、", "九、", "十、", "十一、", "十二、", "十三、"]:
        assert marker in text, marker


def test_approval_lists_members_in_a_table(approval):
    html = decision_letter_html(approval)
    assert "家庭應計算人口計 3 人" in html
    rows = re.findall(r"<tr><td class=\"seq\">(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", html)
    assert rows == [("1", "林美麗", "本人"), ("2", "陳小明", "子"), ("3", "陳小華", "女")]


def test_rejection_letter_contents(rejection):
    text = flat_text(pdf_reader(rejection))
    for expected in [
        "LIH-2026-000012",
        "R22****785",
        "低收入戶",
        "臺端申請低收入戶資格，經審核不符規定，歉難同意，請查照。",
        "臺端家庭平均每人每月收入超過本市最低生活費。",
        "家庭不動產價值超過本市公告之限額。",
        "中華民國115年11月20日",
        APPEAL,
        "臺南市東區區公所",
    ]:
        assert flat(expected) in text, expected
    assert "第2款" not in text
    assert "符合規定" not in text
    assert "名冊" not in text and "陳小明" not in text


def test_mid_low_income_approval_without_low_type(approval):
    letter = replace(approval, category="中低收入戶", low_type="中低收入戶", effective_from=date(2027, 1, 1))
    text = flat_text(pdf_reader(letter))
    assert "臺端申請中低收入戶資格，經審核符合規定，自116年1月1日起核列為中低收入戶，請查照。" in text
    assert "第2款" not in text


def test_approval_without_effective_date(approval):
    html = decision_letter_html(replace(approval, effective_from=None))
    assert "經審核符合規定，核列為低收入戶第2款，請查照。" in html


def test_legal_basis_already_ending_in_regulation(approval):
    html = decision_letter_html(replace(approval, legal_basis="社會救助法第4條規定。"))
    assert "依據社會救助法第4條規定辦理。" in html


def test_embedded_fonts_are_noto_sans_cjk(approval):
    names = embedded_fonts(pdf_reader(approval))
    assert all_noto_cjk(names), names


def test_html_declares_traditional_chinese(approval):
    assert '<html lang="zh-Hant-TW">' in decision_letter_html(approval)


def test_page_footer_counts_pages(approval):
    reader = pdf_reader(approval)
    assert len(reader.pages) == 1
    assert "第1頁，共1頁" in flat(reader.pages[0].extract_text())


def test_user_text_is_escaped(approval):
    evil = replace(
        approval,
        applicant_name="<b>林美麗</b>",
        members=[{"name": "<b>林美麗</b>", "relation": "本人"}],
        reasons=['<script>alert("x")</script>理由'],
        address_masked="臺南市東區<i>＊＊＊</i>",
    )
    html = decision_letter_html(evil)
    assert "<b>" not in html and "<script>" not in html and "<i>" not in html
    assert "&lt;b&gt;林美麗&lt;/b&gt;" in html
    assert "&lt;script&gt;" in html
    text = flat_text(pdf_reader(evil))
    assert "<b>林美麗</b>" in text


def test_long_letter_flows_onto_further_pages(approval):
    members = [{"name": f"成員{i}", "relation": "親屬"} for i in range(1, 60)]
    reader = pdf_reader(replace(approval, members=members))
    assert len(reader.pages) > 1
    last = flat(reader.pages[-1].extract_text())
    assert f"共{len(reader.pages)}頁" in last
    assert flat(APPEAL) in last and "臺南市東區區公所" in last
    assert "LIH-2026-000012" in flat(reader.pages[1].extract_text())
