"""The care centre's eligibility rules, at their edges."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from handlers.care import assess, preferred, remind_at

TODAY = date(2026, 11, 27)


@pytest.mark.parametrize("birth, eligible", [
    ("1961-11-27", True),    # 65 today
    ("1961-11-28", False),   # 65 tomorrow
    ("1940-02-29", True),
])
def test_age_65(birth, eligible):
    assert assess({"birth_date": birth}, {}, False, TODAY).eligible is eligible


def test_indigenous_from_55_and_dementia_from_50():
    assert assess({"birth_date": "1971-11-27", "indigenous": True}, {}, False, TODAY).eligible
    assert not assess({"birth_date": "1971-11-28", "indigenous": True}, {}, False, TODAY).eligible
    assert assess({"birth_date": "1976-11-27"}, {}, True, TODAY).eligible
    young = assess({"birth_date": "1976-11-28"}, {}, True, TODAY)
    assert not young.eligible and "失智症未滿 50 歲" in young.summary


def test_a_certificate_qualifies_at_any_age():
    result = assess({"birth_date": "2010-01-01"}, {"certificate": True}, False, TODAY)
    assert result.eligible and result.reasons == ["領有身心障礙證明"]


def test_unknown_birth_date_is_said_so():
    result = assess({}, {}, False, TODAY)
    assert not result.eligible and result.age is None
    assert "出生日期不明" in result.summary


def test_reminder_the_day_before_or_two_hours_before_a_visit_booked_late():
    now = datetime(2026, 11, 27, 1, 0, tzinfo=timezone.utc)
    far = now + timedelta(days=3)
    assert remind_at(far, now) == far - timedelta(days=1)
    near = now + timedelta(hours=10)
    assert remind_at(near, now) == near - timedelta(hours=2)


def test_preferred_visit_times():
    taipei = timezone(timedelta(hours=8))
    monday_morning = datetime(2026, 11, 30, 9, 0, tzinfo=taipei)
    monday_afternoon = datetime(2026, 11, 30, 14, 0, tzinfo=taipei)
    saturday_morning = datetime(2026, 11, 28, 9, 0, tzinfo=taipei)
    assert preferred(monday_morning, ["平日上午"]) and not preferred(monday_afternoon, ["平日上午"])
    assert preferred(monday_afternoon, ["平日下午"]) and not preferred(saturday_morning, ["平日上午"])
    assert preferred(saturday_morning, ["週六上午"])
