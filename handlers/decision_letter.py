"""Printable decision letter (審核結果通知函) for 低收入戶／中低收入戶 applications.

Laid out like an official letter (公文): the district office notifies the applicant of the
social-welfare bureau's decision, with 主旨, a numbered 說明 and the appeal (訴願) notice.
Follows :mod:`handlers.permit_pdf`: plain Jinja2 with autoescape, WeasyPrint, Noto Sans CJK TC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jinja2 import Environment, FileSystemLoader
from weasyprint import HTML

from handlers.permit_pdf import TEMPLATES, roc_date


@dataclass(frozen=True)
class DecisionLetter:
    case_number: str
    applicant_name: str
    applicant_id_masked: str
    address_masked: str
    category: str
    approved: bool
    low_type: str | None
    members: list[dict]
    reasons: list[str]
    effective_from: date | None
    legal_basis: str
    district_office: str
    bureau: str
    issued_on: date
    appeal_note: str


def roc_day(d: date) -> str:
    """民國 date as written in running text, e.g. 115年12月1日."""
    return f"{d.year - 1911}年{d.month}月{d.day}日"


def status_title(letter: DecisionLetter) -> str:
    """What the applicant is listed as: 低收入戶第2款, 中低收入戶."""
    if letter.low_type and letter.low_type != letter.category:
        return f"{letter.category}{letter.low_type}"
    return letter.category


def subject(letter: DecisionLetter) -> str:
    """主旨, a single sentence ending in 請查照。"""
    applied = f"臺端申請{letter.category}資格"
    if not letter.approved:
        return f"{applied}，經審核不符規定，歉難同意，請查照。"
    since = f"自{roc_day(letter.effective_from)}起" if letter.effective_from else ""
    return f"{applied}，經審核符合規定，{since}核列為{status_title(letter)}，請查照。"


def basis_sentence(legal_basis: str) -> str:
    basis = legal_basis.strip().rstrip("。")
    if not basis.endswith("規定"):
        basis += "規定"
    return f"依據{basis}辦理。"


_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
_env.filters["roc_date"] = roc_date
_env.filters["roc_day"] = roc_day


def decision_letter_html(letter: DecisionLetter) -> str:
    return _env.get_template("decision_letter.html").render(
        letter=letter,
        subject=subject(letter),
        basis=basis_sentence(letter.legal_basis),
        status=status_title(letter),
    )


def render_decision_letter(letter: DecisionLetter) -> bytes:
    """The base URL points at the template so its relative stylesheet link resolves."""
    base = Path(TEMPLATES) / "decision_letter.html"
    return HTML(string=decision_letter_html(letter), base_url=str(base)).write_pdf()
