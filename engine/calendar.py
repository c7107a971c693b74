"""Business days on a calendar whose holidays are data.

Weekends are days off and weekdays are working days, except for the listed
holidays (weekdays off) and make-up workdays (weekend days worked). The Taiwan
tables live in ``engine/holidays/tw-<year>.json``, one file per year, following
the government office calendar published by the DGPA; ``taiwan_calendar`` loads them.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

TAIPEI = ZoneInfo("Asia/Taipei")
HOLIDAY_TABLES = Path(__file__).with_name("holidays")


class BusinessCalendar:
    def __init__(self, holidays: Iterable[date] = (), workdays: Iterable[date] = (),
                 names: Mapping[date, str] | None = None) -> None:
        self.holidays = frozenset(holidays)
        self.workdays = frozenset(workdays)
        self.names = dict(names or {})

    def is_business_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def holiday_name(self, day: date) -> str | None:
        """The name of the holiday on ``day``, or None when it is not a listed holiday."""
        if day not in self.holidays:
            return None
        return self.names.get(day, "")

    def business_days_between(self, start: datetime, end: datetime) -> int:
        """Business days after ``start``'s day up to and including ``end``'s day (Taipei time).

        A correction requested on Tuesday and answered the next Monday paused the
        statutory clock for the business days in between and that Monday.
        """
        day, last = start.astimezone(TAIPEI).date(), end.astimezone(TAIPEI).date()
        count = 0
        while day < last:
            day += timedelta(days=1)
            count += self.is_business_day(day)
        return count

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """The end of the ``days``-th business day after ``start`` (Taipei time), in ``start``'s zone."""
        day = start.astimezone(TAIPEI).date()
        remaining = days
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_business_day(day):
                remaining -= 1
        end = datetime.combine(day, time(23, 59, 59), tzinfo=TAIPEI)
        return end.astimezone(start.tzinfo or TAIPEI)


def taipei_minutes(when: datetime | None) -> str:
    """「2026-11-27 09:30」 in Taipei time, for text outside the web layer (mail, PDFs, notices)."""
    return when.astimezone(TAIPEI).strftime("%Y-%m-%d %H:%M") if when else ""


def taiwan_calendar(years: Iterable[int] | None = None) -> BusinessCalendar:
    """The Taiwan calendar from the shipped tables: every year, or only ``years``.

    A year without a table raises FileNotFoundError rather than silently
    counting its holidays as working days.
    """
    if years is None:
        paths = sorted(HOLIDAY_TABLES.glob("tw-*.json"))
    else:
        paths = [HOLIDAY_TABLES / f"tw-{year}.json" for year in years]
    names: dict[date, str] = {}
    workdays: list[date] = []
    for path in paths:
        table = json.loads(path.read_text(encoding="utf-8"))
        for entry in table["holidays"]:
            names[date.fromisoformat(entry["date"])] = entry["name"]
        workdays.extend(date.fromisoformat(entry["date"]) for entry in table["workdays"])
    return BusinessCalendar(names, workdays, names=names)
