"""Long-term care (長照服務申請): eligibility triage and home-assessment booking.

The eligibility rules are the ones 長期照顧管理中心 applies at intake: aged 65
or over; or holding a disability certificate; or indigenous and aged 55 or
over; or diagnosed with dementia and aged 50 or over. The handler states which
rule was met (or why none was), so the clerk who triages sees the reason and
can override it with one of their own.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.calendar import TAIPEI
from engine.cases import HandlerContext
from engine.errors import InvalidInput
from engine.models import AssessmentSlot, User

CARE_CENTRE = "LTCC"
#: How long before the visit the family is reminded; for a visit booked later than that, the short lead.
REMINDER_LEAD = timedelta(days=1)
SHORT_REMINDER_LEAD = timedelta(hours=2)
#: How soon a slot may still be booked (no sooner than the short reminder, so it is never sent at once).
BOOKING_LEAD = SHORT_REMINDER_LEAD
WEEKDAYS = "一二三四五六日"


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    age: int | None
    reasons: list[str]

    @property
    def summary(self) -> str:
        verdict = "符合長照服務資格" if self.eligible else "不符合長照服務資格"
        return f"{verdict}：{'；'.join(self.reasons)}"

    def as_data(self) -> dict:
        return {"eligible": self.eligible, "age": self.age, "reasons": self.reasons,
                "summary": self.summary}


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def assess(recipient: dict, disability: dict, dementia: bool, today: date) -> Eligibility:
    """Which of the centre's four rules the care recipient meets, in words."""
    try:
        age = age_on(date.fromisoformat(recipient.get("birth_date") or ""), today)
    except ValueError:
        age = None
    certified = bool(disability.get("certificate"))
    indigenous = bool(recipient.get("indigenous"))
    met = []
    if age is not None and age >= 65:
        met.append(f"年滿 65 歲（{age} 歲）")
    if certified:
        met.append("領有身心障礙證明")
    if indigenous and age is not None and age >= 55:
        met.append(f"原住民族年滿 55 歲（{age} 歲）")
    if dementia and age is not None and age >= 50:
        met.append(f"經診斷失智症且年滿 50 歲（{age} 歲）")
    if met:
        return Eligibility(True, age, met)
    unmet = ["出生日期不明，無法判斷年齡" if age is None else f"未滿 65 歲（{age} 歲）", "未領有身心障礙證明"]
    if indigenous:
        unmet.append("原住民族未滿 55 歲")
    if dementia:
        unmet.append("失智症未滿 50 歲")
    return Eligibility(False, age, unmet)


def eligibility(ctx: HandlerContext, application: dict) -> dict:
    """Service task ``care.eligibility``: the rule result the triage clerk sees."""
    return assess(application.get("recipient") or {}, application.get("disability") or {},
                  bool(application.get("dementia")), ctx.now.astimezone(TAIPEI).date()).as_data()


# -- assessment slots -----------------------------------------------------------------------------

def slot_label(starts_at: datetime, ends_at: datetime) -> str:
    """「12月3日（四）09:00–10:30」 in Taipei time."""
    start, end = starts_at.astimezone(TAIPEI), ends_at.astimezone(TAIPEI)
    return (f"{start.month}月{start.day}日（{WEEKDAYS[start.weekday()]}）"
            f"{start:%H:%M}–{end:%H:%M}")


def open_slots(s: Session, now: datetime, district: str | None = None, limit: int = 40) -> list[AssessmentSlot]:
    """Slots nobody holds, soonest first; those serving the district when one is given."""
    rows = s.scalars(
        select(AssessmentSlot)
        .where(AssessmentSlot.agency_code == CARE_CENTRE, AssessmentSlot.case_id.is_(None),
               AssessmentSlot.starts_at > now + BOOKING_LEAD)
        .order_by(AssessmentSlot.starts_at, AssessmentSlot.assessor_id)
        .limit(limit * 4)).all()
    if district:
        rows = [r for r in rows if not r.districts or district in r.districts]
    return rows[:limit]


def slot_choices(s: Session, now: datetime, district: str | None) -> list[tuple[str, str, str]]:
    """(slot id, zh-TW label, English label) for the booking form."""
    choices = []
    for slot in open_slots(s, now, district):
        start = slot.starts_at.astimezone(TAIPEI)
        label = f"{slot_label(slot.starts_at, slot.ends_at)} · 照管專員 {slot.assessor.display_name}"
        label_en = f"{start:%a %d %b %H:%M}–{slot.ends_at.astimezone(TAIPEI):%H:%M} · {slot.assessor.display_name}"
        choices.append((slot.id, label, label_en))
    return choices


SLOT_TAKEN = "此時段剛被其他民眾預約，請選擇其他時段。"
SLOT_UNAVAILABLE = "此時段已無法預約，請選擇其他時段。"


def book_slot(ctx: HandlerContext, slot_id: str) -> dict:
    """Service task ``care.book_slot``: hold the slot for this case, or refuse the field.

    The update only succeeds while nobody holds the slot, so of two families who
    chose the same time one gets it and the other is asked to choose again; the
    case's earlier booking, if any, is let go in the same transaction.
    """
    s = ctx.session
    slot = s.get(AssessmentSlot, slot_id or "")
    if slot is None or slot.agency_code != CARE_CENTRE or slot.starts_at <= ctx.now + BOOKING_LEAD:
        raise InvalidInput("slot unavailable", {"slot_id": [SLOT_UNAVAILABLE]})
    if slot.case_id == ctx.case.id:
        return booking_of(slot, s, ctx.now)
    s.execute(update(AssessmentSlot).where(AssessmentSlot.case_id == ctx.case.id)
              .values(case_id=None, booked_by=None, booked_at=None))
    taken = s.execute(update(AssessmentSlot)
                      .where(AssessmentSlot.id == slot.id, AssessmentSlot.case_id.is_(None))
                      .values(case_id=ctx.case.id, booked_at=ctx.now,
                              booked_by=ctx.actor.user_id if ctx.actor else None))
    if taken.rowcount != 1:
        raise InvalidInput("slot taken", {"slot_id": [SLOT_TAKEN]})
    return booking_of(slot, s, ctx.now)


def remind_at(starts_at: datetime, now: datetime) -> datetime:
    """The day before; or two hours before, for a visit booked less than a day ahead."""
    day_before = starts_at - REMINDER_LEAD
    return day_before if day_before > now else starts_at - SHORT_REMINDER_LEAD


def booking_of(slot: AssessmentSlot, s: Session, now: datetime) -> dict:
    assessor = s.get(User, slot.assessor_id)
    return {
        "slot_id": slot.id, "assessor_id": slot.assessor_id, "assessor_name": assessor.display_name,
        "starts_at": slot.starts_at.isoformat(), "ends_at": slot.ends_at.isoformat(),
        "label": slot_label(slot.starts_at, slot.ends_at),
        "remind_at": remind_at(slot.starts_at, now).isoformat(),
    }
