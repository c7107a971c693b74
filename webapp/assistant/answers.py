"""The assistant's reply to one question: a sentence, the matching services, follow-up questions."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import catalog
from .models import CatalogItem
from .search import Result, intent

MAX_QUESTION = 200


@dataclass
class Answer:
    question: str
    text: str
    items: list[dict] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    hotline: bool = False

    def as_json(self) -> dict:
        return {"answer": self.text, "items": self.items, "suggestions": self.suggestions,
                "hotline": self.hotline}


def check(question: object) -> dict[str, list[str]]:
    """Field errors of a question as typed (empty when it can be asked)."""
    if not isinstance(question, str) or not question.strip():
        return {"q": [_("請輸入您的問題。")]}
    if len(question.strip()) > MAX_QUESTION:
        return {"q": [_("問題請在 %(max)d 字以內。", max=MAX_QUESTION)]}
    return {}


def search(s: Session, question: str) -> Result:
    return catalog.indexes.get(s).search(question)


def compose(s: Session, question: str, result: Result, locale: str) -> Answer:
    """The reply to ``question`` given what the index found, in ``locale``."""
    if not result.answered:
        return Answer(question, _("抱歉，我找不到符合的服務。請換個說法再問一次，或請撥 1999 市民服務熱線，由專人為您服務。"),
                      suggestions=examples(), hotline=True)
    rows = {r.key: r for r in s.scalars(select(CatalogItem).where(
        CatalogItem.key.in_([h.key for h in result.hits])))}
    items = [card(rows[h.key], locale) for h in result.hits if h.key in rows]
    if not items:
        return compose(s, question, Result([], 0.0, result.normalised), locale)
    asked = intent(question)
    return Answer(question, _sentence(items, asked, locale), items, _follow_ups(items, asked))


def card(row: CatalogItem, locale: str) -> dict:
    """One service as the chat shows it (and as ``/assistant/ask`` returns it)."""
    english = locale == "en"
    return {
        "key": row.key,
        "name": row.name_en if english and row.name_en else row.name,
        "agency": catalog.agency_en(row.agency) if english else row.agency,
        "category": catalog.category_en(row.category) if english else row.category,
        "description": row.description,
        "documents": list(row.documents or []),
        "online": row.online,
        "mydata": list(row.mydata or []),
        "runs_here": row.service_key is not None,
        "url": item_url(row),
    }


def item_url(row: CatalogItem) -> str:
    """The platform's own service page when it runs here, otherwise the catalog entry."""
    if row.service_key:
        return url_for("portal.service", key=row.service_key)
    return url_for("assistant.item", key=row.key)


def _sentence(items: list[dict], asked: str, locale: str) -> str:
    first = items[0]
    joiner = ", " if locale == "en" else "、"
    if asked == "documents" and first["documents"]:
        text = _("「%(name)s」需要準備：%(documents)s。", name=first["name"],
                 documents=joiner.join(first["documents"]))
        if first["mydata"]:
            text += _sentence_gap(locale) + _("使用 MyData 可由系統帶入%(datasets)s，免附紙本證明。",
                                              datasets=joiner.join(first["mydata"]))
        return text
    if asked == "apply":
        if first["runs_here"]:
            return _("「%(name)s」可以在本平台線上申辦，請按下方的服務連結開始。", name=first["name"])
        if first["online"]:
            return _("「%(name)s」可以線上申辦，由%(agency)s受理。", name=first["name"], agency=first["agency"])
        return _("「%(name)s」需要臨櫃辦理，請洽%(agency)s。", name=first["name"], agency=first["agency"])
    text = _("最符合您問題的是「%(name)s」（%(agency)s）。", name=first["name"], agency=first["agency"])
    if len(items) > 1:
        text += _sentence_gap(locale) + _("另外也列出 %(count)d 項相關服務供您參考。", count=len(items) - 1)
    return text


def _sentence_gap(locale: str) -> str:
    """Chinese sentences follow each other without a space; English ones take one."""
    return " " if locale == "en" else ""


def _follow_ups(items: list[dict], asked: str) -> list[str]:
    """Questions the citizen may ask next; each stands alone, so the index answers it as typed."""
    first = items[0]
    asks = []
    if asked != "documents":
        asks.append(_("%(name)s要準備什麼文件？", name=first["name"]))
    if asked != "apply":
        asks.append(_("%(name)s怎麼申請？", name=first["name"]))
    asks += [_("我想了解「%(name)s」", name=other["name"]) for other in items[1:]]
    return asks[:3]


def examples() -> list[str]:
    """Questions that show what the assistant can do."""
    return [_("我要申請大貨車通行證"), _("家裡長輩需要長照怎麼申請"), _("低收入戶要準備什麼")]
