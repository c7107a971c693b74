"""Business days on a calendar whose holidays are data.

This first version knows weekends and any holiday dates it is given; the Taiwan
holiday tables arrive as data with the SLA work.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TAIPEI = ZoneInfo("Asia/Taipei")


class BusinessCalendar:
    def __init__(self, holidays: Iterable[date] = (), workdays: Iterable[date] = ()) -> None:
        self.holidays = frozenset(holidays)
        self.workdays = frozenset(workdays)

    def is_business_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """The end of the ``days``-th business day after ``start`` (Taipei time), as UTC."""
        day = start.astimezone(TAIPEI).date()
        remaining = days
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_business_day(day):
                remaining -= 1
        end = datetime.combine(day, time(23, 59, 59), tzinfo=TAIPEI)
        return end.astimezone(start.tzinfo or TAIPEI)
