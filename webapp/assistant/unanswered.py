"""Questions the assistant could not answer, kept for analysts without the asker's personal data.

The raw question never reaches the database or a log: it is scrubbed first (national IDs,
phone numbers, e-mail addresses, long digit runs and the name after 「我叫／我是」 become ○),
and identical scrubbed questions share one row whose ``count`` grows.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import UnansweredQuestion
from .search import normalise

MAX_LENGTH = 200
MASK = "○"
_NATIONAL_ID = re.compile(r"(?<![a-z0-9])[a-z][1289]\d{8}(?!\d)", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.ASCII)
_MOBILE = re.compile(r"(?:\+?886[-\s]?|0)9\d{2}[-\s]?\d{3}[-\s]?\d{3}(?!\d)")
_LANDLINE = re.compile(r"\(?0\d{1,2}\)?[-\s]?\d{3,4}[-\s]?\d{4}(?!\d)")
_DIGITS = re.compile(r"\d[\d\s-]{3,}\d")
_SELF_NAMED = re.compile(r"(我叫|我是|我的名字是|我名字叫|本人是|my name is)(\s*)[^，。,.!?！？；;、]+", re.I)
_MASKS = re.compile(f"{MASK}+")
_NOT_WORD = re.compile(r"[\W_]+")


def scrub(question: str) -> str:
    """The question with personal data replaced by ○, ready to store."""
    text = unicodedata.normalize("NFKC", question)
    for pattern in (_EMAIL, _NATIONAL_ID, _MOBILE, _LANDLINE, _DIGITS):
        text = pattern.sub(MASK, text)
    text = _SELF_NAMED.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    return _MASKS.sub(MASK, " ".join(text.split()))[:MAX_LENGTH]


def key_of(scrubbed: str) -> str:
    """What makes two scrubbed questions the same one: normalised, without spaces or punctuation."""
    return _NOT_WORD.sub("", normalise(scrubbed))[:MAX_LENGTH] or MASK


def record(s: Session, question: str, locale: str, now: datetime) -> None:
    """Counts one more asking of the scrubbed question, adding its row the first time.

    One statement (INSERT … ON CONFLICT) so two processes asking at once both count.
    A question asked again after being handled comes back to the analysts' list.
    """
    text = scrub(question)
    dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(UnansweredQuestion).values(
        text=text, normalised=key_of(text), locale=locale, count=1, first_asked_at=now, last_asked_at=now)
    s.execute(insert.on_conflict_do_update(
        index_elements=[UnansweredQuestion.normalised],
        set_={"count": UnansweredQuestion.count + 1, "last_asked_at": now, "handled_at": None,
              "handled_by": None}))


def open_questions(s: Session, limit: int = 200) -> list[UnansweredQuestion]:
    """The questions nobody has handled yet, most asked first."""
    return list(s.scalars(select(UnansweredQuestion).where(UnansweredQuestion.handled_at.is_(None))
                          .order_by(UnansweredQuestion.count.desc(), UnansweredQuestion.last_asked_at.desc())
                          .limit(limit)))


def mark_handled(s: Session, question_id: int, user_id: str, now: datetime) -> UnansweredQuestion | None:
    row = s.get(UnansweredQuestion, question_id)
    if row is None:
        return None
    row.handled_at, row.handled_by = now, user_id
    return row
