"""Business-day arithmetic on the shipped Taiwan holiday tables."""

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from engine.calendar import HOLIDAY_TABLES, TAIPEI, BusinessCalendar, taiwan_calendar

YEARS = (2026, 2027)


@pytest.fixture(scope="module")
def calendar() -> BusinessCalendar:
    return taiwan_calendar()


def end_of_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=TAIPEI)


def test_lunar_new_year_pushes_a_friday_deadline_to_the_monday_after():
    start = datetime(2026, 2, 13, 19, 30, tzinfo=TAIPEI)

    due = taiwan_calendar([2026]).add_business_days(start, 1)

    assert due == end_of_day(date(2026, 2, 23))
    assert due.tzinfo is TAIPEI


def test_utc_start_is_counted_in_taipei_and_returned_in_utc(calendar):
    # 11:30 UTC on Friday is already Friday evening in Taipei.
    start = datetime(2026, 2, 13, 11, 30, tzinfo=timezone.utc)

    due = calendar.add_business_days(start, 1)

    assert due.tzinfo is timezone.utc
    assert due == end_of_day(date(2026, 2, 23))
    assert due == datetime(2026, 2, 23, 15, 59, 59, tzinfo=timezone.utc)


def test_lunar_new_year_days_are_off(calendar):
    for offset in range(10):  # 2/14 (Sat) through 2/23 (Mon)
        day = date(2026, 2, 14) + timedelta(days=offset)
        assert calendar.is_business_day(day) is (day == date(2026, 2, 23)), day
    assert calendar.holiday_name(date(2026, 2, 16)) == "農曆除夕"
    assert calendar.holiday_name(date(2026, 2, 17)) == "春節"
    assert calendar.holiday_name(date(2026, 2, 20)) == "春節補假"


def test_peace_memorial_day_off_moves_to_the_friday_before(calendar):
    assert not calendar.is_business_day(date(2026, 2, 27))
    assert calendar.holiday_name(date(2026, 2, 27)) == "和平紀念日補假"

    due = calendar.add_business_days(datetime(2026, 2, 26, 10, 0, tzinfo=TAIPEI), 1)

    assert due == end_of_day(date(2026, 3, 2))


def test_childrens_day_and_tomb_sweeping_days_off(calendar):
    assert not calendar.is_business_day(date(2026, 4, 3))
    assert not calendar.is_business_day(date(2026, 4, 6))
    assert calendar.is_business_day(date(2026, 4, 2))
    assert calendar.is_business_day(date(2026, 4, 7))

    due = calendar.add_business_days(datetime(2026, 4, 2, 9, 0, tzinfo=TAIPEI), 1)

    assert due == end_of_day(date(2026, 4, 7))


def test_ordinary_days_are_unaffected(calendar):
    assert calendar.is_business_day(date(2026, 3, 3))
    assert not calendar.is_business_day(date(2026, 3, 7))  # Saturday
    assert not calendar.is_business_day(date(2026, 3, 8))  # Sunday
    assert calendar.holiday_name(date(2026, 3, 3)) is None
    assert calendar.holiday_name(date(2026, 3, 7)) is None


def test_zero_days_ends_the_start_day(calendar):
    start = datetime(2026, 3, 3, 8, 0, tzinfo=TAIPEI)

    assert calendar.add_business_days(start, 0) == end_of_day(date(2026, 3, 3))


def test_make_up_workday_counts_as_a_working_day():
    saturday = date(2026, 3, 7)
    cal = BusinessCalendar(workdays=[saturday])

    assert cal.is_business_day(saturday)
    due = cal.add_business_days(datetime(2026, 3, 6, 18, 0, tzinfo=TAIPEI), 1)
    assert due == end_of_day(saturday)


def test_make_up_workdays_in_the_tables_are_working_days(calendar):
    for day in calendar.workdays:
        assert calendar.is_business_day(day), day


def test_both_years_load():
    for year in YEARS:
        cal = taiwan_calendar([year])
        assert cal.holidays, year
        assert {day.year for day in cal.holidays} == {year}
        assert cal.holiday_name(date(year, 1, 1)) == "開國紀念日"

    everything = taiwan_calendar()
    assert everything.holidays >= taiwan_calendar(YEARS).holidays
    assert not everything.is_business_day(date(2027, 2, 9))
    assert everything.holiday_name(date(2027, 12, 31)) == "開國紀念日補假"


def test_the_new_year_holiday_across_the_year_boundary():
    cal = taiwan_calendar(YEARS)
    due = cal.add_business_days(datetime(2027, 12, 30, 12, 0, tzinfo=TAIPEI), 1)

    assert due == end_of_day(date(2028, 1, 3))


def test_missing_year_is_an_error():
    with pytest.raises(FileNotFoundError):
        taiwan_calendar([1999])


@pytest.mark.parametrize("year", YEARS)
def test_table_sanity(year):
    table = json.loads((HOLIDAY_TABLES / f"tw-{year}.json").read_text(encoding="utf-8"))

    assert table["year"] == year
    assert table["source"]
    holidays = [date.fromisoformat(entry["date"]) for entry in table["holidays"]]
    workdays = [date.fromisoformat(entry["date"]) for entry in table["workdays"]]
    assert holidays == sorted(set(holidays)), "holidays sorted, no duplicates"
    assert workdays == sorted(set(workdays)), "workdays sorted, no duplicates"
    for entry, day in zip(table["holidays"], holidays):
        assert day.year == year, entry
        assert day.weekday() < 5, f"{entry} is a weekend day"
        assert entry["name"].strip(), entry
    for entry, day in zip(table["workdays"], workdays):
        assert day.year == year, entry
        assert day.weekday() >= 5, f"{entry} is a weekday"
        assert entry["name"].strip(), entry
    assert not set(holidays) & set(workdays)


def test_every_table_on_disk_is_named_for_its_year():
    paths = sorted(HOLIDAY_TABLES.glob("tw-*.json"))
    assert {f"tw-{year}.json" for year in YEARS} <= {path.name for path in paths}
    for path in paths:
        table = json.loads(path.read_text(encoding="utf-8"))
        assert path.name == f"tw-{table['year']}.json"
