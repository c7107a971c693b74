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

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from engine.calendar import TAIPEI
from engine.cases import HandlerContext
from engine.errors import N_, InvalidInput
from engine.models import AssessmentSlot, Case, User

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


def preferred(starts_at: datetime, visit_times: list[str]) -> bool:
    """Whether a slot falls in one of the times the family said suit them (平日上午, 平日下午, 週六上午)."""
    local = starts_at.astimezone(TAIPEI)
    weekday, morning = local.weekday() < 5, local.hour < 12
    return (("平日上午" in visit_times and weekday and morning)
            or ("平日下午" in visit_times and weekday and not morning)
            or ("週六上午" in visit_times and local.weekday() == 5 and morning))


def slot_choices(s: Session, now: datetime, district: str | None,
                 visit_times: list[str] | None = None) -> list[tuple[str, str, str]]:
    """(slot id, zh-TW label, English label) for the booking form; the family's preferred times first."""
    slots = open_slots(s, now, district)
    if visit_times:
        slots.sort(key=lambda slot: (not preferred(slot.starts_at, visit_times), slot.starts_at))
    choices = []
    for slot in slots:
        start = slot.starts_at.astimezone(TAIPEI)
        label = f"{slot_label(slot.starts_at, slot.ends_at)} · 照管專員 {slot.assessor.display_name}"
        label_en = f"{start:%a %d %b %H:%M}–{slot.ends_at.astimezone(TAIPEI):%H:%M} · {slot.assessor.display_name}"
        choices.append((slot.id, label, label_en))
    return choices


SLOT_TAKEN = N_("此時段剛被其他民眾預約，請選擇其他時段。")
SLOT_UNAVAILABLE = N_("此時段已無法預約，請選擇其他時段。")


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


# -- publishing slots (the centre's schedule page) ------------------------------------------------

SLOT_MINUTES = (30, 240)
MAX_WEEKS = 12


def assessors(s: Session) -> list[User]:
    return [u for u in s.scalars(select(User).where(User.agency_code == CARE_CENTRE, User.active.is_(True))
                                 .order_by(User.display_name))
            if "care_assessor" in (u.roles or [])]


def publish_slots(s: Session, fields: dict[str, str], now: datetime) -> list[AssessmentSlot]:
    """New slots from the schedule form: one a week for ``weeks`` weeks; field errors in zh-TW.

    Refused when any of them would overlap a slot the assessor already has, so
    nothing half-published is left behind.
    """
    errors: dict[str, list[str]] = {}
    assessor = next((a for a in assessors(s) if a.id == fields.get("assessor")), None)
    if assessor is None:
        errors["assessor"] = [N_("請選擇照管專員")]
    try:
        day = date.fromisoformat(fields.get("date", ""))
    except ValueError:
        day = None
        errors["date"] = [N_("請輸入日期，例如 2026-12-01")]
    try:
        hour, minute = (int(p) for p in fields.get("start", "").split(":"))
        start_time = datetime(2000, 1, 1, hour, minute).time()
    except ValueError:
        start_time = None
        errors["start"] = [N_("請輸入開始時間，例如 09:00")]
    minutes = _whole(fields.get("minutes"), *SLOT_MINUTES, "minutes", errors, N_("每個時段 30 至 240 分鐘"))
    weeks = _whole(fields.get("weeks") or "1", 1, MAX_WEEKS, "weeks", errors, N_("重複 1 至 12 週"))
    if errors:
        raise InvalidInput("bad slots", errors)
    first = datetime.combine(day, start_time, TAIPEI)
    if first <= now:
        raise InvalidInput("bad slots", {"date": [N_("開始時間已過，請選擇未來的時段")]})
    planned = [(first + timedelta(weeks=i), first + timedelta(weeks=i, minutes=minutes)) for i in range(weeks)]
    clash = _overlap(s, assessor.id, planned)
    if clash:
        raise InvalidInput("overlap", {"start": [N_("與該照管專員既有的時段重疊"), clash]})
    slots = [AssessmentSlot(agency_code=CARE_CENTRE, assessor_id=assessor.id, starts_at=a, ends_at=b,
                            districts=[]) for a, b in planned]
    s.add_all(slots)
    s.flush()
    return slots


def _whole(raw: str | None, low: int, high: int, name: str, errors: dict, message: str) -> int:
    try:
        value = int(raw or "")
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        errors[name] = [message]
        return low
    return value


def _overlap(s: Session, assessor_id: str, planned: list[tuple[datetime, datetime]]) -> str | None:
    first, last = planned[0][0], planned[-1][1]
    existing = s.scalars(select(AssessmentSlot).where(
        AssessmentSlot.assessor_id == assessor_id, AssessmentSlot.starts_at < last,
        AssessmentSlot.ends_at > first)).all()
    for slot in existing:
        if any(slot.starts_at < b and slot.ends_at > a for a, b in planned):
            return slot_label(slot.starts_at, slot.ends_at)
    return None


def withdraw_slot(s: Session, slot_id: str) -> AssessmentSlot:
    """Take back a slot nobody booked; a booked one stays (the family was told)."""
    slot = s.get(AssessmentSlot, slot_id)
    if slot is None:
        raise InvalidInput("no slot", {"slot": [N_("找不到此時段")]})
    gone = s.execute(delete(AssessmentSlot).where(AssessmentSlot.id == slot_id,
                                                  AssessmentSlot.case_id.is_(None)))
    if gone.rowcount != 1:
        raise InvalidInput("booked", {"slot": [N_("此時段已有民眾預約，無法撤下；請先與家屬改約")]})
    return slot


def schedule(s: Session, now: datetime, days: int = 21) -> list[tuple[AssessmentSlot, str | None]]:
    """The coming weeks' slots with the number of the case that booked each, soonest first."""
    rows = s.execute(
        select(AssessmentSlot, Case.number).outerjoin(Case, Case.id == AssessmentSlot.case_id)
        .where(AssessmentSlot.agency_code == CARE_CENTRE, AssessmentSlot.ends_at > now,
               AssessmentSlot.starts_at < now + timedelta(days=days))
        .order_by(AssessmentSlot.starts_at, AssessmentSlot.assessor_id)).all()
    return [(slot, number) for slot, number in rows]
